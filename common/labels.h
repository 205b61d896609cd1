/* Label selectors, as k8s.io/apimachinery/pkg/labels (selector.go) and
 * metav1.LabelSelectorAsSelector (pkg/apis/meta/v1/helpers.go).
 *
 * String form (the ?labelSelector= query parameter, kubectl -l):
 *
 *   app=web,tier!=db       exact match / mismatch ("==" is the same as "=")
 *   env in (prod,qa)       set inclusion     env notin (dev)    set exclusion
 *   gpu                    key exists        !gpu               key does not exist
 *   rank>3, rank<10        integer comparison (upstream's Gt/Lt)
 *
 * Whitespace (' ', '\t', '\r', '\n') separates tokens and is otherwise ignored; the
 * empty string is the empty selector, which matches everything. Keys must be
 * qualified names, values valid label values (validate.h). Errors carry upstream's
 * text, e.g.
 *   "unable to parse requirement: found '(', expected: identifier"
 *   "found ')', expected: !, identifier, or 'end of string'"
 *   "unable to parse requirement: <nil>: Invalid value: \"-abc\": name part must ..."
 * The apiserver returns such text as a 400 BadRequest.
 *
 * Printing gives upstream's canonical form: requirements sorted by key (stable),
 * values sorted, "k=v", "k==v", "k!=v", "k in (a,b)", "k notin (a,b)", "k", "!k",
 * "k>3", "k<3", joined by ",". Parsing the printed form yields the same selector.
 *
 * Labels are the metadata.labels cJSON object ({"app":"web",...}); NULL or a
 * non-object means "no labels". Non-string label values never match a value.
 *
 * Ownership: every const pointer argument is borrowed. A kc_label_selector owns its
 * strings; the caller allocates the struct, the functions below fill it, and
 * kc_selector_close() releases what they allocated. All kc_selector_* outputs are
 * left as an empty (match-everything) selector on failure, safe to close.
 * Errors: 0 on success, KC_EPARSE (string syntax or invalid key/value), KC_EINVALID
 * (LabelSelector object form), -ENOMEM. When err is non-NULL an upstream-like message
 * is written there (truncated to errlen; KC_SELECTOR_ERRLEN is enough for all).
 * No global state: every function is safe to call from any thread. */
#ifndef KC_LABELS_H
#define KC_LABELS_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#define KC_SELECTOR_ERRLEN 1024

typedef enum kc_selector_op {
	KC_SEL_IN,             /* "in"  (LabelSelector operator "In") */
	KC_SEL_NOT_IN,         /* "notin" ("NotIn") */
	KC_SEL_EQUALS,         /* "=" */
	KC_SEL_DOUBLE_EQUALS,  /* "==" */
	KC_SEL_NOT_EQUALS,     /* "!=" */
	KC_SEL_EXISTS,         /* "key" ("Exists") */
	KC_SEL_DOES_NOT_EXIST, /* "!key" ("DoesNotExist") */
	KC_SEL_GT,             /* ">" (integer) */
	KC_SEL_LT,             /* "<" (integer) */
} kc_selector_op;

typedef struct kc_label_requirement {
	char *key;
	kc_selector_op op;
	char **values; /* sorted; the string form also drops duplicates */
	size_t nvalues;
} kc_label_requirement;

typedef struct kc_label_selector {
	kc_label_requirement *reqs; /* sorted by key, stable */
	size_t nreqs;
	/* Upstream's labels.Nothing(): a nil LabelSelector object selects nothing.
	 * Prints as "" like upstream, so it does not survive a print/parse round trip. */
	bool nothing;
} kc_label_selector;

/* The empty selector (matches everything). */
void kc_selector_init(kc_label_selector *sel);
/* Release everything the selector owns and leave it empty. NULL is a no-op. */
void kc_selector_close(kc_label_selector *sel);
/* Selector matching nothing (labels.Nothing()). */
void kc_selector_init_nothing(kc_label_selector *sel);

