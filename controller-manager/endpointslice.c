/* The EndpointSlice controller (see endpointslice.h). */
#include "endpointslice.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "labels.h"
#include "log.h"
#include "meta.h"
#include "podutil.h"

int eps_controller_init(eps_controller *ec, cm_lister *lister, cm_api *api)
{
	memset(ec, 0, sizeof(*ec));
	ec->lister = lister;
	ec->api = api;
	ec->max_endpoints = EPS_MAX_ENDPOINTS;
	return est_init(&ec->tracker, NULL);
}

void eps_controller_close(eps_controller *ec)
{
	est_close(&ec->tracker);
}

/* podToEndpoint */
static cJSON *pod_endpoint(const cJSON *svc, const cJSON *pod)
{
	bool serving = cm_pod_ready(pod);
	bool terminating = *kc_meta_deletion_timestamp(pod) != 0;
	/* "ready" is never true for a terminating pod unless publishNotReadyAddresses */
	bool ready = kc_json_get_bool(svc, "spec.publishNotReadyAddresses", false) ||
		     (serving && !terminating);
	cJSON *ep = cJSON_CreateObject();
	cJSON *addrs = cJSON_AddArrayToObject(ep, "addresses");
	cJSON_AddItemToArray(addrs, cJSON_CreateString(kc_json_get_string(pod, "status.podIP", "")));
	cJSON *cond = cJSON_AddObjectToObject(ep, "conditions");
	cJSON_AddBoolToObject(cond, "ready", ready);
	cJSON_AddBoolToObject(cond, "serving", serving);
	cJSON_AddBoolToObject(cond, "terminating", terminating);
	const char *hn = kc_json_get_string(pod, "spec.hostname", "");
	if (*hn && !strcmp(kc_json_get_string(pod, "spec.subdomain", ""), kc_meta_name(svc)))
		cJSON_AddStringToObject(ep, "hostname", hn);
	const char *node = kc_json_get_string(pod, "spec.nodeName", "");
	if (*node)
		cJSON_AddStringToObject(ep, "nodeName", node);
	cJSON *ref = cJSON_AddObjectToObject(ep, "targetRef");
	cJSON_AddStringToObject(ref, "kind", "Pod");
	cJSON_AddStringToObject(ref, "namespace", kc_meta_namespace(pod));
	cJSON_AddStringToObject(ref, "name", kc_meta_name(pod));
	cJSON_AddStringToObject(ref, "uid", kc_meta_uid(pod));
	return ep;
}

/* One group of endpoints sharing a port list. */
typedef struct group {
	cJSON *ports;     /* owned */
	cJSON *endpoints; /* owned array */
} group;

static int by_target_name(const void *x, const void *y)
{
	const cJSON *a = *(cJSON *const *)x, *b = *(cJSON *const *)y;
	return strcmp(kc_json_get_string(a, "targetRef.name", ""),
		      kc_json_get_string(b, "targetRef.name", ""));
}

/* The desired slice for a chunk (ports and endpoints borrowed, copied). */
static cJSON *desired_slice(const cJSON *svc, const cJSON *ports, const cJSON *eps, int from,
			    int count)
{
	cJSON *s = cJSON_CreateObject();
	cJSON_AddStringToObject(s, "apiVersion", "discovery.k8s.io/v1");
	cJSON_AddStringToObject(s, "kind", "EndpointSlice");
	char gen[300];
	snprintf(gen, sizeof(gen), "%.57s-", kc_meta_name(svc));
	kc_meta_set_generate_name(s, gen);
	kc_meta_set_namespace(s, kc_meta_namespace(svc));
	/* setEndpointSliceLabels: the Service's labels, then ours */
	const cJSON *l;
	cJSON_ArrayForEach(l, kc_meta_labels(svc))
	{
		if (cJSON_IsString(l) && strcmp(l->string, EPS_SERVICE_NAME_LABEL) &&
		    strcmp(l->string, EPS_MANAGED_BY_LABEL))
			kc_meta_set_label(s, l->string, l->valuestring);
	}
	kc_meta_set_label(s, EPS_SERVICE_NAME_LABEL, kc_meta_name(svc));
	kc_meta_set_label(s, EPS_MANAGED_BY_LABEL, EPS_CONTROLLER_NAME);
	if (!strcmp(kc_json_get_string(svc, "spec.clusterIP", ""), "None"))
		kc_meta_set_label(s, "service.kubernetes.io/headless", "");
	kc_owner_ref o = { "v1", "Service", kc_meta_name(svc), kc_meta_uid(svc), true, true };
	kc_meta_add_owner_ref(s, &o);
	cJSON_AddStringToObject(s, "addressType", "IPv4");
	cJSON *arr = cJSON_AddArrayToObject(s, "endpoints");
	for (int i = from; i < from + count; i++)
		cJSON_AddItemToArray(arr, kc_json_dup(cJSON_GetArrayItem(eps, i)));
	cJSON_AddItemToObject(s, "ports", kc_json_dup(ports));
	return s;
}

