/* Informer against a fake apiserver (testsrv): list pagination, watch, re-watch after a
 * normal end, relist after a 410 ERROR event with deletes missed during the gap, resync,
 * indexes. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "errors.h"
#include "informer.h"
#include "kc_test.h"
#include "testsrv.h"

/* ---- fake apiserver for /api/v1/pods ---- */

struct fake {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	cJSON *objs; /* array of pods, in creation order */
	long rv;
	int lists, watches, list_fail, watch_gone;
	char watch_rv[32], watch_bookmarks[16], list_limit[16], list_label[64], watch_label[64];
	char list_field[64];
	testsrv_stream *watch; /* the newest watch stream */
};

static struct fake F;
static testsrv *srv;
static kc_client *client;

static void fake_handler(const testsrv_req *req, testsrv_resp *resp, void *arg)
{
	struct fake *f = arg;
	const char *w = testsrv_arg(req, "watch");
	pthread_mutex_lock(&f->mu);
	if (strcmp(req->path, "/api/v1/pods") != 0) {
		resp->status = 404;
	} else if (w && strcmp(w, "1") == 0 && f->watch_gone > 0) {
		/* The watch request itself is refused: resourceVersion too old. */
		f->watch_gone--;
		f->watches++;
		resp->status = 410;
		resp->body = strdup("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
				    "\"reason\":\"Expired\",\"code\":410}");
	} else if (w && strcmp(w, "1") == 0) {
		f->watches++;
		snprintf(f->watch_rv, sizeof(f->watch_rv), "%s", testsrv_arg(req, "resourceVersion") ?: "");
		snprintf(f->watch_bookmarks, sizeof(f->watch_bookmarks), "%s",
			 testsrv_arg(req, "allowWatchBookmarks") ?: "");
		snprintf(f->watch_label, sizeof(f->watch_label), "%s", testsrv_arg(req, "labelSelector") ?: "");
		if (f->watch)
			testsrv_stream_unref(f->watch);
		f->watch = testsrv_stream_new();
		resp->stream = testsrv_stream_ref(f->watch);
	} else if (f->list_fail > 0) {
		f->list_fail--;
		f->lists++;
		resp->status = 500;
		resp->body = strdup("{\"kind\":\"Status\",\"code\":500}");
	} else {
		f->lists++;
		const char *lim = testsrv_arg(req, "limit"), *cont = testsrv_arg(req, "continue");
		snprintf(f->list_limit, sizeof(f->list_limit), "%s", lim ?: "");
		snprintf(f->list_label, sizeof(f->list_label), "%s", testsrv_arg(req, "labelSelector") ?: "");
		snprintf(f->list_field, sizeof(f->list_field), "%s", testsrv_arg(req, "fieldSelector") ?: "");
		int start = cont ? atoi(cont) : 0, n = cJSON_GetArraySize(f->objs);
		int limit = lim ? atoi(lim) : n;
		cJSON *list = cJSON_CreateObject(), *items = cJSON_AddArrayToObject(list, "items");
		cJSON_AddStringToObject(list, "kind", "PodList");
		cJSON *md = cJSON_AddObjectToObject(list, "metadata");
		char rv[32];
		snprintf(rv, sizeof(rv), "%ld", f->rv);
		cJSON_AddStringToObject(md, "resourceVersion", rv);
		for (int i = start; i < n && i < start + limit; i++)
			cJSON_AddItemToArray(items, cJSON_Duplicate(cJSON_GetArrayItem(f->objs, i), 1));
		if (start + limit < n) {
			char c[16];
			snprintf(c, sizeof(c), "%d", start + limit);
			cJSON_AddStringToObject(md, "continue", c);
		}
		resp->body = cJSON_PrintUnformatted(list);
		cJSON_Delete(list);
	}
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

static void emit(struct fake *f, const char *type, const cJSON *obj)
{
	cJSON *ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "type", type);
	cJSON_AddItemToObject(ev, "object", cJSON_Duplicate(obj, 1));
	char *s = cJSON_PrintUnformatted(ev);
	testsrv_stream_puts(f->watch, s);
	testsrv_stream_puts(f->watch, "\n");
	free(s);
	cJSON_Delete(ev);
}

