/* YAML -> cJSON; see yaml.h. */
#include "yaml.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "errors.h"
#include "json.h"

#define MAX_DEPTH 64

static cJSON *plain_scalar(const char *v)
{
	if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "TRUE"))
		return cJSON_CreateTrue();
	if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "FALSE"))
		return cJSON_CreateFalse();
	if (!*v || !strcmp(v, "null") || !strcmp(v, "~") || !strcmp(v, "Null") ||
	    !strcmp(v, "NULL"))
		return cJSON_CreateNull();
	char *end;
	errno = 0;
	long long i = strtoll(v, &end, 10);
	if (*end == '\0' && errno == 0 && end != v)
		return kc_json_new_int64(i);
	errno = 0;
	double d = strtod(v, &end);
	if (*end == '\0' && errno == 0 && end != v && strspn(v, "+-0123456789.eE") == strlen(v))
		return cJSON_CreateNumber(d);
	return cJSON_CreateString(v);
}

typedef struct ctx {
	yaml_parser_t p;
	char *err;
	size_t errlen;
} ctx;

static int next(ctx *c, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&c->p, ev)) {
		snprintf(c->err, c->errlen, "line %zu: %s", c->p.problem_mark.line + 1,
			 c->p.problem ? c->p.problem : "parse error");
		return KC_EPARSE;
	}
	return 0;
}

static int node(ctx *c, yaml_event_t *ev, cJSON **out, int depth);

static int collection(ctx *c, bool mapping, cJSON **out, int depth)
{
	cJSON *obj = mapping ? cJSON_CreateObject() : cJSON_CreateArray();
	if (!obj)
		return -ENOMEM;
	for (;;) {
		yaml_event_t ev;
		int rc = next(c, &ev);
		if (rc) {
			cJSON_Delete(obj);
			return rc;
		}
		if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			*out = obj;
			return 0;
		}
		if (mapping) {
			if (ev.type != YAML_SCALAR_EVENT) {
				snprintf(c->err, c->errlen, "line %zu: mapping keys must be scalars",
					 ev.start_mark.line + 1);
				yaml_event_delete(&ev);
				cJSON_Delete(obj);
				return KC_EPARSE;
			}
			char *key = strdup((const char *)ev.data.scalar.value);
			yaml_event_delete(&ev);
			if (!key) {
				cJSON_Delete(obj);
				return -ENOMEM;
			}
			cJSON *val = NULL;
			if ((rc = next(c, &ev)) == 0) {
				rc = node(c, &ev, &val, depth + 1);
			}
			if (rc) {
				free(key);
				cJSON_Delete(obj);
				return rc;
			}
			cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
			cJSON_AddItemToObject(obj, key, val);
			free(key);
		} else {
			cJSON *val = NULL;
			rc = node(c, &ev, &val, depth + 1);
			if (rc) {
				cJSON_Delete(obj);
				return rc;
			}
			cJSON_AddItemToArray(obj, val);
		}
	}
}

/* Consumes ev. */
static int node(ctx *c, yaml_event_t *ev, cJSON **out, int depth)
{
	int rc = 0;
	if (depth > MAX_DEPTH) {
		snprintf(c->err, c->errlen, "nesting too deep");
		yaml_event_delete(ev);
		return KC_EPARSE;
	}
	switch (ev->type) {
	case YAML_SCALAR_EVENT: {
		const char *v = (const char *)ev->data.scalar.value;
		*out = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? plain_scalar(v)
								       : cJSON_CreateString(v);
		rc = *out ? 0 : -ENOMEM;
		break;
	}
	case YAML_MAPPING_START_EVENT:
		yaml_event_delete(ev);
		return collection(c, true, out, depth);
	case YAML_SEQUENCE_START_EVENT:
		yaml_event_delete(ev);
		return collection(c, false, out, depth);
	case YAML_ALIAS_EVENT:
		snprintf(c->err, c->errlen, "line %zu: aliases are not supported",
			 ev->start_mark.line + 1);
		rc = KC_EPARSE;
		break;
	default:
		snprintf(c->err, c->errlen, "line %zu: unexpected YAML event",
			 ev->start_mark.line + 1);
		rc = KC_EPARSE;
	}
	yaml_event_delete(ev);
	return rc;
}

int sched_yaml_to_json(const char *text, size_t len, cJSON **out, char *err, size_t errlen)
{
	*out = NULL;
	ctx c = { .err = err, .errlen = errlen };
	if (!yaml_parser_initialize(&c.p))
		return -ENOMEM;
	yaml_parser_set_input_string(&c.p, (const unsigned char *)text, len);
	int rc = 0;
	yaml_event_t ev;
	/* stream start, document start (or stream end for empty input) */
	for (;;) {
		if ((rc = next(&c, &ev)))
			goto out;
		yaml_event_type_t t = ev.type;
		if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_START_EVENT) {
			yaml_event_delete(&ev);
			continue;
		}
		if (t == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			*out = cJSON_CreateObject();
			rc = *out ? 0 : -ENOMEM;
			goto out;
		}
		rc = node(&c, &ev, out, 0);
		goto out;
	}
out:
	yaml_parser_delete(&c.p);
	return rc;
}
