/* Deployment controller sync against the fake lister and recording API. The test plays
 * the ReplicaSet controller and kubelet with settle(): every ReplicaSet's status catches
 * up with its spec (pods created; ready when asked). */
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "fixtures.h"
#include "kc_test.h"
#include "meta.h"

#include "../../controller-manager/deployment.h"
#include "../../controller-manager/fake.h"

#define T0 (INT64_C(1700000000) * KC_NSEC_PER_SEC)

typedef struct fixture {
	kc_fake_clock fc;
	cm_fake f;
	dc_controller dc;
} fixture;

static void fx_init(fixture *x)
{
	kc_fake_clock_init(&x->fc, T0, 5);
	ck_assert_int_eq(cm_fake_init(&x->f, &x->fc.base), 0);
	ck_assert_int_eq(dc_controller_init(&x->dc, &x->f.lister, &x->f.api, &x->fc.base), 0);
}

static void fx_close(fixture *x)
{
	dc_controller_close(&x->dc);
	cm_fake_close(&x->f);
	kc_fake_clock_close(&x->fc);
}

/* strategy: a JSON strategy object */
static cJSON *add_deploy(fixture *x, int replicas, const char *strategy, const char *extra)
{
	char buf[2048];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},"
		 "\"spec\":{\"replicas\":%d,\"strategy\":%s,\"revisionHistoryLimit\":10,"
		 "\"progressDeadlineSeconds\":600,%s"
		 "\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
		 "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},"
		 "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"nginx:1\"}]}}}}",
		 replicas, strategy, extra ? extra : "");
	return cm_fake_add(&x->f, "deployments", fx_json(buf));
}

static cJSON *deploy(fixture *x)
{
	return cm_fake_find(&x->f, "deployments", "default", "web");
}

static void set_image(fixture *x, const char *image)
{
	cJSON *d = deploy(x);
	kc_json_set_string(d, "spec.template.spec.containers.0.image", image);
	kc_meta_set_generation(d, kc_meta_generation(d) + 1);
}

/* The ReplicaSet controller and kubelets catching up: status.replicas follows spec,
 * ready/available too when ready is set (else they stay where they were, capped). */
static void settle(fixture *x, int ready)
{
	cJSON *rs;
	cJSON_ArrayForEach(rs, cJSON_GetObjectItem(x->f.store, "replicasets"))
	{
		int64_t spec = cm_int(rs, "spec.replicas", 0);
		int64_t avail = cm_int(rs, "status.availableReplicas", 0);
		if (ready || avail > spec)
			avail = spec;
		kc_json_set_int64(rs, "status.replicas", spec);
		kc_json_set_int64(rs, "status.readyReplicas", avail);
		kc_json_set_int64(rs, "status.availableReplicas", avail);
		kc_json_set_int64(rs, "status.observedGeneration", kc_meta_generation(rs));
	}
}

static cJSON *rs_by_image(fixture *x, const char *image)
{
	cJSON *rs;
	cJSON_ArrayForEach(rs, cJSON_GetObjectItem(x->f.store, "replicasets"))
	{
		if (!strcmp(kc_json_get_string(rs, "spec.template.spec.containers.0.image", ""),
			    image))
			return rs;
	}
	return NULL;
}

static int64_t total(fixture *x, const char *path)
{
	int64_t s = 0;
	cJSON *rs;
	cJSON_ArrayForEach(rs, cJSON_GetObjectItem(x->f.store, "replicasets"))
		s += cm_int(rs, path, 0);
	return s;
}

static bool has_event(fixture *x, const char *reason, const char *message)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, x->f.events)
	{
		if (!strcmp(kc_json_get_string(e, "reason", ""), reason) &&
		    !strcmp(kc_json_get_string(e, "message", ""), message))
			return true;
	}
	return false;
}

