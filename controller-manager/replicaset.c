/* The ReplicaSet controller (see replicaset.h); upstream's replica_set.go and the pod
 * helpers of controller_utils.go. */
#include "replicaset.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller_ref.h"
#include "errors.h"
#include "json.h"
#include "labels.h"
#include "log.h"
#include "meta.h"

#define RS_KIND "ReplicaSet"
#define RS_API_VERSION "apps/v1"

int rs_controller_init(rs_controller *rc, cm_lister *lister, cm_api *api, kc_clock_t *clock)
{
	memset(rc, 0, sizeof(*rc));
	rc->lister = lister;
	rc->api = api;
	rc->clock = clock ? clock : kc_clock_real();
	rc->burst_replicas = RS_BURST_REPLICAS;
	return cm_expectations_new(rc->clock, &rc->exp);
}

void rs_controller_close(rs_controller *rc)
{
	cm_expectations_free(rc->exp);
	rc->exp = NULL;
}

/* ---- deletion order (controller_utils.go ActivePodsWithRanks) ---- */

static int phase_ordinal(const cJSON *pod)
{
	const char *p = kc_json_get_string(pod, "status.phase", "");
	if (!strcmp(p, "Unknown"))
		return 1;
	if (!strcmp(p, "Running"))
		return 2;
	return 0; /* Pending, and the map's zero value for anything else */
}

/* controller.kubernetes.io/pod-deletion-cost (PodDeletionCost, on by default); an
 * invalid value counts as 0 as upstream's GetDeletionCostFromPodAnnotations error. */
static int64_t deletion_cost(const cJSON *pod)
{
	const char *v = kc_meta_annotation(pod, "controller.kubernetes.io/pod-deletion-cost");
	if (!v || !*v)
		return 0;
	char *end;
	long long x = strtoll(v, &end, 10);
	if (*end || x < INT32_MIN || x > INT32_MAX)
		return 0;
	return x;
}

static int64_t max_restarts(const cJSON *pod, const char *path)
{
	int64_t m = 0;
	const cJSON *cs;
	cJSON_ArrayForEach(cs, kc_json_get(pod, path))
	{
		int64_t r = cm_int(cs, "restartCount", 0);
		if (r > m)
			m = r;
	}
	return m;
}

/* afterOrZero: a zero time sorts first, then the later time. */
static bool after_or_zero(int64_t t1, int64_t t2)
{
	if (t1 == 0 || t2 == 0)
		return t1 == 0;
	return t1 > t2;
}

/* logarithmicRankDiff (LogarithmicScaleDown, GA): compare floor(log2(age in ns)). */
static int64_t log_rank_diff(int64_t t1, int64_t t2, int64_t now)
{
	int64_t d1 = now - t1, d2 = now - t2, r1 = -1, r2 = -1;
	if (d1 > 0)
		r1 = (int64_t)log2((double)d1);
	if (d2 > 0)
		r2 = (int64_t)log2((double)d2);
	return r1 - r2;
}

static bool time_less(const cJSON *a, int64_t ta, const cJSON *b, int64_t tb, int64_t now)
{
	if (now == 0 || ta == 0 || tb == 0)
		return after_or_zero(ta, tb);
	int64_t d = log_rank_diff(ta, tb, now);
	if (d == 0)
		return strcmp(kc_meta_uid(a), kc_meta_uid(b)) < 0;
	return d < 0;
}

