#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "errors.h"
#include "client.h"
#include "events.h"
#include "kc_test.h"
#include "testsrv.h"

#define SEC KC_NSEC_PER_SEC
#define T0 (INT64_C(1700000000) * SEC)

static kc_fake_clock fc;

static void setup(void) { kc_fake_clock_init(&fc, T0, 5); }
static void teardown(void) { kc_fake_clock_close(&fc); }

static const char *js(const cJSON *o, const char *path)
{
	/* "a.b" lookups for assertions */
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", path);
	const cJSON *cur = o;
	for (char *save, *t = strtok_r(buf, ".", &save); t; t = strtok_r(NULL, ".", &save))
		cur = cJSON_GetObjectItemCaseSensitive(cur, t);
	return cJSON_IsString(cur) ? cur->valuestring : NULL;
}

static int jnum(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	ck_assert_msg(cJSON_IsNumber(v), "%s is not a number", name);
	return (int)v->valuedouble;
}

static cJSON *pod(const char *name)
{
	char buf[256];
	snprintf(buf, sizeof(buf),
		 "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
		 "\"namespace\":\"prod\",\"uid\":\"uid-%s\",\"resourceVersion\":\"42\"}}",
		 name, name);
	cJSON *p = cJSON_Parse(buf);
	ck_assert_ptr_nonnull(p);
	return p;
}

static cJSON *mk(const cJSON *obj, const char *type, const char *reason, const char *msg)
{
	int err = 1;
	cJSON *e = kc_event_new("kube-scheduler", "node1", obj, type, reason, msg,
				kc_now_wall(&fc.base), &err);
	ck_assert_int_eq(err, 0);
	ck_assert_ptr_nonnull(e);
	return e;
}

START_TEST(event_fields_as_make_event)
{
	cJSON *p = pod("web-1");
	int64_t now = T0 + 123456789;
	int err;
	cJSON *e = kc_event_new("kube-scheduler", "node1", p, "Warning", "FailedScheduling",
				"0/3 nodes are available", now, &err);
	ck_assert_ptr_nonnull(e);
	char want[64];
	snprintf(want, sizeof(want), "web-1.%llx", (unsigned long long)now);
	ck_assert_str_eq(js(e, "metadata.name"), want);
	ck_assert_str_eq(js(e, "metadata.namespace"), "prod");
	ck_assert_str_eq(js(e, "apiVersion"), "v1");
	ck_assert_str_eq(js(e, "kind"), "Event");
	ck_assert_str_eq(js(e, "involvedObject.kind"), "Pod");
	ck_assert_str_eq(js(e, "involvedObject.name"), "web-1");
	ck_assert_str_eq(js(e, "involvedObject.namespace"), "prod");
	ck_assert_str_eq(js(e, "involvedObject.uid"), "uid-web-1");
	ck_assert_str_eq(js(e, "involvedObject.apiVersion"), "v1");
	ck_assert_str_eq(js(e, "involvedObject.resourceVersion"), "42");
	ck_assert_str_eq(js(e, "source.component"), "kube-scheduler");
	ck_assert_str_eq(js(e, "source.host"), "node1");
	ck_assert_str_eq(js(e, "reportingComponent"), "kube-scheduler");
	ck_assert_str_eq(js(e, "reportingInstance"), "node1");
	ck_assert_str_eq(js(e, "firstTimestamp"), "2023-11-14T22:13:20Z");
	ck_assert_str_eq(js(e, "lastTimestamp"), "2023-11-14T22:13:20Z");
	ck_assert_str_eq(js(e, "type"), "Warning");
	ck_assert_str_eq(js(e, "reason"), "FailedScheduling");
	ck_assert_str_eq(js(e, "message"), "0/3 nodes are available");
	ck_assert_int_eq(jnum(e, "count"), 1);
	cJSON_Delete(e);
	cJSON_Delete(p);

	/* cluster-scoped objects: events go to "default" */
	cJSON *node = cJSON_Parse("{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"n1\"}}");
	e = kc_event_new("kubelet", NULL, node, "Normal", "Starting", "Starting kubelet.", now, &err);
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(js(e, "metadata.namespace"), "default");
	ck_assert_ptr_null(js(e, "involvedObject.namespace"));
	ck_assert_ptr_null(js(e, "source.host"));
	cJSON_Delete(e);
	cJSON_Delete(node);

	/* an ObjectReference with a fieldPath */
	cJSON *ref = cJSON_Parse("{\"kind\":\"Pod\",\"namespace\":\"a\",\"name\":\"b\","
				 "\"fieldPath\":\"spec.containers{web}\"}");
	e = kc_event_new("kubelet", "n1", ref, "Normal", "Pulled", "ok", now, &err);
	ck_assert_str_eq(js(e, "involvedObject.fieldPath"), "spec.containers{web}");
	ck_assert_str_eq(js(e, "metadata.namespace"), "a");
	cJSON_Delete(e);
	cJSON_Delete(ref);
}
END_TEST

