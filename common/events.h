/* Event recorder: core/v1 Events, as client-go's tools/record (event.go, events_cache.go).
 *
 * kc_event_record builds an Event about an object and queues it; it never blocks (a
 * bounded queue of 1000, as upstream's broadcaster, drops what does not fit). A
 * background thread runs each event through the correlator and writes it to a sink:
 *
 *  - counting: an event identical to one already written (same source, involved object,
 *    type, reason and message) is not created again; the existing Event is PATCHed with
 *    count+1, the new lastTimestamp and the message (strategic merge patch), keeping its
 *    name and firstTimestamp. If the PATCH finds the Event gone (404) it is created anew.
 *  - aggregation: once 10 events that differ only by message are seen for the same
 *    source/object/type/reason within 10 minutes, further ones are folded into one
 *    Event whose message is "(combined from similar events): <latest message>", counted
 *    as above.
 *  - spam filter: per source+object token bucket, burst 25, refilled 1 every 5 minutes;
 *    events beyond it are dropped.
 *  - delivery: transport errors are retried up to 12 tries, sleeping 10 s between tries
 *    (the first sleep randomised); an error answer from the server (4xx/5xx Status) is
 *    logged and not retried.
 *
 * Time comes from an injected kc_clock_t and writes go through a small sink interface,
 * so all of it is unit-tested with a fake clock and an in-memory sink; the real sink
 * is kc_event_sink_client_new (POST/PATCH /api/v1/namespaces/<ns>/events). */
#ifndef KC_EVENTS_H
#define KC_EVENTS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "clock.h"

/* Upstream constants (events_cache.go, event.go). */
#define KC_EVENTS_LRU_SIZE 4096
#define KC_EVENTS_AGGREGATE_MAX 10
#define KC_EVENTS_AGGREGATE_INTERVAL_NS (600 * KC_NSEC_PER_SEC)
#define KC_EVENTS_SPAM_BURST 25
#define KC_EVENTS_SPAM_QPS (1.0 / 300.0)
#define KC_EVENTS_QUEUE_LEN 1000
#define KC_EVENTS_MAX_WORKERS 64
#define KC_EVENTS_MAX_TRIES 12
#define KC_EVENTS_RETRY_SLEEP_NS (10 * KC_NSEC_PER_SEC)
#define KC_EVENTS_AGGREGATE_PREFIX "(combined from similar events): "

/* Where events are written. Both calls borrow their arguments; *out (may be NULL if not
 * wanted) receives the server's copy of the Event (caller owns), used to remember its
 * resourceVersion. Return 0 or a negative code as client.h (KC_ENOTFOUND etc.; -errno
 * or KC_ETIMEOUT for transport failures, which are retried). */
typedef struct kc_event_sink kc_event_sink;
struct kc_event_sink {
	/* POST to /api/v1/namespaces/<event.metadata.namespace>/events */
	int (*create)(kc_event_sink *s, const cJSON *event, cJSON **out);
	/* strategic-merge PATCH of /api/v1/namespaces/<ns>/events/<name> */
	int (*patch)(kc_event_sink *s, const char *ns, const char *name, const cJSON *patch,
		     cJSON **out);
};

/* ---- building an Event ---- */

/* The Event for obj (borrowed): either a full object (apiVersion, kind, metadata.name,
 * .namespace, .uid, .resourceVersion) or an ObjectReference (kind, namespace, name, uid,
 * apiVersion, resourceVersion, fieldPath). As upstream's makeEvent: metadata.name is
 * "<involvedObject.name>.<hex of wall_ns>", metadata.namespace the object's namespace or
 * "default", firstTimestamp = lastTimestamp = wall_ns (RFC 3339 seconds), count 1,
 * source {component, host}, reportingComponent = component, reportingInstance = host.
 * type must be "Normal" or "Warning"; obj must name a kind and a name. Returns a new
 * tree (caller owns) or NULL with *err set (-EINVAL, -ENOMEM). host may be NULL. */
cJSON *kc_event_new(const char *component, const char *host, const cJSON *obj,
		    const char *type, const char *reason, const char *message, int64_t wall_ns,
		    int *err);

