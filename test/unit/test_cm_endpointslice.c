/* EndpointSlice controller sync against the fake lister and recording API. */
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "fixtures.h"
#include "kc_test.h"
#include "meta.h"

#include "../../controller-manager/endpoints.h"
#include "../../controller-manager/endpointslice.h"
#include "../../controller-manager/fake.h"

typedef struct fixture {
	kc_fake_clock fc;
	cm_fake f;
	eps_controller ec;
} fixture;

static void fx_init(fixture *x)
{
	kc_fake_clock_init(&x->fc, INT64_C(1700000000) * KC_NSEC_PER_SEC, 3);
	ck_assert_int_eq(cm_fake_init(&x->f, &x->fc.base), 0);
	ck_assert_int_eq(eps_controller_init(&x->ec, &x->f.lister, &x->f.api), 0);
}

static void fx_close(fixture *x)
{
	eps_controller_close(&x->ec);
	cm_fake_close(&x->f);
	kc_fake_clock_close(&x->fc);
}

static cJSON *add_svc(fixture *x, const char *extra)
{
	char buf[1024];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"web\",\"labels\":{\"team\":\"a\"}},"
		 "\"spec\":{\"selector\":{\"app\":\"web\"},\"clusterIP\":\"10.96.0.10\","
		 "\"ports\":[{\"name\":\"http\",\"port\":80,\"protocol\":\"TCP\",\"targetPort\":8080},"
		 "{\"name\":\"metrics\",\"port\":9090,\"protocol\":\"TCP\",\"targetPort\":\"metrics\"}]"
		 "%s}}",
		 extra ? extra : "");
	return cm_fake_add(&x->f, "services", fx_json(buf));
}

/* ip NULL: no IP yet. named: the container has a "metrics" port 9100. */
static cJSON *add_pod(fixture *x, const char *name, const char *ip, bool ready, bool named,
		      const char *extra_spec)
{
	char buf[1024];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"%s\",\"labels\":{\"app\":\"web\"}},"
		 "\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"c\"%s}]%s},"
		 "\"status\":{\"phase\":\"Running\"%s%s%s,\"conditions\":[{\"type\":\"Ready\","
		 "\"status\":\"%s\"}]}}",
		 name,
		 named ? ",\"ports\":[{\"name\":\"metrics\",\"containerPort\":9100}]" : "",
		 extra_spec ? extra_spec : "", ip ? ",\"podIP\":\"" : "", ip ? ip : "",
		 ip ? "\"" : "", ready ? "True" : "False");
	return cm_fake_add(&x->f, "pods", fx_json(buf));
}

static const cJSON *endpoint_of(const cJSON *slice, const char *pod)
{
	const cJSON *ep;
	cJSON_ArrayForEach(ep, kc_json_get(slice, "endpoints"))
	{
		if (!strcmp(kc_json_get_string(ep, "targetRef.name", ""), pod))
			return ep;
	}
	return NULL;
}

