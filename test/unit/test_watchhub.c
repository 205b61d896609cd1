/* The watch hub: created/history/live ordering, filters and prev_kv, compacted starts,
 * slow consumers caught up from history without loss, progress and cancel. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "../../store/kv.h"
#include "kc_test.h"

#include "kvtest.h"

struct ev {
	int type;
	char key[16];
	int64_t mod, create;
	bool prev, has_value;
};

struct msg {
	bool created, canceled;
	int64_t compact, hdr_rev, watch_id;
	int nev;
	int first_ev;
};

struct sink {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct msg msgs[256];
	struct ev evs[4096];
	int nmsgs, nevs;
	atomic_bool full;   /* pretend the consumer's buffer is full */
	int refused;
};

static void sink_init(struct sink *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
}

static void sink_close(struct sink *s)
{
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
}

static int on_msg(void *arg, const Kvpb__WatchResponse *r)
{
	struct sink *s = arg;
	if (r->n_events && atomic_load(&s->full)) {
		pthread_mutex_lock(&s->mu);
		s->refused++;
		pthread_mutex_unlock(&s->mu);
		return -EAGAIN;
	}
	pthread_mutex_lock(&s->mu);
	if (s->nmsgs < 256) {
		struct msg *m = &s->msgs[s->nmsgs++];
		m->created = r->created;
		m->canceled = r->canceled;
		m->compact = r->compact_revision;
		m->hdr_rev = r->header ? r->header->revision : -1;
		m->watch_id = r->watch_id;
		m->nev = (int)r->n_events;
		m->first_ev = s->nevs;
		for (size_t i = 0; i < r->n_events && s->nevs < 4096; i++) {
			struct ev *e = &s->evs[s->nevs++];
			const Kvpb__KeyValue *kv = r->events[i]->kv;
			e->type = r->events[i]->type;
			size_t n = kv->key.len < 15 ? kv->key.len : 15;
			memcpy(e->key, kv->key.data, n);
			e->key[n] = 0;
			e->mod = kv->mod_revision;
			e->create = kv->create_revision;
			e->prev = r->events[i]->prev_kv != NULL;
			e->has_value = kv->value.len > 0;
		}
	}
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

static int wait_events(struct sink *s, int n)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 10;
	pthread_mutex_lock(&s->mu);
	int rc = 0;
	while (s->nevs < n && rc == 0)
		rc = pthread_cond_timedwait(&s->cv, &s->mu, &dl);
	int got = s->nevs;
	pthread_mutex_unlock(&s->mu);
	return got;
}

static struct kv_watch *watch(struct kv *kv, struct sink *s, const char *key, const char *end,
			      int64_t start, int64_t id)
{
	Kvpb__WatchCreateRequest r = KVPB__WATCH_CREATE_REQUEST__INIT;
	r.key = kvt_bin(key);
	if (end)
		r.range_end = kvt_bin(end);
	r.start_revision = start;
	struct kv_watch *w = NULL;
	ck_assert_int_eq(kv_watch_create(kv, &r, id, on_msg, s, &w), 0);
	return w;
}

