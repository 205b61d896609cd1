/* KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1), the parts kubec uses:
 *
 *   apiVersion: kubescheduler.config.k8s.io/v1
 *   kind: KubeSchedulerConfiguration
 *   clientConnection: {kubeconfig: /etc/kubernetes/scheduler.conf}
 *   leaderElection: {leaderElect: true}
 *   percentageOfNodesToScore: 0
 *   profiles:
 *   - schedulerName: default-scheduler
 *     percentageOfNodesToScore: 50
 *     plugins:
 *       score:
 *         disabled: [{name: ImageLocality}]
 *         enabled: [{name: NodeResourcesFit, weight: 2}]
 *       filter:
 *         disabled: [{name: "*"}]
 *         enabled: [{name: NodeName}]
 *     pluginConfig:
 *     - name: NodeResourcesFit
 *       args:
 *         scoringStrategy:
 *           type: MostAllocated          # or LeastAllocated, RequestedToCapacityRatio
 *           resources: [{name: cpu, weight: 1}, {name: memory, weight: 1}]
 *           requestedToCapacityRatio: {shape: [{utilization: 0, score: 0}, ...]}
 *
 * Every profile starts from the default plugins; "multiPoint", "preFilter" and
 * "preScore" sets are applied to both filter and score as appropriate. Unknown plugin
 * names and unsupported apiVersions are errors naming the field. */
#ifndef SCHED_CONFIG_H
#define SCHED_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "framework.h"

#define SCHED_MAX_PROFILES 8

typedef struct sched_config {
	sched_profile profiles[SCHED_MAX_PROFILES];
	int nprofiles;
	int percentage_of_nodes_to_score; /* global, 0 = adaptive */
	bool leader_elect;
	bool leader_elect_set;
	char kubeconfig[1024];
	char lease_namespace[64];
	char lease_name[128];
} sched_config;

/* Defaults: one "default-scheduler" profile, leader election on (upstream's default),
 * Lease kube-system/kube-scheduler. */
void sched_config_default(sched_config *c);
/* Parse YAML text (borrowed) over the defaults. 0, KC_EPARSE / KC_EINVALID with err. */
int sched_config_parse(sched_config *c, const char *text, size_t len, char *err, size_t errlen);
/* Read and parse a file. */
int sched_config_load(sched_config *c, const char *path, char *err, size_t errlen);

#endif
