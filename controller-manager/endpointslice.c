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
	return 0;
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

static int delete_all(eps_controller *ec, const char *ns, cJSON *slices)
{
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
		rc = delete_all(ec, ns, existing);
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
	/* Pair desired slices with existing ones: first an identical one, then any with
	 * the same ports (updated in place), else create; leftovers are deleted. */
	int ne = cJSON_GetArraySize(existing);
	bool *used = calloc((size_t)ne + 1, sizeof(bool));
	if (!used) {
		rc = -ENOMEM;
		goto out;
	}
	int nw = cJSON_GetArraySize(want);
	int *match = calloc((size_t)nw + 1, sizeof(int));
	if (!match) {
		free(used);
		rc = -ENOMEM;
		goto out;
	}
	for (int w = 0; w < nw; w++) {
		match[w] = -1;
		for (int e = 0; e < ne && match[w] < 0; e++)
			if (!used[e] && slice_equal(cJSON_GetArrayItem(existing, e),
						    cJSON_GetArrayItem(want, w)))
				match[w] = e, used[e] = true;
	}
	rc = 0;
	for (int w = 0; w < nw && rc == 0; w++) {
		if (match[w] >= 0)
			continue;
		cJSON *ws = cJSON_GetArrayItem(want, w);
		for (int e = 0; e < ne && match[w] < 0; e++)
			if (!used[e] && cm_json_normalized_equal(kc_json_get(cJSON_GetArrayItem(existing, e),
								     "ports"),
							 kc_json_get(ws, "ports")))
				match[w] = e, used[e] = true;
		if (match[w] < 0) {
			rc = ec->api->create(ec->api, "endpointslices", ns, ws, NULL, NULL);
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
				     NULL);
		cJSON_Delete(upd);
	}
	for (int e = 0; e < ne && rc == 0; e++)
		if (!used[e]) {
			int r = ec->api->del(ec->api, "endpointslices", ns,
					     kc_meta_name(cJSON_GetArrayItem(existing, e)), NULL);
			if (r < 0 && r != KC_ENOTFOUND)
				rc = r;
		}
	free(used);
	free(match);
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

void eps_on_slice(const cJSON *obj, void *arg)
{
	eps_controller *ec = arg;
	const char *sn = kc_meta_label(obj, EPS_SERVICE_NAME_LABEL);
	const char *mb = kc_meta_label(obj, EPS_MANAGED_BY_LABEL);
	if (!sn || !mb || strcmp(mb, EPS_CONTROLLER_NAME))
		return;
	char key[600];
	snprintf(key, sizeof(key), "%s/%s", kc_meta_namespace(obj), sn);
	cm_controller_enqueue(ec->ctrl, key);
}

void eps_on_slice_update(const cJSON *old_obj, const cJSON *new_obj, void *arg)
{
	(void)old_obj;
	eps_on_slice(new_obj, arg);
}

void eps_on_slice_delete(const cJSON *obj, int final_state_unknown, void *arg)
{
	eps_on_slice(obj, arg);
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
