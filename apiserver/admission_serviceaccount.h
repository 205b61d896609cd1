/* The ServiceAccount admission plugin (plugin/pkg/admission/serviceaccount/admission.go),
 * create only, as upstream: a pod's spec.serviceAccountName defaults to "default", the
 * ServiceAccount must exist (403 `pods "p" is forbidden: error looking up service account
 * ns/sa: serviceaccount "sa" not found`), imagePullSecrets are copied from it when the pod
 * has none, and, unless automountServiceAccountToken is false on the pod (or, when the pod
 * leaves it unset, on the ServiceAccount), the projected `kube-api-access-<5 random>`
 * volume is added with a read-only mount at /var/run/secrets/kubernetes.io/serviceaccount
 * in every (init) container that has no mount there. Mirror pods
 * (kubernetes.io/config.mirror) are never mutated and may not reference service accounts,
 * secrets or token projections. */
#ifndef APISERVER_ADMISSION_SERVICEACCOUNT_H
#define APISERVER_ADMISSION_SERVICEACCOUNT_H

#include <cjson/cJSON.h>

#include "registry.h"
#include "satoken.h"

#define SA_TOKEN_MOUNT_PATH "/var/run/secrets/kubernetes.io/serviceaccount"
#define SA_VOLUME_PREFIX "kube-api-access-"
/* serviceaccount.WarnOnlyBoundTokenExpirationSeconds: 1 h + 7 s, so the TokenRequest
 * handler recognises the admission-made projection and extends it (warnafter). */
#define SA_WARN_ONLY_EXPIRATION SAT_WARN_ONLY_EXPIRATION

/* Runs the plugin on a new pod (borrowed, mutated in place) in namespace ns (borrowed).
 * r->sa_admission off: only the legacy defaulting (serviceAccountName "default" for
 * non-mirror pods). Returns NULL, or a Status (caller owns): 403 Forbidden as upstream. */
cJSON *adm_serviceaccount(reg *r, const char *ns, cJSON *pod);

/* --- the pure steps, exposed for unit tests (all arguments borrowed) --- */
/* shouldAutomount: the pod's automountServiceAccountToken wins, then the
 * ServiceAccount's (sa may be NULL), default true. */
int sa_should_automount(const cJSON *sa, const cJSON *pod);
/* mountServiceAccountToken: reuses a volume named kube-api-access-* when the pod has one,
 * else names it volname (copied); mounts it read-only in every init container and
 * container lacking a mount at SA_TOKEN_MOUNT_PATH and adds the projected volume only if
 * one of them needed it. */
void sa_mount_token(cJSON *pod, const char *volname);
/* The projected volume source (new cJSON owned by the caller) exactly as upstream's
 * TokenVolumeSource(): token (3607 s), kube-root-ca.crt's ca.crt, the namespace via the
 * downward API, defaultMode 420. */
cJSON *sa_token_volume_source(void);
/* Mirror-pod validation: NULL, or the forbidden reason text (static). */
const char *sa_mirror_pod_error(const cJSON *pod);

#endif
