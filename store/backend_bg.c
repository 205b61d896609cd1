/* The engine's background thread: lease expiry (revoked through the WAL, as etcd's
 * leader does) and auto-compaction (etcd 3.4's periodic and revision compactors), both
 * timed by the injected clock so tests drive them with a fake one. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "log.h"

/* Go-style duration ("1h", "30m", "1h30m", "90s", "500ms") or a bare number of hours
 * (etcd's periodic retention accepts both). Returns ns, or -1 on a bad string. */
int64_t backend_parse_retention_ns(const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno)
		return -1;
	if (*end == 0)
		return v < 0 ? -1 : (int64_t)(v * 3600.0 * 1e9);
	int64_t total = 0;
	const char *p = s;
	while (*p) {
		v = strtod(p, &end);
		if (end == p || v < 0)
			return -1;
		p = end;
		double unit;
		if (!strncmp(p, "ms", 2)) {
			unit = 1e6;
			p += 2;
		} else if (*p == 'h') {
			unit = 3600e9;
			p++;
		} else if (*p == 'm') {
			unit = 60e9;
			p++;
		} else if (*p == 's') {
			unit = 1e9;
			p++;
		} else {
			return -1;
		}
		total += (int64_t)(v * unit);
	}
	return total;
}

/* ---- background: lease expiry and auto-compaction ---- */

struct rev_sample {
	int64_t t, rev;
};

static void bg_propose_revoke(struct kv *kv, int64_t id)
{
	Kvpb__InternalRequest ir = KVPB__INTERNAL_REQUEST__INIT;
	Kvpb__LeaseRevokeRequest rr = KVPB__LEASE_REVOKE_REQUEST__INIT;
	rr.id = id;
	ir.request_case = KVPB__INTERNAL_REQUEST__REQUEST_LEASE_REVOKE;
	ir.lease_revoke = &rr;
	void *resp = NULL;
	int rc = backend_propose(kv, &ir, &resp);
	if (resp)
		kvpb__lease_revoke_response__free_unpacked(resp, NULL);
	if (rc && rc != KV_ELEASENOTFOUND && rc != KV_ESTOPPED)
		kc_warn("lease %lld: revoke on expiry failed: %s", (long long)id, kv_errmsg(rc));
	else if (!rc)
		kc_log_v(2, "lease %lld expired and was revoked", (long long)id);
}

static void bg_compact(struct kv *kv, int64_t rev)
{
	if (rev <= atomic_load(&kv->compact_rev))
		return;
	Kvpb__InternalRequest ir = KVPB__INTERNAL_REQUEST__INIT;
	Kvpb__CompactionRequest cr = KVPB__COMPACTION_REQUEST__INIT;
	cr.revision = rev;
	ir.request_case = KVPB__INTERNAL_REQUEST__REQUEST_COMPACTION;
	ir.compaction = &cr;
	void *resp = NULL;
	int rc = backend_propose(kv, &ir, &resp);
	if (resp)
		kvpb__compaction_response__free_unpacked(resp, NULL);
	if (rc)
		kc_warn("auto-compaction at revision %lld failed: %s", (long long)rev, kv_errmsg(rc));
	else
		kc_info("finished scheduled compaction at %lld", (long long)rev);
}

/* etcd's publish: replicate our name and client URLs once a leader is known, so every
 * member lists them. Retried every pass until it succeeds. */
static void publish_self(struct kv *kv)
{
	Kvpb__Member m = KVPB__MEMBER__INIT;
	m.id = kv->member_id;
	m.name = kv->name;
	m.clienturls = kv->client_urls;
	m.n_clienturls = kv->n_client_urls;
	pthread_rwlock_rdlock(&kv->lock);
	bool known = cluster_find(&kv->members, kv->member_id) != NULL;
	pthread_rwlock_unlock(&kv->lock);
	if (!known)
		return; /* a joiner: its member entry arrives with the log */
	Kvpb__InternalRequest ir = KVPB__INTERNAL_REQUEST__INIT;
	ir.request_case = KVPB__INTERNAL_REQUEST__REQUEST_MEMBER_UPDATE;
	ir.member_update = &m;
	int rc = backend_propose(kv, &ir, NULL);
	if (!rc) {
		kv->published = true;
		kc_info("published {Name:%s ClientURLs:[%s]} to cluster %016" PRIx64, kv->name,
			kv->n_client_urls ? kv->client_urls[0] : "", kv->cluster_id);
	}
}