static int find(struct fake *f, const char *name)
{
	for (int i = 0; i < cJSON_GetArraySize(f->objs); i++) {
		cJSON *md = cJSON_GetObjectItem(cJSON_GetArrayItem(f->objs, i), "metadata");
		if (strcmp(cJSON_GetObjectItem(md, "name")->valuestring, name) == 0)
			return i;
	}
	return -1;
}

static void set_rv(cJSON *obj, long rv)
{
	char s[32];
	snprintf(s, sizeof(s), "%ld", rv);
	cJSON *md = cJSON_GetObjectItem(obj, "metadata");
	cJSON_DeleteItemFromObject(md, "resourceVersion");
	cJSON_AddStringToObject(md, "resourceVersion", s);
}

/* Create or replace pod ns/name (node, app label); send the event if `send`. */
static void fake_put(struct fake *f, const char *name, const char *node, const char *app, int send)
{
	char js[512];
	snprintf(js, sizeof(js),
		 "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"labels\":{\"app\":\"%s\"}},"
		 "\"spec\":{\"nodeName\":\"%s\"}}",
		 name, name[0] == 's' ? "kube-system" : "default", app, node);
	cJSON *obj = cJSON_Parse(js);
	pthread_mutex_lock(&f->mu);
	set_rv(obj, ++f->rv);
	int i = find(f, name);
	if (i >= 0)
		cJSON_ReplaceItemInArray(f->objs, i, obj);
	else
		cJSON_AddItemToArray(f->objs, obj);
	if (send)
		emit(f, i >= 0 ? "MODIFIED" : "ADDED", obj);
	pthread_mutex_unlock(&f->mu);
}

static void fake_del(struct fake *f, const char *name, int send)
{
	pthread_mutex_lock(&f->mu);
	int i = find(f, name);
	cJSON *obj = cJSON_DetachItemFromArray(f->objs, i);
	set_rv(obj, ++f->rv);
	if (send)
		emit(f, "DELETED", obj);
	cJSON_Delete(obj);
	pthread_mutex_unlock(&f->mu);
}

static void fake_raw(struct fake *f, const char *line)
{
	pthread_mutex_lock(&f->mu);
	testsrv_stream_puts(f->watch, line);
	pthread_mutex_unlock(&f->mu);
}

static struct timespec deadline(int secs)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += secs;
	return ts;
}

/* Wait (10 s) until the fake has served n watch requests. */
static int wait_watches(struct fake *f, int n)
{
	struct timespec ts = deadline(10);
	pthread_mutex_lock(&f->mu);
	while (f->watches < n)
		if (pthread_cond_timedwait(&f->cv, &f->mu, &ts) != 0)
			break;
	int ok = f->watches >= n;
	pthread_mutex_unlock(&f->mu);
	return ok;
}

/* ---- handler log ---- */

struct hlog {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char lines[256][320];
	int n;
	int resyncs;
	int read_back_ok; /* handlers could read the cache */
	kc_informer *inf;
};

static struct hlog H;

