/* The Deployment controller (upstream pkg/controller/deployment: deployment_controller.go,
 * sync.go, rolling.go, recreate.go, progress.go and util/deployment_util.go).
 *
 * One ReplicaSet per pod template, named "<deployment>-<pod-template-hash>" and carrying
 * the pod-template-hash label in its labels, selector and template. RollingUpdate moves
 * replicas from old ReplicaSets to the new one within maxSurge/maxUnavailable (25 %
 * defaults; surge rounds up, unavailable down; both 0 becomes unavailable 1); Recreate
 * scales old ReplicaSets to 0, waits for their pods to go, then scales the new one up.
 * Revisions live in the deployment.kubernetes.io/revision annotation of each ReplicaSet
 * and of the Deployment (kubectl rollout history/undo read them); old ReplicaSets beyond
 * revisionHistoryLimit are deleted once the rollout is complete. Status and the
 * Available / Progressing conditions use upstream's reasons and messages.
 *
 * The pod-template-hash: upstream hashes the Go struct printed by spew (%#v) with
 * FNV-32a; that printed form of Go types cannot be reproduced outside Go, so kubec hashes
 * the template's canonical JSON (keys sorted) with FNV-32a, then appends the collision
 * count as upstream (4 little-endian bytes + 4 zero bytes) and renders the decimal sum
 * with SafeEncodeString. Same shape and alphabet, different values than upstream's. */
#ifndef CM_DEPLOYMENT_H
#define CM_DEPLOYMENT_H

#include <stdbool.h>
#include <stdint.h>

#include "controller.h"

#define DC_REVISION_ANNOTATION "deployment.kubernetes.io/revision"
#define DC_REVISION_HISTORY_ANNOTATION "deployment.kubernetes.io/revision-history"
#define DC_DESIRED_REPLICAS_ANNOTATION "deployment.kubernetes.io/desired-replicas"
#define DC_MAX_REPLICAS_ANNOTATION "deployment.kubernetes.io/max-replicas"
#define DC_HASH_LABEL "pod-template-hash"
#define DC_MAX_REV_HISTORY_CHARS 2000

typedef struct dc_controller {
	cm_lister *lister;   /* borrowed */
	cm_api *api;         /* borrowed */
	kc_clock_t *clock;   /* borrowed */
	cm_controller *ctrl; /* the queue; NULL in unit tests */
} dc_controller;

int dc_controller_init(dc_controller *dc, cm_lister *lister, cm_api *api, kc_clock_t *clock);
void dc_controller_close(dc_controller *dc);
/* cm_sync_fn; arg is the dc_controller */
int dc_sync(void *arg, const char *key);
int dc_controller_register(dc_controller *dc, cm_informers *f);

void dc_on_deploy_add(const cJSON *obj, void *arg);
void dc_on_deploy_update(const cJSON *old_obj, const cJSON *new_obj, void *arg);
void dc_on_deploy_delete(const cJSON *obj, int final_state_unknown, void *arg);
void dc_on_rs_add(const cJSON *obj, void *arg);
void dc_on_rs_update(const cJSON *old_obj, const cJSON *new_obj, void *arg);
void dc_on_rs_delete(const cJSON *obj, int final_state_unknown, void *arg);
void dc_on_pod_delete(const cJSON *obj, int final_state_unknown, void *arg);

/* ---- deployment_util.c ---- */

/* The pod-template-hash of template (borrowed); collision_count < 0 means none.
 * out gets at most 10 characters + NUL. */
void dc_compute_hash(const cJSON *template, int64_t collision_count, char out[16]);
/* SafeEncodeString: each byte b of s becomes alphabet[b % 27] of
 * "bcdfghjklmnpqrstvwxz2456789". */
void dc_safe_encode(const char *s, char *out, size_t outlen);
/* GetScaledValueFromIntOrPercent: an integer, or "N%" of total rounded up or down;
 * NULL counts as def_percent "%". -EINVAL for anything else. */
int dc_scaled_value(const cJSON *v, const char *def, int64_t total, bool round_up,
		    int64_t *out);
/* ResolveFenceposts for d (borrowed): maxSurge (rounded up) and maxUnavailable
 * (rounded down) of spec.replicas; both zero makes maxUnavailable 1. */
int dc_fenceposts(const cJSON *d, int64_t *surge, int64_t *unavailable);
/* MaxSurge / MaxUnavailable as upstream (0 / ... for Recreate). */
int64_t dc_max_surge(const cJSON *d);
int64_t dc_max_unavailable(const cJSON *d);
bool dc_is_rolling(const cJSON *d);
int64_t dc_replicas(const cJSON *d); /* spec.replicas, default 1 */
int64_t dc_revision(const cJSON *rs); /* revision annotation; 0 when absent/invalid */
/* EqualIgnoreHash on two PodTemplateSpecs. */
bool dc_templates_equal(const cJSON *a, const cJSON *b);
/* SetDeploymentCondition on status (an object): same status and reason -> unchanged;
 * same status -> lastTransitionTime kept. Returns true if status changed. */
bool dc_set_condition(cJSON *status, const char *type, const char *cstatus,
		      const char *reason, const char *message, int64_t now_ns);
void dc_remove_condition(cJSON *status, const char *type);
cJSON *dc_get_condition(const cJSON *status, const char *type);
/* Counting over an array of ReplicaSets (NULL entries allowed). */
int64_t dc_sum(cJSON *const *rss, int n, const char *path);
/* sort helpers over arrays of ReplicaSet pointers */
void dc_sort_by_creation(cJSON **rss, int n, bool newest_first);
void dc_sort_by_revision(cJSON **rss, int n);
void dc_sort_by_size(cJSON **rss, int n, bool newer_first_on_tie);

/* ---- deployment.c / deployment_rolling.c internals ---- */

typedef struct dc_ctx {
	dc_controller *dc;
	const char *key;
	cJSON *d;      /* owned copy of the Deployment, refreshed from write responses */
	cJSON *rss;    /* owned array of the claimed ReplicaSets */
	cJSON *new_rs; /* borrowed from rss, or NULL */
	cJSON *pods;   /* owned: the namespace's pods (Recreate needs them) */
} dc_ctx;

/* Old ReplicaSets (all but new_rs) into out (caller-sized to at least the rss count);
 * returns the count. active_only keeps those with spec.replicas > 0. */
int dc_old_rss(dc_ctx *c, cJSON **out, bool active_only);
/* getAllReplicaSetsAndSyncRevision: finds (or with create creates) the new ReplicaSet
 * and syncs revision annotations. */
int dc_sync_revision(dc_ctx *c, bool create);
/* scaleReplicaSetAndRecordEvent; returns 1 when scaled, 0 when not needed, < 0. */
int dc_scale_rs(dc_ctx *c, cJSON *rs, int64_t replicas, const char *op);
int dc_sync_rollout_status(dc_ctx *c);
int dc_cleanup(dc_ctx *c);
int dc_rollout_rolling(dc_ctx *c);
int dc_rollout_recreate(dc_ctx *c);
/* NewRSNewReplicas */
int64_t dc_new_rs_new_replicas(dc_ctx *c, const cJSON *new_rs);
/* DeploymentComplete on a status object */
bool dc_complete(const cJSON *d, const cJSON *status);

#endif
