#include "bootstrap.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "log.h"

void boot_default_address(char *buf, size_t n)
{
	snprintf(buf, n, "127.0.0.1");
	struct ifaddrs *ifs = NULL;
	if (getifaddrs(&ifs))
		return;
	for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
			continue;
		struct sockaddr_in *sin = (struct sockaddr_in *)i->ifa_addr;
		if ((ntohl(sin->sin_addr.s_addr) >> 24) == 127)
			continue;
		inet_ntop(AF_INET, &sin->sin_addr, buf, (socklen_t)n);
		break;
	}
	freeifaddrs(ifs);
}

static cJSON *parse(const char *s)
{
	cJSON *v = NULL;
	kc_json_parse_str(s, &v, NULL, 0);
	return v;
}

/* Create, or replace unconditionally when it exists (the endpoint reconciler's job). */
static int put(reg *r, const res_desc *d, const char *ns, const char *name, cJSON *body,
	       int replace)
{
	cJSON *out = NULL;
	int code = reg_create(r, d, ns, body, 0, &out);
	if (code == 409 && replace) {
		cJSON_Delete(out);
		out = NULL;
		code = reg_update(r, d, ns, name, body, REG_MAIN, 0, &out);
	}
	if (code >= 300 && code != 409)
		kc_error("bootstrap %s %s/%s: %s", d->plural, ns ? ns : "", name,
			 kc_json_get_string(out, "message", "?"));
	cJSON_Delete(out);
	cJSON_Delete(body);
	return (code < 300 || code == 409) ? 0 : -1;
}

/* addresses as a JSON array text of strings, or of {"ip": ...} objects */
static void addr_array(char *buf, size_t len, const char *const *ips, size_t n, int objects)
{
	size_t o = 0;
	o += (size_t)snprintf(buf + o, len - o, "[");
	for (size_t i = 0; i < n && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, objects ? "%s{\"ip\":\"%s\"}" : "%s\"%s\"",
				      i ? "," : "", ips[i]);
	if (o < len)
		snprintf(buf + o, len - o, "]");
}

/* The addresses of the stored default/kubernetes Endpoints, as addr_array would print
 * them ("" when missing). */
static void current_addresses(reg *r, char *buf, size_t len)
{
	buf[0] = 0;
	cJSON *ep = NULL;
	if (reg_get(r, &res_endpoints, "default", "kubernetes", &ep) != 200) {
		cJSON_Delete(ep);
		return;
	}
	const cJSON *subsets = cJSON_GetObjectItemCaseSensitive(ep, "subsets");
	const cJSON *first = cJSON_IsArray(subsets) ? cJSON_GetArrayItem(subsets, 0) : NULL;
	const cJSON *addrs = first ? cJSON_GetObjectItemCaseSensitive(first, "addresses") : NULL;
	const char *ips[64];
	size_t n = 0;
	const cJSON *a;
	cJSON_ArrayForEach(a, addrs)
	{
		if (n < 64)
			ips[n++] = kc_json_get_string(a, "ip", "");
	}
	const cJSON *ports = first ? cJSON_GetObjectItemCaseSensitive(first, "ports") : NULL;
	const cJSON *p0 = cJSON_IsArray(ports) ? cJSON_GetArrayItem(ports, 0) : NULL;
	const cJSON *port = p0 ? cJSON_GetObjectItemCaseSensitive(p0, "port") : NULL;
	char arr[2048];
	addr_array(arr, sizeof(arr), ips, n, 1);
	snprintf(buf, len, "%s:%d", arr, cJSON_IsNumber(port) ? port->valueint : 0);
	cJSON_Delete(ep);
}

