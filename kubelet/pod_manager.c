/* The pod manager: the sources of pods (the apiserver's pods bound to this node, static
 * pod manifests), one worker per pod, the PLEG that wakes them; see pod_worker.h. */
#include "pod_worker_int.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors.h"
#include "events.h"
#include "informer.h"
#include "json.h"
#include "log.h"
#include "mirror_pod.h"
#include "pleg.h"
#include "static_pods.h"
#include "volumes.h"

static void worker_free(pw_worker *w)
{
	pthread_join(w->th, NULL);
	for (int i = 0; i < w->ncs; i++) {
		probe_spec_close(&w->cs[i].rp);
		probe_spec_close(&w->cs[i].lp);
		probe_spec_close(&w->cs[i].sp);
	}
	free(w->cs);
	free(w->view);
	cJSON_Delete(w->view_status);
	vol_pod_close(&w->vp);
	free(w->last_status);
	cJSON_Delete(w->pod);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}

/* Join and free workers that finished (under m->mu). */
static void reap(pw_manager *m)
{
	pw_worker **pp = &m->workers;
	while (*pp) {
		pw_worker *w = *pp;
		pthread_mutex_lock(&w->mu);
		int done = w->done;
		pthread_mutex_unlock(&w->mu);
		if (done) {
			*pp = w->next;
			worker_free(w);
		} else {
			pp = &w->next;
		}
	}
}

pw_worker *pw_find(pw_manager *m, const char *uid)
{
	for (pw_worker *w = m->workers; w; w = w->next)
		if (!strcmp(w->uid, uid))
			return w;
	return NULL;
}

/* Whether an update matters to the worker, as upstream's checkAndUpdatePod: a change of
 * the spec, labels, annotations or deletion fields.  The kubelet's own status PATCH
 * comes back through the watch; it only refreshes the stored object. */
static int pod_changed(const cJSON *a, const cJSON *b)
{
	static const char *const paths[] = { "spec", "metadata.labels", "metadata.annotations",
					     "metadata.deletionTimestamp", "metadata.deletionGracePeriodSeconds" };
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		const cJSON *x = kc_json_get(a, paths[i]), *y = kc_json_get(b, paths[i]);
		if (!x && !y)
			continue;
		if (!x || !y || !cJSON_Compare(x, y, 1))
			return 1;
	}
	return 0;
}

/* A mirror pod seen through the informer: it is not run (its static pod is); a new one
 * (other uid) makes the static pod's worker post its status to it, and a deleted one is
 * created again by the next static pod pass (woken now). */
static void on_mirror(const cJSON *pod, int removed, pw_manager *m)
{
	const char *uid = kc_json_get_string(pod, "metadata.uid", "");
	const char *name = kc_json_get_string(pod, "metadata.name", "");
	const char *ns = kc_json_get_string(pod, "metadata.namespace", "default");
	int gone = removed || kc_json_get(pod, "metadata.deletionTimestamp") != NULL;
	pthread_mutex_lock(&m->mu);
	for (pw_worker *w = m->workers; w; w = w->next) {
		if (!w->is_static || strcmp(w->name, name) || strcmp(w->ns, ns))
			continue;
		pthread_mutex_lock(&w->mu);
		if (gone && !strcmp(w->mirror_uid, uid)) {
			w->mirror_uid[0] = 0;
		} else if (!gone && strcmp(w->mirror_uid, uid)) {
			snprintf(w->mirror_uid, sizeof(w->mirror_uid), "%s", uid);
			w->repost = 1;
			w->dirty = 1;
			pthread_cond_signal(&w->cv);
		}
		pthread_mutex_unlock(&w->mu);
	}
	pthread_mutex_unlock(&m->mu);
	if (gone)
		sp_source_wake(m->sp);
}