START_TEST(slice_from_selected_pods)
{
	fixture x;
	fx_init(&x);
	cJSON *svc = add_svc(&x, NULL);
	add_pod(&x, "p1", "10.0.0.1", true, true, NULL);
	add_pod(&x, "p2", "10.0.0.2", false, true, NULL);
	add_pod(&x, "p3", NULL, true, true, NULL); /* no IP yet */
	cJSON *done = add_pod(&x, "p4", "10.0.0.4", false, true, ",\"restartPolicy\":\"Never\"");
	kc_json_set_string(done, "status.phase", "Succeeded");
	cJSON *term = add_pod(&x, "p5", "10.0.0.5", true, true, NULL);
	kc_meta_set_deletion_time(term, INT64_C(1700000000) * KC_NSEC_PER_SEC);
	cJSON *other = add_pod(&x, "p6", "10.0.0.6", true, true, NULL);
	kc_meta_set_label(other, "app", "db");

	ck_assert_int_eq(eps_sync(&x.ec, "default/web"), 0);
	ck_assert_int_eq(cm_fake_len(&x.f, "endpointslices"), 1);
	const cJSON *s = cJSON_GetArrayItem(cJSON_GetObjectItem(x.f.store, "endpointslices"), 0);
	ck_assert_str_eq(kc_meta_generate_name(s), "web-");
	ck_assert(!strncmp(kc_meta_name(s), "web-", 4));
	ck_assert_str_eq(kc_meta_label(s, "kubernetes.io/service-name"), "web");
	ck_assert_str_eq(kc_meta_label(s, "endpointslice.kubernetes.io/managed-by"),
			 "endpointslice-controller.k8s.io");
	ck_assert_str_eq(kc_meta_label(s, "team"), "a");
	ck_assert_str_eq(kc_json_get_string(s, "addressType", ""), "IPv4");
	const cJSON *ref = kc_meta_controller_ref(s);
	ck_assert_str_eq(kc_json_get_string(ref, "kind", ""), "Service");
	ck_assert_str_eq(kc_json_get_string(ref, "uid", ""), kc_meta_uid(svc));
	ck_assert_int_eq(cJSON_GetArraySize(kc_json_get(s, "endpoints")), 3);
	/* ports resolved per pod: numeric targetPort, named container port */
	ck_assert_str_eq(kc_json_get_string(s, "ports.0.name", ""), "http");
	ck_assert_int_eq(cm_int(s, "ports.0.port", 0), 8080);
	ck_assert_str_eq(kc_json_get_string(s, "ports.1.name", ""), "metrics");
	ck_assert_int_eq(cm_int(s, "ports.1.port", 0), 9100);
	const cJSON *e1 = endpoint_of(s, "p1"), *e2 = endpoint_of(s, "p2"),
		    *e5 = endpoint_of(s, "p5");
	ck_assert_ptr_nonnull(e1);
	ck_assert_str_eq(kc_json_get_string(e1, "addresses.0", ""), "10.0.0.1");
	ck_assert_str_eq(kc_json_get_string(e1, "nodeName", ""), "n1");
	ck_assert_str_eq(kc_json_get_string(e1, "targetRef.kind", ""), "Pod");
	ck_assert(kc_json_get_bool(e1, "conditions.ready", false));
	ck_assert(kc_json_get_bool(e1, "conditions.serving", false));
	ck_assert(!kc_json_get_bool(e1, "conditions.terminating", true));
	ck_assert(!kc_json_get_bool(e2, "conditions.ready", true));
	ck_assert(!kc_json_get_bool(e2, "conditions.serving", true));
	/* terminating: serving but never ready */
	ck_assert(!kc_json_get_bool(e5, "conditions.ready", true));
	ck_assert(kc_json_get_bool(e5, "conditions.serving", false));
	ck_assert(kc_json_get_bool(e5, "conditions.terminating", false));
	ck_assert_ptr_null(endpoint_of(s, "p3"));
	ck_assert_ptr_null(endpoint_of(s, "p4"));
	ck_assert_ptr_null(endpoint_of(s, "p6"));
	/* a resync with nothing changed writes nothing */
	cm_fake_clear(&x.f);
	ck_assert_int_eq(eps_sync(&x.ec, "default/web"), 0);
	ck_assert_int_eq(cJSON_GetArraySize(x.f.actions), 0);
	/* a pod turning ready updates the slice in place */
	kc_json_set_string(cJSON_GetArrayItem(kc_json_get(cm_fake_find(&x.f, "pods", "default",
								     "p2"),
							  "status.conditions"),
					      0),
			   "status", "True");
	ck_assert_int_eq(eps_sync(&x.ec, "default/web"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "update endpointslices"), 1);
	ck_assert_int_eq(cm_fake_count(&x.f, "create"), 0);
	s = cJSON_GetArrayItem(cJSON_GetObjectItem(x.f.store, "endpointslices"), 0);
	ck_assert(kc_json_get_bool(endpoint_of(s, "p2"), "conditions.ready", false));
	fx_close(&x);
}
END_TEST

