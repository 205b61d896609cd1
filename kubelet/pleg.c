/* Pod lifecycle event generator; see pleg.h. */
#include "pleg.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors.h"
#include "log.h"
#include "pod_worker.h"

struct pleg {
	cri_client *cri;
	int64_t period_ns;
	pleg_fn fn;
	void *arg;
	pleg_record *recs; /* the previous relist, sorted; relist thread (or tests) only */
	size_t nrecs;
	int have; /* a relist succeeded once */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop, running;
	int64_t last_ns;    /* under mu */
	uint64_t relists;   /* under mu */
	pthread_t th;
};

static int64_t now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int rec_cmp(const void *a, const void *b)
{
	const pleg_record *x = a, *y = b;
	if (x->sandbox != y->sandbox)
		return x->sandbox - y->sandbox;
	return strcmp(x->id, y->id);
}

void pleg_sort(pleg_record *r, size_t n)
{
	if (n > 1)
		qsort(r, n, sizeof(*r), rec_cmp);
}

/* generic.go generateEvents: the event a container's new state implies */
static pleg_event_type container_event(int state)
{
	switch (state) {
	case RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING:
		return PLEG_CONTAINER_STARTED;
	case RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED:
		return PLEG_CONTAINER_DIED;
	default:
		return PLEG_CONTAINER_CHANGED;
	}
}

static int emit(pleg_fn fn, void *arg, const pleg_record *r, pleg_event_type t)
{
	if (fn) {
		pleg_event ev = { .uid = r->uid, .id = r->id, .type = r->sandbox ? PLEG_SANDBOX_CHANGED : t };
		fn(&ev, arg);
	}
	return 1;
}

int pleg_diff(const pleg_record *old, size_t nold, const pleg_record *cur, size_t ncur, pleg_fn fn, void *arg)
{
	size_t i = 0, j = 0;
	int n = 0;
	/* a merge walk over both sorted relists */
	while (i < nold || j < ncur) {
		int c = i >= nold ? 1 : j >= ncur ? -1 : rec_cmp(&old[i], &cur[j]);
		if (c < 0) {
			n += emit(fn, arg, &old[i], PLEG_CONTAINER_REMOVED);
			i++;
		} else if (c > 0) {
			n += emit(fn, arg, &cur[j], container_event(cur[j].state));
			j++;
		} else {
			if (old[i].state != cur[j].state)
				n += emit(fn, arg, &cur[j], container_event(cur[j].state));
			i++;
			j++;
		}
	}
	return n;
}

int pleg_new(cri_client *cri, int64_t period_ns, pleg_fn fn, void *arg, pleg **out)
{
	if (!cri || !out)
		return -EINVAL;
	pleg *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->cri = cri;
	p->period_ns = period_ns > 0 ? period_ns : 1000000000LL;
	p->fn = fn;
	p->arg = arg;
	pthread_mutex_init(&p->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	*out = p;
	return 0;
}

/* the pod uid label of a sandbox or container (labels entries share one shape) */
static const char *uid_label(Runtime__V1__PodSandbox__LabelsEntry **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (l[i] && l[i]->key && l[i]->value && !strcmp(l[i]->key, PW_LABEL_POD_UID))
			return l[i]->value;
	return NULL;
}

static int add_rec(pleg_record **v, size_t *n, size_t *cap, const char *id, const char *uid, int sandbox, int state)
{
	/* records the runtime did not make for a pod (no uid label) or with ids too long
	 * for a Kubernetes runtime are not ours: skipped */
	if (!id || !uid || !id[0] || !uid[0] || strlen(id) >= sizeof((*v)->id) || strlen(uid) >= sizeof((*v)->uid))
		return 0;
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		pleg_record *nv = realloc(*v, nc * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = nc;
	}
	pleg_record *r = &(*v)[(*n)++];
	snprintf(r->id, sizeof(r->id), "%s", id);
	snprintf(r->uid, sizeof(r->uid), "%s", uid);
	r->sandbox = sandbox;
	r->state = state;
	return 0;
}

int pleg_relist(pleg *p)
{
	Runtime__V1__ListPodSandboxResponse *sr = NULL;
	Runtime__V1__ListContainersResponse *cr = NULL;
	cri_grpc_status st;
	int rc = cri_list_pod_sandbox(p->cri, NULL, &sr, &st);
	if (rc == 0)
		rc = cri_list_containers(p->cri, NULL, &cr, &st);
	if (rc < 0) {
		/* generic.go: "GenericPLEG: Unable to retrieve pods"; nothing is emitted and
		 * the next relist compares with the last good one */
		kc_error("\"GenericPLEG: Unable to retrieve pods\" err=\"%s\"", st.message);
		cri_msg_free(sr);
		cri_msg_free(cr);
		return rc;
	}
	pleg_record *v = NULL;
	size_t n = 0, cap = 0;
	for (size_t i = 0; rc == 0 && i < sr->n_items; i++) {
		const Runtime__V1__PodSandbox *s = sr->items[i];
		rc = add_rec(&v, &n, &cap, s->id, uid_label(s->labels, s->n_labels), 1, s->state);
	}
	for (size_t i = 0; rc == 0 && i < cr->n_containers; i++) {
		const Runtime__V1__Container *c = cr->containers[i];
		rc = add_rec(&v, &n, &cap, c->id,
			     uid_label((Runtime__V1__PodSandbox__LabelsEntry **)c->labels, c->n_labels), 0, c->state);
	}
	cri_msg_free(sr);
	cri_msg_free(cr);
	if (rc < 0) {
		free(v);
		return rc;
	}
	pleg_sort(v, n);
	int nev = pleg_diff(p->recs, p->nrecs, v, n, p->fn, p->arg);
	if (nev > 0)
		kc_log_v(4, "\"GenericPLEG: relist\" records=%zu events=%d", n, nev);
	free(p->recs);
	p->recs = v;
	p->nrecs = n;
	p->have = 1;
	pthread_mutex_lock(&p->mu);
	p->last_ns = now_mono();
	p->relists++;
	pthread_mutex_unlock(&p->mu);
	return 0;
}

static void *relist_main(void *arg)
{
	pleg *p = arg;
	pthread_mutex_lock(&p->mu);
	while (!p->stop) {
		pthread_mutex_unlock(&p->mu);
		int64_t t0 = now_mono();
		pleg_relist(p);
		/* wait.Until: the next relist a period after this one started */
		int64_t next = t0 + p->period_ns;
		struct timespec ts = { .tv_sec = next / 1000000000LL, .tv_nsec = next % 1000000000LL };
		pthread_mutex_lock(&p->mu);
		while (!p->stop && now_mono() < next)
			pthread_cond_timedwait(&p->cv, &p->mu, &ts);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int pleg_start(pleg *p)
{
	if (!p)
		return -EINVAL;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	int rc = pthread_create(&p->th, &attr, relist_main, p);
	pthread_attr_destroy(&attr);
	if (rc != 0)
		return -rc;
	p->running = 1;
	return 0;
}

void pleg_free(pleg *p)
{
	if (!p)
		return;
	if (p->running) {
		pthread_mutex_lock(&p->mu);
		p->stop = 1;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->th, NULL);
	}
	free(p->recs);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}

int64_t pleg_last_relist_ns(pleg *p)
{
	pthread_mutex_lock(&p->mu);
	int64_t v = p->last_ns;
	pthread_mutex_unlock(&p->mu);
	return v;
}

uint64_t pleg_relists(pleg *p)
{
	pthread_mutex_lock(&p->mu);
	uint64_t v = p->relists;
	pthread_mutex_unlock(&p->mu);
	return v;
}
