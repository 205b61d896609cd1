/* kubelet/node_status.c and node_lease.c: the Node and Lease objects the kubelet sends. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../kubelet/node_lease.h"
#include "../../kubelet/node_status.h"
#include "errors.h"
#include "json.h"
#include "kc_test.h"

#define NOW 1764072000000000000LL /* 2025-11-25T12:00:00Z */

static void facts(node_facts *f)
{
	memset(f, 0, sizeof(*f));
	strcpy(f->name, "node-1");
	strcpy(f->internal_ip, "10.0.0.5");
	f->cpu_cores = 2;
	f->memory_bytes = 4096LL * 1024 * 1024;   /* 4Gi */
	f->ephemeral_bytes = 100LL * 1024 * 1024 * 1024; /* 100Gi */
	strcpy(f->kernel_version, "6.1.0");
	strcpy(f->os_image, "Debian GNU/Linux 12 (bookworm)");
	strcpy(f->runtime_version, "containerd://1.6.20~ds1");
	strcpy(f->boot_id, "b00t");
}

static const cJSON *cond(const cJSON *node, const char *type)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, kc_json_get(node, "status.conditions"))
		if (!strcmp(kc_json_get_string(c, "type", ""), type))
			return c;
	return NULL;
}

START_TEST(node_has_upstream_shape)
{
	node_facts f;
	facts(&f);
	kubelet_config cfg;
	kcfg_init(&cfg);
	kcfg_set_str(&cfg.pod_cidr, "10.200.1.0/24");
	cfg.max_pods = 42;
	kc_strlist labels = { 0 }, taints = { 0 };
	kc_strlist_append_csv(&labels, "zone=a,kubernetes.io/hostname=override-me");
	kc_strlist_append_csv(&taints, "dedicated=db:NoSchedule,gpu:NoExecute");
	node_readiness rd = { 0, "KubeletNotReady", "not yet" };
	char err[256];
	cJSON *n = node_build(&f, &cfg, &labels, &taints, &rd, NOW, err, sizeof(err));
	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq(kc_json_get_string(n, "metadata.name", ""), "node-1");
	ck_assert_str_eq(kc_json_get_string(n, "metadata.labels.zone", ""), "a");
	ck_assert_str_eq(kc_json_get_string(n, "metadata.labels.kubernetes\\.io/os", ""), "linux");
	/* a --node-labels entry wins over the default of the same key */
	ck_assert_str_eq(kc_json_get_string(n, "metadata.labels.kubernetes\\.io/hostname", ""), "override-me");
	ck_assert_str_eq(kc_json_get_string(n, "spec.podCIDR", ""), "10.200.1.0/24");
	ck_assert_str_eq(kc_json_get_string(n, "spec.taints.0.key", ""), "dedicated");
	ck_assert_str_eq(kc_json_get_string(n, "spec.taints.0.value", ""), "db");
	ck_assert_str_eq(kc_json_get_string(n, "spec.taints.0.effect", ""), "NoSchedule");
	ck_assert_str_eq(kc_json_get_string(n, "spec.taints.1.key", ""), "gpu");
	ck_assert_ptr_null(kc_json_get(n, "spec.taints.1.value"));
	ck_assert_str_eq(kc_json_get_string(n, "status.capacity.cpu", ""), "2");
	ck_assert_str_eq(kc_json_get_string(n, "status.capacity.memory", ""), "4Gi");
	ck_assert_str_eq(kc_json_get_string(n, "status.capacity.pods", ""), "42");
	/* allocatable memory = capacity - evictionHard memory.available (100Mi) */
	ck_assert_str_eq(kc_json_get_string(n, "status.allocatable.memory", ""), "3996Mi");
	/* allocatable ephemeral-storage = capacity - nodefs.available (10%) */
	ck_assert_str_eq(kc_json_get_string(n, "status.capacity.ephemeral-storage", ""), "100Gi");
	ck_assert_str_eq(kc_json_get_string(n, "status.allocatable.ephemeral-storage", ""), "90Gi");
	ck_assert_str_eq(kc_json_get_string(n, "status.nodeInfo.containerRuntimeVersion", ""), "containerd://1.6.20~ds1");
	ck_assert_str_eq(kc_json_get_string(n, "status.nodeInfo.kubeletVersion", ""), "v1.32.0");
	ck_assert_str_eq(kc_json_get_string(n, "status.addresses.0.type", ""), "InternalIP");
	ck_assert_str_eq(kc_json_get_string(n, "status.addresses.1.address", ""), "node-1");
	ck_assert_int_eq(kc_json_get_int64(n, "status.daemonEndpoints.kubeletEndpoint.Port", 0), 10250);
	const cJSON *ready = cond(n, "Ready");
	ck_assert_ptr_nonnull(ready);
	ck_assert_str_eq(kc_json_get_string(ready, "status", ""), "False");
	ck_assert_str_eq(kc_json_get_string(ready, "reason", ""), "KubeletNotReady");
	ck_assert_str_eq(kc_json_get_string(ready, "lastHeartbeatTime", ""), "2025-11-25T12:00:00Z");
	ck_assert_str_eq(kc_json_get_string(cond(n, "MemoryPressure"), "reason", ""), "KubeletHasSufficientMemory");
	ck_assert_str_eq(kc_json_get_string(cond(n, "DiskPressure"), "status", ""), "False");
	ck_assert_str_eq(kc_json_get_string(cond(n, "PIDPressure"), "reason", ""), "KubeletHasSufficientPID");
	cJSON_Delete(n);
	kc_strlist_free(&labels);
	kc_strlist_free(&taints);
	kcfg_close(&cfg);
}
END_TEST

