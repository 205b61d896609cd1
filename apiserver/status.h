/* metav1.Status bodies for every error the apiserver returns, with upstream's reasons and
 * messages (k8s.io/apimachinery/pkg/api/errors/errors.go). Every function returns a new
 * cJSON object owned by the caller; the HTTP code is its "code" member (st_code). */
#ifndef APISERVER_STATUS_H
#define APISERVER_STATUS_H

#include <cjson/cJSON.h>

#include "resource.h"

/* A Failure Status with code, reason and a printf message. */
cJSON *st_new(int code, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A Success Status (deletes of collections, eviction). */
cJSON *st_success(int code);
/* details {name, group, kind}; kind is the plural resource name as upstream's
 * NewNotFound(qualifiedResource) does, except for Invalid where it is the Kind. */
void st_details(cJSON *st, const char *name, const char *group, const char *kind);
int st_code(const cJSON *st);

/* pods "x" not found / deployments.apps "x" not found */
cJSON *st_not_found(const res_desc *d, const char *name);
/* pods "x" already exists */
cJSON *st_already_exists(const res_desc *d, const char *name);
/* Operation cannot be fulfilled on pods "x": <why> */
cJSON *st_conflict(const res_desc *d, const char *name, const char *why);
#define ST_MODIFIED                                                                        \
	"the object has been modified; please apply your changes to the latest version and " \
	"try again"
/* 422: Pod "x" is invalid: [f: msg, ...] with details.causes. */
cJSON *st_invalid(const res_desc *d, const char *name, const res_errs *e);
cJSON *st_bad_request(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
cJSON *st_internal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Map a negative kubec error from the store to a Status (500 / 504 / 410 ...). */
cJSON *st_from_store(int err, const char *what);

#endif