/* Same content as far as the controller cares: labels, endpoints, ports (empty and
 * absent alike, so what the apiserver drops does not cause endless updates). */
static bool slice_equal(const cJSON *cur, const cJSON *want)
{
	return cm_json_normalized_equal(kc_meta_labels(cur), kc_meta_labels(want)) &&
	       cm_json_normalized_equal(kc_json_get(cur, "endpoints"), kc_json_get(want, "endpoints")) &&
	       cm_json_normalized_equal(kc_json_get(cur, "ports"), kc_json_get(want, "ports")) &&
	       !strcmp(kc_json_get_string(cur, "addressType", ""), "IPv4");
}

/* Our slices of service name in ns: a new array. */
static int managed_slices(eps_controller *ec, const char *ns, const char *name, cJSON **out)
{
	cJSON *all = NULL;
	*out = cJSON_CreateArray();
	int rc = ec->lister->list(ec->lister, "endpointslices", ns, &all);
	if (rc < 0)
		return rc;
	const cJSON *s;
	cJSON_ArrayForEach(s, all)
	{
		const char *sn = kc_meta_label(s, EPS_SERVICE_NAME_LABEL);
		const char *mb = kc_meta_label(s, EPS_MANAGED_BY_LABEL);
		if (sn && mb && !strcmp(sn, name) && !strcmp(mb, EPS_CONTROLLER_NAME) &&
		    !*kc_meta_deletion_timestamp(s))
			cJSON_AddItemToArray(*out, kc_json_dup(s));
	}
	cJSON_Delete(all);
	return 0;
}

/* The Service is gone: delete what we made for it and forget what we tracked
 * (upstream DeleteService; upstream leaves the deletion itself to the GC). */
static int delete_all(eps_controller *ec, const char *ns, const char *name, cJSON *slices)
{
	est_delete_service(&ec->tracker, ns, name);
	const cJSON *s;
	int first = 0;
	cJSON_ArrayForEach(s, slices)
	{
		int rc = ec->api->del(ec->api, "endpointslices", ns, kc_meta_name(s), NULL);
		if (rc < 0 && rc != KC_ENOTFOUND && !first)
			first = rc;
	}
	return first;
}

/* Group the endpoints of the selected pods by their resolved ports. */
static int build_groups(const cJSON *svc, const cJSON *pods, group *g, int max)
{
	kc_label_selector sel;
	if (kc_selector_from_set(kc_json_get(svc, "spec.selector"), &sel, NULL, 0) < 0)
		return -EINVAL;
	int n = 0;
	const cJSON *pod;
	cJSON_ArrayForEach(pod, pods)
	{
		if (!kc_selector_matches_object(&sel, pod) || !cm_pod_in_endpoints(pod, true))
			continue;
		cJSON *ports = cm_pod_service_ports(svc, pod, true);
		int i;
		for (i = 0; i < n; i++)
			if (kc_json_equal(g[i].ports, ports))
				break;
		if (i == n) {
			if (n == max) {
				cJSON_Delete(ports);
				continue;
			}
			g[n].ports = ports;
			g[n].endpoints = cJSON_CreateArray();
			n++;
		} else {
			cJSON_Delete(ports);
		}
		cJSON_AddItemToArray(g[i].endpoints, pod_endpoint(svc, pod));
	}
	kc_selector_close(&sel);
	return n;
}

static bool keep_selected(const cJSON *obj, void *arg)
{
	return kc_selector_matches_object(arg, obj);
}

