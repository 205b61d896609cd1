/* Typed CRI calls over grpc.c.  See cri_client.h. */
#include "cri_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors.h"
#include "log.h"
#include "metrics.h"

#define RT "/runtime.v1.RuntimeService/"
#define IMG "/runtime.v1.ImageService/"

int cri_client_init(cri_client *cl, const char *endpoint, int64_t timeout_ms)
{
	memset(cl, 0, sizeof(*cl));
	cl->timeout_ms = timeout_ms > 0 ? timeout_ms : CRI_DEFAULT_TIMEOUT_MS;
	/* Upstream pulls without a per-call deadline (progress is watched instead); we
	 * still bound a pull so a wedged runtime cannot hang a pod worker forever. */
	cl->pull_timeout_ms = 10 * 60 * 1000;
	if (endpoint && !strncmp(endpoint, CRI_FAKE_SCHEME, strlen(CRI_FAKE_SCHEME)))
		return cri_fake_new(NULL, &cl->fake);
	return cri_conn_new(endpoint, &cl->conn);
}

int cri_client_is_fake(const cri_client *cl)
{
	return cl && cl->fake != NULL;
}

void cri_client_close(cri_client *cl)
{
	if (cl && cl->conn) {
		cri_conn_free(cl->conn);
		cl->conn = NULL;
	}
	if (cl && cl->fake) {
		cri_fake_free(cl->fake);
		cl->fake = NULL;
	}
}

void cri_msg_free(void *msg)
{
	if (msg)
		protobuf_c_message_free_unpacked(msg, NULL);
}

