/* Endpoints controller sync against the fake lister and recording API. */
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "fixtures.h"
#include "json.h"
#include "kc_test.h"
#include "meta.h"

#include "../../controller-manager/endpoints.h"
#include "../../controller-manager/fake.h"

typedef struct fixture {
	kc_fake_clock fc;
	cm_fake f;
	ep_controller ec;
} fixture;

static void fx_init(fixture *x)
{
	kc_fake_clock_init(&x->fc, INT64_C(1700000000) * KC_NSEC_PER_SEC, 3);
	ck_assert_int_eq(cm_fake_init(&x->f, &x->fc.base), 0);
	ck_assert_int_eq(ep_controller_init(&x->ec, &x->f.lister, &x->f.api), 0);
}

static void fx_close(fixture *x)
{
	cm_fake_close(&x->f);
	kc_fake_clock_close(&x->fc);
}

static cJSON *add_svc(fixture *x, const char *name, const char *spec)
{
	char buf[1024];
	snprintf(buf, sizeof(buf), "{\"metadata\":{\"name\":\"%s\",\"labels\":{\"team\":\"a\"}},"
				   "\"spec\":%s}",
		 name, spec);
	return cm_fake_add(&x->f, "services", fx_json(buf));
}

#define WEB_SPEC                                                                          \
	"{\"selector\":{\"app\":\"web\"},\"clusterIP\":\"10.96.0.10\",\"ports\":["     \
	"{\"name\":\"http\",\"port\":80,\"protocol\":\"TCP\",\"targetPort\":8080},"       \
	"{\"name\":\"metrics\",\"port\":9090,\"protocol\":\"TCP\",\"targetPort\":\"metrics\"}]}"

static cJSON *add_pod(fixture *x, const char *name, const char *ip, bool ready, bool named,
		      const char *extra_spec)
{
	char buf[1024];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"%s\",\"labels\":{\"app\":\"web\"}},"
		 "\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"c\"%s}]%s},"
		 "\"status\":{\"phase\":\"Running\"%s%s%s,\"conditions\":[{\"type\":\"Ready\","
		 "\"status\":\"%s\",\"lastTransitionTime\":\"2023-11-14T22:13:20Z\"}]}}",
		 name, named ? ",\"ports\":[{\"name\":\"metrics\",\"containerPort\":9100}]" : "",
		 extra_spec ? extra_spec : "", ip ? ",\"podIP\":\"" : "", ip ? ip : "",
		 ip ? "\"" : "", ready ? "True" : "False");
	return cm_fake_add(&x->f, "pods", fx_json(buf));
}

/* the address (ready or not) of pod in any subset, and which list it is in */
static const cJSON *address_of(const cJSON *ep, const char *pod, bool *ready)
{
	const cJSON *ss, *a;
	cJSON_ArrayForEach(ss, kc_json_get(ep, "subsets"))
	{
		for (int r = 0; r < 2; r++) {
			cJSON_ArrayForEach(a, cJSON_GetObjectItem(ss, r ? "addresses" :
									 "notReadyAddresses"))
			{
				if (!strcmp(kc_json_get_string(a, "targetRef.name", ""), pod)) {
					if (ready)
						*ready = r;
					return a;
				}
			}
		}
	}
	return NULL;
}