static cJSON *build_with(const char *labels_csv, const char *taints_csv, char *err, size_t errlen)
{
	node_facts f;
	facts(&f);
	kubelet_config cfg;
	kcfg_init(&cfg);
	kc_strlist labels = { 0 }, taints = { 0 };
	if (labels_csv)
		kc_strlist_append_csv(&labels, labels_csv);
	if (taints_csv)
		kc_strlist_append_csv(&taints, taints_csv);
	node_readiness rd = { 1, "KubeletReady", "kubelet is posting ready status" };
	cJSON *n = node_build(&f, &cfg, &labels, &taints, &rd, NOW, err, errlen);
	kc_strlist_free(&labels);
	kc_strlist_free(&taints);
	kcfg_close(&cfg);
	return n;
}

START_TEST(bad_labels_and_taints_are_refused)
{
	char err[256];
	ck_assert_ptr_null(build_with("novalue", NULL, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "must be formatted as key=value"));
	ck_assert_ptr_null(build_with("bad key=x", NULL, err, sizeof(err)));
	ck_assert_ptr_null(build_with("k=-bad-", NULL, err, sizeof(err)));
	ck_assert_ptr_null(build_with(NULL, "k=v:Sometimes", err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "unsupported taint effect"));
	ck_assert_ptr_null(build_with(NULL, "novalue", err, sizeof(err)));
	ck_assert_ptr_null(build_with(NULL, "=v:NoSchedule", err, sizeof(err)));
	cJSON *n = build_with("example.com/tier=gold", "example.com/x=y:PreferNoSchedule", err, sizeof(err));
	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq(kc_json_get_string(cond(n, "Ready"), "status", ""), "True");
	cJSON_Delete(n);
}
END_TEST

START_TEST(gather_uses_override_and_checks_node_ip)
{
	node_facts f;
	char err[256];
	ck_assert_int_eq(node_gather(&f, "My-Node.Example", "192.0.2.7", "/nonexistent/kubelet", err, sizeof(err)), 0);
	ck_assert_str_eq(f.name, "my-node.example"); /* lower-cased, as nodeutil.GetHostname */
	ck_assert_str_eq(f.internal_ip, "192.0.2.7");
	ck_assert_int_ge(f.cpu_cores, 1);
	ck_assert_int_gt(f.memory_bytes, 0);
	ck_assert_int_gt(f.ephemeral_bytes, 0); /* measured on the nearest existing ancestor */
	ck_assert_int_eq(node_gather(&f, "node", "not-an-ip", "/", err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "failed to parse node IP: \"not-an-ip\"");
	ck_assert_int_eq(node_gather(&f, "under_score", NULL, "/", err, sizeof(err)), -EINVAL);
}
END_TEST

START_TEST(lease_object)
{
	cJSON *l = lease_build("node-1", "uid-1", 40, NOW + 123456000, "17");
	ck_assert_ptr_nonnull(l);
	ck_assert_str_eq(kc_json_get_string(l, "apiVersion", ""), "coordination.k8s.io/v1");
	ck_assert_str_eq(kc_json_get_string(l, "metadata.namespace", ""), "kube-node-lease");
	ck_assert_str_eq(kc_json_get_string(l, "metadata.resourceVersion", ""), "17");
	ck_assert_str_eq(kc_json_get_string(l, "metadata.ownerReferences.0.kind", ""), "Node");
	ck_assert_str_eq(kc_json_get_string(l, "metadata.ownerReferences.0.uid", ""), "uid-1");
	ck_assert_str_eq(kc_json_get_string(l, "spec.holderIdentity", ""), "node-1");
	ck_assert_int_eq(kc_json_get_int64(l, "spec.leaseDurationSeconds", 0), 40);
	ck_assert_str_eq(kc_json_get_string(l, "spec.renewTime", ""), "2025-11-25T12:00:00.123456Z");
	cJSON_Delete(l);
	l = lease_build("node-1", "", 40, NOW, NULL);
	ck_assert_ptr_null(kc_json_get(l, "metadata.ownerReferences"));
	ck_assert_ptr_null(kc_json_get(l, "metadata.resourceVersion"));
	cJSON_Delete(l);
	/* renewIntervalFraction 0.25: 40 s -> 10 s */
	ck_assert(lease_renew_interval_ns(40) == 10000000000LL);
}
END_TEST

static Suite *kubelet_node_suite(void)
{
	Suite *s = suite_create("kubelet_node");
	TCase *t = tcase_create("node");
	tcase_add_test(t, node_has_upstream_shape);
	tcase_add_test(t, bad_labels_and_taints_are_refused);
	tcase_add_test(t, gather_uses_override_and_checks_node_ip);
	tcase_add_test(t, lease_object);
	suite_add_tcase(s, t);
	return s;
}

KC_TEST_MAIN(kubelet_node_suite)
