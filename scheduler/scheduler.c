/* The scheduling cycle and event handlers; see scheduler.h. */
#include "scheduler.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors.h"
#include "json.h"
#include "log.h"

struct sched_bind_job {
	sched_bind_job *next;
	sched_qpod *qp;
	char node[256];
	int evaluated, feasible;
	int64_t start; /* mono, for scheduling_attempt_duration (algorithm + binding) */
};

int sched_scheduler_init(sched_scheduler *s, const sched_config *cfg, sched_api *api,
			 kc_clock_t *clock)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->bmu, NULL);
	pthread_cond_init(&s->bcv, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->bidle, &ca);
	pthread_condattr_destroy(&ca);
	s->cfg = cfg;
	s->api = api;
	s->clock = clock ? clock : kc_clock_real();
	s->state.clock = s->clock;
	s->metrics.attempt.start = 0.001;
	s->metrics.attempt.nbuckets = 15;
	s->metrics.e2e.start = 0.01;
	s->metrics.e2e.nbuckets = 20;
	sched_cache_init(&s->cache);
	return sched_queue_init(&s->queue, s->clock);
}

void sched_scheduler_close(sched_scheduler *s)
{
	pthread_mutex_lock(&s->bmu);
	s->bstop = true;
	pthread_cond_broadcast(&s->bcv);
	pthread_mutex_unlock(&s->bmu);
	for (int i = 0; i < s->nbinders; i++)
		pthread_join(s->binders[i], NULL);
	free(s->binders);
	/* jobs never run: their pods are still owned by the queue (in flight) */
	while (s->bhead) {
		sched_bind_job *j = s->bhead;
		s->bhead = j->next;
		free(j);
	}
	pthread_mutex_destroy(&s->bmu);
	pthread_cond_destroy(&s->bcv);
	pthread_cond_destroy(&s->bidle);
	for (int i = 0; i < s->nnom; i++) {
		sched_pod_free((sched_pod *)s->nom[i].pod);
		free((char *)s->nom[i].node);
	}
	free(s->nom);
	for (int i = 0; i < s->npdbs; i++)
		sched_pdb_close(&s->pdbs[i]);
	free(s->pdbs);
	sched_queue_close(&s->queue);
	sched_cache_close(&s->cache);
	sched_state_close(&s->state);
}

const sched_profile *sched_scheduler_profile(const sched_scheduler *s, const char *name)
{
	for (int i = 0; i < s->cfg->nprofiles; i++)
		if (strcmp(s->cfg->profiles[i].scheduler_name, name) == 0)
			return &s->cfg->profiles[i];
	return NULL;
}

static const char *pod_node(const cJSON *pod)
{
	return kc_json_get_string(pod, "spec.nodeName", "");
}

static void pod_key(const cJSON *pod, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", kc_json_get_string(pod, "metadata.namespace", ""),
		 kc_json_get_string(pod, "metadata.name", ""));
}

/* ---- the nominator (upstream nominator in the scheduling queue), under cache.mu ---- */

static void unnominate_locked(sched_scheduler *s, const char *key)
{
	for (int i = 0; i < s->nnom; i++)
		if (strcmp(s->nom[i].pod->key, key) == 0) {
			sched_pod_free((sched_pod *)s->nom[i].pod);
			free((char *)s->nom[i].node);
			s->nom[i] = s->nom[--s->nnom];
			atomic_store(&s->nnom_pub, s->nnom);
			return;
		}
}

/* Record pod (copied) as nominated to node, replacing an older entry. */
static int nominate_locked(sched_scheduler *s, const sched_pod *pod, const char *node)
{
	sched_pod *cp = NULL;
	int rc = sched_pod_dup(pod, NULL, &cp);
	if (rc != 0)
		return rc;
	char *n = strdup(node);
	if (!n || (s->nnom == s->capnom && s->capnom > INT32_MAX / 4)) {
		free(n);
		sched_pod_free(cp);
		return -ENOMEM;
	}
	unnominate_locked(s, cp->key);
	if (s->nnom == s->capnom) {
		int cap = s->capnom ? s->capnom * 2 : 8;
		sched_nominated *nn = realloc(s->nom, (size_t)cap * sizeof(*nn));
		if (!nn) {
			free(n);
			sched_pod_free(cp);
			return -ENOMEM;
		}
		s->nom = nn;
		s->capnom = cap;
	}
	s->nom[s->nnom].pod = cp;
	s->nom[s->nnom++].node = n;
	atomic_store(&s->nnom_pub, s->nnom);
	return 0;
}

