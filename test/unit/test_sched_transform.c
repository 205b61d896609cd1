/* What the scheduler keeps of pods and nodes (issue 6's memory target): the informer
 * transforms (scheduler/transform.c) drop what no reader needs, and the scheduler's own
 * pod copy (types.c) drops the object; neither may change a scheduling decision. The
 * test compares what the scheduler computes from the full API object with what it
 * computes from the transformed one. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "json.h"
#include "kc_test.h"
#include "../../scheduler/framework.h"
#include "../../scheduler/transform.h"
#include "../../scheduler/types.h"

/* A pod as the apiserver returns it: defaults, admission's tolerations, managedFields,
 * an annotation, a status with conditions. */
static const char *const FULL_POD =
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\","
	"\"metadata\":{\"name\":\"web-1\",\"namespace\":\"prod\",\"uid\":\"u-1\","
	"\"resourceVersion\":\"42\",\"generation\":1,\"labels\":{\"app\":\"web\"},"
	"\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":\"{...}\"},"
	"\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"web\",\"uid\":\"r\"}],"
	"\"managedFields\":[{\"manager\":\"kubectl\",\"operation\":\"Update\","
	"\"fieldsV1\":{\"f:spec\":{}}}]},"
	"\"spec\":{\"schedulerName\":\"default-scheduler\",\"priority\":0,"
	"\"preemptionPolicy\":\"PreemptLowerPriority\",\"restartPolicy\":\"Always\","
	"\"serviceAccountName\":\"default\",\"volumes\":[{\"name\":\"v\",\"emptyDir\":{}}],"
	"\"nodeSelector\":{\"disk\":\"ssd\"},"
	"\"affinity\":{\"podAntiAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":"
	"[{\"labelSelector\":{\"matchLabels\":{\"app\":\"web\"}},"
	"\"topologyKey\":\"kubernetes.io/hostname\"}]}},"
	"\"topologySpreadConstraints\":[{\"maxSkew\":1,\"topologyKey\":\"zone\","
	"\"whenUnsatisfiable\":\"DoNotSchedule\",\"labelSelector\":{\"matchLabels\":"
	"{\"app\":\"web\"}}}],"
	"\"overhead\":{\"cpu\":\"10m\"},"
	"\"tolerations\":[{\"key\":\"node.kubernetes.io/not-ready\",\"operator\":\"Exists\","
	"\"effect\":\"NoExecute\",\"tolerationSeconds\":300}],"
	"\"initContainers\":[{\"name\":\"log\",\"image\":\"busybox\",\"restartPolicy\":\"Always\","
	"\"resources\":{\"requests\":{\"cpu\":\"50m\"}}}],"
	"\"containers\":[{\"name\":\"app\",\"image\":\"nginx:1.27\",\"env\":[{\"name\":\"A\","
	"\"value\":\"1\"}],\"command\":[\"nginx\"],"
	"\"resources\":{\"requests\":{\"cpu\":\"500m\",\"memory\":\"1Gi\","
	"\"example.com/gpu\":\"1\"},\"limits\":{\"cpu\":\"1\"}},"
	"\"ports\":[{\"containerPort\":80},{\"containerPort\":443,\"hostPort\":8443,"
	"\"protocol\":\"TCP\",\"name\":\"https\"}]}]},"
	"\"status\":{\"phase\":\"Pending\",\"nominatedNodeName\":\"n2\","
	"\"startTime\":\"2026-11-25T10:00:00Z\",\"qosClass\":\"Burstable\","
	"\"conditions\":[{\"type\":\"PodScheduled\",\"status\":\"False\"}]}}";

