/* KubeletConfiguration v1beta1 loading.  See config.h. */
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "errors.h"
#include "flags.h"
#include "log.h"
#include "quantity.h"

#define KCFG_MAX_FILE (1 << 20)
#define KCFG_MAX_DEPTH 32

int kcfg_set_str(char **field, const char *v)
{
	char *d = strdup(v ? v : "");
	if (!d)
		return -ENOMEM;
	free(*field);
	*field = d;
	return 0;
}

static void set_threshold(kubelet_config *c, const char *sig, const char *val)
{
	for (size_t i = 0; i < c->n_eviction_hard; i++) {
		if (strcmp(c->eviction_hard[i].signal, sig) == 0) {
			snprintf(c->eviction_hard[i].value, sizeof(c->eviction_hard[i].value), "%s", val);
			return;
		}
	}
	if (c->n_eviction_hard < KCFG_MAX_EVICTION) {
		kcfg_threshold *t = &c->eviction_hard[c->n_eviction_hard++];
		snprintf(t->signal, sizeof(t->signal), "%s", sig);
		snprintf(t->value, sizeof(t->value), "%s", val);
	}
}

int kcfg_init(kubelet_config *c)
{
	memset(c, 0, sizeof(*c));
	/* pkg/kubelet/apis/config/v1beta1/defaults.go */
	int rc = 0;
	rc |= kcfg_set_str(&c->static_pod_path, "");
	rc |= kcfg_set_str(&c->pod_cidr, "");
	rc |= kcfg_set_str(&c->cluster_domain, "");
	rc |= kcfg_set_str(&c->cgroup_driver, "cgroupfs");
	rc |= kcfg_set_str(&c->container_runtime_endpoint, "unix:///run/containerd/containerd.sock");
	rc |= kcfg_set_str(&c->tls_cert_file, "");
	rc |= kcfg_set_str(&c->tls_private_key_file, "");
	rc |= kcfg_set_str(&c->resolv_conf, "/etc/resolv.conf");
	rc |= kcfg_set_str(&c->address, "0.0.0.0");
	rc |= kcfg_set_str(&c->healthz_bind_address, "127.0.0.1");
	rc |= kcfg_set_str(&c->client_ca_file, "");
	rc |= kcfg_set_str(&c->authorization_mode, "Webhook");
	if (rc) {
		kcfg_close(c);
		return -ENOMEM;
	}
	c->anonymous_auth = false;
	c->webhook_authn = true;
	c->serialize_image_pulls = true;
	c->register_node = true;
	c->enable_server = true;
	c->max_pods = 110;
	c->port = 10250;
	c->healthz_port = 10248;
	c->node_lease_duration_seconds = 40;
	c->node_status_update_frequency_ns = 10LL * 1000000000LL;
	c->node_status_report_frequency_ns = 5LL * 60 * 1000000000LL;
	c->runtime_request_timeout_ns = 2LL * 60 * 1000000000LL;
	c->sync_frequency_ns = 60LL * 1000000000LL;
	c->file_check_frequency_ns = 20LL * 1000000000LL;
	/* pkg/kubelet/eviction/defaults_linux.go DefaultEvictionHard */
	set_threshold(c, "memory.available", "100Mi");
	set_threshold(c, "nodefs.available", "10%");
	set_threshold(c, "nodefs.inodesFree", "5%");
	set_threshold(c, "imagefs.available", "15%");
	set_threshold(c, "imagefs.inodesFree", "5%");
	return 0;
}

void kcfg_close(kubelet_config *c)
{
	char **strs[] = { &c->static_pod_path, &c->pod_cidr, &c->cluster_domain, &c->cgroup_driver,
			  &c->container_runtime_endpoint, &c->tls_cert_file, &c->tls_private_key_file,
			  &c->resolv_conf, &c->address, &c->healthz_bind_address, &c->client_ca_file,
			  &c->authorization_mode };
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
	for (size_t i = 0; i < c->n_cluster_dns; i++)
		free(c->cluster_dns[i]);
	c->n_cluster_dns = 0;
}

/* ------------------------------------------------------ YAML -> cJSON */

