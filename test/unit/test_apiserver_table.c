/* Server-side Tables for kubectl get. */
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "kc_test.h"
#include "../../apiserver/resource.h"
#include "../../apiserver/table.h"

static cJSON *J(const char *s)
{
	cJSON *v = NULL;
	ck_assert_msg(kc_json_parse_str(s, &v, NULL, 0) == 0, "bad test JSON: %s", s);
	return v;
}

/* 2026-11-22T07:17:10Z */
#define T0 1795331830

static const char *cell(const cJSON *t, int row, int col)
{
	const cJSON *c = cJSON_GetArrayItem(
		cJSON_GetObjectItemCaseSensitive(
			cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(t, "rows"), row), "cells"),
		col);
	static char buf[64];
	if (cJSON_IsNumber(c)) {
		snprintf(buf, sizeof(buf), "%d", c->valueint);
		return buf;
	}
	return cJSON_IsString(c) ? c->valuestring : "?";
}

START_TEST(pod_table_columns_and_cells)
{
	cJSON *pods = J("[{\"metadata\":{\"name\":\"nginx\",\"namespace\":\"default\","
			"\"creationTimestamp\":\"2026-11-22T07:17:10Z\",\"labels\":{\"run\":\"nginx\"}},"
			"\"spec\":{\"nodeName\":\"node-1\",\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]},"
			"\"status\":{\"phase\":\"Running\",\"podIP\":\"10.244.0.3\",\"containerStatuses\":["
			"{\"name\":\"a\",\"ready\":true,\"restartCount\":2,\"state\":{\"running\":{}}},{\"name\":\"b\",\"ready\":false,"
			"\"restartCount\":1,\"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}}}]}}]");
	cJSON *t = tbl_render(&res_pods, pods, TBL_INCLUDE_METADATA, 1, "108", NULL, T0 + 330);
	ck_assert_str_eq(kc_json_get_string(t, "kind", ""), "Table");
	ck_assert_str_eq(kc_json_get_string(t, "apiVersion", ""), "meta.k8s.io/v1");
	ck_assert_str_eq(kc_json_get_string(t, "metadata.resourceVersion", ""), "108");
	cJSON *cols = kc_json_get(t, "columnDefinitions");
	ck_assert_int_eq(cJSON_GetArraySize(cols), 9);
	ck_assert_str_eq(kc_json_get_string(cols, "0.name", ""), "Name");
	ck_assert_str_eq(kc_json_get_string(cols, "0.format", ""), "name");
	ck_assert_str_eq(kc_json_get_string(cols, "4.name", ""), "Age");
	ck_assert_int_eq(kc_json_get_int64(cols, "4.priority", -1), 0);
	ck_assert_str_eq(kc_json_get_string(cols, "5.name", ""), "IP");
	ck_assert_int_eq(kc_json_get_int64(cols, "5.priority", -1), 1);
	ck_assert_str_eq(cell(t, 0, 0), "nginx");
	ck_assert_str_eq(cell(t, 0, 1), "1/2");
	ck_assert_str_eq(cell(t, 0, 2), "CrashLoopBackOff");
	ck_assert_str_eq(cell(t, 0, 3), "3");
	ck_assert_str_eq(cell(t, 0, 4), "5m30s");
	ck_assert_str_eq(cell(t, 0, 5), "10.244.0.3");
	ck_assert_str_eq(cell(t, 0, 6), "node-1");
	ck_assert_str_eq(cell(t, 0, 7), "<none>");
	/* The row object is PartialObjectMetadata (needed for -A and --show-labels). */
	ck_assert_str_eq(kc_json_get_string(t, "rows.0.object.kind", ""), "PartialObjectMetadata");
	ck_assert_str_eq(kc_json_get_string(t, "rows.0.object.metadata.namespace", ""), "default");
	ck_assert_ptr_null(kc_json_get(t, "rows.0.object.spec"));
	cJSON_Delete(t);
	/* Watch events after the first carry columnDefinitions: null; includeObject=None. */
	t = tbl_render(&res_pods, cJSON_GetArrayItem(pods, 0), TBL_INCLUDE_NONE, 0, NULL, NULL, T0);
	ck_assert(cJSON_IsNull(kc_json_get(t, "columnDefinitions")));
	ck_assert_ptr_null(kc_json_get(t, "rows.0.object"));
	ck_assert_int_eq(cJSON_GetArraySize(kc_json_get(t, "rows")), 1);
	cJSON_Delete(t);
	cJSON_Delete(pods);
}
END_TEST

