/* The ResourceQuota admission plugin (plugin/pkg/admission/resourcequota and the evaluators
 * of pkg/quota/v1/evaluator/core) and the quota usage it keeps.
 *
 * kubec has no resource-quota controller, so the apiserver keeps `status.hard` (a copy of
 * spec.hard) and `status.used` itself: computed from the namespace's objects when a quota is
 * created or its spec changes, then moved by every create and removal of a counted object
 * in the same etcd txn as the object's write (the plan's companion writes, txn.h), so the
 * usage never drifts from the store.
 *
 * Counted: `pods`, `services`, `configmaps`, `secrets`, `persistentvolumeclaims`,
 * `resourcequotas`, `replicationcontrollers`, `services.nodeports`,
 * `services.loadbalancers`, `count/<resource>[.<group>]` for every served kind,
 * `requests.storage` (PVCs), and for pods `cpu`/`requests.cpu`, `memory`/`requests.memory`,
 * `limits.cpu`, `limits.memory` (sum of the containers, as PodUsageFunc; an init container
 * counts as the max), with quota scopes Terminating, NotTerminating, BestEffort and
 * NotBestEffort. A quota with a scopeSelector (PriorityClass scopes) is not enforced. Only
 * creates are checked (upstream also charges updates that grow usage). */
#ifndef APISERVER_ADMISSION_QUOTA_H
#define APISERVER_ADMISSION_QUOTA_H

#include <cjson/cJSON.h>

#include "registry.h"
#include "txn.h"

#define QUOTA_MAX 16

/* The quota writes that go with one object write. Owns its strings. */
typedef struct quota_plan {
	size_t n;
	txn_side side[QUOTA_MAX];
	char *keys[QUOTA_MAX];
	char *vals[QUOTA_MAX];
} quota_plan;

void quota_plan_free(quota_plan *p);

/* Create of obj (borrowed, defaulted and named) of kind d in namespace ns: checks every
 * quota (read from the store with live, else from the watch cache when it can answer: the
 * caller's txn compares each quota's mod_revision and retries live on a conflict); on success fills p (maybe empty) with the quotas' new status.used and returns NULL;
 * otherwise a Status the caller owns: 403 `pods "x" is forbidden: exceeded quota: q,
 * requested: pods=1, used: pods=2, limited: pods=2`, 403 `... failed quota: q: must specify
 * limits.cpu for: c`, or 500. */
cJSON *quota_admit_create(reg *r, const res_desc *d, const char *ns, const cJSON *obj, int live,
			  quota_plan *p);

/* Removal of obj: fills p with the quotas' usage minus obj's (never below zero). 0 or a
 * store error. */
int quota_release(reg *r, const res_desc *d, const char *ns, const cJSON *obj, quota_plan *p);

/* A ResourceQuota being created, or updated through the main resource: status.hard =
 * spec.hard and status.used recomputed from the objects in ns. quota borrowed, changed in
 * place. 0 or a store error. */
int quota_init_status(reg *r, const char *ns, cJSON *quota);

#endif