static void unnominate(sched_scheduler *s, const char *key)
{
	if (atomic_load(&s->nnom_pub) == 0)
		return; /* nothing nominated: no need to wait for the scheduling loop */
	sched_cache_lock(&s->cache);
	unnominate_locked(s, key);
	sched_cache_unlock(&s->cache);
}

void sched_scheduler_nominated_node(sched_scheduler *s, const char *key, char *buf, size_t len)
{
	if (len)
		buf[0] = '\0';
	sched_cache_lock(&s->cache);
	for (int i = 0; i < s->nnom; i++)
		if (strcmp(s->nom[i].pod->key, key) == 0)
			snprintf(buf, len, "%s", s->nom[i].node);
	sched_cache_unlock(&s->cache);
}

static bool responsible(sched_scheduler *s, const cJSON *pod)
{
	const char *name = kc_json_get_string(pod, "spec.schedulerName", "default-scheduler");
	return sched_scheduler_profile(s, name) != NULL;
}

static bool terminal(const cJSON *pod)
{
	const char *phase = kc_json_get_string(pod, "status.phase", "");
	return !strcmp(phase, "Succeeded") || !strcmp(phase, "Failed");
}

/* Parse pod and add it to the queue; a pod nominated earlier (by us before a restart,
 * or seen again after our own status patch) keeps its place in the nominator, as
 * upstream's AddNominatedPod. */
static void enqueue(sched_scheduler *s, const cJSON *pod)
{
	char err[256];
	sched_pod *p = NULL;
	if (sched_pod_new(pod, &p, err, sizeof(err)) != 0) {
		kc_warn("pod %s/%s: cannot be scheduled: %s",
			kc_json_get_string(pod, "metadata.namespace", ""),
			kc_json_get_string(pod, "metadata.name", ""), err);
		return;
	}
	const char *nom = kc_json_get_string(p->obj, "status.nominatedNodeName", "");
	if (*nom) {
		sched_cache_lock(&s->cache);
		nominate_locked(s, p, nom);
		sched_cache_unlock(&s->cache);
	}
	sched_queue_add(&s->queue, p);
}

void sched_on_pod_add(sched_scheduler *s, const cJSON *pod)
{
	char key[512];
	pod_key(pod, key, sizeof(key));
	if (*pod_node(pod)) {
		if (terminal(pod)) {
			sched_cache_remove_pod(&s->cache, key);
			return;
		}
		sched_queue_delete(&s->queue, key);
		unnominate(s, key);
		bool known = false; /* assumed counts as known */
		sched_cache_upsert_pod_known(&s->cache, pod, key, &known);
		if (!known) {
			/* a new pod on a node may satisfy affinity or change spreading */
			static const char *const pl[] = { "InterPodAffinity", "PodTopologySpread",
							  NULL };
			sched_queue_move_for_plugins(&s->queue, "AssignedPodAdd", pl);
		}
		return;
	}
	if (!responsible(s, pod) || terminal(pod))
		return;
	/* a pod being deleted is not scheduled (upstream skipPodSchedule) */
	if (*kc_json_get_string(pod, "metadata.deletionTimestamp", ""))
		return;
	/* assumed and being bound: the watch has not caught up yet (skipPodUpdate) */
	if (sched_cache_is_assumed(&s->cache, key))
		return;
	enqueue(s, pod);
}

