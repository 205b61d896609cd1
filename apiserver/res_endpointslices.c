/* discovery.k8s.io/v1 endpointslices: ValidateEndpointSlice (addressType), printEndpointSlice. */
#include "resource.h"

#include <stdio.h>
#include <string.h>

static void eps_validate(const cJSON *obj, const cJSON *old, res_errs *e)
{
	const char *at = res_str(obj, "addressType", "");
	if (!at[0])
		res_err_required(e, "addressType");
	else if (strcmp(at, "IPv4") && strcmp(at, "IPv6") && strcmp(at, "FQDN"))
		res_err(e, "FieldValueNotSupported", "addressType",
			"Unsupported value: \"%s\": supported values: \"FQDN\", \"IPv4\", \"IPv6\"",
			at);
	if (old && strcmp(at, res_str(old, "addressType", "")))
		res_err(e, "FieldValueInvalid", "addressType",
			"Invalid value: \"%s\": field is immutable", at);
}

static const res_col eps_cols[] = {
	{ "Name", "string", "name", 0 },      { "AddressType", "string", "", 0 },
	{ "Ports", "string", "", 0 },         { "Endpoints", "string", "", 0 },
	{ "Age", "string", "", 0 },
};

static void eps_row(const cJSON *obj, cJSON *cells, int64_t now)
{
	char ports[256] = "", eps[512] = "";
	size_t po = 0, eo = 0;
	int count = 0, shown = 0;
	const cJSON *p, *ep, *a;
	cJSON_ArrayForEach(p, res_path(obj, "ports"))
	{
		if (po < sizeof(ports))
			po += (size_t)snprintf(ports + po, sizeof(ports) - po, "%s%d", po ? "," : "",
					       (int)res_num(p, "port", 0));
	}
	cJSON_ArrayForEach(ep, res_path(obj, "endpoints"))
	{
		cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(ep, "addresses"))
		{
			count++;
			if (shown < 3 && cJSON_IsString(a) && eo < sizeof(eps)) {
				eo += (size_t)snprintf(eps + eo, sizeof(eps) - eo, "%s%s",
						       eo ? "," : "", a->valuestring);
				shown++;
			}
		}
	}
	if (count > shown && eo < sizeof(eps))
		snprintf(eps + eo, sizeof(eps) - eo, " + %d more...", count - shown);
	RES_CELL_NAME(cells, obj);
	RES_CELL_S(cells, res_str(obj, "addressType", ""));
	RES_CELL_S(cells, res_none(ports));
	RES_CELL_S(cells, res_none(eps));
	res_cell_age(obj, cells, now);
}

const res_desc res_endpointslices = {
	.group = "discovery.k8s.io", .version = "v1", .kind = "EndpointSlice",
	.list_kind = "EndpointSliceList", .plural = "endpointslices",
	.singular = "endpointslice", .namespaced = 1, .validate = eps_validate,
	.cols = eps_cols, .ncols = 5, .row = eps_row,
};
