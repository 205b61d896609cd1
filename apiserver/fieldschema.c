/* The field schema behind fieldValidation and OpenAPI. Field lists and types follow k8s.io/api
 * v1.32 (types.go of core/v1, apps/v1, batch/v1, policy/v1, autoscaling/v1 and v2,
 * networking/v1, scheduling/v1, storage/v1, events/v1, coordination/v1, discovery/v1);
 * required fields, list-map keys and patch merge keys are upstream's struct tags
 * (`+listType=map`, `+listMapKey`, `patchMergeKey`). Deep structures (probes, affinity,
 * security contexts, volume sources, statuses) are free-form. Upstream marks a few more fields
 * required (Event.involvedObject, events.k8s.io eventTime, EndpointSlice.endpoints,
 * LimitRangeSpec.limits, ControllerRevision.revision) that Go always serializes, even empty;
 * objects written by kubec's own components may omit them when empty, and kubectl's
 * client-side validation of `kind: List` would then reject what `get -o yaml` printed. */
#include "fieldschema.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOP "apiVersion:s kind:s metadata:ObjectMeta "
#define CORE "io.k8s.api.core.v1."
#define META "io.k8s.apimachinery.pkg.apis.meta.v1."

static const fs_type fs_types[] = {
	/* ---- meta/v1 and shared core/v1 types ---- */
	{ "ObjectMeta", META "ObjectMeta",
	  "ObjectMeta is metadata that all persisted resources must have, which includes all "
	  "objects users must create.",
	  "name:s generateName:s namespace:s selfLink:s uid:s resourceVersion:s generation:i64 "
	  "creationTimestamp:time deletionTimestamp:time deletionGracePeriodSeconds:i64 "
	  "labels:{s} annotations:{s} ownerReferences:[OwnerReference]@uid finalizers:[s]@@ "
	  "managedFields:[ManagedFieldsEntry]" },
	{ "OwnerReference", META "OwnerReference",
	  "OwnerReference contains enough information to let you identify an owning object.",
	  "apiVersion*:s kind*:s name*:s uid*:s controller:b blockOwnerDeletion:b" },
	{ "ManagedFieldsEntry", META "ManagedFieldsEntry",
	  "ManagedFieldsEntry is a workflow-id, a FieldSet and the group version of the resource "
	  "that the fieldset applies to.",
	  "manager:s operation:s apiVersion:s time:time fieldsType:s fieldsV1:any subresource:s" },
	{ "LabelSelector", META "LabelSelector",
	  "A label selector is a label query over a set of resources. An empty label selector "
	  "matches all objects. A null label selector matches no objects.",
	  "matchLabels:{s} matchExpressions:[LabelSelectorRequirement]" },
	{ "LabelSelectorRequirement", META "LabelSelectorRequirement",
	  "A label selector requirement is a selector that contains values, a key, and an "
	  "operator that relates the key and values.",
	  "key*:s operator*:s values:[s]" },
	{ "LocalObjectReference", CORE "LocalObjectReference",
	  "LocalObjectReference contains enough information to let you locate the referenced "
	  "object inside the same namespace.",
	  "name:s" },
	{ "PodTemplateSpec", CORE "PodTemplateSpec",
	  "PodTemplateSpec describes the data a pod should have when created from a template",
	  "metadata:ObjectMeta spec:PodSpec" },
	{ "PodSpec", CORE "PodSpec", "PodSpec is a description of a pod.",
	  "volumes:[Volume]@name^merge,retainKeys initContainers:[Container]@name containers*:[Container]@name "
	  "ephemeralContainers:[any]@name restartPolicy:s terminationGracePeriodSeconds:i64 "
	  "activeDeadlineSeconds:i64 dnsPolicy:s nodeSelector:{s} serviceAccountName:s "
	  "serviceAccount:s automountServiceAccountToken:b nodeName:s hostNetwork:b hostPID:b "
	  "hostIPC:b shareProcessNamespace:b securityContext:any "
	  "imagePullSecrets:[LocalObjectReference]@name hostname:s subdomain:s affinity:any "
	  "schedulerName:s tolerations:[Toleration] hostAliases:[any]@ip priorityClassName:s "
	  "priority:i32 dnsConfig:any readinessGates:[any] runtimeClassName:s "
	  "enableServiceLinks:b preemptionPolicy:s overhead:{qty} "
	  "topologySpreadConstraints:[any]@topologyKey+whenUnsatisfiable setHostnameAsFQDN:b "
	  "os:any hostUsers:b schedulingGates:[any]@name resourceClaims:[any]@name "
	  "resources:ResourceRequirements" },
	{ "Container", CORE "Container",
	  "A single application container that you want to run within a pod.",
	  "name*:s image:s command:[s] args:[s] workingDir:s "
	  "ports:[ContainerPort]@containerPort+protocol envFrom:[any] env:[EnvVar]@name "
	  "resources:ResourceRequirements resizePolicy:[any] restartPolicy:s "
	  "volumeMounts:[VolumeMount]@mountPath volumeDevices:[any]@devicePath livenessProbe "
	  "readinessProbe startupProbe lifecycle terminationMessagePath:s "
	  "terminationMessagePolicy:s imagePullPolicy:s securityContext stdin:b stdinOnce:b "
	  "tty:b" },
	{ "ContainerPort", CORE "ContainerPort",
	  "ContainerPort represents a network port in a single container.",
	  "name:s hostPort:i32 containerPort*:i32 protocol:s hostIP:s" },
	{ "EnvVar", CORE "EnvVar", "EnvVar represents an environment variable present in a Container.",
	  "name*:s value:s valueFrom:any" },
	{ "ResourceRequirements", CORE "ResourceRequirements",
	  "ResourceRequirements describes the compute resource requirements.",
	  "limits:{qty} requests:{qty} claims:[any]@name" },
	{ "VolumeMount", CORE "VolumeMount",
	  "VolumeMount describes a mounting of a Volume within a container.",
	  "name*:s readOnly:b recursiveReadOnly:s mountPath*:s subPath:s mountPropagation:s "
	  "subPathExpr:s" },
	{ "Volume", CORE "Volume",
	  "Volume represents a named volume in a pod that may be accessed by any container in "
	  "the pod.",
	  "name*:s hostPath:any emptyDir:any gcePersistentDisk:any awsElasticBlockStore:any "
	  "gitRepo:any secret:any nfs:any iscsi:any glusterfs:any persistentVolumeClaim:any "
	  "rbd:any flexVolume:any cinder:any cephfs:any flocker:any downwardAPI:any fc:any "
	  "azureFile:any configMap:any vsphereVolume:any quobyte:any azureDisk:any "
	  "photonPersistentDisk:any projected:any portworxVolume:any scaleIO:any storageos:any "
	  "csi:any ephemeral:any image:any" },
	{ "Toleration", CORE "Toleration",
	  "The pod this Toleration is attached to tolerates any taint that matches the triple "
	  "<key,value,effect> using the matching operator <operator>.",
	  "key:s operator:s value:s effect:s tolerationSeconds:i64" },

	/* ---- core/v1 ---- */
	{ "v1.Pod", CORE "Pod",
	  "Pod is a collection of containers that can run on a host. This resource is created "
	  "by clients and scheduled onto hosts.",
	  TOP "spec:PodSpec status:any" },
	{ "v1.Namespace", CORE "Namespace",
	  "Namespace provides a scope for Names. Use of multiple namespaces is optional.",
	  TOP "spec:NamespaceSpec status:any" },
	{ "NamespaceSpec", CORE "NamespaceSpec",
	  "NamespaceSpec describes the attributes on a Namespace.", "finalizers:[s]" },
	{ "v1.ConfigMap", CORE "ConfigMap", "ConfigMap holds configuration data for pods to consume.",
	  TOP "data:{s} binaryData:{byte} immutable:b" },
	{ "v1.Secret", CORE "Secret",
	  "Secret holds secret data of a certain type. The total bytes of the values in the Data "
	  "field must be less than MaxSecretSize bytes.",
	  TOP "data:{byte} stringData:{s} type:s immutable:b" },
	{ "v1.ServiceAccount", CORE "ServiceAccount",
	  "ServiceAccount binds together: a name, understood by users, and perhaps by "
	  "peripheral systems, for an identity; a principal that can be authenticated and "
	  "authorized; a set of secrets",
	  TOP "secrets:[any]@name imagePullSecrets:[LocalObjectReference] "
	      "automountServiceAccountToken:b" },
	{ "v1.Service", CORE "Service",
	  "Service is a named abstraction of software service (for example, mysql) consisting "
	  "of local port (for example 3306) that the proxy listens on, and the selector that "
	  "determines which pods will answer requests sent through the proxy.",
	  TOP "spec:ServiceSpec status:any" },
	{ "ServiceSpec", CORE "ServiceSpec",
	  "ServiceSpec describes the attributes that a user creates on a service.",
	  "ports:[ServicePort]@port+protocol selector:{s} clusterIP:s clusterIPs:[s] type:s "
	  "externalIPs:[s] sessionAffinity:s loadBalancerIP:s loadBalancerSourceRanges:[s] "
	  "externalName:s externalTrafficPolicy:s healthCheckNodePort:i32 "
	  "publishNotReadyAddresses:b sessionAffinityConfig:any ipFamilies:[s] "
	  "ipFamilyPolicy:s allocateLoadBalancerNodePorts:b loadBalancerClass:s "
	  "internalTrafficPolicy:s trafficDistribution:s" },
	{ "ServicePort", CORE "ServicePort", "ServicePort contains information on service's port.",
	  "name:s protocol:s appProtocol:s port*:i32 targetPort:ios nodePort:i32" },
	{ "v1.Endpoints", CORE "Endpoints",
	  "Endpoints is a collection of endpoints that implement the actual service.",
	  TOP "subsets:[any]" },
	{ "v1.Node", CORE "Node",
	  "Node is a worker node in Kubernetes. Each node will have a unique identifier in the "
	  "cache (i.e. in etcd).",
	  TOP "spec:NodeSpec status:any" },
	{ "NodeSpec", CORE "NodeSpec",
	  "NodeSpec describes the attributes that a node is created with.",
	  "podCIDR:s podCIDRs:[s]@@ providerID:s unschedulable:b taints:[Taint] "
	  "configSource:any externalID:s" },
	{ "Taint", CORE "Taint",
	  "The node this Taint is attached to has the \"effect\" on any pod that does not "
	  "tolerate the Taint.",
	  "key*:s value:s effect*:s timeAdded:time" },
	{ "v1.Event", CORE "Event",
	  "Event is a report of an event somewhere in the cluster.",
	  TOP "involvedObject:any reason:s message:s source:any firstTimestamp:time "
	      "lastTimestamp:time count:i32 type:s eventTime:mtime series:any action:s "
	      "related:any reportingComponent:s reportingInstance:s" },
	{ "v1.PersistentVolume", CORE "PersistentVolume",
	  "PersistentVolume (PV) is a storage resource provisioned by an administrator.",
	  TOP "spec:any status:any" },
	{ "v1.PersistentVolumeClaim", CORE "PersistentVolumeClaim",
	  "PersistentVolumeClaim is a user's request for and claim to a persistent volume",
	  TOP "spec:PersistentVolumeClaimSpec status:any" },
	{ "PersistentVolumeClaimSpec", CORE "PersistentVolumeClaimSpec",
	  "PersistentVolumeClaimSpec describes the common attributes of storage devices and "
	  "allows a Source for provider-specific attributes",
	  "accessModes:[s] selector:LabelSelector resources:VolumeResourceRequirements "
	  "storageClassName:s volumeMode:s volumeName:s dataSource:any dataSourceRef:any "
	  "volumeAttributesClassName:s" },
	{ "VolumeResourceRequirements", CORE "VolumeResourceRequirements",
	  "VolumeResourceRequirements describes the storage resource requirements for a volume.",
	  "limits:{qty} requests:{qty}" },
	{ "v1.ResourceQuota", CORE "ResourceQuota",
	  "ResourceQuota sets aggregate quota restrictions enforced per namespace",
	  TOP "spec:ResourceQuotaSpec status:any" },
	{ "ResourceQuotaSpec", CORE "ResourceQuotaSpec",
	  "ResourceQuotaSpec defines the desired hard limits to enforce for Quota.",
	  "hard:{qty} scopes:[s] scopeSelector:any" },
	{ "v1.LimitRange", CORE "LimitRange",
	  "LimitRange sets resource usage limits for each kind of resource in a Namespace.",
	  TOP "spec:LimitRangeSpec" },
	{ "LimitRangeSpec", CORE "LimitRangeSpec",
	  "LimitRangeSpec defines a min/max usage limit for resources that match on kind.",
	  "limits:[LimitRangeItem]" },
	{ "LimitRangeItem", CORE "LimitRangeItem",
	  "LimitRangeItem defines a min/max usage limit for any resource that matches on kind.",
	  "type*:s max:{qty} min:{qty} default:{qty} defaultRequest:{qty} "
	  "maxLimitRequestRatio:{qty}" },

	/* ---- apps/v1 ---- */
	{ "apps/v1.Deployment", "io.k8s.api.apps.v1.Deployment",
	  "Deployment enables declarative updates for Pods and ReplicaSets.",
	  TOP "spec:DeploymentSpec status:any" },
	{ "DeploymentSpec", "io.k8s.api.apps.v1.DeploymentSpec",
	  "DeploymentSpec is the specification of the desired behavior of the Deployment.",
	  "replicas:i32 selector*:LabelSelector template*:PodTemplateSpec "
	  "strategy:DeploymentStrategy^retainKeys minReadySeconds:i32 revisionHistoryLimit:i32 paused:b "
	  "progressDeadlineSeconds:i32" },
	{ "DeploymentStrategy", "io.k8s.api.apps.v1.DeploymentStrategy",
	  "DeploymentStrategy describes how to replace existing pods with new ones.",
	  "type:s rollingUpdate:RollingUpdateDeployment" },
	{ "RollingUpdateDeployment", "io.k8s.api.apps.v1.RollingUpdateDeployment",
	  "Spec to control the desired behavior of rolling update.",
	  "maxUnavailable:ios maxSurge:ios" },
	{ "apps/v1.ReplicaSet", "io.k8s.api.apps.v1.ReplicaSet",
	  "ReplicaSet ensures that a specified number of pod replicas are running at any given "
	  "time.",
	  TOP "spec:ReplicaSetSpec status:any" },
	{ "ReplicaSetSpec", "io.k8s.api.apps.v1.ReplicaSetSpec",
	  "ReplicaSetSpec is the specification of a ReplicaSet.",
	  "replicas:i32 minReadySeconds:i32 selector*:LabelSelector template:PodTemplateSpec" },
	{ "apps/v1.StatefulSet", "io.k8s.api.apps.v1.StatefulSet",
	  "StatefulSet represents a set of pods with consistent identities.",
	  TOP "spec:StatefulSetSpec status:any" },
	{ "StatefulSetSpec", "io.k8s.api.apps.v1.StatefulSetSpec",
	  "A StatefulSetSpec is the specification of a StatefulSet.",
	  "replicas:i32 selector*:LabelSelector template*:PodTemplateSpec "
	  "volumeClaimTemplates:[any] serviceName:s podManagementPolicy:s updateStrategy:any "
	  "revisionHistoryLimit:i32 minReadySeconds:i32 persistentVolumeClaimRetentionPolicy:any "
	  "ordinals:any" },
	{ "apps/v1.DaemonSet", "io.k8s.api.apps.v1.DaemonSet",
	  "DaemonSet represents the configuration of a daemon set.",
	  TOP "spec:DaemonSetSpec status:any" },
	{ "DaemonSetSpec", "io.k8s.api.apps.v1.DaemonSetSpec",
	  "DaemonSetSpec is the specification of a daemon set.",
	  "selector*:LabelSelector template*:PodTemplateSpec updateStrategy:any "
	  "minReadySeconds:i32 revisionHistoryLimit:i32" },
	{ "apps/v1.ControllerRevision", "io.k8s.api.apps.v1.ControllerRevision",
	  "ControllerRevision implements an immutable snapshot of state data.",
	  TOP "data:any revision:i64" },

	/* ---- batch/v1 ---- */
	{ "batch/v1.Job", "io.k8s.api.batch.v1.Job",
	  "Job represents the configuration of a single job.", TOP "spec:JobSpec status:any" },
	{ "JobSpec", "io.k8s.api.batch.v1.JobSpec",
	  "JobSpec describes how the job execution will look like.",
	  "parallelism:i32 completions:i32 activeDeadlineSeconds:i64 podFailurePolicy:any "
	  "successPolicy:any backoffLimit:i32 backoffLimitPerIndex:i32 maxFailedIndexes:i32 "
	  "selector:LabelSelector manualSelector:b template*:PodTemplateSpec "
	  "ttlSecondsAfterFinished:i32 completionMode:s suspend:b podReplacementPolicy:s "
	  "managedBy:s" },
	{ "batch/v1.CronJob", "io.k8s.api.batch.v1.CronJob",
	  "CronJob represents the configuration of a single cron job.",
	  TOP "spec:CronJobSpec status:any" },
	{ "CronJobSpec", "io.k8s.api.batch.v1.CronJobSpec",
	  "CronJobSpec describes how the job execution will look like and when it will actually "
	  "run.",
	  "schedule*:s timeZone:s startingDeadlineSeconds:i64 concurrencyPolicy:s suspend:b "
	  "jobTemplate*:JobTemplateSpec successfulJobsHistoryLimit:i32 "
	  "failedJobsHistoryLimit:i32" },
	{ "JobTemplateSpec", "io.k8s.api.batch.v1.JobTemplateSpec",
	  "JobTemplateSpec describes the data a Job should have when created from a template",
	  "metadata:ObjectMeta spec:JobSpec" },

	/* ---- other groups ---- */
	{ "coordination.k8s.io/v1.Lease", "io.k8s.api.coordination.v1.Lease",
	  "Lease defines a lease concept.", TOP "spec:LeaseSpec" },
	{ "LeaseSpec", "io.k8s.api.coordination.v1.LeaseSpec",
	  "LeaseSpec is a specification of a Lease.",
	  "acquireTime:mtime holderIdentity:s leaseDurationSeconds:i32 leaseTransitions:i32 "
	  "renewTime:mtime preferredHolder:s strategy:s" },
	{ "discovery.k8s.io/v1.EndpointSlice", "io.k8s.api.discovery.v1.EndpointSlice",
	  "EndpointSlice represents a subset of the endpoints that implement a service.",
	  TOP "addressType*:s endpoints:[any] ports:[any]" },
	{ "policy/v1.PodDisruptionBudget", "io.k8s.api.policy.v1.PodDisruptionBudget",
	  "PodDisruptionBudget is an object to define the max disruption that can be caused to "
	  "a collection of pods",
	  TOP "spec:PodDisruptionBudgetSpec status:any" },
	{ "PodDisruptionBudgetSpec", "io.k8s.api.policy.v1.PodDisruptionBudgetSpec",
	  "PodDisruptionBudgetSpec is a description of a PodDisruptionBudget.",
	  "minAvailable:ios selector:LabelSelector maxUnavailable:ios "
	  "unhealthyPodEvictionPolicy:s" },
	{ "autoscaling/v2.HorizontalPodAutoscaler", "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
	  "HorizontalPodAutoscaler is the configuration for a horizontal pod autoscaler, which "
	  "automatically manages the replica count of any resource implementing the scale "
	  "subresource based on the metrics specified.",
	  TOP "spec:HPAv2Spec status:any" },
	{ "HPAv2Spec", "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec",
	  "HorizontalPodAutoscalerSpec describes the desired functionality of the "
	  "HorizontalPodAutoscaler.",
	  "scaleTargetRef*:CrossVersionObjectReferenceV2 minReplicas:i32 maxReplicas*:i32 "
	  "metrics:[any] behavior:any" },
	{ "CrossVersionObjectReferenceV2", "io.k8s.api.autoscaling.v2.CrossVersionObjectReference",
	  "CrossVersionObjectReference contains enough information to let you identify the "
	  "referred resource.",
	  "kind*:s name*:s apiVersion:s" },
	{ "autoscaling/v1.HorizontalPodAutoscaler", "io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler",
	  "configuration of a horizontal pod autoscaler.", TOP "spec:HPAv1Spec status:any" },
	{ "HPAv1Spec", "io.k8s.api.autoscaling.v1.HorizontalPodAutoscalerSpec",
	  "specification of a horizontal pod autoscaler.",
	  "scaleTargetRef*:CrossVersionObjectReferenceV1 minReplicas:i32 maxReplicas*:i32 "
	  "targetCPUUtilizationPercentage:i32" },
	{ "CrossVersionObjectReferenceV1", "io.k8s.api.autoscaling.v1.CrossVersionObjectReference",
	  "CrossVersionObjectReference contains enough information to let you identify the "
	  "referred resource.",
	  "kind*:s name*:s apiVersion:s" },
	{ "networking.k8s.io/v1.Ingress", "io.k8s.api.networking.v1.Ingress",
	  "Ingress is a collection of rules that allow inbound connections to reach the "
	  "endpoints defined by a backend.",
	  TOP "spec:IngressSpec status:any" },
	{ "IngressSpec", "io.k8s.api.networking.v1.IngressSpec",
	  "IngressSpec describes the Ingress the user wishes to exist.",
	  "ingressClassName:s defaultBackend:any tls:[any] rules:[any]" },
	{ "networking.k8s.io/v1.NetworkPolicy", "io.k8s.api.networking.v1.NetworkPolicy",
	  "NetworkPolicy describes what network traffic is allowed for a set of Pods",
	  TOP "spec:NetworkPolicySpec" },
	{ "NetworkPolicySpec", "io.k8s.api.networking.v1.NetworkPolicySpec",
	  "NetworkPolicySpec provides the specification of a NetworkPolicy",
	  "podSelector:LabelSelector ingress:[any] egress:[any] policyTypes:[s]" },
	{ "scheduling.k8s.io/v1.PriorityClass", "io.k8s.api.scheduling.v1.PriorityClass",
	  "PriorityClass defines mapping from a priority class name to the priority integer "
	  "value.",
	  TOP "value*:i32 globalDefault:b description:s preemptionPolicy:s" },
	{ "storage.k8s.io/v1.StorageClass", "io.k8s.api.storage.v1.StorageClass",
	  "StorageClass describes the parameters for a class of storage for which "
	  "PersistentVolumes can be dynamically provisioned.",
	  TOP "provisioner*:s parameters:{s} reclaimPolicy:s mountOptions:[s] "
	      "allowVolumeExpansion:b volumeBindingMode:s allowedTopologies:[any]" },
	{ "events.k8s.io/v1.Event", "io.k8s.api.events.v1.Event",
	  "Event is a report of an event somewhere in the cluster.",
	  TOP "eventTime:mtime series:any reportingController:s reportingInstance:s action:s "
	      "reason:s regarding:any related:any note:s type:s deprecatedSource:any "
	      "deprecatedFirstTimestamp:time deprecatedLastTimestamp:time deprecatedCount:i32" },
};