static void hlog_add(struct hlog *h, const char *fmt, const char *a, const char *b,
		     const char *c)
{
	pthread_mutex_lock(&h->mu);
	if (h->n < 256)
		snprintf(h->lines[h->n++], sizeof(h->lines[0]), fmt, a, b, c);
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

static const char *rv_of(const cJSON *o)
{
	return cJSON_GetObjectItem(cJSON_GetObjectItem(o, "metadata"), "resourceVersion")->valuestring;
}

static const char *key_of(const cJSON *o, char *buf)
{
	kc_informer_key(o, buf, 128);
	return buf;
}

static void on_add(const cJSON *obj, void *arg)
{
	struct hlog *h = arg;
	char k[128];
	cJSON *copy = NULL;
	/* Handlers may read the cache; the new object is already there. */
	if (kc_informer_get(h->inf, key_of(obj, k), &copy) == 0)
		h->read_back_ok++;
	cJSON_Delete(copy);
	hlog_add(h, "ADD %s %s%s", k, rv_of(obj), "");
}

static void on_update(const cJSON *old, const cJSON *obj, void *arg)
{
	struct hlog *h = arg;
	char k[128];
	if (old == obj) {
		pthread_mutex_lock(&h->mu);
		h->resyncs++;
		pthread_cond_broadcast(&h->cv);
		pthread_mutex_unlock(&h->mu);
		return;
	}
	hlog_add(h, "UPDATE %s %s>%s", key_of(obj, k), rv_of(old), rv_of(obj));
}

static void on_delete(const cJSON *obj, int unknown, void *arg)
{
	struct hlog *h = arg;
	char k[128];
	hlog_add(h, "DELETE %s%s%s", key_of(obj, k), unknown ? " final-state-unknown" : "", "");
}

/* Wait (10 s) until a line equal to want was logged. */
static int seen(struct hlog *h, const char *want)
{
	struct timespec ts = deadline(10);
	int found = 0;
	pthread_mutex_lock(&h->mu);
	for (;;) {
		for (int i = 0; i < h->n && !found; i++)
			found = strcmp(h->lines[i], want) == 0;
		if (found || pthread_cond_timedwait(&h->cv, &h->mu, &ts) != 0)
			break;
	}
	if (!found) {
		fprintf(stderr, "never saw \"%s\"; log:\n", want);
		for (int i = 0; i < h->n; i++)
			fprintf(stderr, "  %s\n", h->lines[i]);
	}
	pthread_mutex_unlock(&h->mu);
	return found;
}

static int count_lines(struct hlog *h, const char *prefix)
{
	int n = 0;
	pthread_mutex_lock(&h->mu);
	for (int i = 0; i < h->n; i++)
		n += strncmp(h->lines[i], prefix, strlen(prefix)) == 0;
	pthread_mutex_unlock(&h->mu);
	return n;
}

static void setup(void)
{
	memset(&F, 0, sizeof(F));
	pthread_mutex_init(&F.mu, NULL);
	pthread_cond_init(&F.cv, NULL);
	F.objs = cJSON_CreateArray();
	F.rv = 10;
	memset(&H, 0, sizeof(H));
	pthread_mutex_init(&H.mu, NULL);
	pthread_cond_init(&H.cv, NULL);
	ck_assert_int_eq(testsrv_start(&srv, fake_handler, &F), 0);
	kc_kubeconfig kc;
	ck_assert_int_eq(kc_kubeconfig_from_parts(&kc, testsrv_url(srv), NULL, NULL, NULL, NULL), 0);
	ck_assert_int_eq(kc_client_new(&kc, &(kc_client_opts){ .max_retries = -1 }, &client), 0);
	kc_kubeconfig_close(&kc);
}

static void teardown(void)
{
	kc_client_free(client);
	testsrv_stop(srv);
	testsrv_stream_unref(F.watch);
	cJSON_Delete(F.objs);
}

static kc_informer *start_informer(const kc_informer_opts *o)
{
	kc_informer *inf;
	ck_assert_int_eq(kc_informer_new(client, o, &inf), 0);
	H.inf = inf;
	kc_informer_handlers h = { on_add, on_update, on_delete, &H };
	ck_assert_int_eq(kc_informer_add_handlers(inf, &h), 0);
	return inf;
}

static int names_in(cJSON *arr, const char *want)
{
	/* want: space-separated names in any order; exact set. */
	char buf[256];
	int n = 0;
	snprintf(buf, sizeof(buf), "%s", want);
	for (char *save, *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		int hit = 0;
		const cJSON *o;
		cJSON_ArrayForEach(o, arr)
			hit |= strcmp(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "metadata"), "name")->valuestring, t) == 0;
		if (!hit)
			return 0;
		n++;
	}
	return n == cJSON_GetArraySize(arr);
}