START_TEST(bad_input_is_rejected)
{
	cJSON *p = pod("x");
	int err = 0;
	ck_assert_ptr_null(kc_event_new("c", NULL, p, "Info", "R", "m", T0, &err));
	ck_assert_int_eq(err, -EINVAL);
	cJSON *noname = cJSON_Parse("{\"kind\":\"Pod\",\"metadata\":{}}");
	ck_assert_ptr_null(kc_event_new("c", NULL, noname, "Normal", "R", "m", T0, &err));
	ck_assert_int_eq(err, -EINVAL);
	cJSON *arr = cJSON_Parse("[1,2]");
	ck_assert_ptr_null(kc_event_new("c", NULL, arr, "Normal", "R", "m", T0, &err));
	ck_assert_int_eq(err, -EINVAL);
	cJSON_Delete(arr);
	cJSON_Delete(noname);
	cJSON_Delete(p);
}
END_TEST


START_TEST(object_ref_fills_missing_kind)
{
	/* as an informer hands it out: no kind/apiVersion */
	cJSON *o = cJSON_Parse("{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"prod\",\"uid\":\"u\"}}");
	int err;
	ck_assert_ptr_null(kc_event_new("c", NULL, o, "Normal", "R", "m", T0, &err));
	cJSON *ref = kc_event_object_ref(o, "v1", "Pod", "spec.containers{app}");
	ck_assert_ptr_nonnull(ref);
	ck_assert_str_eq(js(ref, "kind"), "Pod");
	ck_assert_str_eq(js(ref, "apiVersion"), "v1");
	ck_assert_str_eq(js(ref, "name"), "web-1");
	ck_assert_str_eq(js(ref, "namespace"), "prod");
	ck_assert_str_eq(js(ref, "uid"), "u");
	ck_assert_str_eq(js(ref, "fieldPath"), "spec.containers{app}");
	cJSON *e = kc_event_new("c", NULL, ref, "Normal", "R", "m", T0, &err);
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(js(e, "involvedObject.kind"), "Pod");
	ck_assert_str_eq(js(e, "metadata.namespace"), "prod");
	cJSON_Delete(e);
	cJSON_Delete(ref);
	/* a kind already present wins */
	cJSON *p = pod("x");
	ref = kc_event_object_ref(p, "apps/v1", "Deployment", NULL);
	ck_assert_str_eq(js(ref, "kind"), "Pod");
	ck_assert_ptr_null(js(ref, "fieldPath"));
	cJSON_Delete(ref);
	cJSON_Delete(p);
	cJSON_Delete(o);
}
END_TEST

START_TEST(identical_events_become_count_patches)
{
	kc_event_correlator *c;
	ck_assert_int_eq(kc_event_correlator_new(&fc.base, &c), 0);
	cJSON *p = pod("web");
	kc_event_correlation r1, r2, r3;
	ck_assert_int_eq(kc_event_correlate(c, mk(p, "Normal", "Pulled", "pulled img"), &r1), 0);
	ck_assert(!r1.skip);
	ck_assert_ptr_null(r1.patch);
	const char *name1 = js(r1.event, "metadata.name");
	/* the server answers with a resourceVersion */
	cJSON *srv = cJSON_Duplicate(r1.event, 1);
	cJSON_AddStringToObject(cJSON_GetObjectItem(srv, "metadata"), "resourceVersion", "77");
	kc_event_correlator_update_state(c, r1.key, srv);
	cJSON_Delete(srv);

	kc_fake_clock_advance(&fc, 30 * SEC);
	ck_assert_int_eq(kc_event_correlate(c, mk(p, "Normal", "Pulled", "pulled img"), &r2), 0);
	ck_assert_ptr_nonnull(r2.patch);
	ck_assert_str_eq(js(r2.event, "metadata.name"), name1);
	ck_assert_str_eq(js(r2.event, "metadata.resourceVersion"), "77");
	ck_assert_str_eq(js(r2.event, "firstTimestamp"), "2023-11-14T22:13:20Z");
	ck_assert_str_eq(js(r2.event, "lastTimestamp"), "2023-11-14T22:13:50Z");
	ck_assert_int_eq(jnum(r2.event, "count"), 2);
	ck_assert_int_eq(jnum(r2.patch, "count"), 2);
	ck_assert_str_eq(js(r2.patch, "lastTimestamp"), "2023-11-14T22:13:50Z");
	ck_assert_str_eq(js(r2.patch, "message"), "pulled img");
	ck_assert_int_eq(cJSON_GetArraySize(r2.patch), 3);

	ck_assert_int_eq(kc_event_correlate(c, mk(p, "Normal", "Pulled", "pulled img"), &r3), 0);
	ck_assert_int_eq(jnum(r3.patch, "count"), 3);
	ck_assert_str_eq(js(r3.event, "metadata.name"), name1);

	/* a different reason is a different event */
	kc_event_correlation r4;
	ck_assert_int_eq(kc_event_correlate(c, mk(p, "Normal", "Created", "pulled img"), &r4), 0);
	ck_assert_ptr_null(r4.patch);
	kc_event_correlation_close(&r1);
	kc_event_correlation_close(&r2);
	kc_event_correlation_close(&r3);
	kc_event_correlation_close(&r4);
	cJSON_Delete(p);
	kc_event_correlator_free(c);
}
END_TEST

