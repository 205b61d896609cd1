/* coordination.k8s.io/v1 leases: printLease. */
#include "resource.h"

static const res_col lease_cols[] = {
	{ "Name", "string", "name", 0 },
	{ "Holder", "string", "", 0 },
	{ "Age", "string", "", 0 },
};

static void lease_row(const cJSON *obj, cJSON *cells, int64_t now)
{
	RES_CELL_NAME(cells, obj);
	RES_CELL_S(cells, res_str(obj, "spec.holderIdentity", ""));
	res_cell_age(obj, cells, now);
}

const res_desc res_leases = {
	.group = "coordination.k8s.io", .version = "v1", .kind = "Lease",
	.list_kind = "LeaseList", .plural = "leases", .singular = "lease", .namespaced = 1,
	.cols = lease_cols, .ncols = 3, .row = lease_row,
};
