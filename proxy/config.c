/* KubeProxyConfiguration. See config.h. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <yaml.h>

#include "errors.h"
#include "flags.h"
#include "json.h"
#include "log.h"

#define MAX_DEPTH 64

void px_config_defaults(px_config *c)
{
	memset(c, 0, sizeof(*c));
	c->sync_period_ns = 30 * (int64_t)1000000000;
	c->min_sync_period_ns = 1 * (int64_t)1000000000;
	c->masq_bit = 14;
	snprintf(c->healthz_bind, sizeof(c->healthz_bind), "0.0.0.0:10256");
	snprintf(c->metrics_bind, sizeof(c->metrics_bind), "127.0.0.1:10249");
}

/* libyaml events -> a cJSON tree whose scalars are all strings (types are decided by
 * the reader of each field, as a Go struct decoder would). Anchors/aliases are refused. */
static cJSON *yaml_node(yaml_parser_t *p, yaml_event_t *ev, int depth, char *err, size_t errlen);

static cJSON *yaml_next(yaml_parser_t *p, int depth, char *err, size_t errlen, int *end)
{
	yaml_event_t ev;
	if (!yaml_parser_parse(p, &ev)) {
		snprintf(err, errlen, "yaml: line %zu: %s", p->problem_mark.line + 1,
			 p->problem ? p->problem : "syntax error");
		return NULL;
	}
	if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT) {
		*end = 1;
		yaml_event_delete(&ev);
		return NULL;
	}
	cJSON *r = yaml_node(p, &ev, depth, err, errlen);
	yaml_event_delete(&ev);
	return r;
}

static cJSON *yaml_node(yaml_parser_t *p, yaml_event_t *ev, int depth, char *err, size_t errlen)
{
	if (depth > MAX_DEPTH) {
		snprintf(err, errlen, "yaml: nesting deeper than %d", MAX_DEPTH);
		return NULL;
	}
	switch (ev->type) {
	case YAML_SCALAR_EVENT: {
		const char *v = (const char *)ev->data.scalar.value;
		bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		if (plain && (strcmp(v, "null") == 0 || strcmp(v, "~") == 0 || !*v))
			return cJSON_CreateNull();
		return cJSON_CreateString(v);
	}
	case YAML_SEQUENCE_START_EVENT: {
		cJSON *a = cJSON_CreateArray();
		for (;;) {
			int end = 0;
			cJSON *it = yaml_next(p, depth + 1, err, errlen, &end);
			if (end)
				return a;
			if (!it) {
				cJSON_Delete(a);
				return NULL;
			}
			cJSON_AddItemToArray(a, it);
		}
	}
	case YAML_MAPPING_START_EVENT: {
		cJSON *o = cJSON_CreateObject();
		for (;;) {
			int end = 0;
			cJSON *k = yaml_next(p, depth + 1, err, errlen, &end);
			if (end)
				return o;
			if (!k || !cJSON_IsString(k)) {
				if (k && !*err)
					snprintf(err, errlen, "yaml: mapping keys must be strings");
				cJSON_Delete(k);
				cJSON_Delete(o);
				return NULL;
			}
			cJSON *v = yaml_next(p, depth + 1, err, errlen, &end);
			if (!v) {
				if (end && !*err)
					snprintf(err, errlen, "yaml: key %s without a value",
						 k->valuestring);
				cJSON_Delete(k);
				cJSON_Delete(o);
				return NULL;
			}
			cJSON_DeleteItemFromObjectCaseSensitive(o, k->valuestring);
			cJSON_AddItemToObject(o, k->valuestring, v);
			cJSON_Delete(k);
		}
	}
	case YAML_ALIAS_EVENT:
		snprintf(err, errlen, "yaml: aliases are not supported");
		return NULL;
	default:
		snprintf(err, errlen, "yaml: unexpected event %d", (int)ev->type);
		return NULL;
	}
}