START_TEST(hash_encoding_and_fenceposts)
{
	char out[16];
	/* SafeEncodeString: '1' -> 49 % 27 = 22 -> '5' */
	dc_safe_encode("123", out, sizeof(out));
	ck_assert_str_eq(out, "567");
	cJSON *t = fx_json("{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{}}");
	cJSON *t2 = fx_json("{\"spec\":{},\"metadata\":{\"labels\":{\"app\":\"web\"}}}");
	char h1[16], h2[16], h3[16];
	dc_compute_hash(t, -1, h1);
	dc_compute_hash(t2, -1, h2);
	dc_compute_hash(t, 1, h3);
	ck_assert_str_eq(h1, h2); /* member order does not matter */
	ck_assert_str_ne(h1, h3); /* the collision count changes the name */
	ck_assert_int_le(strlen(h1), 10);
	for (const char *p = h1; *p; p++)
		ck_assert_ptr_nonnull(strchr("bcdfghjklmnpqrstvwxz2456789", *p));
	/* kubectl rollout undo sends "creationTimestamp": null and the hash label gone */
	cJSON *t3 = fx_json("{\"metadata\":{\"creationTimestamp\":null,\"labels\":{\"app\":"
			  "\"web\",\"pod-template-hash\":\"abc\"}},\"spec\":{\"volumes\":[]}}");
	ck_assert(dc_templates_equal(t, t3));
	kc_json_set_string(t3, "spec.restartPolicy", "Never");
	ck_assert(!dc_templates_equal(t, t3));
	cJSON_Delete(t3);
	cJSON_Delete(t);
	cJSON_Delete(t2);

	int64_t s, u;
	cJSON *d = fx_json("{\"spec\":{\"replicas\":10}}");
	ck_assert_int_eq(dc_fenceposts(d, &s, &u), 0);
	ck_assert_int_eq(s, 3); /* 25% of 10 = 2.5: surge rounds up */
	ck_assert_int_eq(u, 2); /* unavailable rounds down */
	kc_json_set_int64(d, "spec.replicas", 1);
	dc_fenceposts(d, &s, &u);
	ck_assert_int_eq(s, 1);
	ck_assert_int_eq(u, 0);
	kc_json_set(d, "spec.strategy",
		    fx_json("{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxSurge\":0,"
			  "\"maxUnavailable\":\"0%\"}}"));
	dc_fenceposts(d, &s, &u);
	ck_assert_int_eq(s, 0);
	ck_assert_int_eq(u, 1); /* both zero: unavailable becomes 1 */
	kc_json_set(d, "spec.strategy.rollingUpdate.maxSurge", cJSON_CreateString("x%"));
	ck_assert_int_eq(dc_fenceposts(d, &s, &u), -EINVAL);
	cJSON_Delete(d);
}
END_TEST

