/* Informer transforms (client-go's TransformFunc, kc_informer_opts.transform): the
 * scheduler's informers keep every pod and node of the cluster, so the cached objects are
 * cut down to the fields the scheduler reads, as upstream's scheduler strips
 * metadata.managedFields from everything it caches (cmd/kube-scheduler: the informer
 * factory's TransformFunc), and further: a field that no plugin, the queue, preemption
 * or the event handlers read is dropped (audit: types.c, scheduler.c, queue.c, pdb.c,
 * preemption.c and the plugins).
 *
 * Kept for pods: metadata.{name, namespace, uid, resourceVersion, labels,
 * deletionTimestamp}; spec.{nodeName, schedulerName, priority, preemptionPolicy,
 * tolerations, nodeSelector, affinity, topologySpreadConstraints, overhead} and of each
 * container and init container {image, resources.requests, restartPolicy, the ports
 * that have a hostPort}; status.{phase, startTime, nominatedNodeName}. Values the
 * readers default to anyway are dropped too: priority 0, schedulerName
 * default-scheduler, preemptionPolicy PreemptLowerPriority, a phase other than
 * Succeeded/Failed (only a terminal phase is acted on), empty objects left behind.
 * Kept for nodes: metadata.{name, uid, resourceVersion, labels};
 * spec.{unschedulable, taints}; status.{allocatable, images, conditions[].{type,
 * status}} (conditions are compared by type and status only, scheduler.c).
 *
 * What is kept is then re-allocated compactly (kc_json_parse's strings carry at least 64
 * bytes each), except metadata.resourceVersion, which the informer still reads after the
 * transform.
 *
 * All modify obj in place (borrowed); arg is unused. They never fail: on a non-object
 * they do nothing, and a member whose compact copy cannot be allocated stays as it was. */
#ifndef SCHED_TRANSFORM_H
#define SCHED_TRANSFORM_H

#include <cjson/cJSON.h>

void sched_transform_pod(cJSON *obj, void *arg);
void sched_transform_node(cJSON *obj, void *arg);
/* Only metadata.managedFields and annotations (PodDisruptionBudgets). */
void sched_transform_strip_managed(cJSON *obj, void *arg);

#endif