/* Descriptions of a few key fields ("*" applies to every type), shortened from upstream's. */
static const struct {
	const char *type, *field, *desc;
} fs_descs[] = {
	{ "*", "apiVersion",
	  "APIVersion defines the versioned schema of this representation of an object." },
	{ "*", "kind", "Kind is a string value representing the REST resource this object "
		       "represents. In CamelCase." },
	{ "*", "metadata", "Standard object's metadata." },
	{ "*", "spec", "Specification of the desired behavior." },
	{ "*", "status", "Most recently observed status. Populated by the system. Read-only." },
	{ "ObjectMeta", "name", "Name must be unique within a namespace." },
	{ "ObjectMeta", "namespace", "Namespace defines the space within which each name must "
				     "be unique." },
	{ "ObjectMeta", "labels", "Map of string keys and values that can be used to organize "
				  "and categorize (scope and select) objects." },
	{ "ObjectMeta", "annotations", "Annotations is an unstructured key value map stored "
				       "with a resource." },
	{ "PodSpec", "containers", "List of containers belonging to the pod. Containers cannot "
				   "currently be added or removed." },
	{ "PodSpec", "nodeName", "NodeName indicates in which node this pod is scheduled." },
	{ "Container", "name", "Name of the container specified as a DNS_LABEL." },
	{ "Container", "image", "Container image name." },
	{ "DeploymentSpec", "replicas", "Number of desired pods. Defaults to 1." },
	{ "DeploymentSpec", "selector", "Label selector for pods. It must match the pod "
					"template's labels." },
	{ "DeploymentSpec", "template", "Template describes the pods that will be created." },
	{ "DeploymentSpec", "strategy", "The deployment strategy to use to replace existing "
					"pods with new ones." },
	{ "DeploymentStrategy", "type", "Type of deployment. Can be \"Recreate\" or "
					"\"RollingUpdate\". Default is RollingUpdate." },
	{ "DeploymentStrategy", "rollingUpdate", "Rolling update config params. Present only if "
						 "DeploymentStrategyType = RollingUpdate." },
	{ "RollingUpdateDeployment", "maxUnavailable",
	  "The maximum number of pods that can be unavailable during the update. Value can be "
	  "an absolute number (ex: 5) or a percentage of desired pods (ex: 10%). Defaults to "
	  "25%." },
	{ "RollingUpdateDeployment", "maxSurge",
	  "The maximum number of pods that can be scheduled above the desired number of pods. "
	  "Value can be an absolute number (ex: 5) or a percentage of desired pods (ex: 10%). "
	  "Defaults to 25%." },
	{ "ServiceSpec", "type", "type determines how the Service is exposed. Defaults to "
				 "ClusterIP." },
	{ "ServicePort", "port", "The port that will be exposed by this service." },
	{ "ServicePort", "targetPort", "Number or name of the port to access on the pods "
				       "targeted by the service." },
};

