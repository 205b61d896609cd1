/* kubelet/config.c: KubeletConfiguration v1beta1 loading, defaults and validation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../kubelet/config.h"
#include "errors.h"
#include "kc_test.h"

#define SEC 1000000000LL

static const char *threshold(const kubelet_config *c, const char *sig)
{
	for (size_t i = 0; i < c->n_eviction_hard; i++)
		if (!strcmp(c->eviction_hard[i].signal, sig))
			return c->eviction_hard[i].value;
	return NULL;
}

START_TEST(defaults_are_upstreams)
{
	kubelet_config c;
	ck_assert_int_eq(kcfg_init(&c), 0);
	ck_assert_int_eq(c.max_pods, 110);
	ck_assert_int_eq(c.port, 10250);
	ck_assert_int_eq(c.healthz_port, 10248);
	ck_assert_int_eq(c.node_lease_duration_seconds, 40);
	ck_assert(c.node_status_update_frequency_ns == 10 * SEC);
	ck_assert(c.node_status_report_frequency_ns == 300 * SEC);
	ck_assert(c.runtime_request_timeout_ns == 120 * SEC);
	ck_assert_str_eq(c.cgroup_driver, "cgroupfs");
	ck_assert_str_eq(c.container_runtime_endpoint, "unix:///run/containerd/containerd.sock");
	ck_assert_str_eq(c.authorization_mode, "Webhook");
	ck_assert(!c.anonymous_auth && c.webhook_authn && c.serialize_image_pulls && c.register_node);
	ck_assert_uint_eq(c.n_eviction_hard, 5);
	ck_assert_str_eq(threshold(&c, "memory.available"), "100Mi");
	ck_assert_str_eq(threshold(&c, "nodefs.available"), "10%");
	ck_assert_str_eq(threshold(&c, "imagefs.available"), "15%");
	char err[256];
	ck_assert_int_eq(kcfg_validate(&c, err, sizeof(err)), 0);
	kcfg_close(&c);
}
END_TEST

/* Kubernetes the Hard Way's configs/kubelet-config.yaml, plus the fields */
static const char hard_way[] =
	"kind: KubeletConfiguration\n"
	"apiVersion: kubelet.config.k8s.io/v1beta1\n"
	"address: \"0.0.0.0\"\n"
	"authentication:\n"
	"  anonymous:\n"
	"    enabled: false\n"
	"  webhook:\n"
	"    enabled: true\n"
	"  x509:\n"
	"    clientCAFile: \"/var/lib/kubelet/ca.crt\"\n"
	"authorization:\n"
	"  mode: Webhook\n"
	"cgroupDriver: cgroupfs\n"
	"containerRuntimeEndpoint: \"unix:///var/run/containerd/containerd.sock\"\n"
	"enableServer: true\n"
	"failSwapOn: false\n"
	"maxPods: 16\n"
	"memorySwap:\n"
	"  swapBehavior: NoSwap\n"
	"port: 10250\n"
	"resolvConf: \"/etc/resolv.conf\"\n"
	"registerNode: true\n"
	"runtimeRequestTimeout: \"15m\"\n"
	"tlsCertFile: \"/var/lib/kubelet/kubelet.crt\"\n"
	"tlsPrivateKeyFile: \"/var/lib/kubelet/kubelet.key\"\n"
	"clusterDomain: cluster.local\n"
	"clusterDNS:\n"
	"  - 10.32.0.10\n"
	"podCIDR: 10.200.0.0/24\n"
	"staticPodPath: /etc/kubernetes/manifests\n"
	"nodeStatusUpdateFrequency: 20s\n"
	"nodeLeaseDurationSeconds: 60\n"
	"serializeImagePulls: false\n"
	"evictionHard:\n"
	"  memory.available: 200Mi\n"
	"  nodefs.available: 5%\n";