/* An ObjectReference (new tree, caller owns; NULL on -EINVAL/-ENOMEM) for obj
 * (borrowed). Objects read from list responses and informer caches usually carry no
 * kind/apiVersion (the apiserver only sets them on the list), so callers say what they
 * are: api_version and kind are used when obj lacks them (both may be NULL when obj has
 * them). fieldPath may be NULL. Pass the result to kc_event_record. */
cJSON *kc_event_object_ref(const cJSON *obj, const char *api_version, const char *kind,
			   const char *field_path);

/* metav1.Time text "2006-01-02T15:04:05Z" (UTC, seconds). buf >= 21 bytes. */
int kc_event_format_time(int64_t wall_ns, char *buf, size_t len);

/* ---- the correlator (EventCorrelator), usable on its own ---- */

typedef struct kc_event_correlator kc_event_correlator;

typedef struct kc_event_correlation {
	bool skip;     /* dropped by the spam filter: write nothing */
	cJSON *event;  /* the Event to create (or, with patch, the one being updated) */
	cJSON *patch;  /* non-NULL: PATCH event's name with this instead of creating */
	char *key;     /* cache key, for kc_event_correlator_update_state */
} kc_event_correlation;

/* clock borrowed (NULL = real). */
int kc_event_correlator_new(kc_clock_t *clock, kc_event_correlator **out);
void kc_event_correlator_free(kc_event_correlator *c);
/* Run event (taken, always) through aggregation, counting and the spam filter. res must
 * be released with kc_event_correlation_close. Returns 0, -EINVAL or -ENOMEM. */
int kc_event_correlate(kc_event_correlator *c, cJSON *event, kc_event_correlation *res);
void kc_event_correlation_close(kc_event_correlation *res);
/* Remember the server's copy (borrowed) of a written event under key (its name and
 * resourceVersion, for later patches). */
void kc_event_correlator_update_state(kc_event_correlator *c, const char *key,
				      const cJSON *server_event);

/* ---- the recorder ---- */

typedef struct kc_recorder kc_recorder;

typedef struct kc_recorder_options {
	const char *component;  /* copied; required: source.component ("kube-scheduler") */
	const char *host;       /* copied; source.host (node name), may be NULL */
	kc_event_sink *sink;    /* borrowed; required; must outlive the recorder */
	kc_clock_t *clock;      /* borrowed; NULL = real */
	int queue_len;          /* 0 = 1000 */
	int max_tries;          /* 0 = 12 */
	int64_t retry_sleep_ns; /* 0 = 10 s */
	/* delivery threads, 0 = 1 (upstream's record package delivers one event at a time;
	 * its events/v1 broadcaster, the scheduler's, one goroutine per event) */
	int workers;
} kc_recorder_options;

typedef struct kc_recorder_stats {
	uint64_t recorded;    /* accepted into the queue */
	uint64_t queue_full;  /* dropped because the queue was full */
	uint64_t spam;        /* dropped by the spam filter */
	uint64_t created, patched;
	uint64_t failed;      /* given up on (server rejected, or out of tries) */
} kc_recorder_stats;

/* Create a recorder and start its delivery threads. opts borrowed. */
int kc_recorder_new(const kc_recorder_options *opts, kc_recorder **out);
/* Stop the thread (interrupting a retry sleep) and free; events still queued are
 * dropped, call kc_recorder_flush first to deliver them. */
void kc_recorder_free(kc_recorder *r);

/* Record an event about obj (borrowed; see kc_event_new) with a printf message.
 * Returns 0 when queued; -EINVAL (bad type, obj without kind/name), -ENOSPC (queue
 * full: dropped), -ENOMEM, KC_ECLOSED. Never blocks on the network. */
int kc_event_record(kc_recorder *r, const cJSON *obj, const char *type, const char *reason,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int kc_event_vrecord(kc_recorder *r, const cJSON *obj, const char *type, const char *reason,
		     const char *fmt, va_list ap);

/* Wait (real time, at most timeout_ns) until every queued event has been handled.
 * 0 or -ETIMEDOUT. */
int kc_recorder_flush(kc_recorder *r, int64_t timeout_ns);
void kc_recorder_get_stats(kc_recorder *r, kc_recorder_stats *st);

/* ---- the real sink ---- */

struct kc_client;
/* client borrowed, must outlive the sink. Free with kc_event_sink_client_free. */
int kc_event_sink_client_new(struct kc_client *client, kc_event_sink **out);
void kc_event_sink_client_free(kc_event_sink *s);

#endif