const fs_type *fs_type_at(int i)
{
	if (i < 0 || (size_t)i >= sizeof(fs_types) / sizeof(fs_types[0]))
		return NULL;
	return &fs_types[i];
}

/* ---- the compiled table ----
 * fieldValidation walks every key of every request body against its type's field list;
 * re-parsing the list and scanning the type table by name for each key was a visible share
 * of a pod create's CPU. The lists are parsed once, on first use, into per-type arrays of
 * (name, kind, element type), and names are found through a hash. */

#define FS_NTYPES (sizeof(fs_types) / sizeof(fs_types[0]))
#define FS_HASH 256 /* power of two, > 2 * FS_NTYPES */

typedef struct fs_cfield {
	const char *name;     /* into cf_names */
	size_t name_len;
	enum fs_kind kind;
	const fs_type *elem;  /* FS_OBJ / FS_LIST / FS_MAP of a table type, else NULL */
} fs_cfield;

typedef struct fs_ctype {
	fs_cfield *f;
	size_t n;
} fs_ctype;

static pthread_once_t fs_once = PTHREAD_ONCE_INIT;
static short fs_hash[FS_HASH]; /* index + 1 into fs_types, 0 empty */
static fs_ctype fs_compiled[FS_NTYPES];
static int fs_compiled_ok;

