/* exec and attach streams: the kubelet's side of `kubectl exec` / `kubectl attach`.
 * Prefix kst_.
 *
 * Upstream's kubelet asks the runtime for a streaming URL (CRI Exec/Attach) and proxies
 * the client's upgraded connection to it (pkg/kubelet/server/server.go getExec ->
 * proxyStream).  Here the client speaks WebSocket with the channel.k8s.io protocol
 * (v5.channel.k8s.io, which kubectl 1.32 asks for, or v4) and containerd 1.6's streaming
 * server cannot speak v5, so the kubelet terminates the WebSocket and talks SPDY/3.1
 * (spdy.h) to the runtime, translating:
 *   WebSocket message [0, data...]   -> stdin stream DATA
 *   [4, json]                         -> resize stream DATA ({"Width":w,"Height":h})
 *   [255, 0] (v5 only: close stdin)   -> stdin stream DATA with FIN: the process sees EOF
 *   stdout / stderr / error DATA      -> [1, ...] / [2, ...] / [3, status JSON]
 * The error stream carries the runtime's metav1.Status (Success, or Failure with reason
 * NonZeroExitCode and details.causes[{reason: ExitCode, message: "N"}]) unchanged; when
 * the runtime closes the connection the WebSocket is closed with 1000, which is when
 * kubectl reads the status.  WebSocket pings are answered with pongs (client-go's
 * heartbeat drops a connection that does not answer). */
#ifndef KUBELET_STREAMING_H
#define KUBELET_STREAMING_H

#include <stddef.h>
#include <stdint.h>

#include "pod_worker.h"

/* The WebSocket subprotocols the kubelet serves, in its order of preference. */
#define KST_PROTO_V5 "v5.channel.k8s.io"
#define KST_PROTO_V4 "v4.channel.k8s.io"

typedef struct kst_opts {
	int in, out, err, tty;  /* requested streams (err is dropped with tty, as upstream) */
	int v5;                 /* the negotiated subprotocol is v5 (else v4) */
} kst_opts;

/* Resolve ns/pod/container to the runtime's streaming URL for an exec (cmd[0..ncmd),
 * borrowed) or, with cmd NULL, an attach (o->tty is then set from the container's spec,
 * as upstream's GetAttach does, and err dropped with a tty).  Returns 0 and *url (malloc'd), or an HTTP
 * status with msg set, as the upstream kubelet answers: 404 `pod does not exist`,
 * 500 `container not found ("c")`, 501 when the runtime does not implement streaming
 * (the fake runtime), 500 with the runtime's message otherwise. */
int kst_resolve(pw_manager *m, const char *ns, const char *pod, const char *container, const char *const *cmd,
		size_t ncmd, kst_opts *o, char **url, char *msg, size_t msglen);

/* Bridge an upgraded client connection (fd: plain bytes, the TLS is MHD's; borrowed, not
 * closed) to the runtime's streaming URL until either side ends.  extra[0..extra_len):
 * bytes the client sent after its request (borrowed).  Blocking: run it on its own
 * thread. */
void kst_bridge(int fd, const uint8_t *extra, size_t extra_len, const char *url, const kst_opts *o);

/* Port-forward, as kubectl 1.32 does it over WebSocket: subprotocol
 * "SPDY/3.1+portforward.k8s.io" (client-go's tunneling_connection.go): every binary
 * message carries raw bytes of a SPDY/3.1 session between kubectl and the runtime, so the
 * kubelet tunnels them to the runtime's port-forward URL after its own SPDY upgrade
 * (X-Stream-Protocol-Version: portforward.k8s.io); the SPDY streams (data/error per port
 * and request id) are end to end.  kst_resolve_portforward finds the pod's ready sandbox
 * (404 `pod does not exist`) and asks the runtime (CRI PortForward; ports borrowed). */
#define KST_PROTO_PORTFORWARD "SPDY/3.1+portforward.k8s.io"
int kst_resolve_portforward(pw_manager *m, const char *ns, const char *pod, const int32_t *ports, size_t nports,
			    char **url, char *msg, size_t msglen);
/* Tunnel an upgraded client connection (fd borrowed) to the runtime's port-forward URL
 * until either side ends.  Blocking. */
void kst_tunnel(int fd, const uint8_t *extra, size_t extra_len, const char *url);

#endif
