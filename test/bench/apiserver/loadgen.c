/* Load generator for the kube-apiserver benchmark (issue 5 item 10), libcurl over HTTPS.
 *
 * One run does, against API (bearer token, CA file):
 *   1. setup: namespaces bench-0..bench-{NS-1} and bench-fill; POOL pods per namespace;
 *   2. opens WATCHES pod watches from the list's resourceVersion (so only later events count),
 *      held by one thread with curl_multi_socket_action + epoll (no thread or poll() pass
 *      per watch); each watch counts the events it gets by type;
 *   3. a mixed load at QPS requests/s (open loop: request k is due at start + k/QPS and is sent
 *      by the first idle one of CLIENTS connections) for SECS seconds: create, get, list (one
 *      namespace), merge patch of a label, delete; an operation on an existing pod picks a live
 *      pod that no other request is touching, so every error reported is a real one;
 *   4. waits (bounded, 15 s) until every watch has every event the successful mutations
 *      imply, then prints expected vs delivered by type;
 *   5. closes the watches and creates pods in bench-fill at FILL_CLIENTS concurrency until
 *      the cluster stores FILL pods, then counts them with a full list and reads the
 *      apiserver's RSS from /proc/APIPID/status.
 *
 * Watch mix (i = 0..WATCHES-1): i%100 == 0 watches all namespaces; i%100 in 1..9 watches one
 * namespace; the rest watch one namespace with labelSelector shard=<k> (as kubelets watch
 * their own pods through a selector). Every pod carries a shard label in 0..SHARDS-1, never
 * patched, so a pod's matching watches are fixed and the expected fan-out is exact.
 *
 * Usage: loadgen API TOKEN CAFILE APIPID   (sizes from the BENCH_* environment, see run.sh)
 * Output: key=value lines ("verb=create ok=.. errors=.. qps=.. p50_ms=.. p99_ms=..",
 * "watch ...", "fill ...", "rss ..."). Build: cc -O2 -o loadgen loadgen.c -lcurl -lcjson -pthread
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);
	if (!p) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	return p;
}

static unsigned long long rng_state = 0x9E3779B97F4A7C15ULL;
static unsigned rnd(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return n ? (unsigned)(rng_state % n) : 0;
}

static long env_long_min(const char *name, long def, long min)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return def;
	char *end;
	long x = strtol(v, &end, 10);
	if (*end || x < min) {
		fprintf(stderr, "bad %s=%s\n", name, v);
		exit(2);
	}
	return x;
}

static long env_long(const char *name, long def)
{
	return env_long_min(name, def, 1);
}

/* ---- configuration ---- */

static const char *api, *cafile, *apipid;
static char auth_hdr[512];
static long cfg_timeout, cfg_watches, cfg_qps, cfg_secs, cfg_clients, cfg_ns, cfg_pool, cfg_shards, cfg_fill,
	cfg_fill_clients;

/* ---- latency samples ---- */

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
	return l->v[(size_t)(p * (double)(l->n - 1) + 0.5)];
}

/* ---- pods the load knows about ---- */

struct pod {
	int ns, shard;
	int busy; /* a request on it is in flight */
	long pos; /* index in live[ns], -1 when not live */
	long rev;
};

static struct pod *pods;
static long npods, podcap;
static long **live;
static long *nlive, *livecap;

static long pod_new(int ns)
{
	if (npods == podcap) {
		podcap = podcap ? podcap * 2 : 65536;
		pods = realloc(pods, (size_t)podcap * sizeof(*pods));
		if (!pods) {
			fprintf(stderr, "out of memory\n");
			exit(1);
		}
	}
	struct pod *p = &pods[npods];
	p->ns = ns;
	p->shard = (int)rnd((unsigned)cfg_shards);
	p->busy = 1;
	p->pos = -1;
	p->rev = 0;
	return npods++;
}

static void live_add(long id)
{
	int ns = pods[id].ns;
	if (nlive[ns] == livecap[ns]) {
		livecap[ns] = livecap[ns] ? livecap[ns] * 2 : 1024;
		live[ns] = realloc(live[ns], (size_t)livecap[ns] * sizeof(long));
		if (!live[ns]) {
			fprintf(stderr, "out of memory\n");
			exit(1);
		}
	}
	pods[id].pos = nlive[ns];
	live[ns][nlive[ns]++] = id;
}

static void live_del(long id)
{
	int ns = pods[id].ns;
	long pos = pods[id].pos;
	if (pos < 0)
		return;
	long last = live[ns][--nlive[ns]];
	live[ns][pos] = last;
	pods[last].pos = pos;
	pods[id].pos = -1;
}

/* A live pod no request is touching, or -1. */
static long pick_idle(int ns)
{
	for (int tries = 0; tries < 16 && nlive[ns] > 0; tries++) {
		long id = live[ns][rnd((unsigned)nlive[ns])];
		if (!pods[id].busy)
			return id;
	}
	return -1;
}