static void set_status(cri_grpc_status *st, int code, const char *fmt, const char *arg)
{
	if (!st)
		return;
	st->code = code;
	snprintf(st->message, sizeof(st->message), fmt, arg);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cri_unary(cri_client *cl, const char *path, const ProtobufCMessage *req,
	      const ProtobufCMessageDescriptor *resp_desc, int64_t timeout_ms,
	      ProtobufCMessage **out, cri_grpc_status *st)
{
	cri_grpc_status local;
	if (!st)
		st = &local;
	st->code = CRI_GRPC_OK;
	st->message[0] = '\0';
	if (!cl || (!cl->conn && !cl->fake) || !path || !req || !resp_desc || !out)
		return -EINVAL;
	*out = NULL;
	uint8_t *resp = NULL;
	size_t resp_len = 0;
	int64_t t0 = now_ms(), t0ns = kmet_now_ns();
	int rc;
	if (cl->fake) {
		/* the fake answers the request message itself and packs its reply, so the
		 * reply goes through the same unpacking and validation as containerd's */
		rc = cri_fake_call(cl->fake, path, req, &resp, &resp_len, st);
	} else {
		size_t n = protobuf_c_message_get_packed_size(req);
		uint8_t *buf = malloc(n ? n : 1);
		if (!buf)
			return -ENOMEM;
		protobuf_c_message_pack(req, buf);
		rc = cri_conn_call(cl->conn, path, buf, n, timeout_ms, &resp, &resp_len, st);
		free(buf);
	}
	kmet_runtime_op(kmet_default(), path, rc < 0, kmet_now_ns() - t0ns);
	if (rc < 0) {
		kc_log_v(4, "CRI %s failed after %lldms: rpc error: code = %s desc = %s", path,
			 (long long)(now_ms() - t0), cri_grpc_code_name(st->code), st->message);
		return rc;
	}
	static const uint8_t empty[1];
	ProtobufCMessage *m = protobuf_c_message_unpack(resp_desc, NULL, resp_len, resp ? resp : empty);
	free(resp);
	if (!m) {
		set_status(st, CRI_GRPC_INTERNAL, "grpc: failed to unmarshal the received message as %s",
			   resp_desc->name);
		kc_warn("CRI %s: malformed reply (%zu bytes)", path, resp_len);
		return -EPROTO;
	}
	kc_log_v(5, "CRI %s ok in %lldms", path, (long long)(now_ms() - t0));
	*out = m;
	return 0;
}

/* Reply validation failed: free, report as upstream's error text, return -EPROTO. */
static int invalid_reply(void *msg, cri_grpc_status *st, const char *what)
{
	cri_msg_free(msg);
	set_status(st, CRI_GRPC_INTERNAL, "%s", what);
	return -EPROTO;
}

static int dup_id(const char *s, char **out)
{
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

static int empty_id(const char *s)
{
	return !s || !s[0];
}

int cri_version(cri_client *cl, Runtime__V1__VersionResponse **out, cri_grpc_status *st)
{
	Runtime__V1__VersionRequest req = RUNTIME__V1__VERSION_REQUEST__INIT;
	req.version = (char *)CRI_KUBE_RUNTIME_API_VERSION;
	ProtobufCMessage *m = NULL;
	int rc = cri_unary(cl, RT "Version", &req.base, &runtime__v1__version_response__descriptor,
			   cl->timeout_ms, &m, st);
	if (rc < 0)
		return rc;
	Runtime__V1__VersionResponse *r = (Runtime__V1__VersionResponse *)m;
	/* as kuberuntime's verifyVersion... remote_runtime.go: all four must be set */
	if (!r->version[0] || !r->runtime_name[0] || !r->runtime_version[0] || !r->runtime_api_version[0])
		return invalid_reply(m, st, "not all fields are set in VersionResponse");
	*out = r;
	return 0;
}

int cri_status(cri_client *cl, int verbose, Runtime__V1__StatusResponse **out, cri_grpc_status *st)
{
	Runtime__V1__StatusRequest req = RUNTIME__V1__STATUS_REQUEST__INIT;
	req.verbose = verbose != 0;
	ProtobufCMessage *m = NULL;
	int rc = cri_unary(cl, RT "Status", &req.base, &runtime__v1__status_response__descriptor,
			   cl->timeout_ms, &m, st);
	if (rc < 0)
		return rc;
	Runtime__V1__StatusResponse *r = (Runtime__V1__StatusResponse *)m;
	if (!r->status)
		return invalid_reply(m, st, "RuntimeReady is not set");
	*out = r;
	return 0;
}

int cri_run_pod_sandbox(cri_client *cl, const Runtime__V1__PodSandboxConfig *cfg,
			const char *runtime_handler, char **sandbox_id, cri_grpc_status *st)
{
	if (!cfg || !cfg->metadata || !sandbox_id)
		return -EINVAL;
	Runtime__V1__RunPodSandboxRequest req = RUNTIME__V1__RUN_POD_SANDBOX_REQUEST__INIT;
	req.config = (Runtime__V1__PodSandboxConfig *)cfg;
	if (runtime_handler)
		req.runtime_handler = (char *)runtime_handler;
	ProtobufCMessage *m = NULL;
	/* Upstream gives RunPodSandbox twice the request timeout (remote_runtime.go). */
	int rc = cri_unary(cl, RT "RunPodSandbox", &req.base, &runtime__v1__run_pod_sandbox_response__descriptor,
			   cl->timeout_ms * 2, &m, st);
	if (rc < 0)
		return rc;
	Runtime__V1__RunPodSandboxResponse *r = (Runtime__V1__RunPodSandboxResponse *)m;
	if (empty_id(r->pod_sandbox_id))
		return invalid_reply(m, st, "PodSandboxId is not set for sandbox");
	rc = dup_id(r->pod_sandbox_id, sandbox_id);
	cri_msg_free(m);
	return rc;
}

static int sandbox_id_call(cri_client *cl, const char *path, const char *id,
			   const ProtobufCMessageDescriptor *rd, cri_grpc_status *st)
{
	if (empty_id(id))
		return -EINVAL;
	/* Stop and Remove requests share the same shape: field 1 = pod_sandbox_id. */
	Runtime__V1__StopPodSandboxRequest req = RUNTIME__V1__STOP_POD_SANDBOX_REQUEST__INIT;
	req.pod_sandbox_id = (char *)id;
	ProtobufCMessage *m = NULL;
	int rc = cri_unary(cl, path, &req.base, rd, cl->timeout_ms, &m, st);
	cri_msg_free(m);
	return rc;
}

int cri_stop_pod_sandbox(cri_client *cl, const char *sandbox_id, cri_grpc_status *st)
{
	return sandbox_id_call(cl, RT "StopPodSandbox", sandbox_id,
			       &runtime__v1__stop_pod_sandbox_response__descriptor, st);
}

int cri_remove_pod_sandbox(cri_client *cl, const char *sandbox_id, cri_grpc_status *st)
{
	return sandbox_id_call(cl, RT "RemovePodSandbox", sandbox_id,
			       &runtime__v1__remove_pod_sandbox_response__descriptor, st);
}

/* verifySandboxStatus in remote_runtime.go */
static const char *sandbox_status_invalid(const Runtime__V1__PodSandboxStatus *s)
{
	if (empty_id(s->id))
		return "status.Id is not set";
	if (!s->metadata)
		return "status.Metadata is not set";
	if (empty_id(s->metadata->name) || empty_id(s->metadata->namespace_) || empty_id(s->metadata->uid))
		return "metadata.Name, metadata.Namespace or metadata.Uid is not in metadata";
	if (s->created_at == 0)
		return "status.CreatedAt is not set";
	return NULL;
}

int cri_pod_sandbox_status(cri_client *cl, const char *sandbox_id, int verbose,
			   Runtime__V1__PodSandboxStatusResponse **out, cri_grpc_status *st)
{
	if (empty_id(sandbox_id) || !out)
		return -EINVAL;
	Runtime__V1__PodSandboxStatusRequest req = RUNTIME__V1__POD_SANDBOX_STATUS_REQUEST__INIT;
	req.pod_sandbox_id = (char *)sandbox_id;
	req.verbose = verbose != 0;
	ProtobufCMessage *m = NULL;
	int rc = cri_unary(cl, RT "PodSandboxStatus", &req.base,
			   &runtime__v1__pod_sandbox_status_response__descriptor, cl->timeout_ms, &m, st);
	if (rc < 0)
		return rc;
	Runtime__V1__PodSandboxStatusResponse *r = (Runtime__V1__PodSandboxStatusResponse *)m;
	if (!r->status)
		return invalid_reply(m, st, "status of sandbox is not set");
	const char *bad = sandbox_status_invalid(r->status);
	if (bad)
		return invalid_reply(m, st, bad);
	*out = r;
	return 0;
}

int cri_list_pod_sandbox(cri_client *cl, const Runtime__V1__PodSandboxFilter *filter,
			 Runtime__V1__ListPodSandboxResponse **out, cri_grpc_status *st)
{
	if (!out)
		return -EINVAL;
	Runtime__V1__ListPodSandboxRequest req = RUNTIME__V1__LIST_POD_SANDBOX_REQUEST__INIT;
	req.filter = (Runtime__V1__PodSandboxFilter *)filter;
	ProtobufCMessage *m = NULL;
	int rc = cri_unary(cl, RT "ListPodSandbox", &req.base, &runtime__v1__list_pod_sandbox_response__descriptor,
			   cl->timeout_ms, &m, st);
	if (rc < 0)
		return rc;
	Runtime__V1__ListPodSandboxResponse *r = (Runtime__V1__ListPodSandboxResponse *)m;
	for (size_t i = 0; i < r->n_items; i++)
		if (empty_id(r->items[i]->id) || !r->items[i]->metadata)
			return invalid_reply(m, st, "ListPodSandbox returned a sandbox without id or metadata");
	*out = r;
	return 0;
}

int cri_create_container(cri_client *cl, const char *sandbox_id, const Runtime__V1__ContainerConfig *cfg,
			 const Runtime__V1__PodSandboxConfig *sandbox_cfg, char **container_id,
			 cri_grpc_status *st)
{
	if (empty_id(sandbox_id) || !cfg || !cfg->metadata || !cfg->image || !container_id)
		return -EINVAL;
	Runtime__V1__CreateContainerRequest req = RUNTIME__V1__CREATE_CONTAINER_REQUEST__INIT;
	req.pod_sandbox_id = (char *)sandbox_id;
	req.config = (Runtime__V1__ContainerConfig *)cfg;
	req.sandbox_config = (Runtime__V1__PodSandboxConfig *)sandbox_cfg;
	ProtobufCMessage *m = NULL;
	int rc = cri_unary(cl, RT "CreateContainer", &req.base, &runtime__v1__create_container_response__descriptor,
			   cl->timeout_ms, &m, st);
	if (rc < 0)
		return rc;
	Runtime__V1__CreateContainerResponse *r = (Runtime__V1__CreateContainerResponse *)m;
	if (empty_id(r->container_id))
		return invalid_reply(m, st, "ContainerId is not set for container");
	rc = dup_id(r->container_id, container_id);
	cri_msg_free(m);
	return rc;
}

static int container_id_call(cri_client *cl, const char *path, const char *id, int64_t timeout_ms,
			     const ProtobufCMessageDescriptor *rd, cri_grpc_status *st)
{
	if (empty_id(id))
		return -EINVAL;
	/* Start and Remove requests share the shape: field 1 = container_id. */
	Runtime__V1__StartContainerRequest req = RUNTIME__V1__START_CONTAINER_REQUEST__INIT;
	req.container_id = (char *)id;
	ProtobufCMessage *m = NULL;
	int rc = cri_unary(cl, path, &req.base, rd, timeout_ms, &m, st);
	cri_msg_free(m);
	return rc;
}

int cri_start_container(cri_client *cl, const char *container_id, cri_grpc_status *st)
{
	return container_id_call(cl, RT "StartContainer", container_id, cl->timeout_ms,
				 &runtime__v1__start_container_response__descriptor, st);
}

int cri_remove_container(cri_client *cl, const char *container_id, cri_grpc_status *st)
{
	return container_id_call(cl, RT "RemoveContainer", container_id, cl->timeout_ms,
				 &runtime__v1__remove_container_response__descriptor, st);
}

int cri_stop_container(cri_client *cl, const char *container_id, int64_t timeout_s, cri_grpc_status *st)
{
	if (empty_id(container_id) || timeout_s < 0)
		return -EINVAL;
	Runtime__V1__StopContainerRequest req = RUNTIME__V1__STOP_CONTAINER_REQUEST__INIT;
	req.container_id = (char *)container_id;
	req.timeout = timeout_s;
	ProtobufCMessage *m = NULL;
	/* remote_runtime.go: deadline = runtime request timeout + the grace period */
	int rc = cri_unary(cl, RT "StopContainer", &req.base, &runtime__v1__stop_container_response__descriptor,
			   cl->timeout_ms + timeout_s * 1000, &m, st);
	cri_msg_free(m);
	return rc;
}

int cri_list_containers(cri_client *cl, const Runtime__V1__ContainerFilter *filter,
			Runtime__V1__ListContainersResponse **out, cri_grpc_status *st)
{
	if (!out)
		return -EINVAL;
	Runtime__V1__ListContainersRequest req = RUNTIME__V1__LIST_CONTAINERS_REQUEST__INIT;
	req.filter = (Runtime__V1__ContainerFilter *)filter;
	ProtobufCMessage *m = NULL;
	int rc = cri_unary(cl, RT "ListContainers", &req.base, &runtime__v1__list_containers_response__descriptor,
			   cl->timeout_ms, &m, st);
	if (rc < 0)
		return rc;
	Runtime__V1__ListContainersResponse *r = (Runtime__V1__ListContainersResponse *)m;
	for (size_t i = 0; i < r->n_containers; i++)
		if (empty_id(r->containers[i]->id) || !r->containers[i]->metadata)
			return invalid_reply(m, st, "ListContainers returned a container without id or metadata");
	*out = r;
	return 0;
}

/* verifyContainerStatus in remote_runtime.go */
static const char *container_status_invalid(const Runtime__V1__ContainerStatus *s)
{
	if (empty_id(s->id))
		return "status.Id is not set";
	if (!s->metadata)
		return "status.Metadata is not set";
	if (empty_id(s->metadata->name))
		return "metadata.Name is not in metadata";
	if (s->created_at == 0)
		return "status.CreatedAt is not set";
	if (!s->image)
		return "status.Image is not set";
	if (empty_id(s->image_ref))
		return "status.ImageRef is not set";
	return NULL;
}

int cri_container_status(cri_client *cl, const char *container_id, int verbose,
			 Runtime__V1__ContainerStatusResponse **out, cri_grpc_status *st)
{
	if (empty_id(container_id) || !out)
		return -EINVAL;
	Runtime__V1__ContainerStatusRequest req = RUNTIME__V1__CONTAINER_STATUS_REQUEST__INIT;
	req.container_id = (char *)container_id;
	req.verbose = verbose != 0;
	ProtobufCMessage *m = NULL;
	int rc = cri_unary(cl, RT "ContainerStatus", &req.base, &runtime__v1__container_status_response__descriptor,
			   cl->timeout_ms, &m, st);
	if (rc < 0)
		return rc;
	Runtime__V1__ContainerStatusResponse *r = (Runtime__V1__ContainerStatusResponse *)m;
	if (!r->status)
		return invalid_reply(m, st, "status of container is not set");
	const char *bad = container_status_invalid(r->status);
	if (bad)
		return invalid_reply(m, st, bad);
	*out = r;
	return 0;
}

int cri_exec_sync(cri_client *cl, const char *container_id, const char *const *cmd, size_t ncmd,
		  int64_t timeout_s, Runtime__V1__ExecSyncResponse **out, cri_grpc_status *st)
{
	if (empty_id(container_id) || !cmd || ncmd == 0 || timeout_s < 0 || !out)
		return -EINVAL;
	Runtime__V1__ExecSyncRequest req = RUNTIME__V1__EXEC_SYNC_REQUEST__INIT;
	req.container_id = (char *)container_id;
	req.cmd = (char **)cmd;
	req.n_cmd = ncmd;
	req.timeout = timeout_s;
	ProtobufCMessage *m = NULL;
	/* remote_runtime.go ExecSync: timeout + runtime request timeout when a timeout is
	 * given; otherwise no deadline at all.  We keep the request timeout as a floor. */
	int rc = cri_unary(cl, RT "ExecSync", &req.base, &runtime__v1__exec_sync_response__descriptor,
			   cl->timeout_ms + timeout_s * 1000, &m, st);
	if (rc < 0)
		return rc;
	*out = (Runtime__V1__ExecSyncResponse *)m;
	return 0;
}

/* remote_runtime.go Exec/Attach/PortForward: the reply must carry a URL ("URL is not
 * set" otherwise, as upstream's validation). */
static int take_url(ProtobufCMessage *m, const char *url, char **out, cri_grpc_status *st)
{
	if (!url || !url[0]) {
		cri_msg_free(m);
		if (st) {
			st->code = CRI_GRPC_INTERNAL;
			snprintf(st->message, sizeof(st->message), "URL is not set");
		}
		return -EPROTO;
	}
	*out = strdup(url);
	cri_msg_free(m);
	return *out ? 0 : -ENOMEM;
}

int cri_exec(cri_client *cl, const char *container_id, const char *const *cmd, size_t ncmd, int tty,
	     int in, int out_, int err_, char **url, cri_grpc_status *st)
{
	if (empty_id(container_id) || !cmd || ncmd == 0 || !url)
		return -EINVAL;
	Runtime__V1__ExecRequest req = RUNTIME__V1__EXEC_REQUEST__INIT;
	req.container_id = (char *)container_id;
	req.cmd = (char **)cmd;
	req.n_cmd = ncmd;
	req.tty = tty != 0;
	req.stdin = in != 0;
	req.stdout = out_ != 0;
	req.stderr = err_ != 0;
	ProtobufCMessage *m = NULL;
	int rc = cri_unary(cl, RT "Exec", &req.base, &runtime__v1__exec_response__descriptor, cl->timeout_ms, &m,
			   st);
	if (rc < 0)
		return rc;
	return take_url(m, ((Runtime__V1__ExecResponse *)m)->url, url, st);
}

int cri_attach(cri_client *cl, const char *container_id, int tty, int in, int out_, int err_, char **url,
	       cri_grpc_status *st)
{
	if (empty_id(container_id) || !url)
		return -EINVAL;
	Runtime__V1__AttachRequest req = RUNTIME__V1__ATTACH_REQUEST__INIT;
	req.container_id = (char *)container_id;
	req.tty = tty != 0;
	req.stdin = in != 0;
	req.stdout = out_ != 0;
	req.stderr = err_ != 0;
	ProtobufCMessage *m = NULL;
	int rc = cri_unary(cl, RT "Attach", &req.base, &runtime__v1__attach_response__descriptor, cl->timeout_ms,
			   &m, st);
	if (rc < 0)
		return rc;
	return take_url(m, ((Runtime__V1__AttachResponse *)m)->url, url, st);
}

int cri_port_forward(cri_client *cl, const char *sandbox_id, const int32_t *ports, size_t nports, char **url,
		     cri_grpc_status *st)
{
	if (empty_id(sandbox_id) || !url || (nports && !ports))
		return -EINVAL;
	Runtime__V1__PortForwardRequest req = RUNTIME__V1__PORT_FORWARD_REQUEST__INIT;
	req.pod_sandbox_id = (char *)sandbox_id;
	req.port = (int32_t *)ports;
	req.n_port = nports;
	ProtobufCMessage *m = NULL;
	int rc = cri_unary(cl, RT "PortForward", &req.base, &runtime__v1__port_forward_response__descriptor,
			   cl->timeout_ms, &m, st);
	if (rc < 0)
		return rc;
	return take_url(m, ((Runtime__V1__PortForwardResponse *)m)->url, url, st);
}

int cri_pull_image(cri_client *cl, const char *image, const Runtime__V1__AuthConfig *auth,
		   const Runtime__V1__PodSandboxConfig *sandbox_cfg, char **image_ref, cri_grpc_status *st)
{
	if (empty_id(image) || !image_ref)
		return -EINVAL;
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
	spec.image = (char *)image;
	Runtime__V1__PullImageRequest req = RUNTIME__V1__PULL_IMAGE_REQUEST__INIT;
	req.image = &spec;
	req.auth = (Runtime__V1__AuthConfig *)auth;
	req.sandbox_config = (Runtime__V1__PodSandboxConfig *)sandbox_cfg;
	ProtobufCMessage *m = NULL;
	int rc = cri_unary(cl, IMG "PullImage", &req.base, &runtime__v1__pull_image_response__descriptor,
			   cl->pull_timeout_ms, &m, st);
	if (rc < 0)
		return rc;
	Runtime__V1__PullImageResponse *r = (Runtime__V1__PullImageResponse *)m;
	if (empty_id(r->image_ref))
		return invalid_reply(m, st, "imageRef not set for image");
	rc = dup_id(r->image_ref, image_ref);
	cri_msg_free(m);
	return rc;
}

int cri_image_status(cri_client *cl, const char *image, int verbose,
		     Runtime__V1__ImageStatusResponse **out, cri_grpc_status *st)
{
	if (empty_id(image) || !out)
		return -EINVAL;
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
	spec.image = (char *)image;
	Runtime__V1__ImageStatusRequest req = RUNTIME__V1__IMAGE_STATUS_REQUEST__INIT;
	req.image = &spec;
	req.verbose = verbose != 0;
	ProtobufCMessage *m = NULL;
	int rc = cri_unary(cl, IMG "ImageStatus", &req.base, &runtime__v1__image_status_response__descriptor,
			   cl->timeout_ms, &m, st);
	if (rc < 0)
		return rc;
	Runtime__V1__ImageStatusResponse *r = (Runtime__V1__ImageStatusResponse *)m;
	/* remote_image.go: an image without id, or with size 0, is an invalid reply */
	if (r->image && (empty_id(r->image->id) || r->image->size == 0))
		return invalid_reply(m, st, "Id or size of image is not set");
	*out = r;
	return 0;
}

int cri_list_images(cri_client *cl, const char *filter_image,
		    Runtime__V1__ListImagesResponse **out, cri_grpc_status *st)
{
	if (!out)
		return -EINVAL;
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
	Runtime__V1__ImageFilter filter = RUNTIME__V1__IMAGE_FILTER__INIT;
	Runtime__V1__ListImagesRequest req = RUNTIME__V1__LIST_IMAGES_REQUEST__INIT;
	if (filter_image) {
		spec.image = (char *)filter_image;
		filter.image = &spec;
		req.filter = &filter;
	}
	ProtobufCMessage *m = NULL;
	int rc = cri_unary(cl, IMG "ListImages", &req.base, &runtime__v1__list_images_response__descriptor,
			   cl->timeout_ms, &m, st);
	if (rc < 0)
		return rc;
	*out = (Runtime__V1__ListImagesResponse *)m;
	return 0;
}

int cri_remove_image(cri_client *cl, const char *image, cri_grpc_status *st)
{
	if (empty_id(image))
		return -EINVAL;
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
	spec.image = (char *)image;
	Runtime__V1__RemoveImageRequest req = RUNTIME__V1__REMOVE_IMAGE_REQUEST__INIT;
	req.image = &spec;
	ProtobufCMessage *m = NULL;
	int rc = cri_unary(cl, IMG "RemoveImage", &req.base, &runtime__v1__remove_image_response__descriptor,
			   cl->timeout_ms, &m, st);
	cri_msg_free(m);
	return rc;
}

int cri_image_fs_info(cri_client *cl, Runtime__V1__ImageFsInfoResponse **out, cri_grpc_status *st)
{
	if (!out)
		return -EINVAL;
	Runtime__V1__ImageFsInfoRequest req = RUNTIME__V1__IMAGE_FS_INFO_REQUEST__INIT;
	ProtobufCMessage *m = NULL;
	int rc = cri_unary(cl, IMG "ImageFsInfo", &req.base, &runtime__v1__image_fs_info_response__descriptor,
			   cl->timeout_ms, &m, st);
	if (rc < 0)
		return rc;
	*out = (Runtime__V1__ImageFsInfoResponse *)m;
	return 0;
}

const char *cri_container_state_name(int state)
{
	switch (state) {
	case RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED: return "CONTAINER_CREATED";
	case RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING: return "CONTAINER_RUNNING";
	case RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED: return "CONTAINER_EXITED";
	default: return "CONTAINER_UNKNOWN";
	}
}
