/* The kubelet's Node object: facts about this machine, the Node built from them (as
 * pkg/kubelet/kubelet_node_status.go + nodestatus/setters.go), registration and status
 * updates.  Prefix node_. */
#ifndef KUBELET_NODE_STATUS_H
#define KUBELET_NODE_STATUS_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "client.h"
#include "config.h"
#include "flags.h"

#define KUBELET_VERSION "v1.32.0"

typedef struct node_facts {
	char name[254];             /* node name: --hostname-override or the lower-cased hostname */
	char internal_ip[64];       /* --node-ip, or the first global IPv4 address */
	int64_t cpu_cores;
	int64_t memory_bytes;       /* MemTotal */
	int64_t ephemeral_bytes;    /* size of the filesystem holding root_dir */
	char kernel_version[128];
	char os_image[128];         /* PRETTY_NAME of /etc/os-release */
	char machine_id[64];
	char system_uuid[64];
	char boot_id[64];
	char runtime_version[128];  /* "containerd://1.6.20~ds1" from CRI Version */
} node_facts;

/* Read this machine's facts.  hostname_override / node_ip may be NULL or "".
 * root_dir: where ephemeral-storage lives (upstream --root-dir, "/var/lib/kubelet");
 * the nearest existing ancestor is measured.  Returns 0 or -errno with err set. */
int node_gather(node_facts *f, const char *hostname_override, const char *node_ip, const char *root_dir,
		char *err, size_t errlen);

/* Why the node is (not) Ready: upstream's Ready condition. */
typedef struct node_readiness {
	int ready;
	const char *reason;   /* "KubeletReady" / "KubeletNotReady" */
	const char *message;
} node_readiness;

/* Build the Node to register.  labels: "k=v" items (--node-labels); taints:
 * "key[=value]:Effect" items (--register-with-taints); both may be NULL.  now_ns is the
 * wall time for condition timestamps.  Returns a new tree (caller deletes) or NULL with
 * err set (bad label / taint syntax, names the item). */
cJSON *node_build(const node_facts *f, const kubelet_config *cfg, const kc_strlist *labels,
		  const kc_strlist *taints, const node_readiness *rd, int64_t now_ns, char *err, size_t errlen);

/* The status part only (conditions, capacity, allocatable, addresses, nodeInfo,
 * daemonEndpoints), as the status updater sends it. */
cJSON *node_build_status(const node_facts *f, const kubelet_config *cfg, const node_readiness *rd,
			 int64_t now_ns);

/* Register (POST; on AlreadyExists the existing object's status is brought up to date,
 * as tryRegisterWithAPIServer does).  node borrowed.  *uid receives the Node's uid
 * (for the Lease's ownerReference), at least 64 bytes. */
int node_register(kc_client *c, const cJSON *node, char *uid, size_t uidlen, kc_status *st);

/* Update status: GET, replace our conditions (keeping others by type, keeping
 * lastTransitionTime when the status did not change), PUT nodes/<name>/status; retried
 * on Conflict up to 5 times (nodeStatusUpdateRetry). */
int node_update_status(kc_client *c, const char *name, const cJSON *status, kc_status *st);

#endif
