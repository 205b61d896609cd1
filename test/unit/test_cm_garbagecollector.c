/* Garbage collector sync against the fake lister and recording API. */
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "kc_test.h"
#include "meta.h"

#include "../../controller-manager/fake.h"
#include "../../controller-manager/garbagecollector.h"

#define T0 (INT64_C(1700000000) * KC_NSEC_PER_SEC)

typedef struct fixture {
	kc_fake_clock fc;
	cm_fake f;
	gc_controller gc;
} fixture;

static void fx_init(fixture *x)
{
	kc_fake_clock_init(&x->fc, T0, 7);
	ck_assert_int_eq(cm_fake_init(&x->f, &x->fc.base), 0);
	ck_assert_int_eq(gc_controller_init(&x->gc, &x->f.lister, &x->f.api), 0);
}

static void fx_close(fixture *x)
{
	cm_fake_close(&x->f);
	kc_fake_clock_close(&x->fc);
}

static cJSON *parse(const char *s)
{
	cJSON *o = NULL;
	char err[256];
	ck_assert_msg(kc_json_parse_str(s, &o, err, sizeof(err)) == 0, "%s", err);
	return o;
}

static cJSON *obj(const char *name)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\"}}",
		 name);
	return parse(buf);
}

static void own(cJSON *o, const char *av, const char *kind, const char *name, const char *uid,
		bool block)
{
	kc_owner_ref r = { av, kind, name, uid, true, block };
	/* a second owner cannot also be the controller */
	if (cJSON_GetArraySize(kc_meta_owner_refs(o)) > 0)
		r.controller = false;
	ck_assert_int_eq(kc_meta_add_owner_ref(o, &r), 0);
}

static void deleting(fixture *x, cJSON *o, const char *fin)
{
	kc_meta_set_deletion_time(o, kc_now_wall(&x->fc.base));
	kc_meta_add_finalizer(o, fin);
}

static int sync(fixture *x, const char *resource, const char *name)
{
	char key[256];
	snprintf(key, sizeof(key), "%s/default/%s", resource, name);
	return gc_sync(&x->gc, key);
}

START_TEST(dangling_owner_deletes_dependent)
{
	fixture x;
	fx_init(&x);
	cJSON *p = obj("web-1");
	own(p, "apps/v1", "ReplicaSet", "web", "11111111-gone", true);
	cm_fake_add(&x.f, "pods", p);
	ck_assert_int_eq(sync(&x, "pods", "web-1"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "delete pods default/web-1"), 1);
	ck_assert_str_eq(x.f.last_propagation, "Background");
	ck_assert_int_eq(cm_fake_len(&x.f, "pods"), 0);
	fx_close(&x);
}
END_TEST

START_TEST(solid_owner_keeps_dependent)
{
	fixture x;
	fx_init(&x);
	cJSON *rs = cm_fake_add(&x.f, "replicasets", obj("web"));
	cJSON *p = obj("web-1");
	own(p, "apps/v1", "ReplicaSet", "web", kc_meta_uid(rs), true);
	cm_fake_add(&x.f, "pods", p);
	ck_assert_int_eq(sync(&x, "pods", "web-1"), 0);
	ck_assert_int_eq(cJSON_GetArraySize(x.f.actions), 0);
	fx_close(&x);
}
END_TEST

/* The cache has not seen the owner yet: the live GET finds it, nothing is deleted
 * (upstream isDangling's "verify with a live lookup"). */
START_TEST(owner_missing_from_cache_is_verified_live)
{
	fixture x;
	fx_init(&x);
	x.f.writes_visible = false;
	cJSON *rs = NULL, *in = obj("web");
	ck_assert_int_eq(x.f.api.create(&x.f.api, "replicasets", "default", in, &rs, NULL), 0);
	cJSON_Delete(in);
	cm_fake_clear(&x.f);
	x.f.writes_visible = true;
	cJSON *p = obj("web-1");
	own(p, "apps/v1", "ReplicaSet", "web", kc_meta_uid(rs), true);
	cm_fake_add(&x.f, "pods", p);
	ck_assert_ptr_null(cm_fake_find(&x.f, "replicasets", "default", "web"));
	ck_assert_int_eq(sync(&x, "pods", "web-1"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "delete"), 0);
	ck_assert_int_eq(cm_fake_len(&x.f, "pods"), 1);
	cJSON_Delete(rs);
	fx_close(&x);
}
END_TEST

