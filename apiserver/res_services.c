/* core/v1 services: pkg/apis/core/v1/defaults.go SetDefaults_Service, printService.
 * ClusterIP allocation from --service-cluster-ip-range is not done yet: spec.clusterIP stays
 * as the client sent it. */
#include "resource.h"

#include <stdio.h>
#include <string.h>

static void svc_defaults(cJSON *obj)
{
	cJSON *spec = res_obj(obj, "spec");
	res_def_str(spec, "type", "ClusterIP");
	res_def_str(spec, "sessionAffinity", "None");
	if (strcmp(res_str(spec, "type", ""), "ExternalName"))
		res_def_str(spec, "internalTrafficPolicy", "Cluster");
	cJSON *p;
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(spec, "ports"))
	{
		if (!cJSON_IsObject(p))
			continue;
		res_def_str(p, "protocol", "TCP");
		cJSON *tp = cJSON_GetObjectItemCaseSensitive(p, "targetPort");
		if (!tp || cJSON_IsNull(tp) || (cJSON_IsNumber(tp) && tp->valueint == 0)) {
			cJSON_DeleteItemFromObjectCaseSensitive(p, "targetPort");
			cJSON_AddNumberToObject(p, "targetPort", res_num(p, "port", 0));
		}
	}
	res_obj(res_obj(obj, "status"), "loadBalancer");
}

static void svc_validate(const cJSON *obj, const cJSON *old, res_errs *e)
{
	const char *oip = res_str(old, "spec.clusterIP", "");
	const char *nip = res_str(obj, "spec.clusterIP", "");
	if (old && oip[0] && strcmp(oip, nip))
		res_err(e, "FieldValueInvalid", "spec.clusterIPs[0]",
			"Invalid value: \"%s\": may not change once set", nip);
	const char *type = res_str(obj, "spec.type", "ClusterIP");
	if (strcmp(type, "ClusterIP") && strcmp(type, "NodePort") && strcmp(type, "LoadBalancer") &&
	    strcmp(type, "ExternalName"))
		res_err(e, "FieldValueNotSupported", "spec.type",
			"Unsupported value: \"%s\": supported values: \"ClusterIP\", "
			"\"ExternalName\", \"LoadBalancer\", \"NodePort\"",
			type);
	cJSON *ports = res_path(obj, "spec.ports");
	if (strcmp(type, "ExternalName") && cJSON_GetArraySize(ports) == 0 &&
	    strcmp(res_str(obj, "spec.clusterIP", ""), "None"))
		res_err_required(e, "spec.ports");
	int i = 0;
	const cJSON *p;
	cJSON_ArrayForEach(p, ports)
	{
		char f[64];
		double port = res_num(p, "port", 0);
		snprintf(f, sizeof(f), "spec.ports[%d].port", i);
		if (port < 1 || port > 65535)
			res_err(e, "FieldValueInvalid", f,
				"Invalid value: %d: must be between 1 and 65535, inclusive", (int)port);
		if (cJSON_GetArraySize(ports) > 1 && !res_str(p, "name", "")[0]) {
			snprintf(f, sizeof(f), "spec.ports[%d].name", i);
			res_err_required(e, f);
		}
		i++;
	}
}

static const res_col svc_cols[] = {
	{ "Name", "string", "name", 0 },      { "Type", "string", "", 0 },
	{ "Cluster-IP", "string", "", 0 },    { "External-IP", "string", "", 0 },
	{ "Port(s)", "string", "", 0 },       { "Age", "string", "", 0 },
	{ "Selector", "string", "", 1 },
};

static void svc_row(const cJSON *obj, cJSON *cells, int64_t now)
{
	char ports[512] = "", buf[512];
	size_t off = 0;
	const cJSON *p;
	cJSON_ArrayForEach(p, res_path(obj, "spec.ports"))
	{
		int np = (int)res_num(p, "nodePort", 0);
		char one[64];
		if (np)
			snprintf(one, sizeof(one), "%d:%d/%s", (int)res_num(p, "port", 0), np,
				 res_str(p, "protocol", "TCP"));
		else
			snprintf(one, sizeof(one), "%d/%s", (int)res_num(p, "port", 0),
				 res_str(p, "protocol", "TCP"));
		if (off < sizeof(ports))
			off += (size_t)snprintf(ports + off, sizeof(ports) - off, "%s%s",
						off ? "," : "", one);
	}
	RES_CELL_NAME(cells, obj);
	const char *type = res_str(obj, "spec.type", "ClusterIP");
	RES_CELL_S(cells, type);
	RES_CELL_S(cells, res_none(res_str(obj, "spec.clusterIP", NULL)));
	/* getServiceExternalIP: ExternalName shows the name; LoadBalancer "<pending>". */
	if (!strcmp(type, "ExternalName"))
		RES_CELL_S(cells, res_str(obj, "spec.externalName", ""));
	else if (!strcmp(type, "LoadBalancer"))
		RES_CELL_S(cells, "<pending>");
	else
		RES_CELL_S(cells, "<none>");
	RES_CELL_S(cells, res_none(ports));
	res_cell_age(obj, cells, now);
	res_labels_str(res_path(obj, "spec.selector"), buf, sizeof(buf));
	RES_CELL_S(cells, buf);
}

static const char *svc_field(const cJSON *obj, const char *path, char *buf, size_t n)
{
	(void)buf;
	(void)n;
	if (!strcmp(path, "spec.clusterIP") || !strcmp(path, "spec.type"))
		return res_str(obj, path, "");
	return NULL;
}

const res_desc res_services = {
	.group = "", .version = "v1", .kind = "Service", .list_kind = "ServiceList",
	.plural = "services", .singular = "service", .short_names = { "svc" },
	.categories = { "all" }, .namespaced = 1, .has_status = 1, .defaults = svc_defaults,
	.validate = svc_validate, .cols = svc_cols, .ncols = 7, .row = svc_row,
	.field = svc_field,
};