void sched_on_pod_update(sched_scheduler *s, const cJSON *old_pod, const cJSON *new_pod)
{
	char key[512];
	pod_key(new_pod, key, sizeof(key));
	if (!*pod_node(new_pod) &&
	    (*kc_json_get_string(new_pod, "metadata.deletionTimestamp", "") || terminal(new_pod))) {
		sched_queue_delete(&s->queue, key);
		unnominate(s, key);
		return;
	}
	sched_on_pod_add(s, new_pod);
	if (*pod_node(new_pod) && terminal(new_pod))
		sched_queue_move_all(&s->queue, "AssignedPodDelete");
	else if (*pod_node(new_pod) && old_pod &&
		 !kc_json_equal(kc_json_get(old_pod, "metadata.labels"),
				kc_json_get(new_pod, "metadata.labels"))) {
		/* AssignedPodUpdate with new labels: affinity/spread may now hold */
		static const char *const pl[] = { "InterPodAffinity", "PodTopologySpread", NULL };
		sched_queue_move_for_plugins(&s->queue, "AssignedPodUpdate", pl);
	}
}

void sched_on_pod_delete(sched_scheduler *s, const cJSON *pod)
{
	char key[512];
	pod_key(pod, key, sizeof(key));
	sched_queue_delete(&s->queue, key);
	unnominate(s, key);
	if (*pod_node(pod)) {
		sched_cache_remove_pod(&s->cache, key);
		sched_queue_move_all(&s->queue, "AssignedPodDelete");
	} else {
		/* an assumed pod deleted before its binding was observed */
		sched_cache_forget(&s->cache, key);
	}
}

void sched_on_node_add(sched_scheduler *s, const cJSON *node)
{
	if (sched_cache_upsert_node(&s->cache, node) == 0)
		sched_queue_move_all(&s->queue, "NodeAdd");
}

/* upstream nodeSchedulingPropertiesChange: only these make a pending pod worth retrying
 * (a heartbeat that bumps resourceVersion or lastHeartbeatTime does not). */
static bool node_scheduling_changed(const cJSON *a, const cJSON *b)
{
	static const char *const paths[] = { "spec.unschedulable", "spec.taints",
					     "metadata.labels", "status.allocatable",
					     "status.images", NULL };
	for (int i = 0; paths[i]; i++)
		if (!kc_json_equal(kc_json_get(a, paths[i]), kc_json_get(b, paths[i])))
			return true;
	/* conditions: compare type/status pairs only, not the timestamps */
	const cJSON *ca = kc_json_get(a, "status.conditions"), *cb = kc_json_get(b, "status.conditions");
	if (cJSON_GetArraySize(ca) != cJSON_GetArraySize(cb))
		return true;
	for (int i = 0; i < cJSON_GetArraySize(ca); i++) {
		const cJSON *x = cJSON_GetArrayItem(ca, i), *y = cJSON_GetArrayItem(cb, i);
		if (strcmp(kc_json_get_string(x, "type", ""), kc_json_get_string(y, "type", "")) ||
		    strcmp(kc_json_get_string(x, "status", ""), kc_json_get_string(y, "status", "")))
			return true;
	}
	return false;
}

void sched_on_node_update(sched_scheduler *s, const cJSON *old_node, const cJSON *new_node)
{
	if (sched_cache_upsert_node(&s->cache, new_node) == 0 &&
	    (!old_node || node_scheduling_changed(old_node, new_node)))
		sched_queue_move_all(&s->queue, "NodeUpdate");
}

void sched_on_node_delete(sched_scheduler *s, const cJSON *node)
{
	sched_cache_remove_node(&s->cache, kc_json_get_string(node, "metadata.name", ""));
}

/* ---- PodDisruptionBudgets ---- */

static int pdb_find_locked(sched_scheduler *s, const cJSON *pdb)
{
	const char *ns = kc_json_get_string(pdb, "metadata.namespace", "");
	const char *name = kc_json_get_string(pdb, "metadata.name", "");
	for (int i = 0; i < s->npdbs; i++)
		if (!strcmp(s->pdbs[i].ns, ns) && !strcmp(s->pdbs[i].name, name))
			return i;
	return -1;
}