START_TEST(similar_events_aggregate_after_ten)
{
	kc_event_correlator *c;
	ck_assert_int_eq(kc_event_correlator_new(&fc.base, &c), 0);
	cJSON *p = pod("web");
	char msg[64];
	for (int i = 0; i < 9; i++) {
		kc_event_correlation r;
		snprintf(msg, sizeof(msg), "failed on node %d", i);
		ck_assert_int_eq(kc_event_correlate(c, mk(p, "Warning", "Failed", msg), &r), 0);
		ck_assert_ptr_null(r.patch);
		ck_assert_str_eq(js(r.event, "message"), msg);
		kc_event_correlation_close(&r);
		kc_fake_clock_advance(&fc, SEC);
	}
	kc_event_correlation r10, r11;
	ck_assert_int_eq(kc_event_correlate(c, mk(p, "Warning", "Failed", "failed on node 9"), &r10), 0);
	ck_assert_ptr_null(r10.patch);
	ck_assert_str_eq(js(r10.event, "message"),
			 "(combined from similar events): failed on node 9");
	ck_assert_int_eq(jnum(r10.event, "count"), 1);
	ck_assert_str_eq(js(r10.event, "involvedObject.name"), "web");
	const char *aname = js(r10.event, "metadata.name");
	ck_assert_int_eq(strncmp(aname, "web.", 4), 0);

	kc_fake_clock_advance(&fc, SEC);
	ck_assert_int_eq(kc_event_correlate(c, mk(p, "Warning", "Failed", "failed on node 10"), &r11), 0);
	ck_assert_ptr_nonnull(r11.patch);
	ck_assert_str_eq(js(r11.event, "metadata.name"), aname);
	ck_assert_int_eq(jnum(r11.patch, "count"), 2);
	ck_assert_str_eq(js(r11.patch, "message"),
			 "(combined from similar events): failed on node 10");
	kc_event_correlation_close(&r10);
	kc_event_correlation_close(&r11);
	cJSON_Delete(p);
	kc_event_correlator_free(c);
}
END_TEST

START_TEST(aggregation_window_is_ten_minutes)
{
	kc_event_correlator *c;
	ck_assert_int_eq(kc_event_correlator_new(&fc.base, &c), 0);
	cJSON *p = pod("web");
	char msg[64];
	for (int i = 0; i < 9; i++) {
		kc_event_correlation r;
		snprintf(msg, sizeof(msg), "m%d", i);
		kc_event_correlate(c, mk(p, "Warning", "Failed", msg), &r);
		kc_event_correlation_close(&r);
	}
	kc_fake_clock_advance(&fc, 601 * SEC); /* quiet for longer than 10 minutes */
	kc_event_correlation r;
	ck_assert_int_eq(kc_event_correlate(c, mk(p, "Warning", "Failed", "m9"), &r), 0);
	ck_assert_str_eq(js(r.event, "message"), "m9");
	kc_event_correlation_close(&r);
	cJSON_Delete(p);
	kc_event_correlator_free(c);
}
END_TEST