/* Parse exactly one document. */
static int yaml_to_json(const char *buf, size_t len, cJSON **out, char *err, size_t errlen)
{
	yaml_parser_t p;
	yaml_event_t ev;
	*out = NULL;
	err[0] = '\0';
	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	cJSON *root = NULL;
	int rc = 0;
	for (;;) {
		if (!yaml_parser_parse(&p, &ev)) {
			snprintf(err, errlen, "yaml: line %zu: %s", p.problem_mark.line + 1,
				 p.problem ? p.problem : "syntax error");
			rc = KC_EPARSE;
			break;
		}
		yaml_event_type_t t = ev.type;
		if (t == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (t == YAML_MAPPING_START_EVENT || t == YAML_SEQUENCE_START_EVENT ||
		    t == YAML_SCALAR_EVENT || t == YAML_ALIAS_EVENT) {
			if (root) {
				yaml_event_delete(&ev);
				snprintf(err, errlen, "yaml: more than one document");
				rc = KC_EPARSE;
				break;
			}
			root = yaml_node(&p, &ev, 0, err, errlen);
			if (!root) {
				yaml_event_delete(&ev);
				rc = KC_EPARSE;
				break;
			}
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	if (rc) {
		cJSON_Delete(root);
		return rc;
	}
	*out = root;
	return 0;
}

static int copy_str(const cJSON *root, const char *path, char *dst, size_t dlen, char *err,
		    size_t errlen)
{
	const cJSON *it = kc_json_get(root, path);
	if (!it || cJSON_IsNull(it))
		return 0;
	if (!cJSON_IsString(it)) {
		snprintf(err, errlen, "%s: Invalid value: must be a string", path);
		return KC_EINVALID;
	}
	if (strlen(it->valuestring) >= dlen) {
		snprintf(err, errlen, "%s: Invalid value: too long", path);
		return KC_EINVALID;
	}
	snprintf(dst, dlen, "%s", it->valuestring);
	return 0;
}

static int get_duration(const cJSON *root, const char *path, int64_t *ns, char *err,
			size_t errlen)
{
	const cJSON *it = kc_json_get(root, path);
	if (!it || cJSON_IsNull(it))
		return 0;
	char perr[128];
	if (!cJSON_IsString(it) || kc_parse_duration(it->valuestring, ns, perr, sizeof(perr))) {
		snprintf(err, errlen, "%s: Invalid value: %s", path,
			 cJSON_IsString(it) ? perr : "must be a duration string");
		return KC_EINVALID;
	}
	return 0;
}

int px_config_parse(px_config *c, const char *yaml, size_t len, char *err, size_t errlen)
{
	cJSON *root = NULL;
	int rc = yaml_to_json(yaml, len, &root, err, errlen);
	if (rc)
		return rc;
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		snprintf(err, errlen, "config: expected a KubeProxyConfiguration object");
		return KC_EPARSE;
	}
	const char *kind = kc_json_get_string(root, "kind", "");
	const char *av = kc_json_get_string(root, "apiVersion", "");
	if (strcmp(kind, "KubeProxyConfiguration") != 0 ||
	    strcmp(av, "kubeproxy.config.k8s.io/v1alpha1") != 0) {
		snprintf(err, errlen,
			 "config: no kind \"%.64s\" is registered for version \"%.64s\" (want "
			 "KubeProxyConfiguration, kubeproxy.config.k8s.io/v1alpha1)",
			 kind, av);
		cJSON_Delete(root);
		return KC_EPARSE;
	}
	if ((rc = copy_str(root, "mode", c->mode, sizeof(c->mode), err, errlen)) ||
	    (rc = copy_str(root, "clusterCIDR", c->cluster_cidr, sizeof(c->cluster_cidr), err,
			   errlen)) ||
	    (rc = copy_str(root, "clientConnection.kubeconfig", c->kubeconfig,
			   sizeof(c->kubeconfig), err, errlen)) ||
	    (rc = copy_str(root, "hostnameOverride", c->hostname_override,
			   sizeof(c->hostname_override), err, errlen)) ||
	    (rc = copy_str(root, "healthzBindAddress", c->healthz_bind, sizeof(c->healthz_bind),
			   err, errlen)) ||
	    (rc = copy_str(root, "metricsBindAddress", c->metrics_bind, sizeof(c->metrics_bind),
			   err, errlen)) ||
	    (rc = get_duration(root, "iptables.syncPeriod", &c->sync_period_ns, err, errlen)) ||
	    (rc = get_duration(root, "iptables.minSyncPeriod", &c->min_sync_period_ns, err,
			       errlen)))
		goto out;
	const cJSON *mb = kc_json_get(root, "iptables.masqueradeBit");
	if (mb && !cJSON_IsNull(mb)) {
		char *end = NULL;
		long v = cJSON_IsString(mb) ? strtol(mb->valuestring, &end, 10) : -1;
		if (!end || *end || end == mb->valuestring) {
			snprintf(err, errlen, "iptables.masqueradeBit: Invalid value: must be an integer");
			rc = KC_EINVALID;
			goto out;
		}
		c->masq_bit = (v < -1000 || v > 1000) ? 1000 : (int)v;
	}
	const cJSON *npa = kc_json_get(root, "nodePortAddresses");
	if (npa && !cJSON_IsNull(npa)) {
		if (!cJSON_IsArray(npa)) {
			snprintf(err, errlen, "nodePortAddresses: Invalid value: must be a list");
			rc = KC_EINVALID;
			goto out;
		}
		c->n_nodeport_addresses = cJSON_GetArraySize(npa);
	}
out:
	cJSON_Delete(root);
	return rc;
}

int px_config_load(px_config *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		int e = -errno;
		snprintf(err, errlen, "open %s: %s", path, strerror(-e));
		return e;
	}
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len + 4096 > cap) {
			cap = cap ? cap * 2 : 8192;
			if (cap > 4 * 1024 * 1024) {
				fclose(f);
				free(buf);
				snprintf(err, errlen, "%s: larger than 4 MiB", path);
				return KC_ETOOLARGE;
			}
			char *nb = realloc(buf, cap);
			if (!nb) {
				fclose(f);
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	char perr[512];
	int rc = px_config_parse(c, buf ? buf : "", len, perr, sizeof(perr));
	if (rc)
		snprintf(err, errlen, "%s: %s", path, perr);
	free(buf);
	return rc;
}

int px_valid_ipv4_cidr(const char *s)
{
	char ip[32];
	const char *slash = strchr(s, '/');
	if (!slash || (size_t)(slash - s) >= sizeof(ip))
		return 0;
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = '\0';
	struct in_addr a;
	if (inet_pton(AF_INET, ip, &a) != 1)
		return 0;
	const char *p = slash + 1;
	if (!*p || strlen(p) > 2)
		return 0;
	for (const char *q = p; *q; q++)
		if (*q < '0' || *q > '9')
			return 0;
	return atoi(p) <= 32;
}

int px_split_hostport(const char *s, char *host, size_t hostlen, int *port)
{
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= hostlen)
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	struct in_addr a;
	if (*host && inet_pton(AF_INET, host, &a) != 1)
		return -EINVAL;
	char *end;
	long v = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || *end || v < 0 || v > 65535)
		return -EINVAL;
	*port = (int)v;
	return 0;
}