static const char *const FULL_NODE =
	"{\"apiVersion\":\"v1\",\"kind\":\"Node\","
	"\"metadata\":{\"name\":\"n1\",\"uid\":\"nu\",\"resourceVersion\":\"7\","
	"\"labels\":{\"zone\":\"a\",\"disk\":\"ssd\"},\"annotations\":{\"x\":\"y\"},"
	"\"managedFields\":[{\"manager\":\"kubelet\"}]},"
	"\"spec\":{\"unschedulable\":true,\"podCIDR\":\"10.0.0.0/24\",\"taints\":[{\"key\":\"k\","
	"\"value\":\"v\",\"effect\":\"NoSchedule\"}]},"
	"\"status\":{\"capacity\":{\"cpu\":\"8\"},\"allocatable\":{\"cpu\":\"4\",\"memory\":\"8Gi\","
	"\"pods\":\"110\",\"example.com/gpu\":\"2\"},"
	"\"images\":[{\"names\":[\"nginx:1.27\"],\"sizeBytes\":50000000}],"
	"\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"10.1.1.1\"}],"
	"\"nodeInfo\":{\"kubeletVersion\":\"v1.32.0\"},"
	"\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"KubeletReady\","
	"\"lastHeartbeatTime\":\"2026-11-25T10:00:00Z\"}]}}";

static cJSON *transformed(const char *json, bool pod)
{
	cJSON *o = fx_json(json);
	if (pod)
		sched_transform_pod(o, NULL);
	else
		sched_transform_node(o, NULL);
	return o;
}

START_TEST(pod_transform_drops_what_nobody_reads)
{
	cJSON *o = transformed(FULL_POD, true);
	/* gone */
	static const char *const gone[] = {
		"apiVersion", "kind", "metadata.managedFields", "metadata.annotations",
		"metadata.ownerReferences", "metadata.generation", "spec.volumes",
		"spec.restartPolicy", "spec.serviceAccountName", "spec.schedulerName",
		"spec.priority", "spec.preemptionPolicy", "spec.containers.0.env",
		"spec.containers.0.command", "spec.containers.0.name",
		"spec.containers.0.resources.limits", "status.qosClass", "status.conditions",
		"status.phase", NULL
	};
	for (int i = 0; gone[i]; i++)
		ck_assert_msg(kc_json_get(o, gone[i]) == NULL, "%s kept", gone[i]);
	/* kept */
	ck_assert_str_eq(kc_json_get_string(o, "metadata.name", ""), "web-1");
	ck_assert_str_eq(kc_json_get_string(o, "metadata.namespace", ""), "prod");
	ck_assert_str_eq(kc_json_get_string(o, "metadata.uid", ""), "u-1");
	ck_assert_str_eq(kc_json_get_string(o, "metadata.resourceVersion", ""), "42");
	ck_assert_str_eq(kc_json_get_string(o, "metadata.labels.app", ""), "web");
	ck_assert_str_eq(kc_json_get_string(o, "status.nominatedNodeName", ""), "n2");
	ck_assert_str_eq(kc_json_get_string(o, "status.startTime", ""), "2026-11-25T10:00:00Z");
	ck_assert_str_eq(kc_json_get_string(o, "spec.containers.0.image", ""), "nginx:1.27");
	/* only the port with a hostPort is left */
	ck_assert_int_eq(cJSON_GetArraySize(kc_json_get(o, "spec.containers.0.ports")), 1);
	ck_assert_int_eq(kc_json_get_int64(o, "spec.containers.0.ports.0.hostPort", 0), 8443);
	ck_assert_str_eq(kc_json_get_string(o, "spec.initContainers.0.restartPolicy", ""),
			 "Always");
	cJSON_Delete(o);

	/* a terminal phase and non-default values stay */
	cJSON *f = fx_json("{\"metadata\":{\"name\":\"a\",\"namespace\":\"d\"},\"spec\":"
			   "{\"priority\":7,\"schedulerName\":\"other\","
			   "\"preemptionPolicy\":\"Never\"},\"status\":{\"phase\":\"Failed\"}}");
	sched_transform_pod(f, NULL);
	ck_assert_int_eq(kc_json_get_int64(f, "spec.priority", 0), 7);
	ck_assert_str_eq(kc_json_get_string(f, "spec.schedulerName", ""), "other");
	ck_assert_str_eq(kc_json_get_string(f, "spec.preemptionPolicy", ""), "Never");
	ck_assert_str_eq(kc_json_get_string(f, "status.phase", ""), "Failed");
	cJSON_Delete(f);
}
END_TEST