START_TEST(history_then_live_in_order)
{
	char *dir = kvt_tmpdir();
	struct kv *kv = kvt_open(dir, NULL, 0);
	kvt_put(kv, "w/a", "1"); /* 2 */
	kvt_put(kv, "x", "1");   /* 3: outside the range */
	kvt_put(kv, "w/b", "1"); /* 4 */
	kvt_put(kv, "w/a", "2"); /* 5 */
	struct sink s;
	sink_init(&s);
	struct kv_watch *w = watch(kv, &s, "w/", "w0", 2, 7);
	/* created first (header = current revision), then all past events in one message */
	ck_assert_int_ge(s.nmsgs, 2);
	ck_assert(s.msgs[0].created);
	ck_assert_int_eq(s.msgs[0].hdr_rev, 5);
	ck_assert_int_eq(s.msgs[0].watch_id, 7);
	ck_assert_int_eq(s.msgs[1].nev, 3);
	ck_assert_int_eq(s.msgs[1].hdr_rev, 5);
	ck_assert_int_eq(s.evs[0].mod, 2);
	ck_assert_int_eq(s.evs[1].mod, 4);
	ck_assert_int_eq(s.evs[2].mod, 5);
	ck_assert_int_eq(s.evs[2].create, 2);
	/* live */
	kvt_put(kv, "w/c", "1"); /* 6 */
	ck_assert_int_eq(wait_events(&s, 4), 4);
	ck_assert_int_eq(s.evs[3].mod, 6);
	ck_assert_int_eq(s.msgs[2].hdr_rev, 6);
	ck_assert_int_eq(s.msgs[2].watch_id, 7);
	/* a multi-key delete is one message with several events */
	kvt_del(kv, "w/", "w0"); /* 7 */
	ck_assert_int_eq(wait_events(&s, 7), 7);
	pthread_mutex_lock(&s.mu);
	ck_assert_int_eq(s.msgs[s.nmsgs - 1].nev, 3);
	ck_assert_int_eq(s.evs[4].type, KVPB__EVENT__EVENT_TYPE__DELETE);
	ck_assert(!s.evs[4].has_value); /* DELETE kv: key and mod_revision only */
	ck_assert_int_eq(s.evs[4].create, 0);
	pthread_mutex_unlock(&s.mu);
	/* progress: synced, so the current revision */
	int64_t rev = 0;
	ck_assert_int_eq(kv_watch_progress(kv, &w, 1, &rev), 0);
	ck_assert_int_eq(rev, 7);
	/* cancel with notify: a final canceled message, then silence */
	int before = s.nmsgs;
	kv_watch_cancel(kv, w, true);
	ck_assert_int_eq(s.nmsgs, before + 1);
	ck_assert(s.msgs[before].canceled);
	kvt_put(kv, "w/z", "1");
	ck_assert_int_eq(s.nmsgs, before + 1);
	kv_close(kv);
	sink_close(&s);
	kvt_rm_rf(dir);
	free(dir);
}
END_TEST

START_TEST(filters_and_prev_kv)
{
	char *dir = kvt_tmpdir();
	struct kv *kv = kvt_open(dir, NULL, 0);
	kvt_put(kv, "k", "1");
	struct sink s;
	sink_init(&s);
	Kvpb__WatchCreateRequest r = KVPB__WATCH_CREATE_REQUEST__INIT;
	r.key = kvt_bin("k");
	Kvpb__WatchCreateRequest__FilterType f[] = { KVPB__WATCH_CREATE_REQUEST__FILTER_TYPE__NOPUT };
	r.filters = f;
	r.n_filters = 1;
	r.prev_kv = true;
	struct kv_watch *w = NULL;
	ck_assert_int_eq(kv_watch_create(kv, &r, 0, on_msg, &s, &w), 0);
	struct sink s2;
	sink_init(&s2);
	struct kv_watch *w2 = watch(kv, &s2, "k", NULL, 0, 1); /* single key, no filters */
	kvt_put(kv, "k", "2");
	kvt_put(kv, "kk", "x"); /* not the single key */
	kvt_del(kv, "k", NULL);
	ck_assert_int_eq(wait_events(&s, 1), 1);
	ck_assert_int_eq(wait_events(&s2, 2), 2);
	ck_assert_int_eq(s.evs[0].type, KVPB__EVENT__EVENT_TYPE__DELETE);
	ck_assert(s.evs[0].prev);
	ck_assert(!s2.evs[0].prev);
	ck_assert_int_eq(s2.evs[0].type, KVPB__EVENT__EVENT_TYPE__PUT);
	kv_watch_cancel(kv, w, false);
	kv_watch_cancel(kv, w2, false);
	kv_close(kv);
	sink_close(&s);
	sink_close(&s2);
	kvt_rm_rf(dir);
	free(dir);
}
END_TEST

