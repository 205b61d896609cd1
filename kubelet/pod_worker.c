/* Pod workers; see pod_worker.h. */
#include "pod_worker_int.h"

/* Names, ids and runtime messages are copied into fixed buffers sized for what
 * Kubernetes allows; a longer runtime message is cut, which is intended. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "events.h"
#include "informer.h"
#include "json.h"
#include "log.h"
#include "pod_spec.h"
#include "pod_status.h"
#include "atomic_writer.h"
#include "lifecycle.h"
#include "metrics.h"
#include "prober.h"
#include "volumes.h"

/* An Event about the pod (container events carry fieldPath spec.containers{name}, as
 * upstream's recordContainerEvent); never blocks. */
void pw_event(pw_worker *w, const cJSON *pod, const char *container, const char *type, const char *reason,
		     const char *fmt, ...)
{
	if (!w->m->rec || !pod)
		return;
	char fp[128] = "";
	if (container)
		snprintf(fp, sizeof(fp), "spec.containers{%s}", container);
	cJSON *ref = kc_event_object_ref(pod, "v1", "Pod", container ? fp : NULL);
	if (!ref)
		return;
	va_list ap;
	va_start(ap, fmt);
	kc_event_vrecord(w->m->rec, ref, type, reason, fmt, ap);
	va_end(ap);
	cJSON_Delete(ref);
}

/* ---- protobuf map helpers: entries live in a caller array ---- */

typedef struct kvs {
	Runtime__V1__PodSandboxConfig__LabelsEntry e[8];
	Runtime__V1__PodSandboxConfig__LabelsEntry *p[8];
	size_t n;
} kvs;

/* All CRI map entries share the {base,key,value} shape; each needs its own descriptor. */
static void kv_add(kvs *k, const ProtobufCMessageDescriptor *d, const char *key, const char *val)
{
	if (k->n >= 8)
		return;
	Runtime__V1__PodSandboxConfig__LabelsEntry init = RUNTIME__V1__POD_SANDBOX_CONFIG__LABELS_ENTRY__INIT;
	k->e[k->n] = init;
	k->e[k->n].base.descriptor = d;
	k->e[k->n].key = (char *)key;
	k->e[k->n].value = (char *)val;
	k->p[k->n] = &k->e[k->n];
	k->n++;
}

static void pod_labels(kvs *k, const ProtobufCMessageDescriptor *d, const pw_worker *w)
{
	kv_add(k, d, PW_LABEL_POD_NAME, w->name);
	kv_add(k, d, PW_LABEL_POD_NAMESPACE, w->ns);
	kv_add(k, d, PW_LABEL_POD_UID, w->uid);
}

/* ---- the sandbox config (kuberuntime_sandbox.go generatePodSandboxConfig) ---- */

typedef struct sandbox_cfg {
	Runtime__V1__PodSandboxConfig c;
	Runtime__V1__PodSandboxMetadata md;
	Runtime__V1__LinuxPodSandboxConfig lx;
	Runtime__V1__DNSConfig dns;
	char *searches[3];
	char *options[1];
	char search_buf[3][300];
	Runtime__V1__PortMapping pm[16];
	Runtime__V1__PortMapping *pmp[16];
	kvs labels;
	char hostname[64];
	char logdir[1400];
	char cgroup[1024];
} sandbox_cfg;

static void build_sandbox_cfg(pw_worker *w, const cJSON *pod, sandbox_cfg *s)
{
	pw_manager *m = w->m;
	Runtime__V1__PodSandboxConfig c = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
	Runtime__V1__PodSandboxMetadata md = RUNTIME__V1__POD_SANDBOX_METADATA__INIT;
	Runtime__V1__LinuxPodSandboxConfig lx = RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__INIT;
	Runtime__V1__DNSConfig dns = RUNTIME__V1__DNSCONFIG__INIT;
	memset(s, 0, sizeof(*s));
	s->c = c;
	s->md = md;
	s->lx = lx;
	s->dns = dns;
	s->md.name = w->name;
	s->md.namespace_ = w->ns;
	s->md.uid = w->uid;
	s->md.attempt = (uint32_t)w->sandbox_attempt;
	s->c.metadata = &s->md;
	/* hostname: spec.hostname, else the pod name truncated to 63 (GeneratePodHostNameAndDomain) */
	snprintf(s->hostname, sizeof(s->hostname), "%s", kc_json_get_string(pod, "spec.hostname", w->name));
	s->c.hostname = s->hostname;
	snprintf(s->logdir, sizeof(s->logdir), "%s/%s_%s_%s", m->logs_dir, w->ns, w->name, w->uid);
	s->c.log_directory = s->logdir;
	pod_labels(&s->labels, &runtime__v1__pod_sandbox_config__labels_entry__descriptor, w);
	s->c.n_labels = s->labels.n;
	s->c.labels = s->labels.p;
	pspec_cgroup_parent(s->cgroup, sizeof(s->cgroup), m->cgroup_root, pspec_qos_class(pod), w->uid);
	s->lx.cgroup_parent = s->cgroup;
	s->c.linux_cfg = &s->lx;
	/* DNS: ClusterFirst with clusterDNS configured (dns.go) */
	const char *policy = kc_json_get_string(pod, "spec.dnsPolicy", "ClusterFirst");
	if (m->cfg && m->cfg->n_cluster_dns > 0 && !strcmp(policy, "ClusterFirst") &&
	    !kc_json_get_bool(pod, "spec.hostNetwork", false)) {
		s->dns.n_servers = m->cfg->n_cluster_dns;
		s->dns.servers = (char **)m->cfg->cluster_dns;
		const char *dom = m->cfg->cluster_domain[0] ? m->cfg->cluster_domain : "cluster.local";
		snprintf(s->search_buf[0], sizeof(s->search_buf[0]), "%s.svc.%s", w->ns, dom);
		snprintf(s->search_buf[1], sizeof(s->search_buf[1]), "svc.%s", dom);
		snprintf(s->search_buf[2], sizeof(s->search_buf[2]), "%s", dom);
		for (int i = 0; i < 3; i++)
			s->searches[i] = s->search_buf[i];
		s->dns.n_searches = 3;
		s->dns.searches = s->searches;
		s->options[0] = "ndots:5";
		s->dns.n_options = 1;
		s->dns.options = s->options;
		s->c.dns_config = &s->dns;
	}
	/* hostPort mappings */
	const cJSON *ctr;
	cJSON_ArrayForEach(ctr, kc_json_get(pod, "spec.containers"))
	{
		const cJSON *p;
		cJSON_ArrayForEach(p, kc_json_get(ctr, "ports"))
		{
			int64_t hp = kc_json_get_int64(p, "hostPort", 0);
			if (hp <= 0 || s->c.n_port_mappings >= 16)
				continue;
			Runtime__V1__PortMapping pm = RUNTIME__V1__PORT_MAPPING__INIT;
			pm.host_port = (int32_t)hp;
			pm.container_port = (int32_t)kc_json_get_int64(p, "containerPort", 0);
			const char *proto = kc_json_get_string(p, "protocol", "TCP");
			pm.protocol = !strcmp(proto, "UDP") ? RUNTIME__V1__PROTOCOL__UDP
				      : !strcmp(proto, "SCTP") ? RUNTIME__V1__PROTOCOL__SCTP : RUNTIME__V1__PROTOCOL__TCP;
			pm.host_ip = (char *)kc_json_get_string(p, "hostIP", "");
			s->pm[s->c.n_port_mappings] = pm;
			s->pmp[s->c.n_port_mappings] = &s->pm[s->c.n_port_mappings];
			s->c.n_port_mappings++;
		}
	}
	s->c.port_mappings = s->pmp;
}

/* ---- helpers ---- */

void pw_set_waiting(cstate *c, const char *reason, const char *fmt, ...)
{
	c->st.state = PSTAT_WAITING;
	snprintf(c->st.reason, sizeof(c->st.reason), "%s", reason);
	c->st.message[0] = 0;
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(c->st.message, sizeof(c->st.message), fmt, ap);
		va_end(ap);
	}
	c->st.ready = 0;
	c->st.started = 0;
}

/* Remove the pod's cgroup directories (created by the runtime under our parent) in
 * every v1 hierarchy and cgroup2, as the pod container manager's Destroy. */