static uint32_t fs_hash_str(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static const fs_type *fs_lookup(const char *name)
{
	for (uint32_t i = fs_hash_str(name) & (FS_HASH - 1);; i = (i + 1) & (FS_HASH - 1)) {
		int v = fs_hash[i];
		if (!v)
			return NULL;
		if (!strcmp(fs_types[v - 1].name, name))
			return &fs_types[v - 1];
	}
}

static int parse_field(const char **cursor, fs_field *f);

static void fs_build(void)
{
	_Static_assert(FS_HASH > 2 * FS_NTYPES, "fs_hash too small");
	for (size_t t = 0; t < FS_NTYPES; t++) {
		uint32_t i = fs_hash_str(fs_types[t].name) & (FS_HASH - 1);
		int dup = 0;
		for (; fs_hash[i]; i = (i + 1) & (FS_HASH - 1))
			if (!strcmp(fs_types[fs_hash[i] - 1].name, fs_types[t].name))
				dup = 1; /* the first entry wins, as the linear scan did */
		if (!dup)
			fs_hash[i] = (short)(t + 1);
	}
	int ok = 1;
	for (size_t t = 0; t < FS_NTYPES && ok; t++) {
		size_t n = 0, cap = 0;
		fs_cfield *v = NULL;
		const char *cur = fs_types[t].fields;
		fs_field f;
		while (cur && parse_field(&cur, &f)) {
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 16;
				fs_cfield *nv = realloc(v, nc * sizeof(*nv));
				if (!nv) {
					ok = 0;
					break;
				}
				v = nv;
				cap = nc;
			}
			char *name = strdup(f.name);
			if (!name) {
				ok = 0;
				break;
			}
			const fs_type *et = NULL;
			if (f.kind == FS_OBJ || f.kind == FS_LIST || f.kind == FS_MAP)
				et = fs_lookup(f.elem);
			v[n++] = (fs_cfield){ name, strlen(name), f.kind, et };
		}
		fs_compiled[t] = (fs_ctype){ v, n };
	}
	/* Out of memory at start-up: walk() falls back to parsing the lists each time. */
	fs_compiled_ok = ok;
}

