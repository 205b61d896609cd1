/* Load generator for the etcd v3 JSON API (kube-store and etcd 3.4 alike), libcurl multi.
 *
 *   loadgen put   URL CLIENTS SECONDS        256-byte values, random keys over 100k
 *   loadgen range URL CLIENTS SECONDS        single-key linearizable ranges
 *   loadgen fill  URL CLIENTS COUNT          COUNT distinct keys (then measure RSS)
 *   loadgen watch URL WATCHERS SECONDS       WATCHERS streams on one prefix, one writer
 *
 * Prints one line of key=value figures: ops, secs, ops_per_s, p50_ms, p99_ms, errors; for
 * watch also puts, delivered, events_per_s, lost. Closed loop: each client sends its next
 * request when the previous one is answered. Build: cc -O2 -o loadgen loadgen.c -lcurl */
#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VALUE_SIZE 256
#define KEYSPACE 100000

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64(const char *in, size_t n, char *out)
{
	size_t j = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)in[i] << 16;
		if (i + 1 < n)
			v |= (unsigned char)in[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)in[i + 2];
		out[j++] = B64[(v >> 18) & 63];
		out[j++] = B64[(v >> 12) & 63];
		out[j++] = i + 1 < n ? B64[(v >> 6) & 63] : '=';
		out[j++] = i + 2 < n ? B64[v & 63] : '=';
	}
	out[j] = 0;
}

struct lat {
	double *v;
	size_t n, cap;
};

static void lat_add(struct lat *l, double x)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4096;
		l->v = realloc(l->v, l->cap * sizeof(double));
		if (!l->v) {
			fprintf(stderr, "out of memory\n");
			exit(1);
		}
	}
	l->v[l->n++] = x;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(struct lat *l, double p)
{
	if (!l->n)
		return 0;
	size_t i = (size_t)(p * (double)(l->n - 1));
	return l->v[i];
}

static size_t discard(char *p, size_t s, size_t n, void *u)
{
	(void)p;
	(void)u;
	return s * n;
}

enum mode { M_PUT, M_RANGE, M_FILL };

struct client {
	CURL *h;
	char body[1024];
	double t0;
	long seq;
};

static char value_b64[VALUE_SIZE * 2];
static const char *base_url;
static struct curl_slist *hdrs;

static void prepare(struct client *c, enum mode m, int id, long *fill_next)
{
	char key[64], kb[128];
	if (m == M_RANGE) {
		snprintf(key, sizeof(key), "bench/range");
		b64(key, strlen(key), kb);
		snprintf(c->body, sizeof(c->body), "{\"key\":\"%s\"}", kb);
	} else {
		if (m == M_FILL)
			snprintf(key, sizeof(key), "bench/fill/%08ld", (*fill_next)++);
		else
			snprintf(key, sizeof(key), "bench/k/%08d", rand() % KEYSPACE);
		b64(key, strlen(key), kb);
		snprintf(c->body, sizeof(c->body), "{\"key\":\"%s\",\"value\":\"%s\"}", kb, value_b64);
	}
	char url[512];
	snprintf(url, sizeof(url), "%s%s", base_url, m == M_RANGE ? "/v3/kv/range" : "/v3/kv/put");
	curl_easy_setopt(c->h, CURLOPT_URL, url);
	curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, c->body);
	curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, (long)strlen(c->body));
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c->h, CURLOPT_PRIVATE, c);
	curl_easy_setopt(c->h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(c->h, CURLOPT_TIMEOUT, 30L);
	(void)id;
	c->t0 = now_s();
}

static void one_put(const char *key)
{
	CURL *h = curl_easy_init();
	char kb[128], body[1024], url[512];
	b64(key, strlen(key), kb);
	snprintf(body, sizeof(body), "{\"key\":\"%s\",\"value\":\"%s\"}", kb, value_b64);
	snprintf(url, sizeof(url), "%s/v3/kv/put", base_url);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_perform(h);
	curl_easy_cleanup(h);
}

