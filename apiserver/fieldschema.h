/* Known field names per kind, for fieldValidation=Strict|Warn|Ignore
 * (k8s.io/apiserver/pkg/endpoints/handlers: the strict decoder's "unknown field" errors).
 *
 * A compact schema: each type is a space-separated list of field names, a name optionally
 * followed by ":T" (an object of type T), ":[T]" (a list of T) or ":{T}" (a map of string to
 * T). A field without a type, or whose type is not in the table, is free-form: nothing under
 * it is checked, so an incomplete table can only miss unknown fields, never reject a known
 * one. */
#ifndef APISERVER_FIELDSCHEMA_H
#define APISERVER_FIELDSCHEMA_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "resource.h"

/* Checks obj (borrowed) against d's schema. Keys starting with '$' (strategic merge patch
 * directives) are skipped. Writes `unknown field "a.b", unknown field "c"` into msg (always
 * NUL-terminated, truncated if needed) and returns the number of unknown fields; 0 when all
 * are known or d has no schema. */
int fs_unknown_fields(const res_desc *d, const cJSON *obj, char *msg, size_t n);

/* Nonzero when d's kind has a schema. */
int fs_has_schema(const res_desc *d);

#endif