/* Plain scalars resolve as YAML 1.2's core schema (what sigs.k8s.io/yaml's JSON
 * conversion does for the types we read); quoted scalars are strings. */
static cJSON *scalar_to_json(const yaml_node_t *n)
{
	const char *v = (const char *)n->data.scalar.value;
	size_t len = n->data.scalar.length;
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return cJSON_CreateString(v);
	if (len == 0 || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL"))
		return cJSON_CreateNull();
	if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "TRUE"))
		return cJSON_CreateTrue();
	if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "FALSE"))
		return cJSON_CreateFalse();
	char *end;
	errno = 0;
	long long ll = strtoll(v, &end, 10);
	if (*v && *end == '\0' && errno == 0 && (v[0] == '-' || v[0] == '+' || (v[0] >= '0' && v[0] <= '9')))
		return cJSON_CreateNumber((double)ll);
	return cJSON_CreateString(v);
}

static cJSON *node_to_json(yaml_document_t *doc, yaml_node_t *n, int depth, char *err, size_t errlen)
{
	if (!n || depth > KCFG_MAX_DEPTH) {
		snprintf(err, errlen, "yaml: document nested too deeply");
		return NULL;
	}
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return scalar_to_json(n);
	case YAML_SEQUENCE_NODE: {
		cJSON *a = cJSON_CreateArray();
		for (yaml_node_item_t *it = n->data.sequence.items.start; a && it < n->data.sequence.items.top; it++) {
			cJSON *e = node_to_json(doc, yaml_document_get_node(doc, *it), depth + 1, err, errlen);
			if (!e) {
				cJSON_Delete(a);
				return NULL;
			}
			cJSON_AddItemToArray(a, e);
		}
		return a;
	}
	case YAML_MAPPING_NODE: {
		cJSON *o = cJSON_CreateObject();
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start; o && p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(doc, p->key);
			if (!k || k->type != YAML_SCALAR_NODE) {
				snprintf(err, errlen, "yaml: mapping keys must be strings");
				cJSON_Delete(o);
				return NULL;
			}
			cJSON *v = node_to_json(doc, yaml_document_get_node(doc, p->value), depth + 1, err, errlen);
			if (!v) {
				cJSON_Delete(o);
				return NULL;
			}
			const char *key = (const char *)k->data.scalar.value;
			if (cJSON_GetObjectItemCaseSensitive(o, key)) {
				/* sigs.k8s.io/yaml strict mode rejects this; lenient keeps the last */
				kc_warn("KubeletConfiguration: duplicate field \"%s\", using the last value", key);
				cJSON_ReplaceItemInObjectCaseSensitive(o, key, v);
			} else {
				cJSON_AddItemToObject(o, key, v);
			}
		}
		return o;
	}
	default:
		snprintf(err, errlen, "yaml: unsupported node");
		return NULL;
	}
}

int kcfg_yaml_to_json(const char *buf, size_t len, cJSON **out, char *err, size_t errlen)
{
	yaml_parser_t p;
	yaml_document_t doc;
	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&p, &doc)) {
		snprintf(err, errlen, "yaml: line %zu: %s", p.problem_mark.line + 1,
			 p.problem ? p.problem : "parse error");
		yaml_parser_delete(&p);
		return KC_EPARSE;
	}
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	int rc = 0;
	if (!root) {
		*out = cJSON_CreateObject();
	} else {
		*out = node_to_json(&doc, root, 0, err, errlen);
		if (!*out)
			rc = KC_EPARSE;
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&p);
	return rc;
}

/* ------------------------------------------------------ field mapping */

struct ctx {
	char *err;
	size_t errlen;
};

static int type_err(struct ctx *x, const char *field, const cJSON *v, const char *gotype)
{
	const char *got = cJSON_IsString(v) ? "string" : cJSON_IsNumber(v) ? "number" :
			  cJSON_IsBool(v) ? "bool" : cJSON_IsArray(v) ? "array" : "object";
	snprintf(x->err, x->errlen,
		 "json: cannot unmarshal %s into Go struct field KubeletConfiguration.%s of type %s", got, field,
		 gotype);
	return -EINVAL;
}

