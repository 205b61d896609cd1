/* The kubelet's Node object.  See node_status.h. */
#include "node_status.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "errors.h"
#include "json.h"
#include "meta.h"
#include "quantity.h"
#include "validate.h"

/* First line of a small file, trimmed; "" if unreadable. */
static void read_line(const char *path, char *out, size_t cap)
{
	out[0] = '\0';
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(out, (int)cap, f)) {
		size_t n = strlen(out);
		while (n && isspace((unsigned char)out[n - 1]))
			out[--n] = '\0';
	}
	fclose(f);
}

static void os_image(char *out, size_t cap)
{
	snprintf(out, cap, "Linux");
	FILE *f = fopen("/etc/os-release", "re");
	if (!f)
		return;
	char line[256];
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "PRETTY_NAME=", 12) != 0)
			continue;
		char *v = line + 12;
		size_t n = strlen(v);
		while (n && isspace((unsigned char)v[n - 1]))
			v[--n] = '\0';
		if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
			v[n - 1] = '\0';
			v++;
		}
		size_t m = strlen(v) < cap - 1 ? strlen(v) : cap - 1;
		memcpy(out, v, m);
		out[m] = '\0';
		break;
	}
	fclose(f);
}

static int first_ipv4(char *out, size_t cap)
{
	struct ifaddrs *ifs;
	if (getifaddrs(&ifs) < 0)
		return -errno;
	int rc = -EADDRNOTAVAIL;
	for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
			continue;
		if ((i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP))
			continue;
		inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, out, (socklen_t)cap);
		rc = 0;
		break;
	}
	freeifaddrs(ifs);
	return rc;
}

int node_gather(node_facts *f, const char *hostname_override, const char *node_ip, const char *root_dir,
		char *err, size_t errlen)
{
	memset(f, 0, sizeof(*f));
	/* nodeutil.GetHostname: the override or os.Hostname(), trimmed and lower-cased */
	char host[256] = "";
	if (hostname_override && hostname_override[0])
		snprintf(host, sizeof(host), "%s", hostname_override);
	else if (gethostname(host, sizeof(host) - 1) < 0)
		return -errno;
	size_t hl = strlen(host);
	if (hl == 0 || hl >= sizeof(f->name)) {
		snprintf(err, errlen, "empty or too long hostname \"%s\"", host);
		return -EINVAL;
	}
	for (size_t i = 0; i < hl; i++)
		f->name[i] = (char)tolower((unsigned char)host[i]);
	if (kc_validate_dns1123_subdomain(f->name, NULL) != 0) {
		snprintf(err, errlen, "node name \"%s\" is not a valid DNS-1123 subdomain", f->name);
		return -EINVAL;
	}
	if (node_ip && node_ip[0]) {
		struct in_addr a4;
		struct in6_addr a6;
		if (inet_pton(AF_INET, node_ip, &a4) != 1 && inet_pton(AF_INET6, node_ip, &a6) != 1) {
			snprintf(err, errlen, "failed to parse node IP: \"%s\"", node_ip);
			return -EINVAL;
		}
		snprintf(f->internal_ip, sizeof(f->internal_ip), "%s", node_ip);
	} else if (first_ipv4(f->internal_ip, sizeof(f->internal_ip)) < 0) {
		f->internal_ip[0] = '\0'; /* only the Hostname address then */
	}
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	f->cpu_cores = n > 0 ? n : 1;
	FILE *mi = fopen("/proc/meminfo", "re");
	if (mi) {
		char line[128];
		long long kb;
		while (fgets(line, sizeof(line), mi))
			if (sscanf(line, "MemTotal: %lld kB", &kb) == 1) {
				f->memory_bytes = kb * 1024;
				break;
			}
		fclose(mi);
	}
	if (f->memory_bytes <= 0) {
		snprintf(err, errlen, "cannot read MemTotal from /proc/meminfo");
		return -EIO;
	}
	/* ephemeral-storage: the filesystem of --root-dir (or its nearest ancestor) */
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", root_dir && root_dir[0] ? root_dir : "/");
	struct statvfs vfs;
	while (statvfs(dir, &vfs) < 0) {
		char *slash = strrchr(dir, '/');
		if (!slash || slash == dir) {
			snprintf(dir, sizeof(dir), "/");
			if (statvfs(dir, &vfs) < 0)
				return -errno;
			break;
		}
		*slash = '\0';
	}
	f->ephemeral_bytes = (int64_t)vfs.f_blocks * (int64_t)vfs.f_frsize;
	struct utsname u;
	if (uname(&u) == 0)
		snprintf(f->kernel_version, sizeof(f->kernel_version), "%s", u.release);
	os_image(f->os_image, sizeof(f->os_image));
	read_line("/etc/machine-id", f->machine_id, sizeof(f->machine_id));
	if (!f->machine_id[0])
		read_line("/var/lib/dbus/machine-id", f->machine_id, sizeof(f->machine_id));
	read_line("/sys/class/dmi/id/product_uuid", f->system_uuid, sizeof(f->system_uuid));
	read_line("/proc/sys/kernel/random/boot_id", f->boot_id, sizeof(f->boot_id));
	return 0;
}