START_TEST(spam_filter_allows_burst_then_one_per_five_minutes)
{
	kc_event_correlator *c;
	ck_assert_int_eq(kc_event_correlator_new(&fc.base, &c), 0);
	cJSON *p = pod("web"), *other = pod("db");
	int passed = 0;
	for (int i = 0; i < 30; i++) {
		kc_event_correlation r;
		ck_assert_int_eq(kc_event_correlate(c, mk(p, "Normal", "Tick", "t"), &r), 0);
		if (!r.skip)
			passed++;
		else
			ck_assert_ptr_null(r.event);
		kc_event_correlation_close(&r);
	}
	ck_assert_int_eq(passed, 25);
	/* another object has its own bucket */
	kc_event_correlation r;
	kc_event_correlate(c, mk(other, "Normal", "Tick", "t"), &r);
	ck_assert(!r.skip);
	kc_event_correlation_close(&r);

	kc_fake_clock_advance(&fc, 299 * SEC);
	kc_event_correlate(c, mk(p, "Normal", "Tick", "t"), &r);
	ck_assert(r.skip);
	kc_event_correlation_close(&r);
	kc_fake_clock_advance(&fc, 2 * SEC);
	kc_event_correlate(c, mk(p, "Normal", "Tick", "t"), &r);
	ck_assert(!r.skip);
	kc_event_correlation_close(&r);
	kc_event_correlate(c, mk(p, "Normal", "Tick", "t"), &r);
	ck_assert(r.skip);
	kc_event_correlation_close(&r);
	cJSON_Delete(p);
	cJSON_Delete(other);
	kc_event_correlator_free(c);
}
END_TEST


START_TEST(caches_are_bounded_lru)
{
	kc_event_correlator *c;
	ck_assert_int_eq(kc_event_correlator_new(&fc.base, &c), 0);
	char name[32];
	cJSON *first = pod("o0"), *o;
	kc_event_correlation r;
	kc_event_correlate(c, mk(first, "Normal", "R", "m"), &r);
	kc_event_correlation_close(&r);
	/* touching o0 again keeps it recent: still counted */
	for (int i = 1; i < KC_EVENTS_LRU_SIZE; i++) {
		snprintf(name, sizeof(name), "o%d", i);
		o = pod(name);
		kc_event_correlate(c, mk(o, "Normal", "R", "m"), &r);
		kc_event_correlation_close(&r);
		cJSON_Delete(o);
	}
	kc_event_correlate(c, mk(first, "Normal", "R", "m"), &r);
	ck_assert_ptr_nonnull(r.patch);
	kc_event_correlation_close(&r);
	/* 4096 newer objects push o0 out: its next event is created afresh */
	for (int i = 0; i < KC_EVENTS_LRU_SIZE; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		o = pod(name);
		kc_event_correlate(c, mk(o, "Normal", "R", "m"), &r);
		kc_event_correlation_close(&r);
		cJSON_Delete(o);
	}
	kc_event_correlate(c, mk(first, "Normal", "R", "m"), &r);
	ck_assert(!r.skip);
	ck_assert_ptr_null(r.patch);
	kc_event_correlation_close(&r);
	cJSON_Delete(first);
	kc_event_correlator_free(c);
}
END_TEST

/* ---- the recorder through a fake sink ---- */

struct call {
	bool patch;
	char ns[64], name[128];
	cJSON *body;
};

struct fake_sink {
	kc_event_sink base;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct call calls[64];
	int ncalls;
	int create_rc[16], ncreate_rc; /* scripted results, then 0 */
	int patch_rc[16], npatch_rc;
	int always_create_rc;
	bool gate_closed;
	int waiting; /* calls held at the closed gate */
	int rv;
};

static int next_rc(int *rcs, int *n)
{
	if (*n == 0)
		return 0;
	int rc = rcs[0];
	memmove(rcs, rcs + 1, (size_t)(--*n) * sizeof(int));
	return rc;
}