static int get_str(struct ctx *x, const cJSON *o, const char *key, const char *field, char **dst)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v))
		return type_err(x, field, v, "string");
	return kcfg_set_str(dst, v->valuestring);
}

static int get_bool(struct ctx *x, const cJSON *o, const char *key, const char *field, bool *dst)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsBool(v))
		return type_err(x, field, v, "bool");
	*dst = cJSON_IsTrue(v);
	return 0;
}

static int get_i32(struct ctx *x, const cJSON *o, const char *key, const char *field, int32_t *dst)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int32_t)v->valuedouble)
		return type_err(x, field, v, "int32");
	*dst = (int32_t)v->valuedouble;
	return 0;
}

static int get_dur(struct ctx *x, const cJSON *o, const char *key, const char *field, int64_t *dst)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v))
		return type_err(x, field, v, "v1.Duration");
	char derr[128];
	if (kc_parse_duration(v->valuestring, dst, derr, sizeof(derr)) < 0) {
		snprintf(x->err, x->errlen, "KubeletConfiguration.%s: %s", field, derr);
		return -EINVAL;
	}
	return 0;
}

static const char *const known_ignored[] = {
	"kind", "apiVersion", "staticPodURL", "staticPodURLHeader", "httpCheckFrequency",
	"tlsCipherSuites", "tlsMinVersion", "rotateCertificates", "serverTLSBootstrap",
	"readOnlyPort", "registryPullQPS", "registryBurst", "eventRecordQPS", "eventBurst",
	"enableDebuggingHandlers", "enableContentionProfiling", "oomScoreAdj",
	"streamingConnectionIdleTimeout", "imageMinimumGCAge", "imageMaximumGCAge",
	"imageGCHighThresholdPercent", "imageGCLowThresholdPercent", "volumeStatsAggPeriod",
	"kubeletCgroups", "systemCgroups", "cgroupRoot", "cgroupsPerQOS", "cpuManagerPolicy",
	"cpuManagerReconcilePeriod", "memoryManagerPolicy", "topologyManagerPolicy",
	"topologyManagerScope", "qosReserved", "hairpinMode", "podPidsLimit", "cpuCFSQuota",
	"cpuCFSQuotaPeriod", "maxOpenFiles", "contentType", "kubeAPIQPS", "kubeAPIBurst",
	"maxParallelImagePulls", "evictionSoft", "evictionSoftGracePeriod",
	"evictionPressureTransitionPeriod", "evictionMaxPodGracePeriod", "evictionMinimumReclaim",
	"podsPerCore", "enableControllerAttachDetach", "protectKernelDefaults",
	"makeIPTablesUtilChains", "iptablesMasqueradeBit", "iptablesDropBit", "featureGates",
	"failSwapOn", "memorySwap", "containerLogMaxSize", "containerLogMaxFiles",
	"containerLogMaxWorkers", "containerLogMonitorInterval", "configMapAndSecretChangeDetectionStrategy",
	"systemReserved", "kubeReserved", "reservedSystemCPUs", "showHiddenMetricsForVersion",
	"systemReservedCgroup", "kubeReservedCgroup", "enforceNodeAllocatable", "allowedUnsafeSysctls",
	"volumePluginDir", "providerID", "kernelMemcgNotification", "logging", "enableSystemLogHandler",
	"enableSystemLogQuery", "shutdownGracePeriod", "shutdownGracePeriodCriticalPods",
	"shutdownGracePeriodByPodPriority", "reservedMemory", "enableProfilingHandler",
	"enableDebugFlagsHandler", "seccompDefault", "memoryThrottlingFactor", "registerWithTaints",
	"localStorageCapacityIsolation", "tracing", "podLogsDir", "imageServiceEndpoint",
	"nodeStatusMaxImages", "runOnce", "crashLoopBackOff", "userNamespaces",
};

