/* POST /v3/watch: one HTTP/1.1 request carrying a stream of WatchRequest JSON objects,
 * answered by a long chunked stream of {"result":WatchResponse}\n messages, as etcd
 * 3.4's grpc-gateway does (docs STORE_API.md 1.3).
 *
 * Over HTTP/1.1 etcd's gateway (Go net/http) cannot write the response while the request
 * body is still open, so requests are acted on as they arrive (watches are created and
 * their messages buffered) and the response starts once the body has ended; it then
 * stays open until the client goes away. Only the first request failing to decode is an
 * HTTP error (500, gRPC code 2); a later bad object ends the reading, as the gateway's
 * reader goroutine does.
 *
 * No thread per stream: the engine's watch callback encodes each message into the
 * stream's queue and resumes the suspended MHD connection; MHD's event thread copies
 * the queue out and suspends the connection again when it is empty. A queue past
 * WS_MAX_QUEUE makes the callback refuse (-EAGAIN), so the engine parks the watcher as
 * unsynced and replays from history once the client has drained (kv_watch_resume).
 * Suspended connections are not polled by MHD, so a small reaper thread watches their
 * sockets for hang-ups (EPOLLRDHUP) and resumes them so MHD closes them and their
 * watchers are cancelled. */
#ifndef KC_STORE_WATCHSTREAM_H
#define KC_STORE_WATCHSTREAM_H

#include <stddef.h>

struct kv;
struct ws;
struct MHD_Connection;
struct MHD_Response;

#define WS_MAX_QUEUE ((size_t)8 << 20)
/* Largest single WatchRequest accepted (etcd's default gRPC receive limit). */
#define WS_MAX_REQUEST ((size_t)2 << 20)

/* A stream for one /v3/watch request on conn (borrowed; must outlive the stream).
 * NULL on ENOMEM. */
struct ws *ws_new(struct kv *kv, struct MHD_Connection *conn);
/* Feed request-body bytes (copied). Complete WatchRequests are acted on at once.
 * Returns 0, or when the stream's first request is malformed a JPB_* error with Go's
 * message in err: the caller answers 500 {"error":..,"code":2}. */
int ws_feed(struct ws *ws, const char *data, size_t len, char *err, size_t errlen);
/* The request body ended. Same returns as ws_feed (a truncated first request is
 * "unexpected EOF"). */
int ws_end_of_body(struct ws *ws, char *err, size_t errlen);
/* The streaming response to queue (headers as etcd's gateway). NULL on ENOMEM. */
struct MHD_Response *ws_response(struct ws *ws);
/* Cancel every watcher (silently) and free. Call from MHD's request-completed
 * callback. NULL is a no-op. */
void ws_free(struct ws *ws);

/* Process-wide: start the hang-up reaper (0 or -errno); mark every open stream as
 * finished and resume it so MHD can close it (server shutdown); stop the reaper. */
int ws_global_start(void);
void ws_global_shutdown(void);
void ws_global_stop(void);

#endif