/* Closed-loop clients until `seconds` pass (or `count` requests when count > 0). */
static int run_load(enum mode m, int nclients, double seconds, long count)
{
	CURLM *multi = curl_multi_init();
	struct client *cl = calloc((size_t)nclients, sizeof(*cl));
	struct lat lat = { 0 };
	long fill_next = 0, done = 0, errors = 0, started = 0;
	curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)nclients);
	if (m == M_RANGE)
		one_put("bench/range");
	double start = now_s(), end = start + seconds;
	for (int i = 0; i < nclients; i++) {
		cl[i].h = curl_easy_init();
		if (count > 0 && started >= count)
			break;
		prepare(&cl[i], m, i, &fill_next);
		curl_multi_add_handle(multi, cl[i].h);
		started++;
	}
	int running = 1;
	while (running) {
		curl_multi_perform(multi, &running);
		CURLMsg *msg;
		int q;
		while ((msg = curl_multi_info_read(multi, &q))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct client *c;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
			long status = 0;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
			double t = now_s();
			if (msg->data.result == CURLE_OK && status == 200) {
				lat_add(&lat, (t - c->t0) * 1000.0);
				done++;
			} else {
				errors++;
			}
			curl_multi_remove_handle(multi, c->h);
			bool more = count > 0 ? started < count : t < end;
			if (more) {
				prepare(c, m, 0, &fill_next);
				curl_multi_add_handle(multi, c->h);
				started++;
				running = 1;
			}
		}
		if (running)
			curl_multi_poll(multi, NULL, 0, 50, NULL);
	}
	double secs = now_s() - start;
	qsort(lat.v, lat.n, sizeof(double), cmpd);
	printf("ops=%ld secs=%.2f ops_per_s=%.0f p50_ms=%.2f p99_ms=%.2f errors=%ld\n", done, secs, done / secs,
	       pct(&lat, 0.50), pct(&lat, 0.99), errors);
	for (int i = 0; i < nclients; i++)
		if (cl[i].h)
			curl_easy_cleanup(cl[i].h);
	curl_multi_cleanup(multi);
	free(cl);
	free(lat.v);
	return errors ? 1 : 0;
}

/* ---- watch fan-out ---- */

struct watcher {
	CURL *h;
	long events;
	int created;
	char tail[16]; /* last bytes of the previous chunk, for markers split across chunks */
};

static size_t count_marker(const char *buf, size_t n, const char *mk)
{
	size_t c = 0, ml = strlen(mk);
	for (size_t i = 0; i + ml <= n; i++)
		if (memcmp(buf + i, mk, ml) == 0)
			c++;
	return c;
}

static size_t watch_write(char *p, size_t s, size_t n, void *u)
{
	struct watcher *w = u;
	size_t len = s * n;
	/* Count "\"kv\":" markers (one per event: no prev_kv asked) and the created flag;
	 * keys and values are base64, so the markers cannot occur inside them. */
	char *joined = malloc(len + sizeof(w->tail));
	size_t tl = strlen(w->tail);
	memcpy(joined, w->tail, tl);
	memcpy(joined + tl, p, len);
	w->events += (long)count_marker(joined, tl + len, "\"kv\":");
	if (count_marker(joined, tl + len, "\"created\":true"))
		w->created = 1;
	size_t keep = tl + len < 8 ? tl + len : 8;
	memcpy(w->tail, joined + tl + len - keep, keep);
	w->tail[keep] = 0;
	/* markers fully inside the kept tail were counted already: only keep a partial */
	if (strstr(w->tail, "\"kv\":"))
		w->tail[0] = 0;
	free(joined);
	return len;
}

