/* /metrics in the Prometheus text format (k8s.io/apiserver/pkg/endpoints/metrics):
 * apiserver_request_total{verb,group,version,resource,subresource,scope,component,code},
 * apiserver_request_duration_seconds (histogram with upstream's buckets, by the same labels
 * without code; WATCH requests are counted but not timed, their duration being the watch's
 * life) and the apiserver_registered_watchers{group,version,kind} /
 * apiserver_longrunning_requests gauges from the watch cache. Process-wide and
 * thread-safe. */
#ifndef APISERVER_METRICS_H
#define APISERVER_METRICS_H

#include "watchcache.h"

/* Records one finished request. Strings borrowed (copied into the table); resource ""
 * for non-resource paths. At most 1024 label sets are kept; later ones are dropped from
 * the table (and counted in apiserver_metrics_dropped_total). */
void met_observe(const char *verb, const char *group, const char *version, const char *resource,
		 const char *subresource, const char *scope, int code, double seconds);
/* The exposition text; heap (free()). wc borrowed, may be NULL. */
char *met_render(wc_set *wc);

#endif