static void remove_pod_cgroup(const char *cg)
{
	const char *roots[] = { "/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/cpu,cpuacct",
				"/sys/fs/cgroup/cpuset", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/devices",
				"/sys/fs/cgroup/freezer", "/sys/fs/cgroup/blkio", "/sys/fs/cgroup/pids",
				"/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified", "/sys/fs/cgroup/hugetlb" };
	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		char p[1600];
		snprintf(p, sizeof(p), "%s%s", roots[i], cg);
		rmdir(p); /* the runtime removed the container cgroups below it */
	}
}

const cJSON *pw_spec_container(const cJSON *pod, const char *name, int init)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, kc_json_get(pod, init ? "spec.initContainers" : "spec.containers"))
	if (!strcmp(kc_json_get_string(c, "name", ""), name))
		return c;
	return NULL;
}






/* ---- status ---- */

static void post_status(pw_worker *w, const cJSON *pod, int sandbox_ready)
{
	pstat_container *cs = calloc((size_t)(w->ncs ? w->ncs : 1), sizeof(*cs));
	if (!cs)
		return;
	for (int i = 0; i < w->ncs; i++)
		cs[i] = w->cs[i].st;
	pstat_input in = { .pod = pod, .host_ip = w->m->node_ip, .pod_ip = w->pod_ip, .sandbox_ready = sandbox_ready,
			   .start_time_ns = w->start_wall_ns, .containers = cs + w->nics, .n_containers = w->ncs - w->nics,
			   .init_containers = cs, .n_init = w->nics, .now_ns = wall_ns() };
	cJSON *st = pstat_build(&in);
	if (!st) {
		free(cs);
		return;
	}
	/* kubelet_pod_start_duration_seconds: first seen to every app container running */
	if (!w->start_observed && sandbox_ready && w->ncs > w->nics) {
		int all = 1;
		for (int i = w->nics; i < w->ncs; i++)
			all &= w->cs[i].st.state == PSTAT_RUNNING;
		if (all) {
			w->start_observed = 1;
			kmet_pod_start(kmet_default(), (double)(mono_ns() - w->seen_mono_ns) / 1e9);
		}
	}
	/* the server's view, swapped under the lock */
	cJSON *vs = kc_json_dup(st);
	pthread_mutex_lock(&w->mu);
	w->view_sandbox_ready = sandbox_ready;
	free(w->view);
	w->view = cs;
	w->nview = w->ncs;
	cJSON_Delete(w->view_status);
	w->view_status = vs;
	pthread_mutex_unlock(&w->mu);
	/* standalone mode has no API; a static pod's status goes to its mirror pod, once
	 * there is one (status manager: "Static pod does not have a corresponding mirror
	 * pod; skipping") */
	int no_target = !w->m->api;
	if (w->is_static) {
		pthread_mutex_lock(&w->mu);
		no_target |= !w->mirror_uid[0];
		pthread_mutex_unlock(&w->mu);
	}
	if (no_target) {
		cJSON_Delete(st);
		return;
	}
	char *txt = kc_json_print(st);
	if (txt && w->last_status && !strcmp(txt, w->last_status)) {
		free(txt);
		cJSON_Delete(st);
		return;
	}
	cJSON *patch = cJSON_CreateObject();
	cJSON_AddItemToObject(patch, "status", st);
	kc_ref ref = { .api_version = "v1", .resource = "pods", .ns = w->ns, .name = w->name, .subresource = "status" };
	kc_status kst;
	int rc = kc_client_patch(w->m->api, &ref, KC_PATCH_MERGE, patch, NULL, NULL, &kst);
	cJSON_Delete(patch);
	if (rc < 0) {
		kc_error("\"Failed to update status for pod\" pod=\"%s/%s\" err=\"%s\"", w->ns, w->name,
			 kst.message[0] ? kst.message : kc_strerror(rc));
		free(txt);
		return;
	}
	kc_log_v(3, "\"Patch status for pod\" pod=\"%s/%s\"", w->ns, w->name);
	free(w->last_status);
	w->last_status = txt;
}

/* ---- adoption after a kubelet restart ---- */

static void adopt(pw_worker *w)
{
	pw_manager *m = w->m;
	w->adopted = 1;
	kvs sel = { 0 };
	kv_add(&sel, &runtime__v1__pod_sandbox_filter__label_selector_entry__descriptor, PW_LABEL_POD_UID, w->uid);
	Runtime__V1__PodSandboxStateValue ready = RUNTIME__V1__POD_SANDBOX_STATE_VALUE__INIT;
	ready.state = RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY;
	Runtime__V1__PodSandboxFilter f = RUNTIME__V1__POD_SANDBOX_FILTER__INIT;
	f.state = &ready;
	f.n_label_selector = sel.n;
	f.label_selector = (Runtime__V1__PodSandboxFilter__LabelSelectorEntry **)sel.p;
	Runtime__V1__ListPodSandboxResponse *r = NULL;
	if (cri_list_pod_sandbox(m->cri, &f, &r, NULL) < 0 || r->n_items == 0) {
		cri_msg_free(r);
		return;
	}
	snprintf(w->sandbox_id, sizeof(w->sandbox_id), "%s", r->items[0]->id);
	if (r->items[0]->metadata)
		w->sandbox_attempt = (int)r->items[0]->metadata->attempt;
	cri_msg_free(r);
	Runtime__V1__ContainerFilter cf = RUNTIME__V1__CONTAINER_FILTER__INIT;
	cf.pod_sandbox_id = w->sandbox_id;
	Runtime__V1__ListContainersResponse *lc = NULL;
	if (cri_list_containers(m->cri, &cf, &lc, NULL) == 0) {
		for (size_t i = 0; i < lc->n_containers; i++) {
			const Runtime__V1__Container *k = lc->containers[i];
			if (!k->metadata || !k->metadata->name)
				continue;
			for (int j = 0; j < w->ncs; j++) {
				cstate *c = &w->cs[j];
				if (strcmp(c->st.name, k->metadata->name) || (c->id[0] && (int)k->metadata->attempt < c->attempt))
					continue;
				snprintf(c->id, sizeof(c->id), "%s", k->id);
				c->attempt = (int)k->metadata->attempt;
				c->backoff_n = c->attempt;
			}
		}
	}
	cri_msg_free(lc);
	kc_info("\"Adopted pod sandbox from the runtime\" pod=\"%s/%s\" podSandboxID=\"%s\"", w->ns, w->name,
		w->sandbox_id);
}

/* ---- sandbox ---- */

static int kill_pod(pw_worker *w, const cJSON *pod, int64_t grace_s);
static int sweep_sandboxes(pw_worker *w, const char *keep);

/* A sandbox that died (pause killed, netns lost) is replaced, and every container is
 * started again in the new one (computePodActions: "No ready sandbox for pod can be
 * found. Need to start a new one"); not under restartPolicy Never, where upstream lets
 * the pod end instead. */
static void check_sandbox(pw_worker *w, const cJSON *pod)
{
	if (!w->sandbox_id[0] || w->sandbox_stopped ||
	    !strcmp(kc_json_get_string(pod, "spec.restartPolicy", "Always"), "Never"))
		return;
	Runtime__V1__PodSandboxStatusResponse *r = NULL;
	cri_grpc_status st;
	int rc = cri_pod_sandbox_status(w->m->cri, w->sandbox_id, 0, &r, &st);
	int ready = rc == 0 && r->status->state == RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY;
	cri_msg_free(r);
	if (ready || (rc < 0 && rc != KC_ENOTFOUND))
		return; /* ready, or the runtime did not answer: decide on a later sync */
	kc_info("\"No ready sandbox for pod can be found. Need to start a new one\" pod=\"%s/%s\"", w->ns, w->name);
	int had[64] = { 0 };
	for (int i = 0; i < w->ncs && i < 64; i++)
		had[i] = w->cs[i].id[0] != 0;
	w->sweep_pending = kill_pod(w, pod, 0) > 0;
	w->sandbox_attempt++;
	w->pod_ip[0] = 0;
	for (int i = 0; i < w->ncs && i < 64; i++) {
		if (had[i]) {
			w->cs[i].attempt++;
			w->cs[i].exit_seen = 0;
		}
		w->cs[i].init_done = 0;
		pw_set_waiting(&w->cs[i], w->cs[i].init ? "PodInitializing" : "ContainerCreating", NULL);
	}
	w->initialized = 0;
}