static cJSON *quantity_json(int64_t v, kc_quantity_format fmt)
{
	kc_quantity q = kc_quantity_from_int(v, fmt);
	return kc_quantity_to_json(&q);
}

/* Capacity minus the hard eviction threshold of `signal` (quantity or percentage of
 * capacity), as the allocatable setter (nodestatus.MachineInfo) computes it. */
static int64_t minus_threshold(const kubelet_config *cfg, const char *signal, int64_t cap)
{
	for (size_t i = 0; i < cfg->n_eviction_hard; i++) {
		if (strcmp(cfg->eviction_hard[i].signal, signal) != 0)
			continue;
		const char *v = cfg->eviction_hard[i].value;
		size_t vl = strlen(v);
		int64_t sub = 0;
		if (vl && v[vl - 1] == '%') {
			sub = (int64_t)((double)cap * strtod(v, NULL) / 100.0);
		} else {
			kc_quantity q;
			char e[KC_QUANTITY_ERRLEN];
			if (kc_quantity_parse(v, &q, e, sizeof(e)) == 0)
				sub = kc_quantity_value(&q);
		}
		return cap - sub > 0 ? cap - sub : 0;
	}
	return cap;
}

static cJSON *condition(const char *type, const char *status, const char *reason, const char *msg,
			const char *now)
{
	cJSON *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "type", type);
	cJSON_AddStringToObject(c, "status", status);
	cJSON_AddStringToObject(c, "lastHeartbeatTime", now);
	cJSON_AddStringToObject(c, "lastTransitionTime", now);
	cJSON_AddStringToObject(c, "reason", reason);
	cJSON_AddStringToObject(c, "message", msg);
	return c;
}

