/* EndpointSlice controller sync against the fake lister and recording API. */
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "fixtures.h"
#include "kc_test.h"
#include "meta.h"

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

static Suite *cm_endpointslice_suite(void)
{
	Suite *s = suite_create("cm_endpointslice");
	TCase *tc = tcase_create("sync");
	tcase_add_test(tc, slice_from_selected_pods);
	tcase_add_test(tc, port_groups_and_max_per_slice);
	tcase_add_test(tc, placeholder_selectorless_and_deleted_services);
	tcase_add_test(tc, publish_not_ready_and_hostname);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(cm_endpointslice_suite)
