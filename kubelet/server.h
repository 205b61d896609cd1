/* The kubelet's server (pkg/kubelet/server/server.go, much reduced).  Prefix ksrv_.
 *
 * HTTPS on `port` (10250) with libmicrohttpd: the serving certificate from
 * tlsCertFile/tlsPrivateKeyFile, or one generated at start-up as upstream does when none
 * is configured (self-signed for the host name and node IP, kept in
 * <root-dir>/pki/kubelet.{crt,key} and reused).  Clients authenticate with a certificate
 * signed by authentication.x509.clientCAFile; without one a request is anonymous
 * (system:anonymous), refused with 401 unless authentication.anonymous.enabled.
 * Authorization: AlwaysAllow allows every authenticated request; Webhook would need the
 * apiserver's SubjectAccessReview, which kubec's apiserver does not serve, so under
 * Webhook authenticated clients are allowed and anonymous ones get 403 (logged once at
 * start-up).
 *
 * Endpoints: /healthz ("ok"; also plain HTTP on healthzBindAddress:healthzPort, 10248),
 * /pods (PodList of the pods this kubelet runs), /containerLogs/{ns}/{pod}/{container}
 * with upstream's query (follow, tailLines, timestamps, sinceSeconds, sinceTime,
 * limitBytes, previous; the legacy `tail`), streamed with chunked encoding while
 * following; /exec/{ns}/{pod}/{container} and /attach/... (WebSocket v5/v4.channel.k8s.io)
 * and /portForward/{ns}/{pod} (kubectl's SPDY-over-WebSocket tunnel): upgraded (the daemon
 * runs with MHD_ALLOW_UPGRADE) and bridged to the runtime by streaming.h on a thread per
 * session; ksrv_stop ends live sessions first.  /run answers 501. */
#ifndef KUBELET_SERVER_H
#define KUBELET_SERVER_H

#include "pod_worker.h"

typedef struct ksrv_config {
	const char *address;          /* bind address, "0.0.0.0" default */
	int port;                     /* 10250; 0 = no HTTPS server */
	const char *healthz_address;  /* "127.0.0.1" */
	int healthz_port;             /* 10248; 0 = none */
	const char *tls_cert_file;    /* "" = generate */
	const char *tls_key_file;
	const char *client_ca_file;   /* "" = no client certificates accepted */
	int anonymous;                /* authentication.anonymous.enabled */
	const char *authorization_mode; /* "Webhook" / "AlwaysAllow" */
	const char *root_dir;         /* for pki/ */
	const char *node_name;        /* the generated certificate's names */
	const char *node_ip;
	pw_manager *pods;             /* borrowed, outlives the server */
} ksrv_config;

typedef struct ksrv ksrv;

/* Start both listeners.  All strings are copied.  0 or a negative error with err set. */
int ksrv_start(const ksrv_config *cfg, ksrv **out, char *err, size_t errlen);
/* Stop and free; NULL ok.  Followers are ended. */
void ksrv_stop(ksrv *s);

/* server_metrics.c: the pages of /metrics (metrics.h's registry, the pods' container
 * states, kubelet_node_name, process figures) and /metrics/resource (node figures from
 * proc_root, pods' and containers' from their cgroups under cg_root: "/proc" and
 * "/sys/fs/cgroup" in the kubelet).  malloc'd text, NULL on ENOMEM.  pods may be NULL. */
char *ksrv_metrics_text(pw_manager *pods, const char *node_name);
char *ksrv_metrics_resource_text(pw_manager *pods, const char *proc_root, const char *cg_root);

/* Parse the containerLogs query (pure; exposed for tests).  get(arg, name) returns a
 * query value or NULL.  Returns 0, 400 (`{"message": "Unable to decode query."}`) or 422
 * (`{"message": "Invalid request."}`, ValidatePodLogOptions) with msg set. */
typedef struct ksrv_log_query {
	int follow, timestamps, previous;
	int64_t tail_lines;     /* -1 all */
	int64_t since_ns;       /* 0 none; sinceSeconds resolved against now_ns */
	int64_t limit_bytes;    /* -1 none */
} ksrv_log_query;
int ksrv_parse_log_query(const char *(*get)(void *arg, const char *name), void *arg, int64_t now_ns,
			 ksrv_log_query *q, char *msg, size_t msglen);

#endif
