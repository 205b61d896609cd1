/* The PLEG (kubelet/pleg.c): which pods a relist reports as changed, from two relists
 * compared in memory and from the fake runtime through the ordinary CRI client. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../kubelet/cri_client.h"
#include "../../kubelet/pleg.h"
#include "kc_test.h"

#define RUNNING RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING
#define EXITED RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED
#define CREATED RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED
#define SB_READY RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY
#define SB_NOTREADY RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY

typedef struct seen {
	int n;
	char uid[16][64];
	char id[16][96];
	pleg_event_type type[16];
	pthread_mutex_t mu;
	pthread_cond_t cv;
} seen;

static void record(const pleg_event *ev, void *arg)
{
	seen *s = arg;
	pthread_mutex_lock(&s->mu);
	if (s->n < 16) {
		snprintf(s->uid[s->n], sizeof(s->uid[0]), "%s", ev->uid);
		snprintf(s->id[s->n], sizeof(s->id[0]), "%s", ev->id);
		s->type[s->n] = ev->type;
		s->n++;
	}
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static void seen_init(seen *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
}

/* index of the event about id, -1 when none */
static int find(const seen *s, const char *id)
{
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->id[i], id))
			return i;
	return -1;
}

static pleg_record rec(const char *id, const char *uid, int sandbox, int state)
{
	pleg_record r;
	memset(&r, 0, sizeof(r));
	snprintf(r.id, sizeof(r.id), "%s", id);
	snprintf(r.uid, sizeof(r.uid), "%s", uid);
	r.sandbox = sandbox;
	r.state = state;
	return r;
}

START_TEST(diff_reports_only_changed_pods)
{
	pleg_record old[] = { rec("s1", "pod-a", 1, SB_READY), rec("s2", "pod-b", 1, SB_READY),
			      rec("c1", "pod-a", 0, RUNNING), rec("c2", "pod-b", 0, RUNNING),
			      rec("c3", "pod-c", 0, EXITED) };
	/* c1 died, c3 removed, c4 appeared (created) for pod-d, s2 went not ready;
	 * c2 unchanged; given in another order (pleg_sort orders them) */
	pleg_record cur[] = { rec("c4", "pod-d", 0, CREATED), rec("c2", "pod-b", 0, RUNNING),
			      rec("c1", "pod-a", 0, EXITED), rec("s2", "pod-b", 1, SB_NOTREADY),
			      rec("s1", "pod-a", 1, SB_READY) };
	pleg_sort(old, 5);
	pleg_sort(cur, 5);
	seen s;
	seen_init(&s);
	ck_assert_int_eq(pleg_diff(old, 5, cur, 5, record, &s), 4);
	ck_assert_int_eq(s.n, 4);
	int i = find(&s, "c1");
	ck_assert_int_ge(i, 0);
	ck_assert_str_eq(s.uid[i], "pod-a");
	ck_assert_int_eq(s.type[i], PLEG_CONTAINER_DIED);
	i = find(&s, "c3");
	ck_assert_int_ge(i, 0);
	ck_assert_str_eq(s.uid[i], "pod-c");
	ck_assert_int_eq(s.type[i], PLEG_CONTAINER_REMOVED);
	i = find(&s, "c4");
	ck_assert_int_ge(i, 0);
	ck_assert_str_eq(s.uid[i], "pod-d");
	ck_assert_int_eq(s.type[i], PLEG_CONTAINER_CHANGED);
	i = find(&s, "s2");
	ck_assert_int_ge(i, 0);
	ck_assert_str_eq(s.uid[i], "pod-b");
	ck_assert_int_eq(s.type[i], PLEG_SANDBOX_CHANGED);
	ck_assert_int_lt(find(&s, "c2"), 0);
	ck_assert_int_lt(find(&s, "s1"), 0);
	/* the same relist twice: nothing */
	ck_assert_int_eq(pleg_diff(cur, 5, cur, 5, record, &s), 0);
	/* the first relist (nothing before): everything is new; a running container is
	 * ContainerStarted */
	seen f;
	seen_init(&f);
	ck_assert_int_eq(pleg_diff(NULL, 0, old, 5, record, &f), 5);
	i = find(&f, "c1");
	ck_assert_int_ge(i, 0);
	ck_assert_int_eq(f.type[i], PLEG_CONTAINER_STARTED);
}
END_TEST

/* ---- against the fake runtime ---- */

static cri_client cl;

static char *run_sandbox(const char *uid)
{
	Runtime__V1__PodSandboxConfig c = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
	Runtime__V1__PodSandboxMetadata md = RUNTIME__V1__POD_SANDBOX_METADATA__INIT;
	Runtime__V1__PodSandboxConfig__LabelsEntry e = RUNTIME__V1__POD_SANDBOX_CONFIG__LABELS_ENTRY__INIT;
	Runtime__V1__PodSandboxConfig__LabelsEntry *ep = &e;
	md.name = (char *)uid;
	md.namespace_ = "default";
	md.uid = (char *)uid;
	c.metadata = &md;
	e.key = "io.kubernetes.pod.uid";
	e.value = (char *)uid;
	c.labels = &ep;
	c.n_labels = 1;
	char *id = NULL;
	ck_assert_int_eq(cri_run_pod_sandbox(&cl, &c, NULL, &id, NULL), 0);
	return id;
}

