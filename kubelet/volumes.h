/* Pod volumes (pkg/volume/{emptydir,hostpath,configmap,secret,downwardapi,projected}
 * and the kubelet's volume manager, much reduced).  Prefix vol_.
 *
 * Each volume of a pod lives where upstream puts it:
 *   <root-dir>/pods/<uid>/volumes/kubernetes.io~<plugin>/<name>
 * with plugin empty-dir, configmap, secret, downward-api, projected (hostPath mounts the
 * host's path itself).  emptyDir is a directory (0777), or a tmpfs with size=sizeLimit
 * for medium Memory; secret and projected volumes are tmpfs too (upstream wraps them in a
 * memory emptyDir) so their content never touches the disk.  configMap, secret,
 * downwardAPI and projected payloads are written with the atomic writer
 * (atomic_writer.h), re-read every VOL_RESYNC_NS, and rewritten only when they changed.
 * Projected serviceAccountToken sources get a token from TokenRequest
 * (POST serviceaccounts/<sa>/token, audience, expirationSeconds, bound to the pod),
 * refreshed once 80 % of its lifetime has passed (as the kubelet's token manager).
 *
 * Per container: the CRI mounts (volumeMounts with readOnly, subPath / subPathExpr),
 * /etc/hosts (a kubelet-managed file, pods/<uid>/etc-hosts) and the termination-message
 * file (pods/<uid>/containers/<name>/<id>, mounted at terminationMessagePath).
 *
 * Teardown unmounts every mount under pods/<uid> and removes the directory.
 * Unsupported volume types (persistentVolumeClaim, nfs, csi, ...) are reported as
 * VOL_UNSUPPORTED errors naming the type; never silently skipped. */
#ifndef KUBELET_VOLUMES_H
#define KUBELET_VOLUMES_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "atomic_writer.h"
#include "pod_spec.h"

#define VOL_RESYNC_NS (10LL * 1000000000LL)
/* error code of a volume type this kubelet does not implement */
#define VOL_UNSUPPORTED (-ENOTSUP)

/* The plugin directory name of a volume ("empty-dir", "host-path", "configmap",
 * "secret", "downward-api", "projected"), or NULL for an unsupported type; *type gets the
 * volume's type field name (e.g. "persistentVolumeClaim") either way ("" if none). */
const char *vol_plugin(const cJSON *volume, const char **type);

/* <root>/pods/<uid>/volumes/kubernetes.io~<plugin>/<name>.  Length or -ENAMETOOLONG. */
int vol_path(char *buf, size_t len, const char *root_dir, const char *uid, const char *plugin, const char *name);
/* <root>/pods/<uid> */
int vol_pod_dir(char *buf, size_t len, const char *root_dir, const char *uid);

/* The payload of a configMap or secret (volume source or projection) from the object
 * (NULL: missing).  items select key->path with their own mode, else every key of data
 * (and binaryData for a configMap); mode defaults to default_mode.  Missing object or
 * key: skipped when optional, else -ENOENT with upstream's message
 * ("configmap references non-existent config key: k"). */
int vol_keys_payload(const cJSON *src, const cJSON *obj, int secret, int default_mode, aw_payload *out, char *err,
		     size_t errlen);

/* downwardAPI items: fieldRef (metadata.name, namespace, uid, labels, annotations,
 * labels['k'], annotations['k']) and resourceFieldRef (containerName required); maps are
 * written as upstream's fieldpath.FormatMap: sorted `key="value"` lines. */
int vol_downward_payload(const cJSON *items, const cJSON *pod, const pspec_podinfo *pi, int default_mode,
			 aw_payload *out, char *err, size_t errlen);

/* FormatMap of a JSON object of strings: keys sorted, `k="v"\n` with Go %q quoting.
 * Returns a malloc'd string. */
char *vol_format_map(const cJSON *map);

/* The API calls the volumes need. */
typedef struct vol_sources {
	const pspec_sources *get;   /* configMaps / secrets */
	/* POST TokenRequest for serviceaccount ns/sa; 0 with *out, else <0 with err */
	int (*token)(void *arg, const char *ns, const char *sa, const cJSON *req, cJSON **out, char *err,
		     size_t errlen);
	void *arg;
} vol_sources;

typedef struct vol_token {
	char key[320];           /* "<volume>/<source index>" */
	char *token;
	int64_t refresh_at_ns;   /* monotonic */
} vol_token;

/* The volume state of one pod (caller-allocated; vol_pod_init / vol_pod_close). */
typedef struct vol_pod {
	char root_dir[1024];
	char uid[64];
	int ready;               /* every volume was set up once */
	int no_mount;            /* fake mounter: memory/secret/projected volumes are plain
				  * directories (hollow nodes on the fake runtime, as kubemark's
				  * hollow kubelet runs on mount.NewFakeMounter) */
	int64_t next_resync_ns;  /* monotonic */
	vol_token tokens[16];
	int ntokens;
} vol_pod;

void vol_pod_init(vol_pod *vp, const char *root_dir, const char *uid);
void vol_pod_close(vol_pod *vp);

/* Set up (or refresh) every volume of pod.  now_ns monotonic.  Returns 0; VOL_UNSUPPORTED
 * with err naming the type; another negative error with err = "MountVolume.SetUp failed
 * for volume \"x\" : <why>" (the FailedMount event's message).  Refreshing an
 * already-set-up pod only rewrites what changed. */
int vol_setup(vol_pod *vp, const cJSON *pod, const pspec_podinfo *pi, const vol_sources *src, int64_t now_ns,
	      char *err, size_t errlen);

/* One CRI mount. */
typedef struct vol_mount {
	char container_path[1024];
	char host_path[2048];
	int readonly;
} vol_mount;

/* The mounts of container (volumeMounts, then /etc/hosts when etc_hosts is non-NULL
 * and the container does not mount /etc/hosts itself, then the termination-message
 * file when term_path is non-NULL).  env expands subPathExpr.  *out malloc'd (free). */
int vol_container_mounts(const vol_pod *vp, const cJSON *pod, const cJSON *container, const pspec_env *env,
			 const char *etc_hosts, const char *term_path, vol_mount **out, int *n, char *err,
			 size_t errlen);

/* The kubelet-managed /etc/hosts (kubelet_pods.go managedHostsFileContent). */
char *vol_etc_hosts_content(const cJSON *pod, const char *pod_ip, const char *cluster_domain);
/* Write it to pods/<uid>/etc-hosts; path receives the file's path. */
int vol_write_etc_hosts(const vol_pod *vp, const cJSON *pod, const char *pod_ip, const char *cluster_domain,
			char *path, size_t pathlen);
/* Create pods/<uid>/containers/<name>/<hex id> (empty, 0666) for terminationMessagePath. */
int vol_termination_file(const vol_pod *vp, const char *container, int attempt, char *path, size_t pathlen);

/* Unmount everything under pods/<uid> (deepest first) and remove the directory.
 * Returns the number of mounts that could not be unmounted (0 = clean). */
int vol_teardown(const char *root_dir, const char *uid);
/* Whether path is a mount point (listed in /proc/self/mounts). */
int vol_is_mounted(const char *path);

#endif
