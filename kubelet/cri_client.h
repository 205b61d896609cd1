/* Typed CRI runtime.v1 client: one function per RPC the kubelet uses, on top of the
 * multiplexed gRPC connection in grpc.h.  Mirrors upstream's
 * pkg/kubelet/cri/remote/remote_runtime.go and remote_image.go, including their reply
 * validation (a sandbox or container status without an id, metadata or creation time
 * is rejected rather than passed on).
 *
 * Conventions for every function below:
 *  - request messages / strings are borrowed;
 *  - a reply message returned through `out` is taken by the caller: free it with
 *    cri_msg_free(); strings returned through char ** are malloc'd, free() them;
 *  - returns 0 or a negative error (cri_grpc_code_to_err); if st is non-NULL it receives
 *    the gRPC code and message (from the runtime, or a local reason such as a
 *    malformed reply, which is INTERNAL);
 *  - thread-safe: any number of threads may call concurrently on one client. */
#ifndef KUBELET_CRI_CLIENT_H
#define KUBELET_CRI_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "cri_fake.h"
#include "grpc.h"
#include "kubelet/cri/api.pb-c.h"

/* The API version string the kubelet sends in VersionRequest (kuberuntime's
 * kubeRuntimeAPIVersion). */
#define CRI_KUBE_RUNTIME_API_VERSION "0.1.0"
/* Upstream --runtime-request-timeout default: 2m. */
#define CRI_DEFAULT_TIMEOUT_MS (2 * 60 * 1000)

typedef struct cri_client {
	cri_conn *conn;           /* NULL with the fake runtime */
	cri_fake *fake;           /* the in-process fake (endpoint fake://), else NULL */
	int64_t timeout_ms;       /* deadline of ordinary calls */
	int64_t pull_timeout_ms;  /* deadline of PullImage; 0 = none */
} cri_client;

/* endpoint as cri_conn_new, or "fake://" for the in-process fake runtime (cri_fake.h,
 * hollow nodes); timeout_ms <= 0 means CRI_DEFAULT_TIMEOUT_MS. */
int cri_client_init(cri_client *cl, const char *endpoint, int64_t timeout_ms);
/* True when the client talks to the fake runtime (probes over the network are passed:
 * nothing listens on a fake pod IP). */
int cri_client_is_fake(const cri_client *cl);
void cri_client_close(cri_client *cl);

/* Free any reply message (NULL ok). */
void cri_msg_free(void *msg);

/* Generic unary call: pack req, call method path, unpack into a message of resp_desc.
 * Used by the typed wrappers; exposed for tests and future RPCs. */
int cri_unary(cri_client *cl, const char *path, const ProtobufCMessage *req,
	      const ProtobufCMessageDescriptor *resp_desc, int64_t timeout_ms,
	      ProtobufCMessage **out, cri_grpc_status *st);

/* ---- RuntimeService ---- */
int cri_version(cri_client *cl, Runtime__V1__VersionResponse **out, cri_grpc_status *st);
int cri_status(cri_client *cl, int verbose, Runtime__V1__StatusResponse **out, cri_grpc_status *st);
int cri_run_pod_sandbox(cri_client *cl, const Runtime__V1__PodSandboxConfig *cfg,
			const char *runtime_handler, char **sandbox_id, cri_grpc_status *st);
int cri_stop_pod_sandbox(cri_client *cl, const char *sandbox_id, cri_grpc_status *st);
int cri_remove_pod_sandbox(cri_client *cl, const char *sandbox_id, cri_grpc_status *st);
int cri_pod_sandbox_status(cri_client *cl, const char *sandbox_id, int verbose,
			   Runtime__V1__PodSandboxStatusResponse **out, cri_grpc_status *st);
/* filter may be NULL (all sandboxes). */
int cri_list_pod_sandbox(cri_client *cl, const Runtime__V1__PodSandboxFilter *filter,
			 Runtime__V1__ListPodSandboxResponse **out, cri_grpc_status *st);
int cri_create_container(cri_client *cl, const char *sandbox_id, const Runtime__V1__ContainerConfig *cfg,
			 const Runtime__V1__PodSandboxConfig *sandbox_cfg, char **container_id,
			 cri_grpc_status *st);
int cri_start_container(cri_client *cl, const char *container_id, cri_grpc_status *st);
/* timeout_s: grace period before the runtime kills; the call's deadline is extended by it. */
int cri_stop_container(cri_client *cl, const char *container_id, int64_t timeout_s, cri_grpc_status *st);
int cri_remove_container(cri_client *cl, const char *container_id, cri_grpc_status *st);
int cri_list_containers(cri_client *cl, const Runtime__V1__ContainerFilter *filter,
			Runtime__V1__ListContainersResponse **out, cri_grpc_status *st);
int cri_container_status(cri_client *cl, const char *container_id, int verbose,
			 Runtime__V1__ContainerStatusResponse **out, cri_grpc_status *st);
/* cmd[0..ncmd) borrowed; timeout_s 0 = no command timeout (call deadline still applies,
 * extended by timeout_s as upstream does). */
int cri_exec_sync(cri_client *cl, const char *container_id, const char *const *cmd, size_t ncmd,
		  int64_t timeout_s, Runtime__V1__ExecSyncResponse **out, cri_grpc_status *st);

/* Exec / Attach: ask the runtime for a streaming URL (its streaming server, e.g.
 * containerd's http://127.0.0.1:<port>/exec/<token>); *url is malloc'd.  The flags are
 * the requested streams (at least one of in/out_/err_; not err_ with tty).  A reply
 * without a URL is -EPROTO ("URL is not set").  The fake runtime answers UNIMPLEMENTED. */
int cri_exec(cri_client *cl, const char *container_id, const char *const *cmd, size_t ncmd, int tty,
	     int in, int out_, int err_, char **url, cri_grpc_status *st);
int cri_attach(cri_client *cl, const char *container_id, int tty, int in, int out_, int err_, char **url,
	       cri_grpc_status *st);
/* PortForward: a streaming URL for the sandbox's ports[0..nports) (borrowed; may be empty:
 * the client names ports per stream). */
int cri_port_forward(cri_client *cl, const char *sandbox_id, const int32_t *ports, size_t nports, char **url,
		     cri_grpc_status *st);

/* ---- ImageService ---- */
/* auth and sandbox_cfg may be NULL.  *image_ref receives the runtime's image reference. */
int cri_pull_image(cri_client *cl, const char *image, const Runtime__V1__AuthConfig *auth,
		   const Runtime__V1__PodSandboxConfig *sandbox_cfg, char **image_ref, cri_grpc_status *st);
/* (*out)->image is NULL when the image is not present (not an error, as upstream). */
int cri_image_status(cri_client *cl, const char *image, int verbose,
		     Runtime__V1__ImageStatusResponse **out, cri_grpc_status *st);
int cri_list_images(cri_client *cl, const char *filter_image,
		    Runtime__V1__ListImagesResponse **out, cri_grpc_status *st);
int cri_remove_image(cri_client *cl, const char *image, cri_grpc_status *st);
int cri_image_fs_info(cri_client *cl, Runtime__V1__ImageFsInfoResponse **out, cri_grpc_status *st);

/* Name of a container state as crictl prints it ("CONTAINER_RUNNING"). */
const char *cri_container_state_name(int state);

#endif
