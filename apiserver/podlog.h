/* pods/log proxied to the kubelet, as kube-apiserver's pod LogREST
 * (pkg/registry/core/pod/rest/log.go, pod.LogLocation in pkg/registry/core/pod/strategy.go):
 * the pod's container is resolved (400 when ambiguous or unknown), the pod's node gives the
 * kubelet's address (--kubelet-preferred-address-types) and port
 * (status.daemonEndpoints.kubeletEndpoint.Port, default 10250), and
 * https://<addr>:<port>/containerLogs/<ns>/<pod>/<container>?<options> is streamed back as
 * text/plain. Kubelet errors become Statuses as upstream's GenericHttpResponseChecker makes
 * them (400 -> BadRequest with the kubelet's text, 500 -> InternalError, ...).
 *
 * Also the honest refusal of pods/exec, pods/attach and pods/portforward, which need a
 * SPDY/WebSocket upgrade this server does not implement. */
#ifndef APISERVER_PODLOG_H
#define APISERVER_PODLOG_H

#include "api.h"

/* The kube-apiserver --kubelet-* flags (all copied; NULL for unset). preferred: comma list of
 * node address types, NULL for upstream's default
 * "Hostname,InternalDNS,InternalIP,ExternalDNS,ExternalIP". 0 or -ENOMEM. */
int pl_configure(const char *client_cert, const char *client_key, const char *ca_file,
		 const char *preferred);

/* GET .../pods/{name}/log. q borrowed; on success resp->stream is a streaming response. */
void pl_serve_log(api_ctx *c, const api_req *q, const char *ns, const char *name,
		  api_resp *resp);

/* exec, attach, portforward: upstream-shaped error without an upgrade. */
void pl_serve_upgrade(const api_req *q, const char *ns, const char *name, const char *sub,
		      api_resp *resp);

#endif
