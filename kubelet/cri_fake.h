/* An in-process fake CRI runtime for hollow nodes (--container-runtime-endpoint=fake://),
 * after upstream's kubemark, whose hollow kubelet runs on
 * cri-api/pkg/apis/testing.FakeRuntimeService behind fakeremote.RemoteRuntime.  Prefix
 * cri_fake_.
 *
 * It answers the same unary RPCs as containerd (cri_client.c routes cri_unary here when
 * the endpoint is fake://), so the pod workers run unchanged: sandboxes get an IP from
 * the pod CIDR and are Ready until stopped; containers go CREATED -> RUNNING on
 * StartContainer and stay running until StopContainer (exit code 0, as the upstream fake);
 * every image is present (ImageStatus answers for any name, PullImage succeeds); ExecSync
 * exits 0, so exec probes pass (httpGet / tcpSocket probes are passed by the prober when
 * the runtime is fake: nothing listens on a fake IP).  Version reports
 * runtime_name "fakeRuntime", version "0.1.0" as the upstream fake, so the Node says
 * containerRuntimeVersion "fakeRuntime://0.1.0".  Nothing touches the host: no process,
 * no network namespace, no cgroup.  Thread-safe. */
#ifndef KUBELET_CRI_FAKE_H
#define KUBELET_CRI_FAKE_H

#include <stddef.h>
#include <stdint.h>

#include "grpc.h"
#include <protobuf-c/protobuf-c.h>

#define CRI_FAKE_SCHEME "fake://"
#define CRI_FAKE_RUNTIME_NAME "fakeRuntime"
#define CRI_FAKE_RUNTIME_VERSION "0.1.0"
/* Pod IPs when no podCIDR is configured (containerd's default bridge network). */
#define CRI_FAKE_DEFAULT_CIDR "10.88.0.0/16"

typedef struct cri_fake cri_fake;

/* pod_cidr: IPv4 "a.b.c.d/n" (8 <= n <= 30) or NULL/"" for CRI_FAKE_DEFAULT_CIDR; copied.
 * -EINVAL for a malformed CIDR. */
int cri_fake_new(const char *pod_cidr, cri_fake **out);
void cri_fake_free(cri_fake *f);
/* Change the range new sandboxes get IPs from (existing ones keep theirs). */
int cri_fake_set_pod_cidr(cri_fake *f, const char *pod_cidr);

/* One unary call: path is the gRPC method ("/runtime.v1.RuntimeService/Version"), req
 * the request message of that method (borrowed; its descriptor is checked).  On success
 * *resp is the packed reply (malloc'd, the caller frees it) and 0 is returned; on error a
 * negative error as cri_grpc_code_to_err with st filled (NOT_FOUND for unknown ids,
 * UNIMPLEMENTED for methods the fake does not serve). */
int cri_fake_call(cri_fake *f, const char *path, const ProtobufCMessage *req, uint8_t **resp, size_t *resp_len,
		  cri_grpc_status *st);

/* Counts, for tests: sandboxes (all states) and containers the fake holds. */
void cri_fake_counts(cri_fake *f, int *sandboxes, int *containers);

#endif
