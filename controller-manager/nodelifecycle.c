/* The node lifecycle controller (see nodelifecycle.h). */
#include "nodelifecycle.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "log.h"
#include "meta.h"

int nl_controller_init(nl_controller *nc, cm_lister *lister, cm_api *api, kc_clock_t *clock)
{
	memset(nc, 0, sizeof(*nc));
	nc->lister = lister;
	nc->api = api;
	nc->clock = clock ? clock : kc_clock_real();
	nc->grace_ns = NL_DEFAULT_GRACE_NS;
	nc->period_ns = NL_DEFAULT_PERIOD_NS;
	return 0;
}

bool nl_tolerates(const cJSON *t, const cJSON *taint)
{
	const char *te = kc_json_get_string(t, "effect", "");
	const char *tk = kc_json_get_string(t, "key", "");
	if (*te && strcmp(te, kc_json_get_string(taint, "effect", "")))
		return false;
	if (*tk && strcmp(tk, kc_json_get_string(taint, "key", "")))
		return false;
	const char *op = kc_json_get_string(t, "operator", "");
	if (!strcmp(op, "Exists"))
		return true;
	if (!*op || !strcmp(op, "Equal"))
		return !strcmp(kc_json_get_string(t, "value", ""),
			       kc_json_get_string(taint, "value", ""));
	return false;
}

static int64_t parse_time(const char *s)
{
	int64_t ns = 0;
	if (!s || !*s || kc_meta_time_parse(s, &ns) < 0)
		return 0;
	return ns;
}

/* The node's last heartbeat in wall ns. */
static int64_t heartbeat(nl_controller *nc, const cJSON *node)
{
	int64_t hb = 0;
	cJSON *lease = NULL;
	if (nc->lister->get(nc->lister, "leases", NL_LEASE_NAMESPACE, kc_meta_name(node), &lease) ==
	    0) {
		hb = parse_time(kc_json_get_string(lease, "spec.renewTime", NULL));
		cJSON_Delete(lease);
	}
	const cJSON *ready = cm_condition(node, "Ready");
	int64_t r = parse_time(kc_json_get_string(ready, "lastHeartbeatTime", NULL));
	if (r > hb)
		hb = r;
	if (!hb)
		hb = parse_time(kc_meta_creation_timestamp(node));
	return hb;
}

/* Upstream tryUpdateNodeHealth for a node past its grace period: every node condition
 * the kubelet owns becomes Unknown. Returns true when something changed. */
static bool mark_unknown(cJSON *node, int64_t now)
{
	static const char *const types[] = { "Ready", "MemoryPressure", "DiskPressure",
					     "PIDPressure" };
	char ts[KC_TIME_BUFLEN];
	kc_meta_time_format(now, ts, sizeof(ts));
	cJSON *conds = kc_json_get(node, "status.conditions");
	if (!cJSON_IsArray(conds)) {
		conds = cJSON_CreateArray();
		kc_json_set(node, "status.conditions", conds);
	}
	bool changed = false;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		cJSON *c = cm_condition(node, types[i]);
		if (!c) {
			c = cJSON_CreateObject();
			cJSON_AddStringToObject(c, "type", types[i]);
			cJSON_AddStringToObject(c, "status", "Unknown");
			cJSON_AddStringToObject(c, "lastHeartbeatTime", ts);
			cJSON_AddStringToObject(c, "lastTransitionTime", ts);
			cJSON_AddStringToObject(c, "reason", "NodeStatusNeverUpdated");
			cJSON_AddStringToObject(c, "message", "Kubelet never posted node status.");
			cJSON_AddItemToArray(conds, c);
			changed = true;
			continue;
		}
		if (!strcmp(kc_json_get_string(c, "status", ""), "Unknown"))
			continue;
		kc_json_set_string(c, "status", "Unknown");
		kc_json_set_string(c, "reason", "NodeStatusUnknown");
		kc_json_set_string(c, "message", "Kubelet stopped posting node status.");
		kc_json_set_string(c, "lastTransitionTime", ts);
		changed = true;
	}
	return changed;
}

static bool keep_on_node(const cJSON *pod, void *arg)
{
	return !strcmp(kc_json_get_string(pod, "spec.nodeName", ""), arg);
}