cJSON *node_build_status(const node_facts *f, const kubelet_config *cfg, const node_readiness *rd,
			 int64_t now_ns)
{
	char now[KC_TIME_BUFLEN];
	kc_meta_time_format(now_ns, now, sizeof(now));
	cJSON *st = cJSON_CreateObject();
	cJSON *cap = cJSON_AddObjectToObject(st, "capacity");
	cJSON_AddItemToObject(cap, "cpu", quantity_json(f->cpu_cores, KC_QUANTITY_DECIMAL_SI));
	cJSON_AddItemToObject(cap, "ephemeral-storage", quantity_json(f->ephemeral_bytes, KC_QUANTITY_BINARY_SI));
	cJSON_AddItemToObject(cap, "memory", quantity_json(f->memory_bytes, KC_QUANTITY_BINARY_SI));
	cJSON_AddItemToObject(cap, "pods", quantity_json(cfg->max_pods, KC_QUANTITY_DECIMAL_SI));
	cJSON *alloc = cJSON_AddObjectToObject(st, "allocatable");
	cJSON_AddItemToObject(alloc, "cpu", quantity_json(f->cpu_cores, KC_QUANTITY_DECIMAL_SI));
	cJSON_AddItemToObject(alloc, "ephemeral-storage",
			      quantity_json(minus_threshold(cfg, "nodefs.available", f->ephemeral_bytes), KC_QUANTITY_BINARY_SI));
	cJSON_AddItemToObject(alloc, "memory",
			      quantity_json(minus_threshold(cfg, "memory.available", f->memory_bytes), KC_QUANTITY_BINARY_SI));
	cJSON_AddItemToObject(alloc, "pods", quantity_json(cfg->max_pods, KC_QUANTITY_DECIMAL_SI));
	/* nodestatus setters: MemoryPressure, DiskPressure, PIDPressure, Ready */
	cJSON *conds = cJSON_AddArrayToObject(st, "conditions");
	cJSON_AddItemToArray(conds, condition("MemoryPressure", "False", "KubeletHasSufficientMemory",
					      "kubelet has sufficient memory available", now));
	cJSON_AddItemToArray(conds, condition("DiskPressure", "False", "KubeletHasNoDiskPressure",
					      "kubelet has no disk pressure", now));
	cJSON_AddItemToArray(conds, condition("PIDPressure", "False", "KubeletHasSufficientPID",
					      "kubelet has sufficient PID available", now));
	cJSON_AddItemToArray(conds, condition("Ready", rd->ready ? "True" : "False", rd->reason, rd->message, now));
	cJSON *addrs = cJSON_AddArrayToObject(st, "addresses");
	if (f->internal_ip[0]) {
		cJSON *a = cJSON_CreateObject();
		cJSON_AddStringToObject(a, "type", "InternalIP");
		cJSON_AddStringToObject(a, "address", f->internal_ip);
		cJSON_AddItemToArray(addrs, a);
	}
	cJSON *h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "type", "Hostname");
	cJSON_AddStringToObject(h, "address", f->name);
	cJSON_AddItemToArray(addrs, h);
	cJSON *de = cJSON_AddObjectToObject(st, "daemonEndpoints");
	cJSON *ke = cJSON_AddObjectToObject(de, "kubeletEndpoint");
	cJSON_AddNumberToObject(ke, "Port", cfg->port);
	cJSON *ni = cJSON_AddObjectToObject(st, "nodeInfo");
	cJSON_AddStringToObject(ni, "machineID", f->machine_id);
	cJSON_AddStringToObject(ni, "systemUUID", f->system_uuid);
	cJSON_AddStringToObject(ni, "bootID", f->boot_id);
	cJSON_AddStringToObject(ni, "kernelVersion", f->kernel_version);
	cJSON_AddStringToObject(ni, "osImage", f->os_image);
	cJSON_AddStringToObject(ni, "containerRuntimeVersion", f->runtime_version);
	cJSON_AddStringToObject(ni, "kubeletVersion", KUBELET_VERSION);
	cJSON_AddStringToObject(ni, "kubeProxyVersion", "");
	cJSON_AddStringToObject(ni, "operatingSystem", "linux");
	cJSON_AddStringToObject(ni, "architecture", "amd64");
	return st;
}

/* key: a qualified name; value: empty or a label value (validation.go). */
static int valid_label(const char *k, const char *v)
{
	return kc_validate_qualified_name(k, NULL) == 0 && kc_validate_label_value(v, NULL) == 0;
}