/* An owner of the same name but another uid (deleted and recreated) is gone. */
START_TEST(recreated_owner_is_dangling)
{
	fixture x;
	fx_init(&x);
	cm_fake_add(&x.f, "replicasets", obj("web"));
	cJSON *p = obj("web-1");
	own(p, "apps/v1", "ReplicaSet", "web", "old-uid-of-web", true);
	cm_fake_add(&x.f, "pods", p);
	ck_assert_int_eq(sync(&x, "pods", "web-1"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "delete pods default/web-1"), 1);
	fx_close(&x);
}
END_TEST

/* One owner left: only the dangling reference goes, the object stays. */
START_TEST(solid_and_dangling_owner_drops_reference)
{
	fixture x;
	fx_init(&x);
	cJSON *cm = cm_fake_add(&x.f, "configmaps", obj("keeper"));
	cJSON *s = obj("svc");
	own(s, "v1", "ConfigMap", "keeper", kc_meta_uid(cm), false);
	own(s, "apps/v1", "Deployment", "gone", "uid-gone", false);
	cm_fake_add(&x.f, "services", s);
	ck_assert_int_eq(sync(&x, "services", "svc"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "delete"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "patch services default/svc"), 1);
	cJSON *now = cm_fake_find(&x.f, "services", "default", "svc");
	ck_assert_int_eq(cJSON_GetArraySize(kc_meta_owner_refs(now)), 1);
	ck_assert(kc_meta_is_owned_by(now, kc_meta_uid(cm)));
	fx_close(&x);
}
END_TEST

/* Owners of kinds the GC does not know are left alone. */
START_TEST(unknown_owner_kind_is_left_alone)
{
	fixture x;
	fx_init(&x);
	cJSON *p = obj("x");
	own(p, "example.com/v1", "Widget", "w", "uid-w", false);
	cm_fake_add(&x.f, "pods", p);
	ck_assert_int_eq(sync(&x, "pods", "x"), 0);
	ck_assert_int_eq(cJSON_GetArraySize(x.f.actions), 0);
	fx_close(&x);
}
END_TEST

/* kubectl delete --cascade=orphan: dependents lose the reference, the owner its
 * finalizer, and the apiserver then removes the owner. */
START_TEST(orphan_finalizer_releases_dependents)
{
	fixture x;
	fx_init(&x);
	cJSON *rs = cm_fake_add(&x.f, "replicasets", obj("web"));
	deleting(&x, rs, "orphan");
	for (int i = 0; i < 2; i++) {
		char n[16];
		snprintf(n, sizeof(n), "web-%d", i);
		cJSON *p = obj(n);
		own(p, "apps/v1", "ReplicaSet", "web", kc_meta_uid(rs), true);
		cm_fake_add(&x.f, "pods", p);
	}
	ck_assert_int_eq(sync(&x, "replicasets", "web"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "patch pods"), 2);
	ck_assert_int_eq(cm_fake_count(&x.f, "delete pods"), 0);
	ck_assert_int_eq(cm_fake_len(&x.f, "pods"), 2);
	ck_assert_int_eq(cJSON_GetArraySize(kc_meta_owner_refs(
				 cm_fake_find(&x.f, "pods", "default", "web-0"))), 0);
	ck_assert_ptr_null(cm_fake_find(&x.f, "replicasets", "default", "web"));
	/* the now ownerless pods are not garbage */
	cm_fake_clear(&x.f);
	ck_assert_int_eq(sync(&x, "pods", "web-0"), 0);
	ck_assert_int_eq(cJSON_GetArraySize(x.f.actions), 0);
	fx_close(&x);
}
END_TEST

/* Foreground: Deployment -> ReplicaSet -> pods unwinds bottom-up, and the Deployment
 * stays until its blocking ReplicaSet is gone. */
