/* The three PATCH formats kube-apiserver accepts (staging/src/k8s.io/apiserver/pkg/
 * endpoints/handlers/patch.go): JSON merge patch (RFC 7386), JSON patch (RFC 6902) and
 * strategic merge patch (k8s.io/apimachinery/pkg/util/strategicpatch).
 *
 * All functions take the document and patch as borrowed and return a new document owned by
 * the caller in *out (NULL on error). Errors: KC_EINVALID (a well-formed patch that cannot be
 * applied, e.g. a failed "test" or a missing path: 422 in the apiserver) or KC_EPARSE (a
 * malformed patch: 400), with a message in err. */
#ifndef APISERVER_PATCH_H
#define APISERVER_PATCH_H

#include <stddef.h>
#include <cjson/cJSON.h>

int patch_merge(const cJSON *doc, const cJSON *patch, cJSON **out, char *err, size_t errlen);
int patch_json(const cJSON *doc, const cJSON *ops, cJSON **out, char *err, size_t errlen);
/* kind selects context-dependent merge keys (Service spec.ports merge on "port", container
 * ports on "containerPort"). */
int patch_strategic(const cJSON *doc, const cJSON *patch, const char *kind, cJSON **out,
		    char *err, size_t errlen);

#endif