/* Upstream MarkPodsNotReady: Ready=False on every pod of the node still Ready. */
static int mark_pods_not_ready(nl_controller *nc, const cJSON *pods, int64_t now)
{
	char ts[KC_TIME_BUFLEN];
	kc_meta_time_format(now, ts, sizeof(ts));
	const cJSON *p;
	int first_err = 0;
	cJSON_ArrayForEach(p, pods)
	{
		if (!cm_pod_ready(p))
			continue;
		cJSON *n = kc_json_dup(p);
		cJSON *c;
		cJSON_ArrayForEach(c, kc_json_get(n, "status.conditions"))
		{
			if (!strcmp(kc_json_get_string(c, "type", ""), "Ready")) {
				kc_json_set_string(c, "status", "False");
				kc_json_set_string(c, "lastTransitionTime", ts);
			}
		}
		int rc = nc->api->update(nc->api, "pods", kc_meta_namespace(p), kc_meta_name(p),
					 "status", n, NULL);
		cJSON_Delete(n);
		kc_log_v(2, "node lifecycle: marking pod %s/%s not ready: %s", kc_meta_namespace(p),
			 kc_meta_name(p), rc < 0 ? kc_strerror(rc) : "ok");
		if (rc < 0 && rc != KC_ENOTFOUND && !first_err)
			first_err = rc;
	}
	return first_err;
}

static bool is_ours(const cJSON *t)
{
	const char *k = kc_json_get_string(t, "key", "");
	const char *e = kc_json_get_string(t, "effect", "");
	return (!strcmp(k, NL_TAINT_UNREACHABLE) || !strcmp(k, NL_TAINT_NOT_READY)) &&
	       (!strcmp(e, "NoSchedule") || !strcmp(e, "NoExecute"));
}

static const cJSON *find_taint(const cJSON *taints, const char *key, const char *effect)
{
	const cJSON *t;
	cJSON_ArrayForEach(t, taints)
	{
		if (!strcmp(kc_json_get_string(t, "key", ""), key) &&
		    !strcmp(kc_json_get_string(t, "effect", ""), effect))
			return t;
	}
	return NULL;
}

/* The taints the node should have: its own ones kept, ours following Ready. Returns
 * a new array, or NULL when nothing changes. */
static cJSON *desired_taints(const cJSON *node, const char *ready, int64_t now)
{
	const cJSON *cur = kc_json_get(node, "spec.taints");
	const char *want = !strcmp(ready, "Unknown") ? NL_TAINT_UNREACHABLE :
			   !strcmp(ready, "False")   ? NL_TAINT_NOT_READY :
						       NULL;
	cJSON *out = cJSON_CreateArray();
	const cJSON *t;
	bool changed = false;
	cJSON_ArrayForEach(t, cur)
	{
		if (is_ours(t) && (!want || strcmp(kc_json_get_string(t, "key", ""), want))) {
			changed = true; /* the other key, or Ready again */
			continue;
		}
		cJSON_AddItemToArray(out, kc_json_dup(t));
	}
	if (want) {
		char ts[KC_TIME_BUFLEN];
		kc_meta_time_format(now, ts, sizeof(ts));
		static const char *const effects[] = { "NoSchedule", "NoExecute" };
		for (int i = 0; i < 2; i++) {
			if (find_taint(cur, want, effects[i]))
				continue;
			cJSON *n = cJSON_CreateObject();
			cJSON_AddStringToObject(n, "key", want);
			cJSON_AddStringToObject(n, "effect", effects[i]);
			if (i == 1)
				cJSON_AddStringToObject(n, "timeAdded", ts);
			cJSON_AddItemToArray(out, n);
			changed = true;
		}
	}
	if (!changed) {
		cJSON_Delete(out);
		return NULL;
	}
	return out;
}

/* When pod must go, in wall ns: 0 = now, -1 = never (tolerates every NoExecute taint
 * forever, or there is none). */
