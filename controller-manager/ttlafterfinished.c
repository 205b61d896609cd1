/* The TTL-after-finished controller (see ttlafterfinished.h). */
#include "ttlafterfinished.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "log.h"
#include "meta.h"

int ttl_controller_init(ttl_controller *tc, cm_lister *lister, cm_api *api, kc_clock_t *clock)
{
	memset(tc, 0, sizeof(*tc));
	tc->lister = lister;
	tc->api = api;
	tc->clock = clock ? clock : kc_clock_real();
	return 0;
}

/* jobFinishTime: lastTransitionTime of the True Complete/Failed condition.
 * 1 finished with *at set, 0 not finished, -EINVAL finished without a time. */
static int finish_time(const cJSON *job, int64_t *at)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, kc_json_get(job, "status.conditions"))
	{
		const char *t = kc_json_get_string(c, "type", "");
		if ((strcmp(t, "Complete") && strcmp(t, "Failed")) ||
		    strcmp(kc_json_get_string(c, "status", ""), "True"))
			continue;
		if (kc_meta_time_parse(kc_json_get_string(c, "lastTransitionTime", ""), at) < 0)
			return -EINVAL;
		return 1;
	}
	return 0;
}

/* needsCleanup + timeLeft: 0 not due (or never), 1 due now; *left the time to wait. */
static int due(ttl_controller *tc, const cJSON *job, int64_t *left)
{
	*left = 0;
	const cJSON *ttl = kc_json_get(job, "spec.ttlSecondsAfterFinished");
	int64_t secs;
	if (!ttl || kc_json_item_int64(ttl, &secs) < 0 || secs < 0)
		return 0;
	if (*kc_meta_deletion_timestamp(job))
		return 0;
	int64_t at;
	int f = finish_time(job, &at);
	if (f <= 0)
		return f;
	int64_t expire = at + secs * KC_NSEC_PER_SEC, now = kc_now_wall(tc->clock);
	if (now < expire) {
		*left = expire - now;
		return 0;
	}
	return 1;
}

int ttl_sync(void *arg, const char *key)
{
	ttl_controller *tc = arg;
	char ns[256], name[256];
	tc->last_requeue_ns = 0;
	if (cm_split_key(key, ns, sizeof(ns), name, sizeof(name)) < 0)
		return 0;
	cJSON *job = NULL;
	int rc = tc->lister->get(tc->lister, "jobs", ns, name, &job);
	if (rc == KC_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	int64_t left;
	int d = due(tc, job, &left);
	cJSON_Delete(job);
	job = NULL;
	if (d < 0) {
		kc_warn("ttl-after-finished: job %s finished without a lastTransitionTime", key);
		return 0;
	}
	if (d == 0) {
		if (left > 0) {
			tc->last_requeue_ns = left;
			cm_controller_enqueue_after(tc->ctrl, key, left);
		}
		return 0;
	}
	/* the cache may be stale: the TTL may have changed; check the live object */
	rc = tc->api->get(tc->api, "jobs", ns, name, &job);
	if (rc == KC_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	d = due(tc, job, &left);
	if (d <= 0) {
		if (left > 0) {
			tc->last_requeue_ns = left;
			cm_controller_enqueue_after(tc->ctrl, key, left);
		}
		cJSON_Delete(job);
		return 0;
	}
	cJSON *opts = cJSON_CreateObject();
	cJSON_AddStringToObject(opts, "propagationPolicy", "Background");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(opts, "preconditions"), "uid",
				kc_meta_uid(job));
	kc_info("ttl-after-finished: cleaning up job %s", key);
	rc = tc->api->del(tc->api, "jobs", ns, name, opts);
	cJSON_Delete(opts);
	cJSON_Delete(job);
	if (rc == KC_ENOTFOUND || rc == KC_ECONFLICT)
		rc = 0; /* gone, or another Job of that name now */
	return rc;
}

/* ---- handlers ---- */

static void on_job(const cJSON *obj, void *arg)
{
	ttl_controller *tc = arg;
	/* addJob/updateJob: only jobs that need cleanup are queued */
	if (*kc_meta_deletion_timestamp(obj) || !kc_json_get(obj, "spec.ttlSecondsAfterFinished"))
		return;
	int64_t at;
	if (finish_time(obj, &at) == 0)
		return;
	cm_controller_enqueue_obj(tc->ctrl, obj);
}

static void on_job_update(const cJSON *old_obj, const cJSON *new_obj, void *arg)
{
	(void)old_obj;
	on_job(new_obj, arg);
}

int ttl_controller_register(ttl_controller *tc, cm_informers *f)
{
	kc_informer *ji = cm_informers_get(f, "jobs");
	if (!ji)
		return -ENOMEM;
	kc_informer_handlers h = { on_job, on_job_update, NULL, tc };
	return kc_informer_add_handlers(ji, &h);
}