START_TEST(port_groups_and_max_per_slice)
{
	fixture x;
	fx_init(&x);
	add_svc(&x, NULL);
	x.ec.max_endpoints = 100;
	char name[32], ip[32];
	for (int i = 0; i < 250; i++) {
		snprintf(name, sizeof(name), "p%03d", i);
		snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 200, i % 200 + 1);
		add_pod(&x, name, ip, true, true, NULL);
	}
	/* one pod without the named port: its own port set, its own slice */
	add_pod(&x, "odd", "10.1.0.1", true, false, NULL);
	ck_assert_int_eq(eps_sync(&x.ec, "default/web"), 0);
	ck_assert_int_eq(cm_fake_len(&x.f, "endpointslices"), 4);
	int sizes[4], n = 0, odd = 0;
	const cJSON *s;
	cJSON_ArrayForEach(s, cJSON_GetObjectItem(x.f.store, "endpointslices"))
	{
		sizes[n++] = cJSON_GetArraySize(kc_json_get(s, "endpoints"));
		if (endpoint_of(s, "odd")) {
			odd++;
			ck_assert_int_eq(cJSON_GetArraySize(kc_json_get(s, "ports")), 1);
		}
		ck_assert_int_le(sizes[n - 1], 100);
	}
	ck_assert_int_eq(odd, 1);
	ck_assert_int_eq(sizes[0] + sizes[1] + sizes[2] + sizes[3], 251);
	fx_close(&x);
}
END_TEST

START_TEST(placeholder_selectorless_and_deleted_services)
{
	fixture x;
	fx_init(&x);
	add_svc(&x, NULL);
	ck_assert_int_eq(eps_sync(&x.ec, "default/web"), 0);
	ck_assert_int_eq(cm_fake_len(&x.f, "endpointslices"), 1);
	const cJSON *s = cJSON_GetArrayItem(cJSON_GetObjectItem(x.f.store, "endpointslices"), 0);
	ck_assert_int_eq(cJSON_GetArraySize(kc_json_get(s, "endpoints")), 0);
	/* the placeholder gives way to a real slice once a pod appears */
	add_pod(&x, "p1", "10.0.0.1", true, true, NULL);
	ck_assert_int_eq(eps_sync(&x.ec, "default/web"), 0);
	ck_assert_int_eq(cm_fake_len(&x.f, "endpointslices"), 1);
	s = cJSON_GetArrayItem(cJSON_GetObjectItem(x.f.store, "endpointslices"), 0);
	ck_assert_ptr_nonnull(endpoint_of(s, "p1"));
	/* the Service goes: its slices go (no garbage collector yet) */
	ck_assert_int_eq(x.f.api.del(&x.f.api, "services", "default", "web", NULL), 0);
	ck_assert_int_eq(eps_sync(&x.ec, "default/web"), 0);
	ck_assert_int_eq(cm_fake_len(&x.f, "endpointslices"), 0);
	/* a Service without selector (like `kubernetes`) gets nothing */
	cm_fake_add(&x.f, "services",
		    fx_json("{\"metadata\":{\"name\":\"kubernetes\"},\"spec\":{\"ports\":[{\"port\":"
			  "443}]}}"));
	ck_assert_int_eq(eps_sync(&x.ec, "default/kubernetes"), 0);
	ck_assert_int_eq(cm_fake_len(&x.f, "endpointslices"), 0);
	fx_close(&x);
}
END_TEST

START_TEST(publish_not_ready_and_hostname)
{
	fixture x;
	fx_init(&x);
	add_svc(&x, ",\"publishNotReadyAddresses\":true,\"clusterIP\":\"None\"");
	add_pod(&x, "p1", "10.0.0.1", false, true,
		",\"hostname\":\"db-0\",\"subdomain\":\"web\"");
	ck_assert_int_eq(eps_sync(&x.ec, "default/web"), 0);
	const cJSON *s = cJSON_GetArrayItem(cJSON_GetObjectItem(x.f.store, "endpointslices"), 0);
	const cJSON *e = endpoint_of(s, "p1");
	ck_assert(kc_json_get_bool(e, "conditions.ready", false));
	ck_assert(!kc_json_get_bool(e, "conditions.serving", true));
	ck_assert_str_eq(kc_json_get_string(e, "hostname", ""), "db-0");
	ck_assert_str_eq(kc_meta_label(s, "service.kubernetes.io/headless"), "");
	fx_close(&x);
}
END_TEST