/* the informer reads metadata.resourceVersion before the transform and uses the string
 * after it: the transform must leave that very string in place */
START_TEST(transform_keeps_the_resource_version_string)
{
	cJSON *o = fx_json(FULL_POD);
	const char *rv = kc_json_get_string(o, "metadata.resourceVersion", NULL);
	sched_transform_pod(o, NULL);
	ck_assert_ptr_eq(kc_json_get_string(o, "metadata.resourceVersion", NULL), rv);
	cJSON_Delete(o);
	o = fx_json(FULL_NODE);
	rv = kc_json_get_string(o, "metadata.resourceVersion", NULL);
	sched_transform_node(o, NULL);
	ck_assert_ptr_eq(kc_json_get_string(o, "metadata.resourceVersion", NULL), rv);
	cJSON_Delete(o);
}
END_TEST

static char *print(const cJSON *j)
{
	return j ? cJSON_PrintUnformatted(j) : strdup("null");
}

static void assert_same_json(const cJSON *a, const cJSON *b, const char *what)
{
	char *x = print(a), *y = print(b);
	ck_assert_msg(strcmp(x, y) == 0, "%s: %s vs %s", what, x, y);
	free(x);
	free(y);
}

START_TEST(scheduler_pod_is_the_same_from_the_transformed_object)
{
	sched_pod *full = fx_sched_pod(FULL_POD);
	cJSON *t = transformed(FULL_POD, true);
	char *text = cJSON_PrintUnformatted(t);
	sched_pod *lean = fx_sched_pod(text);
	free(text);
	cJSON_Delete(t);
	ck_assert_str_eq(lean->key, "prod/web-1");
	ck_assert_str_eq(lean->uid, full->uid);
	ck_assert_str_eq(lean->resource_version, "42");
	ck_assert_str_eq(lean->scheduler_name, full->scheduler_name);
	ck_assert_str_eq(lean->preemption_policy, full->preemption_policy);
	ck_assert_int_eq(lean->priority, full->priority);
	ck_assert_int_eq(lean->req.milli_cpu, 560); /* 500m + sidecar 50m + overhead 10m */
	ck_assert_int_eq(lean->req.milli_cpu, full->req.milli_cpu);
	ck_assert_int_eq(lean->req.memory, full->req.memory);
	ck_assert_int_eq(sched_resource_scalar(&lean->req, "example.com/gpu"), 1);
	ck_assert_int_eq(lean->nonzero_cpu, full->nonzero_cpu);
	ck_assert_int_eq(lean->nonzero_mem, full->nonzero_mem);
	ck_assert_int_eq(lean->nports, 1);
	ck_assert_int_eq(full->nports, 1);
	ck_assert_int_eq(lean->ports[0].port, 8443);
	ck_assert_int_eq(lean->nimages, 2);
	ck_assert_str_eq(sched_pod_image(lean, 0), "busybox:latest");
	ck_assert_str_eq(sched_pod_image(lean, 1), "nginx:1.27");
	ck_assert_int_eq(lean->ncontainers, full->ncontainers);
	ck_assert(lean->required_anti && lean->pod_affinity);
	assert_same_json(lean->tolerations, full->tolerations, "tolerations");
	assert_same_json(lean->node_selector, full->node_selector, "nodeSelector");
	assert_same_json(lean->affinity, full->affinity, "affinity");
	assert_same_json(kc_json_get(lean->obj, "spec.topologySpreadConstraints"),
			 kc_json_get(full->obj, "spec.topologySpreadConstraints"), "spread");
	assert_same_json(kc_json_get(lean->obj, "metadata.labels"),
			 kc_json_get(full->obj, "metadata.labels"), "labels");
	ck_assert_str_eq(kc_json_get_string(lean->obj, "status.startTime", ""),
			 "2026-11-25T10:00:00Z");
	ck_assert_str_eq(kc_json_get_string(lean->obj, "status.nominatedNodeName", ""), "n2");
	/* the same pod object twice hashes the same; a spec change does not */
	sched_pod *again = fx_sched_pod(FULL_POD);
	ck_assert(again->update_hash == full->update_hash);
	sched_pod_free(again);
	sched_pod_free(full);
	sched_pod_free(lean);
}
END_TEST