bool rs_pod_delete_less(const cJSON *a, int rank_a, const cJSON *b, int rank_b,
			int64_t now_ns)
{
	const char *na = kc_json_get_string(a, "spec.nodeName", "");
	const char *nb = kc_json_get_string(b, "spec.nodeName", "");
	/* 1. unassigned < assigned */
	if (strcmp(na, nb) && (!*na || !*nb))
		return !*na;
	/* 2. Pending < Unknown < Running */
	int pa = phase_ordinal(a), pb = phase_ordinal(b);
	if (pa != pb)
		return pa < pb;
	/* 3. not ready < ready */
	bool ra = cm_pod_ready(a), rb = cm_pod_ready(b);
	if (ra != rb)
		return !ra;
	/* 4. lower pod-deletion-cost < higher */
	int64_t ca = deletion_cost(a), cb = deletion_cost(b);
	if (ca != cb)
		return ca < cb;
	/* 5. doubled up < not doubled up */
	if (rank_a != rank_b)
		return rank_a > rank_b;
	/* 6. ready for a shorter time < longer (logarithmic buckets) */
	if (ra && rb) {
		int64_t ta = cm_pod_ready_time(a), tb = cm_pod_ready_time(b);
		if (ta != tb)
			return time_less(a, ta, b, tb, now_ns);
	}
	/* 7. more container restarts < fewer (regular containers, then init/sidecars) */
	int64_t xa = max_restarts(a, "status.containerStatuses");
	int64_t xb = max_restarts(b, "status.containerStatuses");
	if (xa != xb)
		return xa > xb;
	xa = max_restarts(a, "status.initContainerStatuses");
	xb = max_restarts(b, "status.initContainerStatuses");
	if (xa != xb)
		return xa > xb;
	/* 8. empty creation time < newer < older */
	int64_t ta = 0, tb = 0;
	kc_meta_get_creation_time(a, &ta);
	kc_meta_get_creation_time(b, &tb);
	if (ta != tb)
		return time_less(a, ta, b, tb, now_ns);
	return false;
}

typedef struct ranked {
	const cJSON *pod;
	int rank;
} ranked;

static int ranked_cmp(const void *x, const void *y, void *arg)
{
	const ranked *a = x, *b = y;
	int64_t now = *(const int64_t *)arg;
	if (rs_pod_delete_less(a->pod, a->rank, b->pod, b->rank, now))
		return -1;
	if (rs_pod_delete_less(b->pod, b->rank, a->pod, a->rank, now))
		return 1;
	return 0;
}

/* getPodsToDelete: the first diff pods of filtered in deletion order, ranked by how many
 * related pods share their node. */
static void pods_to_delete(const cJSON *filtered, const cJSON *related, int diff,
			   int64_t now, const cJSON **out)
{
	int n = cJSON_GetArraySize(filtered);
	ranked *rk = calloc((size_t)n, sizeof(*rk));
	if (!rk) {
		int i = 0;
		const cJSON *p;
		cJSON_ArrayForEach(p, filtered)
		{
			if (i < diff)
				out[i++] = p;
		}
		return;
	}
	int i = 0;
	const cJSON *p;
	cJSON_ArrayForEach(p, filtered)
	{
		rk[i].pod = p;
		const char *node = kc_json_get_string(p, "spec.nodeName", "");
		const cJSON *q;
		cJSON_ArrayForEach(q, related)
		{
			if (cm_pod_active(q) &&
			    !strcmp(kc_json_get_string(q, "spec.nodeName", ""), node))
				rk[i].rank++;
		}
		i++;
	}
	if (diff < n)
		qsort_r(rk, (size_t)n, sizeof(*rk), ranked_cmp, &now);
	for (i = 0; i < diff && i < n; i++)
		out[i] = rk[i].pod;
	free(rk);
}

/* ---- pods from the template (controller_utils.go GetPodFromTemplate) ---- */

static cJSON *pod_from_template(const cJSON *rs)
{
	const cJSON *tmpl = kc_json_get(rs, "spec.template");
	cJSON *pod = cJSON_CreateObject();
	cJSON *md = cJSON_AddObjectToObject(pod, "metadata");
	const char *fields[] = { "labels", "annotations", "finalizers" };
	for (size_t i = 0; i < 3; i++) {
		const cJSON *v = kc_json_get(tmpl, "metadata") ?
					 cJSON_GetObjectItemCaseSensitive(
						 kc_json_get(tmpl, "metadata"), fields[i]) :
					 NULL;
		if (v)
			cJSON_AddItemToObject(md, fields[i], kc_json_dup(v));
	}
	char prefix[300];
	snprintf(prefix, sizeof(prefix), "%s-", kc_meta_name(rs));
	kc_meta_set_generate_name(pod, prefix);
	kc_owner_ref o = { RS_API_VERSION, RS_KIND, kc_meta_name(rs), kc_meta_uid(rs), true,
			   true };
	kc_meta_add_owner_ref(pod, &o);
	const cJSON *spec = kc_json_get(tmpl, "spec");
	cJSON_AddItemToObject(pod, "spec", spec ? kc_json_dup(spec) : cJSON_CreateObject());
	return pod;
}