void *backend_bg_main(void *arg)
{
	struct kv *kv = arg;
	/* etcd 3.4 Periodic compactor: sample the revision every period/10 (at most 6 min),
	 * compact every min(period, 1h) to the revision sampled `period` ago. Revision mode:
	 * every 5 minutes compact to current - retention. */
	int64_t period = kv->compact_retention;
	int64_t sample_every = 0, compact_every = 0;
	if (kv->compact_mode == KV_COMPACT_PERIODIC && period > 0) {
		compact_every = period < 3600 * KC_NSEC_PER_SEC ? period : 3600 * KC_NSEC_PER_SEC;
		sample_every = compact_every / 10;
	} else if (kv->compact_mode == KV_COMPACT_REVISION && period > 0) {
		compact_every = 300 * KC_NSEC_PER_SEC;
	}
	size_t ncap = 64, n = 0;
	struct rev_sample *samples = calloc(ncap, sizeof(*samples));
	int64_t start = kv->open_mono, last_sample = start, last_compact = start;
	if (samples && sample_every)
		samples[n++] = (struct rev_sample){ start, kv->open_rev };
	int64_t ids[64];
	while (!atomic_load(&kv->stop_bg)) {
		pthread_mutex_lock(&kv->bgmu);
		if (!atomic_load(&kv->stop_bg)) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += 100 * 1000 * 1000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&kv->bgcv, &kv->bgmu, &ts);
		}
		pthread_mutex_unlock(&kv->bgmu);
		if (atomic_load(&kv->stop_bg))
			break;
		if (!kv->published && atomic_load(&kv->r_lead))
			publish_self(kv);
		/* Only the leader revokes expired leases and compacts (etcd: the lessor is
		 * demoted on followers, the compactor runs on the leader). */
		if (!atomic_load(&kv->r_leader))
			continue;
		int64_t now = kc_now_mono(kv->clock);
		/* Lease expiry: revoke through Raft, as etcd's leader does. */
		pthread_rwlock_rdlock(&kv->lock);
		size_t ne = lessor_expired(&kv->lessor, now, ids, 64);
		pthread_rwlock_unlock(&kv->lock);
		for (size_t i = 0; i < ne && !atomic_load(&kv->stop_bg); i++)
			bg_propose_revoke(kv, ids[i]);
		if (!compact_every)
			continue;
		if (sample_every && samples && now - last_sample >= sample_every) {
			if (n == ncap) {
				memmove(samples, samples + 1, (ncap - 1) * sizeof(*samples));
				n--;
			}
			samples[n++] = (struct rev_sample){ now, atomic_load(&kv->cur_rev) };
			last_sample = now;
		}
		if (now - last_compact < compact_every)
			continue;
		last_compact = now;
		if (kv->compact_mode == KV_COMPACT_REVISION) {
			int64_t rev = atomic_load(&kv->cur_rev) - period;
			if (rev > 0)
				bg_compact(kv, rev);
		} else if (samples) {
			int64_t rev = 0;
			size_t keep = 0;
			for (size_t i = 0; i < n; i++)
				if (samples[i].t <= now - period) {
					rev = samples[i].rev;
					keep = i;
				}
			if (rev > 0) {
				bg_compact(kv, rev);
				memmove(samples, samples + keep, (n - keep) * sizeof(*samples));
				n -= keep;
			}
		}
	}
	free(samples);
	return NULL;
}