START_TEST(foreground_deletes_chain_bottom_up)
{
	fixture x;
	fx_init(&x);
	x.f.finalize_deletes = true;
	cJSON *d = cm_fake_add(&x.f, "deployments", obj("web"));
	cJSON *rs = obj("web-abc");
	own(rs, "apps/v1", "Deployment", "web", kc_meta_uid(d), true);
	rs = cm_fake_add(&x.f, "replicasets", rs);
	for (int i = 0; i < 2; i++) {
		char n[16];
		snprintf(n, sizeof(n), "web-abc-%d", i);
		cJSON *p = obj(n);
		own(p, "apps/v1", "ReplicaSet", "web-abc", kc_meta_uid(rs), true);
		cm_fake_add(&x.f, "pods", p);
	}
	deleting(&x, d, "foregroundDeletion");

	/* the Deployment: its ReplicaSet has pods, so it is deleted in the foreground */
	ck_assert_int_eq(sync(&x, "deployments", "web"), 0);
	ck_assert_str_eq(x.f.last_propagation, "Foreground");
	rs = cm_fake_find(&x.f, "replicasets", "default", "web-abc");
	ck_assert_ptr_nonnull(rs);
	ck_assert(kc_meta_has_finalizer(rs, "foregroundDeletion"));
	ck_assert_ptr_nonnull(cm_fake_find(&x.f, "deployments", "default", "web"));
	/* the ReplicaSet: its pods go */
	ck_assert_int_eq(sync(&x, "replicasets", "web-abc"), 0);
	ck_assert_int_eq(cm_fake_len(&x.f, "pods"), 0);
	/* the Deployment still waits for the ReplicaSet */
	ck_assert_int_eq(sync(&x, "deployments", "web"), 0);
	ck_assert_ptr_nonnull(cm_fake_find(&x.f, "deployments", "default", "web"));
	/* no pods left: the ReplicaSet's finalizer goes, then the Deployment's */
	ck_assert_int_eq(sync(&x, "replicasets", "web-abc"), 0);
	ck_assert_ptr_null(cm_fake_find(&x.f, "replicasets", "default", "web-abc"));
	ck_assert_int_eq(sync(&x, "deployments", "web"), 0);
	ck_assert_ptr_null(cm_fake_find(&x.f, "deployments", "default", "web"));
	fx_close(&x);
}
END_TEST

/* The finalizer goes by a merge patch built from a live read, as upstream's
 * removeFinalizer: the informers cache only part of a pod (transform.h), so writing a
 * cached copy back would erase the rest. Other finalizers and the spec stay. */
START_TEST(finalizer_removed_by_patch_of_live_object)
{
	fixture x;
	fx_init(&x);
	x.f.finalize_deletes = true;
	cJSON *p = parse("{\"metadata\":{\"name\":\"solo\",\"namespace\":\"default\","
			 "\"finalizers\":[\"example.com/keep\"]},"
			 "\"spec\":{\"schedulerName\":\"default-scheduler\"}}");
	p = cm_fake_add(&x.f, "pods", p);
	deleting(&x, p, "foregroundDeletion");
	ck_assert_int_eq(sync(&x, "pods", "solo"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "patch pods default/solo"), 1);
	ck_assert_int_eq(cm_fake_count(&x.f, "update"), 0);
	p = cm_fake_find(&x.f, "pods", "default", "solo");
	ck_assert_ptr_nonnull(p); /* example.com/keep still holds it */
	ck_assert(!kc_meta_has_finalizer(p, "foregroundDeletion"));
	ck_assert(kc_meta_has_finalizer(p, "example.com/keep"));
	ck_assert_str_eq(kc_json_get_string(p, "spec.schedulerName", ""), "default-scheduler");
	fx_close(&x);
}
END_TEST

static int count_sync(void *arg, const char *key)
{
	cJSON *keys = arg;
	cJSON_AddItemToArray(keys, cJSON_CreateString(key));
	return 0;
}

static bool has_key(const cJSON *keys, const char *k)
{
	const cJSON *s;
	cJSON_ArrayForEach(s, keys)
	{
		if (!strcmp(s->valuestring, k))
			return true;
	}
	return false;
}

/* Handlers: an owner's deletion queues its dependents; a dependent's deletion queues
 * its owner; an object without owners or GC finalizers queues nothing. */