START_TEST(new_deployment_creates_hashed_replicaset_and_completes)
{
	fixture x;
	fx_init(&x);
	add_deploy(&x, 3, "{\"type\":\"RollingUpdate\"}", NULL);
	ck_assert_int_eq(dc_sync(&x.dc, "default/web"), 0);
	ck_assert_int_eq(cm_fake_len(&x.f, "replicasets"), 1);
	cJSON *rs = cJSON_GetArrayItem(cJSON_GetObjectItem(x.f.store, "replicasets"), 0);
	const char *hash = kc_meta_label(rs, "pod-template-hash");
	ck_assert_ptr_nonnull(hash);
	char name[64];
	snprintf(name, sizeof(name), "web-%s", hash);
	ck_assert_str_eq(kc_meta_name(rs), name);
	ck_assert_str_eq(kc_json_get_string(rs, "spec.selector.matchLabels.pod-template-hash", ""),
			 hash);
	ck_assert_str_eq(kc_json_get_string(rs, "spec.template.metadata.labels.pod-template-hash",
					    ""),
			 hash);
	ck_assert_int_eq(cm_int(rs, "spec.replicas", -1), 3);
	ck_assert_str_eq(kc_meta_annotation(rs, DC_REVISION_ANNOTATION), "1");
	ck_assert_str_eq(kc_meta_annotation(rs, DC_DESIRED_REPLICAS_ANNOTATION), "3");
	ck_assert_str_eq(kc_meta_annotation(rs, DC_MAX_REPLICAS_ANNOTATION), "4");
	const cJSON *ref = kc_meta_controller_ref(rs);
	ck_assert_str_eq(kc_json_get_string(ref, "kind", ""), "Deployment");
	ck_assert_str_eq(kc_json_get_string(ref, "uid", ""), kc_meta_uid(deploy(&x)));
	char msg[128];
	snprintf(msg, sizeof(msg), "Scaled up replica set %s from 0 to 3", name);
	ck_assert(has_event(&x, "ScalingReplicaSet", msg));
	ck_assert_str_eq(kc_meta_annotation(deploy(&x), DC_REVISION_ANNOTATION), "1");

	/* pods come up: the rollout completes */
	settle(&x, 1);
	ck_assert_int_eq(dc_sync(&x.dc, "default/web"), 0);
	const cJSON *st = kc_json_get(deploy(&x), "status");
	ck_assert_int_eq(cm_int(st, "replicas", 0), 3);
	ck_assert_int_eq(cm_int(st, "updatedReplicas", 0), 3);
	ck_assert_int_eq(cm_int(st, "readyReplicas", 0), 3);
	ck_assert_int_eq(cm_int(st, "availableReplicas", 0), 3);
	ck_assert_int_eq(cm_int(st, "unavailableReplicas", 0), 0);
	ck_assert_int_eq(cm_int(st, "observedGeneration", 0), 1);
	const cJSON *av = dc_get_condition(st, "Available");
	ck_assert_str_eq(kc_json_get_string(av, "status", ""), "True");
	ck_assert_str_eq(kc_json_get_string(av, "reason", ""), "MinimumReplicasAvailable");
	ck_assert_str_eq(kc_json_get_string(av, "message", ""),
			 "Deployment has minimum availability.");
	const cJSON *pr = dc_get_condition(st, "Progressing");
	ck_assert_str_eq(kc_json_get_string(pr, "reason", ""), "NewReplicaSetAvailable");
	snprintf(msg, sizeof(msg), "ReplicaSet \"%s\" has successfully progressed.", name);
	ck_assert_str_eq(kc_json_get_string(pr, "message", ""), msg);
	/* steady state: nothing more is written */
	cm_fake_clear(&x.f);
	ck_assert_int_eq(dc_sync(&x.dc, "default/web"), 0);
	ck_assert_int_eq(cJSON_GetArraySize(x.f.actions), 0);
	fx_close(&x);
}
END_TEST

/* Run the rollout to the end, checking the bounds after every step. */
static void roll(fixture *x, int64_t max_total, int64_t min_avail, int ready)
{
	for (int step = 0; step < 40; step++) {
		ck_assert_int_eq(dc_sync(&x->dc, "default/web"), 0);
		ck_assert_msg(total(x, "spec.replicas") <= max_total,
			      "step %d: %lld pods wanted, surge bound %lld", step,
			      (long long)total(x, "spec.replicas"), (long long)max_total);
		settle(x, ready);
		ck_assert_msg(total(x, "status.availableReplicas") >= min_avail,
			      "step %d: %lld available, bound %lld", step,
			      (long long)total(x, "status.availableReplicas"), (long long)min_avail);
		/* what kubectl rollout status waits for */
		const cJSON *d = deploy(x), *st = kc_json_get(d, "status");
		int64_t want = cm_int(d, "spec.replicas", 1);
		if (cm_int(st, "observedGeneration", 0) == kc_meta_generation(d) &&
		    cm_int(st, "updatedReplicas", 0) == want && cm_int(st, "replicas", 0) == want &&
		    cm_int(st, "availableReplicas", 0) == want &&
		    total(x, "spec.replicas") == want)
			return;
	}
	ck_abort_msg("rollout did not complete in 40 steps");
}