START_TEST(compacted_start_is_canceled)
{
	char *dir = kvt_tmpdir();
	struct kv *kv = kvt_open(dir, NULL, 0);
	for (int i = 0; i < 10; i++)
		kvt_put(kv, "c", "v"); /* 2..11 */
	Kvpb__CompactionRequest c = KVPB__COMPACTION_REQUEST__INIT;
	c.revision = 8;
	Kvpb__CompactionResponse *cr = NULL;
	ck_assert_int_eq(kv_compact(kv, &c, &cr), 0);
	kvpb__compaction_response__free_unpacked(cr, NULL);
	struct sink s;
	sink_init(&s);
	struct kv_watch *w = watch(kv, &s, "c", NULL, 5, 0);
	ck_assert_int_eq(s.nmsgs, 2);
	ck_assert(s.msgs[0].created);
	ck_assert(s.msgs[1].canceled);
	ck_assert_int_eq(s.msgs[1].compact, 8);
	ck_assert_int_eq(s.msgs[1].hdr_rev, 0); /* etcd: no revision in that header */
	kvt_put(kv, "c", "v");
	ck_assert_int_eq(s.nmsgs, 2);
	kv_watch_cancel(kv, w, true); /* already canceled: nothing more */
	ck_assert_int_eq(s.nmsgs, 2);
	/* start == compacted revision is still served */
	struct sink s2;
	sink_init(&s2);
	w = watch(kv, &s2, "c", NULL, 8, 0);
	ck_assert_int_eq(wait_events(&s2, 5), 5); /* revisions 8..12 */
	ck_assert_int_eq(s2.evs[0].mod, 8);
	kv_watch_cancel(kv, w, false);
	kv_close(kv);
	sink_close(&s);
	sink_close(&s2);
	kvt_rm_rf(dir);
	free(dir);
}
END_TEST

START_TEST(slow_consumer_catches_up_without_loss)
{
	char *dir = kvt_tmpdir();
	struct kv *kv = kvt_open(dir, NULL, 0);
	struct sink s;
	sink_init(&s);
	struct kv_watch *w = watch(kv, &s, "s/", "s0", 0, 3);
	atomic_store(&s.full, true);
	char k[16];
	for (int i = 0; i < 50; i++) {
		snprintf(k, sizeof(k), "s/%02d", i);
		kvt_put(kv, k, "v");
	}
	int64_t rev = 0;
	ck_assert_int_eq(kv_watch_progress(kv, &w, 1, &rev), -EAGAIN); /* lagging */
	ck_assert_int_gt(s.refused, 0);
	ck_assert_int_eq(s.nevs, 0);
	atomic_store(&s.full, false);
	kv_watch_resume(kv, w);
	ck_assert_int_eq(wait_events(&s, 50), 50);
	for (int i = 0; i < 50; i++)
		ck_assert_int_eq(s.evs[i].mod, 2 + i); /* in order, none lost, none twice */
	kvt_put(kv, "s/live", "v");
	ck_assert_int_eq(wait_events(&s, 51), 51);
	ck_assert_int_eq(s.evs[50].mod, 52);
	/* once caught up, progress answers again */
	struct timespec dl;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	int rc;
	do {
		rc = kv_watch_progress(kv, &w, 1, &rev);
		if (rc == -EAGAIN)
			kv_watch_resume(kv, w);
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > dl.tv_sec + 10)
			break;
	} while (rc == -EAGAIN);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(rev, 52);
	kv_watch_cancel(kv, w, false);
	kv_close(kv);
	sink_close(&s);
	kvt_rm_rf(dir);
	free(dir);
}
END_TEST

START_TEST(many_watchers_see_every_event)
{
	char *dir = kvt_tmpdir();
	struct kv *kv = kvt_open(dir, NULL, 0);
	enum { W = 64 };
	static struct sink sinks[W];
	struct kv_watch *ws[W];
	for (int i = 0; i < W; i++) {
		sink_init(&sinks[i]);
		ws[i] = watch(kv, &sinks[i], "f/", "f0", 0, i);
	}
	char k[16];
	for (int i = 0; i < 100; i++) {
		snprintf(k, sizeof(k), "f/%d", i % 10);
		kvt_put(kv, k, "v");
	}
	for (int i = 0; i < W; i++) {
		ck_assert_int_eq(wait_events(&sinks[i], 100), 100);
		ck_assert_int_eq(sinks[i].evs[99].mod, 101);
		kv_watch_cancel(kv, ws[i], false);
		sink_close(&sinks[i]);
	}
	kv_close(kv);
	kvt_rm_rf(dir);
	free(dir);
}
END_TEST