START_TEST(handlers_queue_graph_neighbours)
{
	fixture x;
	fx_init(&x);
	cJSON *keys = cJSON_CreateArray();
	cm_controller_opts o = { .name = "garbagecollector", .sync = count_sync, .arg = keys };
	ck_assert_int_eq(cm_controller_new(&o, &x.gc.ctrl), 0);
	cJSON *rs = cm_fake_add(&x.f, "replicasets", obj("web"));
	cJSON *p = obj("web-1");
	own(p, "apps/v1", "ReplicaSet", "web", kc_meta_uid(rs), true);
	p = cm_fake_add(&x.f, "pods", p);
	cm_fake_add(&x.f, "pods", obj("lonely"));

	gc_object_changed(&x.gc, "pods", cm_fake_find(&x.f, "pods", "default", "lonely"), false);
	ck_assert_int_eq(cm_controller_len(x.gc.ctrl), 0);
	/* a dependent whose owner is cached and alive needs no sync (upstream's graph);
	 * one whose owner is missing, has another uid, or is being deleted does */
	gc_object_changed(&x.gc, "pods", p, false);
	ck_assert_int_eq(cm_controller_len(x.gc.ctrl), 0);
	cJSON *stray = obj("stray");
	own(stray, "apps/v1", "ReplicaSet", "web", "another-uid", true);
	gc_object_changed(&x.gc, "pods", stray, false);
	ck_assert_int_eq(cm_controller_len(x.gc.ctrl), 1);
	kc_json_set_string(stray, "metadata.ownerReferences.0.name", "gone");
	kc_json_set_string(stray, "metadata.ownerReferences.0.uid", "gone-uid");
	kc_json_set_string(stray, "metadata.name", "stray2");
	gc_object_changed(&x.gc, "pods", stray, false);
	ck_assert_int_eq(cm_controller_len(x.gc.ctrl), 2);
	cJSON_Delete(stray);
	kc_json_set_string(rs, "metadata.deletionTimestamp", "2023-11-14T22:13:20Z");
	gc_object_changed(&x.gc, "pods", p, false);
	ck_assert_int_eq(cm_controller_len(x.gc.ctrl), 3);
	kc_json_delete(rs, "metadata.deletionTimestamp");
	while (cm_controller_process_one(x.gc.ctrl) == 1)
		;
	cJSON_Delete(keys);
	keys = cJSON_CreateArray();
	o.arg = keys;
	cm_controller_free(x.gc.ctrl);
	ck_assert_int_eq(cm_controller_new(&o, &x.gc.ctrl), 0);
	gc_object_changed(&x.gc, "replicasets", rs, true);
	gc_object_changed(&x.gc, "pods", p, true);
	while (cm_controller_process_one(x.gc.ctrl) == 1)
		;
	ck_assert(has_key(keys, "pods/default/web-1"));
	ck_assert(has_key(keys, "replicasets/default/web"));
	ck_assert(!has_key(keys, "pods/default/lonely"));
	cm_controller_free(x.gc.ctrl);
	cJSON_Delete(keys);
	fx_close(&x);
}
END_TEST

START_TEST(malformed_keys_are_dropped)
{
	fixture x;
	fx_init(&x);
	ck_assert_int_eq(gc_sync(&x.gc, "pods"), 0);
	ck_assert_int_eq(gc_sync(&x.gc, "pods/default/"), 0);
	ck_assert_int_eq(gc_sync(&x.gc, "widgets/default/x"), 0);
	ck_assert_int_eq(gc_sync(&x.gc, "pods/default/missing"), 0);
	ck_assert_int_eq(cJSON_GetArraySize(x.f.actions), 0);
	fx_close(&x);
}
END_TEST

static Suite *cm_garbagecollector_suite(void)
{
	Suite *s = suite_create("cm_garbagecollector");
	TCase *tc = tcase_create("sync");
	tcase_add_test(tc, dangling_owner_deletes_dependent);
	tcase_add_test(tc, solid_owner_keeps_dependent);
	tcase_add_test(tc, owner_missing_from_cache_is_verified_live);
	tcase_add_test(tc, recreated_owner_is_dangling);
	tcase_add_test(tc, solid_and_dangling_owner_drops_reference);
	tcase_add_test(tc, unknown_owner_kind_is_left_alone);
	tcase_add_test(tc, orphan_finalizer_releases_dependents);
	tcase_add_test(tc, finalizer_removed_by_patch_of_live_object);
	tcase_add_test(tc, foreground_deletes_chain_bottom_up);
	tcase_add_test(tc, handlers_queue_graph_neighbours);
	tcase_add_test(tc, malformed_keys_are_dropped);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(cm_garbagecollector_suite)
