/* The pod worker's API reads (configMaps, secrets and TokenRequests for env and volumes)
 * and the views the kubelet server reads (pods, log targets); see pod_worker_int.h. */
#include "pod_worker_int.h"

/* Names and messages are copied into fixed buffers sized for what Kubernetes allows. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "log.h"

int pw_api_fetch(void *arg, const char *resource, const char *ns, const char *name, cJSON **out, char *err,
		     size_t errlen)
{
	pw_worker *w = arg;
	if (!w->m->api) {
		/* standalone mode: no services (as upstream's empty service lister), and no
		 * configMaps or secrets to read (upstream: no configMapManager) */
		if (!strcmp(resource, "services"))
			return KC_ENOTFOUND;
		snprintf(err, errlen, "couldn't get %s %s/%s: the kubelet runs in standalone mode (no API server)",
			 resource, ns, name ? name : "");
		return -ENOTCONN;
	}
	kc_ref ref = { .api_version = "v1", .resource = resource, .ns = ns, .name = name };
	kc_status kst;
	kc_status_clear(&kst);
	int rc = kc_client_get(w->m->api, &ref, NULL, out, &kst);
	if (rc < 0 && rc != KC_ENOTFOUND)
		snprintf(err, errlen, "%s", kst.message[0] ? kst.message : kc_strerror(rc));
	return rc;
}

void pw_api_event(void *arg, const char *reason, const char *message)
{
	pw_worker *w = arg;
	pw_event(w, w->cur_pod, NULL, "Warning", reason, "%s", message);
}

int pw_api_token(void *arg, const char *ns, const char *sa, const cJSON *req, cJSON **out, char *err,
		     size_t errlen)
{
	pw_worker *w = arg;
	if (!w->m->api) {
		snprintf(err, errlen, "cannot request a token for %s/%s: the kubelet runs in standalone mode", ns, sa);
		return -ENOTCONN;
	}
	kc_ref ref = { .api_version = "v1", .resource = "serviceaccounts", .ns = ns, .name = sa, .subresource = "token" };
	kc_status kst;
	kc_status_clear(&kst);
	int rc = kc_client_create(w->m->api, &ref, req, out, &kst);
	if (rc < 0)
		snprintf(err, errlen, "%s", kst.message[0] ? kst.message : kc_strerror(rc));
	return rc;
}

void pw_pod_info(pw_worker *w, const pspec_sources *src, pspec_podinfo *pi)
{
	pspec_podinfo p = { .pod_ip = w->pod_ip, .host_ip = w->m->node_ip, .node_name = w->m->node_name, .src = src,
			    .alloc_cpu_milli = w->m->alloc_cpu_milli, .alloc_memory = w->m->alloc_memory,
			    .alloc_ephemeral = w->m->alloc_ephemeral };
	*pi = p;
}

/* Volumes before the sandbox (WaitForAttachAndMount precedes SyncPod).  0 when every
 * volume is ready; else the containers wait (unsupported type:
 * CreateContainerConfigError naming it; a failed SetUp: ContainerCreating and a
 * FailedMount event, as upstream). */
int pw_sync_volumes(pw_worker *w, const cJSON *pod)
{
	pspec_sources get = { .fetch = pw_api_fetch, .event = pw_api_event, .arg = w };
	vol_sources src = { .get = &get, .token = pw_api_token, .arg = w };
	pspec_podinfo pi;
	pw_pod_info(w, &get, &pi);
	char err[512] = "";
	int rc = vol_setup(&w->vp, pod, &pi, &src, mono_ns(), err, sizeof(err));
	if (rc == 0) {
		w->mount_err[0] = 0;
		return 0;
	}
	if (strcmp(err, w->mount_err)) {
		snprintf(w->mount_err, sizeof(w->mount_err), "%s", err);
		kc_error("\"Unable to attach or mount volumes\" pod=\"%s/%s\" err=\"%s\"", w->ns, w->name, err);
		if (rc == VOL_UNSUPPORTED)
			pw_event(w, pod, NULL, "Warning", "FailedMount", "Unable to attach or mount volumes: %s", err);
		else
			pw_event(w, pod, NULL, "Warning", "FailedMount", "%s", err);
	}
	if (w->vp.ready)
		return 0; /* a refresh failed: keep running on what is mounted, as upstream */
	for (int i = 0; i < w->ncs; i++) {
		if (rc == VOL_UNSUPPORTED)
			pw_set_waiting(&w->cs[i], "CreateContainerConfigError", "%s", err);
		else
			pw_set_waiting(&w->cs[i], w->cs[i].init ? "PodInitializing" : "ContainerCreating", NULL);
	}
	return rc;
}