/* Existing slice may be kept for svc: owned by this incarnation of the Service
 * (upstream reconciler's ownedBy; others are deleted, so no slice keeps an
 * ownerReference to a Service that was deleted and recreated under the same name). */
static bool owned_by(const cJSON *slice, const cJSON *svc)
{
	return kc_meta_is_owned_by(slice, kc_meta_uid(svc));
}

/* Record a write in the tracker; a failure only costs a needless resync later. */
static void track(eps_controller *ec, const cJSON *slice, bool deleted)
{
	int rc = deleted ? est_expect_deletion(&ec->tracker, slice) : est_update(&ec->tracker, slice);
	if (rc < 0)
		kc_warn("endpointslice: cannot track slice %s/%s: %s", kc_meta_namespace(slice),
			kc_meta_name(slice), kc_strerror(rc));
}

/* Pair the desired slices (want) with the existing ones and write the difference:
 * an identical slice is kept, then one with the same ports is updated, then any other
 * of ours is updated in place (upstream: "rather than deleting slices and creating
 * new ones, we prioritize updating existing slices" -- so a placeholder becomes the
 * first data slice), else a slice is created; leftovers are deleted. Every write goes
 * into the tracker. */
static int write_slices(eps_controller *ec, const char *ns, const cJSON *svc, cJSON *existing,
			cJSON *want)
{
	int ne = cJSON_GetArraySize(existing), nw = cJSON_GetArraySize(want);
	bool *used = calloc((size_t)ne + 1, sizeof(bool));
	int *match = calloc((size_t)nw + 1, sizeof(int));
	if (!used || !match) {
		free(used);
		free(match);
		return -ENOMEM;
	}
	for (int e = 0; e < ne; e++)
		used[e] = !owned_by(cJSON_GetArrayItem(existing, e), svc); /* never reused */
	for (int w = 0; w < nw; w++)
		match[w] = -1;
	/* pass 0: identical; 1: same ports; 2: any */
	for (int pass = 0; pass < 3; pass++)
		for (int w = 0; w < nw; w++) {
			const cJSON *ws = cJSON_GetArrayItem(want, w);
			for (int e = 0; e < ne && match[w] == -1; e++) {
				const cJSON *es = cJSON_GetArrayItem(existing, e);
				if (used[e])
					continue;
				if ((pass == 0 && slice_equal(es, ws)) ||
				    (pass == 1 && cm_json_normalized_equal(kc_json_get(es, "ports"),
									   kc_json_get(ws, "ports"))) ||
				    pass == 2) {
					match[w] = pass == 0 ? -2 - e : e; /* -2-e: kept as is */
					used[e] = true;
				}
			}
		}
	int rc = 0;
	for (int w = 0; w < nw && rc == 0; w++) {
		cJSON *ws = cJSON_GetArrayItem(want, w), *out = NULL;
		if (match[w] <= -2)
			continue;
		if (match[w] < 0) {
			rc = ec->api->create(ec->api, "endpointslices", ns, ws, &out, NULL);
			if (rc == 0 && out)
				track(ec, out, false);
			cJSON_Delete(out);
			continue;
		}
		cJSON *cur = cJSON_GetArrayItem(existing, match[w]);
		cJSON *upd = kc_json_dup(cur);
		const char *fields[] = { "endpoints", "ports", "addressType" };
		for (int f = 0; f < 3; f++) {
			cJSON_DeleteItemFromObjectCaseSensitive(upd, fields[f]);
			cJSON_AddItemToObject(upd, fields[f], kc_json_dup(kc_json_get(ws, fields[f])));
		}
		kc_json_delete(upd, "metadata.labels");
		kc_json_set(upd, "metadata.labels", kc_json_dup(kc_meta_labels(ws)));
		rc = ec->api->update(ec->api, "endpointslices", ns, kc_meta_name(cur), NULL, upd,
				     &out);
		if (rc == 0 && out)
			track(ec, out, false);
		cJSON_Delete(out);
		cJSON_Delete(upd);
	}
	/* leftovers, and slices not owned by this Service, are deleted */
	for (int e = 0; e < ne && rc == 0; e++) {
		const cJSON *es = cJSON_GetArrayItem(existing, e);
		bool kept = false;
		for (int w = 0; w < nw && !kept; w++)
			kept = match[w] == e || match[w] == -2 - e;
		if (kept)
			continue;
		int r = ec->api->del(ec->api, "endpointslices", ns, kc_meta_name(es), NULL);
		if (r == 0)
			track(ec, es, true);
		else if (r != KC_ENOTFOUND)
			rc = r;
	}
	free(used);
	free(match);
	return rc;
}