cJSON *node_build(const node_facts *f, const kubelet_config *cfg, const kc_strlist *labels,
		  const kc_strlist *taints, const node_readiness *rd, int64_t now_ns, char *err, size_t errlen)
{
	cJSON *n = cJSON_CreateObject();
	cJSON_AddStringToObject(n, "apiVersion", "v1");
	cJSON_AddStringToObject(n, "kind", "Node");
	cJSON *md = cJSON_AddObjectToObject(n, "metadata");
	cJSON_AddStringToObject(md, "name", f->name);
	cJSON *lb = cJSON_AddObjectToObject(md, "labels");
	/* kubelet_node_status.go initialNode: the well-known labels */
	cJSON_AddStringToObject(lb, "beta.kubernetes.io/arch", "amd64");
	cJSON_AddStringToObject(lb, "beta.kubernetes.io/os", "linux");
	cJSON_AddStringToObject(lb, "kubernetes.io/arch", "amd64");
	cJSON_AddStringToObject(lb, "kubernetes.io/hostname", f->name);
	cJSON_AddStringToObject(lb, "kubernetes.io/os", "linux");
	for (size_t i = 0; labels && i < labels->n; i++) {
		char kv[512];
		snprintf(kv, sizeof(kv), "%s", labels->items[i]);
		char *eq = strchr(kv, '=');
		if (!eq) {
			snprintf(err, errlen, "invalid argument \"%s\" for \"--node-labels\" flag: %s must be formatted as key=value",
				 labels->items[i], labels->items[i]);
			cJSON_Delete(n);
			return NULL;
		}
		*eq = '\0';
		if (!valid_label(kv, eq + 1)) {
			snprintf(err, errlen, "invalid node labels: invalid label \"%s\"", labels->items[i]);
			cJSON_Delete(n);
			return NULL;
		}
		cJSON_DeleteItemFromObjectCaseSensitive(lb, kv);
		cJSON_AddStringToObject(lb, kv, eq + 1);
	}
	cJSON *ann = cJSON_AddObjectToObject(md, "annotations");
	cJSON_AddStringToObject(ann, "volumes.kubernetes.io/controller-managed-attach-detach", "true");
	cJSON *spec = cJSON_AddObjectToObject(n, "spec");
	if (cfg->pod_cidr[0]) {
		cJSON_AddStringToObject(spec, "podCIDR", cfg->pod_cidr);
		cJSON *cidrs = cJSON_AddArrayToObject(spec, "podCIDRs");
		cJSON_AddItemToArray(cidrs, cJSON_CreateString(cfg->pod_cidr));
	}
	if (taints && taints->n) {
		cJSON *ta = cJSON_AddArrayToObject(spec, "taints");
		for (size_t i = 0; i < taints->n; i++) {
			/* "key=value:Effect" or "key:Effect" (taints.ParseTaint) */
			char t[512];
			snprintf(t, sizeof(t), "%s", taints->items[i]);
			char *colon = strrchr(t, ':');
			const char *effect = colon ? colon + 1 : "";
			if (!colon || (strcmp(effect, "NoSchedule") && strcmp(effect, "PreferNoSchedule") &&
				       strcmp(effect, "NoExecute"))) {
				snprintf(err, errlen, "invalid taint spec: %s, unsupported taint effect", taints->items[i]);
				cJSON_Delete(n);
				return NULL;
			}
			*colon = '\0';
			char *eq = strchr(t, '=');
			const char *val = "";
			if (eq) {
				*eq = '\0';
				val = eq + 1;
			}
			if (!valid_label(t, val)) {
				snprintf(err, errlen, "invalid taint spec: %s", taints->items[i]);
				cJSON_Delete(n);
				return NULL;
			}
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "key", t);
			if (val[0])
				cJSON_AddStringToObject(o, "value", val);
			cJSON_AddStringToObject(o, "effect", effect);
			cJSON_AddItemToArray(ta, o);
		}
	}
	cJSON_AddItemToObject(n, "status", node_build_status(f, cfg, rd, now_ns));
	return n;
}