static int ensure_sandbox(pw_worker *w, const cJSON *pod, char *err, size_t errlen)
{
	pw_manager *m = w->m;
	cri_grpc_status st;
	check_sandbox(w, pod);
	if (w->sweep_pending && w->sandbox_id[0])
		w->sweep_pending = sweep_sandboxes(w, w->sandbox_id) > 0;
	if (!w->sandbox_id[0]) {
		sandbox_cfg s;
		build_sandbox_cfg(w, pod, &s);
		if (mkdir(m->logs_dir, 0755) < 0 && errno != EEXIST)
			kc_warn("mkdir %s: %s", m->logs_dir, strerror(errno));
		if (mkdir(s.logdir, 0755) < 0 && errno != EEXIST)
			kc_warn("mkdir %s: %s", s.logdir, strerror(errno));
		char *id = NULL;
		int rc = cri_run_pod_sandbox(m->cri, &s.c, NULL, &id, &st);
		if (rc < 0) {
			snprintf(err, errlen, "Failed to create pod sandbox: rpc error: code = %s desc = %s",
				 cri_grpc_code_name(st.code), st.message);
			return rc;
		}
		snprintf(w->sandbox_id, sizeof(w->sandbox_id), "%s", id);
		free(id);
		kc_info("\"Created pod sandbox\" pod=\"%s/%s\" podSandboxID=\"%s\"", w->ns, w->name, w->sandbox_id);
	}
	if (!w->pod_ip[0]) {
		Runtime__V1__PodSandboxStatusResponse *r = NULL;
		if (cri_pod_sandbox_status(m->cri, w->sandbox_id, 0, &r, &st) == 0) {
			if (r->status->network && r->status->network->ip)
				snprintf(w->pod_ip, sizeof(w->pod_ip), "%s", r->status->network->ip);
		}
		cri_msg_free(r);
	}
	return 0;
}

/* ---- images (image_manager.go EnsureImageExists) ---- */

static int has_tag_or_digest(const char *image)
{
	if (strchr(image, '@'))
		return 1;
	const char *slash = strrchr(image, '/');
	const char *last = slash ? slash + 1 : image;
	const char *colon = strchr(last, ':');
	return colon && strcmp(colon, ":latest") != 0;
}

static int ensure_image(pw_worker *w, const cJSON *pod, cstate *c, const cJSON *ctr, char *ref, size_t reflen)
{
	pw_manager *m = w->m;
	const char *image = kc_json_get_string(ctr, "image", "");
	const char *policy = kc_json_get_string(ctr, "imagePullPolicy", has_tag_or_digest(image) ? "IfNotPresent" : "Always");
	cri_grpc_status st;
	if (strcmp(policy, "Always") != 0) {
		Runtime__V1__ImageStatusResponse *r = NULL;
		int rc = cri_image_status(m->cri, image, 0, &r, &st);
		if (rc == 0 && r->image) {
			snprintf(ref, reflen, "%s", r->image->id);
			/* once per container instance: a start retried while its config is
			 * broken must not repeat it every pass */
			if (c->attempt == 0 && c->image_evt_attempt != c->attempt + 1) {
				c->image_evt_attempt = c->attempt + 1;
				pw_event(w, pod, c->st.name, "Normal", "Pulled",
					 "Container image \"%s\" already present on machine", image);
			}
			cri_msg_free(r);
			return 0;
		}
		cri_msg_free(r);
		if (!strcmp(policy, "Never")) {
			pw_set_waiting(c, "ErrImageNeverPull",
				    "Container image \"%s\" is not present with pull policy of Never", image);
			return -ENOENT;
		}
	}
	int64_t now = mono_ns();
	if (c->pull_fail_n > 0 && now < c->pull_backoff_until) {
		if (strcmp(c->st.reason, "ImagePullBackOff") != 0)
			pw_event(w, pod, c->st.name, "Normal", "BackOff", "Back-off pulling image \"%s\"", image);
		pw_set_waiting(c, "ImagePullBackOff", "Back-off pulling image \"%s\": %s", image, c->pull_err);
		return -EAGAIN;
	}
	char *got = NULL;
	pw_event(w, pod, c->st.name, "Normal", "Pulling", "Pulling image \"%s\"", image);
	int rc = cri_pull_image(m->cri, image, NULL, NULL, &got, &st);
	if (rc < 0) {
		snprintf(c->pull_err, sizeof(c->pull_err), "rpc error: code = %s desc = %s", cri_grpc_code_name(st.code),
			 st.message);
		c->pull_backoff_until = now + pspec_backoff_ns(c->pull_fail_n + 1);
		c->pull_fail_n++;
		pw_set_waiting(c, "ErrImagePull", "%s", c->pull_err);
		pw_event(w, pod, c->st.name, "Warning", "Failed", "Failed to pull image \"%s\": %s", image, c->pull_err);
		kc_warn("\"Failed to pull image\" image=\"%s\" pod=\"%s/%s\" err=\"%s\"", image, w->ns, w->name, c->pull_err);
		return rc;
	}
	c->pull_fail_n = 0;
	snprintf(ref, reflen, "%s", got ? got : "");
	free(got);
	pw_event(w, pod, c->st.name, "Normal", "Pulled", "Successfully pulled image \"%s\"", image);
	kc_info("\"Pulled image\" image=\"%s\" pod=\"%s/%s\"", image, w->ns, w->name);
	return 0;
}

/* ---- killing one container (kuberuntime_container.go killContainer) ---- */

static int64_t grace_period(const cJSON *pod);

/* preStop (when the container runs, it has one and there is a grace period), then
 * StopContainer with what is left of the grace period (at least 2 s after a hook). */
static void kill_container_id(pw_worker *w, const cJSON *pod, const char *name, const char *id, const cJSON *ctr,
			      int running, int64_t grace_s)
{
	pw_manager *m = w->m;
	if (running && grace_s > 0 && ctr && hook_present(ctr, "preStop")) {
		char hmsg[1024], desc[600];
		snprintf(desc, sizeof(desc), "%s_%s(%s)", w->name, w->ns, w->uid);
		int64_t t0 = mono_ns();
		if (hook_run(ctr, "preStop", m->cri, w->pod_ip, id, desc, grace_s, hmsg, sizeof(hmsg)) != 0) {
			kc_error("\"PreStop hook failed\" pod=\"%s/%s\" containerName=\"%s\" err=\"%s\"", w->ns, w->name, name,
				 hmsg);
			pw_event(w, pod, name, "Warning", "FailedPreStopHook", "%s", hmsg);
		} else {
			kc_info("\"PreStop hook completed\" pod=\"%s/%s\" containerName=\"%s\"", w->ns, w->name, name);
		}
		grace_s = hook_remaining_grace(grace_s, (mono_ns() - t0) / SEC);
	}
	cri_grpc_status st;
	kc_info("\"Killing container with a grace period\" pod=\"%s/%s\" containerName=\"%s\" gracePeriod=%lld", w->ns,
		w->name, name, (long long)grace_s);
	if (cri_stop_container(m->cri, id, grace_s, &st) < 0 && st.code != CRI_GRPC_NOT_FOUND)
		kc_warn("\"StopContainer failed\" containerID=\"%s\" err=\"%s\"", id, st.message);
}

static void kill_container(pw_worker *w, const cJSON *pod, cstate *c, const cJSON *ctr, int64_t grace_s,
			   const char *why)
{
	(void)why;
	kill_container_id(w, pod, c->st.name, c->id, ctr, c->st.state == PSTAT_RUNNING || c->st.started, grace_s);
}

/* ---- containers (kuberuntime_container.go startContainer) ---- */

