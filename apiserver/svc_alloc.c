#include "svc_alloc.h"

#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "meta.h"
#include "status.h"

static int wants_node_ports(const cJSON *spec)
{
	const char *type = res_str(spec, "type", "ClusterIP");
	return !strcmp(type, "NodePort") || !strcmp(type, "LoadBalancer");
}

static void owner_of(const char *ns, const cJSON *svc, char *buf, size_t n)
{
	snprintf(buf, n, "%s/%s", ns, kc_meta_name(svc));
}

/* Allocates nodePorts for every port of spec lacking one (or claims the requested one).
 * On error releases what this call claimed. */
static int alloc_ports(reg *r, const char *ns, cJSON *svc, const cJSON *keep_from, cJSON **st)
{
	cJSON *spec = res_obj(svc, "spec");
	if (!r->ports || !wants_node_ports(spec))
		return 0;
	char owner[512];
	owner_of(ns, svc, owner, sizeof(owner));
	int claimed[64], nclaimed = 0, i = 0;
	cJSON *p;
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(spec, "ports"))
	{
		int want = (int)res_num(p, "nodePort", 0);
		int port = (int)res_num(p, "port", 0);
		/* An update keeps the port's previous nodePort (matched by port and protocol). */
		const cJSON *op;
		int kept = 0;
		cJSON_ArrayForEach(op, res_path(keep_from, "spec.ports"))
		{
			if ((int)res_num(op, "port", 0) == port &&
			    !strcmp(res_str(op, "protocol", "TCP"), res_str(p, "protocol", "TCP")) &&
			    res_num(op, "nodePort", 0) > 0 && (!want || want == (int)res_num(op, "nodePort", 0))) {
				want = (int)res_num(op, "nodePort", 0);
				kept = 1;
			}
		}
		if (!kept) {
			char msg[256];
			int got = 0;
			int rc = npa_allocate(r->ports, want, owner, &got, msg, sizeof(msg));
			if (rc) {
				for (int k = 0; k < nclaimed; k++)
					npa_release(r->ports, claimed[k]);
				if (rc == KC_EINVALID) {
					res_errs e = { 0 };
					char f[64];
					snprintf(f, sizeof(f), "spec.ports[%d].nodePort", i);
					res_err(&e, "FieldValueInvalid", f, "%s", msg);
					*st = st_invalid(&res_services, kc_meta_name(svc), &e);
				} else if (rc == -ENOSPC) {
					*st = st_internal("Internal error occurred: %s", msg);
				} else {
					*st = st_from_store(rc, "allocate a node port");
				}
				return -1;
			}
			if (nclaimed < 64)
				claimed[nclaimed++] = got;
			want = got;
		}
		cJSON_DeleteItemFromObjectCaseSensitive(p, "nodePort");
		cJSON_AddNumberToObject(p, "nodePort", want);
		i++;
	}
	return 0;
}

int svc_alloc_create(reg *r, const char *ns, cJSON *svc, cJSON **st)
{
	cJSON *spec = res_obj(svc, "spec");
	const char *type = res_str(spec, "type", "ClusterIP");
	if (!r->ips || !strcmp(type, "ExternalName"))
		return alloc_ports(r, ns, svc, NULL, st);
	const char *want = res_str(spec, "clusterIP", "");
	char ip[64] = "None";
	if (strcmp(want, "None")) {
		char owner[512], msg[512];
		owner_of(ns, svc, owner, sizeof(owner));
		int rc = ipa_allocate(r->ips, want, owner, ip, sizeof(ip), msg, sizeof(msg));
		if (rc == KC_EINVALID) {
			res_errs e = { 0 };
			res_err(&e, "FieldValueInvalid", "spec.clusterIPs",
				"Invalid value: []string{\"%s\"}: %s", want, msg);
			*st = st_invalid(&res_services, kc_meta_name(svc), &e);
			return -1;
		}
		if (rc == -ENOSPC) {
			*st = st_internal("Internal error occurred: %s", msg);
			return -1;
		}
		if (rc) {
			*st = st_from_store(rc, "allocate a service IP");
			return -1;
		}
	}
	cJSON_DeleteItemFromObjectCaseSensitive(spec, "clusterIP");
	cJSON_AddStringToObject(spec, "clusterIP", ip);
	cJSON_DeleteItemFromObjectCaseSensitive(spec, "clusterIPs");
	cJSON_AddItemToArray(cJSON_AddArrayToObject(spec, "clusterIPs"), cJSON_CreateString(ip));
	cJSON_DeleteItemFromObjectCaseSensitive(spec, "ipFamilies");
	cJSON_AddItemToArray(cJSON_AddArrayToObject(spec, "ipFamilies"), cJSON_CreateString("IPv4"));
	res_def_str(spec, "ipFamilyPolicy", "SingleStack");
	if (alloc_ports(r, ns, svc, NULL, st)) {
		ipa_release(r->ips, ip);
		return -1;
	}
	return 0;
}

static int has_node_port(const cJSON *svc, int np)
{
	const cJSON *p;
	cJSON_ArrayForEach(p, res_path(svc, "spec.ports"))
		if ((int)res_num(p, "nodePort", 0) == np)
			return 1;
	return 0;
}

int svc_alloc_update(reg *r, const char *ns, const cJSON *old, cJSON *nobj, cJSON **st)
{
	cJSON *nspec = res_obj(nobj, "spec");
	const cJSON *ospec = cJSON_GetObjectItemCaseSensitive(old, "spec");
	static const char *const alloc[] = { "clusterIP", "clusterIPs", "ipFamilies",
					     "ipFamilyPolicy", NULL };
	if (!res_str(nspec, "clusterIP", "")[0])
		for (int i = 0; alloc[i]; i++) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(ospec, alloc[i]);
			cJSON_DeleteItemFromObjectCaseSensitive(nspec, alloc[i]);
			if (v)
				cJSON_AddItemToObject(nspec, alloc[i], cJSON_Duplicate(v, 1));
		}
	if (wants_node_ports(ospec) && !wants_node_ports(nspec)) {
		/* dropTypeDependentFields: leaving NodePort/LoadBalancer drops the nodePorts the
		 * user did not change (they are released after the write). */
		cJSON *p;
		cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(nspec, "ports"))
		{
			int np = (int)res_num(p, "nodePort", 0);
			if (np > 0 && has_node_port(old, np))
				cJSON_DeleteItemFromObjectCaseSensitive(p, "nodePort");
		}
	}
	return alloc_ports(r, ns, nobj, old, st);
}

void svc_alloc_after_update(reg *r, const cJSON *old, const cJSON *stored)
{
	if (!r->ports)
		return;
	const cJSON *p;
	cJSON_ArrayForEach(p, res_path(old, "spec.ports"))
	{
		int np = (int)res_num(p, "nodePort", 0);
		if (np > 0 && !has_node_port(stored, np))
			npa_release(r->ports, np);
	}
}

void svc_alloc_release(reg *r, const cJSON *svc)
{
	if (r->ips)
		ipa_release(r->ips, kc_json_get_string(svc, "spec.clusterIP", ""));
	if (r->ports) {
		const cJSON *p;
		cJSON_ArrayForEach(p, res_path(svc, "spec.ports"))
			npa_release(r->ports, (int)res_num(p, "nodePort", 0));
	}
}