static void ns_name(int ns, char *buf, size_t n)
{
	if (ns == (int)cfg_ns)
		snprintf(buf, n, "bench-fill");
	else
		snprintf(buf, n, "bench-%d", ns);
}

/* ---- blocking request for setup and counting ---- */

struct buf {
	char *p;
	size_t n, cap;
};

static size_t buf_write(char *p, size_t s, size_t n, void *u)
{
	struct buf *b = u;
	size_t len = s * n;
	if (b->n + len + 1 > b->cap) {
		size_t nc = (b->cap ? b->cap * 2 : 65536);
		while (nc < b->n + len + 1)
			nc *= 2;
		char *q = realloc(b->p, nc);
		if (!q)
			return 0;
		b->p = q;
		b->cap = nc;
	}
	memcpy(b->p + b->n, p, len);
	b->n += len;
	b->p[b->n] = 0;
	return len;
}

static size_t discard(char *p, size_t s, size_t n, void *u)
{
	(void)p;
	(void)u;
	return s * n;
}

static struct curl_slist *h_json, *h_merge, *h_get;

static void common_opts(CURL *h)
{
	curl_easy_setopt(h, CURLOPT_CAINFO, cafile);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
}

/* method GET/POST; body may be NULL. Returns the HTTP code (0 on transport error). */
static long simple(const char *method, const char *path, const char *body, struct buf *out)
{
	CURL *h = curl_easy_init();
	char url[1024];
	snprintf(url, sizeof(url), "%s%s", api, path);
	common_opts(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, body ? h_json : h_get);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
	if (body)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	if (strcmp(method, "GET") && strcmp(method, "POST"))
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, out ? buf_write : discard);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
	long code = 0;
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(h);
	return code;
}

/* Full list of a pods URL: count of items and the list's resourceVersion. */
static long list_count(const char *path, char *rv, size_t rvn)
{
	struct buf b = { 0 };
	long code = simple("GET", path, NULL, &b);
	long n = -1;
	if (code == 200 && b.p) {
		cJSON *j = cJSON_Parse(b.p);
		cJSON *items = cJSON_GetObjectItem(j, "items");
		if (cJSON_IsArray(items))
			n = cJSON_GetArraySize(items);
		cJSON *md = cJSON_GetObjectItem(j, "metadata");
		cJSON *r = cJSON_GetObjectItem(md, "resourceVersion");
		if (rv && cJSON_IsString(r))
			snprintf(rv, rvn, "%s", r->valuestring);
		cJSON_Delete(j);
	} else {
		fprintf(stderr, "list %s: HTTP %ld %.300s\n", path, code, b.p ? b.p : "");
	}
	free(b.p);
	return n;
}

/* ---- the request engine ---- */

enum verb { V_CREATE, V_GET, V_LIST, V_PATCH, V_DELETE, NVERB };
static const char *const vname[NVERB] = { "create", "get", "list", "patch", "delete" };
/* Mix in percent; creates outnumber deletes so the pool does not drain. */
static const int vmix[NVERB] = { 20, 35, 10, 20, 15 };

struct vstat {
	long ok, err;
	long codes[8]; /* by code/100; [0] transport errors */
	struct lat lat;
	struct lat lat_due; /* from the due time: includes waiting for an idle client */
};

struct client {
	CURL *h;
	int busy;
	enum verb v;
	long pod;
	int ns;
	double t0, due;
	char url[512];
	char body[2048];
};

/* Watch fan-out, fixed before the load starts: n_all + n_ns[ns] + n_sel[ns][shard]. */
static long n_all, *n_ns, *n_sel;
static long expect_type[3]; /* ADDED MODIFIED DELETED, written by the load thread only */
/* Successful mutations by type, namespace and shard: each watch's own expectation. */
static long *muts[3];

static void count_mutation(int type, const struct pod *p)
{
	if (muts[type] && p->ns < (int)cfg_ns)
		muts[type][(long)p->ns * cfg_shards + p->shard]++;
}

static long fanout(const struct pod *p)
{
	if (!n_ns) /* before the watches exist (the pool) */
		return 0;
	if (p->ns >= (int)cfg_ns)
		return n_all;
	return n_all + n_ns[p->ns] + n_sel[(long)p->ns * cfg_shards + p->shard];
}

static const char *image_names[] = { "registry.k8s.io/pause:3.10", "nginx:1.27", "busybox:1.36" };