static int start_container(pw_worker *w, const cJSON *pod, cstate *c, const cJSON *ctr)
{
	pw_manager *m = w->m;
	char err[512] = "", ref[256] = "";
	if (ensure_image(w, pod, c, ctr, ref, sizeof(ref)) < 0)
		return -1;
	snprintf(c->st.image_id, sizeof(c->st.image_id), "%s", ref);

	pspec_sources src = { .fetch = pw_api_fetch, .event = pw_api_event, .arg = w };
	pspec_podinfo pi;
	pw_pod_info(w, &src, &pi);
	pspec_env env = { 0 };
	pspec_resources res;
	vol_mount *vms = NULL;
	int nvms = 0;
	int rc = pspec_build_env(pod, ctr, &pi, &env, err, sizeof(err));
	if (rc == 0)
		rc = pspec_container_resources(ctr, &res, err, sizeof(err));
	if (rc == 0) {
		/* /etc/hosts managed by the kubelet for pods on the pod network with an IP
		 * (makeMounts: not for hostNetwork pods); the termination-message file */
		char hosts[1400] = "";
		if (!kc_json_get_bool(pod, "spec.hostNetwork", false) && w->pod_ip[0] &&
		    vol_write_etc_hosts(&w->vp, pod, w->pod_ip, m->cfg ? m->cfg->cluster_domain : "", hosts, sizeof(hosts)) < 0)
			hosts[0] = 0;
		if (vol_termination_file(&w->vp, c->st.name, c->attempt, c->term_path, sizeof(c->term_path)) < 0)
			c->term_path[0] = 0;
		rc = vol_container_mounts(&w->vp, pod, ctr, &env, hosts[0] ? hosts : NULL,
					  c->term_path[0] ? c->term_path : NULL, &vms, &nvms, err, sizeof(err));
	}
	if (rc < 0) {
		if (strcmp(c->st.reason, "CreateContainerConfigError") != 0 || strcmp(c->st.message, err))
			pw_event(w, pod, c->st.name, "Warning", "Failed", "Error: %s", err);
		pw_set_waiting(c, "CreateContainerConfigError", "%s", err);
		pspec_env_close(&env);
		free(vms);
		return -1;
	}
	Runtime__V1__ContainerConfig cc = RUNTIME__V1__CONTAINER_CONFIG__INIT;
	Runtime__V1__ContainerMetadata md = RUNTIME__V1__CONTAINER_METADATA__INIT;
	Runtime__V1__ImageSpec is = RUNTIME__V1__IMAGE_SPEC__INIT;
	Runtime__V1__LinuxContainerConfig lx = RUNTIME__V1__LINUX_CONTAINER_CONFIG__INIT;
	Runtime__V1__LinuxContainerResources lr = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT;
	md.name = c->st.name;
	md.attempt = (uint32_t)c->attempt;
	cc.metadata = &md;
	is.image = ref[0] ? ref : (char *)kc_json_get_string(ctr, "image", "");
	is.user_specified_image = (char *)kc_json_get_string(ctr, "image", "");
	cc.image = &is;
	/* command and args: $(VAR) expanded with the container's env (ExpandContainerCommandAndArgs) */
	int nc = cJSON_GetArraySize(kc_json_get(ctr, "command")), na = cJSON_GetArraySize(kc_json_get(ctr, "args"));
	char **cmd = calloc((size_t)nc + 1, sizeof(char *)), **args = calloc((size_t)na + 1, sizeof(char *));
	Runtime__V1__KeyValue *kv = calloc(env.n + 1, sizeof(*kv));
	Runtime__V1__KeyValue **kvp = calloc(env.n + 1, sizeof(*kvp));
	Runtime__V1__Mount *mnt = calloc((size_t)nvms + 1, sizeof(*mnt));
	Runtime__V1__Mount **mntp = calloc((size_t)nvms + 1, sizeof(*mntp));
	char logpath[128];
	if (!cmd || !args || !kv || !kvp || !mnt || !mntp) {
		rc = -ENOMEM;
		goto out;
	}
	const cJSON *it;
	int i = 0;
	cJSON_ArrayForEach(it, kc_json_get(ctr, "command"))
	cmd[i++] = pspec_expand(cJSON_IsString(it) ? it->valuestring : "", &env);
	i = 0;
	cJSON_ArrayForEach(it, kc_json_get(ctr, "args"))
	args[i++] = pspec_expand(cJSON_IsString(it) ? it->valuestring : "", &env);
	cc.n_command = (size_t)nc;
	cc.command = cmd;
	cc.n_args = (size_t)na;
	cc.args = args;
	for (size_t k = 0; k < env.n; k++) {
		Runtime__V1__KeyValue init = RUNTIME__V1__KEY_VALUE__INIT;
		kv[k] = init;
		kv[k].key = env.names[k];
		kv[k].value = env.values[k];
		kvp[k] = &kv[k];
	}
	cc.n_envs = env.n;
	cc.envs = kvp;
	for (int k = 0; k < nvms; k++) {
		Runtime__V1__Mount init = RUNTIME__V1__MOUNT__INIT;
		mnt[k] = init;
		mnt[k].container_path = vms[k].container_path;
		mnt[k].host_path = vms[k].host_path;
		mnt[k].readonly = vms[k].readonly;
		mntp[k] = &mnt[k];
	}
	cc.n_mounts = (size_t)nvms;
	cc.mounts = mntp;
	cc.working_dir = (char *)kc_json_get_string(ctr, "workingDir", "");
	kvs labels = { 0 };
	pod_labels(&labels, &runtime__v1__container_config__labels_entry__descriptor, w);
	kv_add(&labels, &runtime__v1__container_config__labels_entry__descriptor, PW_LABEL_CONTAINER_NAME, c->st.name);
	cc.n_labels = labels.n;
	cc.labels = (Runtime__V1__ContainerConfig__LabelsEntry **)labels.p;
	/* log path relative to the sandbox's log directory: <container>/<attempt>.log */
	snprintf(logpath, sizeof(logpath), "%s/%d.log", c->st.name, c->attempt);
	cc.log_path = logpath;
	{
		char d[1600];
		snprintf(d, sizeof(d), "%s/%s_%s_%s/%s", m->logs_dir, w->ns, w->name, w->uid, c->st.name);
		mkdir(d, 0755);
	}
	cc.stdin = kc_json_get_bool(ctr, "stdin", false);
	cc.stdin_once = kc_json_get_bool(ctr, "stdinOnce", false);
	cc.tty = kc_json_get_bool(ctr, "tty", false);
	lr.cpu_shares = res.cpu_shares;
	lr.cpu_quota = res.cpu_quota;
	lr.cpu_period = res.cpu_period;
	lr.memory_limit_in_bytes = res.memory_limit;
	lx.resources = &lr;
	cc.linux_cfg = &lx;

	sandbox_cfg s;
	build_sandbox_cfg(w, pod, &s);
	char *id = NULL;
	cri_grpc_status st;
	rc = cri_create_container(m->cri, w->sandbox_id, &cc, &s.c, &id, &st);
	if (rc < 0) {
		pw_set_waiting(c, "CreateContainerError", "rpc error: code = %s desc = %s", cri_grpc_code_name(st.code),
			    st.message);
		goto out;
	}
	snprintf(c->id, sizeof(c->id), "%s", id);
	free(id);
	c->exit_seen = 0;
	pw_event(w, pod, c->st.name, "Normal", "Created", "Created container %s", c->st.name);
	kc_info("\"Created container\" pod=\"%s/%s\" containerName=\"%s\" containerID=\"%s\"", w->ns, w->name,
		c->st.name, c->id);
	rc = cri_start_container(m->cri, c->id, &st);
	if (rc < 0) {
		/* the container stays (exited/created); its status decides what follows */
		pw_set_waiting(c, "RunContainerError", "rpc error: code = %s desc = %s", cri_grpc_code_name(st.code),
			    st.message);
		goto out;
	}
	pw_event(w, pod, c->st.name, "Normal", "Started", "Started container %s", c->st.name);
	kc_info("\"Started container\" pod=\"%s/%s\" containerName=\"%s\"", w->ns, w->name, c->st.name);
	/* probes restart with every new container (prober worker per container instance);
	 * the startup result starts Unknown (2) and gates the other two */
	int64_t now = mono_ns();
	probe_state_init(&c->rs, 0, now, &c->rp);
	probe_state_init(&c->ls, 1, now, &c->lp);
	probe_state_init(&c->ss, 2, now, &c->sp);
	c->startup_done = c->sp.kind == PROBE_NONE;
	/* postStart runs right after the start (startContainer); a failure kills the
	 * container, which the restart policy then handles */
	if (hook_present(ctr, "postStart")) {
		char hmsg[1024], desc[600];
		snprintf(desc, sizeof(desc), "%s_%s(%s)", w->name, w->ns, w->uid);
		if (hook_run(ctr, "postStart", m->cri, w->pod_ip, c->id, desc, 120, hmsg, sizeof(hmsg)) != 0) {
			kc_error("\"PostStartHook failed\" pod=\"%s/%s\" containerName=\"%s\" err=\"%s\"", w->ns, w->name,
				 c->st.name, hmsg);
			pw_event(w, pod, c->st.name, "Warning", "FailedPostStartHook", "%s", hmsg);
			kill_container(w, pod, c, ctr, grace_period(pod), "FailedPostStartHook");
		}
	}
out:
	for (int k = 0; cmd && k < nc; k++)
		free(cmd[k]);
	for (int k = 0; args && k < na; k++)
		free(args[k]);
	free(cmd);
	free(args);
	free(kv);
	free(kvp);
	free(mnt);
	free(mntp);
	free(vms);
	pspec_env_close(&env);
	return rc;
}