int kcfg_parse(kubelet_config *c, const char *buf, size_t len, char *err, size_t errlen)
{
	char dummy[8];
	if (!err || errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	if (!c || !buf)
		return -EINVAL;
	if (len > KCFG_MAX_FILE) {
		snprintf(err, errlen, "config file larger than %d bytes", KCFG_MAX_FILE);
		return KC_ETOOLARGE;
	}
	cJSON *root = NULL;
	int rc = kcfg_yaml_to_json(buf, len, &root, err, errlen);
	if (rc < 0)
		return rc;
	struct ctx x = { err, errlen };
	if (!cJSON_IsObject(root)) {
		snprintf(err, errlen, "KubeletConfiguration must be a mapping");
		cJSON_Delete(root);
		return KC_EPARSE;
	}
	const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "kind"));
	const char *av = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "apiVersion"));
	if (!kind || !av) {
		snprintf(err, errlen, "Object 'Kind' is missing in config file");
		cJSON_Delete(root);
		return -EINVAL;
	}
	if (strcmp(av, "kubelet.config.k8s.io/v1beta1") != 0 && strcmp(av, "kubelet.config.k8s.io/v1") != 0) {
		snprintf(err, errlen, "no kind \"%s\" is registered for version \"%s\"", kind, av);
		cJSON_Delete(root);
		return -EINVAL;
	}
	if (strcmp(kind, "KubeletConfiguration") != 0) {
		snprintf(err, errlen, "no kind \"%s\" is registered for version \"%s\"", kind, av);
		cJSON_Delete(root);
		return -EINVAL;
	}

	rc = 0;
#define S(key, dst) if (!rc) rc = get_str(&x, root, key, key, dst)
#define B(key, dst) if (!rc) rc = get_bool(&x, root, key, key, dst)
#define I(key, dst) if (!rc) rc = get_i32(&x, root, key, key, dst)
#define D(key, dst) if (!rc) rc = get_dur(&x, root, key, key, dst)
	S("staticPodPath", &c->static_pod_path);
	S("podCIDR", &c->pod_cidr);
	S("clusterDomain", &c->cluster_domain);
	S("cgroupDriver", &c->cgroup_driver);
	S("containerRuntimeEndpoint", &c->container_runtime_endpoint);
	S("tlsCertFile", &c->tls_cert_file);
	S("tlsPrivateKeyFile", &c->tls_private_key_file);
	S("resolvConf", &c->resolv_conf);
	S("address", &c->address);
	S("healthzBindAddress", &c->healthz_bind_address);
	B("serializeImagePulls", &c->serialize_image_pulls);
	B("registerNode", &c->register_node);
	B("enableServer", &c->enable_server);
	I("maxPods", &c->max_pods);
	I("port", &c->port);
	I("healthzPort", &c->healthz_port);
	I("nodeLeaseDurationSeconds", &c->node_lease_duration_seconds);
	D("nodeStatusUpdateFrequency", &c->node_status_update_frequency_ns);
	D("nodeStatusReportFrequency", &c->node_status_report_frequency_ns);
	D("runtimeRequestTimeout", &c->runtime_request_timeout_ns);
	D("syncFrequency", &c->sync_frequency_ns);
	D("fileCheckFrequency", &c->file_check_frequency_ns);