START_TEST(update_hash_ignores_status_and_resource_version)
{
	sched_pod *a = fx_sched_pod("{\"metadata\":{\"name\":\"a\",\"namespace\":\"d\","
				    "\"resourceVersion\":\"1\"},\"spec\":{\"priority\":1},"
				    "\"status\":{\"phase\":\"Pending\"}}");
	sched_pod *b = fx_sched_pod("{\"metadata\":{\"name\":\"a\",\"namespace\":\"d\","
				    "\"resourceVersion\":\"2\"},\"spec\":{\"priority\":1},"
				    "\"status\":{\"conditions\":[{\"type\":\"PodScheduled\"}]}}");
	sched_pod *c = fx_sched_pod("{\"metadata\":{\"name\":\"a\",\"namespace\":\"d\","
				    "\"resourceVersion\":\"3\"},\"spec\":{\"priority\":2}}");
	sched_pod *d = fx_sched_pod("{\"metadata\":{\"name\":\"a\",\"namespace\":\"d\","
				    "\"resourceVersion\":\"4\",\"labels\":{\"x\":\"1\"}},"
				    "\"spec\":{\"priority\":1}}");
	ck_assert(a->update_hash == b->update_hash);
	ck_assert(a->update_hash != c->update_hash);
	ck_assert(a->update_hash != d->update_hash);
	sched_pod_free(a);
	sched_pod_free(b);
	sched_pod_free(c);
	sched_pod_free(d);
}
END_TEST

