/* Mirror pods (pkg/kubelet/pod/mirror_client.go, kubelet.go's syncPod mirror handling and
 * HandlePodCleanups' deleteOrphanedMirrorPods): for every static pod a pod object in the
 * apiserver with the same name, annotation kubernetes.io/config.mirror = the static pod's
 * config hash and an ownerReference to the Node, so the cluster sees what the node runs
 * (the kubelet writes the static pod's status to it).  A missing mirror pod is created,
 * one with another hash or being deleted is deleted (and created again on the next pass),
 * and a mirror pod whose static pod is gone is deleted.  Prefix mp_. */
#ifndef KUBELET_MIRROR_POD_H
#define KUBELET_MIRROR_POD_H

#include <cjson/cJSON.h>

#include "client.h"
#include "informer.h"

/* One reconcile pass.  api, inf (the node's pods informer, synced), static_pods (array of
 * the static pods, static_pods.h) borrowed; node_uid "" skips creation (the Node is not
 * registered yet).  Returns how many API writes failed (the next pass retries). */
int mp_sync(kc_client *api, kc_informer *inf, const cJSON *static_pods, const char *node_name, const char *node_uid);

#endif