int node_register(kc_client *c, const cJSON *node, char *uid, size_t uidlen, kc_status *st)
{
	const char *name = kc_json_get_string(node, "metadata.name", "");
	kc_ref coll = { .api_version = "v1", .resource = "nodes" };
	cJSON *out = NULL;
	int rc = kc_client_create(c, &coll, node, &out, st);
	if (rc == KC_EEXIST) {
		/* tryRegisterWithAPIServer: the node exists (kubelet restart); keep it and
		 * bring its status up to date. */
		rc = node_update_status(c, name, cJSON_GetObjectItemCaseSensitive(node, "status"), st);
		if (rc < 0)
			return rc;
		kc_ref ref = { .api_version = "v1", .resource = "nodes", .name = name };
		rc = kc_client_get(c, &ref, NULL, &out, st);
	}
	if (rc == 0)
		snprintf(uid, uidlen, "%s", kc_json_get_string(out, "metadata.uid", ""));
	cJSON_Delete(out);
	return rc;
}

/* Replace conditions by type; keep lastTransitionTime when the status is unchanged. */
static void merge_conditions(cJSON *old_status, const cJSON *new_conds)
{
	cJSON *old = cJSON_GetObjectItemCaseSensitive(old_status, "conditions");
	cJSON *merged = cJSON_CreateArray();
	const cJSON *nc;
	cJSON_ArrayForEach(nc, new_conds) {
		cJSON *c = cJSON_Duplicate(nc, 1);
		const char *type = kc_json_get_string(nc, "type", "");
		cJSON *oc;
		cJSON_ArrayForEach(oc, old) {
			if (strcmp(kc_json_get_string(oc, "type", ""), type) == 0 &&
			    strcmp(kc_json_get_string(oc, "status", ""), kc_json_get_string(nc, "status", "")) == 0) {
				const char *lt = kc_json_get_string(oc, "lastTransitionTime", NULL);
				if (lt)
					cJSON_ReplaceItemInObjectCaseSensitive(c, "lastTransitionTime", cJSON_CreateString(lt));
			}
		}
		cJSON_AddItemToArray(merged, c);
	}
	cJSON *oc;
	cJSON_ArrayForEach(oc, old) {
		const char *type = kc_json_get_string(oc, "type", "");
		int ours = 0;
		cJSON_ArrayForEach(nc, new_conds) ours |= strcmp(kc_json_get_string(nc, "type", ""), type) == 0;
		if (!ours)
			cJSON_AddItemToArray(merged, cJSON_Duplicate(oc, 1));
	}
	if (old)
		cJSON_ReplaceItemInObjectCaseSensitive(old_status, "conditions", merged);
	else
		cJSON_AddItemToObject(old_status, "conditions", merged);
}

int node_update_status(kc_client *c, const char *name, const cJSON *status, kc_status *st)
{
	kc_ref ref = { .api_version = "v1", .resource = "nodes", .name = name };
	kc_ref sref = ref;
	sref.subresource = "status";
	int rc = KC_ECONFLICT;
	for (int attempt = 0; attempt < 5 && rc == KC_ECONFLICT; attempt++) {
		cJSON *node = NULL;
		rc = kc_client_get(c, &ref, NULL, &node, st);
		if (rc < 0)
			return rc;
		cJSON *ns = cJSON_GetObjectItemCaseSensitive(node, "status");
		if (!ns)
			ns = cJSON_AddObjectToObject(node, "status");
		const cJSON *f;
		cJSON_ArrayForEach(f, status) {
			if (strcmp(f->string, "conditions") == 0)
				continue;
			cJSON_DeleteItemFromObjectCaseSensitive(ns, f->string);
			cJSON_AddItemToObject(ns, f->string, cJSON_Duplicate(f, 1));
		}
		merge_conditions(ns, cJSON_GetObjectItemCaseSensitive(status, "conditions"));
		cJSON *out = NULL;
		rc = kc_client_update(c, &sref, node, &out, st);
		cJSON_Delete(out);
		cJSON_Delete(node);
	}
	return rc;
}
