/* JSON for kubec, on top of cJSON's tree type.
 *
 * cJSON's own parser gives no error text, stores every number as a double and prints
 * large integers as 1e+15, so kubec parses and prints with its own code and keeps cJSON
 * only as the in-memory tree (cJSON_GetObjectItemCaseSensitive, cJSON_AddItemToObject,
 * cJSON_Delete ... all work on what this module returns).
 *
 * Behaviour mirrors Go's encoding/json as the apiserver uses it:
 *  - parse errors read like Go's: "invalid character 'x' looking for beginning of value",
 *    "unexpected end of JSON input", "invalid character 'x' after top-level value",
 *    always followed by " at offset N" (N = byte offset of the offending character);
 *  - duplicate object keys: the last value wins (kept at the first key's position);
 *  - invalid UTF-8 inside strings is replaced by U+FFFD, as Go does;
 *  - printing escapes <, >, & and U+2028/U+2029 as \u003c ..., as Go's json.Marshal;
 *  - integers print as integers (generation 1000000 prints "1000000", never "1e+06").
 *
 * int64 safety: an integer literal whose magnitude exceeds 2^53 (where a double stops
 * being exact) but fits int64 is kept as a cJSON_Raw item holding the literal digits;
 * kc_json_item_int64, kc_json_get_int64, kc_json_equal and the printers understand such
 * items, so they round-trip exactly. Code that walks trees by hand and wants integers
 * should call kc_json_item_int64() instead of reading valuedouble. Build such numbers
 * with kc_json_new_int64().
 *
 * Embedded NUL: a NUL byte in the input is rejected like any other control character
 * ("invalid character '\x00' ..."), and "\u0000" inside a string is rejected too
 * ("string contains NUL (\u0000), which is not supported"), because cJSON strings are
 * NUL-terminated and silently truncating a value would corrupt it.
 *
 * Paths: a dotted path such as "metadata.labels.app" names nested object members.
 * A literal dot (or backslash) inside a key is escaped with a backslash:
 * "metadata.labels.app\\.kubernetes\\.io/name" in C source (the string
 * metadata.labels.app\.kubernetes\.io/name) addresses the label key
 * "app.kubernetes.io/name". A segment made only of digits indexes an array when the
 * node at that point is an array ("spec.containers.0.image"); on objects it is a key.
 * The empty path "" names the root itself. There is no limit on the number of
 * segments; one segment may be at most KC_JSON_PATH_SEGCAP-1 bytes once unescaped.
 *
 * Ownership: every const cJSON * argument is borrowed. Returned cJSON * from the getters
 * are borrowed pointers into the tree (valid until that part of the tree is changed or
 * deleted). Strings returned by the printers are malloc'd; release them with free().
 */
#ifndef KC_JSON_H
#define KC_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Default maximum input size: kube-apiserver's MaxRequestBodyBytes (3 MiB). */
#define KC_JSON_DEFAULT_MAX ((size_t)3 * 1024 * 1024)
/* Maximum nesting of arrays/objects; deeper input is rejected with "exceeded max depth". */
#define KC_JSON_MAX_DEPTH 1000
/* Suggested size of the err buffer. */
#define KC_JSON_ERRLEN 256

/* Parse exactly one JSON value from buf[0..len). buf is borrowed and need not be
 * NUL-terminated. max limits len (0 means KC_JSON_DEFAULT_MAX). Leading/trailing
 * whitespace is allowed; anything else after the value is an error.
 * On success returns 0 and *out is a new tree the caller owns (cJSON_Delete).
 * On failure *out is NULL, err (if non-NULL, errlen > 0) receives a message, and the
 * return is KC_EPARSE (malformed), KC_ETOOLARGE (len > max; message
 * "JSON input of N bytes exceeds the limit of M bytes") or -ENOMEM. */
int kc_json_parse(const char *buf, size_t len, size_t max, cJSON **out, char *err,
		  size_t errlen);

/* kc_json_parse on a NUL-terminated string with the default limit. */
int kc_json_parse_str(const char *s, cJSON **out, char *err, size_t errlen);

/* ---- printing (results are malloc'd, caller frees with free(); NULL on ENOMEM) ---- */

/* Compact, object members in insertion order: what the apiserver sends. */
char *kc_json_print(const cJSON *item);
/* Compact with object keys sorted bytewise at every level: a canonical form, equal
 * for any two trees kc_json_equal() calls equal (as Go marshals map[string]any). */