int boot_kubernetes_endpoints(reg *r, const char *const *ips, size_t n, int port)
{
	char objs[2048], strs[2048], cur[2100], want[2100];
	addr_array(objs, sizeof(objs), ips, n, 1);
	addr_array(strs, sizeof(strs), ips, n, 0);
	snprintf(want, sizeof(want), "%s:%d", objs, port);
	current_addresses(r, cur, sizeof(cur));
	if (!strcmp(cur, want))
		return 0;
	char buf[5200];
	int rc = 0;
	/* An Endpoints with no address has no subset at all, as upstream writes it. */
	char subset[2300] = "";
	if (n)
		snprintf(subset, sizeof(subset),
			 "{\"addresses\":%s,\"ports\":[{\"name\":\"https\",\"port\":%d,"
			 "\"protocol\":\"TCP\"}]}",
			 objs, port);
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"kubernetes\",\"labels\":{\"endpointslice.kubernetes.io/"
		 "skip-mirror\":\"true\"}},\"subsets\":[%s]}",
		 subset);
	rc |= put(r, &res_endpoints, "default", "kubernetes", parse(buf), 1);
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"kubernetes\",\"labels\":{\"kubernetes.io/service-name\":"
		 "\"kubernetes\",\"endpointslice.kubernetes.io/managed-by\":"
		 "\"endpointslice-controller.k8s.io\"}},\"addressType\":\"IPv4\",\"endpoints\":[");
	size_t o = strlen(buf);
	for (size_t i = 0; i < n && o < sizeof(buf); i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o,
				      "%s{\"addresses\":[\"%s\"],\"conditions\":{\"ready\":true}}",
				      i ? "," : "", ips[i]);
	if (o < sizeof(buf))
		snprintf(buf + o, sizeof(buf) - o,
			 "],\"ports\":[{\"name\":\"https\",\"port\":%d,\"protocol\":\"TCP\"}]}", port);
	rc |= put(r, &res_endpointslices, "default", "kubernetes", parse(buf), 1);
	if (!rc)
		kc_info("default/kubernetes endpoints now %s port %d", strs, port);
	return rc;
}

int boot_system_objects(reg *r, const char *advertise, int port)
{
	int rc = 0;
	static const char *const system_ns[] = { "default", "kube-system", "kube-public",
						 "kube-node-lease", NULL };
	for (int i = 0; system_ns[i]; i++)
		if (reg_ensure_namespace(r, system_ns[i])) {
			kc_error("cannot create namespace %s", system_ns[i]);
			rc = -1;
		}
	char buf[1024], ip[32] = "";
	if (r->ips)
		ipa_first(r->ips, ip, sizeof(ip));
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"kubernetes\",\"labels\":{\"component\":\"apiserver\","
		 "\"provider\":\"kubernetes\"}},\"spec\":{\"type\":\"ClusterIP\",%s%s%s"
		 "\"ports\":[{\"name\":\"https\",\"port\":443,\"protocol\":\"TCP\",\"targetPort\":%d}]}}",
		 ip[0] ? "\"clusterIP\":\"" : "", ip, ip[0] ? "\"," : "", port);
	rc |= put(r, &res_services, "default", "kubernetes", parse(buf), 0);
	/* The kubernetes Endpoints and EndpointSlice are the endpoint reconciler's
	 * (endpoint_reconciler.c), which lists every live apiserver. */
	(void)advertise;
	/* pkg/registry/scheduling/rest AddSystemPriorityClasses: created once, kept if
	 * present. */
	rc |= put(r, &res_priorityclasses, NULL, "system-node-critical",
		  parse("{\"metadata\":{\"name\":\"system-node-critical\"},\"value\":2000001000,"
			"\"description\":\"Used for system critical pods that must not be moved from "
			"their current node.\"}"), 0);
	rc |= put(r, &res_priorityclasses, NULL, "system-cluster-critical",
		  parse("{\"metadata\":{\"name\":\"system-cluster-critical\"},\"value\":2000000000,"
			"\"description\":\"Used for system critical pods that must run in the cluster, "
			"but can be moved to another node if necessary.\"}"), 0);
	return rc;
}