void sched_on_pdb_upsert(sched_scheduler *s, const cJSON *pdb)
{
	sched_pdb p;
	if (sched_pdb_init(&p, pdb) != 0) {
		sched_pdb_close(&p);
		return;
	}
	sched_cache_lock(&s->cache);
	int i = pdb_find_locked(s, pdb);
	if (i >= 0) {
		sched_pdb_close(&s->pdbs[i]);
		s->pdbs[i] = p;
	} else {
		if (s->npdbs == s->cappdbs) {
			int cap = s->cappdbs ? s->cappdbs * 2 : 8;
			sched_pdb *np = realloc(s->pdbs, (size_t)cap * sizeof(*np));
			if (!np) {
				sched_cache_unlock(&s->cache);
				sched_pdb_close(&p);
				return;
			}
			s->pdbs = np;
			s->cappdbs = cap;
		}
		s->pdbs[s->npdbs++] = p;
	}
	sched_cache_unlock(&s->cache);
}

void sched_on_pdb_delete(sched_scheduler *s, const cJSON *pdb)
{
	sched_cache_lock(&s->cache);
	int i = pdb_find_locked(s, pdb);
	if (i >= 0) {
		sched_pdb_close(&s->pdbs[i]);
		s->pdbs[i] = s->pdbs[--s->npdbs];
	}
	sched_cache_unlock(&s->cache);
}

static void hist_observe(sched_histogram *h, int64_t ns)
{
	double sec = (double)ns / 1e9, bound = h->start;
	for (int i = 0; i < h->nbuckets; i++, bound *= 2)
		if (sec <= bound) {
			atomic_fetch_add(&h->buckets[i], 1);
			break;
		}
	atomic_fetch_add(&h->count, 1);
	atomic_fetch_add(&h->sum_us, (unsigned long)(ns > 0 ? ns / 1000 : 0));
}

static void observe_latency(sched_scheduler *s, int64_t ns)
{
	hist_observe(&s->metrics.attempt, ns);
}

static void fail(sched_scheduler *s, sched_qpod *qp, bool unschedulable, const char *msg,
		 const char *plugins)
{
	const sched_pod *p = qp->pod;
	if (unschedulable)
		kc_info("Unable to schedule pod; no fit; waiting pod=\"%s\" err=\"%s\"", p->key, msg);
	else
		kc_info("Error scheduling pod; retrying pod=\"%s\" err=\"%s\"", p->key, msg);
	if (s->api) {
		s->api->event(s->api, p, "Warning", "FailedScheduling", msg);
		s->api->set_condition(s->api, p, unschedulable ? "Unschedulable" : "SchedulerError",
				      msg);
	}
	atomic_fetch_add(unschedulable ? &s->metrics.unschedulable : &s->metrics.error, 1);
	sched_queue_requeue(&s->queue, qp, unschedulable, plugins);
}

/* The binding cycle (upstream bindingCycle): bind, then report; the job is freed. */
static void binding_cycle(sched_scheduler *s, sched_bind_job *job)
{
	sched_qpod *qp = job->qp;
	const sched_pod *pod = qp->pod;
	char err[1024] = "";
	int brc = s->api ? s->api->bind(s->api, pod, job->node, err, sizeof(err)) : 0;
	observe_latency(s, kc_now_mono(s->clock) - job->start);
	if (brc != 0) {
		sched_cache_forget(&s->cache, pod->key);
		char msg[1200];
		snprintf(msg, sizeof(msg), "running Bind plugin \"DefaultBinder\": %s", err);
		fail(s, qp, false, msg, NULL);
	} else {
		char msg[1024];
		snprintf(msg, sizeof(msg), "Successfully assigned %s to %s", pod->key, job->node);
		kc_log_v(2, "Successfully bound pod to node pod=\"%s\" node=\"%s\" "
			    "evaluatedNodes=%d feasibleNodes=%d",
			 pod->key, job->node, job->evaluated, job->feasible);
		if (s->api)
			s->api->event(s->api, pod, "Normal", "Scheduled", msg);
		atomic_fetch_add(&s->metrics.scheduled, 1);
		unnominate(s, pod->key);
		hist_observe(&s->metrics.e2e, kc_now_mono(s->clock) - qp->added_ns);
		sched_queue_done(&s->queue, qp);
	}
	free(job);
}