START_TEST(dup_on_node_and_shared_tolerations)
{
	sched_pod *a = fx_sched_pod(FULL_POD);
	sched_pod *b = fx_sched_pod(FULL_POD);
	/* the same tolerations list is held once */
	ck_assert_ptr_nonnull(a->tolerations);
	ck_assert_ptr_eq(a->tolerations, b->tolerations);
	sched_pod *c = NULL;
	ck_assert_int_eq(sched_pod_dup(a, "node-7", &c), 0);
	ck_assert_str_eq(c->node_name, "node-7");
	ck_assert_str_eq(c->key, "prod/web-1");
	ck_assert_str_eq(c->name, "web-1");
	ck_assert_str_eq(c->uid, "u-1");
	ck_assert_int_eq(c->req.milli_cpu, a->req.milli_cpu);
	ck_assert_int_eq(c->nports, 1);
	ck_assert_str_eq(sched_pod_image(c, 1), "nginx:1.27");
	ck_assert_ptr_eq(c->tolerations, a->tolerations);
	ck_assert_ptr_ne(c->affinity, a->affinity); /* a deep copy */
	/* the required anti-affinity term is parsed once per pod and survives the copy */
	ck_assert_int_eq(a->nanti_terms, 1);
	ck_assert_int_eq(c->nanti_terms, 1);
	ck_assert_str_eq(c->anti_terms[0].topology_key, "kubernetes.io/hostname");
	sched_pod *web = fx_sched_pod("{\"metadata\":{\"name\":\"w\",\"namespace\":\"prod\","
				      "\"labels\":{\"app\":\"web\"}}}");
	sched_pod *other_ns = fx_sched_pod("{\"metadata\":{\"name\":\"w\",\"namespace\":\"dev\","
					   "\"labels\":{\"app\":\"web\"}}}");
	sched_pod *db = fx_sched_pod("{\"metadata\":{\"name\":\"d\",\"namespace\":\"prod\","
				     "\"labels\":{\"app\":\"db\"}}}");
	ck_assert(sched_affinity_term_matches(&c->anti_terms[0], c->ns, web));
	ck_assert(!sched_affinity_term_matches(&c->anti_terms[0], c->ns, other_ns));
	ck_assert(!sched_affinity_term_matches(&c->anti_terms[0], c->ns, db));
	sched_pod_free(web);
	sched_pod_free(other_ns);
	sched_pod_free(db);
	sched_pod_free(a);
	sched_pod_free(b);
	/* the copy's shared list outlives the originals */
	ck_assert_int_eq(cJSON_GetArraySize(c->tolerations), 1);
	ck_assert_str_eq(kc_json_get_string(c->tolerations, "0.key", ""),
			 "node.kubernetes.io/not-ready");
	ck_assert_str_eq(c->scheduler_name, "default-scheduler");
	ck_assert_str_eq(c->preemption_policy, "PreemptLowerPriority");
	ck_assert_str_eq(c->resource_version, "42");
	sched_pod *d = NULL;
	ck_assert_int_eq(sched_pod_dup(c, NULL, &d), 0);
	ck_assert_str_eq(d->node_name, "node-7");
	ck_assert_str_eq(d->key, "prod/web-1");
	sched_pod_free(c);
	sched_pod_free(d);
	/* a pod without any optional field keeps no object at all */
	sched_pod *o = fx_sched_pod("{\"metadata\":{\"name\":\"o\",\"namespace\":\"d\"},"
				    "\"spec\":{\"schedulerName\":\"bin-packer\","
				    "\"preemptionPolicy\":\"Never\",\"nodeName\":\"a\"}}");
	sched_pod *oc = NULL;
	ck_assert_int_eq(sched_pod_dup(o, "much-longer-node-name", &oc), 0);
	ck_assert_str_eq(oc->scheduler_name, "bin-packer");
	ck_assert_str_eq(oc->preemption_policy, "Never");
	ck_assert_str_eq(oc->node_name, "much-longer-node-name");
	ck_assert_str_eq(oc->key, "d/o");
	sched_pod_free(o);
	sched_pod_free(oc);
	sched_pod *e = fx_sched_pod("{\"metadata\":{\"name\":\"e\",\"namespace\":\"d\"}}");
	ck_assert_ptr_null(e->obj);
	ck_assert_ptr_null(e->tolerations);
	ck_assert_str_eq(e->scheduler_name, "default-scheduler");
	ck_assert_str_eq(e->preemption_policy, "PreemptLowerPriority");
	sched_pod_free(e);
}
END_TEST

static bool keep_none(const sched_pod *p, void *arg)
{
	(void)p;
	(void)arg;
	return false;
}

/* Shared tolerations lists are found by content: equal lists share one tree, and a list
 * differing in a value, a number, a key or the order of its members keeps its own. */
static sched_pod *tol_pod(const char *name, const char *tols)
{
	char buf[1024];
	snprintf(buf, sizeof(buf), "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"d\"},"
		 "\"spec\":{\"tolerations\":%s}}", name, tols);
	return fx_sched_pod(buf);
}

START_TEST(shared_tolerations_by_content)
{
#define T1 "{\"key\":\"k\",\"operator\":\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":300}"
#define T2 "{\"key\":\"g\",\"operator\":\"Equal\",\"value\":\"x\"}"
	sched_pod *a = tol_pod("a", "[" T1 "," T2 "]");
	sched_pod *b = tol_pod("b", "[" T1 "," T2 "]");
	ck_assert_ptr_nonnull(a->tolerations);
	ck_assert_ptr_eq(a->tolerations, b->tolerations);
	const char *other[] = {
		"[" T2 "," T1 "]", /* order of the list */
		"[{\"key\":\"k\",\"operator\":\"Exists\",\"effect\":\"NoExecute\","
		"\"tolerationSeconds\":301}," T2 "]", /* a number */
		"[" T1 ",{\"key\":\"g\",\"operator\":\"Equal\",\"value\":\"y\"}]", /* a value */
		"[" T1 ",{\"operator\":\"Equal\",\"key\":\"g\",\"value\":\"x\"}]", /* member order */
		"[" T1 ",{\"key\":\"g\",\"operator\":\"Equal\",\"valu\":\"x\"}]", /* a key */
		"[" T1 "]",
	};
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		sched_pod *c = tol_pod("c", other[i]);
		ck_assert_msg(c->tolerations != a->tolerations, "list %zu shared with a", i);
		/* what the pod holds is its own list, equal to what it was given */
		cJSON *want = NULL;
		ck_assert_int_eq(kc_json_parse_str(other[i], &want, NULL, 0), 0);
		ck_assert(kc_json_equal(want, c->tolerations));
		cJSON_Delete(want);
		sched_pod_free(c);
	}
	sched_pod_free(a);
	sched_pod_free(b);
