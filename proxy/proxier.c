/* The proxier. See proxier.h. */
#include "proxier.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors.h"
#include "log.h"
#include "model.h"

/* metrics.ExponentialBuckets(0.001, 2, 15): kube-proxy's SyncProxyRulesLatency buckets. */
#define PX_NBUCKETS 15

struct px_proxier {
	px_proxier_opts o;
	kc_clock_t *clock;
	px_model prev;    /* the model of the last applied sync (for conntrack) */
	bool have_prev;
	px_chainset chains; /* per-service nat chains believed to exist */
	bool chains_known;
	px_buf rules;
	px_buf spare;     /* the next sync generates here, then swaps with rules */
	px_buf saved;     /* iptables-save output, reused */
	px_rules_cache cache; /* per-port chain hashes of the last applied ruleset */
	bool cache_valid;

	pthread_mutex_t mu; /* guards everything below */
	uint64_t buckets[PX_NBUCKETS];
	uint64_t count;
	double sum;
	int64_t last_success_wall; /* 0: never */
	int64_t pending_since_mono; /* 0: nothing pending */
	uint64_t restore_failures;
	size_t last_nat_chains;
};

int px_proxier_new(const px_proxier_opts *o, px_proxier **out)
{
	px_proxier *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->o = *o;
	p->clock = o->clock ? o->clock : kc_clock_real();
	if (p->o.sync_period_ns <= 0)
		p->o.sync_period_ns = 30 * KC_NSEC_PER_SEC;
	if (p->o.min_sync_period_ns < 0)
		p->o.min_sync_period_ns = 0;
	px_model_init(&p->prev);
	px_chainset_init(&p->chains);
	px_buf_init(&p->rules);
	px_buf_init(&p->spare);
	px_buf_init(&p->saved);
	px_rules_cache_init(&p->cache);
	pthread_mutex_init(&p->mu, NULL);
	*out = p;
	return 0;
}