static void *binder_main(void *arg)
{
	sched_scheduler *s = arg;
	pthread_mutex_lock(&s->bmu);
	for (;;) {
		while (!s->bhead && !s->bstop)
			pthread_cond_wait(&s->bcv, &s->bmu);
		if (s->bstop)
			break;
		sched_bind_job *j = s->bhead;
		s->bhead = j->next;
		if (!s->bhead)
			s->btail = NULL;
		s->bbusy++;
		pthread_mutex_unlock(&s->bmu);
		binding_cycle(s, j);
		pthread_mutex_lock(&s->bmu);
		s->bbusy--;
		if (!s->bhead && s->bbusy == 0)
			pthread_cond_broadcast(&s->bidle);
	}
	pthread_mutex_unlock(&s->bmu);
	return NULL;
}

int sched_scheduler_start_binders(sched_scheduler *s, int n)
{
	if (n <= 0 || s->nbinders)
		return -EINVAL;
	s->binders = calloc((size_t)n, sizeof(pthread_t));
	if (!s->binders)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		int rc = pthread_create(&s->binders[i], NULL, binder_main, s);
		if (rc != 0)
			return -rc;
		pthread_mutex_lock(&s->bmu);
		s->nbinders++;
		pthread_mutex_unlock(&s->bmu);
	}
	return 0;
}

int sched_scheduler_wait_binds(sched_scheduler *s, int64_t timeout_ns)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t deadline = (int64_t)ts.tv_sec * KC_NSEC_PER_SEC + ts.tv_nsec + timeout_ns;
	ts.tv_sec = deadline / KC_NSEC_PER_SEC;
	ts.tv_nsec = deadline % KC_NSEC_PER_SEC;
	int rc = 0;
	pthread_mutex_lock(&s->bmu);
	while ((s->bhead || s->bbusy) && rc == 0)
		if (pthread_cond_timedwait(&s->bidle, &s->bmu, &ts) == ETIMEDOUT)
			rc = -ETIMEDOUT;
	pthread_mutex_unlock(&s->bmu);
	return rc;
}

/* The victims of one preemption, copied out of the cache while it is locked. */
typedef struct preemption {
	char node[256];
	int n;
	sched_pod *victims[SCHED_MAX_VICTIMS];
} preemption;

static preemption *preemption_take_locked(sched_scheduler *s, const sched_pod *pod,
					  const sched_result *res)
{
	preemption *pr = calloc(1, sizeof(*pr));
	if (!pr)
		return NULL;
	snprintf(pr->node, sizeof(pr->node), "%s", res->nominated_node);
	for (int i = 0; i < res->nvictims; i++)
		if (sched_pod_dup(res->victims[i], NULL, &pr->victims[pr->n]) == 0)
			pr->n++;
	/* the nominated pod counts on the node for lower-priority pods from now on, so
	 * they do not take the room being made (upstream's nominator) */
	if (nominate_locked(s, pod, pr->node) != 0)
		kc_warn("pod %s: cannot record nomination to node %s", pod->key, pr->node);
	return pr;
}

/* upstream prepareCandidate: delete the victims (a Preempted event on each), then
 * record status.nominatedNodeName on the preemptor. */
static void preemption_run(sched_scheduler *s, const sched_pod *pod, preemption *pr)
{
	atomic_fetch_add(&s->metrics.preemption_attempts, 1);
	for (int i = 0; i < pr->n; i++) {
		sched_pod *v = pr->victims[i];
		char msg[600], err[512] = "";
		kc_info("Preempting pod=\"%s\" preemptor=\"%s\" node=\"%s\"", v->key, pod->key,
			pr->node);
		if (s->api && s->api->delete_pod && s->api->delete_pod(s->api, v, err, sizeof(err)) != 0) {
			kc_warn("pod %s: deleting preemption victim on node %s: %s", v->key, pr->node,
				err);
		} else {
			atomic_fetch_add(&s->metrics.preemption_victims, 1);
			snprintf(msg, sizeof(msg), "Preempted by pod %s on node %s", pod->uid, pr->node);
			if (s->api)
				s->api->event(s->api, v, "Normal", "Preempted", msg);
		}
		sched_pod_free(v);
	}
	if (s->api && s->api->set_nominated_node)
		s->api->set_nominated_node(s->api, pod, pr->node);
	free(pr);
}

