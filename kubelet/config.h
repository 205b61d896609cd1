/* KubeletConfiguration (kubelet.config.k8s.io/v1beta1) from a YAML or JSON file, with
 * upstream's defaults (pkg/kubelet/apis/config/v1beta1/defaults.go) and the checks of
 * ValidateKubeletConfiguration that apply to the fields we hold.  Prefix kcfg_.
 *
 * Fields held: the ones "Kubernetes the Hard Way" writes (authentication.anonymous /
 * webhook / x509.clientCAFile, authorization.mode, cgroupDriver, containerRuntimeEndpoint,
 * enableServer, port, address, clusterDomain, clusterDNS, podCIDR, resolvConf,
 * runtimeRequestTimeout, tlsCertFile, tlsPrivateKeyFile, registerNode) plus staticPodPath,
 * maxPods, nodeStatusUpdateFrequency, nodeStatusReportFrequency, nodeLeaseDurationSeconds,
 * evictionHard, serializeImagePulls, healthzPort, healthzBindAddress, syncFrequency,
 * fileCheckFrequency.  Other v1beta1 fields are accepted and ignored with a warning at
 * -v=1, as upstream's lenient decoding falls back to. */
#ifndef KUBELET_CONFIG_H
#define KUBELET_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define KCFG_MAX_EVICTION 16
#define KCFG_MAX_DNS 8

typedef struct kcfg_threshold {
	char signal[48];   /* "memory.available", "nodefs.available", ... */
	char value[32];    /* quantity ("100Mi") or percentage ("10%") */
} kcfg_threshold;

typedef struct kubelet_config {
	/* all strings owned (malloc'd), never NULL after kcfg_init */
	char *static_pod_path;
	char *pod_cidr;
	char *cluster_domain;
	char *cluster_dns[KCFG_MAX_DNS];
	size_t n_cluster_dns;
	char *cgroup_driver;
	char *container_runtime_endpoint;
	char *tls_cert_file;
	char *tls_private_key_file;
	char *resolv_conf;
	char *address;
	char *healthz_bind_address;
	char *client_ca_file;        /* authentication.x509.clientCAFile */
	char *authorization_mode;    /* "Webhook" | "AlwaysAllow" */
	bool anonymous_auth;         /* authentication.anonymous.enabled */
	bool webhook_authn;          /* authentication.webhook.enabled */
	bool serialize_image_pulls;
	bool register_node;
	bool enable_server;
	int32_t max_pods;
	int32_t port;
	int32_t healthz_port;
	int32_t node_lease_duration_seconds;
	int64_t node_status_update_frequency_ns;
	int64_t node_status_report_frequency_ns;
	int64_t runtime_request_timeout_ns;
	int64_t sync_frequency_ns;
	int64_t file_check_frequency_ns;
	kcfg_threshold eviction_hard[KCFG_MAX_EVICTION];
	size_t n_eviction_hard;
} kubelet_config;

/* Upstream defaults.  Returns 0 or -ENOMEM. */
int kcfg_init(kubelet_config *c);
void kcfg_close(kubelet_config *c);

/* Apply a KubeletConfiguration document (buf borrowed, YAML or JSON) over c.
 * Errors (-EINVAL / KC_EPARSE) come with a message naming the field, e.g.
 * `json: cannot unmarshal string into Go struct field KubeletConfiguration.maxPods of type int32`. */
int kcfg_parse(kubelet_config *c, const char *buf, size_t len, char *err, size_t errlen);
/* kcfg_parse of a file (at most 1 MiB). */
int kcfg_load_file(kubelet_config *c, const char *path, char *err, size_t errlen);
/* ValidateKubeletConfiguration's checks for the held fields; message as upstream's. */
int kcfg_validate(const kubelet_config *c, char *err, size_t errlen);

/* One YAML (or JSON) document (buf borrowed) to JSON with the scalar rules above (also
 * static pod manifests).  0 and *out (caller frees), or KC_EPARSE with err. */
int kcfg_yaml_to_json(const char *buf, size_t len, cJSON **out, char *err, size_t errlen);

/* Replace a string field (copied).  0 or -ENOMEM. */
int kcfg_set_str(char **field, const char *v);

#endif