static void fill_term(pstat_term *t, const Runtime__V1__ContainerStatus *s, const char *cid)
{
	memset(t, 0, sizeof(*t));
	t->exit_code = s->exit_code;
	const char *reason = s->reason && s->reason[0] ? s->reason : NULL;
	/* the runtime says "Completed"/"Error"/"OOMKilled"; keep OOMKilled, else derive */
	if (reason && !strcmp(reason, "OOMKilled"))
		snprintf(t->reason, sizeof(t->reason), "OOMKilled");
	else
		snprintf(t->reason, sizeof(t->reason), "%s", s->exit_code == 0 ? "Completed" : "Error");
	snprintf(t->message, sizeof(t->message), "%s", s->message ? s->message : "");
	t->started_ns = s->started_at;
	t->finished_ns = s->finished_at;
	snprintf(t->container_id, sizeof(t->container_id), "%s", cid);
}

/* the terminationMessagePath file's content, when the runtime gave no message
 * (kuberuntime_container.go getTerminationMessage) */
static void read_term_message(const cstate *c, pstat_term *t)
{
	if (t->message[0] || !c->term_path[0])
		return;
	FILE *f = fopen(c->term_path, "re");
	if (!f)
		return;
	size_t n = fread(t->message, 1, sizeof(t->message) - 1, f);
	t->message[n] = 0;
	fclose(f);
}

/* Returns 1 when a startup or liveness failure killed the container. */
static int run_probes(pw_worker *w, const cJSON *pod, cstate *c, const cJSON *ctr, int64_t now)
{
	char msg[512];
	int killed = 0;
	/* startup probe: until it succeeds, liveness and readiness do not run and the
	 * container is not started; failureThreshold failures kill it (prober worker.go) */
	if (!c->startup_done) {
		if (now >= c->ss.next_ns) {
			int ok = probe_run(&c->sp, w->m->cri, w->pod_ip, c->id, msg, sizeof(msg));
			if (!ok)
				pw_event(w, pod, c->st.name, "Warning", "Unhealthy", "Startup probe failed: %s", msg);
			if (probe_state_record(&c->ss, &c->sp, ok, now)) {
				if (ok) {
					c->startup_done = 1;
					/* the others start now (their initial delay counts from here) */
					probe_state_init(&c->rs, 0, now, &c->rp);
					probe_state_init(&c->ls, 1, now, &c->lp);
				} else {
					kc_info("\"Container failed startup probe, will be restarted\" pod=\"%s/%s\" "
						"containerName=\"%s\" output=\"%s\"", w->ns, w->name, c->st.name, msg);
					pw_event(w, pod, c->st.name, "Normal", "Killing",
						 "Container %s failed startup probe, will be restarted", c->st.name);
					kill_container(w, pod, c, ctr, kc_json_get_int64(pod, "spec.terminationGracePeriodSeconds", 30),
						       "startup");
					killed = 1;
				}
			}
		}
		c->st.started = c->startup_done;
		if (!c->startup_done) {
			c->st.ready = 0;
			return killed;
		}
	}
	if (c->rp.kind != PROBE_NONE && now >= c->rs.next_ns) {
		int ok = probe_run(&c->rp, w->m->cri, w->pod_ip, c->id, msg, sizeof(msg));
		if (!ok)
			pw_event(w, pod, c->st.name, "Warning", "Unhealthy", "Readiness probe failed: %s", msg);
		if (!ok)
			kc_log_v(2, "\"Probe failed\" probeType=\"Readiness\" pod=\"%s/%s\" containerName=\"%s\" output=\"%s\"",
				 w->ns, w->name, c->st.name, msg);
		probe_state_record(&c->rs, &c->rp, ok, now);
	}
	if (c->lp.kind != PROBE_NONE && now >= c->ls.next_ns) {
		int ok = probe_run(&c->lp, w->m->cri, w->pod_ip, c->id, msg, sizeof(msg));
		if (!ok)
			pw_event(w, pod, c->st.name, "Warning", "Unhealthy", "Liveness probe failed: %s", msg);
		if (probe_state_record(&c->ls, &c->lp, ok, now) && !ok) {
			/* liveness failure: kill; the exit is then handled as any other (restart policy) */
			kc_info("\"Container failed liveness probe, will be restarted\" pod=\"%s/%s\" containerName=\"%s\" "
				"output=\"%s\"", w->ns, w->name, c->st.name, msg);
			pw_event(w, pod, c->st.name, "Normal", "Killing",
				 "Container %s failed liveness probe, will be restarted", c->st.name);
			kill_container(w, pod, c, ctr, kc_json_get_int64(pod, "spec.terminationGracePeriodSeconds", 30),
				       "liveness");
			killed = 1;
		}
	}
	c->st.ready = c->rp.kind == PROBE_NONE ? 1 : c->rs.result;
	return killed;
}