int sched_schedule_one(sched_scheduler *s, int64_t timeout_ns)
{
	sched_qpod *qp = timeout_ns > 0 ? sched_queue_pop(&s->queue, timeout_ns)
					: sched_queue_try_pop(&s->queue);
	if (!qp)
		return 0;
	int64_t start = kc_now_mono(s->clock);
	const sched_pod *pod = qp->pod;
	const sched_profile *prof = sched_scheduler_profile(s, pod->scheduler_name);
	if (!prof) {
		sched_queue_done(&s->queue, qp);
		return 1;
	}
	/* reused between cycles (only this loop schedules): a 7 KB calloc per cycle costs
	 * more than the filters of a small cluster */
	sched_result *res = &s->res; /* sched_schedule_pod clears it */
	sched_cache_lock(&s->cache);
	s->state.nominated = s->nom;
	s->state.nnominated = s->nnom;
	s->state.pdbs = s->pdbs;
	s->state.npdbs = s->npdbs;
	s->state.counts_known = true;
	s->state.affinity_pods = s->cache.affinity_pods;
	s->state.anti_pods = s->cache.anti_pods;
	s->state.nodes_with_images = s->cache.nodes_with_images;
	int rc = sched_schedule_pod(&s->state, prof, pod, s->cache.nodes, s->cache.nnodes, res);
	if (rc == 0 && sched_cache_assume_locked(&s->cache, pod, res->node_name) != 0)
		rc = -ENOMEM;
	preemption *pr = NULL;
	if (rc == 1 && res->nominated_node[0])
		pr = preemption_take_locked(s, pod, res);
	s->state.nominated = NULL;
	s->state.nnominated = 0;
	s->state.pdbs = NULL;
	s->state.npdbs = 0;
	sched_cache_unlock(&s->cache);
	if (pr)
		preemption_run(s, pod, pr);
	if (rc != 0)
		observe_latency(s, kc_now_mono(s->clock) - start);

	if (rc < 0) {
		char msg[128];
		snprintf(msg, sizeof(msg), "scheduling failed: %s", kc_strerror(rc));
		fail(s, qp, false, msg, NULL);
	} else if (rc == 1) {
		/* ErrNoNodesAvailable is an error upstream, a fit failure otherwise */
		fail(s, qp, !res->error, res->message, res->plugins);
	} else {
		sched_bind_job *job = calloc(1, sizeof(*job));
		if (!job) {
			observe_latency(s, kc_now_mono(s->clock) - start);
			sched_cache_forget(&s->cache, pod->key);
			fail(s, qp, false, "scheduling failed: out of memory", NULL);
		} else {
			job->qp = qp;
			snprintf(job->node, sizeof(job->node), "%s", res->node_name);
			job->evaluated = res->evaluated_nodes;
			job->feasible = res->feasible_nodes;
			job->start = start;
			pthread_mutex_lock(&s->bmu);
			bool async = s->nbinders > 0;
			if (async) {
				if (s->btail)
					s->btail->next = job;
				else
					s->bhead = job;
				s->btail = job;
				pthread_cond_signal(&s->bcv);
			}
			pthread_mutex_unlock(&s->bmu);
			if (!async)
				binding_cycle(s, job);
		}
	}
	return 1;
}

typedef struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
	if (b->oom)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = (b->cap + (size_t)n + 1) * 2;
		char *np = realloc(b->p, cap);
		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
}