int eps_sync(void *arg, const char *key)
{
	eps_controller *ec = arg;
	char ns[256], name[256];
	if (cm_split_key(key, ns, sizeof(ns), name, sizeof(name)) < 0)
		return 0;
	cJSON *svc = NULL, *existing = NULL, *pods = NULL, *want = cJSON_CreateArray();
	int rc = managed_slices(ec, ns, name, &existing);
	if (rc < 0)
		goto out;
	rc = ec->lister->get(ec->lister, "services", ns, name, &svc);
	if (rc == KC_ENOTFOUND) {
		/* no garbage collector yet: remove what we made for it */
		rc = delete_all(ec, ns, name, existing);
		goto out;
	}
	if (rc < 0)
		goto out;
	if (!strcmp(kc_json_get_string(svc, "spec.type", ""), "ExternalName") ||
	    !kc_json_get(svc, "spec.selector") ||
	    cJSON_IsNull(kc_json_get(svc, "spec.selector"))) {
		rc = 0; /* no slices from this controller (upstream leaves them alone) */
		goto out;
	}
	/* upstream syncService: a cache that does not show this controller's own writes
	 * yet would make it create a second placeholder (or data slice) or undo its own
	 * update; retry once the informer has caught up (the slice events requeue). */
	if (est_stale_slices(&ec->tracker, ns, name, existing)) {
		__atomic_add_fetch(&ec->stale_syncs, 1, __ATOMIC_RELAXED);
		kc_log_v(4, "endpointslice: service %s: EndpointSlice informer cache is out of date",
			 key);
		rc = -EAGAIN;
		goto out;
	}
	kc_label_selector psel;
	if (kc_selector_from_set(kc_json_get(svc, "spec.selector"), &psel, NULL, 0) < 0) {
		rc = 0; /* invalid selector: nothing sensible to do until the Service changes */
		goto out;
	}
	rc = ec->lister->list_filtered(ec->lister, "pods", ns, keep_selected, &psel, &pods);
	kc_selector_close(&psel);
	if (rc < 0)
		goto out;
	enum { MAXG = 64 };
	group g[MAXG];
	int ng = build_groups(svc, pods, g, MAXG);
	if (ng < 0) {
		rc = 0; /* invalid selector: nothing sensible to do until the Service changes */
		goto out;
	}
	for (int i = 0; i < ng; i++) {
		cm_json_sort_array(g[i].endpoints, by_target_name);
		int n = cJSON_GetArraySize(g[i].endpoints);
		for (int from = 0; from < n; from += ec->max_endpoints)
			cJSON_AddItemToArray(want, desired_slice(svc, g[i].ports, g[i].endpoints, from,
								 n - from < ec->max_endpoints ?
									 n - from :
									 ec->max_endpoints));
		cJSON_Delete(g[i].ports);
		cJSON_Delete(g[i].endpoints);
	}
	if (!cJSON_GetArraySize(want)) {
		/* the placeholder: a Service with no endpoints still has one empty slice */
		cJSON *noports = cJSON_CreateArray();
		cJSON_AddItemToArray(want, desired_slice(svc, noports, NULL, 0, 0));
		cJSON_Delete(noports);
	}
	rc = write_slices(ec, ns, svc, existing, want);
out:
	cJSON_Delete(svc);
	cJSON_Delete(existing);
	cJSON_Delete(pods);
	cJSON_Delete(want);
	return rc;
}

/* ---- handlers ---- */

void eps_on_service(const cJSON *obj, void *arg)
{
	cm_controller_enqueue_obj(((eps_controller *)arg)->ctrl, obj);
}

void eps_on_service_update(const cJSON *old_obj, const cJSON *new_obj, void *arg)
{
	(void)old_obj;
	eps_on_service(new_obj, arg);
}

void eps_on_service_delete(const cJSON *obj, int final_state_unknown, void *arg)
{
	eps_on_service(obj, arg);
}

