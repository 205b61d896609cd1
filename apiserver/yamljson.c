/* YAML -> cJSON with libyaml's document loader; see yamljson.h. */
#include "yamljson.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "errors.h"
#include "json.h"

#define YJ_MAX_DEPTH 64

static int is_one_of(const char *s, const char *const *set)
{
	for (int i = 0; set[i]; i++)
		if (!strcmp(s, set[i]))
			return 1;
	return 0;
}

/* A plain scalar's value as go-yaml v2 resolves it. */
static cJSON *plain_scalar(const char *s)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };
	static const char *const trues[] = { "true", "True", "TRUE", "yes", "Yes", "YES",
					     "on", "On", "ON", NULL };
	static const char *const falses[] = { "false", "False", "FALSE", "no", "No", "NO",
					      "off", "Off", "OFF", NULL };
	if (is_one_of(s, nulls))
		return cJSON_CreateNull();
	if (is_one_of(s, trues))
		return cJSON_CreateTrue();
	if (is_one_of(s, falses))
		return cJSON_CreateFalse();
	char *end;
	errno = 0;
	if ((s[0] >= '0' && s[0] <= '9') || ((s[0] == '-' || s[0] == '+') && s[1] >= '0' && s[1] <= '9')) {
		long long v = strtoll(s, &end, 0);
		if (!*end && !errno && !(s[0] == '0' && s[1] >= '0' && s[1] <= '9'))
			return kc_json_new_int64(v);
		double d = strtod(s, &end);
		if (!*end && isfinite(d) && !strchr(s, 'x') && !strchr(s, 'X'))
			return cJSON_CreateNumber(d);
	}
	return cJSON_CreateString(s); /* including .inf/.nan: JSON has no such numbers */
}

static cJSON *node_json(yaml_document_t *doc, yaml_node_t *n, int depth, char *err,
			size_t errlen)
{
	if (!n || depth > YJ_MAX_DEPTH) {
		snprintf(err, errlen, "yaml: nesting too deep");
		return NULL;
	}
	switch (n->type) {
	case YAML_SCALAR_NODE: {
		const char *v = (const char *)n->data.scalar.value;
		if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
			return plain_scalar(v);
		return cJSON_CreateString(v);
	}
	case YAML_SEQUENCE_NODE: {
		cJSON *a = cJSON_CreateArray();
		for (yaml_node_item_t *it = n->data.sequence.items.start;
		     it < n->data.sequence.items.top; it++) {
			cJSON *c = node_json(doc, yaml_document_get_node(doc, *it), depth + 1, err,
					     errlen);
			if (!c) {
				cJSON_Delete(a);
				return NULL;
			}
			cJSON_AddItemToArray(a, c);
		}
		return a;
	}
	case YAML_MAPPING_NODE: {
		cJSON *o = cJSON_CreateObject();
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(doc, p->key);
			if (!k || k->type != YAML_SCALAR_NODE) {
				snprintf(err, errlen, "yaml: mapping keys must be scalars");
				cJSON_Delete(o);
				return NULL;
			}
			const char *key = (const char *)k->data.scalar.value;
			cJSON *c = node_json(doc, yaml_document_get_node(doc, p->value), depth + 1,
					     err, errlen);
			if (!c) {
				cJSON_Delete(o);
				return NULL;
			}
			/* Duplicate keys: the last wins after an error upstream; refuse. */
			if (cJSON_GetObjectItemCaseSensitive(o, key)) {
				snprintf(err, errlen, "yaml: duplicate key \"%s\"", key);
				cJSON_Delete(c);
				cJSON_Delete(o);
				return NULL;
			}
			cJSON_AddItemToObject(o, key, c);
		}
		return o;
	}
	default:
		snprintf(err, errlen, "yaml: empty node");
		return NULL;
	}
}

/* Refuses aliases before loading: libyaml's loader would share the anchored node, and a
 * nested alias chain expands exponentially when converted. */
static int has_alias(const char *buf, size_t len, char *err, size_t errlen)
{
	yaml_parser_t p;
	yaml_event_t ev;
	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	int rc = 0;
	for (;;) {
		if (!yaml_parser_parse(&p, &ev)) {
			snprintf(err, errlen, "yaml: line %zu: %s", p.problem_mark.line + 1,
				 p.problem ? p.problem : "syntax error");
			rc = KC_EPARSE;
			break;
		}
		int done = ev.type == YAML_STREAM_END_EVENT;
		if (ev.type == YAML_ALIAS_EVENT) {
			snprintf(err, errlen, "yaml: aliases are not supported");
			rc = KC_EPARSE;
			done = 1;
		}
		yaml_event_delete(&ev);
		if (done)
			break;
	}
	yaml_parser_delete(&p);
	return rc;
}

int yj_parse(const char *buf, size_t len, cJSON **out, char *err, size_t errlen)
{
	*out = NULL;
	int rc = has_alias(buf, len, err, errlen);
	if (rc)
		return rc;
	yaml_parser_t p;
	yaml_document_t doc;
	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&p, &doc)) {
		snprintf(err, errlen, "yaml: line %zu: %s", p.problem_mark.line + 1,
			 p.problem ? p.problem : "syntax error");
		yaml_parser_delete(&p);
		return KC_EPARSE;
	}
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (!root) {
		snprintf(err, errlen, "yaml: empty document");
		rc = KC_EPARSE;
	} else {
		*out = node_json(&doc, root, 0, err, errlen);
		rc = *out ? 0 : KC_EPARSE;
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&p);
	return rc;
}