/* ---- tests ---- */

START_TEST(paged_list_then_watch_events)
{
	fake_put(&F, "a", "node-1", "web", 0);
	fake_put(&F, "b", "node-1", "db", 0);
	fake_put(&F, "sys", "node-2", "web", 0); /* kube-system */
	kc_informer *inf = start_informer(&(kc_informer_opts){ .path = "/api/v1/pods", .page_size = 2,
							       .backoff_min_ms = 10 });
	ck_assert_int_eq(kc_informer_has_synced(inf), 0);
	ck_assert_int_eq(kc_informer_start(inf), 0);
	ck_assert_int_eq(kc_informer_wait_for_sync(inf, 10000), 0);
	ck_assert(kc_informer_has_synced(inf));
	/* Two pages of two. */
	ck_assert_int_eq(F.lists, 2);
	ck_assert_str_eq(F.list_limit, "2");
	ck_assert_int_eq(kc_informer_count(inf), 3);
	ck_assert_int_eq(count_lines(&H, "ADD "), 3);
	ck_assert(seen(&H, "ADD kube-system/sys 13"));
	ck_assert_int_eq(H.read_back_ok, 3);

	/* The watch starts at the list's resourceVersion with bookmarks. */
	ck_assert(wait_watches(&F, 1));
	ck_assert_str_eq(F.watch_rv, "13");
	ck_assert_str_eq(F.watch_bookmarks, "true");

	fake_put(&F, "c", "node-2", "web", 1);
	fake_put(&F, "a", "node-2", "web", 1);
	fake_del(&F, "b", 1);
	ck_assert(seen(&H, "ADD default/c 14"));
	ck_assert(seen(&H, "UPDATE default/a 11>15"));
	ck_assert(seen(&H, "DELETE default/b"));

	cJSON *o, *arr;
	ck_assert_int_eq(kc_informer_get(inf, "default/b", &o), KC_ENOTFOUND);
	ck_assert_int_eq(kc_informer_get(inf, "default/a", &o), 0);
	ck_assert_str_eq(rv_of(o), "15");
	cJSON_Delete(o);
	char rv[32];
	kc_informer_last_rv(inf, rv, sizeof(rv));
	ck_assert_str_eq(rv, "16");

	/* Indexes follow updates: a moved from node-1 to node-2. */
	ck_assert_int_eq(kc_informer_by_index(inf, KC_INDEX_NODENAME, "node-2", &arr), 0);
	ck_assert(names_in(arr, "a c sys"));
	cJSON_Delete(arr);
	ck_assert_int_eq(kc_informer_by_index(inf, KC_INDEX_NODENAME, "node-1", &arr), 0);
	ck_assert_int_eq(cJSON_GetArraySize(arr), 0);
	cJSON_Delete(arr);
	ck_assert_int_eq(kc_informer_by_index(inf, KC_INDEX_NAMESPACE, "default", &arr), 0);
	ck_assert(names_in(arr, "a c"));
	cJSON_Delete(arr);
	ck_assert_int_eq(kc_informer_by_index(inf, KC_INDEX_LABEL, "app=web", &arr), 0);
	ck_assert(names_in(arr, "a c sys"));
	cJSON_Delete(arr);
	ck_assert_int_eq(kc_informer_by_index(inf, "nope", "x", &arr), -ENOENT);
	ck_assert_int_eq(kc_informer_list(inf, &arr), 0);
	ck_assert(names_in(arr, "a c sys"));
	cJSON_Delete(arr);
	ck_assert_int_eq(F.lists, 2); /* no relist happened */

	kc_informer_stop(inf);
	kc_informer_free(inf);
}
END_TEST

