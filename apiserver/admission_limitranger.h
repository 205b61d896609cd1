/* The LimitRanger admission plugin (plugin/pkg/admission/limitranger) for pods on create:
 * every LimitRange of the pod's namespace with an item of `type: Container` first defaults
 * the containers' missing limits (`default`) and requests (`defaultRequest`), recording
 * what it set in the `kubernetes.io/limit-ranger` annotation, then checks `min` and `max`
 * with upstream's messages. As upstream's LimitRange defaulting, an item's `max` stands in
 * for a missing `default`, and `default` (then `min`) for a missing `defaultRequest`.
 * Not done: `type: Pod` and `type: PersistentVolumeClaim` items, maxLimitRequestRatio. */
#ifndef APISERVER_ADMISSION_LIMITRANGER_H
#define APISERVER_ADMISSION_LIMITRANGER_H

#include <cjson/cJSON.h>

#include "registry.h"

/* Mutates pod (borrowed) in place. Returns NULL, or a Status the caller owns: 403 Forbidden
 * `pods "x" is forbidden: minimum cpu usage per Container is 100m, but request is 50m`
 * (several violations are listed as "[a, b]"), or 500 when LimitRanges cannot be listed. */
cJSON *adm_limitranger(reg *r, const char *ns, cJSON *pod);

#endif