static void pod_body(char *out, size_t n, long id)
{
	const struct pod *p = &pods[id];
	char ns[64];
	ns_name(p->ns, ns, sizeof(ns));
	/* A pod shaped like a small real workload: labels, one container with requests, a port,
	 * an env var and a probe (about 700 bytes before defaulting). */
	snprintf(out, n,
		 "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"pod-%ld\",\"namespace\":\"%s\","
		 "\"labels\":{\"app\":\"bench\",\"shard\":\"%d\",\"rev\":\"0\"},"
		 "\"annotations\":{\"bench.kubec.io/owner\":\"loadgen\"}},"
		 "\"spec\":{\"containers\":[{\"name\":\"main\",\"image\":\"%s\","
		 "\"ports\":[{\"name\":\"http\",\"containerPort\":8080,\"protocol\":\"TCP\"}],"
		 "\"env\":[{\"name\":\"POD_ID\",\"value\":\"%ld\"}],"
		 "\"resources\":{\"requests\":{\"cpu\":\"10m\",\"memory\":\"16Mi\"},\"limits\":{\"memory\":\"32Mi\"}},"
		 "\"readinessProbe\":{\"httpGet\":{\"path\":\"/healthz\",\"port\":8080},\"periodSeconds\":10}}],"
		 "\"restartPolicy\":\"Always\",\"terminationGracePeriodSeconds\":5}}",
		 id, ns, p->shard, image_names[id % 3], id);
}

static void client_start(CURLM *m, struct client *c, enum verb v, int ns, long pod)
{
	char nsn[64];
	ns_name(ns, nsn, sizeof(nsn));
	c->v = v;
	c->ns = ns;
	c->pod = pod;
	c->busy = 1;
	curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, NULL);
	switch (v) {
	case V_CREATE:
		snprintf(c->url, sizeof(c->url), "%s/api/v1/namespaces/%s/pods", api, nsn);
		pod_body(c->body, sizeof(c->body), pod);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, c->body);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, (long)strlen(c->body));
		curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, h_json);
		break;
	case V_GET:
	case V_DELETE:
		snprintf(c->url, sizeof(c->url), "%s/api/v1/namespaces/%s/pods/pod-%ld", api, nsn, pod);
		curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, h_get);
		if (v == V_DELETE)
			curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, "DELETE");
		break;
	case V_LIST:
		snprintf(c->url, sizeof(c->url), "%s/api/v1/namespaces/%s/pods", api, nsn);
		curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, h_get);
		break;
	case V_PATCH:
		/* A new value every time: a merge patch that changes nothing is a no-op upstream
		 * (no new resourceVersion, no watch event). */
		snprintf(c->url, sizeof(c->url), "%s/api/v1/namespaces/%s/pods/pod-%ld", api, nsn, pod);
		snprintf(c->body, sizeof(c->body), "{\"metadata\":{\"labels\":{\"rev\":\"%ld\"}}}",
			 pods[pod].rev + 1);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, c->body);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, (long)strlen(c->body));
		curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, h_merge);
		curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, "PATCH");
		break;
	default:
		break;
	}
	curl_easy_setopt(c->h, CURLOPT_URL, c->url);
	c->t0 = now_s();
	curl_multi_add_handle(m, c->h);
}

/* Picks the next operation by the mix; falls back to a create when no idle pod exists. */
static void dispatch_mixed(CURLM *m, struct client *c)
{
	unsigned r = rnd(100), acc = 0;
	enum verb v = V_CREATE;
	for (int i = 0; i < NVERB; i++) {
		acc += (unsigned)vmix[i];
		if (r < acc) {
			v = (enum verb)i;
			break;
		}
	}
	int ns = (int)rnd((unsigned)cfg_ns);
	long pod = -1;
	if (v == V_GET || v == V_PATCH || v == V_DELETE) {
		pod = pick_idle(ns);
		if (pod < 0)
			v = V_CREATE;
	}
	if (v == V_CREATE)
		pod = pod_new(ns);
	if (pod >= 0)
		pods[pod].busy = 1;
	if (v == V_DELETE)
		live_del(pod);
	client_start(m, c, v, ns, pod);
}

static void client_done(struct client *c, CURLcode res, struct vstat *st)
{
	long code = 0;
	if (res == CURLE_OK)
		curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &code);
	double ms = (now_s() - c->t0) * 1000.0;
	int ok = code >= 200 && code < 300;
	struct vstat *s = &st[c->v];
	s->codes[code / 100 < 8 ? code / 100 : 0]++;
	if (ok) {
		s->ok++;
		lat_add(&s->lat, ms);
		lat_add(&s->lat_due, (now_s() - c->due) * 1000.0);
	} else {
		s->err++;
		if (s->err <= 3)
			fprintf(stderr, "%s %s: %s HTTP %ld\n", vname[c->v], c->url, curl_easy_strerror(res), code);
	}
	if (c->pod >= 0) {
		struct pod *p = &pods[c->pod];
		p->busy = 0;
		if (ok) {
			switch (c->v) {
			case V_CREATE:
				live_add(c->pod);
				expect_type[0] += fanout(p);
				count_mutation(0, p);
				break;
			case V_PATCH:
				p->rev++;
				expect_type[1] += fanout(p);
				count_mutation(1, p);
				break;
			case V_DELETE:
				expect_type[2] += fanout(p);
				count_mutation(2, p);
				break;
			default:
				break;
			}
		}
	}
	c->busy = 0;
}

