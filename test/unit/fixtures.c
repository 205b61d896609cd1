/* Helpers shared by the unit suites; see fixtures.h. */
#include "fixtures.h"

#include "json.h"
#include "kc_test.h"
#include "../../scheduler/types.h"

cJSON *fx_json(const char *s)
{
	cJSON *j = NULL;
	char err[256] = "";
	ck_assert_msg(s != NULL, "fx_json: NULL text");
	ck_assert_msg(kc_json_parse_str(s, &j, err, sizeof(err)) == 0, "%s: %s", err, s);
	return j;
}

struct sched_pod *fx_sched_pod(const char *json)
{
	cJSON *j = fx_json(json);
	char err[256] = "";
	sched_pod *p = NULL;
	int rc = sched_pod_new(j, &p, err, sizeof(err));
	cJSON_Delete(j);
	ck_assert_msg(rc == 0, "sched_pod_new: %s: %s", err, json);
	return p;
}

struct sched_node_info *fx_sched_node(const char *json)
{
	cJSON *j = fx_json(json);
	char err[256] = "";
	sched_node_info *n = NULL;
	int rc = sched_node_info_new(j, &n, err, sizeof(err));
	cJSON_Delete(j);
	ck_assert_msg(rc == 0, "sched_node_info_new: %s: %s", err, json);
	return n;
}