static int64_t eviction_time(const cJSON *pod, const cJSON *taints)
{
	int64_t when = -1;
	const cJSON *t;
	cJSON_ArrayForEach(t, taints)
	{
		if (strcmp(kc_json_get_string(t, "effect", ""), "NoExecute"))
			continue;
		bool tolerated = false;
		int64_t min_s = -1; /* -1: forever */
		const cJSON *tol;
		cJSON_ArrayForEach(tol, kc_json_get(pod, "spec.tolerations"))
		{
			if (!nl_tolerates(tol, t))
				continue;
			const cJSON *secs = cJSON_GetObjectItemCaseSensitive(tol, "tolerationSeconds");
			if (!tolerated) {
				tolerated = true;
				min_s = -1;
				if (cJSON_IsNumber(secs))
					min_s = cm_int(tol, "tolerationSeconds", 0);
			} else if (cJSON_IsNumber(secs)) {
				int64_t s = cm_int(tol, "tolerationSeconds", 0);
				if (min_s < 0 || s < min_s)
					min_s = s;
			}
		}
		if (!tolerated)
			return 0;
		if (min_s < 0)
			continue;
		int64_t added = parse_time(kc_json_get_string(t, "timeAdded", NULL));
		int64_t at = added + min_s * KC_NSEC_PER_SEC;
		if (at <= 0)
			at = 0;
		if (when < 0 || at < when)
			when = at;
	}
	return when;
}

/* The taint eviction pass over the node's pods; *next receives the earliest future
 * eviction (0 = none). */
static int evict(nl_controller *nc, const cJSON *node, const cJSON *pods, int64_t now,
		 int64_t *next)
{
	const cJSON *taints = kc_json_get(node, "spec.taints");
	*next = 0;
	if (!cJSON_GetArraySize(taints))
		return 0;
	const cJSON *p;
	int first_err = 0;
	cJSON_ArrayForEach(p, pods)
	{
		if (*kc_meta_deletion_timestamp(p))
			continue;
		int64_t when = eviction_time(p, taints);
		if (when < 0)
			continue;
		if (when > now) {
			if (!*next || when < *next)
				*next = when;
			continue;
		}
		char msg[600];
		snprintf(msg, sizeof(msg), "Marking for deletion Pod %s/%s", kc_meta_namespace(p),
			 kc_meta_name(p));
		nc->api->event(nc->api, p, "v1", "Pod", "Normal", "TaintManagerEviction", msg);
		cJSON *opts = cJSON_CreateObject();
		cJSON_AddStringToObject(cJSON_AddObjectToObject(opts, "preconditions"), "uid",
					kc_meta_uid(p));
		int rc = nc->api->del(nc->api, "pods", kc_meta_namespace(p), kc_meta_name(p), opts);
		cJSON_Delete(opts);
		kc_info("node lifecycle: evicting pod %s/%s from node %s: %s", kc_meta_namespace(p),
			kc_meta_name(p), kc_meta_name(node), rc < 0 ? kc_strerror(rc) : "ok");
		if (rc < 0 && rc != KC_ENOTFOUND && rc != KC_ECONFLICT && !first_err)
			first_err = rc;
	}
	return first_err;
}

