/* The Endpoints controller (see endpoints.h). */
#include "endpoints.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "labels.h"
#include "log.h"
#include "meta.h"
#include "podutil.h"

int ep_controller_init(ep_controller *ec, cm_lister *lister, cm_api *api)
{
	memset(ec, 0, sizeof(*ec));
	ec->lister = lister;
	ec->api = api;
	return 0;
}

/* podToEndpointAddressForService */
static cJSON *pod_address(const cJSON *svc, const cJSON *pod)
{
	cJSON *a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "ip", kc_json_get_string(pod, "status.podIP", ""));
	const char *hn = kc_json_get_string(pod, "spec.hostname", "");
	if (*hn && !strcmp(kc_json_get_string(pod, "spec.subdomain", ""), kc_meta_name(svc)))
		cJSON_AddStringToObject(a, "hostname", hn);
	const char *node = kc_json_get_string(pod, "spec.nodeName", "");
	if (*node)
		cJSON_AddStringToObject(a, "nodeName", node);
	cJSON *ref = cJSON_AddObjectToObject(a, "targetRef");
	cJSON_AddStringToObject(ref, "kind", "Pod");
	cJSON_AddStringToObject(ref, "namespace", kc_meta_namespace(pod));
	cJSON_AddStringToObject(ref, "name", kc_meta_name(pod));
	cJSON_AddStringToObject(ref, "uid", kc_meta_uid(pod));
	return a;
}

static int by_ip(const void *x, const void *y)
{
	const cJSON *a = *(cJSON *const *)x, *b = *(cJSON *const *)y;
	int c = strcmp(kc_json_get_string(a, "ip", ""), kc_json_get_string(b, "ip", ""));
	return c ? c : strcmp(kc_json_get_string(a, "targetRef.uid", ""),
			      kc_json_get_string(b, "targetRef.uid", ""));
}

static int by_ports(const void *x, const void *y)
{
	const cJSON *a = *(cJSON *const *)x, *b = *(cJSON *const *)y;
	char *pa = kc_json_print(cJSON_GetObjectItemCaseSensitive(a, "ports"));
	char *pb = kc_json_print(cJSON_GetObjectItemCaseSensitive(b, "ports"));
	int c = strcmp(pa ? pa : "", pb ? pb : "");
	free(pa);
	free(pb);
	return c;
}

static void track_time(const char *ts, int64_t *latest)
{
	int64_t t;
	if (ts && *ts && kc_meta_time_parse(ts, &t) == 0 && t > *latest)
		*latest = t;
}

/* The desired subsets of svc over pods (a new array); *trigger gets the latest change
 * time seen (0 when none). */
static cJSON *build_subsets(const cJSON *svc, const cJSON *pods, int64_t *trigger)
{
	bool tolerate = kc_json_get_bool(svc, "spec.publishNotReadyAddresses", false);
	bool headless = !strcmp(kc_json_get_string(svc, "spec.clusterIP", ""), "None");
	bool has_ports = cJSON_GetArraySize(kc_json_get(svc, "spec.ports")) > 0;
	cJSON *subsets = cJSON_CreateArray();
	track_time(kc_meta_creation_timestamp(svc), trigger);
	const cJSON *pod;
	cJSON_ArrayForEach(pod, pods)
	{
		if (!cm_pod_in_endpoints(pod, tolerate))
			continue;
		if (!has_ports && !headless)
			continue; /* upstream: a ClusterIP Service without ports has no endpoints */
		cJSON *ports = cm_pod_service_ports(svc, pod, false);
		if (has_ports && !cJSON_GetArraySize(ports)) {
			cJSON_Delete(ports);
			continue;
		}
		track_time(kc_meta_creation_timestamp(pod), trigger);
		track_time(kc_meta_deletion_timestamp(pod), trigger);
		int64_t rt = cm_pod_ready_time(pod);
		if (rt > *trigger)
			*trigger = rt;
		cJSON *ss = NULL, *s;
		cJSON_ArrayForEach(s, subsets)
		{
			if (kc_json_equal(cJSON_GetObjectItemCaseSensitive(s, "ports"), ports)) {
				ss = s;
				break;
			}
		}
		if (!ss) {
			ss = cJSON_CreateObject();
			cJSON_AddItemToObject(ss, "addresses", cJSON_CreateArray());
			cJSON_AddItemToObject(ss, "notReadyAddresses", cJSON_CreateArray());
			cJSON_AddItemToObject(ss, "ports", ports);
			cJSON_AddItemToArray(subsets, ss);
		} else {
			cJSON_Delete(ports);
		}
		bool ready = tolerate || cm_pod_ready(pod);
		cJSON_AddItemToArray(
			cJSON_GetObjectItemCaseSensitive(ss, ready ? "addresses" : "notReadyAddresses"),
			pod_address(svc, pod));
	}
	cJSON *s;
	cJSON_ArrayForEach(s, subsets)
	{
		cm_json_sort_array(cJSON_GetObjectItemCaseSensitive(s, "addresses"), by_ip);
		cm_json_sort_array(cJSON_GetObjectItemCaseSensitive(s, "notReadyAddresses"), by_ip);
		cm_json_normalize(s); /* empty lists omitted, as the API serialises them */
	}
	cm_json_sort_array(subsets, by_ports);
	return subsets;
}

