/* The field-name schema behind fieldValidation. Field lists follow k8s.io/api v1.32
 * (types.go of core/v1, apps/v1, batch/v1, policy/v1, autoscaling/v1 and v2,
 * networking/v1, scheduling/v1, storage/v1, events/v1, coordination/v1, discovery/v1). */
#include "fieldschema.h"

#include <stdio.h>
#include <string.h>

typedef struct fs_type {
	const char *name;
	const char *fields;
} fs_type;

#define TOP "apiVersion kind metadata:ObjectMeta "

static const fs_type fs_types[] = {
	/* ---- shared ---- */
	{ "ObjectMeta",
	  "name generateName namespace selfLink uid resourceVersion generation creationTimestamp "
	  "deletionTimestamp deletionGracePeriodSeconds labels annotations "
	  "ownerReferences:[OwnerReference] finalizers managedFields" },
	{ "OwnerReference", "apiVersion kind name uid controller blockOwnerDeletion" },
	{ "LabelSelector", "matchLabels matchExpressions:[LabelSelectorRequirement]" },
	{ "LabelSelectorRequirement", "key operator values" },
	{ "PodTemplateSpec", "metadata:ObjectMeta spec:PodSpec" },
	{ "PodSpec",
	  "volumes initContainers:[Container] containers:[Container] ephemeralContainers "
	  "restartPolicy terminationGracePeriodSeconds activeDeadlineSeconds dnsPolicy "
	  "nodeSelector serviceAccountName serviceAccount automountServiceAccountToken nodeName "
	  "hostNetwork hostPID hostIPC shareProcessNamespace securityContext imagePullSecrets "
	  "hostname subdomain affinity schedulerName tolerations hostAliases priorityClassName "
	  "priority dnsConfig readinessGates runtimeClassName enableServiceLinks "
	  "preemptionPolicy overhead topologySpreadConstraints setHostnameAsFQDN os hostUsers "
	  "schedulingGates resourceClaims resources" },
	{ "Container",
	  "name image command args workingDir ports:[ContainerPort] envFrom env:[EnvVar] "
	  "resources:ResourceRequirements resizePolicy restartPolicy volumeMounts:[VolumeMount] "
	  "volumeDevices livenessProbe readinessProbe startupProbe lifecycle "
	  "terminationMessagePath terminationMessagePolicy imagePullPolicy securityContext "
	  "stdin stdinOnce tty" },
	{ "ContainerPort", "name hostPort containerPort protocol hostIP" },
	{ "EnvVar", "name value valueFrom" },
	{ "ResourceRequirements", "limits requests claims" },
	{ "VolumeMount",
	  "name readOnly recursiveReadOnly mountPath subPath mountPropagation subPathExpr" },

	/* ---- core/v1 ---- */
	{ "v1.Pod", TOP "spec:PodSpec status" },
	{ "v1.Namespace", TOP "spec status" },
	{ "v1.ConfigMap", TOP "data binaryData immutable" },
	{ "v1.Secret", TOP "data stringData type immutable" },
	{ "v1.ServiceAccount", TOP "secrets imagePullSecrets automountServiceAccountToken" },
	{ "v1.Service", TOP "spec:ServiceSpec status" },
	{ "ServiceSpec",
	  "ports:[ServicePort] selector clusterIP clusterIPs type externalIPs sessionAffinity "
	  "loadBalancerIP loadBalancerSourceRanges externalName externalTrafficPolicy "
	  "healthCheckNodePort publishNotReadyAddresses sessionAffinityConfig ipFamilies "
	  "ipFamilyPolicy allocateLoadBalancerNodePorts loadBalancerClass internalTrafficPolicy "
	  "trafficDistribution" },
	{ "ServicePort", "name protocol appProtocol port targetPort nodePort" },
	{ "v1.Endpoints", TOP "subsets" },
	{ "v1.Node", TOP "spec status" },
	{ "v1.Event",
	  TOP "involvedObject reason message source firstTimestamp lastTimestamp count type "
	      "eventTime series action related reportingComponent reportingInstance" },
	{ "v1.PersistentVolume", TOP "spec status" },
	{ "v1.PersistentVolumeClaim", TOP "spec:PersistentVolumeClaimSpec status" },
	{ "PersistentVolumeClaimSpec",
	  "accessModes selector resources storageClassName volumeMode volumeName dataSource "
	  "dataSourceRef volumeAttributesClassName" },
	{ "v1.ResourceQuota", TOP "spec:ResourceQuotaSpec status" },
	{ "ResourceQuotaSpec", "hard scopes scopeSelector" },
	{ "v1.LimitRange", TOP "spec:LimitRangeSpec" },
	{ "LimitRangeSpec", "limits:[LimitRangeItem]" },
	{ "LimitRangeItem", "type max min default defaultRequest maxLimitRequestRatio" },

	/* ---- apps/v1 ---- */
	{ "apps/v1.Deployment", TOP "spec:DeploymentSpec status" },
	{ "DeploymentSpec",
	  "replicas selector:LabelSelector template:PodTemplateSpec strategy minReadySeconds "
	  "revisionHistoryLimit paused progressDeadlineSeconds" },
	{ "apps/v1.ReplicaSet", TOP "spec:ReplicaSetSpec status" },
	{ "ReplicaSetSpec", "replicas minReadySeconds selector:LabelSelector template:PodTemplateSpec" },
	{ "apps/v1.StatefulSet", TOP "spec:StatefulSetSpec status" },
	{ "StatefulSetSpec",
	  "replicas selector:LabelSelector template:PodTemplateSpec volumeClaimTemplates "
	  "serviceName podManagementPolicy updateStrategy revisionHistoryLimit minReadySeconds "
	  "persistentVolumeClaimRetentionPolicy ordinals" },
	{ "apps/v1.DaemonSet", TOP "spec:DaemonSetSpec status" },
	{ "DaemonSetSpec",
	  "selector:LabelSelector template:PodTemplateSpec updateStrategy minReadySeconds "
	  "revisionHistoryLimit" },
	{ "apps/v1.ControllerRevision", TOP "data revision" },

	/* ---- batch/v1 ---- */
	{ "batch/v1.Job", TOP "spec:JobSpec status" },
	{ "JobSpec",
	  "parallelism completions activeDeadlineSeconds podFailurePolicy successPolicy "
	  "backoffLimit backoffLimitPerIndex maxFailedIndexes selector:LabelSelector "
	  "manualSelector template:PodTemplateSpec ttlSecondsAfterFinished completionMode "
	  "suspend podReplacementPolicy managedBy" },
	{ "batch/v1.CronJob", TOP "spec:CronJobSpec status" },
	{ "CronJobSpec",
	  "schedule timeZone startingDeadlineSeconds concurrencyPolicy suspend "
	  "jobTemplate:JobTemplateSpec successfulJobsHistoryLimit failedJobsHistoryLimit" },
	{ "JobTemplateSpec", "metadata:ObjectMeta spec:JobSpec" },

	/* ---- other groups ---- */
	{ "coordination.k8s.io/v1.Lease", TOP "spec" },
	{ "discovery.k8s.io/v1.EndpointSlice", TOP "addressType endpoints ports" },
	{ "policy/v1.PodDisruptionBudget", TOP "spec:PodDisruptionBudgetSpec status" },
	{ "PodDisruptionBudgetSpec",
	  "minAvailable selector:LabelSelector maxUnavailable unhealthyPodEvictionPolicy" },
	{ "autoscaling/v2.HorizontalPodAutoscaler", TOP "spec:HPAv2Spec status" },
	{ "HPAv2Spec", "scaleTargetRef minReplicas maxReplicas metrics behavior" },
	{ "autoscaling/v1.HorizontalPodAutoscaler", TOP "spec:HPAv1Spec status" },
	{ "HPAv1Spec", "scaleTargetRef minReplicas maxReplicas targetCPUUtilizationPercentage" },
	{ "networking.k8s.io/v1.Ingress", TOP "spec:IngressSpec status" },
	{ "IngressSpec", "ingressClassName defaultBackend tls rules" },
	{ "networking.k8s.io/v1.NetworkPolicy", TOP "spec:NetworkPolicySpec" },
	{ "NetworkPolicySpec", "podSelector:LabelSelector ingress egress policyTypes" },
	{ "scheduling.k8s.io/v1.PriorityClass",
	  TOP "value globalDefault description preemptionPolicy" },
	{ "storage.k8s.io/v1.StorageClass",
	  TOP "provisioner parameters reclaimPolicy mountOptions allowVolumeExpansion "
	      "volumeBindingMode allowedTopologies" },
	{ "events.k8s.io/v1.Event",
	  TOP "eventTime series reportingController reportingInstance action reason regarding "
	      "related note type deprecatedSource deprecatedFirstTimestamp "
	      "deprecatedLastTimestamp deprecatedCount" },
};