/* uid NULL: a container without the pod label (not the kubelet's) */
static char *start_container(const char *sid, const char *name, const char *uid)
{
	Runtime__V1__ContainerConfig cc = RUNTIME__V1__CONTAINER_CONFIG__INIT;
	Runtime__V1__ContainerMetadata md = RUNTIME__V1__CONTAINER_METADATA__INIT;
	Runtime__V1__ImageSpec is = RUNTIME__V1__IMAGE_SPEC__INIT;
	Runtime__V1__ContainerConfig__LabelsEntry e = RUNTIME__V1__CONTAINER_CONFIG__LABELS_ENTRY__INIT;
	Runtime__V1__ContainerConfig__LabelsEntry *ep = &e;
	md.name = (char *)name;
	is.image = "busybox:1.35";
	cc.metadata = &md;
	cc.image = &is;
	e.key = "io.kubernetes.pod.uid";
	e.value = (char *)uid;
	if (uid) {
		cc.labels = &ep;
		cc.n_labels = 1;
	}
	char *id = NULL;
	ck_assert_int_eq(cri_create_container(&cl, sid, &cc, NULL, &id, NULL), 0);
	ck_assert_int_eq(cri_start_container(&cl, id, NULL), 0);
	return id;
}

START_TEST(relist_against_the_fake_runtime)
{
	ck_assert_int_eq(cri_client_init(&cl, "fake://", 0), 0);
	seen s;
	seen_init(&s);
	pleg *p = NULL;
	ck_assert_int_eq(pleg_new(&cl, 0, record, &s, &p), 0);
	char *sa = run_sandbox("uid-a"), *sb = run_sandbox("uid-b");
	char *ca = start_container(sa, "app", "uid-a");
	char *cb = start_container(sb, "app", "uid-b");
	char *stray = start_container(sb, "stray", NULL);
	ck_assert_int_eq(pleg_relist(p), 0);
	ck_assert_uint_eq(pleg_relists(p), 1);
	ck_assert_int_gt(pleg_last_relist_ns(p), 0);
	/* the first relist: both sandboxes and both labelled containers; the unlabelled one
	 * belongs to no pod */
	ck_assert_int_eq(s.n, 4);
	ck_assert_int_eq(s.type[find(&s, ca)], PLEG_CONTAINER_STARTED);
	ck_assert_str_eq(s.uid[find(&s, cb)], "uid-b");
	ck_assert_int_lt(find(&s, stray), 0);
	/* nothing changed: nothing reported */
	s.n = 0;
	ck_assert_int_eq(pleg_relist(p), 0);
	ck_assert_int_eq(s.n, 0);
	/* pod a's container stops: only pod a is woken, with ContainerDied */
	ck_assert_int_eq(cri_stop_container(&cl, ca, 0, NULL), 0);
	ck_assert_int_eq(pleg_relist(p), 0);
	ck_assert_int_eq(s.n, 1);
	ck_assert_str_eq(s.uid[0], "uid-a");
	ck_assert_int_eq(s.type[0], PLEG_CONTAINER_DIED);
	/* removed, then pod b's sandbox stopped */
	s.n = 0;
	ck_assert_int_eq(cri_remove_container(&cl, ca, NULL), 0);
	ck_assert_int_eq(pleg_relist(p), 0);
	ck_assert_int_eq(s.n, 1);
	ck_assert_int_eq(s.type[0], PLEG_CONTAINER_REMOVED);
	s.n = 0;
	ck_assert_int_eq(cri_stop_pod_sandbox(&cl, sb, NULL), 0);
	ck_assert_int_eq(pleg_relist(p), 0);
	ck_assert_int_ge(find(&s, sb), 0);
	ck_assert_str_eq(s.uid[find(&s, sb)], "uid-b");
	for (int i = 0; i < s.n; i++)
		ck_assert_str_eq(s.uid[i], "uid-b");
	pleg_free(p);
	free(sa);
	free(sb);
	free(ca);
	free(cb);
	free(stray);
	cri_client_close(&cl);
}
END_TEST

/* The relist thread wakes the callback on its own for a change made after it started. */
START_TEST(thread_reports_a_change)
{
	ck_assert_int_eq(cri_client_init(&cl, "fake://", 0), 0);
	seen s;
	seen_init(&s);
	pleg *p = NULL;
	ck_assert_int_eq(pleg_new(&cl, 20 * 1000000LL, record, &s, &p), 0);
	ck_assert_int_eq(pleg_start(p), 0);
	char *sa = run_sandbox("uid-t");
	char *ca = start_container(sa, "app", "uid-t");
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 10;
	pthread_mutex_lock(&s.mu);
	while (find(&s, ca) < 0 && pthread_cond_timedwait(&s.cv, &s.mu, &dl) == 0)
		;
	int i = find(&s, ca);
	pthread_mutex_unlock(&s.mu);
	ck_assert_int_ge(i, 0);
	ck_assert_str_eq(s.uid[i], "uid-t");
	pleg_free(p);
	free(sa);
	free(ca);
	cri_client_close(&cl);
}
END_TEST

static Suite *kubelet_pleg_suite(void)
{
	Suite *s = suite_create("kubelet_pleg");
	TCase *t = tcase_create("pleg");
	tcase_set_timeout(t, 30);
	tcase_add_test(t, diff_reports_only_changed_pods);
	tcase_add_test(t, relist_against_the_fake_runtime);
	tcase_add_test(t, thread_reports_a_change);
	suite_add_tcase(s, t);
	return s;
}

KC_TEST_MAIN(kubelet_pleg_suite)