void px_proxier_free(px_proxier *p)
{
	if (!p)
		return;
	px_model_close(&p->prev);
	px_chainset_close(&p->chains);
	px_buf_close(&p->rules);
	px_buf_close(&p->spare);
	px_buf_close(&p->saved);
	px_rules_cache_close(&p->cache);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

const char *px_proxier_last_rules(px_proxier *p)
{
	return px_buf_str(&p->rules);
}

char *px_proxier_rules_copy(px_proxier *p)
{
	pthread_mutex_lock(&p->mu);
	char *s = strdup(px_buf_str(&p->rules));
	pthread_mutex_unlock(&p->mu);
	return s;
}

uint64_t px_proxier_sync_count(px_proxier *p)
{
	pthread_mutex_lock(&p->mu);
	uint64_t n = p->count;
	pthread_mutex_unlock(&p->mu);
	return n;
}

static bool usable(const px_endpoint *e)
{
	return e->ready || (e->serving && e->terminating);
}

static bool has_usable(const px_svcport *sp)
{
	for (size_t i = 0; sp && i < sp->neps; i++)
		if (usable(&sp->eps[i]))
			return true;
	return false;
}

static bool has_addr(const px_svcport *sp, const char *addr)
{
	for (size_t i = 0; sp && i < sp->neps; i++)
		if (usable(&sp->eps[i]) && strcmp(sp->eps[i].addr, addr) == 0)
			return true;
	return false;
}

/* UDP has no connection teardown: a conntrack entry keeps DNATing to a dead endpoint
 * until it times out. As upstream, after the rules are in place: entries to removed
 * endpoints go, and entries for a service that had no endpoints (packets that were
 * REJECTed may have left entries) go too. Failures are logged, never fatal. */
static void clear_stale_udp(px_proxier *p, const px_model *now)
{
	char err[512];
	if (p->have_prev) {
		for (size_t i = 0; i < p->prev.n; i++) {
			const px_svcport *old = &p->prev.ports[i];
			if (strcmp(old->proto, "udp") != 0)
				continue;
			const px_svcport *cur = px_model_find(now, old->spn, old->proto);
			for (size_t k = 0; k < old->neps; k++) {
				const px_endpoint *e = &old->eps[k];
				if (!usable(e) || has_addr(cur, e->addr))
					continue;
				kc_log_v(2, "deleting conntrack entries of %s to %s", old->spn,
					 e->addr);
				if (px_conntrack_clear(&p->o.ipt, "udp", old->cluster_ip, 0, e->ip,
						       err, sizeof(err)) != 0)
					kc_warn("conntrack cleanup for %s -> %s: %s", old->spn,
						e->addr, err);
				if (old->node_port &&
				    px_conntrack_clear(&p->o.ipt, "udp", NULL, old->node_port, e->ip,
						       err, sizeof(err)) != 0)
					kc_warn("conntrack cleanup for %s nodePort -> %s: %s",
						old->spn, e->addr, err);
			}
		}
	}
	for (size_t i = 0; i < now->n; i++) {
		const px_svcport *cur = &now->ports[i];
		if (strcmp(cur->proto, "udp") != 0 || !has_usable(cur))
			continue;
		const px_svcport *old = p->have_prev ? px_model_find(&p->prev, cur->spn, cur->proto)
						     : NULL;
		if (p->have_prev && old && has_usable(old))
			continue;
		if (!p->have_prev)
			continue; /* at startup nothing of ours was rejecting */
		if (px_conntrack_clear(&p->o.ipt, "udp", cur->cluster_ip, 0, NULL, err,
				       sizeof(err)) != 0)
			kc_warn("conntrack cleanup for %s: %s", cur->spn, err);
	}
}

static void observe(px_proxier *p, double secs, bool ok)
{
	static const double first = 0.001;
	pthread_mutex_lock(&p->mu);
	double le = first;
	for (int i = 0; i < PX_NBUCKETS; i++, le *= 2)
		if (secs <= le)
			p->buckets[i]++;
	p->count++;
	p->sum += secs;
	if (ok) {
		p->last_success_wall = kc_now_wall(p->clock);
		p->pending_since_mono = 0;
	} else {
		p->restore_failures++;
	}
	p->last_nat_chains = p->chains.n;
	pthread_mutex_unlock(&p->mu);
}

/* Read the filter and nat tables once (upstream's iptables-save on a full sync): the
 * per-service nat chains that exist (so unused ones are deleted) and which jumps from the
 * built-in chains are missing (written into the same restore). */
static int read_kernel(px_proxier *p, unsigned *missing, char *err, size_t errlen)
{
	unsigned have_f = 0, have_n = 0;
	int rc = px_ipt_save(&p->o.ipt, "filter", &p->saved, err, errlen);
	if (rc == 0)
		rc = px_ipt_parse_save(px_buf_str(&p->saved), "filter", NULL, &have_f);
	if (rc != 0)
		return rc;
	px_chainset fresh;
	px_chainset_init(&fresh);
	rc = px_ipt_save(&p->o.ipt, "nat", &p->saved, err, errlen);
	if (rc == 0)
		rc = px_ipt_parse_save(px_buf_str(&p->saved), "nat", &fresh, &have_n);
	if (rc != 0) {
		px_chainset_close(&fresh);
		return rc;
	}
	px_chainset_sort(&fresh);
	px_chainset_close(&p->chains);
	p->chains = fresh;
	p->chains_known = true;
	*missing = PX_ALL_JUMPS & ~(have_f | have_n);
	return 0;
}

int px_proxier_sync(px_proxier *p, const cJSON *services, const cJSON *slices, bool full)
{
	int64_t t0 = kc_now_mono(p->clock);
	char err[1024] = "";
	px_model m;
	px_model_init(&m);
	int rc = px_model_build(&m, services, slices, p->o.node_name);
	if (rc < 0)
		goto out;
	int64_t t_model = kc_now_mono(p->clock);
	unsigned missing = 0;
	if (!p->o.dry_run && (full || !p->chains_known)) {
		rc = read_kernel(p, &missing, err, sizeof(err));
		if (rc != 0) {
			kc_error("reading the iptables state: %s", err);
			goto fail;
		}
	}
	int64_t t_save = kc_now_mono(p->clock);
	px_chainset active;
	px_chainset_init(&active);
	px_rules_cache next;
	px_rules_cache_init(&next);
	size_t skipped = 0;
	/* Generate into the spare buffer (its allocation is reused from two syncs ago). */
	px_buf_reset(&p->spare);
	rc = px_rules_build(&m, &p->o.rules, &p->chains, missing, &p->spare, &active,
			    (!full && p->cache_valid) ? &p->cache : NULL, &next, &skipped);
	if (rc < 0) {
		px_chainset_close(&active);
		px_rules_cache_close(&next);
		goto out;
	}
	/* Swap under the lock so px_proxier_rules_copy never sees a half-built buffer. */
	pthread_mutex_lock(&p->mu);
	px_buf tmp = p->rules;
	p->rules = p->spare;
	p->spare = tmp;
	pthread_mutex_unlock(&p->mu);
	int64_t t_gen = kc_now_mono(p->clock);
	if (!p->o.dry_run) {
		rc = px_ipt_restore(&p->o.ipt, px_buf_str(&p->rules), p->rules.len, err,
				    sizeof(err));
		if (rc != 0) {
			px_chainset_close(&active);
			px_rules_cache_close(&next);
			/* The kernel may hold anything now: the next sync writes everything. */
			p->cache_valid = false;
			kc_error("failed to execute iptables-restore: %s", err);
			kc_log_v(4, "rules that failed:\n%s", px_buf_str(&p->rules));
			/* The kernel state is unknown now: re-read it next time. */
			p->chains_known = false;
			goto fail;
		}
	}
	int64_t t_restore = kc_now_mono(p->clock);
	px_chainset_close(&p->chains);
	p->chains = active;
	px_rules_cache_close(&p->cache);
	p->cache = next;
	p->cache_valid = true;
	if (!p->o.dry_run)
		clear_stale_udp(p, &m);
	px_model_close(&p->prev);
	p->prev = m;
	p->have_prev = true;
	observe(p, (double)(kc_now_mono(p->clock) - t0) / 1e9, true);
	kc_log_v(2, "synced %zu service ports, %zu nat chains in %.3fs (%s, %zu unchanged ports "
		    "skipped, %d jumps inserted; model %.3fs, iptables-save %.3fs, generate %.3fs, "
		    "%zu bytes to iptables-restore %.3fs)",
		 p->prev.n, p->chains.n, (double)(kc_now_mono(p->clock) - t0) / 1e9,
		 full ? "full" : "partial", skipped, __builtin_popcount(missing),
		 (double)(t_model - t0) / 1e9, (double)(t_save - t_model) / 1e9,
		 (double)(t_gen - t_save) / 1e9, p->rules.len, (double)(t_restore - t_gen) / 1e9);
	return 0;
fail:
	observe(p, (double)(kc_now_mono(p->clock) - t0) / 1e9, false);
out:
	px_model_close(&m);
	return rc;
}

void px_proxier_queued(px_proxier *p)
{
	pthread_mutex_lock(&p->mu);
	if (!p->pending_since_mono)
		p->pending_since_mono = kc_now_mono(p->clock);
	pthread_mutex_unlock(&p->mu);
}

void px_proxier_metrics(px_proxier *p, px_buf *out)
{
	pthread_mutex_lock(&p->mu);
	const char *h = "kubeproxy_sync_proxy_rules_duration_seconds";
	px_buf_printf(out, "# HELP %s [ALPHA] SyncProxyRules latency in seconds\n", h);
	px_buf_printf(out, "# TYPE %s histogram\n", h);
	double le = 0.001;
	for (int i = 0; i < PX_NBUCKETS; i++, le *= 2)
		px_buf_printf(out, "%s_bucket{le=\"%g\"} %llu\n", h, le,
			      (unsigned long long)p->buckets[i]);
	px_buf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n", h, (unsigned long long)p->count);
	px_buf_printf(out, "%s_sum %.9g\n", h, p->sum);
	px_buf_printf(out, "%s_count %llu\n", h, (unsigned long long)p->count);
	const char *g = "kubeproxy_sync_proxy_rules_last_timestamp_seconds";
	px_buf_printf(out, "# HELP %s [ALPHA] The last time proxy rules were successfully synced\n",
		      g);
	px_buf_printf(out, "# TYPE %s gauge\n", g);
	px_buf_printf(out, "%s %.6f\n", g, (double)p->last_success_wall / 1e9);
	const char *f = "kubeproxy_sync_proxy_rules_iptables_restore_failures_total";
	px_buf_printf(out, "# HELP %s [ALPHA] Cumulative proxy iptables restore failures\n", f);
	px_buf_printf(out, "# TYPE %s counter\n", f);
	px_buf_printf(out, "%s %llu\n", f, (unsigned long long)p->restore_failures);
	const char *c = "kubeproxy_sync_proxy_rules_iptables_total";
	px_buf_printf(out, "# HELP %s [ALPHA] Number of per-service iptables chains kube-proxy "
			   "programmed in the nat table\n", c);
	px_buf_printf(out, "# TYPE %s gauge\n", c);
	px_buf_printf(out, "%s{table=\"nat\"} %zu\n", c, p->last_nat_chains);
	pthread_mutex_unlock(&p->mu);
}

static void rfc3339(int64_t wall_ns, char *buf, size_t len)
{
	time_t t = (time_t)(wall_ns / KC_NSEC_PER_SEC);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

bool px_proxier_healthz(px_proxier *p, px_buf *out)
{
	pthread_mutex_lock(&p->mu);
	int64_t now_mono = kc_now_mono(p->clock), now_wall = kc_now_wall(p->clock);
	/* Healthy unless a change has been waiting for longer than 2 x syncPeriod (the
	 * healthTimeout upstream's server is started with). */
	bool healthy = !p->pending_since_mono ||
		       now_mono - p->pending_since_mono <= 2 * p->o.sync_period_ns;
	char last[40], cur[40];
	rfc3339(p->last_success_wall, last, sizeof(last));
	rfc3339(now_wall, cur, sizeof(cur));
	pthread_mutex_unlock(&p->mu);
	px_buf_printf(out, "{\"lastUpdated\": \"%s\",\"currentTime\": \"%s\"}", last, cur);
	return healthy;
}

int64_t px_next_sync_delay(int64_t now_ns, int64_t last_ns, bool dirty, int64_t min_ns,
			   int64_t period_ns)
{
	if (last_ns < 0)
		return 0;
	int64_t next = last_ns + period_ns;
	if (dirty && last_ns + min_ns < next)
		next = last_ns + min_ns;
	return next > now_ns ? next - now_ns : 0;
}
