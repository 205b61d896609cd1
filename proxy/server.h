/* kube-proxy's plain-HTTP endpoints (libmicrohttpd, its own polling thread):
 *   healthz server (healthzBindAddress, default 0.0.0.0:10256): /healthz and /livez,
 *     200 or 503 with upstream's JSON body ({"lastUpdated": ..., "currentTime": ...});
 *   metrics server (metricsBindAddress, default 127.0.0.1:10249): /metrics (Prometheus
 *     text), /proxyMode ("iptables"), /healthz ("ok").
 * Both only read the proxier's mutex-guarded metrics, so they never wait on a sync. */
#ifndef PX_SERVER_H
#define PX_SERVER_H

#include "proxier.h"

typedef struct px_server px_server;

enum px_server_kind { PX_SERVER_HEALTHZ, PX_SERVER_METRICS };

/* Listen on addr ("ip:port"; "" ip or "0.0.0.0" means all; borrowed). proxier is
 * borrowed and must outlive the server. 0, -EINVAL (bad address) or -EADDRINUSE /
 * -errno when the socket cannot be bound. */
int px_server_start(enum px_server_kind kind, const char *addr, px_proxier *proxier,
		    px_server **out);
/* The bound port (useful with port 0). */
int px_server_port(const px_server *s);
void px_server_stop(px_server *s);

#endif
