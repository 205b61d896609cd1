/* Parsing pods and nodes into the scheduler's types; see types.h. */
#include "types.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "meta.h"
#include "quantity.h"

bool sched_is_scalar_resource(const char *name)
{
	if (!name || !*name)
		return false;
	/* extended resources and prefixed native resources both carry a '/' */
	if (strchr(name, '/'))
		return strncmp(name, "requests.", 9) != 0;
	return strncmp(name, "hugepages-", 10) == 0 ||
	       strncmp(name, "attachable-volumes-", 19) == 0;
}

int64_t sched_resource_scalar(const sched_resource *r, const char *name)
{
	for (int i = 0; i < r->nscalar; i++)
		if (strcmp(r->scalar[i].name, name) == 0)
			return r->scalar[i].value;
	return 0;
}

static int64_t *scalar_slot(sched_resource *r, const char *name, int *err)
{
	for (int i = 0; i < r->nscalar; i++)
		if (strcmp(r->scalar[i].name, name) == 0)
			return &r->scalar[i].value;
	if (strlen(name) >= SCHED_RES_NAME_MAX) {
		*err = -ENAMETOOLONG;
		return NULL;
	}
	if (r->nscalar >= SCHED_MAX_SCALAR) {
		*err = -ENOSPC;
		return NULL;
	}
	int i = r->nscalar++;
	snprintf(r->scalar[i].name, sizeof(r->scalar[i].name), "%s", name);
	r->scalar[i].value = 0;
	return &r->scalar[i].value;
}

int sched_resource_set_scalar(sched_resource *r, const char *name, int64_t v)
{
	int err = 0;
	int64_t *s = scalar_slot(r, name, &err);
	if (!s)
		return err;
	*s = v;
	return 0;
}

void sched_resource_add(sched_resource *r, const sched_resource *b)
{
	int err;
	r->milli_cpu += b->milli_cpu;
	r->memory += b->memory;
	r->ephemeral += b->ephemeral;
	r->allowed_pods += b->allowed_pods;
	for (int i = 0; i < b->nscalar; i++) {
		int64_t *s = scalar_slot(r, b->scalar[i].name, &err);
		if (s)
			*s += b->scalar[i].value;
	}
}

void sched_resource_sub(sched_resource *r, const sched_resource *b)
{
	int err;
	r->milli_cpu -= b->milli_cpu;
	r->memory -= b->memory;
	r->ephemeral -= b->ephemeral;
	r->allowed_pods -= b->allowed_pods;
	for (int i = 0; i < b->nscalar; i++) {
		int64_t *s = scalar_slot(r, b->scalar[i].name, &err);
		if (s)
			*s -= b->scalar[i].value;
	}
}

#define MAX64(a, b) ((a) > (b) ? (a) : (b))

void sched_resource_max(sched_resource *r, const sched_resource *b)
{
	int err;
	r->milli_cpu = MAX64(r->milli_cpu, b->milli_cpu);
	r->memory = MAX64(r->memory, b->memory);
	r->ephemeral = MAX64(r->ephemeral, b->ephemeral);
	r->allowed_pods = MAX64(r->allowed_pods, b->allowed_pods);
	for (int i = 0; i < b->nscalar; i++) {
		int64_t *s = scalar_slot(r, b->scalar[i].name, &err);
		if (s)
			*s = MAX64(*s, b->scalar[i].value);
	}
}

int sched_resource_from_list(const cJSON *list, sched_resource *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (!list || cJSON_IsNull(list))
		return 0;
	if (!cJSON_IsObject(list)) {
		snprintf(err, errlen, "resource list is not an object");
		return KC_EPARSE;
	}
	const cJSON *it;
	cJSON_ArrayForEach(it, list)
	{
		kc_quantity q;
		char qerr[KC_QUANTITY_ERRLEN];
		if (kc_quantity_from_json(it, &q, qerr, sizeof(qerr)) != 0) {
			snprintf(err, errlen, "resource %s: %s", it->string, qerr);
			return KC_EPARSE;
		}
		const char *n = it->string;
		if (strcmp(n, "cpu") == 0)
			out->milli_cpu = kc_quantity_milli_value(&q);
		else if (strcmp(n, "memory") == 0)
			out->memory = kc_quantity_value(&q);
		else if (strcmp(n, "ephemeral-storage") == 0)
			out->ephemeral = kc_quantity_value(&q);
		else if (strcmp(n, "pods") == 0)
			out->allowed_pods = kc_quantity_value(&q);
		else if (sched_is_scalar_resource(n)) {
			int rc = sched_resource_set_scalar(out, n, kc_quantity_value(&q));
			if (rc != 0) {
				snprintf(err, errlen, "resource %s: %s", n, kc_strerror(rc));
				return KC_EPARSE;
			}
		}
	}
	return 0;
}

