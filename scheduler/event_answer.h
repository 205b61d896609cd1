/* What the event recorder reads of the apiserver's answer to an Event create, without
 * building the whole answer as a tree.
 *
 * Why: the scheduler writes one Scheduled Event per bound pod, and the answer (the
 * created Event, with its managedFields) was parsed into a cJSON tree only for the
 * correlator (common/events.c kc_event_correlator_update_state), which reads four of
 * its fields: count, firstTimestamp, metadata.name and metadata.resourceVersion.
 * Parsing the whole answer cost the scheduler ~5 % of its CPU per bound pod.
 *
 * sched_event_answer_summary checks that the answer is well-formed JSON (RFC 8259, as
 * strict as kc_json_parse or stricter) and returns an object with just those fields,
 * taken as kc_json_parse would give them. Whenever it cannot be sure of that (a target
 * string with an escape or a byte outside printable ASCII, a target field twice or of
 * an unexpected type, nesting deeper than SCHED_EVENT_ANSWER_MAX_DEPTH, anything
 * malformed) it returns NULL and the caller parses the answer with kc_json_parse as
 * before, so the correlator sees the same values either way. */
#ifndef SCHED_EVENT_ANSWER_H
#define SCHED_EVENT_ANSWER_H

#include <stddef.h>

#include <cjson/cJSON.h>

#define SCHED_EVENT_ANSWER_MAX_DEPTH 64

/* buf[0..len) borrowed (need not be NUL-terminated). A new object the caller owns with
 * the fields found ({"count":N,"firstTimestamp":"..","metadata":{"name":"..",
 * "resourceVersion":".."}}, each only when present), or NULL (see above, or ENOMEM). */
cJSON *sched_event_answer_summary(const char *buf, size_t len);

#endif
