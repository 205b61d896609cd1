/* core/v1 endpoints: printEndpoints. */
#include "resource.h"

#include <stdio.h>

static const res_col ep_cols[] = {
	{ "Name", "string", "name", 0 },
	{ "Endpoints", "string", "", 0 },
	{ "Age", "string", "", 0 },
};

/* formatEndpoints: ip:port pairs, at most 3 then " + N more...". */
static void ep_row(const cJSON *obj, cJSON *cells, int64_t now)
{
	char buf[512] = "";
	size_t off = 0;
	int count = 0, shown = 0;
	const cJSON *ss, *a, *p;
	cJSON_ArrayForEach(ss, res_path(obj, "subsets"))
	{
		cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(ss, "addresses"))
		{
			const cJSON *ports = cJSON_GetObjectItemCaseSensitive(ss, "ports");
			int np = cJSON_GetArraySize(ports);
			for (int i = 0; i < (np ? np : 1); i++) {
				count++;
				if (shown >= 3)
					continue;
				p = np ? cJSON_GetArrayItem(ports, i) : NULL;
				if (p)
					off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s:%d",
								shown ? "," : "",
								res_str(a, "ip", ""),
								(int)res_num(p, "port", 0));
				else
					off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s",
								shown ? "," : "",
								res_str(a, "ip", ""));
				shown++;
				if (off >= sizeof(buf))
					off = sizeof(buf) - 1;
			}
		}
	}
	if (count > shown && off < sizeof(buf))
		snprintf(buf + off, sizeof(buf) - off, " + %d more...", count - shown);
	RES_CELL_NAME(cells, obj);
	RES_CELL_S(cells, res_none(buf));
	res_cell_age(obj, cells, now);
}

const res_desc res_endpoints = {
	.group = "", .version = "v1", .kind = "Endpoints", .list_kind = "EndpointsList",
	.plural = "endpoints", .singular = "endpoints", .short_names = { "ep" },
	.namespaced = 1, .cols = ep_cols, .ncols = 3, .row = ep_row,
};