static int run_watch(int nwatchers, double seconds)
{
	CURLM *multi = curl_multi_init();
	curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)nwatchers + 2);
	struct watcher *ws = calloc((size_t)nwatchers, sizeof(*ws));
	char url[512], kb[64], eb[64], body[256];
	b64("bench/w/", 8, kb);
	b64("bench/w0", 8, eb);
	snprintf(body, sizeof(body), "{\"create_request\":{\"key\":\"%s\",\"range_end\":\"%s\"}}", kb, eb);
	snprintf(url, sizeof(url), "%s/v3/watch", base_url);
	for (int i = 0; i < nwatchers; i++) {
		ws[i].h = curl_easy_init();
		curl_easy_setopt(ws[i].h, CURLOPT_URL, url);
		curl_easy_setopt(ws[i].h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(ws[i].h, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(ws[i].h, CURLOPT_WRITEFUNCTION, watch_write);
		curl_easy_setopt(ws[i].h, CURLOPT_WRITEDATA, &ws[i]);
		curl_multi_add_handle(multi, ws[i].h);
	}
	/* wait (bounded) until every watcher is created */
	int running;
	double deadline = now_s() + 10;
	for (;;) {
		curl_multi_perform(multi, &running);
		int n = 0;
		for (int i = 0; i < nwatchers; i++)
			n += ws[i].created;
		if (n == nwatchers || now_s() > deadline)
			break;
		curl_multi_poll(multi, NULL, 0, 20, NULL);
	}
	/* one writer, closed loop, in the same event loop */
	struct client wr = { .h = curl_easy_init() };
	long puts = 0, fill = 0, errors = 0;
	struct lat lat = { 0 };
	prepare(&wr, M_FILL, 0, &fill);
	/* keys bench/w/... : rewrite the body with the watched prefix */
	double start = now_s(), end = start + seconds, last_put = start;
	char key[64], kbuf[128];
	snprintf(key, sizeof(key), "bench/w/%08ld", fill);
	b64(key, strlen(key), kbuf);
	snprintf(wr.body, sizeof(wr.body), "{\"key\":\"%s\",\"value\":\"%s\"}", kbuf, value_b64);
	curl_easy_setopt(wr.h, CURLOPT_POSTFIELDSIZE, (long)strlen(wr.body));
	curl_multi_add_handle(multi, wr.h);
	int writing = 1;
	double drain_end = 0;
	for (;;) {
		curl_multi_perform(multi, &running);
		CURLMsg *msg;
		int q;
		while ((msg = curl_multi_info_read(multi, &q))) {
			if (msg->msg != CURLMSG_DONE || msg->easy_handle != wr.h)
				continue;
			long status = 0;
			curl_easy_getinfo(wr.h, CURLINFO_RESPONSE_CODE, &status);
			double t = now_s();
			if (msg->data.result == CURLE_OK && status == 200) {
				puts++;
				lat_add(&lat, (t - wr.t0) * 1000);
				last_put = t;
			} else {
				errors++;
			}
			curl_multi_remove_handle(multi, wr.h);
			if (t < end) {
				fill++;
				snprintf(key, sizeof(key), "bench/w/%08ld", fill);
				b64(key, strlen(key), kbuf);
				snprintf(wr.body, sizeof(wr.body), "{\"key\":\"%s\",\"value\":\"%s\"}", kbuf, value_b64);
				curl_easy_setopt(wr.h, CURLOPT_POSTFIELDS, wr.body);
				curl_easy_setopt(wr.h, CURLOPT_POSTFIELDSIZE, (long)strlen(wr.body));
				wr.t0 = t;
				curl_multi_add_handle(multi, wr.h);
			} else {
				writing = 0;
				drain_end = t + 10; /* at most 10 s for the backlog to drain */
			}
		}
		long delivered = 0;
		for (int i = 0; i < nwatchers; i++)
			delivered += ws[i].events;
		if (!writing && (delivered >= puts * nwatchers || now_s() > drain_end))
			break;
		curl_multi_poll(multi, NULL, 0, 20, NULL);
	}
	double t_end = now_s();
	long delivered = 0;
	for (int i = 0; i < nwatchers; i++)
		delivered += ws[i].events;
	double secs = t_end - start;
	(void)last_put;
	qsort(lat.v, lat.n, sizeof(double), cmpd);
	long expected = puts * nwatchers;
	printf("puts=%ld delivered=%ld secs=%.2f events_per_s=%.0f lost=%ld p50_ms=%.2f p99_ms=%.2f errors=%ld\n", puts,
	       delivered, secs, delivered / secs, expected > delivered ? expected - delivered : 0, pct(&lat, 0.5),
	       pct(&lat, 0.99), errors);
	for (int i = 0; i < nwatchers; i++) {
		curl_multi_remove_handle(multi, ws[i].h);
		curl_easy_cleanup(ws[i].h);
	}
	curl_easy_cleanup(wr.h);
	curl_multi_cleanup(multi);
	free(ws);
	free(lat.v);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: loadgen put|range|fill|watch URL N SECONDS|COUNT\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	srand(12345);
	char v[VALUE_SIZE];
	memset(v, 'x', sizeof(v));
	b64(v, sizeof(v), value_b64);
	base_url = argv[2];
	hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:");
	int n = atoi(argv[3]);
	double arg = atof(argv[4]);
	if (n <= 0 || arg <= 0) {
		fprintf(stderr, "bad N or SECONDS\n");
		return 2;
	}
	int rc;
	if (strcmp(argv[1], "put") == 0)
		rc = run_load(M_PUT, n, arg, 0);
	else if (strcmp(argv[1], "range") == 0)
		rc = run_load(M_RANGE, n, arg, 0);
	else if (strcmp(argv[1], "fill") == 0)
		rc = run_load(M_FILL, n, 1e9, (long)arg);
	else if (strcmp(argv[1], "watch") == 0)
		rc = run_watch(n, arg);
	else {
		fprintf(stderr, "unknown mode %s\n", argv[1]);
		return 2;
	}
	curl_slist_free_all(hdrs);
	curl_global_cleanup();
	return rc;
}