START_TEST(stream_end_rewatches_from_bookmark)
{
	fake_put(&F, "a", "n", "web", 0);
	kc_informer *inf = start_informer(&(kc_informer_opts){ .path = "/api/v1/pods",
							       .backoff_min_ms = 10 });
	ck_assert_int_eq(kc_informer_start(inf), 0);
	ck_assert_int_eq(kc_informer_wait_for_sync(inf, 10000), 0);
	ck_assert(wait_watches(&F, 1));
	fake_put(&F, "b", "n", "web", 1);
	ck_assert(seen(&H, "ADD default/b 12"));
	fake_raw(&F, "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"metadata\":"
		     "{\"resourceVersion\":\"40\"}}}\n");
	/* The server ends the stream normally: the informer watches again from the
	 * bookmark's resourceVersion without listing. */
	pthread_mutex_lock(&F.mu);
	testsrv_stream_close(F.watch);
	pthread_mutex_unlock(&F.mu);
	ck_assert(wait_watches(&F, 2));
	pthread_mutex_lock(&F.mu);
	ck_assert_str_eq(F.watch_rv, "40");
	ck_assert_int_eq(F.lists, 1);
	F.rv = 40;
	pthread_mutex_unlock(&F.mu);
	/* The new stream delivers. */
	fake_put(&F, "c", "n", "web", 1);
	ck_assert(seen(&H, "ADD default/c 41"));
	ck_assert_int_eq(kc_informer_count(inf), 3);
	kc_informer_free(inf);
}
END_TEST

START_TEST(expired_watch_relists_and_sees_gap_deletes)
{
	fake_put(&F, "a", "n", "web", 0);
	fake_put(&F, "b", "n", "web", 0);
	fake_put(&F, "c", "n", "web", 0);
	kc_informer *inf = start_informer(&(kc_informer_opts){ .path = "/api/v1/pods",
							       .backoff_min_ms = 10 });
	ck_assert_int_eq(kc_informer_start(inf), 0);
	ck_assert_int_eq(kc_informer_wait_for_sync(inf, 10000), 0);
	ck_assert(wait_watches(&F, 1));
	fake_put(&F, "d", "n", "web", 1);
	ck_assert(seen(&H, "ADD default/d 14"));
	/* While the informer is not told: b is deleted, a changes, e appears. Then the
	 * watch fails with 410 Expired. */
	fake_del(&F, "b", 0);
	fake_put(&F, "a", "m", "web", 0);
	fake_put(&F, "e", "n", "web", 0);
	fake_raw(&F, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
		     "\"status\":\"Failure\",\"message\":\"too old resource version: 14 (18)\","
		     "\"reason\":\"Expired\",\"code\":410}}\n");
	ck_assert(seen(&H, "DELETE default/b final-state-unknown"));
	ck_assert(seen(&H, "UPDATE default/a 11>16"));
	ck_assert(seen(&H, "ADD default/e 17"));
	ck_assert_int_eq(F.lists, 2);
	cJSON *o;
	ck_assert_int_eq(kc_informer_get(inf, "default/b", &o), KC_ENOTFOUND);
	ck_assert_int_eq(kc_informer_count(inf), 4);
	cJSON *arr;
	ck_assert_int_eq(kc_informer_by_index(inf, KC_INDEX_NODENAME, "n", &arr), 0);
	ck_assert(names_in(arr, "c d e"));
	cJSON_Delete(arr);
	/* And it watches again from the new list. */
	ck_assert(wait_watches(&F, 2));
	pthread_mutex_lock(&F.mu);
	ck_assert_str_eq(F.watch_rv, "17");
	pthread_mutex_unlock(&F.mu);
	kc_informer_free(inf);
}
END_TEST