/* Closed loop (qps <= 0: each idle client sends at once) or open loop at qps, for `secs`
 * seconds or until `count` operations were started (count > 0). only_ns >= 0: creates only,
 * in that namespace. Returns the seconds the phase took; `late` counts requests sent more than
 * 10 ms after their due time because no client was idle (latency is measured from the send). */
struct phase_times {
	double send_secs; /* start to the last request sent */
	double ok_secs;   /* start to the last successful answer */
};

static double run_phase(struct vstat *st, long nclients, double qps, double secs, long count, int only_ns,
			long *late, struct phase_times *pt)
{
	double last_send = 0, last_ok = 0;
	CURLM *m = curl_multi_init();
	struct client *cl = xcalloc((size_t)nclients, sizeof(*cl));
	for (long i = 0; i < nclients; i++) {
		cl[i].h = curl_easy_init();
		common_opts(cl[i].h);
		curl_easy_setopt(cl[i].h, CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(cl[i].h, CURLOPT_PRIVATE, &cl[i]);
		curl_easy_setopt(cl[i].h, CURLOPT_TIMEOUT, cfg_timeout);
	}
	long started = 0, inflight = 0;
	double start = now_s(), end = start + secs;
	if (late)
		*late = 0;
	for (;;) {
		double t = now_s();
		bool more = count > 0 ? started < count : t < end;
		/* start everything that is due */
		while (more) {
			if (qps > 0 && t < start + (double)started / qps)
				break;
			long i;
			for (i = 0; i < nclients && cl[i].busy; i++)
				;
			if (i == nclients)
				break; /* all busy: the request waits for a client */
			double due = qps > 0 ? start + (double)started / qps : t;
			if (qps > 0 && late && t > due + 0.010)
				(*late)++; /* sent more than 10 ms after its due time */
			cl[i].due = due;
			if (only_ns >= 0)
				client_start(m, &cl[i], V_CREATE, only_ns, pod_new(only_ns));
			else
				dispatch_mixed(m, &cl[i]);
			started++;
			inflight++;
			last_send = t;
			more = count > 0 ? started < count : t < end;
		}
		if (!more && inflight == 0)
			break;
		int running;
		curl_multi_perform(m, &running);
		CURLMsg *msg;
		int q;
		while ((msg = curl_multi_info_read(m, &q))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct client *c;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
			CURLcode res = msg->data.result;
			curl_multi_remove_handle(m, c->h);
			long ok_before = st[c->v].ok;
			client_done(c, res, st);
			if (st[c->v].ok > ok_before)
				last_ok = now_s();
			inflight--;
		}
		int wait_ms = 20;
		/* With every client busy, sleep until an answer arrives (curl_multi_poll wakes on
		 * socket activity): a zero timeout here would spin a core the server needs. */
		if (qps > 0 && more && inflight < nclients) {
			double due = start + (double)started / qps - now_s();
			wait_ms = due <= 0 ? 0 : (int)(due * 1000.0) + 1;
			if (wait_ms > 20)
				wait_ms = 20;
		}
		curl_multi_poll(m, NULL, 0, wait_ms, NULL);
	}
	double took = now_s() - start;
	if (pt) {
		pt->send_secs = last_send > start ? last_send - start : took;
		pt->ok_secs = last_ok > start ? last_ok - start : took;
	}
	for (long i = 0; i < nclients; i++)
		curl_easy_cleanup(cl[i].h);
	curl_multi_cleanup(m);
	free(cl);
	return took;
}

/* ---- watches: one thread, epoll + curl_multi_socket_action ---- */

#define HEADN 48

struct watcher {
	CURL *h;
	int ns, shard; /* ns -1: all namespaces; shard -1: no selector */
	char url[512];
	long cnt[5]; /* ADDED MODIFIED DELETED BOOKMARK ERROR; atomically updated */
	long other;
	int status; /* HTTP status from the header */
	int closed; /* the stream ended before we closed it */
	char head[HEADN + 1];
	int hl;
};

static struct watcher *ws;
static int wstop;
static int wl_ep;
static double wl_timer_at = -1; /* when libcurl wants CURL_SOCKET_TIMEOUT */
static CURLM *wl_multi;
static long watches_closed_early;

static void classify(struct watcher *w)
{
	static const char *const types[5] = { "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR" };
	if (w->hl == 0)
		return;
	w->head[w->hl] = 0;
	char *t = strstr(w->head, "\"type\":\"");
	if (t) {
		t += 8;
		for (int i = 0; i < 5; i++) {
			size_t l = strlen(types[i]);
			if (!strncmp(t, types[i], l) && t[l] == '"') {
				__atomic_add_fetch(&w->cnt[i], 1, __ATOMIC_RELAXED);
				return;
			}
		}
	}
	w->other++;
}

/* Counts one event per line; only the first HEADN bytes of a line are kept. */
static size_t w_write(char *p, size_t s, size_t n, void *u)
{
	struct watcher *w = u;
	size_t len = s * n, i = 0;
	while (i < len) {
		char *nl;
		if (w->hl < HEADN) {
			size_t take = len - i < (size_t)(HEADN - w->hl) ? len - i : (size_t)(HEADN - w->hl);
			nl = memchr(p + i, '\n', take);
			size_t cp = nl ? (size_t)(nl - (p + i)) : take;
			memcpy(w->head + w->hl, p + i, cp);
			w->hl += (int)cp;
			i += cp;
			if (nl) {
				classify(w);
				w->hl = 0;
				i++;
			}
			continue;
		}
		nl = memchr(p + i, '\n', len - i);
		if (!nl)
			break;
		classify(w);
		w->hl = 0;
		i = (size_t)(nl - p) + 1;
	}
	return len;
}

static size_t w_header(char *p, size_t s, size_t n, void *u)
{
	struct watcher *w = u;
	int code;
	if (s * n > 9 && !strncmp(p, "HTTP/", 5) && sscanf(p, "HTTP/%*s %d", &code) == 1)
		__atomic_store_n(&w->status, code, __ATOMIC_RELAXED);
	return s * n;
}

static int sock_cb(CURL *e, curl_socket_t sfd, int what, void *userp, void *socketp)
{
	(void)e;
	(void)userp;
	struct epoll_event ev = { 0 };
	ev.data.fd = sfd;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(wl_ep, EPOLL_CTL_DEL, sfd, NULL);
		curl_multi_assign(wl_multi, sfd, NULL);
		return 0;
	}
	ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0);
	if (!socketp) {
		if (epoll_ctl(wl_ep, EPOLL_CTL_ADD, sfd, &ev) < 0 && errno == EEXIST)
			epoll_ctl(wl_ep, EPOLL_CTL_MOD, sfd, &ev);
		curl_multi_assign(wl_multi, sfd, (void *)1);
	} else {
		epoll_ctl(wl_ep, EPOLL_CTL_MOD, sfd, &ev);
	}
	return 0;
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	(void)m;
	(void)userp;
	wl_timer_at = timeout_ms < 0 ? -1 : now_s() + (double)timeout_ms / 1000.0;
	return 0;
}

