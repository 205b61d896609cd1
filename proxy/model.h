/* kube-proxy's view of the cluster: one px_svcport per (Service, port), each with the
 * endpoints its EndpointSlices give for that port (upstream's ServicePortName ->
 * ServicePort + []Endpoint maps in pkg/proxy/servicechangetracker.go and
 * endpointschangetracker.go, flattened into one sorted array).
 *
 * The model is built from plain JSON objects (as the apiserver serves them), so rule
 * generation is testable without an apiserver: px_model_build takes a JSON array of
 * Services and one of EndpointSlices. Only IPv4 is modelled (single-stack, as the rest
 * of kubec): IPv6 ClusterIPs and non-IPv4 slices are skipped with a -v=2 log.
 *
 * Every string that ends up inside an iptables rule (namespace, name, port name, IPs) is
 * validated here, so a hostile object can never inject arguments into iptables-restore:
 * an invalid Service or slice is skipped with a warning naming it. */
#ifndef PX_MODEL_H
#define PX_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#define PX_CHAIN_LEN 29 /* iptables chain names are at most 28 characters */
#define PX_SPN_LEN 400  /* "namespace/name:portname" */
#define PX_IP_LEN 16    /* dotted IPv4 */
#define PX_ADDR_LEN 24  /* "ip:port" */

/* Default of spec.sessionAffinityConfig.clientIP.timeoutSeconds (3 hours, as upstream's
 * DefaultClientIPServiceAffinitySeconds). */
#define PX_DEFAULT_AFFINITY_SECONDS 10800

typedef struct px_endpoint {
	char ip[PX_IP_LEN];
	int port;
	char addr[PX_ADDR_LEN];   /* "ip:port", the endpoint's String() upstream */
	char chain[PX_CHAIN_LEN]; /* KUBE-SEP-<hash of spn+proto+addr> */
	bool ready, serving, terminating;
	bool local; /* endpoint's nodeName equals this node's name */
} px_endpoint;

typedef struct px_svcport {
	char spn[PX_SPN_LEN]; /* ServicePortName.String(): "ns/name:port", or "ns/name" unnamed */
	char proto[8];        /* lower case: "tcp", "udp", "sctp" */
	char cluster_ip[PX_IP_LEN];
	int port;
	int node_port;        /* 0 when none */
	bool affinity;        /* sessionAffinity: ClientIP */
	int affinity_seconds;
	bool etp_local;       /* externalTrafficPolicy: Local (and externally accessible) */
	bool itp_local;       /* internalTrafficPolicy: Local */
	char svc_chain[PX_CHAIN_LEN]; /* KUBE-SVC-: cluster policy */
	char svl_chain[PX_CHAIN_LEN]; /* KUBE-SVL-: local policy */
	char ext_chain[PX_CHAIN_LEN]; /* KUBE-EXT-: external destinations */
	px_endpoint *eps;     /* sorted by addr, unique */
	size_t neps;
} px_svcport;

typedef struct px_model {
	px_svcport *ports; /* sorted by spn then proto */
	size_t n;
	size_t cap;
} px_model;

void px_model_init(px_model *m);
void px_model_close(px_model *m);

/* Replace m's contents with the ports of every Service in `services` (JSON array,
 * borrowed) and their endpoints from `slices` (JSON array of discovery.k8s.io/v1
 * EndpointSlices, borrowed; NULL means none). node_name (borrowed, may be NULL) decides
 * which endpoints are local. Services without a usable ClusterIP (headless, ExternalName,
 * "None") and Services carrying the service.kubernetes.io/service-proxy-name label are
 * skipped, as upstream. Returns 0 or -ENOMEM (m then empty). Invalid objects are skipped,
 * never an error. */
int px_model_build(px_model *m, const cJSON *services, const cJSON *slices,
		   const char *node_name);

/* The hashed chain name: prefix ("KUBE-SVC-", ...) + the first 16 characters of the
 * standard base32 of SHA-256(spn + proto [+ addr]), as upstream's portProtoHash and
 * servicePortEndpointChainName. addr may be NULL. out must hold PX_CHAIN_LEN bytes. */
void px_chain_name(char *out, const char *prefix, const char *spn, const char *proto,
		   const char *addr);

/* The port with this spn and proto, or NULL. */
const px_svcport *px_model_find(const px_model *m, const char *spn, const char *proto);

#endif