START_TEST(cut_stream_rewatches_and_410_answer_relists)
{
	fake_put(&F, "a", "n", "web", 0);
	kc_informer *inf = start_informer(&(kc_informer_opts){ .path = "/api/v1/pods",
							       .backoff_min_ms = 5 });
	ck_assert_int_eq(kc_informer_start(inf), 0);
	ck_assert_int_eq(kc_informer_wait_for_sync(inf, 10000), 0);
	ck_assert(wait_watches(&F, 1));
	fake_put(&F, "b", "n", "web", 1);
	ck_assert(seen(&H, "ADD default/b 12"));
	/* The connection drops mid-stream: watch again from the last event, no relist. */
	pthread_mutex_lock(&F.mu);
	testsrv_stream_abort(F.watch);
	pthread_mutex_unlock(&F.mu);
	ck_assert(wait_watches(&F, 2));
	pthread_mutex_lock(&F.mu);
	ck_assert_str_eq(F.watch_rv, "12");
	ck_assert_int_eq(F.lists, 1);
	/* Next, the stream ends and the re-watch is answered 410: relist. */
	F.watch_gone = 1;
	testsrv_stream_close(F.watch);
	pthread_mutex_unlock(&F.mu);
	ck_assert(wait_watches(&F, 4)); /* the refused one, then one after the relist */
	pthread_mutex_lock(&F.mu);
	ck_assert_int_eq(F.lists, 2);
	pthread_mutex_unlock(&F.mu);
	ck_assert(seen(&H, "UPDATE default/a 11>11")); /* relist: update for every object */
	ck_assert_int_eq(count_lines(&H, "DELETE"), 0);
	kc_informer_free(inf);
}
END_TEST

START_TEST(list_failures_back_off_then_sync)
{
	F.list_fail = 2;
	fake_put(&F, "a", "n", "web", 0);
	kc_informer *inf = start_informer(&(kc_informer_opts){ .path = "/api/v1/pods",
							       .backoff_min_ms = 5,
							       .backoff_max_ms = 20 });
	ck_assert_int_eq(kc_informer_wait_for_sync(inf, 10), KC_ECLOSED); /* not started */
	ck_assert_int_eq(kc_informer_start(inf), 0);
	ck_assert_int_eq(kc_informer_start(inf), -EBUSY);
	ck_assert_int_eq(kc_informer_wait_for_sync(inf, 10000), 0);
	ck_assert_int_eq(F.lists, 3);
	ck_assert(seen(&H, "ADD default/a 11"));
	kc_informer_stop(inf);
	kc_informer_stop(inf); /* idempotent */
	ck_assert_int_eq(kc_informer_start(inf), -EBUSY);
	ck_assert_int_eq(kc_informer_count(inf), 1); /* still readable */
	kc_informer_free(inf);
}
END_TEST

START_TEST(sync_wait_times_out_while_server_fails)
{
	F.list_fail = 1000000;
	kc_informer *inf = start_informer(&(kc_informer_opts){ .path = "/api/v1/pods",
							       .backoff_min_ms = 5,
							       .backoff_max_ms = 10 });
	ck_assert_int_eq(kc_informer_start(inf), 0);
	ck_assert_int_eq(kc_informer_wait_for_sync(inf, 100), -ETIMEDOUT);
	ck_assert_int_eq(kc_informer_has_synced(inf), 0);
	kc_informer_free(inf);
}
END_TEST

START_TEST(resync_calls_update_for_every_object)
{
	fake_put(&F, "a", "n", "web", 0);
	fake_put(&F, "b", "n", "web", 0);
	kc_informer *inf = start_informer(&(kc_informer_opts){ .path = "/api/v1/pods",
							       .resync_ms = 20 });
	ck_assert_int_eq(kc_informer_start(inf), 0);
	ck_assert_int_eq(kc_informer_wait_for_sync(inf, 10000), 0);
	struct timespec ts = deadline(10);
	pthread_mutex_lock(&H.mu);
	while (H.resyncs < 4)
		if (pthread_cond_timedwait(&H.cv, &H.mu, &ts) != 0)
			break;
	int r = H.resyncs;
	pthread_mutex_unlock(&H.mu);
	ck_assert_int_ge(r, 4); /* two objects, at least two periods */
	kc_informer_free(inf);
}
END_TEST

