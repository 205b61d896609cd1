/* Pod helpers for the endpoints controllers (see podutil.h). */
#include "podutil.h"

#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "json.h"
#include "labels.h"
#include "log.h"
#include "meta.h"

bool cm_pod_in_endpoints(const cJSON *pod, bool include_terminating)
{
	if (!*kc_json_get_string(pod, "status.podIP", ""))
		return false;
	if (!include_terminating && *kc_meta_deletion_timestamp(pod))
		return false;
	const char *phase = kc_json_get_string(pod, "status.phase", "");
	const char *rp = kc_json_get_string(pod, "spec.restartPolicy", "Always");
	if (!strcmp(rp, "Never"))
		return strcmp(phase, "Failed") && strcmp(phase, "Succeeded");
	if (!strcmp(rp, "OnFailure"))
		return strcmp(phase, "Succeeded");
	return true;
}

int64_t cm_pod_find_port(const cJSON *pod, const cJSON *sp)
{
	const cJSON *tp = kc_json_get(sp, "targetPort");
	int64_t n;
	if (!tp)
		return cm_int(sp, "port", -1);
	if (kc_json_item_int64(tp, &n) == 0)
		return n;
	if (!cJSON_IsString(tp))
		return -1;
	/* a string of digits is an int-or-string number */
	char *end;
	long long v = strtoll(tp->valuestring, &end, 10);
	if (*tp->valuestring && !*end)
		return v;
	const char *proto = kc_json_get_string(sp, "protocol", "TCP");
	const cJSON *c, *p;
	cJSON_ArrayForEach(c, kc_json_get(pod, "spec.containers"))
	{
		cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(c, "ports"))
		{
			if (!strcmp(kc_json_get_string(p, "name", ""), tp->valuestring) &&
			    !strcmp(kc_json_get_string(p, "protocol", "TCP"), proto))
				return cm_int(p, "containerPort", -1);
		}
	}
	return -1;
}

cJSON *cm_pod_service_ports(const cJSON *svc, const cJSON *pod, bool with_empty_name)
{
	cJSON *ports = cJSON_CreateArray();
	const cJSON *sp;
	cJSON_ArrayForEach(sp, kc_json_get(svc, "spec.ports"))
	{
		int64_t n = cm_pod_find_port(pod, sp);
		if (n <= 0 || n > 65535) {
			/* upstream logs and skips the port for this pod */
			kc_log_v(4, "failed to find port %s for pod %s/%s",
				 kc_json_get_string(sp, "name", ""), kc_meta_namespace(pod),
				 kc_meta_name(pod));
			continue;
		}
		cJSON *p = cJSON_CreateObject();
		const char *name = kc_json_get_string(sp, "name", "");
		if (*name || with_empty_name)
			cJSON_AddStringToObject(p, "name", name);
		cJSON_AddItemToObject(p, "port", kc_json_new_int64(n));
		cJSON_AddStringToObject(p, "protocol", kc_json_get_string(sp, "protocol", "TCP"));
		const char *ap = kc_json_get_string(sp, "appProtocol", NULL);
		if (ap)
			cJSON_AddStringToObject(p, "appProtocol", ap);
		cJSON_AddItemToArray(ports, p);
	}
	return ports;
}

void cm_enqueue_pod_services(struct cm_lister *l, struct cm_controller *ctrl,
			     const cJSON *pod)
{
	cJSON *svcs = NULL;
	if (!ctrl || l->list(l, "services", kc_meta_namespace(pod), &svcs) < 0)
		return;
	const cJSON *s;
	cJSON_ArrayForEach(s, svcs)
	{
		const cJSON *set = kc_json_get(s, "spec.selector");
		if (!cJSON_IsObject(set) || !cJSON_GetArraySize(set))
			continue;
		kc_label_selector sel;
		if (kc_selector_from_set(set, &sel, NULL, 0) < 0)
			continue;
		if (kc_selector_matches_object(&sel, pod))
			cm_controller_enqueue_obj(ctrl, s);
		kc_selector_close(&sel);
	}
	cJSON_Delete(svcs);
}