START_TEST(hard_way_config_parses)
{
	kubelet_config c;
	char err[256];
	ck_assert_int_eq(kcfg_init(&c), 0);
	ck_assert_int_eq(kcfg_parse(&c, hard_way, strlen(hard_way), err, sizeof(err)), 0);
	ck_assert_int_eq(c.max_pods, 16);
	ck_assert_str_eq(c.client_ca_file, "/var/lib/kubelet/ca.crt");
	ck_assert_str_eq(c.container_runtime_endpoint, "unix:///var/run/containerd/containerd.sock");
	ck_assert(c.runtime_request_timeout_ns == 900 * SEC);
	ck_assert_str_eq(c.tls_cert_file, "/var/lib/kubelet/kubelet.crt");
	ck_assert_str_eq(c.tls_private_key_file, "/var/lib/kubelet/kubelet.key");
	ck_assert_str_eq(c.cluster_domain, "cluster.local");
	ck_assert_uint_eq(c.n_cluster_dns, 1);
	ck_assert_str_eq(c.cluster_dns[0], "10.32.0.10");
	ck_assert_str_eq(c.pod_cidr, "10.200.0.0/24");
	ck_assert_str_eq(c.static_pod_path, "/etc/kubernetes/manifests");
	ck_assert(c.node_status_update_frequency_ns == 20 * SEC);
	ck_assert_int_eq(c.node_lease_duration_seconds, 60);
	ck_assert(!c.serialize_image_pulls);
	/* a given evictionHard replaces the defaults */
	ck_assert_uint_eq(c.n_eviction_hard, 2);
	ck_assert_str_eq(threshold(&c, "memory.available"), "200Mi");
	ck_assert_ptr_null(threshold(&c, "imagefs.available"));
	/* untouched fields keep their defaults */
	ck_assert_int_eq(c.healthz_port, 10248);
	ck_assert_int_eq(kcfg_validate(&c, err, sizeof(err)), 0);
	kcfg_close(&c);
}
END_TEST

START_TEST(json_config_parses)
{
	const char *js = "{\"kind\":\"KubeletConfiguration\",\"apiVersion\":\"kubelet.config.k8s.io/v1beta1\","
			 "\"maxPods\":30,\"clusterDNS\":[\"10.96.0.10\",\"10.96.0.11\"],\"cgroupDriver\":\"cgroupfs\"}";
	kubelet_config c;
	char err[256];
	ck_assert_int_eq(kcfg_init(&c), 0);
	ck_assert_int_eq(kcfg_parse(&c, js, strlen(js), err, sizeof(err)), 0);
	ck_assert_int_eq(c.max_pods, 30);
	ck_assert_uint_eq(c.n_cluster_dns, 2);
	ck_assert_str_eq(c.cluster_dns[1], "10.96.0.11");
	kcfg_close(&c);
}
END_TEST

static int parse_err(const char *doc, char *err, size_t errlen)
{
	kubelet_config c;
	kcfg_init(&c);
	int rc = kcfg_parse(&c, doc, strlen(doc), err, errlen);
	kcfg_close(&c);
	return rc;
}

#define HDR "kind: KubeletConfiguration\napiVersion: kubelet.config.k8s.io/v1beta1\n"