/* The informer catches up: parked writes become visible and their add events reach
 * the handlers (ctrl may be NULL: nothing queued). */
static void catch_up(fixture *x)
{
	cJSON *created = cm_fake_flush(&x->f), *o;
	cJSON_ArrayForEach(o, created)
	{
		if (kc_meta_label(o, "kubernetes.io/service-name"))
			eps_on_slice(o, &x->ec);
	}
	cJSON_Delete(created);
}

/* issue #7 follow-up: a second sync of a new Service before the slice cache shows
 * the first placeholder must not create a second one (upstream endpointSliceTracker). */
START_TEST(one_placeholder_when_cache_lags)
{
	fixture x;
	fx_init(&x);
	x.f.writes_visible = false;
	add_svc(&x, NULL);
	ck_assert_int_eq(eps_sync(&x.ec, "default/web"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "create endpointslices"), 1);
	/* the Service is synced again (an update, a pod event) with the cache behind:
	 * refused for a retry, nothing written */
	int rc1 = eps_sync(&x.ec, "default/web");
	int rc2 = eps_sync(&x.ec, "default/web");
	ck_assert_int_eq(cm_fake_count(&x.f, "create endpointslices"), 1);
	ck_assert_int_lt(rc1, 0);
	ck_assert_int_lt(rc2, 0);
	ck_assert_int_eq(cJSON_GetArraySize(x.f.actions), 1);
	ck_assert_uint_eq(x.ec.stale_syncs, 2);
	catch_up(&x);
	/* the retry finds the one placeholder and leaves it */
	ck_assert_int_eq(eps_sync(&x.ec, "default/web"), 0);
	ck_assert_int_eq(cJSON_GetArraySize(x.f.actions), 1);
	ck_assert_int_eq(cm_fake_len(&x.f, "endpointslices"), 1);
	fx_close(&x);
}
END_TEST

/* The same race for data slices: two syncs must not create the same slice twice. */
START_TEST(one_data_slice_when_cache_lags)
{
	fixture x;
	fx_init(&x);
	x.f.writes_visible = false;
	add_svc(&x, NULL);
	add_pod(&x, "p1", "10.0.0.1", true, true, NULL);
	add_pod(&x, "p2", "10.0.0.2", true, true, NULL);
	add_pod(&x, "odd", "10.1.0.1", true, false, NULL); /* a second port set */
	ck_assert_int_eq(eps_sync(&x.ec, "default/web"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "create endpointslices"), 2);
	int rc = eps_sync(&x.ec, "default/web");
	ck_assert_int_eq(cm_fake_count(&x.f, "create endpointslices"), 2);
	ck_assert_int_lt(rc, 0);
	catch_up(&x);
	ck_assert_int_eq(eps_sync(&x.ec, "default/web"), 0);
	ck_assert_int_eq(cJSON_GetArraySize(x.f.actions), 2);
	ck_assert_int_eq(cm_fake_len(&x.f, "endpointslices"), 2);
	int eps = 0;
	const cJSON *s;
	cJSON_ArrayForEach(s, cJSON_GetObjectItem(x.f.store, "endpointslices"))
		eps += cJSON_GetArraySize(kc_json_get(s, "endpoints"));
	ck_assert_int_eq(eps, 3);
	fx_close(&x);
}
END_TEST

/* An update the cache does not show yet is not redone, and a slice the controller
 * deleted but the cache still shows is not deleted again: the sync waits. */