static void w_check_done(void)
{
	CURLMsg *msg;
	int q;
	while ((msg = curl_multi_info_read(wl_multi, &q))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		struct watcher *w;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&w);
		w->closed = 1;
		if (__atomic_add_fetch(&watches_closed_early, 1, __ATOMIC_RELAXED) <= 3)
			fprintf(stderr, "watch %s ended: %s (HTTP %d)\n", w->url, curl_easy_strerror(msg->data.result),
				w->status);
		curl_multi_remove_handle(wl_multi, w->h);
	}
}

static void *watch_thread(void *arg)
{
	(void)arg;
	struct epoll_event evs[128];
	int running;
	curl_multi_socket_action(wl_multi, CURL_SOCKET_TIMEOUT, 0, &running);
	while (!__atomic_load_n(&wstop, __ATOMIC_RELAXED)) {
		int wait_ms = 100;
		if (wl_timer_at >= 0) {
			double d = (wl_timer_at - now_s()) * 1000.0;
			wait_ms = d <= 0 ? 0 : d >= 100 ? 100 : (int)d + 1;
		}
		int n = epoll_wait(wl_ep, evs, 128, wait_ms);
		for (int i = 0; i < n; i++) {
			int flags = 0;
			if (evs[i].events & EPOLLIN)
				flags |= CURL_CSELECT_IN;
			if (evs[i].events & EPOLLOUT)
				flags |= CURL_CSELECT_OUT;
			if (evs[i].events & (EPOLLERR | EPOLLHUP))
				flags |= CURL_CSELECT_ERR;
			curl_multi_socket_action(wl_multi, evs[i].data.fd, flags, &running);
		}
		if (wl_timer_at >= 0 && now_s() >= wl_timer_at) {
			wl_timer_at = -1;
			curl_multi_socket_action(wl_multi, CURL_SOCKET_TIMEOUT, 0, &running);
		}
		w_check_done();
	}
	return NULL;
}

/* What watch w should have got of one event type, from the successful mutations. */
static long w_expected(const struct watcher *w, int type)
{
	long e = 0;
	for (long ns = 0; ns < cfg_ns; ns++) {
		if (w->ns >= 0 && ns != w->ns)
			continue;
		for (long sh = 0; sh < cfg_shards; sh++)
			if (w->shard < 0 || sh == w->shard)
				e += muts[type][ns * cfg_shards + sh];
	}
	return e;
}