/* ---- pods ---- */

static bool is_restartable_init(const cJSON *c)
{
	const char *rp = kc_json_get_string(c, "restartPolicy", NULL);
	return rp && strcmp(rp, "Always") == 0;
}

/* One container's requests; with nonzero, missing cpu/memory count as the scoring
 * defaults (upstream NonMissingContainerRequests: only absent keys, an explicit 0 stays). */
static int container_requests(const cJSON *c, bool nonzero, sched_resource *out, char *err,
			      size_t errlen)
{
	const cJSON *reqs = kc_json_get(c, "resources.requests");
	int rc = sched_resource_from_list(reqs, out, err, errlen);
	if (rc != 0)
		return rc;
	if (nonzero) {
		if (!reqs || !cJSON_GetObjectItemCaseSensitive(reqs, "cpu"))
			out->milli_cpu = SCHED_DEFAULT_MILLI_CPU;
		if (!reqs || !cJSON_GetObjectItemCaseSensitive(reqs, "memory"))
			out->memory = SCHED_DEFAULT_MEMORY;
	}
	return 0;
}

/* upstream resourcehelper.PodRequests: regular containers summed; restartable (sidecar)
 * init containers added to the sum; each regular init container runs alone with the
 * sidecars started before it, and the pod needs the max of that and the sum; plus
 * spec.overhead. */
static int pod_requests(const cJSON *spec, bool nonzero, sched_resource *out, char *err,
			size_t errlen)
{
	sched_resource reqs, sidecars, init_max, c;
	memset(&reqs, 0, sizeof(reqs));
	memset(&sidecars, 0, sizeof(sidecars));
	memset(&init_max, 0, sizeof(init_max));
	const cJSON *it;
	int rc;
	cJSON_ArrayForEach(it, kc_json_get(spec, "containers"))
	{
		if ((rc = container_requests(it, nonzero, &c, err, errlen)) != 0)
			return rc;
		sched_resource_add(&reqs, &c);
	}
	cJSON_ArrayForEach(it, kc_json_get(spec, "initContainers"))
	{
		if ((rc = container_requests(it, nonzero, &c, err, errlen)) != 0)
			return rc;
		if (is_restartable_init(it)) {
			sched_resource_add(&reqs, &c);
			sched_resource_add(&sidecars, &c);
			c = sidecars;
		} else {
			sched_resource_add(&c, &sidecars);
		}
		sched_resource_max(&init_max, &c);
	}
	sched_resource_max(&reqs, &init_max);
	const cJSON *overhead = kc_json_get(spec, "overhead");
	if (overhead) {
		if ((rc = sched_resource_from_list(overhead, &c, err, errlen)) != 0)
			return rc;
		sched_resource_add(&reqs, &c);
	}
	*out = reqs;
	return 0;
}

static int pod_ports(sched_pod *p, const cJSON *spec, char *err, size_t errlen)
{
	const cJSON *c, *port;
	int n = 0;
	cJSON_ArrayForEach(c, kc_json_get(spec, "containers"))
		cJSON_ArrayForEach(port, kc_json_get(c, "ports")) n++;
	if (n == 0)
		return 0;
	p->ports = calloc((size_t)n, sizeof(*p->ports));
	if (!p->ports)
		return -ENOMEM;
	cJSON_ArrayForEach(c, kc_json_get(spec, "containers"))
	{
		cJSON_ArrayForEach(port, kc_json_get(c, "ports"))
		{
			int64_t hp = kc_json_get_int64(port, "hostPort", 0);
			if (hp <= 0)
				continue;
			if (hp > 65535) {
				snprintf(err, errlen, "hostPort %lld out of range", (long long)hp);
				return KC_EINVALID;
			}
			sched_host_port *h = &p->ports[p->nports++];
			const char *ip = kc_json_get_string(port, "hostIP", "");
			const char *proto = kc_json_get_string(port, "protocol", "TCP");
			snprintf(h->ip, sizeof(h->ip), "%s", strcmp(ip, "0.0.0.0") == 0 ? "" : ip);
			snprintf(h->protocol, sizeof(h->protocol), "%s", *proto ? proto : "TCP");
			h->port = (int)hp;
		}
	}
	return 0;
}

/* A copy of an API object without metadata.managedFields: no plugin reads them, and they
 * are a third of a typical pod's JSON, which the cache holds for every pod and node. */