static void by_app(const cJSON *obj, kc_index_keys *keys, void *arg)
{
	const cJSON *app = cJSON_GetObjectItem(
		cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "metadata"), "labels"), "app");
	if (cJSON_IsString(app))
		kc_index_keys_add(keys, app->valuestring);
}

static int count_cb(const cJSON *obj, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static void strip_spec(cJSON *obj, void *arg)
{
	cJSON_DeleteItemFromObjectCaseSensitive(obj, "spec");
	(*(int *)arg)++;
}

/* The transform runs before caching and indexing, for listed and watched objects alike. */
START_TEST(transform_strips_before_cache_and_index)
{
	int calls = 0;
	fake_put(&F, "a", "node-1", "web", 0);
	kc_informer *inf = start_informer(&(kc_informer_opts){ .path = "/api/v1/pods",
							       .transform = strip_spec,
							       .transform_arg = &calls });
	ck_assert_int_eq(kc_informer_start(inf), 0);
	ck_assert_int_eq(kc_informer_wait_for_sync(inf, 10000), 0);
	ck_assert(wait_watches(&F, 1));
	fake_put(&F, "b", "node-1", "web", 1);
	ck_assert(seen(&H, "ADD default/b 12"));
	cJSON *o, *arr;
	ck_assert_int_eq(kc_informer_get(inf, "default/a", &o), 0);
	ck_assert_ptr_null(cJSON_GetObjectItem(o, "spec"));
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(o, "metadata"));
	cJSON_Delete(o);
	ck_assert_int_eq(kc_informer_get(inf, "default/b", &o), 0);
	ck_assert_ptr_null(cJSON_GetObjectItem(o, "spec"));
	cJSON_Delete(o);
	ck_assert_int_eq(kc_informer_by_index(inf, KC_INDEX_NODENAME, "node-1", &arr), 0);
	ck_assert_int_eq(cJSON_GetArraySize(arr), 0); /* indexed after the transform */
	cJSON_Delete(arr);
	ck_assert_int_eq(kc_informer_by_index(inf, KC_INDEX_LABEL, "app=web", &arr), 0);
	ck_assert(names_in(arr, "a b"));
	cJSON_Delete(arr);
	kc_informer_free(inf);
	ck_assert_int_eq(calls, 2);
}
END_TEST

START_TEST(user_index_and_selectors)
{
	fake_put(&F, "a", "n", "web", 0);
	fake_put(&F, "b", "n", "db", 0);
	kc_informer *inf = start_informer(&(kc_informer_opts){
		.path = "/api/v1/pods", .label_selector = "tier in (x,y)",
		.field_selector = "spec.nodeName=n", .page_size = -1 });
	ck_assert_int_eq(kc_informer_add_index(inf, "app", by_app, NULL), 0);
	ck_assert_int_eq(kc_informer_add_index(inf, "app", by_app, NULL), -EEXIST);
	ck_assert_int_eq(kc_informer_start(inf), 0);
	ck_assert_int_eq(kc_informer_add_index(inf, "late", by_app, NULL), -EBUSY);
	ck_assert_int_eq(kc_informer_wait_for_sync(inf, 10000), 0);
	/* Selectors reach the server decoded intact, on list and watch. */
	ck_assert_str_eq(F.list_label, "tier in (x,y)");
	ck_assert_str_eq(F.list_field, "spec.nodeName=n");
	ck_assert_str_eq(F.list_limit, "");
	ck_assert(wait_watches(&F, 1));
	ck_assert_str_eq(F.watch_label, "tier in (x,y)");

	int n = 0;
	ck_assert_int_eq(kc_informer_foreach(inf, "app", "web", count_cb, &n), 0);
	ck_assert_int_eq(n, 1);
	fake_put(&F, "b", "n", "web", 1); /* b: db -> web */
	ck_assert(seen(&H, "UPDATE default/b 12>13"));
	n = 0;
	kc_informer_foreach(inf, "app", "web", count_cb, &n);
	ck_assert_int_eq(n, 2);
	n = 0;
	kc_informer_foreach(inf, "app", "db", count_cb, &n);
	ck_assert_int_eq(n, 0);
	n = 0;
	kc_informer_foreach(inf, NULL, NULL, count_cb, &n);
	ck_assert_int_eq(n, 2);
	kc_informer_free(inf);
}
END_TEST