static int fs_record(struct fake_sink *s, bool patch, const char *ns, const char *name,
		     const cJSON *body, cJSON **out)
{
	pthread_mutex_lock(&s->mu);
	s->waiting++;
	pthread_cond_broadcast(&s->cv);
	while (s->gate_closed)
		pthread_cond_wait(&s->cv, &s->mu);
	s->waiting--;
	ck_assert_int_lt(s->ncalls, 64);
	struct call *c = &s->calls[s->ncalls++];
	c->patch = patch;
	snprintf(c->ns, sizeof(c->ns), "%s", ns);
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->body = cJSON_Duplicate(body, 1);
	int rc = patch ? next_rc(s->patch_rc, &s->npatch_rc) : next_rc(s->create_rc, &s->ncreate_rc);
	if (!patch && s->always_create_rc)
		rc = s->always_create_rc;
	if (rc == 0 && out && !patch) {
		*out = cJSON_Duplicate(body, 1);
		char rv[16];
		snprintf(rv, sizeof(rv), "%d", ++s->rv);
		cJSON_AddStringToObject(cJSON_GetObjectItem(*out, "metadata"), "resourceVersion", rv);
	}
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static int fs_create(kc_event_sink *b, const cJSON *event, cJSON **out)
{
	const cJSON *m = cJSON_GetObjectItem(event, "metadata");
	return fs_record((struct fake_sink *)b, false, js(m, "namespace"), js(m, "name"), event, out);
}

static int fs_patch(kc_event_sink *b, const char *ns, const char *name, const cJSON *patch,
		    cJSON **out)
{
	return fs_record((struct fake_sink *)b, true, ns, name, patch, out);
}

static struct fake_sink sink;

static void sink_init(void)
{
	memset(&sink, 0, sizeof(sink));
	sink.base = (kc_event_sink){ fs_create, fs_patch };
	pthread_mutex_init(&sink.mu, NULL);
	pthread_cond_init(&sink.cv, NULL);
}

static void sink_close(void)
{
	for (int i = 0; i < sink.ncalls; i++)
		cJSON_Delete(sink.calls[i].body);
	pthread_cond_destroy(&sink.cv);
	pthread_mutex_destroy(&sink.mu);
}

static kc_recorder *new_recorder(int qlen, int max_tries)
{
	kc_recorder *r = NULL;
	kc_recorder_options o = { .component = "kube-controller-manager", .host = "cp1",
				  .sink = &sink.base, .clock = &fc.base, .queue_len = qlen,
				  .max_tries = max_tries };
	ck_assert_int_eq(kc_recorder_new(&o, &r), 0);
	return r;
}

/* Wait for the sink to have seen n calls, advancing the fake clock so retry sleeps
 * end; bounded by a real deadline. */
static void wait_calls(int n)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 3;
	pthread_mutex_lock(&sink.mu);
	while (sink.ncalls < n) {
		pthread_mutex_unlock(&sink.mu);
		kc_fake_clock_advance(&fc, SEC);
		pthread_mutex_lock(&sink.mu);
		struct timespec step;
		clock_gettime(CLOCK_REALTIME, &step);
		ck_assert_msg(step.tv_sec < dl.tv_sec || (step.tv_sec == dl.tv_sec && step.tv_nsec < dl.tv_nsec),
			      "sink saw %d calls, want %d", sink.ncalls, n);
		step.tv_nsec += 1000000;
		if (step.tv_nsec >= 1000000000) {
			step.tv_sec++;
			step.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&sink.cv, &sink.mu, &step);
	}
	pthread_mutex_unlock(&sink.mu);
}

START_TEST(recorder_creates_then_patches_repeats)
{
	sink_init();
	kc_recorder *r = new_recorder(0, 0);
	cJSON *p = pod("web");
	ck_assert_int_eq(kc_event_record(r, p, "Normal", "Scheduled",
					 "Successfully assigned %s/%s to %s", "prod", "web", "n1"), 0);
	ck_assert_int_eq(kc_recorder_flush(r, 3 * SEC), 0);
	ck_assert_int_eq(kc_event_record(r, p, "Normal", "Scheduled",
					 "Successfully assigned %s/%s to %s", "prod", "web", "n1"), 0);
	ck_assert_int_eq(kc_recorder_flush(r, 3 * SEC), 0);
	ck_assert_int_eq(sink.ncalls, 2);
	ck_assert(!sink.calls[0].patch);
	ck_assert_str_eq(js(sink.calls[0].body, "message"), "Successfully assigned prod/web to n1");
	ck_assert_str_eq(js(sink.calls[0].body, "source.component"), "kube-controller-manager");
	ck_assert(sink.calls[1].patch);
	ck_assert_str_eq(sink.calls[1].name, sink.calls[0].name);
	ck_assert_str_eq(sink.calls[1].ns, "prod");
	ck_assert_int_eq(jnum(sink.calls[1].body, "count"), 2);
	kc_recorder_stats st;
	kc_recorder_get_stats(r, &st);
	ck_assert_uint_eq(st.recorded, 2);
	ck_assert_uint_eq(st.created, 1);
	ck_assert_uint_eq(st.patched, 1);
	kc_recorder_free(r);
	cJSON_Delete(p);
	sink_close();
}
END_TEST

START_TEST(recorder_recreates_when_patched_event_is_gone)
{
	sink_init();
	sink.patch_rc[sink.npatch_rc++] = KC_ENOTFOUND;
	kc_recorder *r = new_recorder(0, 0);
	cJSON *p = pod("web");
	kc_event_record(r, p, "Warning", "BackOff", "Back-off restarting failed container");
	kc_recorder_flush(r, 3 * SEC);
	kc_event_record(r, p, "Warning", "BackOff", "Back-off restarting failed container");
	ck_assert_int_eq(kc_recorder_flush(r, 3 * SEC), 0);
	ck_assert_int_eq(sink.ncalls, 3);
	ck_assert(sink.calls[1].patch);
	ck_assert(!sink.calls[2].patch);
	ck_assert_int_eq(jnum(sink.calls[2].body, "count"), 2);
	ck_assert_ptr_null(js(sink.calls[2].body, "metadata.resourceVersion"));
	kc_recorder_free(r);
	cJSON_Delete(p);
	sink_close();
}
END_TEST

