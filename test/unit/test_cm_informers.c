/* The controller-manager's shared informers and production lister (informers.c) against
 * a fake apiserver (testsrv): the transform is applied to what is cached, `with` hands
 * out the named object, and `list_controlled` returns exactly the objects controlled by
 * the given uids (plus orphans) of one namespace. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "errors.h"
#include "json.h"
#include "kc_test.h"
#include "kubeconfig.h"
#include "labels.h"
#include "meta.h"
#include "testsrv.h"

#include "../../controller-manager/controller.h"

/* pods: a, b controlled by rs1 in ns1; c orphan in ns1; d controlled by rs1 in ns2 (a
 * uid cannot really span namespaces: the namespace filter must still hold); e by rs2 */
static const char *const PODS =
	"{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"10\"},\"items\":["
	"{\"metadata\":{\"name\":\"a\",\"namespace\":\"ns1\",\"resourceVersion\":\"1\","
	"\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"rs1\",\"uid\":\"rs1\","
	"\"controller\":true}],\"managedFields\":[{\"manager\":\"x\"}]},"
	"\"spec\":{\"nodeName\":\"n1\",\"schedulerName\":\"default-scheduler\"}},"
	"{\"metadata\":{\"name\":\"b\",\"namespace\":\"ns1\",\"resourceVersion\":\"2\","
	"\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"rs1\",\"uid\":\"rs1\","
	"\"controller\":true}]}},"
	"{\"metadata\":{\"name\":\"c\",\"namespace\":\"ns1\",\"resourceVersion\":\"3\"}},"
	"{\"metadata\":{\"name\":\"d\",\"namespace\":\"ns2\",\"resourceVersion\":\"4\","
	"\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"rs1\",\"uid\":\"rs1\","
	"\"controller\":true}]}},"
	"{\"metadata\":{\"name\":\"e\",\"namespace\":\"ns1\",\"resourceVersion\":\"5\","
	"\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"rs2\",\"uid\":\"rs2\","
	"\"controller\":true}]}}]}";

static void handler(const testsrv_req *req, testsrv_resp *resp, void *arg)
{
	(void)arg;
	const char *w = testsrv_arg(req, "watch");
	if (strcmp(req->path, "/api/v1/pods") != 0) {
		resp->status = 404;
		resp->body = strdup("{\"kind\":\"Status\",\"code\":404}");
	} else if (w && !strcmp(w, "1")) {
		/* a watch that stays open with nothing to say */
		testsrv_stream *st = testsrv_stream_new();
		resp->stream = st;
	} else {
		resp->body = strdup(PODS);
	}
}

static int names_cb(const cJSON *obj, void *arg)
{
	char *buf = arg;
	strcat(buf, kc_meta_name(obj));
	strcat(buf, kc_json_get_string(obj, "spec.nodeName", ""));
	strcat(buf, kc_json_get(obj, "metadata.managedFields") ? "+mf" : "");
	strcat(buf, kc_json_get(obj, "spec.schedulerName") ? "+sched" : "");
	return 0;
}

/* names of the objects of arr, sorted, joined */
static void names(const cJSON *arr, char *buf, size_t len)
{
	const char *v[16];
	int n = 0;
	const cJSON *o;
	cJSON_ArrayForEach(o, arr)
	{
		if (n < 16)
			v[n++] = kc_meta_name(o);
	}
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (strcmp(v[j], v[i]) < 0) {
				const char *t = v[i];
				v[i] = v[j];
				v[j] = t;
			}
	buf[0] = 0;
	for (int i = 0; i < n; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i ? "," : "", v[i]);
}

START_TEST(lister_over_informers)
{
	testsrv *srv = NULL;
	ck_assert_int_eq(testsrv_start(&srv, handler, NULL), 0);
	kc_kubeconfig kc;
	memset(&kc, 0, sizeof(kc));
	ck_assert_int_eq(kc_kubeconfig_from_parts(&kc, testsrv_url(srv), NULL, NULL, NULL, NULL), 0);
	kc_client *client = NULL;
	kc_client_opts co = { .user_agent = "test" };
	ck_assert_int_eq(kc_client_new(&kc, &co, &client), 0);
	kc_kubeconfig_close(&kc);

	cm_informers *f = NULL;
	ck_assert_int_eq(cm_informers_new(client, &f), 0);
	ck_assert_ptr_nonnull(cm_informers_get(f, "pods"));
	ck_assert_int_eq(cm_informers_start(f), 0);
	ck_assert_int_eq(cm_informers_wait_for_sync(f, 10000), 0);
	cm_lister *l = cm_informers_lister(f);

	/* with: borrowed, transformed (no managedFields, unread spec fields gone) */
	char buf[256] = "";
	ck_assert_int_eq(l->with(l, "pods", "ns1", "a", names_cb, buf), 0);
	ck_assert_str_eq(buf, "an1");
	ck_assert_int_eq(l->with(l, "pods", "ns1", "zz", names_cb, buf), KC_ENOTFOUND);
	ck_assert_int_eq(l->with(l, "pods", "ns2", "a", names_cb, buf), KC_ENOTFOUND);
	ck_assert_int_eq(l->with(l, "services", "ns1", "a", names_cb, buf), -ENOENT);

	/* list_controlled: by uid within the namespace, with or without orphans */
	cJSON *out = NULL;
	const char *rs1[] = { "rs1", NULL }, *both[] = { "rs1", "rs2", "rs1", NULL };
	ck_assert_int_eq(l->list_controlled(l, "pods", "ns1", rs1, false, NULL, NULL, &out), 0);
	names(out, buf, sizeof(buf));
	ck_assert_str_eq(buf, "a,b");
	cJSON_Delete(out);
	ck_assert_int_eq(l->list_controlled(l, "pods", "ns1", rs1, true, NULL, NULL, &out), 0);
	names(out, buf, sizeof(buf));
	ck_assert_str_eq(buf, "a,b,c");
	cJSON_Delete(out);
	ck_assert_int_eq(l->list_controlled(l, "pods", "ns1", both, false, NULL, NULL, &out), 0);
	names(out, buf, sizeof(buf));
	ck_assert_str_eq(buf, "a,b,e");
	cJSON_Delete(out);
	ck_assert_int_eq(l->list_controlled(l, "pods", "ns2", rs1, true, NULL, NULL, &out), 0);
	names(out, buf, sizeof(buf));
	ck_assert_str_eq(buf, "d");
	cJSON_Delete(out);
	/* the same answer as the fake's scan, for the claimable filter the syncs use */
	kc_label_selector sel;
	ck_assert_int_eq(kc_selector_parse("app=x", &sel, NULL, 0), 0); /* c does not match */
	cm_claimable cl = { "rs1", &sel };
	ck_assert_int_eq(l->list_controlled(l, "pods", "ns1", rs1, true, cm_keep_claimable, &cl,
					    &out),
			 0);
	names(out, buf, sizeof(buf));
	ck_assert_str_eq(buf, "a,b");
	cJSON_Delete(out);
	kc_selector_close(&sel);
	/* copies handed out are the caller's, with pooled strings intact after free */
	cJSON *a = NULL;
	ck_assert_int_eq(l->get(l, "pods", "ns1", "a", &a), 0);
	ck_assert_ptr_null(kc_json_get(a, "metadata.managedFields"));
	cJSON_Delete(a);

	cm_informers_stop(f);
	cm_informers_free(f);
	kc_client_free(client);
	testsrv_stop(srv);
}
END_TEST

static Suite *cm_informers_suite(void)
{
	Suite *s = suite_create("cm_informers");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, lister_over_informers);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(cm_informers_suite)