START_TEST(rolling_update_respects_surge_and_unavailable)
{
	fixture x;
	fx_init(&x);
	add_deploy(&x, 4,
		   "{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxSurge\":1,"
		   "\"maxUnavailable\":0}}",
		   NULL);
	roll(&x, 4, 0, 1);
	cJSON *old = rs_by_image(&x, "nginx:1");
	ck_assert_int_eq(cm_int(old, "spec.replicas", 0), 4);

	set_image(&x, "nginx:2");
	cm_fake_clear(&x.f);
	ck_assert_int_eq(dc_sync(&x.dc, "default/web"), 0);
	/* first step: a new ReplicaSet with one surge pod, the old one untouched */
	cJSON *nrs = rs_by_image(&x, "nginx:2");
	ck_assert_ptr_nonnull(nrs);
	ck_assert_int_eq(cm_int(nrs, "spec.replicas", -1), 1);
	ck_assert_int_eq(cm_int(old, "spec.replicas", -1), 4);
	ck_assert_str_eq(kc_meta_annotation(nrs, DC_REVISION_ANNOTATION), "2");
	ck_assert_str_eq(kc_meta_annotation(deploy(&x), DC_REVISION_ANNOTATION), "2");
	ck_assert_str_ne(kc_meta_name(nrs), kc_meta_name(old));
	/* new pods not ready yet: nothing of the old may go (maxUnavailable 0) */
	settle(&x, 0);
	ck_assert_int_eq(dc_sync(&x.dc, "default/web"), 0);
	ck_assert_int_eq(cm_int(old, "spec.replicas", -1), 4);
	ck_assert_int_eq(cm_int(nrs, "spec.replicas", -1), 1);
	const cJSON *pr = dc_get_condition(kc_json_get(deploy(&x), "status"), "Progressing");
	ck_assert_str_eq(kc_json_get_string(pr, "reason", ""), "ReplicaSetUpdated");
	/* then it rolls: at most 5 pods, never fewer than 4 available */
	roll(&x, 5, 4, 1);
	ck_assert_int_eq(cm_int(old, "spec.replicas", -1), 0);
	ck_assert_int_eq(cm_int(nrs, "spec.replicas", -1), 4);
	char msg[128];
	snprintf(msg, sizeof(msg), "Scaled down replica set %s from 4 to 3", kc_meta_name(old));
	ck_assert(has_event(&x, "ScalingReplicaSet", msg));
	const cJSON *st = kc_json_get(deploy(&x), "status");
	ck_assert_int_eq(cm_int(st, "updatedReplicas", 0), 4);
	ck_assert_int_eq(cm_int(st, "observedGeneration", 0), 2);
	fx_close(&x);
}
END_TEST

START_TEST(rolling_update_with_unavailability_only)
{
	fixture x;
	fx_init(&x);
	add_deploy(&x, 4,
		   "{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxSurge\":0,"
		   "\"maxUnavailable\":1}}",
		   NULL);
	roll(&x, 4, 0, 1);
	set_image(&x, "nginx:2");
	ck_assert_int_eq(dc_sync(&x.dc, "default/web"), 0);
	/* no surge: the new ReplicaSet starts empty and an old pod goes first */
	ck_assert_int_eq(cm_int(rs_by_image(&x, "nginx:2"), "spec.replicas", -1), 0);
	ck_assert_int_eq(cm_int(rs_by_image(&x, "nginx:1"), "spec.replicas", -1), 3);
	settle(&x, 1);
	roll(&x, 4, 3, 1);
	ck_assert_int_eq(cm_int(rs_by_image(&x, "nginx:2"), "spec.replicas", -1), 4);
	ck_assert_int_eq(cm_int(rs_by_image(&x, "nginx:1"), "spec.replicas", -1), 0);
	fx_close(&x);
}
END_TEST

