/* core/v1 nodes: printNode. */
#include "resource.h"

#include <stdio.h>
#include <string.h>

static const res_col node_cols[] = {
	{ "Name", "string", "name", 0 },          { "Status", "string", "", 0 },
	{ "Roles", "string", "", 0 },             { "Age", "string", "", 0 },
	{ "Version", "string", "", 0 },           { "Internal-IP", "string", "", 1 },
	{ "External-IP", "string", "", 1 },       { "OS-Image", "string", "", 1 },
	{ "Kernel-Version", "string", "", 1 },    { "Container-Runtime", "string", "", 1 },
};

static const char *node_addr(const cJSON *obj, const char *type)
{
	const cJSON *a;
	cJSON_ArrayForEach(a, res_path(obj, "status.addresses"))
	{
		if (!strcmp(res_str(a, "type", ""), type))
			return res_str(a, "address", "<none>");
	}
	return "<none>";
}

static void node_row(const cJSON *obj, cJSON *cells, int64_t now)
{
	char status[64] = "Unknown", roles[256] = "";
	size_t off = 0;
	const cJSON *c;
	cJSON_ArrayForEach(c, res_path(obj, "status.conditions"))
	{
		if (!strcmp(res_str(c, "type", ""), "Ready"))
			snprintf(status, sizeof(status), "%s",
				 !strcmp(res_str(c, "status", ""), "True") ? "Ready" : "NotReady");
	}
	if (cJSON_IsTrue(res_path(obj, "spec.unschedulable")))
		strncat(status, ",SchedulingDisabled", sizeof(status) - strlen(status) - 1);
	const cJSON *l;
	cJSON_ArrayForEach(l, res_path(obj, "metadata.labels"))
	{
		const char *pfx = "node-role.kubernetes.io/";
		if (!strncmp(l->string, pfx, strlen(pfx)) && l->string[strlen(pfx)] &&
		    off < sizeof(roles))
			off += (size_t)snprintf(roles + off, sizeof(roles) - off, "%s%s",
						off ? "," : "", l->string + strlen(pfx));
	}
	RES_CELL_NAME(cells, obj);
	RES_CELL_S(cells, status);
	RES_CELL_S(cells, res_none(roles));
	res_cell_age(obj, cells, now);
	RES_CELL_S(cells, res_str(obj, "status.nodeInfo.kubeletVersion", ""));
	RES_CELL_S(cells, node_addr(obj, "InternalIP"));
	RES_CELL_S(cells, node_addr(obj, "ExternalIP"));
	RES_CELL_S(cells, res_none(res_str(obj, "status.nodeInfo.osImage", NULL)));
	RES_CELL_S(cells, res_none(res_str(obj, "status.nodeInfo.kernelVersion", NULL)));
	RES_CELL_S(cells, res_none(res_str(obj, "status.nodeInfo.containerRuntimeVersion", NULL)));
}

static const char *node_field(const cJSON *obj, const char *path, char *buf, size_t n)
{
	if (!strcmp(path, "spec.unschedulable")) {
		snprintf(buf, n, "%s", cJSON_IsTrue(res_path(obj, path)) ? "true" : "false");
		return buf;
	}
	return NULL;
}

const res_desc res_nodes = {
	.group = "", .version = "v1", .kind = "Node", .list_kind = "NodeList",
	.plural = "nodes", .singular = "node", .short_names = { "no" }, .namespaced = 0,
	.has_status = 1, .cols = node_cols, .ncols = 10, .row = node_row, .field = node_field,
};