#undef S
#undef B
#undef I
#undef D
	const cJSON *dns = cJSON_GetObjectItemCaseSensitive(root, "clusterDNS");
	if (!rc && dns && !cJSON_IsNull(dns)) {
		if (!cJSON_IsArray(dns)) {
			rc = type_err(&x, "clusterDNS", dns, "[]string");
		} else {
			for (size_t i = 0; i < c->n_cluster_dns; i++)
				free(c->cluster_dns[i]);
			c->n_cluster_dns = 0;
			const cJSON *e;
			cJSON_ArrayForEach(e, dns) {
				if (!cJSON_IsString(e)) {
					rc = type_err(&x, "clusterDNS", e, "string");
					break;
				}
				if (c->n_cluster_dns == KCFG_MAX_DNS) {
					snprintf(err, errlen, "KubeletConfiguration.clusterDNS: more than %d entries", KCFG_MAX_DNS);
					rc = -EINVAL;
					break;
				}
				c->cluster_dns[c->n_cluster_dns] = strdup(e->valuestring);
				if (!c->cluster_dns[c->n_cluster_dns]) {
					rc = -ENOMEM;
					break;
				}
				c->n_cluster_dns++;
			}
		}
	}
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(root, "evictionHard");
	if (!rc && ev && !cJSON_IsNull(ev)) {
		if (!cJSON_IsObject(ev)) {
			rc = type_err(&x, "evictionHard", ev, "map[string]string");
		} else {
			/* A given map replaces the defaults wholesale, as upstream (unless
			 * mergeDefaultEvictionSettings, which we do not hold). */
			c->n_eviction_hard = 0;
			const cJSON *e;
			cJSON_ArrayForEach(e, ev) {
				if (!cJSON_IsString(e)) {
					rc = type_err(&x, "evictionHard", e, "string");
					break;
				}
				if (strlen(e->string) >= sizeof(c->eviction_hard[0].signal) ||
				    strlen(e->valuestring) >= sizeof(c->eviction_hard[0].value)) {
					snprintf(err, errlen, "KubeletConfiguration.evictionHard: entry %.48s too long", e->string);
					rc = -EINVAL;
					break;
				}
				set_threshold(c, e->string, e->valuestring);
			}
		}
	}
	const cJSON *authn = cJSON_GetObjectItemCaseSensitive(root, "authentication");
	if (!rc && authn && cJSON_IsObject(authn)) {
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(authn, "anonymous");
		if (a && cJSON_IsObject(a))
			rc = get_bool(&x, a, "enabled", "authentication.anonymous.enabled", &c->anonymous_auth);
		const cJSON *w = cJSON_GetObjectItemCaseSensitive(authn, "webhook");
		if (!rc && w && cJSON_IsObject(w))
			rc = get_bool(&x, w, "enabled", "authentication.webhook.enabled", &c->webhook_authn);
		const cJSON *x509 = cJSON_GetObjectItemCaseSensitive(authn, "x509");
		if (!rc && x509 && cJSON_IsObject(x509))
			rc = get_str(&x, x509, "clientCAFile", "authentication.x509.clientCAFile", &c->client_ca_file);
	}
	const cJSON *authz = cJSON_GetObjectItemCaseSensitive(root, "authorization");
	if (!rc && authz && cJSON_IsObject(authz))
		rc = get_str(&x, authz, "mode", "authorization.mode", &c->authorization_mode);

	if (!rc) {
		static const char *const held[] = {
			"staticPodPath", "podCIDR", "clusterDomain", "cgroupDriver", "containerRuntimeEndpoint",
			"tlsCertFile", "tlsPrivateKeyFile", "resolvConf", "address", "healthzBindAddress",
			"serializeImagePulls", "registerNode", "enableServer", "maxPods", "port", "healthzPort",
			"nodeLeaseDurationSeconds", "nodeStatusUpdateFrequency", "nodeStatusReportFrequency",
			"runtimeRequestTimeout", "syncFrequency", "fileCheckFrequency", "clusterDNS",
			"evictionHard", "authentication", "authorization",
		};
		const cJSON *f;
		cJSON_ArrayForEach(f, root) {
			int known = 0;
			for (size_t i = 0; !known && i < sizeof(held) / sizeof(held[0]); i++)
				known = strcmp(f->string, held[i]) == 0;
			for (size_t i = 0; !known && i < sizeof(known_ignored) / sizeof(known_ignored[0]); i++)
				known = strcmp(f->string, known_ignored[i]) == 0;
			if (!known)
				kc_warn("KubeletConfiguration: unknown field \"%s\" (ignored, as lenient decoding does)",
					f->string);
			else if (strcmp(f->string, "kind") && strcmp(f->string, "apiVersion"))
				kc_log_v(1, "KubeletConfiguration: field \"%s\" accepted", f->string);
		}
	}
	cJSON_Delete(root);
	return rc;
}

int kcfg_load_file(kubelet_config *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		int e = -errno;
		snprintf(err, errlen, "failed to read kubelet config file \"%s\", error: %s", path, kc_strerror(e));
		return e;
	}
	char *buf = malloc(KCFG_MAX_FILE + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	size_t n = fread(buf, 1, KCFG_MAX_FILE + 1, f);
	fclose(f);
	int rc;
	if (n > KCFG_MAX_FILE) {
		snprintf(err, errlen, "kubelet config file \"%s\" is larger than %d bytes", path, KCFG_MAX_FILE);
		rc = KC_ETOOLARGE;
	} else {
		rc = kcfg_parse(c, buf, n, err, errlen);
	}
	free(buf);
	return rc;
}

