/* root-ca-cert-publisher sync against the fake lister and recording API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errors.h"
#include "json.h"
#include "kc_test.h"
#include "meta.h"

#include "../../controller-manager/fake.h"
#include "../../controller-manager/options.h"
#include "../../controller-manager/rootcacertpublisher.h"

#define T0 (INT64_C(1700000000) * KC_NSEC_PER_SEC)
#define CA "-----BEGIN CERTIFICATE-----\nMIIB...fake\n-----END CERTIFICATE-----\n"

typedef struct fixture {
	kc_fake_clock fc;
	cm_fake f;
	rca_controller rc;
} fixture;

static void fx_init(fixture *x)
{
	kc_fake_clock_init(&x->fc, T0, 7);
	ck_assert_int_eq(cm_fake_init(&x->f, &x->fc.base), 0);
	ck_assert_int_eq(rca_controller_init(&x->rc, &x->f.lister, &x->f.api, CA, strlen(CA)), 0);
}

static void fx_close(fixture *x)
{
	rca_controller_close(&x->rc);
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

static void add_ns(fixture *x, const char *name)
{
	char buf[256];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"%s\"},\"status\":{\"phase\":\"Active\"}}", name);
	ck_assert_ptr_nonnull(cm_fake_add(&x->f, "namespaces", parse(buf)));
}

static const char *ca_of(fixture *x, const char *ns)
{
	cJSON *cm = cm_fake_find(&x->f, "configmaps", ns, RCA_CONFIGMAP_NAME);
	/* not kc_json_get_string: its path would split "ca.crt" at the dot */
	const cJSON *v = cm ? cJSON_GetObjectItemCaseSensitive(kc_json_get(cm, "data"), RCA_KEY)
			    : NULL;
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *description(const cJSON *cm)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(kc_meta_annotations(cm),
							 RCA_DESCRIPTION_ANNOTATION);
	return cJSON_IsString(v) ? v->valuestring : "";
}

/* A namespace without the ConfigMap gets one: data {"ca.crt": CA}, the description. */
START_TEST(creates_configmap)
{
	fixture x;
	fx_init(&x);
	add_ns(&x, "team");
	ck_assert_int_eq(rca_sync(&x.rc, "team"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "create configmaps team/kube-root-ca.crt"), 1);
	ck_assert_str_eq(ca_of(&x, "team"), CA);
	cJSON *cm = cm_fake_find(&x.f, "configmaps", "team", RCA_CONFIGMAP_NAME);
	ck_assert_int_eq(cJSON_GetArraySize(kc_json_get(cm, "data")), 1);
	ck_assert_str_eq(description(cm), RCA_DESCRIPTION);
	/* in sync: a second pass writes nothing */
	cm_fake_clear(&x.f);
	ck_assert_int_eq(rca_sync(&x.rc, "team"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, ""), 0);
	fx_close(&x);
}
END_TEST

/* Edited (ca.crt changed, a key added, the annotation removed): restored by an update
 * that keeps the rest of the object (labels). */
START_TEST(restores_edited_configmap)
{
	fixture x;
	fx_init(&x);
	add_ns(&x, "team");
	cm_fake_add(&x.f, "configmaps",
		    parse("{\"metadata\":{\"name\":\"kube-root-ca.crt\",\"namespace\":\"team\","
			  "\"labels\":{\"keep\":\"me\"}},"
			  "\"data\":{\"ca.crt\":\"tampered\",\"extra\":\"x\"}}"));
	ck_assert_int_eq(rca_sync(&x.rc, "team"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "update configmaps team/kube-root-ca.crt"), 1);
	ck_assert_int_eq(cm_fake_count(&x.f, "create"), 0);
	cJSON *cm = cm_fake_find(&x.f, "configmaps", "team", RCA_CONFIGMAP_NAME);
	ck_assert_str_eq(ca_of(&x, "team"), CA);
	ck_assert_ptr_null(kc_json_get(cm, "data.extra"));
	ck_assert_str_eq(kc_json_get_string(kc_meta_labels(cm), "keep", ""), "me");
	ck_assert_str_eq(description(cm), RCA_DESCRIPTION);

	/* right data but no annotation: updated too, as upstream */
	cJSON *an = kc_json_get(cm, "metadata.annotations");
	cJSON_DeleteItemFromObjectCaseSensitive(an, RCA_DESCRIPTION_ANNOTATION);
	cm_fake_clear(&x.f);
	ck_assert_int_eq(rca_sync(&x.rc, "team"), 0);
	ck_assert_int_eq(cm_fake_count(&x.f, "update configmaps team/kube-root-ca.crt"), 1);
	fx_close(&x);
}
END_TEST

