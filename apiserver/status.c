#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"

static cJSON *st_vnew(int code, const char *reason, const char *fmt, va_list ap)
{
	char msg[2048];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	cJSON *st = cJSON_CreateObject();
	cJSON_AddStringToObject(st, "kind", "Status");
	cJSON_AddStringToObject(st, "apiVersion", "v1");
	cJSON_AddObjectToObject(st, "metadata");
	cJSON_AddStringToObject(st, "status", "Failure");
	cJSON_AddStringToObject(st, "message", msg);
	if (reason && reason[0])
		cJSON_AddStringToObject(st, "reason", reason);
	cJSON_AddNumberToObject(st, "code", code);
	return st;
}

cJSON *st_new(int code, const char *reason, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cJSON *st = st_vnew(code, reason, fmt, ap);
	va_end(ap);
	return st;
}

cJSON *st_success(int code)
{
	cJSON *st = cJSON_CreateObject();
	cJSON_AddStringToObject(st, "kind", "Status");
	cJSON_AddStringToObject(st, "apiVersion", "v1");
	cJSON_AddObjectToObject(st, "metadata");
	cJSON_AddStringToObject(st, "status", "Success");
	cJSON_AddNumberToObject(st, "code", code);
	return st;
}

void st_details(cJSON *st, const char *name, const char *group, const char *kind)
{
	cJSON *d = cJSON_AddObjectToObject(st, "details");
	if (name && name[0])
		cJSON_AddStringToObject(d, "name", name);
	if (group && group[0])
		cJSON_AddStringToObject(d, "group", group);
	if (kind && kind[0])
		cJSON_AddStringToObject(d, "kind", kind);
}

int st_code(const cJSON *st)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(st, "code");
	return cJSON_IsNumber(c) ? c->valueint : 500;
}

cJSON *st_not_found(const res_desc *d, const char *name)
{
	char q[128];
	cJSON *st = st_new(404, "NotFound", "%s \"%s\" not found", res_qualified(d, q, sizeof(q)),
			   name);
	st_details(st, name, d->group, d->plural);
	return st;
}

cJSON *st_already_exists(const res_desc *d, const char *name)
{
	char q[128];
	cJSON *st = st_new(409, "AlreadyExists", "%s \"%s\" already exists",
			   res_qualified(d, q, sizeof(q)), name);
	st_details(st, name, d->group, d->plural);
	return st;
}

cJSON *st_conflict(const res_desc *d, const char *name, const char *why)
{
	char q[128];
	cJSON *st = st_new(409, "Conflict", "Operation cannot be fulfilled on %s \"%s\": %s",
			   res_qualified(d, q, sizeof(q)), name, why);
	st_details(st, name, d->group, d->plural);
	return st;
}

cJSON *st_invalid(const res_desc *d, const char *name, const res_errs *e)
{
	/* errors.NewInvalid: `Kind "name" is invalid: [a, b]` (no brackets for one cause);
	 * details.kind is the Kind, group qualified as upstream's GroupKind.String(). */
	char list[4096] = "";
	size_t off = 0;
	for (int i = 0; i < e->n && off < sizeof(list); i++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s: %s", i ? ", " : "",
					e->c[i].field, e->c[i].message);
	char gk[128];
	if (d->group[0])
		snprintf(gk, sizeof(gk), "%s.%s", d->kind, d->group);
	else
		snprintf(gk, sizeof(gk), "%s", d->kind);
	cJSON *st = e->n == 1 ? st_new(422, "Invalid", "%s \"%s\" is invalid: %s", gk, name, list)
			      : st_new(422, "Invalid", "%s \"%s\" is invalid: [%s]", gk, name, list);
	st_details(st, name, d->group, d->kind);
	cJSON *causes = cJSON_AddArrayToObject(cJSON_GetObjectItemCaseSensitive(st, "details"),
					       "causes");
	for (int i = 0; i < e->n; i++) {
		cJSON *c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "reason", e->c[i].reason);
		cJSON_AddStringToObject(c, "message", e->c[i].message);
		cJSON_AddStringToObject(c, "field", e->c[i].field);
		cJSON_AddItemToArray(causes, c);
	}
	return st;
}

cJSON *st_bad_request(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cJSON *st = st_vnew(400, "BadRequest", fmt, ap);
	va_end(ap);
	return st;
}

cJSON *st_internal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cJSON *st = st_vnew(500, "InternalError", fmt, ap);
	va_end(ap);
	return st;
}

cJSON *st_from_store(int err, const char *what)
{
	if (err == KC_ETIMEOUT || err == -ETIMEDOUT)
		return st_new(504, "Timeout", "Timeout: request did not complete within the "
					      "allotted timeout (%s)", what);
	if (err == KC_EGONE)
		return st_new(410, "Expired", "The resourceVersion for the provided %s is too old.",
			      what);
	if (err == KC_ETOOLARGE)
		return st_new(500, "InternalError", "Internal error occurred: etcdserver: "
						    "mvcc: database space exceeded");
	return st_internal("Internal error occurred: %s: %s", what, kc_strerror(err));
}