static void on_pod(const cJSON *pod, int removed, pw_manager *m, int is_static)
{
	if (!is_static && sp_is_mirror(pod)) {
		on_mirror(pod, removed, m);
		return;
	}
	const char *uid = kc_json_get_string(pod, "metadata.uid", "");
	const char *name = kc_json_get_string(pod, "metadata.name", "");
	const char *ns = kc_json_get_string(pod, "metadata.namespace", "default");
	if (!uid[0] || !name[0] || strlen(uid) >= 64 || strlen(name) >= 256 || strlen(ns) >= 256)
		return;
	/* bound elsewhere since: treat as removed from this node */
	if (strcmp(kc_json_get_string(pod, "spec.nodeName", ""), m->node_name) != 0)
		removed = 1;
	/* a static pod whose mirror pod the informer already has (a kubelet restart: the
	 * informer lists before the manifests are read): its status goes there at once.
	 * Read before m->mu: the informer calls on_pod with its own locks held. */
	char mirror_uid[64] = "";
	if (is_static && !removed && m->inf) {
		char key[600];
		cJSON *mir = NULL;
		snprintf(key, sizeof(key), "%s/%s", ns, name);
		if (kc_informer_get(m->inf, key, &mir) == 0 && sp_is_mirror(mir) &&
		    !kc_json_get(mir, "metadata.deletionTimestamp"))
			snprintf(mirror_uid, sizeof(mirror_uid), "%s", kc_json_get_string(mir, "metadata.uid", ""));
		cJSON_Delete(mir);
	}
	pthread_mutex_lock(&m->mu);
	reap(m);
	pw_worker *w = pw_find(m, uid);
	if (!w) {
		if (removed) {
			pthread_mutex_unlock(&m->mu);
			return;
		}
		const char *phase = kc_json_get_string(pod, "status.phase", "");
		if ((!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")) &&
		    !kc_json_get(pod, "metadata.deletionTimestamp")) {
			/* terminal pods are not restarted after a kubelet restart */
			pthread_mutex_unlock(&m->mu);
			return;
		}
		w = calloc(1, sizeof(*w));
		if (!w) {
			pthread_mutex_unlock(&m->mu);
			return;
		}
		w->m = m;
		w->is_static = is_static;
		snprintf(w->mirror_uid, sizeof(w->mirror_uid), "%s", mirror_uid);
		snprintf(w->uid, sizeof(w->uid), "%s", uid);
		snprintf(w->name, sizeof(w->name), "%s", name);
		snprintf(w->ns, sizeof(w->ns), "%s", ns);
		w->pod = kc_json_dup(pod);
		w->seen_mono_ns = mono_ns();
		pthread_mutex_init(&w->mu, NULL);
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&w->cv, &ca);
		pthread_condattr_destroy(&ca);
		/* a worker touches ~52 KiB of stack (measured by test/bench/kubelet); 512 KiB
		 * instead of glibc's 8 MiB default keeps 100 pods' address space small */
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 512 * 1024);
		int trc = w->pod ? pthread_create(&w->th, &attr, pw_worker_main, w) : -1;
		pthread_attr_destroy(&attr);
		if (trc != 0) {
			cJSON_Delete(w->pod);
			free(w);
			pthread_mutex_unlock(&m->mu);
			return;
		}
		kc_info("\"SyncLoop ADD\" source=\"%s\" pod=\"%s/%s\"", is_static ? "file" : "api", ns, name);
		w->next = m->workers;
		m->workers = w;
		pthread_mutex_unlock(&m->mu);
		return;
	}
	if (removed && is_static)
		kc_info("\"SyncLoop REMOVE\" source=\"file\" pod=\"%s/%s\"", ns, name);
	pthread_mutex_lock(&w->mu);
	int changed = removed || !w->pod || pod_changed(w->pod, pod);
	cJSON *d = kc_json_dup(pod);
	if (d) {
		cJSON_Delete(w->pod);
		w->pod = d;
	}
	if (removed)
		w->removed = 1;
	if (changed) {
		w->dirty = 1;
		pthread_cond_signal(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	pthread_mutex_unlock(&m->mu);
}

static void h_add(const cJSON *obj, void *arg)
{
	on_pod(obj, 0, arg, 0);
}

static void h_update(const cJSON *old_obj, const cJSON *new_obj, void *arg)
{
	(void)old_obj;
	on_pod(new_obj, 0, arg, 0);
}

static void h_delete(const cJSON *obj, int unknown, void *arg)
{
	(void)unknown;
	on_pod(obj, 1, arg, 0);
}

/* The PLEG saw a sandbox or container of this pod change: wake its worker for a full
 * sync (upstream's syncLoopIteration on plegCh -> HandlePodSyncs). */
static void on_pleg(const pleg_event *ev, void *arg)
{
	pw_manager *m = arg;
	kc_log_v(4, "\"SyncLoop (PLEG): event for pod\" podUID=\"%s\" type=%d id=\"%s\"", ev->uid, (int)ev->type, ev->id);
	pthread_mutex_lock(&m->mu);
	pw_worker *w = pw_find(m, ev->uid);
	if (w)
		pw_wake(w);
	pthread_mutex_unlock(&m->mu);
}

static void on_static(const cJSON *pod, int removed, void *arg)
{
	on_pod(pod, removed, arg, 1);
}

/* After each static pod pass: the mirror pods (API mode, informer synced). */
static void static_tick(void *arg)
{
	pw_manager *m = arg;
	if (!m->api || !m->inf || !kc_informer_has_synced(m->inf))
		return;
	char node_uid[64];
	pthread_mutex_lock(&m->mu);
	snprintf(node_uid, sizeof(node_uid), "%s", m->node_uid);
	pthread_mutex_unlock(&m->mu);
	cJSON *pods = sp_source_pods(m->sp);
	if (pods)
		mp_sync(m->api, m->inf, pods, m->node_name, node_uid);
	cJSON_Delete(pods);
}

void pw_manager_set_node_uid(pw_manager *m, const char *uid)
{
	pthread_mutex_lock(&m->mu);
	int changed = strcmp(m->node_uid, uid ? uid : "") != 0;
	snprintf(m->node_uid, sizeof(m->node_uid), "%s", uid ? uid : "");
	pthread_mutex_unlock(&m->mu);
	if (changed)
		sp_source_wake(m->sp);
}

int pw_manager_new(const pw_config *cfg, pw_manager **out)
{
	pw_manager *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->api = cfg->api;
	m->cri = cfg->cri;
	m->cfg = cfg->cfg;
	snprintf(m->node_name, sizeof(m->node_name), "%s", cfg->node_name);
	snprintf(m->node_ip, sizeof(m->node_ip), "%s", cfg->node_ip ? cfg->node_ip : "");
	snprintf(m->logs_dir, sizeof(m->logs_dir), "%s", cfg->pod_logs_dir && cfg->pod_logs_dir[0] ? cfg->pod_logs_dir : "/var/log/pods");
	snprintf(m->cgroup_root, sizeof(m->cgroup_root), "%s", cfg->cgroup_root ? cfg->cgroup_root : "");
	snprintf(m->root_dir, sizeof(m->root_dir), "%s", cfg->root_dir && cfg->root_dir[0] ? cfg->root_dir : "/var/lib/kubelet");
	m->alloc_cpu_milli = cfg->alloc_cpu_milli;
	m->alloc_memory = cfg->alloc_memory;
	m->alloc_ephemeral = cfg->alloc_ephemeral;
	pthread_mutex_init(&m->mu, NULL);
	int rc;
	if (m->cfg && m->cfg->static_pod_path && m->cfg->static_pod_path[0]) {
		/* the file source: fileCheckFrequency (20 s upstream) between scans */
		rc = sp_source_new(m->cfg->static_pod_path, m->node_name, m->cfg->file_check_frequency_ns, on_static,
				   static_tick, m, &m->sp);
		if (rc < 0) {
			free(m);
			return rc;
		}
	}
	if (!m->api) {
		/* standalone mode: static pods only */
		if (pleg_new(m->cri, SEC, on_pleg, m, &m->pleg) < 0)
			m->pleg = NULL;
		*out = m;
		return 0;
	}
	char fsel[300];
	snprintf(fsel, sizeof(fsel), "spec.nodeName=%s", m->node_name);
	kc_informer_opts io = { .path = "/api/v1/pods", .field_selector = fsel, .name = "pods" };
	rc = kc_informer_new(m->api, &io, &m->inf);
	if (rc < 0) {
		sp_source_free(m->sp);
		free(m);
		return rc;
	}
	/* events are best effort: a kubelet without them still runs pods */
	if (kc_event_sink_client_new(m->api, &m->sink) == 0) {
		kc_recorder_options ro = { .component = "kubelet", .host = m->node_name, .sink = m->sink };
		if (kc_recorder_new(&ro, &m->rec) < 0)
			m->rec = NULL;
	}
	kc_informer_handlers h = { .on_add = h_add, .on_update = h_update, .on_delete = h_delete, .arg = m };
	kc_informer_add_handlers(m->inf, &h);
	/* without a PLEG the workers poll (PW_POLL_NS) */
	if (pleg_new(m->cri, SEC, on_pleg, m, &m->pleg) < 0)
		m->pleg = NULL;
	*out = m;
	return 0;
}

void pw_cleanup_orphans(pw_manager *m)
{
	int64_t now = mono_ns();
	if (!m->inf || !kc_informer_has_synced(m->inf))
		return;
	pthread_mutex_lock(&m->mu);
	int due = now >= m->next_orphan_ns;
	if (due)
		m->next_orphan_ns = now + 10 * SEC;
	pthread_mutex_unlock(&m->mu);
	if (!due)
		return;
	char dir[1100];
	snprintf(dir, sizeof(dir), "%s/pods", m->root_dir);
	DIR *d = opendir(dir);
	if (!d)
		return;
	cJSON *pods = NULL;
	if (kc_informer_list(m->inf, &pods) < 0) {
		closedir(d);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		/* a pod with a worker, or one in the API that is not terminal, is not an orphan */
		pthread_mutex_lock(&m->mu);
		int owned = pw_find(m, de->d_name) != NULL;
		pthread_mutex_unlock(&m->mu);
		const cJSON *p;
		cJSON_ArrayForEach(p, pods)
		{
			if (strcmp(kc_json_get_string(p, "metadata.uid", ""), de->d_name))
				continue;
			const char *ph = kc_json_get_string(p, "status.phase", "");
			if (strcmp(ph, "Succeeded") && strcmp(ph, "Failed"))
				owned = 1;
		}
		if (owned)
			continue;
		int left = vol_teardown(m->root_dir, de->d_name);
		if (left == 0)
			kc_info("\"Cleaned up orphaned pod directory\" podUID=\"%s\"", de->d_name);
		else
			kc_warn("\"Orphaned pod directory still has mounts\" podUID=\"%s\" mounts=%d", de->d_name, left);
	}
	closedir(d);
	cJSON_Delete(pods);
}

int pw_manager_start(pw_manager *m)
{
	if (m->pleg && pleg_start(m->pleg) < 0) {
		kc_warn("\"Could not start the PLEG; pod workers poll the runtime\"");
		pleg_free(m->pleg);
		m->pleg = NULL;
	}
	int rc = m->inf ? kc_informer_start(m->inf) : 0;
	if (rc == 0 && m->sp)
		rc = sp_source_start(m->sp);
	return rc;
}

int pw_manager_synced(pw_manager *m)
{
	return m->inf ? kc_informer_has_synced(m->inf) : 1;
}

void pw_manager_free(pw_manager *m)
{
	if (!m)
		return;
	sp_source_free(m->sp);
	m->sp = NULL;
	if (m->inf)
		kc_informer_stop(m->inf);
	pleg_free(m->pleg);
	m->pleg = NULL;
	pthread_mutex_lock(&m->mu);
	for (pw_worker *w = m->workers; w; w = w->next) {
		pthread_mutex_lock(&w->mu);
		w->stop = 1;
		pthread_cond_signal(&w->cv);
		pthread_mutex_unlock(&w->mu);
	}
	while (m->workers) {
		pw_worker *w = m->workers;
		m->workers = w->next;
		worker_free(w);
	}
	pthread_mutex_unlock(&m->mu);
	kc_informer_free(m->inf);
	if (m->rec) {
		kc_recorder_flush(m->rec, 2 * SEC);
		kc_recorder_free(m->rec);
	}
	if (m->sink)
		kc_event_sink_client_free(m->sink);
	pthread_mutex_destroy(&m->mu);
	free(m);
}