const fs_type *fs_type_get(const char *name)
{
	if (!name)
		return NULL;
	pthread_once(&fs_once, fs_build);
	return fs_lookup(name);
}

const char *fs_field_desc(const fs_type *t, const char *field)
{
	const char *any = "";
	for (size_t i = 0; i < sizeof(fs_descs) / sizeof(fs_descs[0]); i++) {
		if (strcmp(fs_descs[i].field, field))
			continue;
		if (t && !strcmp(fs_descs[i].type, t->name))
			return fs_descs[i].desc;
		if (!strcmp(fs_descs[i].type, "*"))
			any = fs_descs[i].desc;
	}
	return any;
}

static void copy_tok(char *dst, size_t n, const char *s, size_t len)
{
	if (len >= n)
		len = n - 1;
	memcpy(dst, s, len);
	dst[len] = 0;
}

int fs_next_field(const char **cursor, fs_field *f)
{
	pthread_once(&fs_once, fs_build);
	return parse_field(cursor, f);
}

/* fs_next_field without the once (fs_build calls it with the hash already built). */
static int parse_field(const char **cursor, fs_field *f)
{
	const char *p = *cursor;
	while (*p == ' ')
		p++;
	if (!*p)
		return 0;
	memset(f, 0, sizeof(*f));
	const char *start = p;
	while (*p && *p != ' ' && *p != ':' && *p != '*')
		p++;
	copy_tok(f->name, sizeof(f->name), start, (size_t)(p - start));
	if (*p == '*') {
		f->required = 1;
		p++;
	}
	f->kind = FS_ANY;
	if (*p == ':') {
		const char *t = ++p;
		while (*p && *p != ' ' && *p != '^')
			p++;
		size_t tl = (size_t)(p - t);
		if (*p == '^') {
			const char *st = ++p;
			while (*p && *p != ' ')
				p++;
			copy_tok(f->strategy, sizeof(f->strategy), st, (size_t)(p - st));
		}
		if (tl && (t[0] == '[' || t[0] == '{')) {
			char close = t[0] == '[' ? ']' : '}';
			const char *e = memchr(t, close, tl);
			if (e) {
				copy_tok(f->elem, sizeof(f->elem), t + 1, (size_t)(e - t - 1));
				f->kind = t[0] == '[' ? FS_LIST : FS_MAP;
				const char *rest = e + 1;
				size_t rl = tl - (size_t)(rest - t);
				if (f->kind == FS_LIST && rl > 1 && rest[0] == '@') {
					if (rl == 2 && rest[1] == '@')
						strcpy(f->keys, "@");
					else
						copy_tok(f->keys, sizeof(f->keys), rest + 1, rl - 1);
				}
			}
		} else if (tl) {
			copy_tok(f->elem, sizeof(f->elem), t, tl);
			if (!strcmp(f->elem, "any"))
				f->kind = FS_ANY;
			else
				f->kind = fs_lookup(f->elem) ? FS_OBJ : FS_SCALAR;
		}
	}
	*cursor = p;
	return 1;
}