static void event(rs_controller *rc, const cJSON *rs, const char *type, const char *reason,
		  const char *fmt, const char *arg)
{
	char msg[1200];
	snprintf(msg, sizeof(msg), fmt, arg);
	rc->api->event(rc->api, rs, RS_API_VERSION, RS_KIND, type, reason, msg);
}

static int create_pod(rs_controller *rc, const cJSON *rs, char *errmsg, size_t errlen)
{
	cJSON *pod = pod_from_template(rs);
	if (!pod)
		return -ENOMEM;
	cJSON *out = NULL;
	int rc2;
	if (!cJSON_GetArraySize(kc_meta_labels(pod))) {
		rc2 = KC_EINVALID;
		snprintf(errmsg, errlen, "unable to create pods, no labels");
	} else {
		kc_status st;
		rc2 = rc->api->create(rc->api, "pods", kc_meta_namespace(rs), pod, &out, &st);
		if (rc2 < 0)
			snprintf(errmsg, errlen, "%s", *st.message ? st.message : kc_strerror(rc2));
	}
	cJSON_Delete(pod);
	if (rc2 < 0) {
		event(rc, rs, "Warning", "FailedCreate", "Error creating: %s", errmsg);
		return rc2;
	}
	event(rc, rs, "Normal", "SuccessfulCreate", "Created pod: %s", kc_meta_name(out));
	cJSON_Delete(out);
	return 0;
}

/* getIndirectlyRelatedPods: pods of every ReplicaSet sharing this one's controller
 * (sibling ReplicaSets of a Deployment), or this one's pods when it has none. Only
 * needed to rank pods for deletion. */
static bool keep_sibling(const cJSON *obj, void *arg)
{
	const cJSON *ref = kc_meta_controller_ref(obj);
	return ref && !strcmp(kc_json_get_string(ref, "uid", ""), (const char *)arg);
}

static cJSON *related_pods(rs_controller *rc, const cJSON *rs, const cJSON *filtered)
{
	const cJSON *owner = kc_meta_controller_ref(rs);
	if (!owner)
		return kc_json_dup(filtered);
	const char *ns = kc_meta_namespace(rs);
	cJSON *sibs = NULL, *out = NULL;
	const char *owner_uid[] = { kc_json_get_string(owner, "uid", ""), NULL };
	if (rc->lister->list_controlled(rc->lister, "replicasets", ns, owner_uid, false,
					keep_sibling, (void *)owner_uid[0], &sibs) < 0)
		return kc_json_dup(filtered);
	int n = cJSON_GetArraySize(sibs);
	const char **uids = calloc((size_t)n + 1, sizeof(*uids));
	if (uids) {
		int i = 0;
		const cJSON *s;
		cJSON_ArrayForEach(s, sibs) uids[i++] = kc_meta_uid(s);
		if (rc->lister->list_controlled(rc->lister, "pods", ns, uids, false, NULL, NULL,
						&out) < 0)
			out = NULL;
		free(uids);
	}
	cJSON_Delete(sibs);
	return out ? out : kc_json_dup(filtered);
}

/* manageReplicas. Returns 0 or the first error; *errmsg describes it for the
 * ReplicaFailure condition. */