START_TEST(recorder_retries_transport_errors_only)
{
	sink_init();
	sink.create_rc[sink.ncreate_rc++] = -ECONNREFUSED;
	kc_recorder *r = new_recorder(0, 0);
	cJSON *p = pod("web");
	kc_event_record(r, p, "Normal", "A", "first");
	wait_calls(2); /* retried after a (fake-clock) sleep */
	ck_assert_int_eq(kc_recorder_flush(r, 3 * SEC), 0);
	kc_recorder_stats st;
	kc_recorder_get_stats(r, &st);
	ck_assert_uint_eq(st.created, 1);
	ck_assert_uint_eq(st.failed, 0);

	/* a rejection by the server is final */
	sink.create_rc[sink.ncreate_rc++] = KC_EINVALID;
	kc_event_record(r, p, "Normal", "B", "second");
	ck_assert_int_eq(kc_recorder_flush(r, 3 * SEC), 0);
	ck_assert_int_eq(sink.ncalls, 3);
	kc_recorder_get_stats(r, &st);
	ck_assert_uint_eq(st.failed, 1);
	kc_recorder_free(r);
	cJSON_Delete(p);
	sink_close();
}
END_TEST

START_TEST(recorder_gives_up_after_max_tries)
{
	sink_init();
	sink.always_create_rc = -ECONNREFUSED;
	kc_recorder *r = new_recorder(0, 3);
	cJSON *p = pod("web");
	kc_event_record(r, p, "Normal", "A", "x");
	wait_calls(3);
	ck_assert_int_eq(kc_recorder_flush(r, 3 * SEC), 0);
	ck_assert_int_eq(sink.ncalls, 3);
	kc_recorder_stats st;
	kc_recorder_get_stats(r, &st);
	ck_assert_uint_eq(st.failed, 1);
	ck_assert_uint_eq(st.created, 0);
	kc_recorder_free(r);
	cJSON_Delete(p);
	sink_close();
}
END_TEST

START_TEST(recorder_never_blocks_and_drops_when_full)
{
	sink_init();
	sink.gate_closed = true; /* the sink hangs, as a dead apiserver would */
	kc_recorder *r = new_recorder(5, 0);
	cJSON *p = pod("web");
	int ok = 0, full = 0;
	for (int i = 0; i < 20; i++) {
		int rc = kc_event_record(r, p, "Normal", "R", "event %d", i);
		if (rc == 0)
			ok++;
		else if (rc == -ENOSPC)
			full++;
	}
	ck_assert_int_eq(ok + full, 20);
	ck_assert_int_ge(ok, 5);
	ck_assert_int_le(ok, 6); /* 5 queued, plus possibly one taken by the thread */
	kc_recorder_stats st;
	kc_recorder_get_stats(r, &st);
	ck_assert_uint_eq(st.queue_full, (uint64_t)full);
	/* with the queue full, a malformed event is still refused as malformed */
	ck_assert_int_eq(kc_event_record(r, p, "Bogus", "R", "x"), -EINVAL);
	cJSON *noname = cJSON_Parse("{\"kind\":\"Pod\",\"metadata\":{\"namespace\":\"d\"}}");
	ck_assert_int_eq(kc_event_record(r, noname, "Normal", "R", "x"), -EINVAL);
	cJSON_Delete(noname);
	kc_recorder_get_stats(r, &st);
	ck_assert_uint_eq(st.queue_full, (uint64_t)full);
	pthread_mutex_lock(&sink.mu);
	sink.gate_closed = false;
	pthread_cond_broadcast(&sink.cv);
	pthread_mutex_unlock(&sink.mu);
	ck_assert_int_eq(kc_recorder_flush(r, 3 * SEC), 0);
	ck_assert_int_eq(sink.ncalls, ok);
	kc_recorder_free(r);
	cJSON_Delete(p);
	sink_close();
}
END_TEST

static kc_recorder *new_recorder_workers(int workers)
{
	kc_recorder *r = NULL;
	kc_recorder_options o = { .component = "default-scheduler", .sink = &sink.base,
				  .clock = &fc.base, .workers = workers };
	ck_assert_int_eq(kc_recorder_new(&o, &r), 0);
	return r;
}