/* Without the built-in indexes (the scheduler's informers): events, the cache and a
 * user index work; the built-in ones do not exist. */
START_TEST(no_default_indexes)
{
	fake_put(&F, "a", "n", "web", 0);
	kc_informer *inf = start_informer(&(kc_informer_opts){
		.path = "/api/v1/pods", .page_size = -1, .no_default_indexes = 1 });
	ck_assert_int_eq(kc_informer_add_index(inf, "app", by_app, NULL), 0);
	ck_assert_int_eq(kc_informer_start(inf), 0);
	ck_assert_int_eq(kc_informer_wait_for_sync(inf, 10000), 0);
	ck_assert(wait_watches(&F, 1));
	fake_put(&F, "b", "n", "web", 1);
	ck_assert(seen(&H, "ADD default/b 12"));
	cJSON *arr;
	ck_assert_int_eq(kc_informer_by_index(inf, KC_INDEX_NAMESPACE, "default", &arr), -ENOENT);
	ck_assert_int_eq(kc_informer_by_index(inf, KC_INDEX_NODENAME, "n", &arr), -ENOENT);
	ck_assert_int_eq(kc_informer_by_index(inf, "app", "web", &arr), 0);
	ck_assert(names_in(arr, "a b"));
	cJSON_Delete(arr);
	ck_assert_int_eq(kc_informer_count(inf), 2);
	kc_informer_free(inf);
}
END_TEST

START_TEST(keys_and_bad_options)
{
	char k[64];
	cJSON *o = cJSON_Parse("{\"metadata\":{\"name\":\"n1\"}}");
	ck_assert_int_eq(kc_informer_key(o, k, sizeof(k)), 0);
	ck_assert_str_eq(k, "n1");
	cJSON_Delete(o);
	o = cJSON_Parse("{\"metadata\":{\"namespace\":\"ns\",\"name\":\"p\"}}");
	ck_assert_int_eq(kc_informer_key(o, k, sizeof(k)), 0);
	ck_assert_str_eq(k, "ns/p");
	ck_assert_int_eq(kc_informer_key(o, k, 3), -ENAMETOOLONG);
	cJSON_Delete(o);
	o = cJSON_Parse("{\"metadata\":{}}");
	ck_assert_int_eq(kc_informer_key(o, k, sizeof(k)), -EINVAL);
	cJSON_Delete(o);
	kc_informer *inf;
	ck_assert_int_eq(kc_informer_new(client, &(kc_informer_opts){ .path = "api/v1/pods" }, &inf),
			 -EINVAL);
	ck_assert_int_eq(kc_informer_new(client, &(kc_informer_opts){ .path = "/api/v1/pods?x=1" }, &inf),
			 -EINVAL);
}
END_TEST

static Suite *informer_suite(void)
{
	Suite *s = suite_create("informer");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, paged_list_then_watch_events);
	tcase_add_test(tc, no_default_indexes);
	tcase_add_test(tc, stream_end_rewatches_from_bookmark);
	tcase_add_test(tc, expired_watch_relists_and_sees_gap_deletes);
	tcase_add_test(tc, cut_stream_rewatches_and_410_answer_relists);
	tcase_add_test(tc, list_failures_back_off_then_sync);
	tcase_add_test(tc, sync_wait_times_out_while_server_fails);
	tcase_add_test(tc, resync_calls_update_for_every_object);
	tcase_add_test(tc, user_index_and_selectors);
	tcase_add_test(tc, transform_strips_before_cache_and_index);
	tcase_add_test(tc, keys_and_bad_options);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(informer_suite)