static void sync_container(pw_worker *w, const cJSON *pod, cstate *c)
{
	pw_manager *m = w->m;
	const cJSON *ctr = pw_spec_container(pod, c->st.name, c->init);
	if (!ctr)
		return;
	const char *policy = kc_json_get_string(pod, "spec.restartPolicy", "Always");
	/* init containers are restarted on failure unless the pod's policy is Never: under
	 * Always they behave as OnFailure (an exit 0 is final) */
	if (c->sidecar)
		/* a sidecar restarts whatever the pod's policy, until the app containers of a
		 * Never/OnFailure pod are done (then it is stopped for good) */
		policy = w->apps_done ? "Never" : "Always";
	else if (c->init)
		policy = !strcmp(policy, "Never") ? "Never" : "OnFailure";
	int64_t now = mono_ns();
	c->st.restart_count = c->attempt;
	snprintf(c->st.image, sizeof(c->st.image), "%s", kc_json_get_string(ctr, "image", ""));
	if (w->apps_done && c->sidecar && !c->id[0] && c->st.state != PSTAT_WAITING)
		return; /* stopped with the pod's end: stays terminated */
	if (!c->probes_ok && (!c->init || c->sidecar)) {
		c->probes_ok = 1;
		char err[256];
		if (probe_parse(ctr, "readinessProbe", &c->rp, err, sizeof(err)) < 0 ||
		    probe_parse(ctr, "livenessProbe", &c->lp, err, sizeof(err)) < 0 ||
		    probe_parse(ctr, "startupProbe", &c->sp, err, sizeof(err)) < 0)
			snprintf(c->probe_err, sizeof(c->probe_err), "%s", err);
		/* an adopted running container (kubelet restart) probes its startup again */
		c->startup_done = c->sp.kind == PROBE_NONE;
		probe_state_init(&c->ss, 2, now, &c->sp);
	}
	if (c->probe_err[0]) {
		pw_set_waiting(c, "CreateContainerConfigError", "%s", c->probe_err);
		return;
	}
	if (c->id[0]) {
		Runtime__V1__ContainerStatusResponse *r = NULL;
		cri_grpc_status st;
		int rc = cri_container_status(m->cri, c->id, 0, &r, &st);
		if (rc == KC_ENOTFOUND) {
			/* gone behind our back: start a new one */
			c->id[0] = 0;
			c->attempt++;
		} else if (rc < 0) {
			kc_warn("\"ContainerStatus failed\" containerID=\"%s\" err=\"%s\"", c->id, st.message);
			return; /* keep the last known state */
		} else {
			const Runtime__V1__ContainerStatus *s = r->status;
			snprintf(c->st.container_id, sizeof(c->st.container_id), "containerd://%s", c->id);
			c->st.attempt = c->attempt;
			if (s->image_ref && s->image_ref[0])
				snprintf(c->st.image_id, sizeof(c->st.image_id), "%s", s->image_ref);
			if (s->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING) {
				c->st.state = PSTAT_RUNNING;
				c->st.started_ns = s->started_at;
				c->st.started = (c->init && !c->sidecar) || c->startup_done;
				c->st.reason[0] = c->st.message[0] = 0;
				cri_msg_free(r);
				if (c->init && !c->sidecar)
					c->st.ready = 0; /* ready only once it has succeeded */
				else
					run_probes(w, pod, c, ctr, now);
				return;
			}
			if (s->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED) {
				cri_msg_free(r);
				cri_grpc_status st2;
				if (cri_start_container(m->cri, c->id, &st2) < 0)
					pw_set_waiting(c, "RunContainerError", "%s", st2.message);
				return;
			}
			/* exited (or unknown): restart policy */
			pstat_term t;
			fill_term(&t, s, c->st.container_id);
			cri_msg_free(r);
			read_term_message(c, &t);
			t.attempt = c->attempt;
			c->st.ready = 0;
			c->st.started = 0;
			if (!pspec_should_restart(policy, t.exit_code)) {
				c->st.state = PSTAT_TERMINATED;
				c->st.term = t;
				/* a completed init container counts as ready (prober manager) */
				if (c->init && !c->sidecar && t.exit_code == 0) {
					c->st.ready = 1;
					c->init_done = 1;
				}
				return;
			}
			if (!c->exit_seen) {
				c->exit_seen = 1;
				if (t.finished_ns - t.started_ns > BACKOFF_RESET_NS)
					c->backoff_n = 0;
				c->backoff_until = now + pspec_backoff_ns(c->backoff_n);
				c->st.has_last = 1;
				c->st.last = t;
				if (c->backoff_until > now)
					pw_event(w, pod, c->st.name, "Warning", "BackOff",
						 "Back-off restarting failed container %s in pod %s_%s(%s)", c->st.name,
						 w->name, w->ns, w->uid);
			}
			if (now < c->backoff_until) {
				int64_t d = pspec_backoff_ns(c->backoff_n) / SEC;
				pw_set_waiting(c, "CrashLoopBackOff",
					    "back-off %llds restarting failed container=%s pod=%s_%s(%s)", (long long)d,
					    c->st.name, w->name, w->ns, w->uid);
				return;
			}
			/* restart: remove the dead instance (upstream keeps one for logs --previous;
			 * there is no logs endpoint yet) */
			cri_remove_container(m->cri, c->id, NULL);
			c->id[0] = 0;
			/* keep the log of the instance that just died (logs --previous), drop
			 * the one before it, as upstream's container GC keeps one dead instance */
			if (c->attempt > 0) {
				char old[1700];
				snprintf(old, sizeof(old), "%s/%s_%s_%s/%s/%d.log", m->logs_dir, w->ns, w->name, w->uid,
					 c->st.name, c->attempt - 1);
				unlink(old);
			}
			c->attempt++;
			c->backoff_n++;
			c->st.restart_count = c->attempt;
		}
	}
	if (!c->st.reason[0] || c->st.state != PSTAT_WAITING)
		pw_set_waiting(c, c->init ? "PodInitializing" : "ContainerCreating", NULL);
	/* A broken config (missing ConfigMap, key, volume source) is retried with a back-off
	 * (1 s doubling to 10 s, upstream's pod worker back-off period) rather than on
	 * every pass of the worker. */
	if (now < c->cfg_retry_at)
		return;
	int started = start_container(w, pod, c, ctr);
	if (started != 0 && !strcmp(c->st.reason, "CreateContainerConfigError")) {
		int64_t d = (int64_t)SEC << (c->cfg_fail_n < 4 ? c->cfg_fail_n : 4);
		c->cfg_retry_at = now + (d > 10 * SEC ? 10 * SEC : d);
		c->cfg_fail_n++;
	} else if (started == 0) {
		c->cfg_fail_n = 0;
		c->cfg_retry_at = 0;
	}
	if (started == 0) {
		c->st.state = PSTAT_RUNNING;
		c->st.started_ns = wall_ns();
		c->st.started = 1;
		c->st.reason[0] = c->st.message[0] = 0;
		snprintf(c->st.container_id, sizeof(c->st.container_id), "containerd://%s", c->id);
		c->st.ready = (!c->init || c->sidecar) && c->rp.kind == PROBE_NONE && c->startup_done;
		c->st.started = (c->init && !c->sidecar) || c->startup_done;
		c->st.attempt = c->attempt;
	}
}

/* ---- termination (kuberuntime_manager.go KillPod) ---- */

/* Stop and remove every sandbox labelled with the pod's uid (ready or not) except keep,
 * with all their containers (dead instances too).  Returns how many removals failed:
 * after a sandbox's shim died, containerd needs a moment before its containers can be
 * removed, so callers retry. */
static int sweep_sandboxes(pw_worker *w, const char *keep)
{
	pw_manager *m = w->m;
	cri_grpc_status st;
	int failed = 0;
	kvs sel = { 0 };
	kv_add(&sel, &runtime__v1__pod_sandbox_filter__label_selector_entry__descriptor, PW_LABEL_POD_UID, w->uid);
	Runtime__V1__PodSandboxFilter f = RUNTIME__V1__POD_SANDBOX_FILTER__INIT;
	f.n_label_selector = sel.n;
	f.label_selector = (Runtime__V1__PodSandboxFilter__LabelSelectorEntry **)sel.p;
	Runtime__V1__ListPodSandboxResponse *r = NULL;
	if (cri_list_pod_sandbox(m->cri, &f, &r, &st) < 0) {
		kc_warn("\"ListPodSandbox failed\" pod=\"%s/%s\" err=\"%s\"", w->ns, w->name, st.message);
		return 1;
	}
	for (size_t i = 0; i < r->n_items; i++) {
		const char *sid = r->items[i]->id;
		if (keep && !strcmp(keep, sid))
			continue;
		Runtime__V1__ContainerFilter cf = RUNTIME__V1__CONTAINER_FILTER__INIT;
		cf.pod_sandbox_id = (char *)sid;
		Runtime__V1__ListContainersResponse *lc = NULL;
		if (cri_list_containers(m->cri, &cf, &lc, NULL) == 0) {
			for (size_t k = 0; k < lc->n_containers; k++) {
				cri_stop_container(m->cri, lc->containers[k]->id, 0, NULL);
				cri_remove_container(m->cri, lc->containers[k]->id, NULL);
			}
		}
		cri_msg_free(lc);
		if (cri_stop_pod_sandbox(m->cri, sid, &st) < 0)
			kc_warn("\"StopPodSandbox failed\" podSandboxID=\"%s\" err=\"%s\"", sid, st.message);
		if (cri_remove_pod_sandbox(m->cri, sid, &st) < 0) {
			kc_warn("\"RemovePodSandbox failed\" podSandboxID=\"%s\" err=\"%s\"", sid, st.message);
			failed++;
		} else {
			kc_info("\"Removed pod sandbox\" pod=\"%s/%s\" podSandboxID=\"%s\"", w->ns, w->name, sid);
		}
	}
	cri_msg_free(r);
	return failed;
}


typedef struct kill_job {
	pw_worker *w;
	const cJSON *pod, *ctr;
	const char *name, *id;
	int running, started;
	int64_t grace;
	pthread_t th;
} kill_job;

static void *kill_job_main(void *arg)
{
	kill_job *j = arg;
	kill_container_id(j->w, j->pod, j->name, j->id, j->ctr, j->running, j->grace);
	return NULL;
}

static void kill_sidecars(pw_worker *w, const cJSON *pod, int64_t grace_s);

static int kill_pod(pw_worker *w, const cJSON *pod, int64_t grace_s)
{
	pw_manager *m = w->m;
	int64_t t0 = mono_ns();
	cri_grpc_status st;
	/* discover anything of this pod the runtime has (also sandboxes we never saw) */
	if (!w->adopted)
		adopt(w);
	/* every container at once, each with its preStop hook first, as upstream's
	 * killContainersWithSyncResult runs one goroutine per container */
	kill_job *jobs = calloc((size_t)(w->ncs ? w->ncs : 1), sizeof(*jobs));
	for (int i = 0; jobs && i < w->ncs; i++) {
		cstate *c = &w->cs[i];
		if (!c->id[0] || c->sidecar)
			continue; /* sidecars after the app containers, below */
		pw_event(w, pod, c->st.name, "Normal", "Killing", "Stopping container %s", c->st.name);
		kill_job *j = &jobs[i];
		*j = (kill_job){ .w = w, .pod = pod, .name = c->st.name, .id = c->id,
				 .ctr = pw_spec_container(pod, c->st.name, c->init),
				 .running = c->st.state == PSTAT_RUNNING, .grace = grace_s };
		if (pthread_create(&j->th, NULL, kill_job_main, j) == 0)
			j->started = 1;
		else
			kill_job_main(j);
	}
	for (int i = 0; jobs && i < w->ncs; i++)
		if (jobs[i].started)
			pthread_join(jobs[i].th, NULL);
	free(jobs);
	int64_t grace_left = grace_s - (mono_ns() - t0) / SEC;
	kill_sidecars(w, pod, grace_left > 0 ? grace_left : 0);
	(void)st;
	int failed = sweep_sandboxes(w, NULL);
	w->sandbox_id[0] = 0;
	for (int i = 0; i < w->ncs; i++)
		w->cs[i].id[0] = 0;
	sandbox_cfg s;
	build_sandbox_cfg(w, pod, &s);
	remove_pod_cgroup(s.cgroup);
	aw_remove_tree(s.logdir);
	/* volumes after the containers are gone (nothing holds the mounts any more) */
	if (failed == 0) {
		int left = vol_teardown(m->root_dir, w->uid);
		if (left > 0) {
			kc_warn("\"Failed to unmount volumes\" pod=\"%s/%s\" mounts=%d", w->ns, w->name, left);
			failed += left;
		}
	}
	return failed;
}