START_TEST(stale_update_and_delete_wait_for_cache)
{
	fixture x;
	fx_init(&x);
	add_svc(&x, NULL);
	add_pod(&x, "p1", "10.0.0.1", true, true, NULL);
	add_pod(&x, "p2", "10.0.0.2", false, true, NULL);
	ck_assert_int_eq(eps_sync(&x.ec, "default/web"), 0);
	cJSON *arr = cJSON_GetObjectItem(x.f.store, "endpointslices");
	cJSON *before = kc_json_dup(cJSON_GetArrayItem(arr, 0));
	kc_json_set_string(cJSON_GetArrayItem(kc_json_get(cm_fake_find(&x.f, "pods", "default",
								     "p2"),
							  "status.conditions"),
					      0),
			   "status", "True");
	cm_fake_clear(&x.f);
	ck_assert_int_eq(eps_sync(&x.ec, "default/web"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "update endpointslices"), 1);
	/* the cache still holds the slice as it was before that update */
	cJSON *after = kc_json_dup(cJSON_GetArrayItem(arr, 0));
	cJSON_ReplaceItemInArray(arr, 0, before);
	ck_assert_int_lt(eps_sync(&x.ec, "default/web"), 0);
	ck_assert_int_eq(cJSON_GetArraySize(x.f.actions), 1);
	cJSON_ReplaceItemInArray(arr, 0, after);
	ck_assert_int_eq(eps_sync(&x.ec, "default/web"), 0);
	ck_assert_int_eq(cJSON_GetArraySize(x.f.actions), 1);

	/* a pod with other ports gets its own slice; when it goes, so does the slice */
	add_pod(&x, "odd", "10.1.0.1", true, false, NULL);
	ck_assert_int_eq(eps_sync(&x.ec, "default/web"), 0);
	ck_assert_int_eq(cm_fake_len(&x.f, "endpointslices"), 2);
	cJSON *odd_slice = NULL;
	cJSON *s;
	cJSON_ArrayForEach(s, arr)
	{
		if (endpoint_of(s, "odd"))
			odd_slice = kc_json_dup(s);
	}
	ck_assert_ptr_nonnull(odd_slice);
	ck_assert_int_eq(x.f.api.del(&x.f.api, "pods", "default", "odd", NULL), 0);
	cm_fake_clear(&x.f);
	ck_assert_int_eq(eps_sync(&x.ec, "default/web"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "delete endpointslices"), 1);
	/* the delete event has not arrived: the cache still shows the slice */
	cJSON_AddItemToArray(arr, kc_json_dup(odd_slice));
	ck_assert_int_lt(eps_sync(&x.ec, "default/web"), 0);
	ck_assert_int_eq(cJSON_GetArraySize(x.f.actions), 1);
	/* it arrives: the slice leaves the cache, the handler expected it */
	cJSON_DeleteItemFromArray(arr, cJSON_GetArraySize(arr) - 1);
	eps_on_slice_delete(odd_slice, 0, &x.ec);
	ck_assert_int_eq(eps_sync(&x.ec, "default/web"), 0);
	ck_assert_int_eq(cJSON_GetArraySize(x.f.actions), 1);
	ck_assert_int_eq(cm_fake_len(&x.f, "endpointslices"), 1);
	cJSON_Delete(odd_slice);
	fx_close(&x);
}
END_TEST

/* Upstream reuses existing slices before creating: the placeholder becomes the first
 * data slice (same name, no delete + create), and back. A slice of ours owned by an
 * earlier Service of the same name is replaced, not adopted. */