START_TEST(recreate_waits_for_old_pods)
{
	fixture x;
	fx_init(&x);
	add_deploy(&x, 3, "{\"type\":\"Recreate\"}", NULL);
	roll(&x, 3, 0, 1);
	cJSON *old = rs_by_image(&x, "nginx:1");
	/* an old pod still running */
	cJSON *pod = fx_json("{\"metadata\":{\"name\":\"web-old-1\",\"labels\":{\"app\":\"web\"}},"
			   "\"status\":{\"phase\":\"Running\"}}");
	kc_owner_ref o = { "apps/v1", "ReplicaSet", kc_meta_name(old), kc_meta_uid(old), true,
			   true };
	kc_meta_add_owner_ref(pod, &o);
	cm_fake_add(&x.f, "pods", pod);
	set_image(&x, "nginx:2");
	ck_assert_int_eq(dc_sync(&x.dc, "default/web"), 0);
	ck_assert_int_eq(cm_int(old, "spec.replicas", -1), 0);
	ck_assert_ptr_null(rs_by_image(&x, "nginx:2"));
	settle(&x, 1);
	ck_assert_int_eq(dc_sync(&x.dc, "default/web"), 0);
	ck_assert_ptr_null(rs_by_image(&x, "nginx:2")); /* the pod is still there */
	ck_assert_int_eq(x.f.api.del(&x.f.api, "pods", "default", "web-old-1", NULL), 0);
	ck_assert_int_eq(dc_sync(&x.dc, "default/web"), 0);
	ck_assert_int_eq(cm_int(rs_by_image(&x, "nginx:2"), "spec.replicas", -1), 3);
	fx_close(&x);
}
END_TEST

START_TEST(history_limit_deletes_oldest_scaled_down)
{
	fixture x;
	fx_init(&x);
	add_deploy(&x, 2, "{\"type\":\"RollingUpdate\"}", NULL);
	kc_json_set_int64(deploy(&x), "spec.revisionHistoryLimit", 1);
	roll(&x, 2, 0, 1);
	set_image(&x, "nginx:2");
	roll(&x, 3, 0, 1);
	set_image(&x, "nginx:3");
	roll(&x, 3, 0, 1);
	/* one more pass once complete runs the cleanup */
	ck_assert_int_eq(dc_sync(&x.dc, "default/web"), 0);
	ck_assert_ptr_null(rs_by_image(&x, "nginx:1"));
	ck_assert_ptr_nonnull(rs_by_image(&x, "nginx:2"));
	ck_assert_ptr_nonnull(rs_by_image(&x, "nginx:3"));
	ck_assert_str_eq(kc_meta_annotation(rs_by_image(&x, "nginx:3"), DC_REVISION_ANNOTATION),
			 "3");
	fx_close(&x);
}
END_TEST

START_TEST(rollback_reuses_replicaset_with_new_revision)
{
	fixture x;
	fx_init(&x);
	add_deploy(&x, 2, "{\"type\":\"RollingUpdate\"}", NULL);
	roll(&x, 2, 0, 1);
	set_image(&x, "nginx:2");
	roll(&x, 3, 0, 1);
	set_image(&x, "nginx:1"); /* kubectl rollout undo */
	roll(&x, 3, 0, 1);
	ck_assert_int_eq(cm_fake_len(&x.f, "replicasets"), 2);
	cJSON *first = rs_by_image(&x, "nginx:1");
	ck_assert_str_eq(kc_meta_annotation(first, DC_REVISION_ANNOTATION), "3");
	ck_assert_str_eq(kc_meta_annotation(first, DC_REVISION_HISTORY_ANNOTATION), "1");
	ck_assert_int_eq(cm_int(first, "spec.replicas", -1), 2);
	ck_assert_str_eq(kc_meta_annotation(deploy(&x), DC_REVISION_ANNOTATION), "3");
	fx_close(&x);
}
END_TEST

