/* pods/log proxied to the kubelet, as kube-apiserver's pod LogREST
 * (pkg/registry/core/pod/rest/log.go, pod.LogLocation in pkg/registry/core/pod/strategy.go):
 * the pod's container is resolved (400 when ambiguous or unknown), the pod's node gives the
 * kubelet's address (--kubelet-preferred-address-types) and port
 * (status.daemonEndpoints.kubeletEndpoint.Port, default 10250), and
 * https://<addr>:<port>/containerLogs/<ns>/<pod>/<container>?<options> is streamed back as
 * text/plain. Kubelet errors become Statuses as upstream's GenericHttpResponseChecker makes
 * them (400 -> BadRequest with the kubelet's text, 500 -> InternalError, ...).
 *
 * The pod -> kubelet resolution and the kubelet client's TLS settings are shared with
 * pods/exec and pods/attach (podexec.h). */
#ifndef APISERVER_PODLOG_H
#define APISERVER_PODLOG_H

#include <curl/curl.h>

#include "api.h"

/* The kube-apiserver --kubelet-* flags (all copied; NULL for unset). preferred: comma list of
 * node address types, NULL for upstream's default
 * "Hostname,InternalDNS,InternalIP,ExternalDNS,ExternalIP". 0 or -ENOMEM. */
int pl_configure(const char *client_cert, const char *client_key, const char *ca_file,
		 const char *preferred);

/* GET .../pods/{name}/log. q borrowed; on success resp->stream is a streaming response. */
void pl_serve_log(api_ctx *c, const api_req *q, const char *ns, const char *name,
		  api_resp *resp);

/* Where a pod's container is served by its kubelet. */
typedef struct pl_target {
	char container[256]; /* the container asked for, or the only one */
	char host[256];      /* the node's preferred address */
	int port;            /* status.daemonEndpoints.kubeletEndpoint.Port, default 10250 */
} pl_target;

/* Resolve pod ns/name and container_q (borrowed; NULL or "" = the pod's only container)
 * as pod.LogLocation / pod.streamLocation do (for_stream 2: port-forward, no container is
 * resolved).  0 with *t filled; 1 when the pod has no
 * node and !for_stream (logs answer an empty body then); -1 with resp filled with the
 * Status (404 pods "x" not found, 400 `container c is not valid for pod p`, 400 `a
 * container name must be specified ...`, with for_stream 400 `pod p does not have a host
 * assigned`, 500 no preferred addresses). */
int pl_resolve(api_ctx *c, const char *ns, const char *name, const char *container_q, int for_stream,
	       pl_target *t, api_resp *resp);
/* Set the --kubelet-client-certificate/key and --kubelet-certificate-authority options on
 * a curl handle (borrowed); insecure skips verifying the kubelet. */
void pl_curl_tls(CURL *h, int insecure);
/* A kubelet's error answer as upstream's GenericHttpResponseChecker turns it into a
 * Status (new tree): 400 BadRequest with the body, 500 InternalError, ... */
cJSON *pl_kubelet_status(long code, const char *body, const char *name);

#endif
