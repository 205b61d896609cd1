/* KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1), the subset kubec implements,
 * read from YAML (or JSON) with libyaml, defaulted and validated as upstream
 * (pkg/proxy/apis/config/v1alpha1/defaults.go, validation/validation.go).
 *
 * Fields: mode, clusterCIDR, clientConnection.kubeconfig, hostnameOverride,
 * iptables.syncPeriod, iptables.minSyncPeriod, iptables.masqueradeBit,
 * nodePortAddresses, healthzBindAddress, metricsBindAddress. Other fields are accepted
 * and ignored (with a -v=2 log). Errors name the field, e.g.
 * `iptables.masqueradeBit: Invalid value: 40: must be within the range [0, 31]`. */
#ifndef PX_CONFIG_H
#define PX_CONFIG_H

#include <stddef.h>
#include <stdint.h>

typedef struct px_config {
	char mode[32];            /* "" or "iptables" (only mode implemented) */
	char cluster_cidr[64];    /* "" or an IPv4 CIDR */
	char kubeconfig[1024];
	char hostname_override[254];
	int64_t sync_period_ns;     /* default 30s */
	int64_t min_sync_period_ns; /* default 1s */
	int masq_bit;               /* default 14 */
	char healthz_bind[128];     /* default "0.0.0.0:10256"; "" disables */
	char metrics_bind[128];     /* default "127.0.0.1:10249"; "" disables */
	int n_nodeport_addresses;   /* must be 0: only "all local addresses" is implemented */
} px_config;

/* Upstream's defaults. */
void px_config_defaults(px_config *c);

/* Parse YAML text (len bytes, borrowed) over the values already in c. 0, KC_EPARSE
 * (malformed YAML, wrong kind/apiVersion) or KC_EINVALID (bad field), message in err. */
int px_config_parse(px_config *c, const char *yaml, size_t len, char *err, size_t errlen);

/* Read and parse a file. Also -errno when it cannot be read. */
int px_config_load(px_config *c, const char *path, char *err, size_t errlen);

/* Validate the final values (after flags): mode, clusterCIDR, masqueradeBit, periods,
 * bind addresses, nodePortAddresses. 0 or KC_EINVALID with a message. */
int px_config_validate(const px_config *c, char *err, size_t errlen);

/* "10.0.0.0/8" style IPv4 CIDR check (prefix 0..32, host bits may be set as upstream's
 * ParseCIDR allows). */
int px_valid_ipv4_cidr(const char *s);

/* Split "host:port" (host may be empty or an IPv4 address) into a sockaddr-ready pair:
 * host copied into host (hostlen), port into *port. 0 or -EINVAL. */
int px_split_hostport(const char *s, char *host, size_t hostlen, int *port);

#endif
