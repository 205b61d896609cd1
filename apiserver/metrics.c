/* Request counters and latency histograms for /metrics; see metrics.h. */
#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* apiserver_request_duration_seconds buckets (endpoints/metrics/metrics.go). */
static const double buckets[] = { 0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25,
				  1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60 };
#define NB (sizeof(buckets) / sizeof(buckets[0]))
#define MET_MAX 1024

typedef struct met_series {
	char verb[24], group[64], version[16], resource[64], sub[32], scope[16];
	int code; /* -1: a histogram row */
	unsigned long long count;
	unsigned long long bucket[NB];
	double sum;
} met_series;

static pthread_mutex_t met_mu = PTHREAD_MUTEX_INITIALIZER;
static met_series met_tab[MET_MAX];
static size_t met_n;
static unsigned long long met_dropped;

static met_series *find(const char *verb, const char *group, const char *version,
			const char *resource, const char *sub, const char *scope, int code)
{
	for (size_t i = 0; i < met_n; i++) {
		met_series *m = &met_tab[i];
		if (m->code == code && !strcmp(m->verb, verb) && !strcmp(m->resource, resource) &&
		    !strcmp(m->group, group) && !strcmp(m->version, version) &&
		    !strcmp(m->sub, sub) && !strcmp(m->scope, scope))
			return m;
	}
	if (met_n == MET_MAX) {
		met_dropped++;
		return NULL;
	}
	met_series *m = &met_tab[met_n++];
	memset(m, 0, sizeof(*m));
	snprintf(m->verb, sizeof(m->verb), "%s", verb);
	snprintf(m->group, sizeof(m->group), "%s", group);
	snprintf(m->version, sizeof(m->version), "%s", version);
	snprintf(m->resource, sizeof(m->resource), "%s", resource);
	snprintf(m->sub, sizeof(m->sub), "%s", sub);
	snprintf(m->scope, sizeof(m->scope), "%s", scope);
	m->code = code;
	return m;
}

void met_observe(const char *verb, const char *group, const char *version, const char *resource,
		 const char *subresource, const char *scope, int code, double seconds)
{
	if (!verb || !verb[0])
		return;
	pthread_mutex_lock(&met_mu);
	met_series *c = find(verb, group ? group : "", version ? version : "",
			     resource ? resource : "", subresource ? subresource : "",
			     scope ? scope : "", code);
	if (c)
		c->count++;
	if (strcmp(verb, "WATCH")) {
		met_series *h = find(verb, group ? group : "", version ? version : "",
				     resource ? resource : "", subresource ? subresource : "",
				     scope ? scope : "", -1);
		if (h) {
			h->count++;
			h->sum += seconds;
			for (size_t b = 0; b < NB; b++)
				if (seconds <= buckets[b])
					h->bucket[b]++;
		}
	}
	pthread_mutex_unlock(&met_mu);
}

typedef struct buf {
	char *p;
	size_t len, cap;
} buf;

static void bprintf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(buf *b, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = b->p ? vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap) : -1;
		va_end(ap);
		if (n >= 0 && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t nc = b->cap ? b->cap * 2 : 65536;
		while (n >= 0 && nc < b->len + (size_t)n + 1)
			nc *= 2;
		char *np = realloc(b->p, nc);
		if (!np)
			return;
		b->p = np;
		b->cap = nc;
	}
}

static void labels(buf *b, const met_series *m)
{
	bprintf(b, "component=\"apiserver\",group=\"%s\",resource=\"%s\",scope=\"%s\","
		   "subresource=\"%s\",verb=\"%s\",version=\"%s\"",
		m->group, m->resource, m->scope, m->sub, m->verb, m->version);
}

typedef struct wc_acc {
	buf *b;
	int total;
} wc_acc;

static void watchers_line(const res_desc *d, int n, void *arg)
{
	wc_acc *a = arg;
	bprintf(a->b, "apiserver_registered_watchers{group=\"%s\",kind=\"%s\",version=\"%s\"} %d\n",
		d->group, d->kind, d->version, n);
	a->total += n;
}

char *met_render(wc_set *wc)
{
	buf b = { 0 };
	bprintf(&b, "# HELP apiserver_request_total [STABLE] Counter of apiserver requests broken "
		    "out for each verb, dry run value, group, version, resource, scope, component, "
		    "and HTTP response code.\n# TYPE apiserver_request_total counter\n");
	pthread_mutex_lock(&met_mu);
	for (size_t i = 0; i < met_n; i++) {
		const met_series *m = &met_tab[i];
		if (m->code < 0)
			continue;
		bprintf(&b, "apiserver_request_total{code=\"%d\",", m->code);
		labels(&b, m);
		bprintf(&b, "} %llu\n", m->count);
	}
	bprintf(&b, "# HELP apiserver_request_duration_seconds [STABLE] Response latency "
		    "distribution in seconds for each verb, dry run value, group, version, "
		    "resource, subresource, scope and component.\n"
		    "# TYPE apiserver_request_duration_seconds histogram\n");
	for (size_t i = 0; i < met_n; i++) {
		const met_series *m = &met_tab[i];
		if (m->code >= 0)
			continue;
		for (size_t k = 0; k < NB; k++) {
			bprintf(&b, "apiserver_request_duration_seconds_bucket{");
			labels(&b, m);
			bprintf(&b, ",le=\"%g\"} %llu\n", buckets[k], m->bucket[k]);
		}
		bprintf(&b, "apiserver_request_duration_seconds_bucket{");
		labels(&b, m);
		bprintf(&b, ",le=\"+Inf\"} %llu\n", m->count);
		bprintf(&b, "apiserver_request_duration_seconds_sum{");
		labels(&b, m);
		bprintf(&b, "} %.9f\n", m->sum);
		bprintf(&b, "apiserver_request_duration_seconds_count{");
		labels(&b, m);
		bprintf(&b, "} %llu\n", m->count);
	}
	unsigned long long dropped = met_dropped;
	pthread_mutex_unlock(&met_mu);
	bprintf(&b, "# HELP apiserver_registered_watchers [ALPHA] Number of currently registered "
		    "watchers for a given resources\n# TYPE apiserver_registered_watchers gauge\n");
	wc_acc a = { &b, 0 };
	if (wc)
		wc_watcher_counts(wc, watchers_line, &a);
	bprintf(&b, "# HELP apiserver_longrunning_requests [STABLE] Gauge of all active "
		    "long-running apiserver requests.\n# TYPE apiserver_longrunning_requests gauge\n"
		    "apiserver_longrunning_requests{component=\"apiserver\",verb=\"WATCH\"} %d\n",
		a.total);
	bprintf(&b, "# HELP apiserver_metrics_dropped_total Requests not recorded because the "
		    "label-set table was full.\n# TYPE apiserver_metrics_dropped_total counter\n"
		    "apiserver_metrics_dropped_total %llu\n", dropped);
	return b.p;
}