/* Deleted: the delete event queues the namespace, and sync creates it again. */
START_TEST(recreates_deleted_configmap)
{
	fixture x;
	fx_init(&x);
	cm_controller_opts o = { .name = "root_ca_cert_publisher", .sync = rca_sync, .arg = &x.rc };
	ck_assert_int_eq(cm_controller_new(&o, &x.rc.ctrl), 0);
	add_ns(&x, "team");
	ck_assert_int_eq(rca_sync(&x.rc, "team"), 0);
	cJSON *cm = kc_json_dup(cm_fake_find(&x.f, "configmaps", "team", RCA_CONFIGMAP_NAME));
	ck_assert_int_eq(x.f.api.del(&x.f.api, "configmaps", "team", RCA_CONFIGMAP_NAME, NULL), 0);
	ck_assert_ptr_null(ca_of(&x, "team"));
	rca_on_configmap_delete(cm, 0, &x.rc);
	cJSON_Delete(cm);
	ck_assert_int_eq(cm_controller_len(x.rc.ctrl), 1);
	ck_assert_int_eq(cm_controller_process_one(x.rc.ctrl), 1);
	ck_assert_str_eq(ca_of(&x, "team"), CA);
	/* other ConfigMaps' events queue nothing */
	cJSON *other = parse("{\"metadata\":{\"name\":\"app-config\",\"namespace\":\"team\"}}");
	rca_on_configmap_delete(other, 0, &x.rc);
	rca_on_configmap_update(other, other, &x.rc);
	cJSON_Delete(other);
	ck_assert_int_eq(cm_controller_len(x.rc.ctrl), 0);
	cm_controller_free(x.rc.ctrl);
	fx_close(&x);
}
END_TEST

/* Namespaces: added -> queued; updated while Terminating -> not queued. A create the
 * apiserver refuses because the namespace is terminating is not retried. */
START_TEST(namespace_events)
{
	fixture x;
	fx_init(&x);
	cm_controller_opts o = { .name = "root_ca_cert_publisher", .sync = rca_sync, .arg = &x.rc };
	ck_assert_int_eq(cm_controller_new(&o, &x.rc.ctrl), 0);
	cJSON *ns = parse("{\"metadata\":{\"name\":\"a\"},\"status\":{\"phase\":\"Active\"}}");
	cJSON *term = parse("{\"metadata\":{\"name\":\"b\"},\"status\":{\"phase\":\"Terminating\"}}");
	rca_on_namespace_add(ns, &x.rc);
	rca_on_namespace_update(term, term, &x.rc);
	ck_assert_int_eq(cm_controller_len(x.rc.ctrl), 1);
	cJSON_Delete(ns);
	cJSON_Delete(term);
	/* a refusal other than "namespace is being terminated" is returned, to be retried */
	x.f.fail_creates = 1;
	ck_assert_int_eq(rca_sync(&x.rc, "gone"), KC_EFORBIDDEN);
	cm_controller_free(x.rc.ctrl);
	fx_close(&x);
}
END_TEST

/* --root-ca-file: PEM certificates accepted, anything else refused with upstream's
 * message; the controller is listed in --controllers. */
START_TEST(read_ca_file)
{
	char dir[] = "/tmp/test_rca.XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char good[300], bad[300], cmd[1024];
	snprintf(good, sizeof(good), "%s/ca.crt", dir);
	snprintf(bad, sizeof(bad), "%s/bad.crt", dir);
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=t -keyout %s/k "
		 "-out %s >/dev/null 2>&1",
		 dir, good);
	int have_openssl = system(cmd) == 0;
	FILE *fp = fopen(bad, "w");
	ck_assert_ptr_nonnull(fp);
	fputs("not a certificate\n", fp);
	fclose(fp);
	char *pem = NULL, err[512];
	size_t len = 0;
	ck_assert_int_eq(rca_read_ca_file(bad, &pem, &len, err, sizeof(err)), KC_EINVALID);
	ck_assert_ptr_null(pem);
	ck_assert_msg(strstr(err, "error parsing root-ca-file at") != NULL, "%s", err);
	ck_assert_int_lt(rca_read_ca_file("/nonexistent/ca.crt", &pem, &len, err, sizeof(err)), 0);
	if (have_openssl) {
		ck_assert_int_eq(rca_read_ca_file(good, &pem, &len, err, sizeof(err)), 0);
		ck_assert_ptr_nonnull(strstr(pem, "BEGIN CERTIFICATE"));
		ck_assert_uint_eq(strlen(pem), len);
		free(pem);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);

	kc_strlist star = { (char *[]){ "*" }, 1, false };
	kc_strlist off = { (char *[]){ "-root-ca-cert-publisher", "*" }, 2, false };
	ck_assert(cm_controller_enabled(&star, "root-ca-cert-publisher", false));
	ck_assert(!cm_controller_enabled(&off, "root-ca-cert-publisher", false));
	ck_assert(!cm_controller_unimplemented("root-ca-certificate-publisher-controller"));
	ck_assert_int_eq(cm_validate_controllers(&off, err, sizeof(err)), 0);
}
END_TEST

static Suite *cm_rootcacertpublisher_suite(void)
{
	Suite *s = suite_create("cm_rootcacertpublisher");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, creates_configmap);
	tcase_add_test(tc, restores_edited_configmap);
	tcase_add_test(tc, recreates_deleted_configmap);
	tcase_add_test(tc, namespace_events);
	tcase_add_test(tc, read_ca_file);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(cm_rootcacertpublisher_suite)