/* Finds key among t's fields: 0 when it is not a known field, else 1 with its kind and
 * element type (a table type or NULL). */
static int find_field(const fs_type *t, const char *key, enum fs_kind *kind, const fs_type **elem)
{
	if (fs_compiled_ok) {
		const fs_ctype *ct = &fs_compiled[t - fs_types];
		size_t kl = strlen(key);
		for (size_t i = 0; i < ct->n; i++) {
			const fs_cfield *cf = &ct->f[i];
			if (cf->name_len == kl && !memcmp(cf->name, key, kl)) {
				*kind = cf->kind;
				*elem = cf->elem;
				return 1;
			}
		}
		return 0;
	}
	const char *cur = t->fields;
	fs_field f;
	while (parse_field(&cur, &f))
		if (!strcmp(f.name, key)) {
			*kind = f.kind;
			*elem = f.kind == FS_OBJ || f.kind == FS_LIST || f.kind == FS_MAP ?
				fs_lookup(f.elem) : NULL;
			return 1;
		}
	return 0;
}

typedef struct fs_out {
	char *msg;
	size_t n, off;
	int count;
} fs_out;

static void report(fs_out *o, const char *path)
{
	o->count++;
	if (o->off >= o->n)
		return;
	int w = snprintf(o->msg + o->off, o->n - o->off, "%sunknown field \"%s\"",
			 o->off ? ", " : "", path);
	if (w > 0)
		o->off += (size_t)w;
	if (o->off >= o->n)
		o->off = o->n - 1;
}

