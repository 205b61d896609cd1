/* Field selectors, as k8s.io/apimachinery/pkg/fields (selector.go) plus the per-kind
 * "selectable fields" of the apiserver registries (pkg/registry/<group>/<kind>/
 * strategy.go ToSelectableFields / GetAttrs, and the field label conversion
 * functions in pkg/apis/<group>/v1/conversion.go).
 *
 * String form (?fieldSelector=, kubectl --field-selector):
 *
 *   spec.nodeName=node-1,status.phase!=Running      ("==" is the same as "=")
 *
 * Terms are split on unescaped ','; each term splits at the first "!=", "==" or "="
 * (the field name has no escaping); in the value, ',', '=' and '\' must be escaped as
 * "\,", "\=", "\\". No whitespace trimming (upstream does none). Empty terms are
 * skipped, so "" is the empty selector (matches everything). Errors, as upstream:
 *   "invalid selector: 'abc'; can't understand 'abc'"
 *   "invalid field selector: invalid escape sequence: \x"
 *   "invalid field selector: unescaped character in value: ="
 * Printing gives "field=value" / "field!=value" (value re-escaped) joined by ",",
 * terms sorted by their printed text (upstream sorts the raw terms; the only
 * difference is for "==" terms, and it makes print(parse(print(x))) stable).
 *
 * Matching: a field missing from the object reads as "" (fields.Set.Get), so
 * "spec.nodeName=" selects unscheduled pods. Which fields a kind supports comes from
 * a table of getters; a field not in the table gives upstream's
 *   "field label not supported: <field>"
 * (the apiserver answers 400 BadRequest with that text).
 *
 * Ownership: const pointer arguments are borrowed. A kc_field_selector owns its
 * strings (caller allocates the struct, kc_fields_close releases). Errors: 0,
 * KC_EPARSE (syntax), KC_EINVALID (unsupported field), -ENOMEM; err/errlen as in
 * labels.h. The getter tables are static const; every function is thread-safe. */
#ifndef KC_FIELDS_H
#define KC_FIELDS_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#define KC_FIELDS_ERRLEN 1024

typedef enum kc_field_op {
	KC_FIELD_EQUALS,     /* "=" or "==" (hasTerm) */
	KC_FIELD_NOT_EQUALS, /* "!=" (notHasTerm) */
} kc_field_op;

typedef struct kc_field_requirement {
	char *field; /* e.g. "spec.nodeName" */
	kc_field_op op;
	char *value; /* unescaped */
} kc_field_requirement;

typedef struct kc_field_selector {
	kc_field_requirement *reqs; /* sorted by printed term */
	size_t nreqs;
} kc_field_selector;

/* Reads one field of an object and returns its selector value as a malloc'd string
 * (the caller frees), "" when absent; NULL only on ENOMEM. */
typedef char *(*kc_field_get_fn)(const cJSON *obj);

/* One selectable field. Either json_path (dotted, no escapes: a string is used
 * as is, true/false print as "true"/"false", integers in decimal, anything else or
 * absent is "") or fn. */
typedef struct kc_field_getter {
	const char *field;
	const char *json_path;
	kc_field_get_fn fn;
} kc_field_getter;

typedef struct kc_field_table {
	const char *kind; /* "Pod", "Event", ...; "" for the default table */
	const kc_field_getter *getters;
	size_t ngetters;
} kc_field_table;

void kc_fields_init(kc_field_selector *sel);
void kc_fields_close(kc_field_selector *sel);

/* Parse the string form; str may be NULL (= ""). *out is initialised by this call. */
int kc_fields_parse(const char *str, kc_field_selector *out, char *err, size_t errlen);
/* Canonical string; malloc'd; NULL on ENOMEM. */
char *kc_fields_string(const kc_field_selector *sel);
bool kc_fields_empty(const kc_field_selector *sel);

/* Escape / unescape one value ("a,b" <-> "a\,b"). Escape returns malloc'd text
 * (NULL on ENOMEM); unescape returns 0 and *out malloc'd, or KC_EPARSE/-ENOMEM. */
char *kc_fields_escape_value(const char *v);
int kc_fields_unescape_value(const char *v, char **out, char *err, size_t errlen);

/* The getter table for a kind name ("Pod", "Node", ...). Kinds without their own
 * table get the default one (metadata.name, metadata.namespace), as upstream's
 * DefaultMetaV1FieldSelectorConversion. NULL kind -> the default table. Never NULL. */
const kc_field_table *kc_fields_table_for_kind(const char *kind);
/* The getter for field in table, or NULL when the kind does not support it. */
const kc_field_getter *kc_fields_table_find(const kc_field_table *t, const char *field);

/* Check every field of sel is selectable for kind (done once when a request
 * arrives): 0 or KC_EINVALID with "field label not supported: <field>". */
int kc_fields_check(const kc_field_selector *sel, const char *kind, char *err,
		    size_t errlen);

/* Selector value of one field of obj: 0 and *out (malloc'd), KC_EINVALID when the
 * kind does not support field, -ENOMEM. */
int kc_fields_get(const char *kind, const cJSON *obj, const char *field, char **out);

/* Match obj (of the given kind) against sel: 1 match, 0 no match, KC_EINVALID if a
 * field is not supported for the kind (err says which), -ENOMEM. */
int kc_fields_matches(const kc_field_selector *sel, const char *kind, const cJSON *obj,
		      char *err, size_t errlen);

/* RequiresExactMatch: if sel has field=value, return true and *value (borrowed from
 * sel); lets the kubelet / watch cache index by spec.nodeName. */
bool kc_fields_requires_exact(const kc_field_selector *sel, const char *field,
			      const char **value);

#endif