static int manage_replicas(rs_controller *rc, const char *key, const cJSON *rs,
			   const cJSON *filtered, int *diff_out, char *errmsg, size_t errlen)
{
	int64_t replicas = cm_int(rs, "spec.replicas", 1);
	int diff = cJSON_GetArraySize(filtered) - (int)replicas;
	*diff_out = diff;
	const char *ns = kc_meta_namespace(rs);
	if (diff < 0) {
		diff = -diff;
		if (diff > rc->burst_replicas)
			diff = rc->burst_replicas;
		/* Expect before creating: the informer may report a new pod before the
		 * create call returns. */
		cm_expectations_expect(rc->exp, key, diff, 0);
		kc_log_v(2, "Too few replicas for ReplicaSet %s, need %lld, creating %d", key,
			 (long long)replicas, diff);
		int successes = 0, err = 0;
		int remaining = diff;
		for (int batch = remaining < RS_SLOW_START_INITIAL_BATCH ?
					 remaining :
					 RS_SLOW_START_INITIAL_BATCH;
		     batch > 0;) {
			int ok = 0;
			for (int i = 0; i < batch; i++) {
				int r = create_pod(rc, rs, errmsg, errlen);
				if (r == 0)
					ok++;
				else if (!err)
					err = r;
			}
			successes += ok;
			if (err)
				break;
			remaining -= batch;
			batch = 2 * batch < remaining ? 2 * batch : remaining;
		}
		/* pods never created will never be observed */
		int skipped = diff - successes;
		if (skipped > 0)
			cm_expectations_lower(rc->exp, key, skipped, 0);
		return err;
	}
	if (diff > 0) {
		if (diff > rc->burst_replicas)
			diff = rc->burst_replicas;
		kc_log_v(2, "Too many replicas for ReplicaSet %s, need %lld, deleting %d", key,
			 (long long)replicas, diff);
		const cJSON **victims = calloc((size_t)diff, sizeof(*victims));
		if (!victims)
			return -ENOMEM;
		cJSON *related = related_pods(rc, rs, filtered);
		pods_to_delete(filtered, related, diff, kc_now_wall(rc->clock), victims);
		cm_expectations_expect(rc->exp, key, 0, diff);
		int err = 0;
		for (int i = 0; i < diff; i++) {
			const char *name = kc_meta_name(victims[i]);
			int r = rc->api->del(rc->api, "pods", ns, name, NULL);
			if (r < 0) {
				/* the informer will not observe this deletion */
				cm_expectations_deletion_observed(rc->exp, key);
				if (r != KC_ENOTFOUND) {
					snprintf(errmsg, errlen, "%s", kc_strerror(r));
					event(rc, rs, "Warning", "FailedDelete", "Error deleting: %s",
					      errmsg);
					if (!err)
						err = r;
				}
				continue;
			}
			event(rc, rs, "Normal", "SuccessfulDelete", "Deleted pod: %s", name);
		}
		free(victims);
		cJSON_Delete(related);
		return err;
	}
	return 0;
}