/* Appends the n bytes of s to the NUL-terminated dst (size cap), truncating as snprintf
 * would; returns the new length. */
static size_t cat_trunc(char *dst, size_t len, size_t cap, const char *s, size_t n)
{
	if (len + 1 >= cap)
		return len;
	if (n > cap - 1 - len)
		n = cap - 1 - len;
	memcpy(dst + len, s, n);
	len += n;
	dst[len] = 0;
	return len;
}

/* The path of a key below path ("a.b"); same bounds as before (511 characters). */
static void sub_path(char *sub, size_t cap, const char *path, const char *key)
{
	size_t pl = strlen(path);
	size_t l = cat_trunc(sub, 0, cap, path, pl);
	if (pl)
		l = cat_trunc(sub, l, cap, ".", 1);
	cat_trunc(sub, l, cap, key, strlen(key));
}

static void walk(const fs_type *t, const cJSON *obj, const char *path, fs_out *o, int depth)
{
	if (!t || !t->fields || !cJSON_IsObject(obj) || depth > 32)
		return;
	const cJSON *it;
	cJSON_ArrayForEach(it, obj)
	{
		const char *key = it->string ? it->string : "";
		if (key[0] == '$')
			continue; /* $patch, $setElementOrder/..., $retainKeys, ... */
		enum fs_kind kind;
		const fs_type *et = NULL;
		/* The path is only built when it is reported or descended into. */
		char sub[512];
		if (!find_field(t, key, &kind, &et)) {
			sub_path(sub, sizeof(sub), path, key);
			report(o, sub);
			continue;
		}
		if (!et)
			continue; /* scalars, free-form fields and lists/maps of scalars */
		sub_path(sub, sizeof(sub), path, key);
		if (kind == FS_LIST) {
			int i = 0;
			const cJSON *el;
			cJSON_ArrayForEach(el, it)
			{
				char ep[540], num[16];
				int nn = 0;
				for (int v = i++; nn == 0 || v; v /= 10)
					num[nn++] = (char)('0' + v % 10);
				size_t l = cat_trunc(ep, 0, sizeof(ep), sub, strlen(sub));
				l = cat_trunc(ep, l, sizeof(ep), "[", 1);
				while (nn)
					l = cat_trunc(ep, l, sizeof(ep), &num[--nn], 1);
				cat_trunc(ep, l, sizeof(ep), "]", 1);
				walk(et, el, ep, o, depth + 1);
			}
		} else if (kind == FS_MAP) {
			const cJSON *el;
			cJSON_ArrayForEach(el, it)
			{
				char ep[540];
				const char *k = el->string ? el->string : "";
				size_t l = cat_trunc(ep, 0, sizeof(ep), sub, strlen(sub));
				l = cat_trunc(ep, l, sizeof(ep), "[", 1);
				l = cat_trunc(ep, l, sizeof(ep), k, strlen(k));
				cat_trunc(ep, l, sizeof(ep), "]", 1);
				walk(et, el, ep, o, depth + 1);
			}
		} else if (kind == FS_OBJ) {
			walk(et, it, sub, o, depth + 1);
		}
	}
}

const fs_type *fs_kind_type(const res_desc *d)
{
	char name[160];
	char apiv[96];
	const char *av = res_api_version(d, apiv, sizeof(apiv));
	/* "<apiVersion>.<kind>", concatenated without snprintf (once per write request) */
	size_t l = cat_trunc(name, 0, sizeof(name), av, strlen(av));
	l = cat_trunc(name, l, sizeof(name), ".", 1);
	cat_trunc(name, l, sizeof(name), d->kind, strlen(d->kind));
	return fs_type_get(name);
}

int fs_has_schema(const res_desc *d)
{
	return fs_kind_type(d) != NULL;
}

int fs_unknown_fields(const res_desc *d, const cJSON *obj, char *msg, size_t n)
{
	fs_out o = { .msg = msg, .n = n, .off = 0, .count = 0 };
	if (n)
		msg[0] = 0;
	walk(fs_kind_type(d), obj, "", &o, 0);
	return o.count;
}