int kcfg_validate(const kubelet_config *c, char *err, size_t errlen)
{
	/* pkg/kubelet/apis/config/validation/validation.go texts */
	if (c->max_pods < 0) {
		snprintf(err, errlen, "invalid configuration: maxPods (--max-pods) %d must not be a negative number",
			 c->max_pods);
		return -EINVAL;
	}
	if (c->node_status_update_frequency_ns <= 0) {
		snprintf(err, errlen, "invalid configuration: nodeStatusUpdateFrequency (--node-status-update-frequency) must be > 0");
		return -EINVAL;
	}
	if (c->node_lease_duration_seconds <= 0) {
		snprintf(err, errlen, "invalid configuration: nodeLeaseDurationSeconds must be greater than 0");
		return -EINVAL;
	}
	if (c->port < 1 || c->port > 65535) {
		snprintf(err, errlen, "invalid configuration: port (--port) %d must be between 1 and 65535, inclusive",
			 c->port);
		return -EINVAL;
	}
	if (c->healthz_port < 0 || c->healthz_port > 65535) {
		snprintf(err, errlen,
			 "invalid configuration: healthzPort (--healthz-port) %d must be between 1 and 65535, inclusive",
			 c->healthz_port);
		return -EINVAL;
	}
	if (c->runtime_request_timeout_ns <= 0) {
		snprintf(err, errlen, "invalid configuration: runtimeRequestTimeout (--runtime-request-timeout) must be > 0");
		return -EINVAL;
	}
	if (strcmp(c->cgroup_driver, "cgroupfs") != 0 && strcmp(c->cgroup_driver, "systemd") != 0) {
		snprintf(err, errlen, "invalid configuration: cgroupDriver %s must be cgroupfs or systemd", c->cgroup_driver);
		return -EINVAL;
	}
	if (strcmp(c->authorization_mode, "Webhook") != 0 && strcmp(c->authorization_mode, "AlwaysAllow") != 0) {
		snprintf(err, errlen, "invalid configuration: authorization.mode %s must be Webhook or AlwaysAllow",
			 c->authorization_mode);
		return -EINVAL;
	}
	for (size_t i = 0; i < c->n_eviction_hard; i++) {
		static const char *const signals[] = { "memory.available", "nodefs.available", "nodefs.inodesFree",
						       "imagefs.available", "imagefs.inodesFree", "pid.available",
						       "containerfs.available", "containerfs.inodesFree",
						       "allocatableMemory.available" };
		int ok = 0;
		for (size_t j = 0; !ok && j < sizeof(signals) / sizeof(signals[0]); j++)
			ok = strcmp(c->eviction_hard[i].signal, signals[j]) == 0;
		if (!ok) {
			snprintf(err, errlen, "invalid configuration: evictionHard: unsupported eviction signal %s",
				 c->eviction_hard[i].signal);
			return -EINVAL;
		}
		/* pkg/kubelet/eviction/helpers.go parseThresholdStatement */
		const char *v = c->eviction_hard[i].value;
		size_t vl = strlen(v);
		if (vl > 0 && v[vl - 1] == '%') {
			char *end;
			double pct = strtod(v, &end);
			if (end != v + vl - 1 || pct < 0 || pct > 100) {
				snprintf(err, errlen,
					 "invalid configuration: evictionHard: eviction percentage threshold %s must be >= 0%% and <= 100%%: %s",
					 c->eviction_hard[i].signal, v);
				return -EINVAL;
			}
		} else {
			kc_quantity q;
			char qerr[128];
			if (kc_quantity_parse(v, &q, qerr, sizeof(qerr)) < 0) {
				snprintf(err, errlen, "invalid configuration: evictionHard: %s: %s", c->eviction_hard[i].signal, qerr);
				return -EINVAL;
			}
			if (kc_quantity_cmp_int64(&q, 0) < 0) {
				snprintf(err, errlen, "invalid configuration: evictionHard: eviction threshold %s must be positive: %s",
					 c->eviction_hard[i].signal, v);
				return -EINVAL;
			}
		}
	}
	return 0;
}