char *kc_json_print_canonical(const cJSON *item);
/* Indented with two spaces per level, insertion order (apiserver's ?pretty=true). */
char *kc_json_print_pretty(const cJSON *item);
/* Like kc_json_print; also stores the length (excluding the NUL) in *len. */
char *kc_json_print_len(const cJSON *item, size_t *len);
/* kc_json_print_len that also stores in *mark_end the offset of the '}' closing mark (an
 * object inside item, borrowed), or 0 when mark was not printed or has no members. Lets a
 * caller derive the text of item with one more member appended to mark without printing
 * it again (the apiserver's create answer: the stored text plus resourceVersion). */
char *kc_json_print_mark(const cJSON *item, const cJSON *mark, size_t *len, size_t *mark_end);

/* ---- trees ---- */

/* Deep copy; NULL on ENOMEM or when item is NULL. Caller owns the result. */
cJSON *kc_json_dup(const cJSON *item);
/* Deep equality: object member order does not matter, array order does; numbers
 * compare by value (an int64 Raw item equals a number of the same value). Two NULLs
 * are equal. */
bool kc_json_equal(const cJSON *a, const cJSON *b);

/* A number item holding v exactly (a cJSON_Raw item if |v| > 2^53). NULL on ENOMEM. */
cJSON *kc_json_new_int64(int64_t v);
/* Read an integer item: 0 and *out set if item is a number with an integral value in
 * int64 range (or an int64 Raw item); -EINVAL if not a number or not integral;
 * -ERANGE if out of int64 range. */
int kc_json_item_int64(const cJSON *item, int64_t *out);
/* True if item is a number (cJSON_Number, or a Raw item made by this module). */
bool kc_json_is_number(const cJSON *item);
/* The number's value as a double (0 for non-numbers). */
double kc_json_number(const cJSON *item);

/* ---- paths (see the top of this file for the syntax) ---- */

/* The item at path, or NULL if any segment is missing or the path is malformed. */
cJSON *kc_json_get(const cJSON *root, const char *path);
/* Typed getters: the value at path, or def when missing or of another type.
 * kc_json_get_string returns a borrowed pointer into the tree. kc_json_get_int64
 * accepts only integral numbers (1.5 gives def). */
const char *kc_json_get_string(const cJSON *root, const char *path, const char *def);
int64_t kc_json_get_int64(const cJSON *root, const char *path, int64_t def);
bool kc_json_get_bool(const cJSON *root, const char *path, bool def);

/* Put value at path, creating missing intermediate objects and replacing whatever was
 * there. value is taken on success (left to the caller on failure). Returns 0, -ENOMEM,
 * or -EINVAL: empty/malformed path, root neither object nor array, an intermediate
 * node that exists but is not an object/array, or an array index out of range (an
 * existing element is replaced; arrays are never extended by a path). */
int kc_json_set(cJSON *root, const char *path, cJSON *value);
/* Convenience setters: s is copied. Same returns as kc_json_set. */
int kc_json_set_string(cJSON *root, const char *path, const char *s);
int kc_json_set_int64(cJSON *root, const char *path, int64_t v);
int kc_json_set_bool(cJSON *root, const char *path, bool v);
/* Remove and free the item at path. 0, or KC_ENOTFOUND if absent, -EINVAL if the
 * path is malformed. */
int kc_json_delete(cJSON *root, const char *path);

#define KC_JSON_PATH_SEGCAP 512 /* fits any qualified-name key (253+1+63) */
#define KC_JSON_PATH_MAXSEGS 32
/* Split a path into segments (unescaping "\." and "\\"). Returns the number of
 * segments (>= 0; "" gives 0), or -EINVAL for a malformed path (trailing backslash,
 * empty segment, more than max segments or a segment longer than
 * KC_JSON_PATH_SEGCAP-1). Exposed so other modules (patches, field selectors) parse
 * paths the same way. */
int kc_json_path_split(const char *path, char (*segs)[KC_JSON_PATH_SEGCAP], int max);

/* Escape key for use as one path segment ("app.kubernetes.io/name" ->
 * "app\.kubernetes\.io/name"). Returns the needed length (excluding NUL), writing at
 * most outlen bytes (always NUL-terminated when outlen > 0), like snprintf. */
size_t kc_json_path_escape(const char *key, char *out, size_t outlen);

/* Decodes one UTF-8 sequence at s (n > 0 bytes available): its length and *cp, or 0 for an
 * invalid, overlong, surrogate or truncated sequence (where Go's utf8.DecodeRune reports
 * RuneError with width 1). */
size_t kc_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

#endif