/* calculateStatus + updateReplicaSetStatus. */
static int update_status(rs_controller *rc, const cJSON *rs, const cJSON *filtered,
			 int manage_err, int diff, const char *errmsg, int64_t *ready_out,
			 int64_t *avail_out)
{
	int64_t min_ready = cm_int(rs, "spec.minReadySeconds", 0);
	int64_t now = kc_now_wall(rc->clock);
	cJSON *tlabels = kc_json_get(rs, "spec.template.metadata.labels");
	kc_label_selector tsel;
	if (kc_selector_from_set(tlabels, &tsel, NULL, 0) < 0)
		kc_selector_init_nothing(&tsel);
	int64_t full = 0, ready = 0, avail = 0;
	const cJSON *p;
	cJSON_ArrayForEach(p, filtered)
	{
		if (kc_selector_matches_object(&tsel, p))
			full++;
		if (cm_pod_ready(p)) {
			ready++;
			if (cm_pod_available(p, min_ready, now))
				avail++;
		}
	}
	kc_selector_close(&tsel);
	*ready_out = ready;
	*avail_out = avail;

	const cJSON *old = kc_json_get(rs, "status");
	cJSON *st = cJSON_CreateObject();
	cJSON_AddItemToObject(st, "replicas", kc_json_new_int64(cJSON_GetArraySize(filtered)));
	/* omitempty fields, as the Go types print them */
	if (full)
		cJSON_AddItemToObject(st, "fullyLabeledReplicas", kc_json_new_int64(full));
	if (ready)
		cJSON_AddItemToObject(st, "readyReplicas", kc_json_new_int64(ready));
	if (avail)
		cJSON_AddItemToObject(st, "availableReplicas", kc_json_new_int64(avail));
	int64_t gen = kc_meta_generation(rs);
	if (gen)
		cJSON_AddItemToObject(st, "observedGeneration", kc_json_new_int64(gen));
	/* conditions: keep others, manage ReplicaFailure */
	cJSON *conds = cJSON_CreateArray();
	const cJSON *c;
	const cJSON *failure = cm_condition(rs, "ReplicaFailure");
	cJSON_ArrayForEach(c, kc_json_get(old, "conditions"))
	{
		if (c != failure)
			cJSON_AddItemToArray(conds, kc_json_dup(c));
	}
	if (manage_err < 0) {
		if (failure) {
			cJSON_AddItemToArray(conds, kc_json_dup(failure));
		} else {
			char ts[KC_TIME_BUFLEN];
			kc_meta_time_format(now, ts, sizeof(ts));
			cJSON *f = cJSON_CreateObject();
			cJSON_AddStringToObject(f, "type", "ReplicaFailure");
			cJSON_AddStringToObject(f, "status", "True");
			cJSON_AddStringToObject(f, "lastTransitionTime", ts);
			cJSON_AddStringToObject(f, "reason",
						diff < 0 ? "FailedCreate" : "FailedDelete");
			cJSON_AddStringToObject(f, "message", errmsg);
			cJSON_AddItemToArray(conds, f);
		}
	}
	if (cJSON_GetArraySize(conds))
		cJSON_AddItemToObject(st, "conditions", conds);
	else
		cJSON_Delete(conds);

	if (kc_json_equal(old, st)) {
		cJSON_Delete(st);
		return 0;
	}
	cJSON *obj = kc_json_dup(rs);
	cJSON_DeleteItemFromObjectCaseSensitive(obj, "status");
	cJSON_AddItemToObject(obj, "status", st);
	kc_log_v(4, "Updating status for ReplicaSet %s/%s: replicas %d ready %lld available %lld",
		 kc_meta_namespace(rs), kc_meta_name(rs), cJSON_GetArraySize(filtered),
		 (long long)ready, (long long)avail);
	int r = rc->api->update(rc->api, "replicasets", kc_meta_namespace(rs), kc_meta_name(rs),
				"status", obj, NULL);
	cJSON_Delete(obj);
	return r;
}

