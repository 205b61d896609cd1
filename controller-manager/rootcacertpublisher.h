/* The root CA certificate publisher (upstream pkg/controller/certificates/
 * rootcacertpublisher, controller name root-ca-cert-publisher): every namespace has a
 * ConfigMap "kube-root-ca.crt" whose data is exactly {"ca.crt": <the cluster CA PEM>}
 * and whose annotation kubernetes.io/description says what it is for, so that pods
 * can verify the apiserver (projected service-account volumes mount it).
 *
 * Keys are namespace names. A namespace added, or updated while Active, queues it; the
 * ConfigMap being deleted or updated queues its namespace. sync: no ConfigMap in the
 * cache -> create it (NotFound and a terminating namespace are not retried); a
 * ConfigMap whose data differs (another key, an edited ca.crt) or lacks the
 * annotation -> PUT with the data replaced and the annotation set. One worker, as
 * upstream. The CA comes from --root-ca-file (validated as PEM certificates), else from
 * the kubeconfig's certificate authority. */
#ifndef CM_ROOTCACERTPUBLISHER_H
#define CM_ROOTCACERTPUBLISHER_H

#include <stddef.h>

#include "controller.h"

#define RCA_CONFIGMAP_NAME "kube-root-ca.crt"
#define RCA_KEY "ca.crt"
#define RCA_DESCRIPTION_ANNOTATION "kubernetes.io/description"
#define RCA_DESCRIPTION                                                                      \
	"Contains a CA bundle that can be used to verify the kube-apiserver when using "     \
	"internal endpoints such as the internal service IP or kubernetes.default.svc. No "   \
	"other usage is guaranteed across distributions of Kubernetes clusters."

typedef struct rca_controller {
	cm_lister *lister;   /* borrowed */
	cm_api *api;         /* borrowed */
	cm_controller *ctrl; /* NULL in unit tests */
	char *root_ca;       /* owned PEM text */
} rca_controller;

/* lister and api borrowed; ca (len bytes, PEM) copied. -EINVAL for an empty CA,
 * -ENOMEM. */
int rca_controller_init(rca_controller *rc, cm_lister *lister, cm_api *api, const void *ca,
			size_t len);
void rca_controller_close(rca_controller *rc);
/* cm_sync_fn; key is the namespace name */
int rca_sync(void *arg, const char *key);
int rca_controller_register(rca_controller *rc, cm_informers *f);
void rca_on_namespace_add(const cJSON *obj, void *arg);
void rca_on_namespace_update(const cJSON *old_obj, const cJSON *new_obj, void *arg);
void rca_on_configmap_update(const cJSON *old_obj, const cJSON *new_obj, void *arg);
void rca_on_configmap_delete(const cJSON *obj, int final_state_unknown, void *arg);

/* Read the PEM file at path into *out (malloc'd, NUL-terminated; caller frees) after
 * checking that it holds at least one X.509 certificate and nothing unparsable (as
 * upstream's readCA: certutil.ParseCertsPEM). 0, -errno, or KC_EINVALID with err set. */
int rca_read_ca_file(const char *path, char **out, size_t *len, char *err, size_t errlen);

#endif