START_TEST(long_history_is_sent_in_batches_of_1000_revisions)
{
	char *dir = kvt_tmpdir();
	struct kv *kv = kvt_open(dir, NULL, 0);
	char k[16];
	for (int i = 0; i < 2500; i++) {
		snprintf(k, sizeof(k), "h/%d", i % 7);
		kvt_put(kv, k, "v"); /* revisions 2..2501 */
	}
	struct sink s;
	sink_init(&s);
	struct kv_watch *w = watch(kv, &s, "h/", "h0", 2, 0);
	kvt_put(kv, "h/live", "v"); /* 2502: must come after all of history */
	ck_assert_int_eq(wait_events(&s, 2501), 2501);
	pthread_mutex_lock(&s.mu);
	for (int i = 0; i < 2501; i++)
		ck_assert_int_eq(s.evs[i].mod, 2 + i);
	for (int i = 1; i < s.nmsgs; i++)
		ck_assert_int_le(s.msgs[i].nev, 1000); /* etcd's watchBatchMaxRevs */
	ck_assert_int_ge(s.nmsgs, 4);
	pthread_mutex_unlock(&s.mu);
	kv_watch_cancel(kv, w, false);
	kv_close(kv);
	sink_close(&s);
	kvt_rm_rf(dir);
	free(dir);
}
END_TEST


static void ignore_put(void *arg, int err, void *resp)
{
	(void)arg;
	(void)err;
	if (resp)
		kvpb__put_response__free_unpacked(resp, NULL);
}

START_TEST(compactions_racing_queued_writes_lose_no_events)
{
	/* Compactions of the newest revision while writes are still queued must not take
	 * history a synced watcher has not been handed yet. */
	char *dir = kvt_tmpdir();
	struct kv *kv = kvt_open(dir, NULL, 0);
	struct sink s;
	sink_init(&s);
	struct kv_watch *w = watch(kv, &s, "q/", "q0", 0, 0);
	kvt_put(kv, "q/first", "v"); /* 2 */
	char keys[200][16];
	for (int i = 0; i < 200; i++) {
		snprintf(keys[i], sizeof(keys[i]), "q/%03d", i % 1000);
		Kvpb__PutRequest r = KVPB__PUT_REQUEST__INIT;
		r.key = kvt_bin(keys[i]);
		r.value = kvt_bin("v");
		ck_assert_int_eq(kv_put_async(kv, &r, ignore_put, NULL), 0);
		if (i % 50 == 49) {
			Kvpb__CompactionRequest c = KVPB__COMPACTION_REQUEST__INIT;
			c.revision = kv_current_rev(kv);
			Kvpb__CompactionResponse *cr = NULL;
			if (kv_compact(kv, &c, &cr) == 0)
				kvpb__compaction_response__free_unpacked(cr, NULL);
		}
	}
	ck_assert_int_eq(wait_events(&s, 201), 201);
	pthread_mutex_lock(&s.mu);
	for (int i = 0; i < 201; i++)
		ck_assert_int_eq(s.evs[i].mod, 2 + i);
	pthread_mutex_unlock(&s.mu);
	kv_watch_cancel(kv, w, false);
	kv_close(kv);
	sink_close(&s);
	kvt_rm_rf(dir);
	free(dir);
}
END_TEST

static Suite *watchhub_suite(void)
{
	Suite *s = suite_create("watchhub");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, history_then_live_in_order);
	tcase_add_test(tc, filters_and_prev_kv);
	tcase_add_test(tc, compacted_start_is_canceled);
	tcase_add_test(tc, slow_consumer_catches_up_without_loss);
	tcase_add_test(tc, many_watchers_see_every_event);
	tcase_add_test(tc, long_history_is_sent_in_batches_of_1000_revisions);
	tcase_add_test(tc, compactions_racing_queued_writes_lose_no_events);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(watchhub_suite)