int nl_sync(void *arg, const char *key)
{
	nl_controller *nc = arg;
	if (!key || !*key || strchr(key, '/'))
		return 0;
	cJSON *node = NULL;
	int rc = nc->lister->get(nc->lister, "nodes", "", key, &node);
	if (rc == KC_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	int64_t now = kc_now_wall(nc->clock);
	int64_t hb = heartbeat(nc, node);
	if (now - hb > nc->grace_ns && mark_unknown(node, now)) {
		cJSON *out = NULL;
		rc = nc->api->update(nc->api, "nodes", "", key, "status", node, &out);
		kc_info("node lifecycle: node %s: no heartbeat for %llds, Ready=Unknown: %s", key,
			(long long)((now - hb) / KC_NSEC_PER_SEC), rc < 0 ? kc_strerror(rc) : "ok");
		if (rc < 0) {
			cJSON_Delete(node);
			return rc;
		}
		char msg[320];
		snprintf(msg, sizeof(msg), "Node %s status is now: NodeNotReady", key);
		nc->api->event(nc->api, node, "v1", "Node", "Normal", "NodeNotReady", msg);
		if (out) {
			cJSON_Delete(node);
			node = out;
		}
	}
	/* a node that has not posted a Ready condition yet (still within its grace
	 * period) is neither tainted nor has its pods touched */
	const char *ready = kc_json_get_string(cm_condition(node, "Ready"), "status", "");
	if (!*ready) {
		cJSON_Delete(node);
		cm_controller_enqueue_after(nc->ctrl, key, nc->period_ns);
		return 0;
	}
	cJSON *pods = NULL;
	rc = nc->lister->list_filtered(nc->lister, "pods", NULL, keep_on_node, (void *)key, &pods);
	if (rc < 0) {
		cJSON_Delete(node);
		return rc;
	}
	int first_err = 0;
	if (strcmp(ready, "True"))
		first_err = mark_pods_not_ready(nc, pods, now);
	cJSON *taints = desired_taints(node, ready, now);
	if (taints) {
		kc_json_delete(node, "spec.taints");
		if (cJSON_GetArraySize(taints))
			kc_json_set(node, "spec.taints", taints);
		else
			cJSON_Delete(taints);
		cJSON *out = NULL;
		rc = nc->api->update(nc->api, "nodes", "", key, NULL, node, &out);
		kc_info("node lifecycle: node %s (Ready=%s): taints now %d: %s", key, ready,
			cJSON_GetArraySize(kc_json_get(node, "spec.taints")),
			rc < 0 ? kc_strerror(rc) : "ok");
		if (rc < 0) {
			cJSON_Delete(pods);
			cJSON_Delete(node);
			return rc;
		}
		if (out) {
			cJSON_Delete(node);
			node = out;
		}
	}
	int64_t next = 0;
	rc = evict(nc, node, pods, now, &next);
	if (rc < 0 && !first_err)
		first_err = rc;
	cJSON_Delete(pods);
	cJSON_Delete(node);
	/* level-triggered and periodic: look again after the monitor period, or at the
	 * next eviction deadline if sooner */
	int64_t delay = nc->period_ns;
	if (next && next - now < delay)
		delay = next - now;
	cm_controller_enqueue_after(nc->ctrl, key, delay > 0 ? delay : 1);
	return first_err;
}

void nl_on_node(const cJSON *obj, void *arg)
{
	nl_controller *nc = arg;
	cm_controller_enqueue(nc->ctrl, kc_meta_name(obj));
}

void nl_on_node_update(const cJSON *old_obj, const cJSON *new_obj, void *arg)
{
	(void)old_obj;
	nl_on_node(new_obj, arg);
}

void nl_on_lease(const cJSON *obj, void *arg)
{
	nl_controller *nc = arg;
	if (!strcmp(kc_meta_namespace(obj), NL_LEASE_NAMESPACE))
		cm_controller_enqueue(nc->ctrl, kc_meta_name(obj));
}

void nl_on_lease_update(const cJSON *old_obj, const cJSON *new_obj, void *arg)
{
	(void)old_obj;
	nl_on_lease(new_obj, arg);
}

void nl_on_pod(const cJSON *obj, void *arg)
{
	nl_controller *nc = arg;
	const char *n = kc_json_get_string(obj, "spec.nodeName", "");
	if (*n)
		cm_controller_enqueue(nc->ctrl, n);
}

void nl_on_pod_update(const cJSON *old_obj, const cJSON *new_obj, void *arg)
{
	/* only a binding (nodeName set) can put a pod under a node's taints */
	if (strcmp(kc_json_get_string(old_obj, "spec.nodeName", ""),
		   kc_json_get_string(new_obj, "spec.nodeName", "")))
		nl_on_pod(new_obj, arg);
}

int nl_controller_register(nl_controller *nc, cm_informers *f)
{
	kc_informer *ni = cm_informers_get(f, "nodes");
	kc_informer *li = cm_informers_get(f, "leases");
	kc_informer *pi = cm_informers_get(f, "pods");
	if (!ni || !li || !pi)
		return -ENOMEM;
	kc_informer_handlers h1 = { nl_on_node, nl_on_node_update, NULL, nc };
	kc_informer_handlers h2 = { nl_on_lease, nl_on_lease_update, NULL, nc };
	kc_informer_handlers h3 = { nl_on_pod, nl_on_pod_update, NULL, nc };
	int rc = kc_informer_add_handlers(ni, &h1);
	if (rc == 0)
		rc = kc_informer_add_handlers(li, &h2);
	if (rc == 0)
		rc = kc_informer_add_handlers(pi, &h3);
	return rc;
}
