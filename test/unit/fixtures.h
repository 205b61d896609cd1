/* Helpers shared by the unit suites (linked into every runner, like testsrv.c). Each one
 * fails the running Check test, naming the error and the input, instead of returning an
 * error: a fixture that cannot be built is a broken test, not a case to handle. */
#ifndef KC_TEST_FIXTURES_H
#define KC_TEST_FIXTURES_H

#include <cjson/cJSON.h>

struct sched_pod;
struct sched_node_info;

/* Parses s (borrowed, NUL-terminated JSON) with kc_json_parse_str. Returns the tree,
 * owned by the caller (cJSON_Delete). */
cJSON *fx_json(const char *s);

/* A scheduler pod / node from its API object as JSON text (borrowed), through
 * sched_pod_new / sched_node_info_new. The result is owned by the caller
 * (sched_pod_free / sched_node_info_free). */
struct sched_pod *fx_sched_pod(const char *json);
struct sched_node_info *fx_sched_node(const char *json);

#endif