void eps_on_pod_add(const cJSON *pod, void *arg)
{
	cm_enqueue_pod_services(((eps_controller *)arg)->lister, ((eps_controller *)arg)->ctrl, pod);
}

void eps_on_pod_update(const cJSON *old_pod, const cJSON *new_pod, void *arg)
{
	if (!strcmp(kc_meta_resource_version(old_pod), kc_meta_resource_version(new_pod)))
		return;
	cm_enqueue_pod_services(((eps_controller *)arg)->lister, ((eps_controller *)arg)->ctrl, new_pod);
	if (!kc_json_equal(kc_meta_labels(old_pod), kc_meta_labels(new_pod)))
		cm_enqueue_pod_services(((eps_controller *)arg)->lister, ((eps_controller *)arg)->ctrl, old_pod);
}

void eps_on_pod_delete(const cJSON *pod, int final_state_unknown, void *arg)
{
	cm_enqueue_pod_services(((eps_controller *)arg)->lister, ((eps_controller *)arg)->ctrl, pod);
}

static bool managed_by_us(const cJSON *slice)
{
	const char *mb = kc_meta_label(slice, EPS_MANAGED_BY_LABEL);
	return mb && !strcmp(mb, EPS_CONTROLLER_NAME);
}

/* queueServiceForEndpointSlice */
static void enqueue_slice_service(eps_controller *ec, const cJSON *slice)
{
	const char *sn = kc_meta_label(slice, EPS_SERVICE_NAME_LABEL);
	if (!sn || !*sn)
		return;
	char key[600];
	snprintf(key, sizeof(key), "%s/%s", kc_meta_namespace(slice), sn);
	cm_controller_enqueue(ec->ctrl, key);
}

/* onEndpointSliceAdd: only slices that are news (not this controller's own write)
 * requeue the Service. */
void eps_on_slice(const cJSON *obj, void *arg)
{
	eps_controller *ec = arg;
	if (managed_by_us(obj) && est_should_sync(&ec->tracker, obj))
		enqueue_slice_service(ec, obj);
}

/* onEndpointSliceUpdate: also when the service-name label or the managed-by label
 * changed (neither bumps the version the tracker compares upstream). */
void eps_on_slice_update(const cJSON *old_obj, const cJSON *new_obj, void *arg)
{
	eps_controller *ec = arg;
	const char *sn = kc_meta_label(new_obj, EPS_SERVICE_NAME_LABEL);
	const char *osn = kc_meta_label(old_obj, EPS_SERVICE_NAME_LABEL);
	if (strcmp(sn ? sn : "", osn ? osn : "")) {
		enqueue_slice_service(ec, new_obj);
		enqueue_slice_service(ec, old_obj);
		return;
	}
	if (managed_by_us(old_obj) != managed_by_us(new_obj) ||
	    (managed_by_us(new_obj) && est_should_sync(&ec->tracker, new_obj)))
		enqueue_slice_service(ec, new_obj);
}

/* onEndpointSliceDelete: the controller's own deletes only leave the tracker; any
 * other deletion of one of its slices requeues the Service so the slice comes back. */
void eps_on_slice_delete(const cJSON *obj, int final_state_unknown, void *arg)
{
	eps_controller *ec = arg;
	(void)final_state_unknown;
	if (managed_by_us(obj) && !est_handle_deletion(&ec->tracker, obj))
		enqueue_slice_service(ec, obj);
}

int eps_controller_register(eps_controller *ec, cm_informers *f)
{
	kc_informer *si = cm_informers_get(f, "services");
	kc_informer *pi = cm_informers_get(f, "pods");
	kc_informer *ei = cm_informers_get(f, "endpointslices");
	if (!si || !pi || !ei)
		return -ENOMEM;
	kc_informer_handlers h1 = { eps_on_service, eps_on_service_update, eps_on_service_delete,
				    ec };
	kc_informer_handlers h2 = { eps_on_pod_add, eps_on_pod_update, eps_on_pod_delete, ec };
	kc_informer_handlers h3 = { eps_on_slice, eps_on_slice_update, eps_on_slice_delete, ec };
	int rc = kc_informer_add_handlers(si, &h1);
	if (rc == 0)
		rc = kc_informer_add_handlers(pi, &h2);
	if (rc == 0)
		rc = kc_informer_add_handlers(ei, &h3);
	return rc;
}