static int64_t grace_period(const cJSON *pod)
{
	int64_t g = kc_json_get_int64(pod, "metadata.deletionGracePeriodSeconds", -1);
	if (g < 0)
		g = kc_json_get_int64(pod, "spec.terminationGracePeriodSeconds", 30);
	return g < 0 ? 30 : g;
}

/* ---- the worker thread ---- */

static int init_containers(pw_worker *w, const cJSON *pod)
{
	int ni = cJSON_GetArraySize(kc_json_get(pod, "spec.initContainers"));
	int n = cJSON_GetArraySize(kc_json_get(pod, "spec.containers"));
	w->cs = calloc((size_t)(n + ni ? n + ni : 1), sizeof(cstate));
	if (!w->cs)
		return -ENOMEM;
	const char *lists[2] = { "spec.initContainers", "spec.containers" };
	for (int l = 0; l < 2; l++) {
		const cJSON *c;
		cJSON_ArrayForEach(c, kc_json_get(pod, lists[l]))
		{
			cstate *s = &w->cs[w->ncs++];
			s->init = l == 0;
			s->st.init = s->init;
			s->sidecar = s->init && !strcmp(kc_json_get_string(c, "restartPolicy", ""), "Always");
			s->st.sidecar = s->sidecar;
			snprintf(s->st.name, sizeof(s->st.name), "%s", kc_json_get_string(c, "name", ""));
			snprintf(s->st.image, sizeof(s->st.image), "%s", kc_json_get_string(c, "image", ""));
			/* convertToAPIContainerStatuses' default waiting states */
			pw_set_waiting(s, s->init || ni > 0 ? "PodInitializing" : "ContainerCreating", NULL);
		}
		if (l == 0)
			w->nics = w->ncs;
	}
	return 0;
}


/* Stop the running sidecars, the last one first, each with what is left of the grace
 * period (upstream stops restartable init containers after the app containers, in
 * reverse order). */
static void kill_sidecars(pw_worker *w, const cJSON *pod, int64_t grace_s)
{
	int64_t t0 = mono_ns();
	for (int i = w->nics - 1; i >= 0; i--) {
		cstate *c = &w->cs[i];
		if (!c->sidecar || !c->id[0])
			continue;
		int64_t left = grace_s - (mono_ns() - t0) / SEC;
		pw_event(w, pod, c->st.name, "Normal", "Killing", "Stopping container %s", c->st.name);
		kill_container_id(w, pod, c->st.name, c->id, pw_spec_container(pod, c->st.name, 1),
				  c->st.state == PSTAT_RUNNING, left > 0 ? left : 0);
	}
}

/* Init containers in order, then the app containers (computePodActions /
 * computeInitContainerActions).  A regular init container must succeed before the next
 * one starts; a sidecar (restartPolicy Always) must be started (running, its startup
 * probe passed), then keeps running and is restarted on exit.  Once an app container
 * has started, a restarting sidecar no longer holds the app containers back. */
static void sync_containers(pw_worker *w, const cJSON *pod)
{
	for (int i = 0; i < w->nics; i++) {
		cstate *c = &w->cs[i];
		if (c->init_done)
			continue;
		sync_container(w, pod, c);
		int ok = c->sidecar ? (c->st.state == PSTAT_RUNNING && c->st.started) || w->initialized || w->apps_done
				    : c->init_done;
		if (!ok) {
			/* this one is not done: the app containers wait */
			for (int j = w->nics; j < w->ncs; j++)
				if (!w->cs[j].id[0])
					pw_set_waiting(&w->cs[j], "PodInitializing", NULL);
			return;
		}
	}
	int done = w->ncs > w->nics;
	for (int i = w->nics; i < w->ncs; i++) {
		sync_container(w, pod, &w->cs[i]);
		if (w->cs[i].id[0] || w->cs[i].st.state != PSTAT_WAITING)
			w->initialized = 1;
		done &= w->cs[i].st.state == PSTAT_TERMINATED;
	}
	/* a Never/OnFailure pod whose app containers all finished: its sidecars are
	 * stopped (not restarted), so the pod can reach Succeeded/Failed */
	if (done && !w->apps_done && strcmp(kc_json_get_string(pod, "spec.restartPolicy", "Always"), "Always")) {
		int any = 0;
		for (int i = 0; i < w->nics; i++)
			any |= w->cs[i].sidecar;
		if (any) {
			w->apps_done = 1;
			kc_info("\"All app containers finished, stopping the sidecars\" pod=\"%s/%s\"", w->ns, w->name);
			kill_sidecars(w, pod, grace_period(pod));
			for (int i = 0; i < w->nics; i++)
				if (w->cs[i].sidecar && w->cs[i].id[0])
					sync_container(w, pod, &w->cs[i]);
		}
	}
}

void pw_wait_until(pw_worker *w, int64_t deadline)
{
	if (w->stop || w->dirty)
		return;
	struct timespec ts = { .tv_sec = deadline / SEC, .tv_nsec = deadline % SEC };
	pthread_cond_timedwait(&w->cv, &w->mu, &ts);
}