START_TEST(deployment_service_node_rows)
{
	cJSON *d = J("{\"metadata\":{\"name\":\"web\",\"creationTimestamp\":\"2026-11-22T07:17:10Z\"},"
		     "\"spec\":{\"replicas\":3,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
		     "\"template\":{\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"nginx:1.25\"},"
		     "{\"name\":\"log\",\"image\":\"busybox\"}]}}},\"status\":{\"readyReplicas\":2,"
		     "\"updatedReplicas\":3,\"availableReplicas\":2}}");
	cJSON *t = tbl_render(&res_deployments, d, TBL_INCLUDE_METADATA, 1, NULL, NULL, T0 + 3 * 86400 + 7200);
	ck_assert_str_eq(cell(t, 0, 1), "2/3");
	ck_assert_str_eq(cell(t, 0, 2), "3");
	ck_assert_str_eq(cell(t, 0, 3), "2");
	ck_assert_str_eq(cell(t, 0, 4), "3d2h");
	ck_assert_str_eq(cell(t, 0, 5), "web,log");
	ck_assert_str_eq(cell(t, 0, 6), "nginx:1.25,busybox");
	ck_assert_str_eq(cell(t, 0, 7), "app=web");
	ck_assert_str_eq(kc_json_get_string(t, "columnDefinitions.2.name", ""), "Up-to-date");
	ck_assert_str_eq(kc_json_get_string(t, "columnDefinitions.2.type", ""), "integer");
	cJSON_Delete(t);
	cJSON_Delete(d);
	cJSON *s = J("{\"metadata\":{\"name\":\"svc\",\"creationTimestamp\":\"2026-11-22T07:17:10Z\"},"
		     "\"spec\":{\"type\":\"NodePort\",\"clusterIP\":\"10.0.0.10\",\"ports\":[{\"port\":80,"
		     "\"nodePort\":30080,\"protocol\":\"TCP\"},{\"port\":53,\"protocol\":\"UDP\"}]}}");
	t = tbl_render(&res_services, s, TBL_INCLUDE_METADATA, 1, NULL, NULL, T0 + 59);
	ck_assert_str_eq(cell(t, 0, 1), "NodePort");
	ck_assert_str_eq(cell(t, 0, 2), "10.0.0.10");
	ck_assert_str_eq(cell(t, 0, 3), "<none>");
	ck_assert_str_eq(cell(t, 0, 4), "80:30080/TCP,53/UDP");
	ck_assert_str_eq(cell(t, 0, 5), "59s");
	ck_assert_str_eq(cell(t, 0, 6), "<none>");
	cJSON_Delete(t);
	cJSON_Delete(s);
	cJSON *n = J("{\"metadata\":{\"name\":\"node-1\",\"creationTimestamp\":\"2026-11-22T07:17:10Z\","
		     "\"labels\":{\"node-role.kubernetes.io/control-plane\":\"\"}},\"spec\":{"
		     "\"unschedulable\":true},\"status\":{\"conditions\":[{\"type\":\"Ready\","
		     "\"status\":\"True\"}],\"nodeInfo\":{\"kubeletVersion\":\"v1.32.4\"}}}");
	t = tbl_render(&res_nodes, n, TBL_INCLUDE_METADATA, 1, NULL, NULL, T0 + 600);
	ck_assert_str_eq(cell(t, 0, 1), "Ready,SchedulingDisabled");
	ck_assert_str_eq(cell(t, 0, 2), "control-plane");
	ck_assert_str_eq(cell(t, 0, 3), "10m");
	ck_assert_str_eq(cell(t, 0, 4), "v1.32.4");
	cJSON_Delete(t);
	cJSON_Delete(n);
}
END_TEST

