/* REST routing: maps an authenticated HTTP request onto discovery, health, the registry
 * and watches (k8s.io/apiserver/pkg/endpoints). Transport (TLS, authn, bodies) is in
 * server.c. */
#ifndef APISERVER_API_H
#define APISERVER_API_H

#include <stddef.h>
#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "clock.h"
#include "registry.h"
#include "satoken.h"
#include "watchcache.h"

typedef struct api_ctx {
	reg *r;            /* borrowed */
	wc_set *wc;        /* borrowed */
	kc_clock_t *clock; /* borrowed */
	sat *sa_tokens;    /* borrowed, may be NULL: serviceaccounts/token answers 404 */
	char server_addr[128];
} api_ctx;

typedef struct api_req {
	struct MHD_Connection *conn; /* borrowed; query parameters are read from it */
	const char *method;
	const char *path; /* without the query string */
	const char *content_type;
	const char *accept;
	const char *body; /* may be NULL */
	size_t body_len;
} api_req;

typedef struct api_resp {
	int code;
	char *body;        /* heap (free()); NULL for a streaming response */
	size_t len;
	const char *ctype; /* static */
	struct MHD_Response *stream; /* a watch; owned until queued */
	char *warnings;    /* heap, may be NULL: one Warning header value per line */
	char *headers;     /* heap, may be NULL: extra "Name: value" lines (ETag, Location) */
	/* Labels for /metrics as upstream's: verb (GET LIST WATCH POST PUT PATCH APPLY DELETE
	 * DELETECOLLECTION, or the HTTP method outside resources), group, version, resource
	 * ("" outside resources), subresource, scope (resource, namespace, cluster). */
	char m_verb[24], m_group[64], m_version[16], m_resource[64], m_sub[32], m_scope[16];
} api_resp;

/* Fills *resp; never fails (errors become Status bodies). */
void api_handle(api_ctx *c, const api_req *q, api_resp *resp);
/* Go strconv.ParseBool truth for query flags (1 t T true TRUE True). */
int api_bool(const char *v);
/* Fill resp with a JSON body (obj taken). */
void api_json(api_resp *resp, int code, cJSON *obj, const char *ctype);

#endif
