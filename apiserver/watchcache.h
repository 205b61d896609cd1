/* Watch cache: one etcd watch per resource feeds a ring of recent events, fanned out to
 * every client watch of that resource with namespace and selector filtering
 * (k8s.io/apiserver/pkg/storage/cacher). Client watches are MHD responses whose content
 * reader suspends the connection while it has nothing to send and is resumed when an event
 * arrives, so a watch costs memory, not a thread. */
#ifndef APISERVER_WATCHCACHE_H
#define APISERVER_WATCHCACHE_H

#include <stdint.h>
#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "registry.h"
#include "resource.h"

typedef struct wc_set wc_set;

/* Starts one store watch per resource in res_all, from the current revision. r borrowed. */
int wc_start(reg *r, wc_set **out);
/* Stops the store watches and ends every client watch (their connections are resumed so
 * the HTTP server can finish them). */
void wc_stop(wc_set *s);
/* Frees s; call after the HTTP server has stopped (it releases the client watches). */
void wc_free(wc_set *s);
/* Nonzero when every store watch is established (readiness). */
int wc_ready(wc_set *s);

typedef struct wc_params {
	const char *ns;             /* NULL/"" = all namespaces */
	const char *rv;             /* resourceVersion query parameter */
	const char *label_selector;
	const char *field_selector;
	int64_t timeout_sec;        /* 0 = the server default */
	int bookmarks;              /* allowWatchBookmarks */
	int table;                  /* events carry Tables (kubectl get -w) */
	int include;                /* enum tbl_include */
} wc_params;

/* Creates a client watch on conn (borrowed; the response is queued by the caller with
 * MHD_queue_response and destroyed afterwards). Returns 200 and *resp, or an HTTP code
 * with *err set to a Status (e.g. 410 Expired, 400 for a bad selector). */
int wc_watch(wc_set *s, const res_desc *d, const wc_params *p, struct MHD_Connection *conn,
	     struct MHD_Response **resp, cJSON **err);

/* Current objects from the watches (objcache.h), for reads that may be served from memory.
 * Kept for the admission kinds (namespaces, serviceaccounts, priorityclasses, limitranges,
 * resourcequotas: every object, and never older than this server's own writes, see
 * wc_wrote) and for pods (the latest state of the 16,384 pods changed last: an optimistic
 * first read for writes that compare mod_revision). d must be a storage version; ns ignored
 * for cluster-scoped kinds. */

/* 1 with *out (new, resourceVersion set) and *mod its mod_revision; 0 when a complete cache
 * does not have it; -1 when the cache cannot answer (no such cache, not filled, behind this
 * server's writes after a short wait, or a pod not among those kept): read the store. */
int wc_get(wc_set *s, const res_desc *d, const char *ns, const char *name, cJSON **out,
	   int64_t *mod);
/* 0 with *items (a new JSON array of every object in ns, all namespaces for NULL/"") from a
 * complete cache, or -1 (read the store). */
int wc_list(wc_set *s, const res_desc *d, const char *ns, cJSON **items);
/* 0 with *rev the revision whose state a complete cache of d holds, once it has seen this
 * server's writes as wc_list waits for them; -1 (the cache cannot answer). The state at a
 * revision is fixed, so an answer derived from wc_list may be reused while this is
 * unchanged. */
int wc_objs_rev(wc_set *s, const res_desc *d, int64_t *rev);
/* This server wrote key (borrowed) at revision rev: later wc_get/wc_list of that resource
 * wait until its watch has delivered rev. */
void wc_wrote(wc_set *s, const char *key, int64_t rev);

/* Calls fn once per cached resource with its number of client watches (under that cache's
 * lock: fn must not call back into the watch cache). */
void wc_watcher_counts(wc_set *s, void (*fn)(const res_desc *d, int n, void *arg), void *arg);

#endif
