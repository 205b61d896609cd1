/* networking.k8s.io/v1 ingresses and networkpolicies: ValidateIngress /
 * ValidateNetworkPolicy (the parts this milestone checks), SetDefaults_NetworkPolicy and
 * printIngress / printNetworkPolicy. */
#include "resource.h"

#include <stdio.h>
#include <string.h>

static void ing_validate(const cJSON *obj, const cJSON *old, res_errs *e)
{
	(void)old;
	int has_default = cJSON_IsObject(res_path(obj, "spec.defaultBackend"));
	int nrules = cJSON_GetArraySize(res_path(obj, "spec.rules"));
	if (!has_default && !nrules)
		res_err(e, "FieldValueInvalid", "spec",
			"Invalid value: \"\": either `defaultBackend` or `rules` must be specified");
	int ri = 0;
	const cJSON *rule;
	cJSON_ArrayForEach(rule, res_path(obj, "spec.rules"))
	{
		int pi = 0;
		const cJSON *p;
		cJSON_ArrayForEach(p, res_path(rule, "http.paths"))
		{
			char f[160];
			snprintf(f, sizeof(f), "spec.rules[%d].http.paths[%d].pathType", ri, pi);
			const char *pt = res_str(p, "pathType", "");
			if (!pt[0])
				res_err_required(e, f);
			else if (strcmp(pt, "Exact") && strcmp(pt, "Prefix") &&
				 strcmp(pt, "ImplementationSpecific"))
				res_err(e, "FieldValueNotSupported", f,
					"Unsupported value: \"%s\": supported values: \"Exact\", "
					"\"ImplementationSpecific\", \"Prefix\"", pt);
			const char *path = res_str(p, "path", "");
			snprintf(f, sizeof(f), "spec.rules[%d].http.paths[%d].path", ri, pi);
			if (strcmp(pt, "ImplementationSpecific") && path[0] != '/')
				res_err(e, "FieldValueInvalid", f,
					"Invalid value: \"%s\": must be an absolute path", path);
			if (!cJSON_IsObject(res_path(p, "backend"))) {
				snprintf(f, sizeof(f), "spec.rules[%d].http.paths[%d].backend", ri, pi);
				res_err_required(e, f);
			}
			pi++;
		}
		ri++;
	}
}

static const res_col ing_cols[] = {
	{ "Name", "string", "name", 0 },   { "Class", "string", "", 0 },
	{ "Hosts", "string", "", 0 },      { "Address", "string", "", 0 },
	{ "Ports", "string", "", 0 },      { "Age", "string", "", 0 },
};

static void ing_row(const cJSON *obj, cJSON *cells, int64_t now)
{
	char hosts[512] = "", addr[512] = "";
	size_t off = 0;
	const cJSON *r;
	cJSON_ArrayForEach(r, res_path(obj, "spec.rules"))
	{
		const char *h = res_str(r, "host", "");
		if (h[0] && off < sizeof(hosts))
			off += (size_t)snprintf(hosts + off, sizeof(hosts) - off, "%s%s",
						off ? "," : "", h);
	}
	off = 0;
	cJSON_ArrayForEach(r, res_path(obj, "status.loadBalancer.ingress"))
	{
		const char *a = res_str(r, "ip", NULL);
		if (!a)
			a = res_str(r, "hostname", "");
		if (a[0] && off < sizeof(addr))
			off += (size_t)snprintf(addr + off, sizeof(addr) - off, "%s%s",
						off ? "," : "", a);
	}
	RES_CELL_NAME(cells, obj);
	/* printIngress: ingressClassName, else the legacy annotation, else <none>. */
	const char *cls = res_str(obj, "spec.ingressClassName", NULL);
	if (!cls) {
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(res_path(obj, "metadata.annotations"),
								 "kubernetes.io/ingress.class");
		cls = cJSON_IsString(a) ? a->valuestring : NULL;
	}
	RES_CELL_S(cells, res_none(cls));
	RES_CELL_S(cells, hosts[0] ? hosts : "*");
	RES_CELL_S(cells, addr);
	RES_CELL_S(cells, cJSON_GetArraySize(res_path(obj, "spec.tls")) ? "80, 443" : "80");
	res_cell_age(obj, cells, now);
}

const res_desc res_ingresses = {
	.group = "networking.k8s.io", .version = "v1", .kind = "Ingress",
	.list_kind = "IngressList", .plural = "ingresses", .singular = "ingress",
	.short_names = { "ing" }, .namespaced = 1, .has_status = 1, .gen_on_spec = 1,
	.validate = ing_validate, .cols = ing_cols, .ncols = 6, .row = ing_row,
};

/* ---- networkpolicies ---- */

static void np_defaults(cJSON *obj)
{
	cJSON *spec = res_obj(obj, "spec");
	res_obj(spec, "podSelector");
	/* SetDefaults_NetworkPolicy: Ingress always, Egress when egress rules are given. */
	if (!cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(spec, "policyTypes"))) {
		cJSON_DeleteItemFromObjectCaseSensitive(spec, "policyTypes");
		cJSON *pt = cJSON_AddArrayToObject(spec, "policyTypes");
		cJSON_AddItemToArray(pt, cJSON_CreateString("Ingress"));
		if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(spec, "egress")))
			cJSON_AddItemToArray(pt, cJSON_CreateString("Egress"));
	}
	const cJSON *rule;
	static const char *const dirs[] = { "ingress", "egress" };
	for (int d = 0; d < 2; d++)
		cJSON_ArrayForEach(rule, cJSON_GetObjectItemCaseSensitive(spec, dirs[d]))
		{
			cJSON *p;
			cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(rule, "ports"))
				if (cJSON_IsObject(p))
					res_def_str(p, "protocol", "TCP");
		}
}

static void np_validate(const cJSON *obj, const cJSON *old, res_errs *e)
{
	(void)old;
	const cJSON *pt;
	cJSON_ArrayForEach(pt, res_path(obj, "spec.policyTypes"))
	{
		const char *s = cJSON_IsString(pt) ? pt->valuestring : "";
		if (strcmp(s, "Ingress") && strcmp(s, "Egress"))
			res_err(e, "FieldValueNotSupported", "spec.policyTypes",
				"Unsupported value: \"%s\": supported values: \"Egress\", \"Ingress\"",
				s);
	}
}

static const res_col np_cols[] = {
	{ "Name", "string", "name", 0 },
	{ "Pod-Selector", "string", "", 0 },
	{ "Age", "string", "", 0 },
};

static void np_row(const cJSON *obj, cJSON *cells, int64_t now)
{
	char buf[512];
	RES_CELL_NAME(cells, obj);
	res_selector_str(res_path(obj, "spec.podSelector"), buf, sizeof(buf));
	RES_CELL_S(cells, buf);
	res_cell_age(obj, cells, now);
}

const res_desc res_networkpolicies = {
	.group = "networking.k8s.io", .version = "v1", .kind = "NetworkPolicy",
	.list_kind = "NetworkPolicyList", .plural = "networkpolicies", .singular = "networkpolicy",
	.short_names = { "netpol" }, .namespaced = 1, .gen_on_spec = 1, .defaults = np_defaults,
	.validate = np_validate, .cols = np_cols, .ncols = 3, .row = np_row,
};