int rs_sync(void *arg, const char *key)
{
	rs_controller *rc = arg;
	char ns[256], name[256];
	if (cm_split_key(key, ns, sizeof(ns), name, sizeof(name)) < 0) {
		kc_error("replicaset: invalid key %s", key);
		return 0; /* never retry a malformed key */
	}
	cJSON *rs = NULL;
	int r = rc->lister->get(rc->lister, "replicasets", ns, name, &rs);
	if (r == KC_ENOTFOUND) {
		kc_log_v(4, "ReplicaSet %s has been deleted", key);
		cm_expectations_delete(rc->exp, key);
		return 0;
	}
	if (r < 0)
		return r;
	bool needs_sync = cm_expectations_satisfied(rc->exp, key);
	kc_label_selector sel;
	char serr[KC_SELECTOR_ERRLEN];
	if (kc_selector_from_json(kc_json_get(rs, "spec.selector"), &sel, serr, sizeof(serr)) <
	    0) {
		/* upstream: "Error converting pod selector to selector" -- not retried */
		kc_error("replicaset %s: invalid selector: %s", key, serr);
		cJSON_Delete(rs);
		return 0;
	}
	/* only pods this ReplicaSet controls or could adopt are copied out of the cache */
	cJSON *all = NULL, *claimed = NULL;
	cm_claimable cl = { kc_meta_uid(rs), &sel };
	const char *uids[] = { kc_meta_uid(rs), NULL };
	r = rc->lister->list_controlled(rc->lister, "pods", ns, uids, true, cm_keep_claimable, &cl,
					&all);
	if (r < 0)
		goto out;
	/* only active pods count towards replicas */
	cJSON *active = cJSON_CreateArray();
	const cJSON *p;
	cJSON_ArrayForEach(p, all)
	{
		if (cm_pod_active(p))
			cJSON_AddItemToArray(active, kc_json_dup(p));
	}
	cm_owner owner = { rs, RS_API_VERSION, RS_KIND };
	r = cm_claim(rc->api, "pods", &owner, &sel, active, &claimed);
	cJSON_Delete(active);
	if (r < 0)
		goto out;
	int manage_err = 0, diff = 0;
	char errmsg[1100] = "";
	if (needs_sync && !*kc_meta_deletion_timestamp(rs)) {
		manage_err = manage_replicas(rc, key, rs, claimed, &diff, errmsg, sizeof(errmsg));
	}
	int64_t ready = 0, avail = 0;
	r = update_status(rc, rs, claimed, manage_err, diff, errmsg, &ready, &avail);
	if (r < 0)
		goto out;
	/* Resync to notice pods becoming available after minReadySeconds. */
	int64_t replicas = cm_int(rs, "spec.replicas", 1);
	int64_t min_ready = cm_int(rs, "spec.minReadySeconds", 0);
	if (manage_err == 0 && min_ready > 0 && ready == replicas && avail != replicas)
		cm_controller_enqueue_after(rc->ctrl, key, min_ready * KC_NSEC_PER_SEC);
	r = manage_err;
out:
	kc_selector_close(&sel);
	cJSON_Delete(all);
	cJSON_Delete(claimed);
	cJSON_Delete(rs);
	return r;
}

/* ---- handlers ---- */

static void key_of(const cJSON *obj, char *buf, size_t len)
{
	if (kc_informer_key(obj, buf, len) < 0)
		buf[0] = 0;
}

void rs_on_rs_add(const cJSON *obj, void *arg)
{
	cm_controller_enqueue_obj(((rs_controller *)arg)->ctrl, obj);
}

void rs_on_rs_update(const cJSON *old_obj, const cJSON *new_obj, void *arg)
{
	(void)old_obj;
	cm_controller_enqueue_obj(((rs_controller *)arg)->ctrl, new_obj);
}

void rs_on_rs_delete(const cJSON *obj, int final_state_unknown, void *arg)
{
	rs_controller *rc = arg;
	char key[512];
	key_of(obj, key, sizeof(key));
	cm_expectations_delete(rc->exp, key);
	cm_controller_enqueue(rc->ctrl, key);
}

typedef struct resolve_ctx {
	const char *uid;
	bool ok;
	int64_t min_ready;
} resolve_ctx;

static int resolve_one(const cJSON *rs, void *arg)
{
	resolve_ctx *r = arg;
	r->ok = !strcmp(kc_meta_uid(rs), r->uid);
	r->min_ready = cm_int(rs, "spec.minReadySeconds", 0);
	return 0;
}

/* resolveControllerRef: the key of the cached ReplicaSet pod's controllerRef names,
 * if its uid matches. */
static bool resolve(rs_controller *rc, const cJSON *pod, char *key, size_t len,
		    int64_t *min_ready)
{
	const cJSON *ref = cm_controller_ref_of_kind(pod, RS_KIND);
	if (!ref)
		return false;
	const char *ns = kc_meta_namespace(pod);
	const char *name = kc_json_get_string(ref, "name", "");
	/* borrowed, not copied: this runs for every pod event */
	resolve_ctx r = { kc_json_get_string(ref, "uid", ""), false, 0 };
	if (rc->lister->with(rc->lister, "replicasets", ns, name, resolve_one, &r) < 0 || !r.ok)
		return false;
	snprintf(key, len, "%s/%s", ns, name);
	if (min_ready)
		*min_ready = r.min_ready;
	return true;
}

