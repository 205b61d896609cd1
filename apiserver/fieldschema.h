/* The field schema of every served kind: field names with their types, required fields and
 * list merge keys, following k8s.io/api v1.32 types.go. Used for fieldValidation=Strict|Warn
 * (k8s.io/apiserver/pkg/endpoints/handlers: the strict decoder's "unknown field" errors) and
 * to generate the OpenAPI v2/v3 documents (openapi.c).
 *
 * A compact schema: each type is a space-separated list of fields
 *   name[*][:TYPE]
 * '*' marks a required field (upstream's `required`). TYPE is
 *   s i32 i64 b f byte          string, int32, int64, boolean, double, base64 string
 *   ios qty time mtime any      IntOrString, Quantity, Time, MicroTime, free-form
 *   Name                        an object of the table's type Name
 *   [E] [E]@k1+k2 [E]@@         a list of E; atomic / list-map keyed by k1,k2 (strategic
 *                               merge key k1) / set (patch strategy merge)
 *   {E}                         a map of string to E
 * optionally followed by ^S, the field's patch strategy when it is not the list default
 * ("retainKeys" for DeploymentSpec.strategy, "merge,retainKeys" for PodSpec.volumes).
 * A field without a type is free-form (anything is accepted under it), so an incomplete
 * table can only miss unknown fields, never reject a known one. */
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

/* One named type of the table (all strings static). */
typedef struct fs_type {
	const char *name;   /* table key: "apps/v1.Deployment" for kinds, "PodSpec" otherwise */
	const char *def;    /* upstream definition name: "io.k8s.api.apps.v1.Deployment" */
	const char *desc;   /* short description */
	const char *fields; /* the field list (grammar above) */
} fs_type;

enum fs_kind { FS_ANY, FS_SCALAR, FS_OBJ, FS_LIST, FS_MAP };

/* One parsed field. For FS_SCALAR, elem is the scalar code ("s", "i32", ...); for FS_OBJ the
 * type name; for FS_LIST/FS_MAP the element (a scalar code, "any" or a type name). */
typedef struct fs_field {
	char name[64];
	int required;
	enum fs_kind kind;
	char elem[64];
	char keys[64]; /* FS_LIST: "" atomic, "@" set, else "k1+k2" */
	char strategy[32]; /* explicit patch strategy (^S), "" when none */
} fs_field;

/* The i-th type of the table (0-based), NULL past the end. */
const fs_type *fs_type_at(int i);
/* The type named name, NULL if unknown. */
const fs_type *fs_type_get(const char *name);
/* The root type of d's kind, NULL when d has no schema. */
const fs_type *fs_kind_type(const res_desc *d);
/* Parses the next field of *cursor (a fields string) into f and advances; 0 at the end. */
int fs_next_field(const char **cursor, fs_field *f);
/* Short description of a field of type t ("" when none is known). */
const char *fs_field_desc(const fs_type *t, const char *field);

#endif