/* The labels the Endpoints should carry (a new object). */
static cJSON *desired_labels(const cJSON *svc)
{
	cJSON *l = kc_json_dup(kc_meta_labels(svc));
	if (!cJSON_IsObject(l)) {
		cJSON_Delete(l);
		l = cJSON_CreateObject();
	}
	cJSON_DeleteItemFromObjectCaseSensitive(l, EP_HEADLESS_LABEL);
	if (!strcmp(kc_json_get_string(svc, "spec.clusterIP", ""), "None"))
		cJSON_AddStringToObject(l, EP_HEADLESS_LABEL, "");
	return l;
}

static bool has_selector(const cJSON *svc)
{
	const cJSON *sel = kc_json_get(svc, "spec.selector");
	return cJSON_IsObject(sel) && cJSON_GetArraySize(sel) > 0;
}

static bool keep_selected(const cJSON *obj, void *arg)
{
	return kc_selector_matches_object(arg, obj);
}

int ep_sync(void *arg, const char *key)
{
	ep_controller *ec = arg;
	char ns[256], name[256];
	if (cm_split_key(key, ns, sizeof(ns), name, sizeof(name)) < 0)
		return 0;
	cJSON *svc = NULL, *cur = NULL, *pods = NULL, *subsets = NULL, *labels = NULL;
	int rc = ec->lister->get(ec->lister, "services", ns, name, &svc);
	if (rc == KC_ENOTFOUND) {
		/* the Service is gone: its Endpoints go too (upstream syncService) */
		rc = ec->api->del(ec->api, "endpoints", ns, name, NULL);
		if (rc == KC_ENOTFOUND)
			rc = 0;
		goto out;
	}
	if (rc < 0)
		goto out;
	if (!has_selector(svc)) {
		rc = 0; /* user- or apiserver-managed Endpoints (the `kubernetes` Service) */
		goto out;
	}
	kc_label_selector sel;
	if (kc_selector_from_set(kc_json_get(svc, "spec.selector"), &sel, NULL, 0) < 0) {
		rc = 0; /* an invalid selector cannot be fixed by retrying */
		goto out;
	}
	rc = ec->lister->list_filtered(ec->lister, "pods", ns, keep_selected, &sel, &pods);
	kc_selector_close(&sel);
	if (rc < 0)
		goto out;
	int64_t trigger = 0;
	subsets = build_subsets(svc, pods, &trigger);
	labels = desired_labels(svc);
	char ts[KC_TIME_BUFLEN] = "";
	if (trigger > 0)
		kc_meta_time_format(trigger, ts, sizeof(ts));
	rc = ec->lister->get(ec->lister, "endpoints", ns, name, &cur);
	if (rc == KC_ENOTFOUND) {
		cJSON *ep = cJSON_CreateObject();
		cJSON_AddStringToObject(ep, "apiVersion", "v1");
		cJSON_AddStringToObject(ep, "kind", "Endpoints");
		kc_meta_set_name(ep, name);
		kc_meta_set_namespace(ep, ns);
		kc_json_set(ep, "metadata.labels", labels);
		labels = NULL;
		if (*ts)
			kc_meta_set_annotation(ep, EP_TRIGGER_TIME_ANNOTATION, ts);
		cJSON_AddItemToObject(ep, "subsets", subsets);
		subsets = NULL;
		rc = ec->api->create(ec->api, "endpoints", ns, ep, NULL, NULL);
		cJSON_Delete(ep);
		if (rc == KC_EEXIST)
			rc = -EAGAIN; /* the cache lags: retry against the object */
		goto out;
	}
	if (rc < 0)
		goto out;
	if (cm_json_normalized_equal(kc_json_get(cur, "subsets"), subsets) &&
	    cm_json_normalized_equal(kc_meta_labels(cur), labels)) {
		rc = 0; /* nothing to do (upstream skips the write) */
		goto out;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(cur, "subsets");
	cJSON_AddItemToObject(cur, "subsets", subsets);
	subsets = NULL;
	kc_json_delete(cur, "metadata.labels");
	kc_json_set(cur, "metadata.labels", labels);
	labels = NULL;
	if (*ts)
		kc_meta_set_annotation(cur, EP_TRIGGER_TIME_ANNOTATION, ts);
	else
		kc_meta_remove_annotation(cur, EP_TRIGGER_TIME_ANNOTATION);
	rc = ec->api->update(ec->api, "endpoints", ns, name, NULL, cur, NULL);
	if (rc == KC_ECONFLICT)
		rc = -EAGAIN;
out:
	if (rc < 0)
		kc_log_v(2, "endpoints: sync of service %s: %s", key, kc_strerror(rc));
	cJSON_Delete(svc);
	cJSON_Delete(cur);
	cJSON_Delete(pods);
	cJSON_Delete(subsets);
	cJSON_Delete(labels);
	return rc;
}

/* ---- handlers: only enqueue ---- */

static void on_service(const cJSON *obj, void *arg)
{
	cm_controller_enqueue_obj(((ep_controller *)arg)->ctrl, obj);
}

static void on_service_update(const cJSON *old_obj, const cJSON *new_obj, void *arg)
{
	(void)old_obj;
	on_service(new_obj, arg);
}

static void on_service_delete(const cJSON *obj, int final_state_unknown, void *arg)
{
	(void)final_state_unknown;
	on_service(obj, arg);
}

static void enqueue_services(ep_controller *ec, const cJSON *pod)
{
	cm_enqueue_pod_services(ec->lister, ec->ctrl, pod);
}

static void on_pod_add(const cJSON *pod, void *arg)
{
	enqueue_services(arg, pod);
}

static void on_pod_update(const cJSON *old_pod, const cJSON *new_pod, void *arg)
{
	if (!strcmp(kc_meta_resource_version(old_pod), kc_meta_resource_version(new_pod)))
		return;
	enqueue_services(arg, new_pod);
	if (!kc_json_equal(kc_meta_labels(old_pod), kc_meta_labels(new_pod)))
		enqueue_services(arg, old_pod);
}

static void on_pod_delete(const cJSON *pod, int final_state_unknown, void *arg)
{
	(void)final_state_unknown;
	enqueue_services(arg, pod);
}

/* onEndpointsDelete: a deleted Endpoints is recreated by syncing its Service */
static void on_endpoints_delete(const cJSON *obj, int final_state_unknown, void *arg)
{
	(void)final_state_unknown;
	cm_controller_enqueue_obj(((ep_controller *)arg)->ctrl, obj);
}

int ep_controller_register(ep_controller *ec, cm_informers *f)
{
	kc_informer *si = cm_informers_get(f, "services");
	kc_informer *pi = cm_informers_get(f, "pods");
	kc_informer *ei = cm_informers_get(f, "endpoints");
	if (!si || !pi || !ei)
		return -ENOMEM;
	kc_informer_handlers h1 = { on_service, on_service_update, on_service_delete, ec };
	kc_informer_handlers h2 = { on_pod_add, on_pod_update, on_pod_delete, ec };
	kc_informer_handlers h3 = { NULL, NULL, on_endpoints_delete, ec };
	int rc = kc_informer_add_handlers(si, &h1);
	if (rc == 0)
		rc = kc_informer_add_handlers(pi, &h2);
	if (rc == 0)
		rc = kc_informer_add_handlers(ei, &h3);
	return rc;
}