START_TEST(accept_header_and_default_table)
{
	ck_assert(tbl_wanted("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;"
			     "as=Table;v=v1beta1;g=meta.k8s.io,application/json"));
	ck_assert(!tbl_wanted("application/json"));
	ck_assert(!tbl_wanted(NULL));
	ck_assert_int_eq(tbl_include_parse("Object"), TBL_INCLUDE_OBJECT);
	ck_assert_int_eq(tbl_include_parse(NULL), TBL_INCLUDE_METADATA);
	/* A descriptor without columns gets upstream's default: Name, Created At. */
	res_desc plain = { .group = "", .version = "v1", .kind = "X", .plural = "xs" };
	cJSON *o = J("{\"metadata\":{\"name\":\"a\",\"creationTimestamp\":\"2026-11-22T07:17:10Z\"}}");
	cJSON *t = tbl_render(&plain, o, TBL_INCLUDE_METADATA, 1, NULL, NULL, T0);
	ck_assert_str_eq(kc_json_get_string(t, "columnDefinitions.1.name", ""), "Created At");
	ck_assert_str_eq(kc_json_get_string(t, "columnDefinitions.1.type", ""), "date");
	ck_assert_str_eq(cell(t, 0, 1), "2026-11-22T07:17:10Z");
	cJSON_Delete(t);
	cJSON_Delete(o);
}
END_TEST