static pw_worker *find_by_name(pw_manager *m, const char *ns, const char *name)
{
	for (pw_worker *w = m->workers; w; w = w->next)
		if (!strcmp(w->ns, ns) && !strcmp(w->name, name))
			return w;
	return NULL;
}

cJSON *pw_pod_list(pw_manager *m)
{
	cJSON *list = cJSON_CreateObject();
	if (!list)
		return NULL;
	cJSON_AddStringToObject(list, "kind", "PodList");
	cJSON_AddStringToObject(list, "apiVersion", "v1");
	cJSON_AddObjectToObject(list, "metadata");
	cJSON *items = cJSON_AddArrayToObject(list, "items");
	pthread_mutex_lock(&m->mu);
	for (pw_worker *w = m->workers; w; w = w->next) {
		pthread_mutex_lock(&w->mu);
		if (!w->done && w->pod) {
			cJSON *p = kc_json_dup(w->pod);
			if (p && w->view_status) {
				cJSON_DeleteItemFromObjectCaseSensitive(p, "status");
				cJSON_AddItemToObject(p, "status", kc_json_dup(w->view_status));
			}
			if (p)
				cJSON_AddItemToArray(items, p);
		}
		pthread_mutex_unlock(&w->mu);
	}
	pthread_mutex_unlock(&m->mu);
	return list;
}

int pw_log_target_get(pw_manager *m, const char *ns, const char *pod, const char *container, int previous,
		      pw_log_target *out, int *http, char *msg, size_t msglen)
{
	int rc = 0;
	*http = 200;
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&m->mu);
	pw_worker *w = find_by_name(m, ns, pod);
	if (!w) {
		pthread_mutex_unlock(&m->mu);
		*http = 404;
		snprintf(msg, msglen, "pod \"%s\" does not exist", pod);
		return KC_ENOTFOUND;
	}
	pthread_mutex_lock(&w->mu);
	int in_spec = pw_spec_container(w->pod, container, 0) || pw_spec_container(w->pod, container, 1);
	const pstat_container *c = NULL;
	for (int i = 0; i < w->nview; i++)
		if (!strcmp(w->view[i].name, container))
			c = &w->view[i];
	snprintf(out->uid, sizeof(out->uid), "%s", w->uid);
	int attempt = -1;
	if (!in_spec) {
		*http = 404;
		snprintf(msg, msglen, "container \"%s\" not found in pod \"%s\"", container, pod);
		rc = KC_ENOTFOUND;
	} else if (!c) {
		*http = 400;
		snprintf(msg, msglen, "container \"%s\" in pod \"%s\" is not available", container, pod);
		rc = -EINVAL;
	} else if (previous) {
		if (!c->has_last || !c->last.container_id[0]) {
			*http = 400;
			snprintf(msg, msglen, "previous terminated container \"%s\" in pod \"%s\" not found", container, pod);
			rc = -EINVAL;
		} else {
			attempt = c->last.attempt;
		}
	} else if (c->state == PSTAT_RUNNING) {
		attempt = c->attempt;
	} else if (c->state == PSTAT_TERMINATED) {
		attempt = c->term.attempt;
	} else if (c->has_last) {
		attempt = c->last.attempt;
	} else {
		*http = 400;
		const char *why = !strcmp(c->reason, "ErrImagePull")       ? "image can't be pulled"
				  : !strcmp(c->reason, "ImagePullBackOff") ? "trying and failing to pull image"
									   : c->reason[0] ? c->reason : "ContainerCreating";
		snprintf(msg, msglen, "container \"%s\" in pod \"%s\" is waiting to start: %s", container, pod, why);
		rc = -EINVAL;
	}
	if (rc == 0) {
		out->attempt = attempt;
		snprintf(out->path, sizeof(out->path), "%s/%s_%s_%s/%s/%d.log", m->logs_dir, ns, pod, w->uid, container,
			 attempt);
	}
	pthread_mutex_unlock(&w->mu);
	pthread_mutex_unlock(&m->mu);
	return rc;
}