#undef T1
#undef T2
}
END_TEST

START_TEST(node_transform_keeps_what_plugins_read)
{
	cJSON *t = transformed(FULL_NODE, false);
	static const char *const gone[] = { "apiVersion", "metadata.managedFields",
					    "metadata.annotations", "spec.podCIDR",
					    "status.capacity", "status.addresses", "status.nodeInfo",
					    "status.conditions.0.reason",
					    "status.conditions.0.lastHeartbeatTime", NULL };
	for (int i = 0; gone[i]; i++)
		ck_assert_msg(kc_json_get(t, gone[i]) == NULL, "%s kept", gone[i]);
	ck_assert_str_eq(kc_json_get_string(t, "status.conditions.0.status", ""), "True");
	char *text = cJSON_PrintUnformatted(t);
	sched_node_info *lean = fx_sched_node(text);
	sched_node_info *full = fx_sched_node(FULL_NODE);
	free(text);
	cJSON_Delete(t);
	ck_assert_str_eq(lean->name, "n1");
	ck_assert(lean->unschedulable && full->unschedulable);
	ck_assert_int_eq(lean->allocatable.milli_cpu, 4000);
	ck_assert_int_eq(lean->allocatable.memory, full->allocatable.memory);
	ck_assert_int_eq(lean->allocatable.allowed_pods, 110);
	ck_assert_int_eq(sched_resource_scalar(&lean->allocatable, "example.com/gpu"), 2);
	ck_assert_int_eq(sched_node_image_size(lean, "nginx:1.27"), 50000000);
	assert_same_json(lean->labels, full->labels, "labels");
	assert_same_json(lean->taints, full->taints, "taints");
	/* the filtered copy (preemption's dry run) carries the same node state */
	sched_pod *p = fx_sched_pod("{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\"},"
				    "\"spec\":{\"containers\":[{\"resources\":{\"requests\":"
				    "{\"cpu\":\"1\"}}}]}}");
	ck_assert_int_eq(sched_node_info_add_pod(lean, p), 0);
	sched_node_info *copy = sched_node_info_filtered(lean, keep_none, NULL);
	ck_assert_ptr_nonnull(copy);
	ck_assert_str_eq(copy->name, "n1");
	ck_assert(copy->unschedulable);
	ck_assert_int_eq(copy->allocatable.milli_cpu, 4000);
	ck_assert_int_eq(copy->requested.milli_cpu, 0);
	ck_assert_int_eq(lean->requested.milli_cpu, 1000);
	ck_assert_int_eq(sched_node_image_size(copy, "nginx:1.27"), 50000000);
	assert_same_json(copy->taints, full->taints, "taints of the copy");
	sched_node_info_free(copy);
	sched_node_info_free(lean);
	sched_pod_free(p);
	sched_node_info_free(full);
}
END_TEST

static Suite *sched_transform_suite(void)
{
	Suite *s = suite_create("sched_transform");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, pod_transform_drops_what_nobody_reads);
	tcase_add_test(tc, transform_keeps_the_resource_version_string);
	tcase_add_test(tc, scheduler_pod_is_the_same_from_the_transformed_object);
	tcase_add_test(tc, update_hash_ignores_status_and_resource_version);
	tcase_add_test(tc, shared_tolerations_by_content);
	tcase_add_test(tc, dup_on_node_and_shared_tolerations);
	tcase_add_test(tc, node_transform_keeps_what_plugins_read);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(sched_transform_suite)