START_TEST(scaling_event_and_pause)
{
	fixture x;
	fx_init(&x);
	add_deploy(&x, 4, "{\"type\":\"RollingUpdate\"}", NULL);
	roll(&x, 5, 0, 1);
	cJSON *rs = rs_by_image(&x, "nginx:1");
	kc_json_set_int64(deploy(&x), "spec.replicas", 6);
	ck_assert_int_eq(dc_sync(&x.dc, "default/web"), 0);
	ck_assert_int_eq(cm_int(rs, "spec.replicas", -1), 6);
	ck_assert_str_eq(kc_meta_annotation(rs, DC_DESIRED_REPLICAS_ANNOTATION), "6");
	char msg[128];
	snprintf(msg, sizeof(msg), "Scaled up replica set %s from 4 to 6", kc_meta_name(rs));
	ck_assert(has_event(&x, "ScalingReplicaSet", msg));
	settle(&x, 1);
	/* paused: a template change does not roll */
	kc_json_set_bool(deploy(&x), "spec.paused", true);
	set_image(&x, "nginx:2");
	ck_assert_int_eq(dc_sync(&x.dc, "default/web"), 0);
	ck_assert_ptr_null(rs_by_image(&x, "nginx:2"));
	const cJSON *pr = dc_get_condition(kc_json_get(deploy(&x), "status"), "Progressing");
	ck_assert_str_eq(kc_json_get_string(pr, "status", ""), "Unknown");
	ck_assert_str_eq(kc_json_get_string(pr, "reason", ""), "DeploymentPaused");
	ck_assert_str_eq(kc_json_get_string(pr, "message", ""), "Deployment is paused");
	/* resumed: it rolls */
	kc_json_set_bool(deploy(&x), "spec.paused", false);
	ck_assert_int_eq(dc_sync(&x.dc, "default/web"), 0);
	ck_assert_ptr_nonnull(rs_by_image(&x, "nginx:2"));
	fx_close(&x);
}
END_TEST

START_TEST(progress_deadline_exceeded)
{
	fixture x;
	fx_init(&x);
	add_deploy(&x, 2, "{\"type\":\"RollingUpdate\"}", NULL);
	kc_json_set_int64(deploy(&x), "spec.progressDeadlineSeconds", 60);
	ck_assert_int_eq(dc_sync(&x.dc, "default/web"), 0);
	settle(&x, 0); /* pods never become ready */
	ck_assert_int_eq(dc_sync(&x.dc, "default/web"), 0);
	const cJSON *av = dc_get_condition(kc_json_get(deploy(&x), "status"), "Available");
	ck_assert_str_eq(kc_json_get_string(av, "status", ""), "False");
	ck_assert_str_eq(kc_json_get_string(av, "reason", ""), "MinimumReplicasUnavailable");
	kc_fake_clock_advance(&x.fc, 61 * KC_NSEC_PER_SEC);
	ck_assert_int_eq(dc_sync(&x.dc, "default/web"), 0);
	const cJSON *pr = dc_get_condition(kc_json_get(deploy(&x), "status"), "Progressing");
	ck_assert_str_eq(kc_json_get_string(pr, "status", ""), "False");
	ck_assert_str_eq(kc_json_get_string(pr, "reason", ""), "ProgressDeadlineExceeded");
	char msg[128];
	snprintf(msg, sizeof(msg), "ReplicaSet \"%s\" has timed out progressing.",
		 kc_meta_name(rs_by_image(&x, "nginx:1")));
	ck_assert_str_eq(kc_json_get_string(pr, "message", ""), msg);
	fx_close(&x);
}
END_TEST