static long w_sum(int type)
{
	long s = 0;
	for (long i = 0; i < cfg_watches; i++)
		s += __atomic_load_n(&ws[i].cnt[type], __ATOMIC_RELAXED);
	return s;
}

static void open_watches(const char *rv)
{
	n_ns = xcalloc((size_t)cfg_ns, sizeof(long));
	n_sel = xcalloc((size_t)(cfg_ns * cfg_shards), sizeof(long));
	for (int t = 0; t < 3; t++)
		muts[t] = xcalloc((size_t)(cfg_ns * cfg_shards), sizeof(long));
	ws = xcalloc((size_t)cfg_watches, sizeof(*ws));
	wl_ep = epoll_create1(EPOLL_CLOEXEC);
	wl_multi = curl_multi_init();
	curl_multi_setopt(wl_multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(wl_multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(wl_multi, CURLMOPT_MAXCONNECTS, cfg_watches + 16);
	for (long i = 0; i < cfg_watches; i++) {
		struct watcher *w = &ws[i];
		long kind = i % 100;
		int ns = (int)((i / 100 + i) % cfg_ns);
		w->ns = -1;
		w->shard = -1;
		if (kind == 0) {
			n_all++;
			snprintf(w->url, sizeof(w->url), "%s/api/v1/pods?watch=1&resourceVersion=%s&timeoutSeconds=3600",
				 api, rv);
		} else if (kind < 10) {
			n_ns[ns]++;
			w->ns = ns;
			snprintf(w->url, sizeof(w->url),
				 "%s/api/v1/namespaces/bench-%d/pods?watch=1&resourceVersion=%s&timeoutSeconds=3600", api,
				 ns, rv);
		} else {
			int shard = (int)((i / cfg_ns) % cfg_shards);
			n_sel[(long)ns * cfg_shards + shard]++;
			w->ns = ns;
			w->shard = shard;
			snprintf(w->url, sizeof(w->url),
				 "%s/api/v1/namespaces/bench-%d/pods?watch=1&resourceVersion=%s&timeoutSeconds=3600"
				 "&labelSelector=shard%%3D%d",
				 api, ns, rv, shard);
		}
		w->h = curl_easy_init();
		common_opts(w->h);
		curl_easy_setopt(w->h, CURLOPT_URL, w->url);
		curl_easy_setopt(w->h, CURLOPT_HTTPHEADER, h_get);
		curl_easy_setopt(w->h, CURLOPT_WRITEFUNCTION, w_write);
		curl_easy_setopt(w->h, CURLOPT_WRITEDATA, w);
		curl_easy_setopt(w->h, CURLOPT_HEADERFUNCTION, w_header);
		curl_easy_setopt(w->h, CURLOPT_HEADERDATA, w);
		curl_easy_setopt(w->h, CURLOPT_PRIVATE, w);
		curl_easy_setopt(w->h, CURLOPT_CONNECTTIMEOUT, 30L);
		curl_multi_add_handle(wl_multi, w->h);
	}
}

static void read_rss(long *rss_kb, long *hwm_kb)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%s/status", apipid);
	*rss_kb = *hwm_kb = -1;
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "VmRSS: %ld", rss_kb);
		sscanf(line, "VmHWM: %ld", hwm_kb);
	}
	fclose(f);
}