START_TEST(placeholder_reused_in_place)
{
	fixture x;
	fx_init(&x);
	cJSON *svc = add_svc(&x, NULL);
	ck_assert_int_eq(eps_sync(&x.ec, "default/web"), 0);
	cJSON *arr = cJSON_GetObjectItem(x.f.store, "endpointslices");
	char name[128];
	snprintf(name, sizeof(name), "%s", kc_meta_name(cJSON_GetArrayItem(arr, 0)));
	add_pod(&x, "p1", "10.0.0.1", true, true, NULL);
	cm_fake_clear(&x.f);
	ck_assert_int_eq(eps_sync(&x.ec, "default/web"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "update endpointslices"), 1);
	ck_assert_int_eq(cJSON_GetArraySize(x.f.actions), 1);
	ck_assert_int_eq(cm_fake_len(&x.f, "endpointslices"), 1);
	ck_assert_str_eq(kc_meta_name(cJSON_GetArrayItem(arr, 0)), name);
	ck_assert_ptr_nonnull(endpoint_of(cJSON_GetArrayItem(arr, 0), "p1"));
	/* the pod goes: the slice is emptied in place into the placeholder */
	ck_assert_int_eq(x.f.api.del(&x.f.api, "pods", "default", "p1", NULL), 0);
	cm_fake_clear(&x.f);
	ck_assert_int_eq(eps_sync(&x.ec, "default/web"), 0);
	ck_assert_int_eq(cJSON_GetArraySize(x.f.actions), 1);
	ck_assert_str_eq(kc_meta_name(cJSON_GetArrayItem(arr, 0)), name);
	ck_assert_int_eq(cJSON_GetArraySize(kc_json_get(cJSON_GetArrayItem(arr, 0), "endpoints")), 0);
	/* the Service is recreated (new uid) while its old slice is still there */
	kc_meta_set_uid(svc, "0000-new-uid");
	cm_fake_clear(&x.f);
	ck_assert_int_eq(eps_sync(&x.ec, "default/web"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "create endpointslices"), 1);
	ck_assert_int_eq(cm_fake_count(&x.f, "delete endpointslices"), 1);
	ck_assert_int_eq(cm_fake_len(&x.f, "endpointslices"), 1);
	ck_assert_str_eq(kc_json_get_string(kc_meta_controller_ref(cJSON_GetArrayItem(arr, 0)), "uid",
					    ""),
			 "0000-new-uid");
	fx_close(&x);
}
END_TEST

/* A slice the controller created but the cache never shows (deleted by someone while
 * the watch was relisting: no delete event) holds the Service back only until the
 * tracker's expiry, not forever. */
START_TEST(lost_write_expires)
{
	fixture x;
	fx_init(&x);
	x.ec.tracker.clock = &x.fc.base;
	x.f.writes_visible = false;
	add_svc(&x, NULL);
	ck_assert_int_eq(eps_sync(&x.ec, "default/web"), 0);
	cJSON_Delete(cJSON_DetachItemFromObject(x.f.pending, "endpointslices")); /* lost */
	ck_assert_int_lt(eps_sync(&x.ec, "default/web"), 0);
	kc_fake_clock_advance(&x.fc, EST_TTL_NS - KC_NSEC_PER_SEC);
	ck_assert_int_lt(eps_sync(&x.ec, "default/web"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "create endpointslices"), 1);
	kc_fake_clock_advance(&x.fc, 2 * KC_NSEC_PER_SEC);
	ck_assert_int_eq(eps_sync(&x.ec, "default/web"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "create endpointslices"), 2);
	catch_up(&x);
	ck_assert_int_eq(cm_fake_len(&x.f, "endpointslices"), 1);
	fx_close(&x);
}
END_TEST

static int noop_sync(void *arg, const char *key)
{
	(void)arg;
	(void)key;
	return 0;
}

/* Slice events from the controller's own writes do not requeue the Service; a change
 * or deletion by someone else does (so the slice is repaired). */