/* Wait (real deadline, fake clock untouched) until pred holds under sink.mu. */
static bool sink_wait(bool (*pred)(void *), void *arg)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 3;
	pthread_mutex_lock(&sink.mu);
	bool ok;
	while (!(ok = pred(arg)))
		if (pthread_cond_timedwait(&sink.cv, &sink.mu, &dl) == ETIMEDOUT) {
			ok = pred(arg);
			break;
		}
	pthread_mutex_unlock(&sink.mu);
	return ok;
}

static bool waiting_at_least(void *arg)
{
	return sink.waiting >= *(int *)arg;
}

static bool calls_at_least(void *arg)
{
	return sink.ncalls >= *(int *)arg;
}

START_TEST(recorder_workers_deliver_concurrently)
{
	/* upstream's events/v1 broadcaster (the scheduler's) writes each event in its own
	 * goroutine: with 4 workers, 4 writes are in flight at once */
	sink_init();
	sink.gate_closed = true;
	kc_recorder *r = new_recorder_workers(4);
	const char *names[] = { "a", "b", "c", "d", "e" };
	for (int i = 0; i < 5; i++) {
		cJSON *p = pod(names[i]);
		ck_assert_int_eq(kc_event_record(r, p, "Normal", "Scheduled", "to n%d", i), 0);
		cJSON_Delete(p);
	}
	int four = 4;
	ck_assert_msg(sink_wait(waiting_at_least, &four), "only %d writes in flight",
		      sink.waiting);
	pthread_mutex_lock(&sink.mu);
	ck_assert_int_eq(sink.waiting, 4); /* no more than the workers */
	sink.gate_closed = false;
	pthread_cond_broadcast(&sink.cv);
	pthread_mutex_unlock(&sink.mu);
	ck_assert_int_eq(kc_recorder_flush(r, 3 * SEC), 0);
	ck_assert_int_eq(sink.ncalls, 5);
	kc_recorder_stats st;
	kc_recorder_get_stats(r, &st);
	ck_assert_uint_eq(st.created, 5);
	kc_recorder_free(r);
	sink_close();
}
END_TEST

START_TEST(recorder_retry_sleep_does_not_hold_up_other_events)
{
	sink_init();
	sink.create_rc[sink.ncreate_rc++] = -ECONNREFUSED; /* the first write fails */
	kc_recorder *r = new_recorder_workers(2);
	cJSON *a = pod("a"), *b = pod("b");
	ck_assert_int_eq(kc_event_record(r, a, "Normal", "Scheduled", "to n1"), 0);
	int one = 1, two = 2;
	ck_assert(sink_wait(calls_at_least, &one));
	/* the first worker now sleeps before its retry (fake clock: until we advance it);
	 * the second delivers b at once */
	ck_assert_int_eq(kc_event_record(r, b, "Normal", "Scheduled", "to n2"), 0);
	ck_assert_msg(sink_wait(calls_at_least, &two), "b waited for a's retry");
	wait_calls(3); /* advancing the clock ends a's sleep: its retry succeeds */
	ck_assert_int_eq(kc_recorder_flush(r, 3 * SEC), 0);
	kc_recorder_stats st;
	kc_recorder_get_stats(r, &st);
	ck_assert_uint_eq(st.created, 2);
	kc_recorder_free(r);
	cJSON_Delete(a);
	cJSON_Delete(b);
	sink_close();
}
END_TEST

START_TEST(recorder_rejects_bad_events_synchronously)
{
	sink_init();
	kc_recorder *r = new_recorder(0, 0);
	cJSON *p = pod("web");
	ck_assert_int_eq(kc_event_record(r, p, "Bogus", "R", "m"), -EINVAL);
	kc_recorder_options bad = { .component = "", .sink = &sink.base };
	kc_recorder *r2 = NULL;
	ck_assert_int_eq(kc_recorder_new(&bad, &r2), -EINVAL);
	ck_assert_int_eq(kc_recorder_flush(r, 3 * SEC), 0);
	ck_assert_int_eq(sink.ncalls, 0);
	kc_recorder_free(r);
	cJSON_Delete(p);
	sink_close();
}
END_TEST


/* ---- the real sink against a tiny in-memory events endpoint ---- */

struct ev_srv {
	pthread_mutex_t mu;
	int posts, patches;
	char patch_ct[128], patch_path[256], post_path[256];
	cJSON *last_patch, *created;
};