START_TEST(ready_and_not_ready_addresses)
{
	fixture x;
	fx_init(&x);
	add_svc(&x, "web", WEB_SPEC);
	add_pod(&x, "p1", "10.0.0.1", true, true, NULL);
	add_pod(&x, "p2", "10.0.0.2", false, true, NULL);
	add_pod(&x, "p3", NULL, true, true, NULL); /* no IP yet */
	cJSON *term = add_pod(&x, "p4", "10.0.0.4", true, true, NULL);
	kc_meta_set_deletion_time(term, INT64_C(1700000000) * KC_NSEC_PER_SEC);
	cJSON *other = add_pod(&x, "p5", "10.0.0.5", true, true, NULL);
	kc_meta_set_label(other, "app", "db");
	add_pod(&x, "p6", "10.0.0.6", true, false, NULL); /* no "metrics" container port */

	ck_assert_int_eq(ep_sync(&x.ec, "default/web"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "create endpoints default/web"), 1);
	const cJSON *ep = cm_fake_find(&x.f, "endpoints", "default", "web");
	ck_assert_ptr_nonnull(ep);
	ck_assert_str_eq(kc_meta_label(ep, "team"), "a");
	ck_assert_ptr_null(kc_meta_label(ep, "service.kubernetes.io/headless"));
	ck_assert_ptr_nonnull(kc_meta_annotation(ep, EP_TRIGGER_TIME_ANNOTATION));
	/* two port groups: p1,p2 resolve both ports; p6 only http */
	ck_assert_int_eq(cJSON_GetArraySize(kc_json_get(ep, "subsets")), 2);
	bool ready = false;
	const cJSON *a1 = address_of(ep, "p1", &ready);
	ck_assert_ptr_nonnull(a1);
	ck_assert(ready);
	ck_assert_str_eq(kc_json_get_string(a1, "ip", ""), "10.0.0.1");
	ck_assert_str_eq(kc_json_get_string(a1, "nodeName", ""), "n1");
	ck_assert_str_eq(kc_json_get_string(a1, "targetRef.kind", ""), "Pod");
	ck_assert_ptr_nonnull(address_of(ep, "p2", &ready));
	ck_assert(!ready);
	ck_assert_ptr_null(address_of(ep, "p3", NULL));
	ck_assert_ptr_null(address_of(ep, "p4", NULL)); /* terminating */
	ck_assert_ptr_null(address_of(ep, "p5", NULL)); /* not selected */
	ck_assert_ptr_nonnull(address_of(ep, "p6", &ready));
	/* the subset of p1 has both ports, the named one resolved to the container port */
	const cJSON *ss;
	bool seen_two = false, seen_one = false;
	cJSON_ArrayForEach(ss, kc_json_get(ep, "subsets"))
	{
		int np = cJSON_GetArraySize(cJSON_GetObjectItem(ss, "ports"));
		if (np == 2) {
			seen_two = true;
			ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(ss, "addresses")), 1);
			ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(ss,
										"notReadyAddresses")),
					 1);
			const cJSON *p;
			cJSON_ArrayForEach(p, cJSON_GetObjectItem(ss, "ports"))
			{
				if (!strcmp(kc_json_get_string(p, "name", ""), "metrics"))
					ck_assert_int_eq(cm_int(p, "port", 0), 9100);
				else
					ck_assert_int_eq(cm_int(p, "port", 0), 8080);
			}
		} else {
			seen_one = np == 1;
			ck_assert_int_eq(cm_int(ss, "ports.0.port", 0), 8080);
		}
	}
	ck_assert(seen_two && seen_one);

	/* nothing changed: no write */
	cm_fake_clear(&x.f);
	ck_assert_int_eq(ep_sync(&x.ec, "default/web"), 0);
	ck_assert_int_eq(cJSON_GetArraySize(x.f.actions), 0);

	/* p2 turns ready: one update moving it to addresses */
	kc_json_set_string(cJSON_GetArrayItem(kc_json_get(cm_fake_find(&x.f, "pods", "default",
								     "p2"),
							  "status.conditions"),
					      0),
			   "status", "True");
	ck_assert_int_eq(ep_sync(&x.ec, "default/web"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "update endpoints default/web"), 1);
	ep = cm_fake_find(&x.f, "endpoints", "default", "web");
	ck_assert_ptr_nonnull(address_of(ep, "p2", &ready));
	ck_assert(ready);
	fx_close(&x);
}
END_TEST

