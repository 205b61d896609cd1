/* Object metadata (metav1.ObjectMeta) on a cJSON object, plus UIDs, generateName and
 * RFC 3339 times.
 *
 * The accessors mirror apimachinery's unstructured.Unstructured getters/setters:
 *  - getters never fail: a missing field reads as "" / 0 / NULL, as GetName() etc. do;
 *    returned strings and cJSON * are borrowed pointers into obj, valid until that
 *    field is changed;
 *  - string setters copy their argument and create "metadata" if needed; setting ""
 *    or NULL removes the field (as Unstructured.SetNamespace("") does);
 *  - setters return 0, -EINVAL (obj not an object, or metadata/field of a wrong type
 *    that cannot be replaced safely) or -ENOMEM.
 * obj is always the whole object ({"apiVersion":..,"kind":..,"metadata":{..}}). */
#ifndef KC_META_H
#define KC_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "clock.h"

/* ---- plain string fields of metadata ---- */
const char *kc_meta_name(const cJSON *obj);
const char *kc_meta_generate_name(const cJSON *obj);
const char *kc_meta_namespace(const cJSON *obj);
const char *kc_meta_uid(const cJSON *obj);
const char *kc_meta_resource_version(const cJSON *obj);
/* Raw RFC 3339 strings ("" when unset). */
const char *kc_meta_creation_timestamp(const cJSON *obj);
const char *kc_meta_deletion_timestamp(const cJSON *obj);

int kc_meta_set_name(cJSON *obj, const char *v);
int kc_meta_set_generate_name(cJSON *obj, const char *v);
int kc_meta_set_namespace(cJSON *obj, const char *v);
int kc_meta_set_uid(cJSON *obj, const char *v);
int kc_meta_set_resource_version(cJSON *obj, const char *v);

/* metadata.generation (0 when unset). Setting always stores the number. */
int64_t kc_meta_generation(const cJSON *obj);
int kc_meta_set_generation(cJSON *obj, int64_t v);

/* Timestamps as nanoseconds since the epoch. Getters: 0 and *ns set, KC_ENOTFOUND if
 * unset, KC_EPARSE if the stored string is not RFC 3339. Setters store metav1.Time's
 * form (UTC, whole seconds, "Z"); ns < 0 removes the field. */
int kc_meta_get_creation_time(const cJSON *obj, int64_t *ns);
int kc_meta_get_deletion_time(const cJSON *obj, int64_t *ns);
int kc_meta_set_creation_time(cJSON *obj, int64_t ns);
int kc_meta_set_deletion_time(cJSON *obj, int64_t ns);

/* ---- labels and annotations (string maps) ---- */
/* The map object, or NULL when absent. */
cJSON *kc_meta_labels(const cJSON *obj);
cJSON *kc_meta_annotations(const cJSON *obj);
/* A value, or NULL when absent (an empty value is returned as ""). */
const char *kc_meta_label(const cJSON *obj, const char *key);
const char *kc_meta_annotation(const cJSON *obj, const char *key);
/* key and value are copied; replaces an existing value. */
int kc_meta_set_label(cJSON *obj, const char *key, const char *value);
int kc_meta_set_annotation(cJSON *obj, const char *key, const char *value);
/* 0 if removed, KC_ENOTFOUND if absent. An emptied map is removed too. */
int kc_meta_remove_label(cJSON *obj, const char *key);
int kc_meta_remove_annotation(cJSON *obj, const char *key);

/* ---- ownerReferences ---- */
typedef struct kc_owner_ref {
	const char *api_version; /* e.g. "apps/v1" */
	const char *kind;        /* e.g. "ReplicaSet" */
	const char *name;
	const char *uid;
	bool controller;           /* written only when true */
	bool block_owner_deletion; /* written only when true */
} kc_owner_ref;

/* The metadata.ownerReferences array, or NULL. */
cJSON *kc_meta_owner_refs(const cJSON *obj);
/* The entry with "controller": true (metav1.GetControllerOf), or NULL. */
cJSON *kc_meta_controller_ref(const cJSON *obj);
/* Fill *out with borrowed pointers from a ownerReferences entry; -EINVAL if the entry
 * lacks apiVersion, kind, name or uid. */
int kc_meta_owner_ref_read(const cJSON *ref, kc_owner_ref *out);
/* Add ref (all strings copied). An existing entry with the same uid is replaced.
 * Returns KC_EINVALID if a required field is missing or if ref->controller is set
 * while another entry with a different uid is already the controller
 * (upstream: "Only one reference can have Controller set to true"). */
int kc_meta_add_owner_ref(cJSON *obj, const kc_owner_ref *ref);
/* Remove the entry with this uid: 0, or KC_ENOTFOUND. An emptied array is removed. */
int kc_meta_remove_owner_ref(cJSON *obj, const char *uid);
/* True if some entry has this uid. */
bool kc_meta_is_owned_by(const cJSON *obj, const char *uid);

/* ---- finalizers ---- */
bool kc_meta_has_finalizer(const cJSON *obj, const char *name);
/* Append name unless present (0 either way). */
int kc_meta_add_finalizer(cJSON *obj, const char *name);
/* Remove every occurrence: 0, or KC_ENOTFOUND. An emptied list is removed. */
int kc_meta_remove_finalizer(cJSON *obj, const char *name);

/* ---- identifiers ---- */
#define KC_UUID_LEN 36 /* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" without the NUL */

/* A random RFC 4122 version-4 UUID from clock's randomness (kc_clock_real() in
 * daemons, a kc_fake_clock in tests), lower-case hex. out needs KC_UUID_LEN+1 bytes. */
void kc_meta_uuid_v4(kc_clock_t *clock, char out[KC_UUID_LEN + 1]);

/* As apiserver's names.SimpleNameGenerator: base truncated to 58 characters followed
 * by 5 characters from "bcdfghjklmnpqrstvwxz2456789". Writes at most outlen bytes.
 * Returns 0, or -ENOSPC if outlen is too small (needs strlen(base)+6, at most 64). */
#define KC_GENERATE_NAME_MAX_BASE 58
#define KC_GENERATE_NAME_RANDOM 5
int kc_meta_generate_name_suffix(kc_clock_t *clock, const char *base, char *out,
				 size_t outlen);

/* ---- RFC 3339 times ---- */
/* Parse "2024-01-02T03:04:05Z", with optional fractional seconds (up to 9 digits are
 * kept, more are truncated) and a "Z" or "+hh:mm"/"-hh:mm" offset, as Go's
 * time.Parse(time.RFC3339, s). Returns 0 and *ns (UTC nanoseconds since the epoch),
 * or KC_EPARSE. */
int kc_meta_time_parse(const char *s, int64_t *ns);
/* Buffer size large enough for either format. */
#define KC_TIME_BUFLEN 40
/* metav1.Time: "2024-01-02T03:04:05Z" (UTC, fraction truncated). Returns the length
 * written, or -ENOSPC when buflen is too small. */
int kc_meta_time_format(int64_t ns, char *buf, size_t buflen);
/* metav1.MicroTime: "2024-01-02T03:04:05.123456Z" (always 6 digits). */
int kc_meta_microtime_format(int64_t ns, char *buf, size_t buflen);

#endif
