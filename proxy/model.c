/* Services + EndpointSlices -> px_model. See model.h. */
#include "model.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "json.h"
#include "log.h"

void px_model_init(px_model *m)
{
	memset(m, 0, sizeof(*m));
}

static void model_clear(px_model *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->ports[i].eps);
	m->n = 0;
}

void px_model_close(px_model *m)
{
	model_clear(m);
	free(m->ports);
	memset(m, 0, sizeof(*m));
}

void px_chain_name(char *out, const char *prefix, const char *spn, const char *proto,
		   const char *addr)
{
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	unsigned char h[SHA256_DIGEST_LENGTH];
	char in[PX_SPN_LEN + 8 + PX_ADDR_LEN];
	int n = snprintf(in, sizeof(in), "%s%s%s", spn, proto, addr ? addr : "");
	if (n < 0 || (size_t)n >= sizeof(in))
		n = (int)strlen(in);
	SHA256((const unsigned char *)in, (size_t)n, h);
	/* 16 base32 characters = 80 bits = the first 10 bytes, 5 bits at a time
	 * (Go's base32.StdEncoding, then [:16]). */
	size_t pl = strlen(prefix);
	if (pl > PX_CHAIN_LEN - 17)
		pl = PX_CHAIN_LEN - 17;
	memcpy(out, prefix, pl);
	uint64_t acc = 0;
	int bits = 0, o = (int)pl;
	for (int i = 0; i < 10; i++) {
		acc = (acc << 8) | h[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = alpha[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	out[o] = '\0';
}

/* DNS-1123 characters only: what namespaces, names and port names may hold. Anything
 * else could break out of an iptables argument. */
static bool valid_name(const char *s, size_t max, bool allow_empty)
{
	if (!s)
		return allow_empty;
	size_t n = strlen(s);
	if (n == 0)
		return allow_empty;
	if (n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return false;
	}
	return true;
}

/* Canonical dotted IPv4 into out (PX_IP_LEN); false if s is not an IPv4 address. */
static bool parse_ipv4(const char *s, char *out)
{
	struct in_addr a;
	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return false;
	return inet_ntop(AF_INET, &a, out, PX_IP_LEN) != NULL;
}

static int get_port(const cJSON *obj, const char *field)
{
	int64_t v;
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, field);
	if (!it || kc_json_item_int64(it, &v) != 0 || v < 1 || v > 65535)
		return 0;
	return (int)v;
}

static bool proto_lower(const char *p, char *out)
{
	if (!p || !*p)
		p = "TCP"; /* defaulted by the apiserver; tolerate its absence */
	if (strcmp(p, "TCP") == 0)
		strcpy(out, "tcp");
	else if (strcmp(p, "UDP") == 0)
		strcpy(out, "udp");
	else if (strcmp(p, "SCTP") == 0)
		strcpy(out, "sctp");
	else
		return false;
	return true;
}

/* One slice indexed by "namespace/service-name". */
typedef struct slice_ref {
	char key[320];
	const cJSON *obj;
} slice_ref;

static int cmp_slice_ref(const void *a, const void *b)
{
	return strcmp(((const slice_ref *)a)->key, ((const slice_ref *)b)->key);
}

static int cmp_ep(const void *a, const void *b)
{
	return strcmp(((const px_endpoint *)a)->addr, ((const px_endpoint *)b)->addr);
}

static int cmp_port(const void *a, const void *b)
{
	const px_svcport *x = a, *y = b;
	int c = strcmp(x->spn, y->spn);
	return c ? c : strcmp(x->proto, y->proto);
}

static bool cond_bool(const cJSON *conds, const char *name, bool def)
{
	const cJSON *it = conds ? cJSON_GetObjectItemCaseSensitive(conds, name) : NULL;
	if (cJSON_IsTrue(it))
		return true;
	if (cJSON_IsFalse(it))
		return false;
	return def;
}

/* Append the endpoints of one slice matching (port name, proto) to p. */
static int add_slice_endpoints(px_svcport *p, size_t *cap, const cJSON *slice,
			       const char *port_name, const char *node_name)
{
	const char *at = kc_json_get_string(slice, "addressType", "IPv4");
	if (strcmp(at, "IPv4") != 0)
		return 0;
	const cJSON *ports = cJSON_GetObjectItemCaseSensitive(slice, "ports");
	int eport = 0;
	const cJSON *sp;
	cJSON_ArrayForEach(sp, ports) {
		const char *n = kc_json_get_string(sp, "name", "");
		char pr[8];
		if (strcmp(n, port_name) != 0)
			continue;
		if (!proto_lower(kc_json_get_string(sp, "protocol", "TCP"), pr) ||
		    strcmp(pr, p->proto) != 0)
			continue;
		eport = get_port(sp, "port");
		break;
	}
	if (!eport)
		return 0;
	const cJSON *ep;
	cJSON_ArrayForEach(ep, cJSON_GetObjectItemCaseSensitive(slice, "endpoints")) {
		const cJSON *addrs = cJSON_GetObjectItemCaseSensitive(ep, "addresses");
		/* Upstream uses only the first address of an endpoint. */
		const cJSON *a0 = cJSON_IsArray(addrs) ? cJSON_GetArrayItem(addrs, 0) : NULL;
		px_endpoint e;
		memset(&e, 0, sizeof(e));
		if (!cJSON_IsString(a0) || !parse_ipv4(a0->valuestring, e.ip)) {
			kc_log_v(2, "endpointslice %s/%s: skipping endpoint without an IPv4 address",
				 kc_json_get_string(slice, "metadata.namespace", ""),
				 kc_json_get_string(slice, "metadata.name", ""));
			continue;
		}
		e.port = eport;
		snprintf(e.addr, sizeof(e.addr), "%s:%d", e.ip, eport);
		/* As upstream's endpointslicecache: nil ready means ready, nil serving
		 * means "same as ready", nil terminating means not terminating. */
		const cJSON *conds = cJSON_GetObjectItemCaseSensitive(ep, "conditions");
		e.ready = cond_bool(conds, "ready", true);
		e.serving = cond_bool(conds, "serving", e.ready);
		e.terminating = cond_bool(conds, "terminating", false);
		const char *nn = kc_json_get_string(ep, "nodeName", NULL);
		e.local = node_name && *node_name && nn && strcmp(nn, node_name) == 0;
		/* The same address may appear in two slices while a pod moves between
		 * them; keep one, preferring the ready copy. */
		bool dup = false;
		for (size_t i = 0; i < p->neps; i++) {
			if (strcmp(p->eps[i].addr, e.addr) == 0) {
				if (!p->eps[i].ready && e.ready)
					p->eps[i] = e;
				dup = true;
				break;
			}
		}
		if (dup)
			continue;
		if (p->neps == *cap) {
			size_t nc = *cap ? *cap * 2 : 4;
			px_endpoint *ne = realloc(p->eps, nc * sizeof(*ne));
			if (!ne)
				return -ENOMEM;
			p->eps = ne;
			*cap = nc;
		}
		p->eps[p->neps++] = e;
	}
	return 0;
}

static int push_port(px_model *m, const px_svcport *p)
{
	if (m->n == m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 16;
		px_svcport *np = realloc(m->ports, nc * sizeof(*np));
		if (!np)
			return -ENOMEM;
		m->ports = np;
		m->cap = nc;
	}
	m->ports[m->n++] = *p;
	return 0;
}

static int add_service(px_model *m, const cJSON *svc, const slice_ref *refs, size_t nrefs,
		       const char *node_name)
{
	const char *ns = kc_json_get_string(svc, "metadata.namespace", "");
	const char *name = kc_json_get_string(svc, "metadata.name", "");
	/* Service names are DNS-1035 labels (<= 63) and port names IANA service names
	 * (<= 15): this also keeps every iptables comment under its 256-byte limit, which
	 * would otherwise fail the whole iptables-restore. */
	if (!valid_name(ns, 63, false) || !valid_name(name, 63, false)) {
		kc_warn("skipping service with invalid namespace/name \"%.64s/%.64s\"", ns, name);
		return 0;
	}
	if (kc_json_get(svc, "metadata.labels.service\\.kubernetes\\.io/service-proxy-name"))
		return 0; /* served by another proxy, as upstream */
	const char *type = kc_json_get_string(svc, "spec.type", "ClusterIP");
	if (strcmp(type, "ExternalName") == 0)
		return 0;
	const char *cip = kc_json_get_string(svc, "spec.clusterIP", "");
	px_svcport base;
	memset(&base, 0, sizeof(base));
	if (!*cip || strcmp(cip, "None") == 0)
		return 0;
	if (!parse_ipv4(cip, base.cluster_ip)) {
		kc_log_v(2, "service %s/%s: clusterIP %.64s is not IPv4; skipped", ns, name, cip);
		return 0;
	}
	base.affinity = strcmp(kc_json_get_string(svc, "spec.sessionAffinity", "None"),
			       "ClientIP") == 0;
	int64_t tmo = kc_json_get_int64(svc, "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
					PX_DEFAULT_AFFINITY_SECONDS);
	if (tmo < 1 || tmo > 86400)
		tmo = PX_DEFAULT_AFFINITY_SECONDS;
	base.affinity_seconds = (int)tmo;
	base.itp_local = strcmp(kc_json_get_string(svc, "spec.internalTrafficPolicy", "Cluster"),
				"Local") == 0;
	bool etp_local = strcmp(kc_json_get_string(svc, "spec.externalTrafficPolicy", "Cluster"),
				"Local") == 0;

	char key[320];
	snprintf(key, sizeof(key), "%s/%s", ns, name);
	const cJSON *sp;
	cJSON_ArrayForEach(sp, kc_json_get(svc, "spec.ports")) {
		px_svcport p = base;
		const char *pname = kc_json_get_string(sp, "name", "");
		if (!valid_name(pname, 15, true) ||
		    !proto_lower(kc_json_get_string(sp, "protocol", "TCP"), p.proto) ||
		    !(p.port = get_port(sp, "port"))) {
			kc_warn("service %s/%s: skipping invalid port \"%.64s\"", ns, name, pname);
			continue;
		}
		if (strcmp(type, "NodePort") == 0 || strcmp(type, "LoadBalancer") == 0)
			p.node_port = get_port(sp, "nodePort");
		/* ExternalPolicyLocal applies only to externally accessible services. */
		p.etp_local = etp_local && p.node_port != 0;
		snprintf(p.spn, sizeof(p.spn), "%s%s%s", key, *pname ? ":" : "", pname);
		px_chain_name(p.svc_chain, "KUBE-SVC-", p.spn, p.proto, NULL);
		px_chain_name(p.svl_chain, "KUBE-SVL-", p.spn, p.proto, NULL);
		px_chain_name(p.ext_chain, "KUBE-EXT-", p.spn, p.proto, NULL);

		size_t cap = 0;
		slice_ref probe;
		snprintf(probe.key, sizeof(probe.key), "%s", key);
		const slice_ref *hit = nrefs ? bsearch(&probe, refs, nrefs, sizeof(*refs),
						       cmp_slice_ref) : NULL;
		if (hit) {
			while (hit > refs && strcmp(hit[-1].key, key) == 0)
				hit--;
			for (; hit < refs + nrefs && strcmp(hit->key, key) == 0; hit++) {
				if (add_slice_endpoints(&p, &cap, hit->obj, pname, node_name) < 0) {
					free(p.eps);
					return -ENOMEM;
				}
			}
		}
		if (p.neps > 1)
			qsort(p.eps, p.neps, sizeof(*p.eps), cmp_ep);
		for (size_t i = 0; i < p.neps; i++)
			px_chain_name(p.eps[i].chain, "KUBE-SEP-", p.spn, p.proto, p.eps[i].addr);
		if (push_port(m, &p) < 0) {
			free(p.eps);
			return -ENOMEM;
		}
	}
	return 0;
}

int px_model_build(px_model *m, const cJSON *services, const cJSON *slices,
		   const char *node_name)
{
	model_clear(m);
	size_t nrefs = 0, cap = (size_t)(slices ? cJSON_GetArraySize(slices) : 0);
	slice_ref *refs = cap ? calloc(cap, sizeof(*refs)) : NULL;
	if (cap && !refs)
		return -ENOMEM;
	const cJSON *s;
	cJSON_ArrayForEach(s, slices) {
		const char *ns = kc_json_get_string(s, "metadata.namespace", "");
		const char *svc = kc_json_get_string(
			s, "metadata.labels.kubernetes\\.io/service-name", NULL);
		if (!svc || !valid_name(ns, 63, false) || !valid_name(svc, 63, false))
			continue;
		snprintf(refs[nrefs].key, sizeof(refs[nrefs].key), "%s/%s", ns, svc);
		refs[nrefs++].obj = s;
	}
	if (nrefs > 1)
		qsort(refs, nrefs, sizeof(*refs), cmp_slice_ref);
	int rc = 0;
	cJSON_ArrayForEach(s, services) {
		if ((rc = add_service(m, s, refs, nrefs, node_name)) < 0)
			break;
	}
	free(refs);
	if (rc < 0) {
		model_clear(m);
		return rc;
	}
	if (m->n > 1)
		qsort(m->ports, m->n, sizeof(*m->ports), cmp_port);
	return 0;
}

const px_svcport *px_model_find(const px_model *m, const char *spn, const char *proto)
{
	px_svcport probe;
	snprintf(probe.spn, sizeof(probe.spn), "%s", spn);
	snprintf(probe.proto, sizeof(probe.proto), "%s", proto);
	return m->n ? bsearch(&probe, m->ports, m->n, sizeof(*m->ports), cmp_port) : NULL;
}
