/* resource.Quantity, as k8s.io/apimachinery/pkg/api/resource (quantity.go,
 * suffix.go, amount.go): "100m", "0.5", "1.5Gi", "256Mi", "1e3", "12k", "+1", ".5".
 *
 * Grammar: <sign>?<digits>[.<digits>] followed by a suffix: decimal SI (n u m "" k M
 * G T P E), binary SI (Ki Mi Gi Ti Pi Ei) or a decimal exponent (e3, E-2, e+5).
 * Malformed text gives upstream's errors:
 *   "quantities must match the regular expression
 *    '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
 *   "unable to parse quantity's suffix"
 *   "unable to parse numeric part of quantity"
 * Like upstream, a value is rounded up (away from zero) to 1n (10^-9) precision,
 * binary-SI values are capped at 2^63-1 in magnitude, and the quantity remembers its
 * format (decimal SI, binary SI, decimal exponent) to print in it again.
 *
 * Canonical print (Quantity.String / CanonicalizeBytes): no fractional digits, the
 * largest exponent (multiple of 3, or power of 1024) that loses nothing:
 *   "0.5" -> "500m", "1000m" -> "1", "1024Mi" -> "1Gi", "1.5Gi" -> "1536Mi",
 *   "0.1" -> "100m", "1e3" -> "1e3" (DecimalExponent stays in exponent form, as
 *   upstream: MustParse("1e3").String() == "1e3"), "12e6" -> "12e6",
 *   binary values below 1024 or not integral print as decimal SI ("512Ki"
 *   stays, "0.5Ki" -> "512", "1.1Ki" -> "1126400m").
 * Past the largest suffix upstream falls back to exponent notation: decimal SI above
 * 10^18 ("1000E" -> "1e21"), binary SI past Ei (2^70 -> "1180591620717411303424").
 * Like upstream, text that parses on the int64 fast path and is already in canonical
 * shape is kept and printed back verbatim ("+1" -> "+1", "1E3" -> "1E3", "1.G" ->
 * "1.G"); any arithmetic drops it and prints the canonical form.
 *
 * Representation and limits: a signed 128-bit count of nano-units (10^-9), so the
 * magnitude is limited to about 1.7*10^29 units; bigger decimal values are rejected
 * by kc_quantity_parse with KC_ETOOLARGE ("quantity too large") and arithmetic that
 * would leave the range returns -ERANGE, leaving the operand unchanged. (Upstream
 * switches to arbitrary precision there; no Kubernetes resource comes near it.)
 *
 * Ownership: pointer arguments are borrowed; kc_quantity is a plain value type
 * (copy it by assignment, nothing to free). */
#ifndef KC_QUANTITY_H
#define KC_QUANTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Longest canonical string plus NUL (a 39-digit mantissa, sign and suffix). */
#define KC_QUANTITY_STRMAX 64
#define KC_QUANTITY_ERRLEN 128

typedef enum kc_quantity_format {
	KC_QUANTITY_DECIMAL_SI = 0,   /* "12M", "100m", "1" */
	KC_QUANTITY_BINARY_SI,        /* "12Mi" */
	KC_QUANTITY_DECIMAL_EXPONENT, /* "12e6" */
} kc_quantity_format;

typedef struct kc_quantity {
	__int128 nano; /* value * 10^9 */
	kc_quantity_format format;
	/* The parsed text when upstream would echo it (see above), else "". Code that
	 * changes nano directly must clear it. */
	char text[32];
} kc_quantity;

/* Parse text (NUL-terminated; no surrounding whitespace allowed, as ParseQuantity).
 * 0 on success; KC_EPARSE with upstream's message; KC_ETOOLARGE beyond the range. */
int kc_quantity_parse(const char *s, kc_quantity *out, char *err, size_t errlen);

/* A quantity as it appears in JSON: a string ("500m"), or a number (500, 0.5), as
 * Quantity.UnmarshalJSON accepts both; leading/trailing spaces in a string are
 * trimmed as upstream does. JSON null -> zero. Other types: KC_EPARSE. */
int kc_quantity_from_json(const cJSON *item, kc_quantity *out, char *err, size_t errlen);

/* Constructors (NewQuantity, NewMilliQuantity, NewScaledQuantity). scaled: value *
 * 10^scale in DecimalSI; -ERANGE when out of range. */
kc_quantity kc_quantity_from_int(int64_t value, kc_quantity_format format);
kc_quantity kc_quantity_from_milli(int64_t milli, kc_quantity_format format);
int kc_quantity_from_scaled(int64_t value, int scale, kc_quantity *out);

/* Canonical text into buf (KC_QUANTITY_STRMAX is always enough). Returns the length,
 * or -ENOSPC if buf is too small (buf then holds a truncated NUL-terminated prefix). */
int kc_quantity_string(const kc_quantity *q, char *buf, size_t buflen);
/* The same as a new cJSON string item (NULL on ENOMEM). */
cJSON *kc_quantity_to_json(const kc_quantity *q);

/* -1, 0, 1 as a < b, a == b, a > b (numeric; the format is ignored). */
int kc_quantity_cmp(const kc_quantity *a, const kc_quantity *b);
int kc_quantity_cmp_int64(const kc_quantity *a, int64_t units);
bool kc_quantity_is_zero(const kc_quantity *q);
int kc_quantity_sign(const kc_quantity *q);

/* In-place arithmetic; 0 or -ERANGE (q unchanged). As upstream Add/Sub, when q is
 * zero it takes b's format. */
int kc_quantity_add(kc_quantity *q, const kc_quantity *b);
int kc_quantity_sub(kc_quantity *q, const kc_quantity *b);
int kc_quantity_mul(kc_quantity *q, int64_t k);
void kc_quantity_neg(kc_quantity *q);

/* Value(): the value in units rounded up away from zero (memory, pods, storage).
 * MilliValue(): ceil(q * 1000) away from zero (CPU). Saturate at INT64_MIN/MAX
 * instead of wrapping (upstream wraps). */
int64_t kc_quantity_value(const kc_quantity *q);
int64_t kc_quantity_milli_value(const kc_quantity *q);

#endif
