/* Static pods (pkg/kubelet/config/file.go, common.go): the manifests in staticPodPath
 * (--pod-manifest-path), one Pod per file in YAML or JSON, run by this kubelet without
 * the apiserver.  Decoded as upstream's applyDefaults: the name gets "-<nodeName>"
 * appended, the namespace defaults to "default", spec.nodeName is this node, the uid is
 * a hash of the manifest, the node and the file (so a changed file is a new pod and the
 * old one is killed), annotations kubernetes.io/config.hash (the uid),
 * kubernetes.io/config.source "file" and kubernetes.io/config.seen (when this kubelet
 * first saw it, RFC 3339 with nanoseconds), a toleration of every NoExecute taint,
 * status.phase Pending.  Hidden files (".x") are ignored, as upstream.
 *
 * The source re-reads the directory every period (upstream: fileCheckFrequency, 20 s,
 * plus inotify; here the period alone) and reports pods that appeared (removed = 0)
 * and disappeared (removed = 1).  Prefix sp_. */
#ifndef KUBELET_STATIC_PODS_H
#define KUBELET_STATIC_PODS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define SP_ANN_HASH "kubernetes.io/config.hash"
#define SP_ANN_SOURCE "kubernetes.io/config.source"
#define SP_ANN_SEEN "kubernetes.io/config.seen"
#define SP_ANN_MIRROR "kubernetes.io/config.mirror"
/* a manifest larger than this is refused (upstream reads any size; a pod is far less) */
#define SP_MAX_MANIFEST (1 << 20)

/* Decode one manifest (buf of len bytes, borrowed; YAML or JSON) read from path into a
 * Pod with the defaults above (config.seen not set: the source sets it).  0 and *out
 * (caller frees), or -EINVAL with err naming the problem ("kind must be Pod", ...). */
int sp_decode(const char *buf, size_t len, const char *path, const char *node_name, cJSON **out, char *err,
	      size_t errlen);

/* A pod from a static manifest (config.source "file")? */
int sp_is_static(const cJSON *pod);
/* A mirror pod (annotation kubernetes.io/config.mirror)? */
int sp_is_mirror(const cJSON *pod);

/* The mirror pod to create for static_pod (borrowed), as upstream's
 * mirror_client.go CreateMirrorPod: a copy with annotation config.mirror = the
 * config hash, an ownerReference to the Node (controller), without uid, resourceVersion
 * and status.  NULL on ENOMEM. */
cJSON *sp_mirror_pod(const cJSON *static_pod, const char *node_name, const char *node_uid);

typedef struct sp_source sp_source;
/* pod borrowed for the call; removed: the manifest is gone (or changed: the old uid). */
typedef void (*sp_update_fn)(const cJSON *pod, int removed, void *arg);
/* Called after every scan (mirror pods are reconciled there). */
typedef void (*sp_tick_fn)(void *arg);

/* dir and node_name copied; period_ns <= 0 means 20 s.  tick may be NULL. */
int sp_source_new(const char *dir, const char *node_name, int64_t period_ns, sp_update_fn update, sp_tick_fn tick,
		  void *arg, sp_source **out);
/* One scan of the directory now (the thread's step; tests call it): 0, or -errno when
 * the directory cannot be read (the pods known stay, as upstream keeps them). */
int sp_source_scan(sp_source *s);
int sp_source_start(sp_source *s);
/* Run the next scan now (e.g. a mirror pod was deleted).  Any thread. */
void sp_source_wake(sp_source *s);
/* A cJSON array of copies of the static pods known now (caller frees); NULL on ENOMEM. */
cJSON *sp_source_pods(sp_source *s);
/* Stop the thread and free (the pods are not reported removed).  NULL ok. */
void sp_source_free(sp_source *s);

#endif