static const char *type_fields(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(fs_types) / sizeof(fs_types[0]); i++)
		if (strlen(fs_types[i].name) == len && !strncmp(fs_types[i].name, name, len))
			return fs_types[i].fields;
	return NULL;
}

/* Finds key in the field list; sets type and tlen to its type token ("" when free-form).
 * Returns 0 when the key is not a known field. */
static int find_field(const char *fields, const char *key, const char **type, size_t *tlen)
{
	size_t klen = strlen(key);
	const char *p = fields;
	while (*p) {
		while (*p == ' ')
			p++;
		const char *start = p;
		while (*p && *p != ' ' && *p != ':')
			p++;
		size_t nlen = (size_t)(p - start);
		const char *t = "";
		size_t tl = 0;
		if (*p == ':') {
			t = ++p;
			while (*p && *p != ' ')
				p++;
			tl = (size_t)(p - t);
		}
		if (nlen == klen && !strncmp(start, key, klen)) {
			*type = t;
			*tlen = tl;
			return 1;
		}
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

static void walk(const char *fields, const cJSON *obj, const char *path, fs_out *o, int depth)
{
	if (!fields || !cJSON_IsObject(obj) || depth > 32)
		return;
	const cJSON *it;
	cJSON_ArrayForEach(it, obj)
	{
		const char *key = it->string ? it->string : "";
		if (key[0] == '$')
			continue; /* $patch, $setElementOrder/..., $retainKeys, ... */
		char sub[512];
		snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "", key);
		const char *type;
		size_t tl;
		if (!find_field(fields, key, &type, &tl)) {
			report(o, sub);
			continue;
		}
		if (!tl)
			continue;
		if (type[0] == '[' && tl > 2 && type[tl - 1] == ']') {
			const char *ef = type_fields(type + 1, tl - 2);
			int i = 0;
			const cJSON *el;
			cJSON_ArrayForEach(el, it)
			{
				char ep[540];
				snprintf(ep, sizeof(ep), "%s[%d]", sub, i++);
				walk(ef, el, ep, o, depth + 1);
			}
		} else if (type[0] == '{' && tl > 2 && type[tl - 1] == '}') {
			const char *ef = type_fields(type + 1, tl - 2);
			const cJSON *el;
			cJSON_ArrayForEach(el, it)
			{
				char ep[540];
				snprintf(ep, sizeof(ep), "%s[%s]", sub, el->string ? el->string : "");
				walk(ef, el, ep, o, depth + 1);
			}
		} else {
			walk(type_fields(type, tl), it, sub, o, depth + 1);
		}
	}
}

static const char *root_fields(const res_desc *d)
{
	char name[160];
	char apiv[96];
	snprintf(name, sizeof(name), "%s.%s", res_api_version(d, apiv, sizeof(apiv)), d->kind);
	return type_fields(name, strlen(name));
}

int fs_has_schema(const res_desc *d)
{
	return root_fields(d) != NULL;
}

int fs_unknown_fields(const res_desc *d, const cJSON *obj, char *msg, size_t n)
{
	fs_out o = { .msg = msg, .n = n, .off = 0, .count = 0 };
	if (n)
		msg[0] = 0;
	walk(root_fields(d), obj, "", &o, 0);
	return o.count;
}
