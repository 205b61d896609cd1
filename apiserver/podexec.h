/* pods/exec, pods/attach and pods/portforward proxied to the kubelet, as kube-apiserver's ExecREST and
 * AttachREST (pkg/registry/core/pod/rest/subresources.go, pod.ExecLocation /
 * AttachLocation) behind k8s.io/apimachinery's upgrade-aware proxy.  Prefix px_.
 *
 * The request is validated first and errors are ordinary Statuses kubectl prints
 * (pods "x" not found, `container c is not valid for pod p`, `pod p does not have a host
 * assigned`, see pl_resolve).  A WebSocket upgrade (what kubectl 1.32 sends: GET with
 * Sec-WebSocket-Protocol v5.channel.k8s.io) is then forwarded to
 * https://<node>:<kubelet port>/exec|attach/<ns>/<pod>/<container>?command=..&stdin=1..
 * with the --kubelet-client-* certificate; when the kubelet answers 101 its answer is
 * relayed to the client and the two connections are spliced byte for byte until either
 * side closes (upgradeaware.go's behaviour; the channel protocol is the kubelet's
 * business).  A kubelet error before the upgrade becomes a Status as for pods/log.
 *
 * Any other upgrade (SPDY/3.1, which kubectl tries when the WebSocket upgrade failed) is
 * forwarded the same way; kubec's kubelet refuses SPDY with a 400 after resolving the
 * container, so the user sees the real reason (e.g. the container is not running).
 * pods/portforward resolves no container and goes to /portForward/<ns>/<pod>?port=..
 * (kubectl 1.32 tunnels SPDY through the WebSocket; the kubelet carries it on). */
#ifndef APISERVER_PODEXEC_H
#define APISERVER_PODEXEC_H

#include "api.h"

/* sub: "exec", "attach" or "portforward".  q borrowed; on success resp->stream is the
 * upgrade response (code 101). */
void px_serve(api_ctx *c, const api_req *q, const char *ns, const char *name, const char *sub,
	      api_resp *resp);

/* End every open exec/attach splice and wait (up to 5 s) until they let go of their MHD
 * connections: call before MHD_stop_daemon, which aborts while upgraded connections are
 * open. */
void px_close_all(void);

#endif