/* getPodReplicaSets: enqueue every ReplicaSet whose selector matches an orphan. */
static void enqueue_matching(rs_controller *rc, const cJSON *pod)
{
	cJSON *rss = NULL;
	if (!rc->ctrl ||
	    rc->lister->list(rc->lister, "replicasets", kc_meta_namespace(pod), &rss) < 0)
		return;
	const cJSON *rs;
	cJSON_ArrayForEach(rs, rss)
	{
		kc_label_selector sel;
		if (kc_selector_from_json(kc_json_get(rs, "spec.selector"), &sel, NULL, 0) < 0)
			continue;
		if (!kc_selector_empty(&sel) && kc_selector_matches_object(&sel, pod))
			cm_controller_enqueue_obj(rc->ctrl, rs);
		kc_selector_close(&sel);
	}
	cJSON_Delete(rss);
}

void rs_on_pod_delete(const cJSON *pod, int final_state_unknown, void *arg)
{
	rs_controller *rc = arg;
	char key[512];
	if (!resolve(rc, pod, key, sizeof(key), NULL))
		return;
	cm_expectations_deletion_observed(rc->exp, key);
	cm_controller_enqueue(rc->ctrl, key);
}

void rs_on_pod_add(const cJSON *pod, void *arg)
{
	rs_controller *rc = arg;
	if (*kc_meta_deletion_timestamp(pod)) {
		/* restarted controller-manager seeing a pod already being deleted */
		rs_on_pod_delete(pod, 0, arg);
		return;
	}
	char key[512];
	if (resolve(rc, pod, key, sizeof(key), NULL)) {
		cm_expectations_creation_observed(rc->exp, key);
		cm_controller_enqueue(rc->ctrl, key);
		return;
	}
	if (!kc_meta_controller_ref(pod))
		enqueue_matching(rc, pod);
}

void rs_on_pod_update(const cJSON *old_pod, const cJSON *new_pod, void *arg)
{
	rs_controller *rc = arg;
	if (!strcmp(kc_meta_resource_version(old_pod), kc_meta_resource_version(new_pod)))
		return; /* periodic resync: nothing changed */
	bool label_changed = !kc_json_equal(kc_meta_labels(old_pod), kc_meta_labels(new_pod));
	if (*kc_meta_deletion_timestamp(new_pod)) {
		rs_on_pod_delete(new_pod, 0, arg);
		if (label_changed)
			rs_on_pod_delete(old_pod, 0, arg);
		return;
	}
	const cJSON *oref = kc_meta_controller_ref(old_pod);
	const cJSON *nref = kc_meta_controller_ref(new_pod);
	bool ref_changed = !kc_json_equal(oref, nref);
	char key[512];
	if (ref_changed && oref && resolve(rc, old_pod, key, sizeof(key), NULL))
		cm_controller_enqueue(rc->ctrl, key);
	int64_t min_ready = 0;
	if (nref) {
		if (resolve(rc, new_pod, key, sizeof(key), &min_ready)) {
			cm_controller_enqueue(rc->ctrl, key);
			/* a pod that just became ready turns available minReadySeconds later */
			if (!cm_pod_ready(old_pod) && cm_pod_ready(new_pod) && min_ready > 0)
				cm_controller_enqueue_after(rc->ctrl, key,
							    (min_ready + 1) * KC_NSEC_PER_SEC);
		}
		return;
	}
	if (label_changed || ref_changed)
		enqueue_matching(rc, new_pod);
}

int rs_controller_register(rs_controller *rc, cm_informers *f)
{
	kc_informer *rsi = cm_informers_get(f, "replicasets");
	kc_informer *pi = cm_informers_get(f, "pods");
	if (!rsi || !pi)
		return -ENOMEM;
	kc_informer_handlers h1 = { rs_on_rs_add, rs_on_rs_update, rs_on_rs_delete, rc };
	kc_informer_handlers h2 = { rs_on_pod_add, rs_on_pod_update, rs_on_pod_delete, rc };
	int r = kc_informer_add_handlers(rsi, &h1);
	if (r == 0)
		r = kc_informer_add_handlers(pi, &h2);
	return r;
}