static cJSON *dup_lean(const cJSON *obj)
{
	cJSON *c = kc_json_dup(obj);
	cJSON *md = c ? cJSON_GetObjectItemCaseSensitive(c, "metadata") : NULL;
	if (cJSON_IsObject(md))
		cJSON_DeleteItemFromObjectCaseSensitive(md, "managedFields");
	return c;
}

int sched_pod_new(const cJSON *pod, sched_pod **out, char *err, size_t errlen)
{
	*out = NULL;
	if (!cJSON_IsObject(pod) || !*kc_meta_name(pod)) {
		snprintf(err, errlen, "pod has no metadata.name");
		return KC_EINVALID;
	}
	sched_pod *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->obj = dup_lean(pod);
	if (!p->obj) {
		free(p);
		return -ENOMEM;
	}
	p->name = kc_meta_name(p->obj);
	p->ns = kc_meta_namespace(p->obj);
	p->uid = kc_meta_uid(p->obj);
	snprintf(p->key, sizeof(p->key), "%s/%s", p->ns, p->name);
	const cJSON *spec = kc_json_get(p->obj, "spec");
	p->node_name = kc_json_get_string(spec, "nodeName", "");
	p->scheduler_name = kc_json_get_string(spec, "schedulerName", "default-scheduler");
	p->preemption_policy = kc_json_get_string(spec, "preemptionPolicy", "PreemptLowerPriority");
	int64_t prio = kc_json_get_int64(spec, "priority", 0);
	if (prio > INT32_MAX)
		prio = INT32_MAX;
	if (prio < INT32_MIN)
		prio = INT32_MIN;
	p->priority = (int32_t)prio;
	p->tolerations = kc_json_get(spec, "tolerations");
	p->node_selector = kc_json_get(spec, "nodeSelector");
	p->affinity = kc_json_get(spec, "affinity");
	p->terminating = *kc_meta_deletion_timestamp(p->obj) != '\0';
	p->pod_affinity = kc_json_get(p->affinity, "podAffinity") ||
			  kc_json_get(p->affinity, "podAntiAffinity");
	p->required_anti = cJSON_GetArraySize(kc_json_get(
		p->affinity, "podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution")) > 0;
	sched_resource nz;
	int rc = pod_requests(spec, false, &p->req, err, errlen);
	if (rc == 0)
		rc = pod_requests(spec, true, &nz, err, errlen);
	if (rc == 0)
		rc = pod_ports(p, spec, err, errlen);
	if (rc != 0) {
		sched_pod_free(p);
		return rc == -ENOMEM ? rc : KC_EINVALID;
	}
	p->nonzero_cpu = nz.milli_cpu;
	p->nonzero_mem = nz.memory;
	*out = p;
	return 0;
}

void sched_pod_free(sched_pod *p)
{
	if (!p)
		return;
	cJSON_Delete(p->obj);
	free(p->ports);
	free(p);
}

/* ---- nodes ---- */

size_t sched_normalize_image(const char *image, char *buf, size_t len)
{
	const char *colon = strrchr(image, ':');
	const char *slash = strrchr(image, '/');
	if (!colon || (slash && colon < slash))
		return (size_t)snprintf(buf, len, "%s:latest", image);
	return (size_t)snprintf(buf, len, "%s", image);
}

static void free_images(sched_node_info *ni)
{
	for (int i = 0; i < ni->nimages; i++)
		free(ni->images[i].name);
	free(ni->images);
	ni->images = NULL;
	ni->nimages = 0;
}

static int parse_node(sched_node_info *ni, char *err, size_t errlen)
{
	const cJSON *n = ni->node;
	ni->name = kc_meta_name(n);
	ni->unschedulable = kc_json_get_bool(n, "spec.unschedulable", false);
	ni->taints = kc_json_get(n, "spec.taints");
	ni->labels = kc_json_get(n, "metadata.labels");
	int rc = sched_resource_from_list(kc_json_get(n, "status.allocatable"), &ni->allocatable,
					  err, errlen);
	if (rc != 0)
		return rc;
	free_images(ni);
	const cJSON *img, *nm;
	int count = 0;
	cJSON_ArrayForEach(img, kc_json_get(n, "status.images"))
		cJSON_ArrayForEach(nm, kc_json_get(img, "names")) count++;
	if (count == 0)
		return 0;
	ni->images = calloc((size_t)count, sizeof(*ni->images));
	if (!ni->images)
		return -ENOMEM;
	cJSON_ArrayForEach(img, kc_json_get(n, "status.images"))
	{
		int64_t size = kc_json_get_int64(img, "sizeBytes", 0);
		cJSON_ArrayForEach(nm, kc_json_get(img, "names"))
		{
			if (!cJSON_IsString(nm))
				continue;
			char buf[1024];
			sched_normalize_image(nm->valuestring, buf, sizeof(buf));
			ni->images[ni->nimages].name = strdup(buf);
			if (!ni->images[ni->nimages].name)
				return -ENOMEM;
			ni->images[ni->nimages++].size = size;
		}
	}
	return 0;
}