int px_config_validate(const px_config *c, char *err, size_t errlen)
{
	char host[64];
	int port;
	if (*c->mode && strcmp(c->mode, "iptables") != 0) {
		snprintf(err, errlen,
			 "mode: Unsupported value: \"%.32s\": supported values: \"iptables\" (kubec "
			 "implements only the iptables proxier)",
			 c->mode);
		return KC_EINVALID;
	}
	if (*c->cluster_cidr && !px_valid_ipv4_cidr(c->cluster_cidr)) {
		snprintf(err, errlen,
			 "clusterCIDR: Invalid value: \"%.64s\": must be an IPv4 CIDR (kubec is "
			 "IPv4 single-stack)",
			 c->cluster_cidr);
		return KC_EINVALID;
	}
	if (c->masq_bit < 0 || c->masq_bit > 31) {
		snprintf(err, errlen,
			 "iptables.masqueradeBit: Invalid value: %d: must be within the range [0, 31]",
			 c->masq_bit);
		return KC_EINVALID;
	}
	if (c->sync_period_ns <= 0) {
		snprintf(err, errlen, "iptables.syncPeriod: Invalid value: must be greater than 0");
		return KC_EINVALID;
	}
	if (c->min_sync_period_ns < 0) {
		snprintf(err, errlen, "iptables.minSyncPeriod: Invalid value: must be greater than or equal to 0");
		return KC_EINVALID;
	}
	if (c->min_sync_period_ns > c->sync_period_ns) {
		snprintf(err, errlen,
			 "iptables.minSyncPeriod: Invalid value: must be less than or equal to "
			 "iptables.syncPeriod");
		return KC_EINVALID;
	}
	if (*c->healthz_bind && px_split_hostport(c->healthz_bind, host, sizeof(host), &port)) {
		snprintf(err, errlen, "healthzBindAddress: Invalid value: \"%.64s\": must be IP:port",
			 c->healthz_bind);
		return KC_EINVALID;
	}
	if (*c->metrics_bind && px_split_hostport(c->metrics_bind, host, sizeof(host), &port)) {
		snprintf(err, errlen, "metricsBindAddress: Invalid value: \"%.64s\": must be IP:port",
			 c->metrics_bind);
		return KC_EINVALID;
	}
	if (c->n_nodeport_addresses > 0) {
		snprintf(err, errlen,
			 "nodePortAddresses: Unsupported value: kubec serves NodePorts on all local "
			 "addresses only; leave nodePortAddresses empty");
		return KC_EINVALID;
	}
	return 0;
}