static void ev_handler(const testsrv_req *req, testsrv_resp *resp, void *arg)
{
	struct ev_srv *s = arg;
	pthread_mutex_lock(&s->mu);
	cJSON *body = cJSON_Parse(req->body);
	if (!strcmp(req->method, "POST")) {
		s->posts++;
		snprintf(s->post_path, sizeof(s->post_path), "%s", req->path);
		cJSON_AddStringToObject(cJSON_GetObjectItem(body, "metadata"), "resourceVersion", "5");
		cJSON_Delete(s->created);
		s->created = cJSON_Duplicate(body, 1);
		resp->status = 201;
		resp->body = cJSON_PrintUnformatted(body);
	} else if (!strcmp(req->method, "PATCH")) {
		s->patches++;
		const char *ct = testsrv_header(req, "Content-Type");
		snprintf(s->patch_ct, sizeof(s->patch_ct), "%s", ct ? ct : "");
		snprintf(s->patch_path, sizeof(s->patch_path), "%s", req->path);
		cJSON_Delete(s->last_patch);
		s->last_patch = cJSON_Duplicate(body, 1);
		resp->body = cJSON_PrintUnformatted(s->created);
	} else {
		resp->status = 405;
	}
	cJSON_Delete(body);
	pthread_mutex_unlock(&s->mu);
}

START_TEST(client_sink_posts_and_patches)
{
	struct ev_srv es = { .mu = PTHREAD_MUTEX_INITIALIZER };
	testsrv *srv;
	ck_assert_int_eq(testsrv_start(&srv, ev_handler, &es), 0);
	kc_kubeconfig kc;
	ck_assert_int_eq(kc_kubeconfig_from_parts(&kc, testsrv_url(srv), NULL, NULL, NULL, NULL), 0);
	kc_client *client;
	ck_assert_int_eq(kc_client_new(&kc, NULL, &client), 0);
	kc_kubeconfig_close(&kc);
	kc_event_sink *sk;
	ck_assert_int_eq(kc_event_sink_client_new(client, &sk), 0);
	kc_recorder *r;
	kc_recorder_options o = { .component = "kube-scheduler", .sink = sk, .clock = &fc.base };
	ck_assert_int_eq(kc_recorder_new(&o, &r), 0);
	cJSON *p = pod("web");
	kc_event_record(r, p, "Warning", "FailedScheduling", "0/1 nodes are available");
	ck_assert_int_eq(kc_recorder_flush(r, 5 * SEC), 0);
	kc_fake_clock_advance(&fc, 7 * SEC);
	kc_event_record(r, p, "Warning", "FailedScheduling", "0/1 nodes are available");
	ck_assert_int_eq(kc_recorder_flush(r, 5 * SEC), 0);
	ck_assert_int_eq(es.posts, 1);
	ck_assert_str_eq(es.post_path, "/api/v1/namespaces/prod/events");
	ck_assert_int_eq(es.patches, 1);
	ck_assert_str_eq(es.patch_ct, "application/strategic-merge-patch+json");
	char want[256];
	snprintf(want, sizeof(want), "/api/v1/namespaces/prod/events/%s", js(es.created, "metadata.name"));
	ck_assert_str_eq(es.patch_path, want);
	ck_assert_int_eq(jnum(es.last_patch, "count"), 2);
	ck_assert_str_eq(js(es.last_patch, "lastTimestamp"), "2023-11-14T22:13:27Z");
	kc_recorder_stats st;
	kc_recorder_get_stats(r, &st);
	ck_assert_uint_eq(st.created, 1);
	ck_assert_uint_eq(st.patched, 1);
	kc_recorder_free(r);
	kc_event_sink_client_free(sk);
	kc_client_free(client);
	testsrv_stop(srv);
	cJSON_Delete(p);
	cJSON_Delete(es.created);
	cJSON_Delete(es.last_patch);
}
END_TEST

static Suite *events_suite(void)
{
	Suite *s = suite_create("events");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, event_fields_as_make_event);
	tcase_add_test(tc, bad_input_is_rejected);
	tcase_add_test(tc, object_ref_fills_missing_kind);
	tcase_add_test(tc, identical_events_become_count_patches);
	tcase_add_test(tc, similar_events_aggregate_after_ten);
	tcase_add_test(tc, aggregation_window_is_ten_minutes);
	tcase_add_test(tc, spam_filter_allows_burst_then_one_per_five_minutes);
	tcase_add_test(tc, caches_are_bounded_lru);
	tcase_add_test(tc, recorder_creates_then_patches_repeats);
	tcase_add_test(tc, recorder_recreates_when_patched_event_is_gone);
	tcase_add_test(tc, recorder_retries_transport_errors_only);
	tcase_add_test(tc, recorder_gives_up_after_max_tries);
	tcase_add_test(tc, recorder_never_blocks_and_drops_when_full);
	tcase_add_test(tc, recorder_rejects_bad_events_synchronously);
	tcase_add_test(tc, recorder_workers_deliver_concurrently);
	tcase_add_test(tc, recorder_retry_sleep_does_not_hold_up_other_events);
	tcase_add_test(tc, client_sink_posts_and_patches);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(events_suite)
