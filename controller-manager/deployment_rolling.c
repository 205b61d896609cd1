/* The rollout strategies: RollingUpdate (upstream rolling.go) and Recreate
 * (recreate.go). */
#include "deployment.h"

#include <string.h>

#include "errors.h"
#include "json.h"
#include "log.h"
#include "meta.h"

/* reconcileNewReplicaSet: 1 when the new ReplicaSet was scaled. */
static int reconcile_new(dc_ctx *c)
{
	cJSON *rs = c->new_rs;
	if (!rs)
		return 0;
	int64_t cur = cm_int(rs, "spec.replicas", 0), want = dc_replicas(c->d);
	if (cur == want)
		return 0;
	if (cur > want)
		return dc_scale_rs(c, rs, want, "down");
	int64_t n = dc_new_rs_new_replicas(c, rs);
	return dc_scale_rs(c, rs, n, NULL);
}

/* cleanupUnhealthyReplicas: scale down old ReplicaSets' unavailable pods first, at most
 * max_cleanup in total. Returns the number scaled down, or < 0. */
static int64_t cleanup_unhealthy(dc_ctx *c, cJSON **old, int n, int64_t max_cleanup)
{
	dc_sort_by_creation(old, n, false);
	int64_t total = 0;
	for (int i = 0; i < n; i++) {
		if (total >= max_cleanup)
			break;
		int64_t spec = cm_int(old[i], "spec.replicas", 0);
		int64_t avail = cm_int(old[i], "status.availableReplicas", 0);
		if (spec == 0 || spec == avail)
			continue; /* nothing unhealthy to clean up */
		int64_t down = max_cleanup - total;
		if (spec - avail < down)
			down = spec - avail;
		int rc = dc_scale_rs(c, old[i], spec - down, NULL);
		if (rc < 0)
			return rc;
		total += down;
	}
	return total;
}

/* scaleDownOldReplicaSetsForRollingUpdate: never below minAvailable available pods. */
static int64_t scale_down_old(dc_ctx *c, cJSON **old, int n)
{
	int64_t min_avail = dc_replicas(c->d) - dc_max_unavailable(c->d);
	/* available pods of the active old ReplicaSets and the new one */
	int64_t available = dc_sum(old, n, "status.availableReplicas");
	if (c->new_rs)
		available += cm_int(c->new_rs, "status.availableReplicas", 0);
	if (available <= min_avail)
		return 0;
	dc_sort_by_creation(old, n, false);
	int64_t to_scale = available - min_avail, total = 0;
	for (int i = 0; i < n; i++) {
		if (total >= to_scale)
			break;
		int64_t spec = cm_int(old[i], "spec.replicas", 0);
		if (spec == 0)
			continue;
		int64_t down = to_scale - total < spec ? to_scale - total : spec;
		int rc = dc_scale_rs(c, old[i], spec - down, NULL);
		if (rc < 0)
			return rc;
		total += down;
	}
	return total;
}

/* reconcileOldReplicaSets: 1 when some old ReplicaSet was scaled down. */
static int reconcile_old(dc_ctx *c)
{
	int n = cJSON_GetArraySize(c->rss);
	cJSON *old[n + 1], *all[n + 1];
	int no = dc_old_rss(c, old, true);
	if (dc_sum(old, no, "spec.replicas") == 0)
		return 0;
	int na = dc_old_rss(c, all, false);
	if (c->new_rs)
		all[na++] = c->new_rs;
	int64_t all_pods = dc_sum(all, na, "spec.replicas");
	int64_t min_avail = dc_replicas(c->d) - dc_max_unavailable(c->d);
	int64_t new_unavail = 0;
	if (c->new_rs)
		new_unavail = cm_int(c->new_rs, "spec.replicas", 0) -
			      cm_int(c->new_rs, "status.availableReplicas", 0);
	/* the number of old pods that may go: unhealthy ones first, then healthy ones as
	 * long as availability stays above minAvailable */
	int64_t max_scaled_down = all_pods - min_avail - new_unavail;
	if (max_scaled_down <= 0)
		return 0;
	int64_t cleaned = cleanup_unhealthy(c, old, no, max_scaled_down);
	if (cleaned < 0)
		return (int)cleaned;
	kc_log_v(4, "Cleaned up unhealthy replicas from old RSes of %s: %lld", c->key,
		 (long long)cleaned);
	int64_t scaled = scale_down_old(c, old, no);
	if (scaled < 0)
		return (int)scaled;
	return cleaned + scaled > 0;
}

int dc_rollout_rolling(dc_ctx *c)
{
	int rc = dc_sync_revision(c, true);
	if (rc < 0)
		return rc;
	rc = reconcile_new(c);
	if (rc < 0)
		return rc;
	if (rc > 0)
		return dc_sync_rollout_status(c);
	rc = reconcile_old(c);
	if (rc < 0)
		return rc;
	if (rc > 0)
		return dc_sync_rollout_status(c);
	/* upstream checks the status as last written (d.Status) */
	bool complete = dc_complete(c->d, kc_json_get(c->d, "status"));
	if (complete) {
		rc = dc_cleanup(c);
		if (rc < 0)
			return rc;
	}
	return dc_sync_rollout_status(c);
}

/* oldPodsRunning: any pod of an old ReplicaSet that is not terminal (Unknown counts as
 * running, conservatively, as upstream). */
static bool old_pods_running(dc_ctx *c)
{
	int n = cJSON_GetArraySize(c->rss);
	cJSON *old[n + 1];
	int no = dc_old_rss(c, old, false);
	if (dc_sum(old, no, "status.replicas") > 0)
		return true;
	const cJSON *p;
	cJSON_ArrayForEach(p, c->pods)
	{
		const cJSON *ref = kc_meta_controller_ref(p);
		if (!ref)
			continue;
		const char *uid = kc_json_get_string(ref, "uid", "");
		for (int i = 0; i < no; i++) {
			if (strcmp(uid, kc_meta_uid(old[i])))
				continue;
			const char *phase = kc_json_get_string(p, "status.phase", "");
			if (strcmp(phase, "Failed") && strcmp(phase, "Succeeded"))
				return true;
		}
	}
	return false;
}

int dc_rollout_recreate(dc_ctx *c)
{
	int rc = dc_sync_revision(c, false);
	if (rc < 0)
		return rc;
	int n = cJSON_GetArraySize(c->rss);
	cJSON *old[n + 1];
	int no = dc_old_rss(c, old, true);
	/* scaleDownOldReplicaSetsForRecreate */
	int scaled = 0;
	for (int i = 0; i < no; i++) {
		rc = dc_scale_rs(c, old[i], 0, NULL);
		if (rc < 0)
			return rc;
		scaled |= rc > 0;
	}
	if (scaled || old_pods_running(c))
		return dc_sync_rollout_status(c);
	if (!c->new_rs) {
		rc = dc_sync_revision(c, true);
		if (rc < 0)
			return rc;
	}
	/* scaleUpNewReplicaSetForRecreate */
	if (c->new_rs) {
		rc = dc_scale_rs(c, c->new_rs, dc_replicas(c->d), NULL);
		if (rc < 0)
			return rc;
	}
	bool complete = dc_complete(c->d, kc_json_get(c->d, "status"));
	if (complete) {
		rc = dc_cleanup(c);
		if (rc < 0)
			return rc;
	}
	return dc_sync_rollout_status(c);
}