/* Parse the string form (labels.Parse). str may be NULL (= ""). *out is initialised
 * by this call (do not pass a selector that already owns data). */
int kc_selector_parse(const char *str, kc_label_selector *out, char *err, size_t errlen);

/* Convert a LabelSelector object {"matchLabels":{..},"matchExpressions":[..]}
 * (LabelSelectorAsSelector): NULL or JSON null -> matches nothing; {} or empty
 * lists -> matches everything. Operators In, NotIn, Exists, DoesNotExist only
 * (otherwise "\"Gt\" is not a valid label selector operator"); requirement errors as
 * upstream's NewRequirement, e.g. "values: Invalid value: []string(nil): for 'in',
 * 'notin' operators, values set can't be empty". Wrong JSON types -> KC_EINVALID. */
int kc_selector_from_json(const cJSON *label_selector, kc_label_selector *out, char *err,
			  size_t errlen);

/* A NodeSelectorTerm's matchExpressions list (node affinity;
 * v1helper.NodeSelectorRequirementsAsSelector): operators In, NotIn, Exists,
 * DoesNotExist, Gt, Lt (Gt/Lt take one integer value); NULL or an empty list ->
 * matches nothing, as upstream. Errors like kc_selector_from_json, e.g.
 * "\"Foo\" is not a valid node selector operator". */
int kc_selector_from_node_selector_requirements(const cJSON *match_expressions,
						kc_label_selector *out, char *err, size_t errlen);

/* metav1validation.ValidateLabelSelector for create/update validation of a
 * LabelSelector object at field path path (e.g. "spec.selector"). Appends one
 * complete field error per problem to errs (validate.h), e.g.
 *   spec.selector.matchExpressions[0].values: Required value: must be specified when
 *   `operator` is 'In' or 'NotIn'
 *   spec.selector.matchExpressions[1].operator: Invalid value: "Gt": not a valid
 *   selector operator
 *   spec.selector.matchLabels: Invalid value: "-a": name part must consist of ...
 * NULL / JSON null is valid (upstream: a nil selector has no errors). Returns 0 or
 * KC_EINVALID. */
struct kc_verrs;
int kc_selector_validate_json(const cJSON *label_selector, const char *path,
			      struct kc_verrs *errs);

/* A plain map selector {"app":"web"} (Service spec.selector, RC spec.selector,
 * pod nodeSelector): every pair becomes key=value (labels.SelectorFromValidatedSet
 * but validated). NULL or {} -> matches everything. */
int kc_selector_from_set(const cJSON *set, kc_label_selector *out, char *err, size_t errlen);

/* Canonical string (Selector.String()); malloc'd, caller frees; NULL on ENOMEM.
 * The empty and the nothing selector both print "". */
char *kc_selector_string(const kc_label_selector *sel);

/* Does the selector match the labels object (borrowed, may be NULL)? */
bool kc_selector_matches(const kc_label_selector *sel, const cJSON *labels);
/* Same against obj's metadata.labels. */
bool kc_selector_matches_object(const kc_label_selector *sel, const cJSON *obj);

/* True for the match-everything selector (Selector.Empty()). */
bool kc_selector_empty(const kc_label_selector *sel);

/* RequiresExactMatch: if the selector pins key to a single value (=, ==, or in with
 * one value) return true and point *value (borrowed from sel) at it. */
bool kc_selector_requires_exact(const kc_label_selector *sel, const char *key,
				const char **value);

/* Validate one label key (qualified name) / value with upstream's messages joined by
 * "; ". Return 0 or KC_EINVALID. */
int kc_labels_validate_key(const char *key, char *err, size_t errlen);
int kc_labels_validate_value(const char *value, char *err, size_t errlen);

/* Operator name as in the string form ("in", "!=", ...) and as in LabelSelector
 * ("In", "NotIn", ...; NULL for operators the object form lacks). */
const char *kc_selector_op_string(kc_selector_op op);
const char *kc_selector_op_api_name(kc_selector_op op);

#endif
