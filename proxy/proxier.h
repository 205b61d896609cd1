/* The proxier: turns the current Services and EndpointSlices into kernel state.
 *
 * px_proxier_sync is one syncProxyRules: build the model, generate the ruleset, apply it
 * with iptables-restore --noflush, then delete conntrack entries that would keep UDP flows
 * pinned to endpoints that are gone (upstream's deleteUDPEndpointConnections).
 * A `full` sync (the first, every syncPeriod, and any sync after a failed restore)
 * re-ensures the jump rules from the built-in chains, re-reads the existing chains with
 * iptables-save and writes every chain. Other syncs are partial, as upstream's: the
 * top-level chains are rewritten completely, but a service port whose own chains
 * (KUBE-SVC/SVL/EXT/SEP) are unchanged since the last successful restore is left out.
 *
 * It keeps the metrics (sync duration histogram, last successful sync time, restore
 * failures) and the health state that /healthz and /metrics serve. Thread-safety: sync
 * from one thread; the metrics/health readers may run on any thread. */
#ifndef PX_PROXIER_H
#define PX_PROXIER_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "clock.h"
#include "iptables.h"
#include "iptables_rules.h"

typedef struct px_proxier_opts {
	px_rules_opts rules; /* strings borrowed: must outlive the proxier */
	px_ipt ipt;          /* strings borrowed */
	const char *node_name; /* borrowed */
	int64_t sync_period_ns;     /* iptables.syncPeriod (default 30s) */
	int64_t min_sync_period_ns; /* iptables.minSyncPeriod (default 1s) */
	kc_clock_t *clock;   /* NULL: kc_clock_real() */
	bool dry_run;        /* generate only (no iptables, no conntrack) */
} px_proxier_opts;

typedef struct px_proxier px_proxier;

/* o is copied (its strings borrowed). 0 or -ENOMEM. */
int px_proxier_new(const px_proxier_opts *o, px_proxier **out);
void px_proxier_free(px_proxier *p);

/* One sync from services and slices (JSON arrays, borrowed). 0, or the error of the
 * failing step (the previous rules then stay in place; the next sync retries). */
int px_proxier_sync(px_proxier *p, const cJSON *services, const cJSON *slices, bool full);

/* The iptables-restore input of the last sync attempt (borrowed; valid until the next
 * sync; only from the syncing thread). */
const char *px_proxier_last_rules(px_proxier *p);

/* A malloc'd copy of the same, safe from any thread (NULL on ENOMEM). */
char *px_proxier_rules_copy(px_proxier *p);

/* Number of sync attempts so far (successful or not). */
uint64_t px_proxier_sync_count(px_proxier *p);

/* Tell the health state that a change is pending since now (healthz turns unhealthy if
 * it stays pending longer than 2 x syncPeriod, as upstream's ProxierHealthServer). */
void px_proxier_queued(px_proxier *p);

/* Prometheus text exposition of the metrics, appended to out. */
void px_proxier_metrics(px_proxier *p, px_buf *out);

/* /healthz: returns true when healthy and appends upstream's JSON body
 * ({"lastUpdated": ..., "currentTime": ...}) to out. */
bool px_proxier_healthz(px_proxier *p, px_buf *out);

/* How long the sync loop should wait before the next sync, in ns (0 = now). Pure:
 * last_ns < 0 means never synced; dirty means a change is waiting. A change waits until
 * minSyncPeriod has passed since the last sync (BoundedFrequencyRunner's rate limit);
 * without changes a sync still happens every syncPeriod. */
int64_t px_next_sync_delay(int64_t now_ns, int64_t last_ns, bool dirty, int64_t min_ns,
			   int64_t period_ns);

#endif