static void hist_print(sbuf *b, sched_histogram *h, const char *name, const char *help)
{
	sb_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	unsigned long cum = 0;
	double bound = h->start;
	for (int i = 0; i < h->nbuckets; i++, bound *= 2) {
		cum += atomic_load(&h->buckets[i]);
		sb_printf(b, "%s_bucket{le=\"%g\"} %lu\n", name, bound, cum);
	}
	unsigned long count = atomic_load(&h->count);
	sb_printf(b, "%s_bucket{le=\"+Inf\"} %lu\n", name, count);
	sb_printf(b, "%s_sum %.6f\n", name, (double)atomic_load(&h->sum_us) / 1e6);
	sb_printf(b, "%s_count %lu\n", name, count);
}

char *sched_metrics_text(sched_scheduler *s)
{
	sbuf b = { .p = malloc(4096), .cap = 4096 };
	if (!b.p)
		return NULL;
	b.p[0] = '\0';
	const char *prof = s->cfg->nprofiles ? s->cfg->profiles[0].scheduler_name : "";
	sb_printf(&b, "# HELP scheduler_schedule_attempts_total Number of attempts to schedule "
		      "pods, by the result.\n# TYPE scheduler_schedule_attempts_total counter\n");
	sb_printf(&b, "scheduler_schedule_attempts_total{profile=\"%s\",result=\"scheduled\"} %lu\n",
		  prof, atomic_load(&s->metrics.scheduled));
	sb_printf(&b,
		  "scheduler_schedule_attempts_total{profile=\"%s\",result=\"unschedulable\"} %lu\n",
		  prof, atomic_load(&s->metrics.unschedulable));
	sb_printf(&b, "scheduler_schedule_attempts_total{profile=\"%s\",result=\"error\"} %lu\n",
		  prof, atomic_load(&s->metrics.error));
	sb_printf(&b, "# HELP scheduler_preemption_attempts_total Total preemption attempts in "
		      "the cluster till now\n# TYPE scheduler_preemption_attempts_total counter\n"
		      "scheduler_preemption_attempts_total %lu\n",
		  atomic_load(&s->metrics.preemption_attempts));
	sb_printf(&b, "# HELP scheduler_preemption_victims_total Number of selected preemption "
		      "victims\n# TYPE scheduler_preemption_victims_total counter\n"
		      "scheduler_preemption_victims_total %lu\n",
		  atomic_load(&s->metrics.preemption_victims));
	sb_printf(&b, "# HELP scheduler_pending_pods Number of pending pods, by the queue type.\n"
		      "# TYPE scheduler_pending_pods gauge\n");
	sb_printf(&b, "scheduler_pending_pods{queue=\"active\"} %d\n",
		  sched_queue_count(&s->queue, SCHED_Q_ACTIVE));
	sb_printf(&b, "scheduler_pending_pods{queue=\"backoff\"} %d\n",
		  sched_queue_count(&s->queue, SCHED_Q_BACKOFF));
	sb_printf(&b, "scheduler_pending_pods{queue=\"gated\"} 0\n");
	sb_printf(&b, "scheduler_pending_pods{queue=\"unschedulable\"} %d\n",
		  sched_queue_count(&s->queue, SCHED_Q_UNSCHEDULABLE));
	hist_print(&b, &s->metrics.attempt, "scheduler_scheduling_attempt_duration_seconds",
		   "Scheduling attempt latency in seconds (scheduling algorithm + binding)");
	hist_print(&b, &s->metrics.e2e, "scheduler_pod_scheduling_sli_duration_seconds",
		   "E2e latency for a pod being scheduled, from the time the pod enters the "
		   "scheduling queue and might involve multiple scheduling attempts.");
	int assumed = 0;
	int pods = sched_cache_pod_count(&s->cache, &assumed);
	sb_printf(&b, "# HELP scheduler_cache_size Number of nodes, pods, and assumed pods in "
		      "the scheduler cache.\n# TYPE scheduler_cache_size gauge\n");
	sb_printf(&b, "scheduler_cache_size{type=\"assumed_pods\"} %d\n", assumed);
	sb_printf(&b, "scheduler_cache_size{type=\"nodes\"} %d\n", sched_cache_node_count(&s->cache));
	sb_printf(&b, "scheduler_cache_size{type=\"pods\"} %d\n", pods);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}