START_TEST(type_errors_name_the_field)
{
	char err[256];
	ck_assert_int_eq(parse_err(HDR "maxPods: ten\n", err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "json: cannot unmarshal string into Go struct field KubeletConfiguration.maxPods of type int32");
	ck_assert_int_eq(parse_err(HDR "maxPods: \"16\"\n", err, sizeof(err)), -EINVAL); /* quoted = string */
	ck_assert_int_eq(parse_err(HDR "serializeImagePulls: maybe\n", err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "serializeImagePulls of type bool"));
	ck_assert_int_eq(parse_err(HDR "nodeStatusUpdateFrequency: 10\n", err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "nodeStatusUpdateFrequency of type v1.Duration"));
	ck_assert_int_eq(parse_err(HDR "nodeStatusUpdateFrequency: 10d\n", err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "time: unknown unit"));
	ck_assert_int_eq(parse_err(HDR "clusterDNS: 10.0.0.10\n", err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "clusterDNS of type []string"));
	ck_assert_int_eq(parse_err(HDR "authentication:\n  x509:\n    clientCAFile: 3\n", err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "authentication.x509.clientCAFile"));
}
END_TEST

START_TEST(kind_and_version_are_checked)
{
	char err[256];
	ck_assert_int_eq(parse_err("maxPods: 3\n", err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "Object 'Kind' is missing in config file");
	ck_assert_int_eq(parse_err("kind: Pod\napiVersion: v1\n", err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "no kind \"Pod\" is registered for version \"v1\"");
	ck_assert_int_eq(parse_err("kind: KubeletConfiguration\napiVersion: kubelet.config.k8s.io/v9\n", err,
				   sizeof(err)), -EINVAL);
	ck_assert_int_eq(parse_err("- a\n- b\n", err, sizeof(err)), KC_EPARSE);
	ck_assert_int_eq(parse_err(HDR "maxPods: [1\n", err, sizeof(err)), KC_EPARSE);
	ck_assert_ptr_nonnull(strstr(err, "yaml: line"));
	/* unknown fields are tolerated (lenient decoding) */
	ck_assert_int_eq(parse_err(HDR "someFutureField: 1\n", err, sizeof(err)), 0);
}
END_TEST

static int validate_doc(const char *doc, char *err, size_t errlen)
{
	kubelet_config c;
	kcfg_init(&c);
	int rc = kcfg_parse(&c, doc, strlen(doc), err, errlen);
	if (rc == 0)
		rc = kcfg_validate(&c, err, errlen);
	kcfg_close(&c);
	return rc;
}

START_TEST(validation_messages)
{
	char err[256];
	ck_assert_int_eq(validate_doc(HDR "maxPods: -1\n", err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "invalid configuration: maxPods (--max-pods) -1 must not be a negative number");
	ck_assert_int_eq(validate_doc(HDR "nodeLeaseDurationSeconds: 0\n", err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "invalid configuration: nodeLeaseDurationSeconds must be greater than 0");
	ck_assert_int_eq(validate_doc(HDR "nodeStatusUpdateFrequency: 0s\n", err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(validate_doc(HDR "port: 70000\n", err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(validate_doc(HDR "cgroupDriver: magic\n", err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(validate_doc(HDR "evictionHard:\n  cpu.available: 1Gi\n", err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "unsupported eviction signal cpu.available"));
	ck_assert_int_eq(validate_doc(HDR "evictionHard:\n  nodefs.available: 120%\n", err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "must be >= 0% and <= 100%"));
	ck_assert_int_eq(validate_doc(HDR "evictionHard:\n  memory.available: lots\n", err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(validate_doc(HDR "evictionHard:\n  memory.available: 1Gi\n", err, sizeof(err)), 0);
}
END_TEST

START_TEST(load_file_reports_missing_path)
{
	kubelet_config c;
	char err[256];
	kcfg_init(&c);
	ck_assert_int_eq(kcfg_load_file(&c, "/nonexistent/kubelet-config.yaml", err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/kubelet-config.yaml"));
	char path[] = "/tmp/kubec-kcfg-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	FILE *f = fdopen(fd, "w");
	fputs(hard_way, f);
	fclose(f);
	ck_assert_int_eq(kcfg_load_file(&c, path, err, sizeof(err)), 0);
	ck_assert_int_eq(c.max_pods, 16);
	unlink(path);
	kcfg_close(&c);
}
END_TEST

static Suite *kubelet_config_suite(void)
{
	Suite *s = suite_create("kubelet_config");
	TCase *t = tcase_create("config");
	tcase_add_test(t, defaults_are_upstreams);
	tcase_add_test(t, hard_way_config_parses);
	tcase_add_test(t, json_config_parses);
	tcase_add_test(t, type_errors_name_the_field);
	tcase_add_test(t, kind_and_version_are_checked);
	tcase_add_test(t, validation_messages);
	tcase_add_test(t, load_file_reports_missing_path);
	suite_add_tcase(s, t);
	return s;
}

KC_TEST_MAIN(kubelet_config_suite)