void pw_wake(pw_worker *w)
{
	pthread_mutex_lock(&w->mu);
	w->dirty = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static void min_at(int64_t *t, int64_t v, int64_t now)
{
	if (v > now && v < *t)
		*t = v;
}

/* After a full sync: when the next one is due.  Level-triggered state changes of the
 * runtime come from the PLEG; what only time changes is a timer here: the resync,
 * back-offs (CrashLoopBackOff, image pulls, config errors), the volumes' refresh, and
 * a short retry when the sync left an error that no event will report. */
static void schedule_full(pw_worker *w, int sandbox_ok, int64_t now)
{
	if (w->resync_ns <= now)
		w->resync_ns = now + PW_RESYNC_NS;
	int64_t t = w->resync_ns;
	int unsettled = !sandbox_ok && !w->sandbox_stopped;
	for (int i = 0; i < w->ncs; i++) {
		const cstate *c = &w->cs[i];
		min_at(&t, c->backoff_until, now);
		min_at(&t, c->pull_backoff_until, now);
		min_at(&t, c->cfg_retry_at, now);
		if (c->st.state != PSTAT_WAITING)
			continue;
		/* waiting on a timer, or (app containers) on an init container whose exit the
		 * PLEG reports; anything else is an error to retry */
		if ((c->backoff_until > now && !strcmp(c->st.reason, "CrashLoopBackOff")) ||
		    (c->pull_backoff_until > now && !strcmp(c->st.reason, "ImagePullBackOff")) ||
		    !strcmp(c->st.reason, "CreateContainerConfigError") ||
		    (!c->init && !strcmp(c->st.reason, "PodInitializing")))
			continue;
		unsettled = 1;
	}
	if (w->vp.ready)
		min_at(&t, w->vp.next_resync_ns, now);
	if (unsettled || !w->m->pleg)
		min_at(&t, now + (w->m->pleg ? PW_RETRY_NS : PW_POLL_NS), now);
	w->unsettled = unsettled;
	w->next_full_ns = t;
}

/* The next probe due among the running containers (INT64_MAX: none). */
static int64_t next_probe(const pw_worker *w)
{
	int64_t t = INT64_MAX;
	for (int i = 0; i < w->ncs; i++) {
		const cstate *c = &w->cs[i];
		if (c->st.state != PSTAT_RUNNING || !c->id[0] || !c->probes_ok || c->probe_err[0])
			continue;
		if (!c->startup_done) {
			if (c->sp.kind != PROBE_NONE && c->ss.next_ns < t)
				t = c->ss.next_ns;
			continue;
		}
		if (c->rp.kind != PROBE_NONE && c->rs.next_ns < t)
			t = c->rs.next_ns;
		if (c->lp.kind != PROBE_NONE && c->ls.next_ns < t)
			t = c->ls.next_ns;
	}
	return t;
}

/* Between full syncs: the probes that are due, on their own timers, as upstream's
 * prober workers (one per container and probe) run beside the pod worker.  Returns 1
 * when a probe killed a container or a sidecar became started (a full sync follows at
 * once). */
static int probe_pass(pw_worker *w, const cJSON *pod, int64_t now)
{
	int killed = 0;
	for (int i = 0; i < w->ncs; i++) {
		cstate *c = &w->cs[i];
		if (c->st.state != PSTAT_RUNNING || !c->id[0] || !c->probes_ok || c->probe_err[0])
			continue;
		const cJSON *ctr = pw_spec_container(pod, c->st.name, c->init);
		if (!ctr)
			continue;
		int was_done = c->startup_done;
		killed |= run_probes(w, pod, c, ctr, now);
		/* a sidecar whose startup probe passed lets the next container start now */
		killed |= c->sidecar && !was_done && c->startup_done;
	}
	return killed;
}

/* Confirm a graceful deletion (status manager's final DELETE with gracePeriodSeconds=0
 * and the uid as precondition).  0, or the error to retry. */
static int confirm_deletion(pw_worker *w)
{
	cJSON *opts = cJSON_CreateObject();
	if (!opts)
		return -ENOMEM;
	cJSON_AddStringToObject(opts, "kind", "DeleteOptions");
	cJSON_AddStringToObject(opts, "apiVersion", "v1");
	cJSON_AddNumberToObject(opts, "gracePeriodSeconds", 0);
	cJSON *pre = cJSON_AddObjectToObject(opts, "preconditions");
	cJSON_AddStringToObject(pre, "uid", w->uid);
	kc_ref ref = { .api_version = "v1", .resource = "pods", .ns = w->ns, .name = w->name };
	kc_status kst;
	int rc = kc_client_delete(w->m->api, &ref, opts, NULL, &kst);
	cJSON_Delete(opts);
	if (rc < 0 && rc != KC_ENOTFOUND && rc != KC_ECONFLICT) {
		kc_error("\"Failed to delete pod\" pod=\"%s/%s\" err=\"%s\"", w->ns, w->name,
			 kst.message[0] ? kst.message : kc_strerror(rc));
		return rc;
	}
	return 0;
}

/* The pod is Succeeded/Failed: its sandbox is stopped, its exited containers (their
 * status) kept, as SyncTerminatingPod / killPodWithSyncResult do upstream. */
static void stop_if_terminal(pw_worker *w, const cJSON *pod)
{
	pstat_container *snap = calloc((size_t)(w->ncs ? w->ncs : 1), sizeof(*snap));
	if (!snap)
		return;
	for (int i = 0; i < w->ncs; i++)
		snap[i] = w->cs[i].st;
	const char *ph = pstat_phase_init(kc_json_get_string(pod, "spec.restartPolicy", "Always"), snap, w->nics,
					  snap + w->nics, w->ncs - w->nics);
	if (!strcmp(ph, "Succeeded") || !strcmp(ph, "Failed")) {
		cri_grpc_status sst;
		if (cri_stop_pod_sandbox(w->m->cri, w->sandbox_id, &sst) == 0) {
			w->sandbox_stopped = 1;
			kc_info("\"Pod is terminal, stopped its sandbox\" pod=\"%s/%s\" phase=\"%s\"", w->ns, w->name, ph);
			/* nothing runs any more: its volumes are unmounted and removed (upstream's
			 * volume manager unmounts a terminated pod's) */
			if (vol_teardown(w->m->root_dir, w->uid) == 0)
				kc_info("\"Unmounted the volumes of a terminal pod\" pod=\"%s/%s\"", w->ns, w->name);
		}
	}
	free(snap);
}

void *pw_worker_main(void *arg)
{
	pw_worker *w = arg;
	pw_manager *m = w->m;
	w->start_wall_ns = wall_ns();
	vol_pod_init(&w->vp, m->root_dir, w->uid);
	w->vp.no_mount = cri_client_is_fake(m->cri);
	int full = 1;
	for (;;) {
		int64_t sync_t0 = mono_ns();
		pthread_mutex_lock(&w->mu);
		if (w->stop) {
			pthread_mutex_unlock(&w->mu);
			break;
		}
		full |= w->dirty || sync_t0 >= w->next_full_ns;
		w->dirty = 0;
		if (w->repost) {
			/* a new mirror pod has no status yet: post ours again */
			w->repost = 0;
			free(w->last_status);
			w->last_status = NULL;
		}
		cJSON *pod = kc_json_dup(w->pod);
		int removed = w->removed;
		pthread_mutex_unlock(&w->mu);
		if (!pod)
			break;
		int deleting = removed || kc_json_get(pod, "metadata.deletionTimestamp") != NULL;
		if (!w->cs && init_containers(w, pod) < 0) {
			cJSON_Delete(pod);
			break;
		}
		if (deleting) {
			/* a pod gone from the API is killed at once; a static pod whose manifest
			 * went away gets its grace period (upstream kills it as a pod deletion) */
			int left = kill_pod(w, pod, removed && !w->is_static ? 0 : grace_period(pod));
			if ((left > 0 && ++w->kill_tries < 15) ||
			    (!left && !removed && !w->is_static && confirm_deletion(w) < 0)) {
				/* retry after a second */
				cJSON_Delete(pod);
				pthread_mutex_lock(&w->mu);
				pw_wait_until(w, mono_ns() + SEC);
				pthread_mutex_unlock(&w->mu);
				continue;
			}
			if (w->is_static)
				kc_info("\"Static pod killed: its manifest is gone or changed\" pod=\"%s/%s\"", w->ns, w->name);
			else if (!removed)
				kc_info("\"Pod fully terminated and removed\" pod=\"%s/%s\"", w->ns, w->name);
			else
				kc_info("\"Killed pod no longer bound to this node\" pod=\"%s/%s\"", w->ns, w->name);
			kmet_pod_worker(kmet_default(), "kill", (double)(mono_ns() - sync_t0) / 1e9);
			cJSON_Delete(pod);
			break;
		}
		w->cur_pod = pod;
		int sandbox_ok = 0;
		if (!full) {
			/* probes only: the runtime is not asked about anything else */
			full = probe_pass(w, pod, sync_t0);
			sandbox_ok = 1;
		} else {
			full = 0;
			if (!w->adopted)
				adopt(w);
			char err[512] = "";
			if (w->sandbox_stopped) {
				sandbox_ok = 1; /* terminal: nothing runs any more, the status stays */
			} else if (pw_sync_volumes(w, pod) < 0) {
				/* containers wait; the status says why */
			} else if (ensure_sandbox(w, pod, err, sizeof(err)) < 0) {
				kc_error("\"Error syncing pod, skipping\" pod=\"%s/%s\" err=\"%s\"", w->ns, w->name, err);
				for (int i = 0; i < w->ncs; i++)
					pw_set_waiting(&w->cs[i], "ContainerCreating", "%s", err);
			} else {
				sandbox_ok = 1;
				sync_containers(w, pod);
			}
			if (sandbox_ok && !w->sandbox_stopped)
				stop_if_terminal(w, pod);
			schedule_full(w, sandbox_ok, mono_ns());
		}
		post_status(w, pod, sandbox_ok && w->pod_ip[0] && !w->sandbox_stopped);
		w->cur_pod = NULL;
		cJSON_Delete(pod);
		kmet_pod_worker(kmet_default(), w->synced_once ? "sync" : "create", (double)(mono_ns() - sync_t0) / 1e9);
		w->synced_once = 1;
		if (full)
			continue; /* a probe killed a container: look at it now */

		/* next: a change (informer, PLEG), a full-sync timer, or a probe due */
		int64_t next = w->next_full_ns, np = next_probe(w);
		if (np < next)
			next = np;
		pthread_mutex_lock(&w->mu);
		pw_wait_until(w, next);
		pthread_mutex_unlock(&w->mu);
	}
	pthread_mutex_lock(&w->mu);
	w->done = 1;
	pthread_mutex_unlock(&w->mu);
	return NULL;
}