int sched_node_info_new(const cJSON *node, sched_node_info **out, char *err, size_t errlen)
{
	*out = NULL;
	if (!cJSON_IsObject(node) || !*kc_meta_name(node)) {
		snprintf(err, errlen, "node has no metadata.name");
		return KC_EINVALID;
	}
	sched_node_info *ni = calloc(1, sizeof(*ni));
	if (!ni)
		return -ENOMEM;
	ni->node = dup_lean(node);
	if (!ni->node) {
		free(ni);
		return -ENOMEM;
	}
	int rc = parse_node(ni, err, errlen);
	if (rc != 0) {
		sched_node_info_free(ni);
		return rc;
	}
	*out = ni;
	return 0;
}

int sched_node_info_set_node(sched_node_info *ni, const cJSON *node, char *err, size_t errlen)
{
	cJSON *copy = dup_lean(node);
	if (!copy)
		return -ENOMEM;
	cJSON *old = ni->node;
	sched_resource old_alloc = ni->allocatable;
	ni->node = copy;
	int rc = parse_node(ni, err, errlen);
	if (rc != 0) {
		/* keep the previous object: a bad update must not lose the node */
		ni->node = old;
		ni->allocatable = old_alloc;
		cJSON_Delete(copy);
		parse_node(ni, err, 0);
		return rc;
	}
	cJSON_Delete(old);
	ni->generation++;
	return 0;
}

void sched_node_info_free(sched_node_info *ni)
{
	if (!ni)
		return;
	cJSON_Delete(ni->node);
	free(ni->pods);
	free_images(ni);
	free(ni);
}

int sched_node_info_add_pod(sched_node_info *ni, sched_pod *p)
{
	if (ni->npods == ni->cappods) {
		int cap = ni->cappods ? ni->cappods * 2 : 8;
		sched_pod **np = realloc(ni->pods, (size_t)cap * sizeof(*np));
		if (!np)
			return -ENOMEM;
		ni->pods = np;
		ni->cappods = cap;
	}
	ni->pods[ni->npods++] = p;
	ni->nanti += p->required_anti;
	ni->naffinity += p->pod_affinity;
	sched_resource_add(&ni->requested, &p->req);
	ni->nonzero_cpu += p->nonzero_cpu;
	ni->nonzero_mem += p->nonzero_mem;
	ni->generation++;
	return 0;
}

int sched_node_info_remove_pod(sched_node_info *ni, const char *key)
{
	for (int i = 0; i < ni->npods; i++) {
		sched_pod *p = ni->pods[i];
		if (strcmp(p->key, key) != 0)
			continue;
		sched_resource_sub(&ni->requested, &p->req);
		ni->nanti -= p->required_anti;
		ni->naffinity -= p->pod_affinity;
		ni->nonzero_cpu -= p->nonzero_cpu;
		ni->nonzero_mem -= p->nonzero_mem;
		ni->pods[i] = ni->pods[--ni->npods];
		ni->generation++;
		return 0;
	}
	return KC_ENOTFOUND;
}

sched_node_info *sched_node_info_filtered(const sched_node_info *ni,
					  bool (*keep)(const sched_pod *p, void *arg), void *arg)
{
	sched_node_info *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->node = kc_json_dup(ni->node);
	if (!c->node) {
		free(c);
		return NULL;
	}
	char err[64];
	if (parse_node(c, err, sizeof(err)) != 0) {
		sched_node_info_free(c);
		return NULL;
	}
	for (int i = 0; i < ni->npods; i++)
		if (keep(ni->pods[i], arg) && sched_node_info_add_pod(c, ni->pods[i]) != 0) {
			sched_node_info_free(c);
			return NULL;
		}
	return c;
}

int64_t sched_node_image_size(const sched_node_info *ni, const char *norm_name)
{
	for (int i = 0; i < ni->nimages; i++)
		if (strcmp(ni->images[i].name, norm_name) == 0)
			return ni->images[i].size;
	return -1;
}