/* utime + stime of the apiserver, seconds */
static double api_cpu_s(void)
{
	char path[64], line[2048];
	snprintf(path, sizeof(path), "/proc/%s/stat", apipid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	double r = -1;
	if (fgets(line, sizeof(line), f)) {
		char *p = strrchr(line, ')');
		unsigned long ut, stt;
		/* fields after "comm)": state(3) ... utime(14) stime(15) */
		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &stt) == 2)
			r = (double)(ut + stt) / (double)sysconf(_SC_CLK_TCK);
	}
	fclose(f);
	return r;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void print_verbs(struct vstat *st, double secs, const char *prefix)
{
	for (int v = 0; v < NVERB; v++) {
		struct vstat *s = &st[v];
		if (!s->ok && !s->err)
			continue;
		qsort(s->lat.v, s->lat.n, sizeof(double), cmpd);
		qsort(s->lat_due.v, s->lat_due.n, sizeof(double), cmpd);
		printf("%sverb=%s ok=%ld errors=%ld qps=%.1f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f p99_due_ms=%.2f "
		       "codes=%ld/%ld/%ld/%ld\n",
		       prefix, vname[v], s->ok, s->err, s->ok / secs, pct(&s->lat, 0.5), pct(&s->lat, 0.99),
		       s->lat.n ? s->lat.v[s->lat.n - 1] : 0.0, pct(&s->lat_due, 0.99), s->codes[2], s->codes[4],
		       s->codes[5], s->codes[0]);
	}
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: loadgen API TOKEN CAFILE APIPID\n");
		return 2;
	}
	api = argv[1];
	snprintf(auth_hdr, sizeof(auth_hdr), "Authorization: Bearer %s", argv[2]);
	cafile = argv[3];
	apipid = argv[4];
	cfg_watches = env_long_min("BENCH_WATCHES", 1000, 0); /* 0: a baseline without watches */
	cfg_qps = env_long("BENCH_QPS", 500);
	cfg_secs = env_long("BENCH_SECS", 20);
	cfg_clients = env_long("BENCH_CLIENTS", 32);
	cfg_ns = env_long("BENCH_NAMESPACES", 10);
	cfg_pool = env_long("BENCH_POOL", 50);
	cfg_shards = env_long("BENCH_SHARDS", 100);
	cfg_fill = env_long("BENCH_PODS", 10000);
	cfg_fill_clients = env_long("BENCH_FILL_CLIENTS", 64);
	cfg_timeout = env_long("BENCH_TIMEOUT", 15);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	h_get = curl_slist_append(NULL, auth_hdr);
	h_get = curl_slist_append(h_get, "Accept: application/json");
	h_json = curl_slist_append(NULL, auth_hdr);
	h_json = curl_slist_append(h_json, "Accept: application/json");
	h_json = curl_slist_append(h_json, "Content-Type: application/json");
	h_json = curl_slist_append(h_json, "Expect:");
	h_merge = curl_slist_append(NULL, auth_hdr);
	h_merge = curl_slist_append(h_merge, "Accept: application/json");
	h_merge = curl_slist_append(h_merge, "Content-Type: application/merge-patch+json");
	h_merge = curl_slist_append(h_merge, "Expect:");
	live = xcalloc((size_t)cfg_ns + 1, sizeof(long *));
	nlive = xcalloc((size_t)cfg_ns + 1, sizeof(long));
	livecap = xcalloc((size_t)cfg_ns + 1, sizeof(long));

	/* 1. setup */
	for (long i = 0; i <= cfg_ns; i++) {
		char body[128], nsn[64];
		ns_name((int)i, nsn, sizeof(nsn));
		snprintf(body, sizeof(body), "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}",
			 nsn);
		long code = simple("POST", "/api/v1/namespaces", body, NULL);
		if (code != 201 && code != 409) {
			fprintf(stderr, "create namespace %s: HTTP %ld\n", nsn, code);
			return 1;
		}
	}
	struct vstat setup[NVERB];
	memset(setup, 0, sizeof(setup));
	for (long i = 0; i < cfg_ns; i++)
		run_phase(setup, cfg_clients, 0, 0, cfg_pool, (int)i, NULL, NULL);
	if (setup[V_CREATE].err) {
		fprintf(stderr, "setup: %ld pod creates failed\n", setup[V_CREATE].err);
		return 1;
	}
	char rv[64] = "";
	if (list_count("/api/v1/pods", rv, sizeof(rv)) < 0 || !rv[0]) {
		fprintf(stderr, "setup: cannot list pods\n");
		return 1;
	}
	printf("setup namespaces=%ld pool_pods=%ld rv=%s\n", cfg_ns, setup[V_CREATE].ok, rv);
	fflush(stdout);

	/* 2. watches */
	double t_open = now_s();
	open_watches(rv);
	pthread_t wt;
	pthread_create(&wt, NULL, watch_thread, NULL);
	long established = 0;
	while (now_s() < t_open + 60) {
		established = 0;
		for (long i = 0; i < cfg_watches; i++)
			established += __atomic_load_n(&ws[i].status, __ATOMIC_RELAXED) == 200;
		if (established == cfg_watches)
			break;
		usleep(50 * 1000);
	}
	double open_secs = now_s() - t_open;
	long rss0, hwm0;
	read_rss(&rss0, &hwm0);
	printf("watches opened=%ld established=%ld secs=%.2f all_ns=%ld apiserver_rss_kb=%ld\n", cfg_watches,
	       established, open_secs, n_all, rss0);
	fflush(stdout);

	/* 3. mixed load */
	struct vstat st[NVERB];
	memset(st, 0, sizeof(st));
	long late = 0;
	double cpu0 = cpu_s(), acpu0 = api_cpu_s();
	struct phase_times pt;
	double secs = run_phase(st, cfg_clients, (double)cfg_qps, (double)cfg_secs, 0, -1, &late, &pt);
	double acpu = api_cpu_s() - acpu0;
	long total = 0, errs = 0;
	for (int v = 0; v < NVERB; v++) {
		total += st[v].ok + st[v].err;
		errs += st[v].err;
	}
	/* Rates over the sending window (BENCH_SECS); `secs` also covers the wait for the last
	 * answers (up to BENCH_TIMEOUT when a request hangs). */
	double win = pt.send_secs > 1 ? pt.send_secs : secs;
	printf("load target_qps=%ld achieved_qps=%.1f send_secs=%.2f secs=%.2f clients=%ld late=%ld errors=%ld "
	       "timeout_s=%ld apiserver_cpu_s=%.1f apiserver_cores=%.2f\n",
	       cfg_qps, total / win, pt.send_secs, secs, cfg_clients, late, errs, cfg_timeout, acpu, acpu / secs);
	print_verbs(st, win, "");
	fflush(stdout);

	/* 4. drain the watches: wait (bounded) for every expected event */
	double t_drain = now_s(), drained = -1;
	while (now_s() < t_drain + 15) {
		if (w_sum(0) >= expect_type[0] && w_sum(1) >= expect_type[1] && w_sum(2) >= expect_type[2]) {
			drained = now_s() - t_drain;
			break;
		}
		usleep(20 * 1000);
	}
	long rss1, hwm1;
	read_rss(&rss1, &hwm1);
	__atomic_store_n(&wstop, 1, __ATOMIC_RELAXED);
	pthread_join(wt, NULL);
	long lost = 0, extra = 0, other = 0;
	const char *tn[3] = { "added", "modified", "deleted" };
	for (int t = 0; t < 3; t++) {
		long d = w_sum(t);
		printf("watch_%s expected=%ld delivered=%ld\n", tn[t], expect_type[t], d);
		if (d < expect_type[t])
			lost += expect_type[t] - d;
		else
			extra += d - expect_type[t];
	}
	long lossy = 0, w_lost = 0, w_extra = 0, short_watches = 0;
	for (long i = 0; i < cfg_watches; i++)
		other += ws[i].other;
	/* Per watch: every successful mutation of a pod it matches must have reached it, once.
	 * (The totals above could hide a loss on one watch behind a duplicate on another.) */
	for (long i = 0; i < cfg_watches; i++) {
		lossy += ws[i].closed || ws[i].cnt[4] > 0 || ws[i].status != 200;
		int is_short = 0;
		for (int t = 0; t < 3; t++) {
			long e = w_expected(&ws[i], t), g = ws[i].cnt[t];
			if (g < e) {
				w_lost += e - g;
				is_short = 1;
			} else {
				w_extra += g - e;
			}
		}
		short_watches += is_short;
	}
	printf("watch_per_watch lost=%ld extra=%ld short_watches=%ld\n", w_lost, w_extra, short_watches);
	printf("watch expected=%ld delivered=%ld lost=%ld extra=%ld errors_events=%ld bookmarks=%ld unparsed=%ld "
	       "bad_watches=%ld closed_early=%ld drain_secs=%.2f loadgen_cpu_s=%.2f apiserver_rss_kb=%ld "
	       "apiserver_hwm_kb=%ld\n",
	       expect_type[0] + expect_type[1] + expect_type[2], w_sum(0) + w_sum(1) + w_sum(2), lost, extra, w_sum(4),
	       w_sum(3), other, lossy, watches_closed_early, drained, cpu_s() - cpu0, rss1, hwm1);
	fflush(stdout);
	for (long i = 0; i < cfg_watches; i++) {
		curl_multi_remove_handle(wl_multi, ws[i].h);
		curl_easy_cleanup(ws[i].h);
	}
	curl_multi_cleanup(wl_multi);
	close(wl_ep);

	/* 5. fill to BENCH_PODS pods stored, then RSS */
	long have = list_count("/api/v1/pods", NULL, 0);
	if (have < 0) {
		fprintf(stderr, "fill: cannot list pods\n");
		return 1;
	}
	struct vstat fst[NVERB];
	memset(fst, 0, sizeof(fst));
	/* Creates that time out may or may not be stored: top up from a fresh count, 3 rounds. */
	double fsecs = 0, fok = 0, fsend = 0;
	long stored = have;
	for (int round = 0; round < 3 && stored >= 0 && stored < cfg_fill; round++) {
		struct phase_times fpt;
		fsecs += run_phase(fst, cfg_fill_clients, 0, 0, cfg_fill - stored, (int)cfg_ns, NULL, &fpt);
		fok += fpt.ok_secs;
		fsend += fpt.send_secs;
		stored = list_count("/api/v1/pods", NULL, 0);
	}
	if (fok <= 0)
		fok = 0.001;
	long rss2, hwm2;
	read_rss(&rss2, &hwm2);
	printf("fill before=%ld created=%ld errors=%ld secs=%.2f ok_secs=%.2f send_secs=%.2f stored=%ld clients=%ld\n",
	       have, fst[V_CREATE].ok, fst[V_CREATE].err, fsecs, fok, fsend, stored, cfg_fill_clients);
	print_verbs(fst, fok, "fill_");
	printf("rss stored=%ld apiserver_rss_kb=%ld apiserver_hwm_kb=%ld\n", stored, rss2, hwm2);
	curl_slist_free_all(h_get);
	curl_slist_free_all(h_json);
	curl_slist_free_all(h_merge);
	curl_global_cleanup();
	return 0;
}
