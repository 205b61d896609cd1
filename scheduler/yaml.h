/* A small YAML-to-JSON-tree loader on libyaml for the scheduler's configuration file:
 * mappings, sequences and scalars (plain scalars typed as YAML 1.2 core: true/false,
 * null/~, integers, floats; quoted scalars stay strings). Anchors/aliases are rejected.
 * Only the first document is read. */
#ifndef SCHED_YAML_H
#define SCHED_YAML_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* Parse text[0..len) (borrowed). 0 and *out (caller owns) or KC_EPARSE with err set
 * ("line N: ..."), -ENOMEM. */
int sched_yaml_to_json(const char *text, size_t len, cJSON **out, char *err, size_t errlen);

#endif
