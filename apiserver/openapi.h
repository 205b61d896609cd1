/* OpenAPI documents generated from the field schema (fieldschema.h) and the descriptor table:
 * /openapi/v3 (discovery of per-group-version documents), /openapi/v3/<api/v1|apis/g/v>
 * (OpenAPI 3.0 with components.schemas for every served kind), and /openapi/v2 (Swagger 2.0,
 * JSON or gnostic's protobuf), as kube-apiserver serves them (k8s.io/kube-openapi handler and
 * handler3). Definitions are named as upstream (io.k8s.api.core.v1.Pod,
 * io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta, ...) and carry
 * x-kubernetes-group-version-kind, required fields and the list/patch extensions. */
#ifndef APISERVER_OPENAPI_H
#define APISERVER_OPENAPI_H

#include <stddef.h>
#include <cjson/cJSON.h>

enum oa_flavor { OA_V2, OA_V3 };

/* Adds the definition named by table type `type` (see fs_type_get) and every definition it
 * references into defs (borrowed object: name -> schema), in flavor fl. -ENOENT for an
 * unknown type. */
int oa_add_type(cJSON *defs, const char *type, enum oa_flavor fl);

/* Documents, built from scratch (callers own the result); NULL for an unknown group/version. */
cJSON *oa_v3_root(void);
cJSON *oa_v3_gv(const char *group, const char *version);
cJSON *oa_v2(void);
/* /openapi/v2 as gnostic's openapi_v2.Document protobuf: a malloc'd buffer in *out. */
int oa_v2_proto(unsigned char **out, size_t *len);

/* A served document, built once and cached for the life of the process (the schemas never
 * change at run time). body is binary-safe; etag is upstream's: the uppercase hex SHA-512 of
 * the body. Pointers stay valid until exit. */
typedef struct oa_doc {
	const char *body;
	size_t len;
	const char *etag;
	const char *ctype;
} oa_doc;

/* path: "v3", "v3/api/v1", "v3/apis/<g>/<v>", "v2" (JSON) or "v2.pb" (protobuf).
 * 0, or -ENOENT for an unknown document, -ENOMEM. */
int oa_get(const char *path, oa_doc *doc);

#endif
