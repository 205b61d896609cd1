/* Kubernetes watch streams: an incremental decoder of newline-delimited JSON events.
 *
 * The apiserver answers `GET ...?watch=1` with a chunked body holding one JSON object per
 * line (client-go's json framer + watch decoder):
 *
 *   {"type":"ADDED","object":{...}}\n{"type":"MODIFIED","object":{...}}\n
 *
 * Chunk boundaries are arbitrary, so kc_watch_decoder_feed() buffers a partial line until
 * its newline arrives, decodes every complete line in the chunk, and calls the callback
 * once per event in stream order. "\r\n" endings and blank lines are accepted. A line
 * longer than max_line is an error (KC_ETOOLARGE), as is a line that is not a JSON object
 * with a known "type" and an object "object" (KC_EPARSE); after an error the decoder is
 * poisoned and every later feed returns the same error (upstream closes the watch on a
 * decode error, and so must the caller).
 *
 * ERROR events carry a metav1.Status as their object; the decoder fills ev->err with the
 * KC_E* code for Status.code (410 Expired/Gone -> KC_EGONE, see kc_status_to_err()).
 * The stream itself is not stopped by an ERROR event: the callback decides.
 *
 * A streaming watch call on the HTTP client is kc_client_watch() in client.h. */
#ifndef KC_WATCH_H
#define KC_WATCH_H

#include <stddef.h>

#include <cjson/cJSON.h>

enum kc_watch_type {
	KC_WATCH_ADDED,
	KC_WATCH_MODIFIED,
	KC_WATCH_DELETED,
	KC_WATCH_BOOKMARK,
	KC_WATCH_ERROR,
};

typedef struct kc_watch_event {
	enum kc_watch_type type;
	/* The event's object (for ERROR: the Status). Owned by the decoder and freed after
	 * the callback returns, unless the callback takes it by setting ev->object = NULL. */
	cJSON *object;
	/* ERROR events only: negative KC_E* code for Status.code (KC_EHTTP if unknown). */
	int err;
} kc_watch_event;

/* Called once per decoded event. Return 0 to go on; any non-zero value stops decoding
 * and is returned by kc_watch_decoder_feed() (return a negative code by convention).
 * A stopped decoder may be fed again: the rest of the buffered chunk is kept. */
typedef int (*kc_watch_fn)(kc_watch_event *ev, void *arg);

/* Default limit for one event line (16 MiB; the apiserver's default max request body is
 * 3 MiB per object, so a line this long means a broken stream). */
#define KC_WATCH_DEFAULT_MAX_LINE ((size_t)16 << 20)

typedef struct kc_watch_decoder {
	char *buf;        /* unconsumed bytes (a partial line, or lines after a stop) */
	size_t len, cap;
	size_t max_line;
	int err;          /* sticky error, 0 while healthy */
	unsigned long events; /* events delivered so far */
} kc_watch_decoder;

/* Caller allocates; max_line 0 means KC_WATCH_DEFAULT_MAX_LINE. */
void kc_watch_decoder_init(kc_watch_decoder *d, size_t max_line);
/* Frees the buffer; the struct may be re-initialised. */
void kc_watch_decoder_close(kc_watch_decoder *d);

/* Feed len bytes (borrowed; any content, including NULs). Returns 0, the callback's
 * non-zero return, KC_ETOOLARGE, KC_EPARSE, or -ENOMEM. cb may be NULL (events dropped). */
int kc_watch_decoder_feed(kc_watch_decoder *d, const void *buf, size_t len, kc_watch_fn cb,
			  void *arg);

/* End of stream: decode a final line that had no trailing newline (client-go accepts a
 * last object without one). Returns as kc_watch_decoder_feed(). */
int kc_watch_decoder_finish(kc_watch_decoder *d, kc_watch_fn cb, void *arg);

/* Parse one event line (len bytes, no newline needed) into *ev; ev->object is then owned
 * by the caller. Returns 0 or KC_EPARSE. Exposed for tests and for other framings. */
int kc_watch_parse_event(const char *line, size_t len, kc_watch_event *ev);

/* "ADDED", "MODIFIED", ... ; "UNKNOWN" for out-of-range values. Static storage. */
const char *kc_watch_type_name(enum kc_watch_type t);

#endif