int pw_instance_running(pw_manager *m, const char *uid, const char *container, int attempt)
{
	int running = 0;
	pthread_mutex_lock(&m->mu);
	pw_worker *w = pw_find(m, uid);
	if (w) {
		pthread_mutex_lock(&w->mu);
		for (int i = 0; i < w->nview; i++)
			if (!strcmp(w->view[i].name, container) && w->view[i].state == PSTAT_RUNNING &&
			    w->view[i].attempt == attempt)
				running = 1;
		pthread_mutex_unlock(&w->mu);
	}
	pthread_mutex_unlock(&m->mu);
	return running;
}

int pw_pod_views(pw_manager *m, pw_pod_view **out, int *n)
{
	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&m->mu);
	int cap = 0;
	for (pw_worker *w = m->workers; w; w = w->next)
		cap++;
	pw_pod_view *v = calloc((size_t)(cap ? cap : 1), sizeof(*v));
	if (!v) {
		pthread_mutex_unlock(&m->mu);
		return -ENOMEM;
	}
	int k = 0;
	for (pw_worker *w = m->workers; w && k < cap; w = w->next) {
		pw_pod_view *p = &v[k];
		snprintf(p->ns, sizeof(p->ns), "%s", w->ns);
		snprintf(p->name, sizeof(p->name), "%s", w->name);
		snprintf(p->uid, sizeof(p->uid), "%s", w->uid);
		pthread_mutex_lock(&w->mu);
		pspec_cgroup_parent(p->cgroup, sizeof(p->cgroup), m->cgroup_root, pspec_qos_class(w->pod), w->uid);
		p->sandbox_ready = w->view_sandbox_ready && !w->done;
		p->c = calloc((size_t)(w->nview ? w->nview : 1), sizeof(*p->c));
		for (int i = 0; p->c && i < w->nview; i++) {
			const pstat_container *c = &w->view[i];
			pw_ctr_view *cv = &p->c[i];
			snprintf(cv->name, sizeof(cv->name), "%s", c->name);
			const char *sep = strstr(c->container_id, "://");
			snprintf(cv->id, sizeof(cv->id), "%s", sep ? sep + 3 : c->container_id);
			/* waiting with an id: the dead instance of a back-off (the runtime has it
			 * exited) or one created but not started */
			cv->state = c->state == PSTAT_RUNNING	 ? PW_CTR_RUNNING
				    : c->state == PSTAT_TERMINATED ? PW_CTR_EXITED
				    : !cv->id[0]			 ? PW_CTR_NONE
				    : !strcmp(c->reason, "CrashLoopBackOff") ? PW_CTR_EXITED
									     : PW_CTR_CREATED;
		}
		p->nc = p->c ? w->nview : 0;
		pthread_mutex_unlock(&w->mu);
		k++;
	}
	pthread_mutex_unlock(&m->mu);
	*out = v;
	*n = k;
	return 0;
}

void pw_pod_views_free(pw_pod_view *v, int n)
{
	for (int i = 0; v && i < n; i++)
		free(v[i].c);
	free(v);
}