START_TEST(human_durations)
{
	static const struct {
		int64_t secs;
		const char *want;
	} cases[] = {
		{ 0, "0s" },          { 119, "119s" },     { 120, "2m" },      { 150, "2m30s" },
		{ 600, "10m" },       { 3 * 3600 - 1, "179m" }, { 3 * 3600, "3h" }, { 7 * 3600 + 60, "7h1m" },
		{ 30 * 3600, "30h" }, { 2 * 86400, "2d" }, { 9 * 86400, "9d" }, { 800 * 86400, "2y70d" },
		{ -5, "<invalid>" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *o = J("{\"metadata\":{\"creationTimestamp\":\"2026-11-22T07:17:10Z\"}}");
		char buf[32];
		res_age(o, T0 + cases[i].secs, buf, sizeof(buf));
		ck_assert_msg(!strcmp(buf, cases[i].want), "%lld s: got %s want %s",
			      (long long)cases[i].secs, buf, cases[i].want);
		cJSON_Delete(o);
	}
}
END_TEST


/* One pod row's cell col at T0 + 600 (creation at T0). */
static const char *pod_cell(const char *spec_status, int col)
{
	static char out[128];
	char js[4096];
	snprintf(js, sizeof(js),
		 "{\"metadata\":{\"name\":\"p\",\"creationTimestamp\":\"2026-11-22T07:17:10Z\"%s},%s}",
		 strstr(spec_status, "\"deleting\"") ? ",\"deletionTimestamp\":\"2026-11-22T07:20:00Z\"" : "",
		 spec_status);
	cJSON *pod = J(js);
	cJSON *cells = cJSON_CreateArray();
	res_pods.row(pod, cells, T0 + 600);
	ck_assert_int_eq(cJSON_GetArraySize(cells), 9);
	const cJSON *c = cJSON_GetArrayItem(cells, col);
	snprintf(out, sizeof(out), "%s", cJSON_IsString(c) ? c->valuestring : "?");
	cJSON_Delete(cells);
	cJSON_Delete(pod);
	return out;
}
#define STATUS(js) pod_cell((js), 2)
#define READY(js) pod_cell((js), 1)
#define RESTARTS(js) pod_cell((js), 3)

#define INIT2 "\"spec\":{\"initContainers\":[{\"name\":\"i1\"},{\"name\":\"i2\"}],\"containers\":[{\"name\":\"c\"}]},"

START_TEST(pod_status_init_containers)
{
	/* Init:N/M: the first init container done, the second running. */
	ck_assert_str_eq(STATUS(INIT2 "\"status\":{\"phase\":\"Pending\",\"initContainerStatuses\":["
			 "{\"name\":\"i1\",\"state\":{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}},"
			 "{\"name\":\"i2\",\"state\":{\"running\":{}}}],"
			 "\"containerStatuses\":[{\"name\":\"c\",\"state\":{\"waiting\":{\"reason\":\"PodInitializing\"}}}]}"),
			 "Init:1/2");
	/* Nothing started yet: Init:0/2 (waiting PodInitializing does not count as a reason). */
	ck_assert_str_eq(STATUS(INIT2 "\"status\":{\"phase\":\"Pending\",\"initContainerStatuses\":["
			 "{\"name\":\"i1\",\"state\":{\"waiting\":{\"reason\":\"PodInitializing\"}}},"
			 "{\"name\":\"i2\",\"state\":{\"waiting\":{}}}]}"),
			 "Init:0/2");
	/* A failed init container: Init:Error; without a reason Init:ExitCode:N / Init:Signal:N. */
	ck_assert_str_eq(STATUS(INIT2 "\"status\":{\"phase\":\"Failed\",\"initContainerStatuses\":["
			 "{\"name\":\"i1\",\"state\":{\"terminated\":{\"exitCode\":1,\"reason\":\"Error\"}}}]}"),
			 "Init:Error");
	ck_assert_str_eq(STATUS(INIT2 "\"status\":{\"phase\":\"Pending\",\"initContainerStatuses\":["
			 "{\"name\":\"i1\",\"state\":{\"terminated\":{\"exitCode\":3}}}]}"),
			 "Init:ExitCode:3");
	ck_assert_str_eq(STATUS(INIT2 "\"status\":{\"phase\":\"Pending\",\"initContainerStatuses\":["
			 "{\"name\":\"i1\",\"state\":{\"terminated\":{\"exitCode\":137,\"signal\":9}}}]}"),
			 "Init:Signal:9");
	/* Waiting with a reason: Init:CrashLoopBackOff, Init:ImagePullBackOff. */
	ck_assert_str_eq(STATUS(INIT2 "\"status\":{\"phase\":\"Pending\",\"initContainerStatuses\":["
			 "{\"name\":\"i1\",\"restartCount\":4,\"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}}}]}"),
			 "Init:CrashLoopBackOff");
	ck_assert_str_eq(STATUS(INIT2 "\"status\":{\"phase\":\"Pending\",\"initContainerStatuses\":["
			 "{\"name\":\"i1\",\"state\":{\"waiting\":{\"reason\":\"ImagePullBackOff\"}}}]}"),
			 "Init:ImagePullBackOff");
	/* While initialising, the init restarts are the RESTARTS column. */
	ck_assert_str_eq(RESTARTS(INIT2 "\"status\":{\"phase\":\"Pending\",\"initContainerStatuses\":["
			 "{\"name\":\"i1\",\"restartCount\":4,\"lastState\":{\"terminated\":{\"finishedAt\":\"2026-11-22T07:26:30Z\"}},"
			 "\"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}}}]}"),
			 "4 (40s ago)");
	/* All init containers done: the main container's PodInitializing shows. */
	ck_assert_str_eq(STATUS(INIT2 "\"status\":{\"phase\":\"Pending\",\"initContainerStatuses\":["
			 "{\"name\":\"i1\",\"state\":{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}},"
			 "{\"name\":\"i2\",\"state\":{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}}],"
			 "\"containerStatuses\":[{\"name\":\"c\",\"state\":{\"waiting\":{\"reason\":\"PodInitializing\"}}}]}"),
			 "PodInitializing");
}
END_TEST

#define ONE "\"spec\":{\"containers\":[{\"name\":\"a\"}]},"
#define TWO "\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]},"

START_TEST(pod_status_containers)
{
	ck_assert_str_eq(STATUS(ONE "\"status\":{\"phase\":\"Pending\"}"), "Pending");
	ck_assert_str_eq(STATUS(ONE "\"status\":{\"phase\":\"Pending\",\"containerStatuses\":["
			 "{\"name\":\"a\",\"state\":{\"waiting\":{\"reason\":\"ContainerCreating\"}}}]}"),
			 "ContainerCreating");
	ck_assert_str_eq(STATUS(ONE "\"status\":{\"phase\":\"Running\",\"containerStatuses\":["
			 "{\"name\":\"a\",\"ready\":true,\"state\":{\"running\":{}}}]}"),
			 "Running");
	ck_assert_str_eq(READY(ONE "\"status\":{\"phase\":\"Running\",\"containerStatuses\":["
			 "{\"name\":\"a\",\"ready\":true,\"state\":{\"running\":{}}}]}"),
			 "1/1");
	ck_assert_str_eq(STATUS(ONE "\"status\":{\"phase\":\"Succeeded\",\"containerStatuses\":["
			 "{\"name\":\"a\",\"state\":{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}}]}"),
			 "Completed");
	ck_assert_str_eq(STATUS(ONE "\"status\":{\"phase\":\"Failed\",\"containerStatuses\":["
			 "{\"name\":\"a\",\"state\":{\"terminated\":{\"exitCode\":1,\"reason\":\"Error\"}}}]}"),
			 "Error");
	ck_assert_str_eq(STATUS(ONE "\"status\":{\"phase\":\"Running\",\"containerStatuses\":["
			 "{\"name\":\"a\",\"state\":{\"terminated\":{\"exitCode\":2}}}]}"),
			 "ExitCode:2");
	ck_assert_str_eq(STATUS(ONE "\"status\":{\"phase\":\"Running\",\"containerStatuses\":["
			 "{\"name\":\"a\",\"state\":{\"terminated\":{\"exitCode\":143,\"signal\":15}}}]}"),
			 "Signal:15");
	/* The first container's state wins (the list is walked backwards). */
	ck_assert_str_eq(STATUS(TWO "\"status\":{\"phase\":\"Running\",\"containerStatuses\":["
			 "{\"name\":\"a\",\"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}}},"
			 "{\"name\":\"b\",\"state\":{\"waiting\":{\"reason\":\"ErrImagePull\"}}}]}"),
			 "CrashLoopBackOff");
	/* Completed next to a running container: Running when Ready, else NotReady. */
	ck_assert_str_eq(STATUS(TWO "\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}],"
			 "\"containerStatuses\":["
			 "{\"name\":\"a\",\"state\":{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}},"
			 "{\"name\":\"b\",\"ready\":true,\"state\":{\"running\":{}}}]}"),
			 "Running");
	ck_assert_str_eq(STATUS(TWO "\"status\":{\"phase\":\"Running\",\"containerStatuses\":["
			 "{\"name\":\"a\",\"state\":{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}},"
			 "{\"name\":\"b\",\"ready\":true,\"state\":{\"running\":{}}}]}"),
			 "NotReady");
	/* status.reason wins over the phase (Evicted, NodeLost). */
	ck_assert_str_eq(STATUS(ONE "\"status\":{\"phase\":\"Failed\",\"reason\":\"Evicted\"}"), "Evicted");
	ck_assert_str_eq(STATUS(ONE "\"status\":{\"phase\":\"Running\",\"reason\":\"NodeLost\"}"), "NodeLost");
	ck_assert_str_eq(STATUS(ONE "\"status\":{\"phase\":\"Pending\",\"conditions\":[{\"type\":\"PodScheduled\","
			 "\"status\":\"False\",\"reason\":\"SchedulingGated\"}]}"), "SchedulingGated");
}
END_TEST

START_TEST(pod_status_terminating)
{
	ck_assert_str_eq(STATUS(ONE "\"deleting\":1,\"status\":{\"phase\":\"Running\",\"containerStatuses\":["
			 "{\"name\":\"a\",\"ready\":true,\"state\":{\"running\":{}}}]}"),
			 "Terminating");
	/* A terminal pod being deleted keeps its status; a NodeLost one shows Unknown. */
	ck_assert_str_eq(STATUS(ONE "\"deleting\":1,\"status\":{\"phase\":\"Succeeded\",\"containerStatuses\":["
			 "{\"name\":\"a\",\"state\":{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}}]}"),
			 "Completed");
	ck_assert_str_eq(STATUS(ONE "\"deleting\":1,\"status\":{\"phase\":\"Running\",\"reason\":\"NodeLost\"}"),
			 "Unknown");
}
END_TEST

START_TEST(pod_restarts_column)
{
	/* No lastState: the bare count; with one: "(Xs ago)" from the latest finishedAt. */
	ck_assert_str_eq(RESTARTS(ONE "\"status\":{\"phase\":\"Running\",\"containerStatuses\":["
			 "{\"name\":\"a\",\"restartCount\":2,\"state\":{\"running\":{}}}]}"),
			 "2");
	ck_assert_str_eq(RESTARTS(ONE "\"status\":{\"phase\":\"Running\",\"containerStatuses\":["
			 "{\"name\":\"a\",\"restartCount\":0,\"state\":{\"running\":{}}}]}"),
			 "0");
	/* T0 + 600 = 07:27:10; the latest finish is 07:24:10 -> 3m. */
	ck_assert_str_eq(RESTARTS(TWO "\"status\":{\"phase\":\"Running\",\"containerStatuses\":["
			 "{\"name\":\"a\",\"restartCount\":2,\"lastState\":{\"terminated\":{\"finishedAt\":\"2026-11-22T07:20:10Z\"}}},"
			 "{\"name\":\"b\",\"restartCount\":1,\"lastState\":{\"terminated\":{\"finishedAt\":\"2026-11-22T07:24:10Z\"}}}]}"),
			 "3 (3m ago)");
	/* Sidecars (restartable init containers) count once initialised, and are in READY. */
	const char *side = "\"spec\":{\"initContainers\":[{\"name\":\"s\",\"restartPolicy\":\"Always\"},{\"name\":\"i\"}],"
			   "\"containers\":[{\"name\":\"a\"}]},\"status\":{\"phase\":\"Running\","
			   "\"conditions\":[{\"type\":\"Initialized\",\"status\":\"True\"}],\"initContainerStatuses\":["
			   "{\"name\":\"s\",\"restartCount\":5,\"started\":true,\"ready\":true,\"state\":{\"running\":{}},"
			   "\"lastState\":{\"terminated\":{\"finishedAt\":\"2026-11-22T07:27:00Z\"}}},"
			   "{\"name\":\"i\",\"restartCount\":7,\"state\":{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}},"
			   "\"lastState\":{\"terminated\":{\"finishedAt\":\"2026-11-22T07:18:00Z\"}}}],"
			   "\"containerStatuses\":[{\"name\":\"a\",\"restartCount\":1,\"ready\":true,\"state\":{\"running\":{}},"
			   "\"lastState\":{\"terminated\":{\"finishedAt\":\"2026-11-22T07:20:00Z\"}}}]}";
	ck_assert_str_eq(RESTARTS(side), "6 (10s ago)");
	ck_assert_str_eq(READY(side), "2/2");
	ck_assert_str_eq(STATUS(side), "Running");
}
END_TEST

static Suite *apiserver_table_suite(void)
{
	Suite *s = suite_create("apiserver_table");
	TCase *tc = tcase_create("table");
	tcase_add_test(tc, pod_table_columns_and_cells);
	tcase_add_test(tc, deployment_service_node_rows);
	tcase_add_test(tc, accept_header_and_default_table);
	tcase_add_test(tc, human_durations);
	tcase_add_test(tc, pod_status_init_containers);
	tcase_add_test(tc, pod_status_containers);
	tcase_add_test(tc, pod_status_terminating);
	tcase_add_test(tc, pod_restarts_column);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(apiserver_table_suite)
