/* Name and label syntax checks with upstream's exact messages
 * (k8s.io/apimachinery/pkg/util/validation/validation.go and
 * pkg/api/validation/objectmeta.go).
 *
 * Each check returns 0 when the value is valid, or KC_EINVALID after appending one or
 * more messages to errs (errs may be NULL when only the verdict matters). Upstream
 * returns []string; every string becomes its own field error in the apiserver, e.g.
 *   metadata.name: Invalid value: "Foo": a lowercase RFC 1123 subdomain must consist ...
 * so the messages are kept separate here too. A kc_verrs accumulates across calls;
 * initialise it with kc_verrs_init (or = {0}). Messages that do not fit (more than
 * KC_VERRS_MAX) are counted in dropped, never written out of bounds. */
#ifndef KC_VALIDATE_H
#define KC_VALIDATE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#define KC_VERRS_MAX 8
#define KC_VERR_LEN 512

typedef struct kc_verrs {
	int n;       /* messages stored in msg[0..n) */
	int dropped; /* messages that did not fit */
	char msg[KC_VERRS_MAX][KC_VERR_LEN];
} kc_verrs;

void kc_verrs_init(kc_verrs *errs);
/* Join the messages with sep into buf (snprintf semantics; returns needed length). */
size_t kc_verrs_join(const kc_verrs *errs, const char *sep, char *buf, size_t buflen);

#define KC_DNS1123_LABEL_MAX 63
#define KC_DNS1123_SUBDOMAIN_MAX 253
#define KC_DNS1035_LABEL_MAX 63
#define KC_LABEL_VALUE_MAX 63
#define KC_QUALIFIED_NAME_MAX 63
/* apimachinery's TotalAnnotationSizeLimitB: sum of key and value bytes. */
#define KC_ANNOTATIONS_TOTAL_MAX (256 * 1024)

/* Object names of most resources (IsDNS1123Subdomain): at most 253 characters,
 * "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*". */
int kc_validate_dns1123_subdomain(const char *v, kc_verrs *errs);
/* Namespace names and similar (IsDNS1123Label): at most 63, no dots. */
int kc_validate_dns1123_label(const char *v, kc_verrs *errs);
/* Service names (IsDNS1035Label): at most 63, starts with a letter. */
int kc_validate_dns1035_label(const char *v, kc_verrs *errs);
/* Label keys and other qualified names (IsQualifiedName): optional DNS-1123 subdomain
 * prefix and '/', then a name of at most 63 of [-A-Za-z0-9_.] starting and ending
 * alphanumeric. */
int kc_validate_qualified_name(const char *v, kc_verrs *errs);
/* Label values (IsValidLabelValue): empty, or up to 63 characters like a name part. */
int kc_validate_label_value(const char *v, kc_verrs *errs);

/* A metadata.labels object (borrowed; NULL is valid): every key a qualified name,
 * every value a string and a valid label value (ValidateLabels). The messages are
 * upstream's, without the key; a caller that must name the key in a field error
 * checks keys one by one with the functions above. */
int kc_validate_labels(const cJSON *labels, kc_verrs *errs);
/* A metadata.annotations object (borrowed; NULL is valid): keys are qualified names
 * compared in lower case, values must be strings, and the total size of keys plus
 * values must not exceed 256 KiB; that failure adds the message
 * "may not be more than 262144 bytes" (upstream's field.TooLong detail, which the
 * apiserver prints as "metadata.annotations: Too long: may not be more than 262144
 * bytes"). */
int kc_validate_annotations(const cJSON *annotations, kc_verrs *errs);

#endif