START_TEST(publish_not_ready_and_headless)
{
	fixture x;
	fx_init(&x);
	add_svc(&x, "db",
		"{\"selector\":{\"app\":\"web\"},\"clusterIP\":\"None\","
		"\"publishNotReadyAddresses\":true}");
	add_pod(&x, "p1", "10.0.0.1", false, false, ",\"hostname\":\"db-0\",\"subdomain\":\"db\"");
	cJSON *term = add_pod(&x, "p2", "10.0.0.2", true, false, NULL);
	kc_meta_set_deletion_time(term, INT64_C(1700000000) * KC_NSEC_PER_SEC);
	ck_assert_int_eq(ep_sync(&x.ec, "default/db"), 0);
	const cJSON *ep = cm_fake_find(&x.f, "endpoints", "default", "db");
	ck_assert_ptr_nonnull(ep);
	ck_assert_str_eq(kc_meta_label(ep, "service.kubernetes.io/headless"), "");
	bool ready = false;
	const cJSON *a = address_of(ep, "p1", &ready);
	ck_assert_ptr_nonnull(a);
	ck_assert(ready); /* published although not ready */
	ck_assert_str_eq(kc_json_get_string(a, "hostname", ""), "db-0");
	/* publishNotReadyAddresses includes terminating pods too */
	ck_assert_ptr_nonnull(address_of(ep, "p2", NULL));
	/* headless without ports: a subset without ports */
	ck_assert_ptr_null(kc_json_get(ep, "subsets.0.ports"));
	fx_close(&x);
}
END_TEST

START_TEST(selectorless_kubernetes_and_deleted_service)
{
	fixture x;
	fx_init(&x);
	/* the apiserver's kubernetes Service: no selector, its Endpoints are left alone */
	add_svc(&x, "kubernetes", "{\"clusterIP\":\"10.96.0.1\",\"ports\":[{\"port\":443}]}");
	cm_fake_add(&x.f, "endpoints",
		    fx_json("{\"metadata\":{\"name\":\"kubernetes\"},\"subsets\":[{\"addresses\":"
			    "[{\"ip\":\"192.168.0.1\"}],\"ports\":[{\"name\":\"https\","
			    "\"port\":6443}]}]}"));
	add_pod(&x, "p1", "10.0.0.1", true, false, NULL);
	ck_assert_int_eq(ep_sync(&x.ec, "default/kubernetes"), 0);
	ck_assert_int_eq(cJSON_GetArraySize(x.f.actions), 0);
	/* a Service selecting nothing still gets an (empty) Endpoints object */
	add_svc(&x, "none", "{\"selector\":{\"app\":\"nothing\"},\"ports\":[{\"port\":80}]}");
	ck_assert_int_eq(ep_sync(&x.ec, "default/none"), 0);
	const cJSON *ep = cm_fake_find(&x.f, "endpoints", "default", "none");
	ck_assert_ptr_nonnull(ep);
	ck_assert_int_eq(cJSON_GetArraySize(kc_json_get(ep, "subsets")), 0);
	/* the Service goes: its Endpoints go */
	cJSON *svcs = cJSON_GetObjectItem(x.f.store, "services");
	cJSON_DeleteItemFromArray(svcs, 1);
	ck_assert_ptr_null(cm_fake_find(&x.f, "services", "default", "none"));
	ck_assert_int_eq(ep_sync(&x.ec, "default/none"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "delete endpoints default/none"), 1);
	ck_assert_ptr_null(cm_fake_find(&x.f, "endpoints", "default", "none"));
	/* the kubernetes Endpoints were never touched */
	ck_assert_int_eq(cm_fake_count(&x.f, "update endpoints default/kubernetes"), 0);
	fx_close(&x);
}
END_TEST

static Suite *cm_endpoints_suite(void)
{
	Suite *s = suite_create("cm_endpoints");
	TCase *tc = tcase_create("sync");
	tcase_add_test(tc, ready_and_not_ready_addresses);
	tcase_add_test(tc, publish_not_ready_and_headless);
	tcase_add_test(tc, selectorless_kubernetes_and_deleted_service);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(cm_endpoints_suite)