START_TEST(slice_events_requeue_only_news)
{
	fixture x;
	fx_init(&x);
	cm_controller_opts o = { .name = "endpointslice", .clock = &x.fc.base, .sync = noop_sync };
	ck_assert_int_eq(cm_controller_new(&o, &x.ec.ctrl), 0);
	add_svc(&x, NULL);
	add_pod(&x, "p1", "10.0.0.1", true, true, NULL);
	ck_assert_int_eq(eps_sync(&x.ec, "default/web"), 0);
	cJSON *s = cJSON_GetArrayItem(cJSON_GetObjectItem(x.f.store, "endpointslices"), 0);
	eps_on_slice(s, &x.ec); /* our create's add event */
	ck_assert_uint_eq(cm_controller_len(x.ec.ctrl), 0);
	/* someone edits the slice: a newer version */
	cJSON *old = kc_json_dup(s);
	cJSON *upd = kc_json_dup(s);
	cJSON_DeleteItemFromObjectCaseSensitive(upd, "endpoints");
	cJSON_AddItemToObject(upd, "endpoints", cJSON_CreateArray());
	ck_assert_int_eq(x.f.api.update(&x.f.api, "endpointslices", "default", kc_meta_name(old),
					NULL, upd, NULL),
			 0);
	cJSON_Delete(upd);
	eps_on_slice_update(old, s, &x.ec);
	ck_assert_uint_eq(cm_controller_len(x.ec.ctrl), 1);
	ck_assert_int_eq(cm_controller_process_one(x.ec.ctrl), 1);
	/* the sync repairs it; the repair's own update event is not news */
	ck_assert_int_eq(eps_sync(&x.ec, "default/web"), 0);
	ck_assert_ptr_nonnull(endpoint_of(s, "p1"));
	cJSON_Delete(old);
	old = kc_json_dup(s);
	eps_on_slice_update(old, s, &x.ec);
	ck_assert_uint_eq(cm_controller_len(x.ec.ctrl), 0);
	/* someone deletes it: requeued */
	eps_on_slice_delete(old, 0, &x.ec);
	ck_assert_uint_eq(cm_controller_len(x.ec.ctrl), 1);
	cJSON_Delete(old);
	/* a slice managed by someone else is none of our business */
	cJSON *foreign = fx_json("{\"metadata\":{\"name\":\"x\",\"namespace\":\"default\",\"uid\":\"u\","
				 "\"labels\":{\"kubernetes.io/service-name\":\"other\","
				 "\"endpointslice.kubernetes.io/managed-by\":\"someone\"}}}");
	eps_on_slice(foreign, &x.ec);
	eps_on_slice_delete(foreign, 0, &x.ec);
	ck_assert_uint_eq(cm_controller_len(x.ec.ctrl), 1);
	cJSON_Delete(foreign);
	cm_controller_free(x.ec.ctrl);
	x.ec.ctrl = NULL;
	fx_close(&x);
}
END_TEST

/* The Endpoints controller has the same race but cannot duplicate: its object is named
 * after the Service, so a second create is refused (AlreadyExists) and retried. */
START_TEST(endpoints_no_duplicate_when_cache_lags)
{
	fixture x;
	fx_init(&x);
	ep_controller ep;
	ck_assert_int_eq(ep_controller_init(&ep, &x.f.lister, &x.f.api), 0);
	x.f.writes_visible = false;
	add_svc(&x, NULL);
	ck_assert_int_eq(ep_sync(&ep, "default/web"), 0);
	ck_assert_int_lt(ep_sync(&ep, "default/web"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "create endpoints"), 1);
	cJSON_Delete(cm_fake_flush(&x.f));
	ck_assert_int_eq(ep_sync(&ep, "default/web"), 0);
	ck_assert_int_eq(cJSON_GetArraySize(x.f.actions), 1);
	ck_assert_int_eq(cm_fake_len(&x.f, "endpoints"), 1);
	fx_close(&x);
}
END_TEST

static Suite *cm_endpointslice_suite(void)
{
	Suite *s = suite_create("cm_endpointslice");
	TCase *tc = tcase_create("sync");
	tcase_add_test(tc, slice_from_selected_pods);
	tcase_add_test(tc, port_groups_and_max_per_slice);
	tcase_add_test(tc, placeholder_selectorless_and_deleted_services);
	tcase_add_test(tc, publish_not_ready_and_hostname);
	tcase_add_test(tc, one_placeholder_when_cache_lags);
	tcase_add_test(tc, one_data_slice_when_cache_lags);
	tcase_add_test(tc, stale_update_and_delete_wait_for_cache);
	tcase_add_test(tc, placeholder_reused_in_place);
	tcase_add_test(tc, lost_write_expires);
	tcase_add_test(tc, slice_events_requeue_only_news);
	tcase_add_test(tc, endpoints_no_duplicate_when_cache_lags);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(cm_endpointslice_suite)