START_TEST(adopts_orphan_replicaset_and_ignores_others)
{
	fixture x;
	fx_init(&x);
	add_deploy(&x, 2, "{\"type\":\"RollingUpdate\"}", NULL);
	/* an orphan ReplicaSet with the current template is adopted, not duplicated */
	cm_fake_add(&x.f, "replicasets",
		    fx_json("{\"metadata\":{\"name\":\"web-orphan\",\"labels\":{\"app\":\"web\"}},"
			  "\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":{\"app\":"
			  "\"web\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},"
			  "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"nginx:1\"}]}}}}"));
	cm_fake_add(&x.f, "replicasets",
		    fx_json("{\"metadata\":{\"name\":\"db\",\"labels\":{\"app\":\"db\"}},"
			  "\"spec\":{\"replicas\":1,\"selector\":{\"matchLabels\":{\"app\":"
			  "\"db\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"db\"}}}}}"));
	ck_assert_int_eq(dc_sync(&x.dc, "default/web"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "patch replicasets default/web-orphan"), 1);
	ck_assert_int_eq(cm_fake_count(&x.f, "patch replicasets default/db"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "create"), 0);
	ck_assert_str_eq(kc_meta_annotation(cm_fake_find(&x.f, "replicasets", "default",
							 "web-orphan"),
					    DC_REVISION_ANNOTATION),
			 "1");
	fx_close(&x);
}
END_TEST

START_TEST(refused_replicaset_creation_is_reported_and_retried)
{
	fixture x;
	fx_init(&x);
	add_deploy(&x, 2, "{\"type\":\"RollingUpdate\"}", NULL);
	x.f.fail_creates = 1;
	ck_assert_int_lt(dc_sync(&x.dc, "default/web"), 0);
	ck_assert_int_eq(cm_fake_len(&x.f, "replicasets"), 0);
	const cJSON *pr = dc_get_condition(kc_json_get(deploy(&x), "status"), "Progressing");
	ck_assert_str_eq(kc_json_get_string(pr, "status", ""), "False");
	ck_assert_str_eq(kc_json_get_string(pr, "reason", ""), "ReplicaSetCreateError");
	const char *m = kc_json_get_string(pr, "message", "");
	ck_assert(!strncmp(m, "Failed to create new replica set \"web-", 38));
	ck_assert_ptr_nonnull(strstr(m, "is forbidden: exceeded quota: fake"));
	const cJSON *ev = cJSON_GetArrayItem(x.f.events, 0);
	ck_assert_str_eq(kc_json_get_string(ev, "type", ""), "Warning");
	ck_assert_str_eq(kc_json_get_string(ev, "message", ""), m);
	/* the retry succeeds */
	ck_assert_int_eq(dc_sync(&x.dc, "default/web"), 0);
	ck_assert_int_eq(cm_fake_len(&x.f, "replicasets"), 1);
	pr = dc_get_condition(kc_json_get(deploy(&x), "status"), "Progressing");
	ck_assert_str_eq(kc_json_get_string(pr, "reason", ""), "NewReplicaSetCreated");
	fx_close(&x);
}
END_TEST

static Suite *cm_deployment_suite(void)
{
	Suite *s = suite_create("cm_deployment");
	TCase *tc = tcase_create("sync");
	tcase_add_test(tc, hash_encoding_and_fenceposts);
	tcase_add_test(tc, new_deployment_creates_hashed_replicaset_and_completes);
	tcase_add_test(tc, rolling_update_respects_surge_and_unavailable);
	tcase_add_test(tc, rolling_update_with_unavailability_only);
	tcase_add_test(tc, recreate_waits_for_old_pods);
	tcase_add_test(tc, history_limit_deletes_oldest_scaled_down);
	tcase_add_test(tc, rollback_reuses_replicaset_with_new_revision);
	tcase_add_test(tc, scaling_event_and_pause);
	tcase_add_test(tc, progress_deadline_exceeded);
	tcase_add_test(tc, adopts_orphan_replicaset_and_ignores_others);
	tcase_add_test(tc, refused_replicaset_creation_is_reported_and_retried);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(cm_deployment_suite)
