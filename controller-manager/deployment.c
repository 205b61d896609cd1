/* The Deployment controller: handlers, sync, the new ReplicaSet and revisions, scaling,
 * status and cleanup (upstream deployment_controller.go, sync.go, progress.go). The
 * rollout strategies are in deployment_rolling.c. */
#include "deployment.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller_ref.h"
#include "errors.h"
#include "json.h"
#include "labels.h"
#include "log.h"
#include "meta.h"

#define D_KIND "Deployment"
#define D_API_VERSION "apps/v1"

int dc_controller_init(dc_controller *dc, cm_lister *lister, cm_api *api, kc_clock_t *clock)
{
	memset(dc, 0, sizeof(*dc));
	dc->lister = lister;
	dc->api = api;
	dc->clock = clock ? clock : kc_clock_real();
	return 0;
}

void dc_controller_close(dc_controller *dc)
{
	(void)dc;
}

static void devent(dc_ctx *c, const char *type, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void devent(dc_ctx *c, const char *type, const char *reason, const char *fmt, ...)
{
	char msg[1500];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->dc->api->event(c->dc->api, c->d, D_API_VERSION, D_KIND, type, reason, msg);
}

static int64_t now_ns(dc_ctx *c)
{
	return kc_now_wall(c->dc->clock);
}

/* HasProgressDeadline: progressDeadlineSeconds set (the apiserver defaults 600) and not
 * MaxInt32. */
static bool has_progress_deadline(const cJSON *d)
{
	return cm_int(d, "spec.progressDeadlineSeconds", 600) != INT32_MAX;
}

int dc_old_rss(dc_ctx *c, cJSON **out, bool active_only)
{
	int n = 0;
	cJSON *rs;
	cJSON_ArrayForEach(rs, c->rss)
	{
		if (rs == c->new_rs)
			continue;
		if (active_only && cm_int(rs, "spec.replicas", 0) <= 0)
			continue;
		out[n++] = rs;
	}
	return n;
}

/* all ReplicaSets: old ones then the new one (upstream append(oldRSs, newRS)) */
static int all_rss(dc_ctx *c, cJSON **out)
{
	int n = dc_old_rss(c, out, false);
	if (c->new_rs)
		out[n++] = c->new_rs;
	return n;
}

/* PUT the Deployment's status (and annotations, as upstream's UpdateStatus) from c->d
 * with status replaced by st (taken). */
static int update_deployment_status(dc_ctx *c, cJSON *st)
{
	cJSON *obj = kc_json_dup(c->d);
	cJSON_DeleteItemFromObjectCaseSensitive(obj, "status");
	cJSON_AddItemToObject(obj, "status", st);
	cJSON *out = NULL;
	int rc = c->dc->api->update(c->dc->api, "deployments", kc_meta_namespace(c->d),
				    kc_meta_name(c->d), "status", obj, &out);
	if (rc == 0) {
		cm_json_replace(c->d, out ? out : obj);
		if (out)
			cJSON_Delete(obj);
	} else {
		cJSON_Delete(obj);
	}
	return rc;
}

static cJSON *status_copy(dc_ctx *c)
{
	const cJSON *st = kc_json_get(c->d, "status");
	return st ? kc_json_dup(st) : cJSON_CreateObject();
}

/* ---- annotations (deployment_util.go) ---- */

static bool skip_copy(const char *k)
{
	return !strcmp(k, "kubectl.kubernetes.io/last-applied-configuration") ||
	       !strcmp(k, DC_REVISION_ANNOTATION) || !strcmp(k, DC_REVISION_HISTORY_ANNOTATION) ||
	       !strcmp(k, DC_DESIRED_REPLICAS_ANNOTATION) ||
	       !strcmp(k, DC_MAX_REPLICAS_ANNOTATION) ||
	       !strcmp(k, "deprecated.deployment.rollback.to");
}

static bool set_ann_int(cJSON *obj, const char *k, int64_t v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	const char *cur = kc_meta_annotation(obj, k);
	if (cur && !strcmp(cur, buf))
		return false;
	kc_meta_set_annotation(obj, k, buf);
	return true;
}

/* SetReplicasAnnotations */
static bool set_replicas_annotations(cJSON *rs, int64_t desired, int64_t max)
{
	bool a = set_ann_int(rs, DC_DESIRED_REPLICAS_ANNOTATION, desired);
	bool b = set_ann_int(rs, DC_MAX_REPLICAS_ANNOTATION, max);
	return a || b;
}

/* SetNewReplicaSetAnnotations */
static bool set_new_rs_annotations(const cJSON *d, cJSON *rs, int64_t new_rev, bool exists)
{
	bool changed = false;
	const cJSON *a;
	cJSON_ArrayForEach(a, kc_meta_annotations(d))
	{
		if (!cJSON_IsString(a) || skip_copy(a->string))
			continue;
		const char *cur = kc_meta_annotation(rs, a->string);
		if (cur && !strcmp(cur, a->valuestring))
			continue;
		kc_meta_set_annotation(rs, a->string, a->valuestring);
		changed = true;
	}
	const char *old = kc_meta_annotation(rs, DC_REVISION_ANNOTATION);
	int64_t old_rev = 0;
	if (old && *old) {
		char *end;
		old_rev = strtoll(old, &end, 10);
		if (*end)
			return false; /* upstream: an unparsable revision is left alone */
	}
	if (old_rev < new_rev) {
		char buf[32];
		snprintf(buf, sizeof(buf), "%lld", (long long)new_rev);
		/* a rollback to this ReplicaSet: keep the revisions it had before */
		if (old && *old) {
			const char *h = kc_meta_annotation(rs, DC_REVISION_HISTORY_ANNOTATION);
			char hist[DC_MAX_REV_HISTORY_CHARS + 64];
			if (h && *h)
				snprintf(hist, sizeof(hist), "%s,%s", h, old);
			else
				snprintf(hist, sizeof(hist), "%s", old);
			/* drop the oldest entries beyond the length limit */
			const char *start = hist;
			while (strlen(start) > DC_MAX_REV_HISTORY_CHARS && strchr(start, ','))
				start = strchr(start, ',') + 1;
			char keep[sizeof(hist)];
			snprintf(keep, sizeof(keep), "%s", start);
			kc_meta_set_annotation(rs, DC_REVISION_HISTORY_ANNOTATION, keep);
		}
		kc_meta_set_annotation(rs, DC_REVISION_ANNOTATION, buf);
		changed = true;
	}
	if (!exists && set_replicas_annotations(rs, dc_replicas(d), dc_replicas(d) + dc_max_surge(d)))
		changed = true;
	return changed;
}

/* SetDeploymentRevision */
static bool set_deployment_revision(cJSON *d, const char *rev)
{
	const char *cur = kc_meta_annotation(d, DC_REVISION_ANNOTATION);
	if (!rev || (cur && !strcmp(cur, rev)))
		return false;
	kc_meta_set_annotation(d, DC_REVISION_ANNOTATION, rev);
	return true;
}

/* ---- the new ReplicaSet ---- */

int64_t dc_new_rs_new_replicas(dc_ctx *c, const cJSON *new_rs)
{
	const cJSON *d = c->d;
	int64_t cur = cm_int(new_rs, "spec.replicas", 0);
	if (!dc_is_rolling(d))
		return dc_replicas(d);
	int64_t surge = dc_max_surge(d);
	/* the old ReplicaSets and new_rs (which may not be in c->rss yet) */
	cJSON *all[cJSON_GetArraySize(c->rss) + 2];
	int n = dc_old_rss(c, all, false);
	all[n++] = (cJSON *)new_rs;
	int64_t current = dc_sum(all, n, "spec.replicas");
	int64_t max_total = dc_replicas(d) + surge;
	if (current >= max_total)
		return cur;
	int64_t up = max_total - current;
	if (up > dc_replicas(d) - cur)
		up = dc_replicas(d) - cur;
	return cur + up;
}

static int create_new_rs(dc_ctx *c, int64_t new_rev)
{
	const cJSON *d = c->d;
	const char *ns = kc_meta_namespace(d);
	int64_t collision = cm_int(d, "status.collisionCount", -1);
	cJSON *tmpl = kc_json_dup(kc_json_get(d, "spec.template"));
	if (!tmpl)
		tmpl = cJSON_CreateObject();
	char hash[16];
	dc_compute_hash(tmpl, collision, hash);
	kc_meta_set_label(tmpl, DC_HASH_LABEL, hash);
	cJSON *sel = kc_json_dup(kc_json_get(d, "spec.selector"));
	if (!sel)
		sel = cJSON_CreateObject();
	kc_json_set_string(sel, "matchLabels." DC_HASH_LABEL, hash);

	char name[320];
	snprintf(name, sizeof(name), "%s-%s", kc_meta_name(d), hash);
	cJSON *rs = cJSON_CreateObject();
	kc_meta_set_name(rs, name);
	kc_meta_set_namespace(rs, ns);
	const cJSON *tl = kc_json_get(tmpl, "metadata.labels");
	if (tl)
		kc_json_set(rs, "metadata.labels", kc_json_dup(tl));
	kc_owner_ref o = { D_API_VERSION, D_KIND, kc_meta_name(d), kc_meta_uid(d), true, true };
	kc_meta_add_owner_ref(rs, &o);
	cJSON *spec = cJSON_AddObjectToObject(rs, "spec");
	cJSON_AddItemToObject(spec, "replicas", kc_json_new_int64(0));
	cJSON_AddItemToObject(spec, "minReadySeconds",
			      kc_json_new_int64(cm_int(d, "spec.minReadySeconds", 0)));
	cJSON_AddItemToObject(spec, "selector", sel);
	cJSON_AddItemToObject(spec, "template", tmpl);
	int64_t replicas = dc_new_rs_new_replicas(c, rs);
	kc_json_set_int64(rs, "spec.replicas", replicas);
	set_new_rs_annotations(d, rs, new_rev, false);

	cJSON *out = NULL;
	kc_status cst;
	int rc = c->dc->api->create(c->dc->api, "replicasets", ns, rs, &out, &cst);
	if (rc == KC_EEXIST) {
		/* ours already (a stale cache), or a hash collision */
		cJSON *cur = NULL;
		if (c->dc->lister->get(c->dc->lister, "replicasets", ns, name, &cur) == 0) {
			const cJSON *ref = kc_meta_controller_ref(cur);
			if (ref && !strcmp(kc_json_get_string(ref, "uid", ""), kc_meta_uid(d)) &&
			    dc_templates_equal(kc_json_get(cur, "spec.template"),
					       kc_json_get(d, "spec.template"))) {
				out = cur;
				rc = 0;
			} else {
				cJSON_Delete(cur);
			}
		}
		if (rc < 0) {
			cJSON *st = status_copy(c);
			kc_json_set_int64(st, "collisionCount", collision < 0 ? 1 : collision + 1);
			kc_warn("Found a hash collision for deployment %s/%s - bumping collisionCount",
				ns, kc_meta_name(d));
			int r2 = update_deployment_status(c, st);
			cJSON_Delete(rs);
			return r2 < 0 ? r2 : KC_EEXIST;
		}
	} else if (rc < 0) {
		char msg[1400];
		snprintf(msg, sizeof(msg), "Failed to create new replica set \"%s\": %s", name,
			 *cst.message ? cst.message : kc_strerror(rc));
		if (has_progress_deadline(d)) {
			cJSON *st = status_copy(c);
			dc_set_condition(st, "Progressing", "False", "ReplicaSetCreateError", msg,
					 now_ns(c));
			update_deployment_status(c, st);
		}
		devent(c, "Warning", "ReplicaSetCreateError", "%s", msg);
		cJSON_Delete(rs);
		return rc;
	}
	cJSON_Delete(rs);
	if (!out)
		return KC_EPARSE;
	if (replicas > 0)
		devent(c, "Normal", "ScalingReplicaSet", "Scaled up replica set %s from 0 to %lld",
		       kc_meta_name(out), (long long)replicas);
	cJSON_AddItemToArray(c->rss, out);
	c->new_rs = out;

	char rev[32];
	snprintf(rev, sizeof(rev), "%lld", (long long)new_rev);
	bool needs = set_deployment_revision(c->d, rev);
	cJSON *st = status_copy(c);
	if (has_progress_deadline(c->d)) {
		char msg[400];
		snprintf(msg, sizeof(msg), "Created new replica set \"%s\"", kc_meta_name(out));
		dc_set_condition(st, "Progressing", "True", "NewReplicaSetCreated", msg,
				 now_ns(c));
		needs = true;
	}
	if (!needs) {
		cJSON_Delete(st);
		return 0;
	}
	return update_deployment_status(c, st);
}

int dc_sync_revision(dc_ctx *c, bool create)
{
	int n = cJSON_GetArraySize(c->rss);
	cJSON *v[n + 1];
	int k = 0;
	cJSON *rs;
	cJSON_ArrayForEach(rs, c->rss) v[k++] = rs;
	dc_sort_by_creation(v, k, false);
	c->new_rs = NULL;
	for (int i = 0; i < k; i++)
		if (dc_templates_equal(kc_json_get(v[i], "spec.template"),
				       kc_json_get(c->d, "spec.template"))) {
			c->new_rs = v[i];
			break;
		}
	int64_t max_old = 0;
	for (int i = 0; i < k; i++)
		if (v[i] != c->new_rs && dc_revision(v[i]) > max_old)
			max_old = dc_revision(v[i]);
	int64_t new_rev = max_old + 1;
	if (!c->new_rs)
		return create ? create_new_rs(c, new_rev) : 0;

	cJSON *copy = kc_json_dup(c->new_rs);
	bool changed = set_new_rs_annotations(c->d, copy, new_rev, true);
	int64_t mrs = cm_int(c->d, "spec.minReadySeconds", 0);
	if (cm_int(copy, "spec.minReadySeconds", 0) != mrs) {
		kc_json_set_int64(copy, "spec.minReadySeconds", mrs);
		changed = true;
	}
	if (changed) {
		cJSON *out = NULL;
		int rc = c->dc->api->update(c->dc->api, "replicasets", kc_meta_namespace(copy),
					    kc_meta_name(copy), NULL, copy, &out);
		cJSON_Delete(copy);
		if (rc < 0)
			return rc;
		if (out)
			cm_json_replace(c->new_rs, out);
	} else {
		cJSON_Delete(copy);
	}
	bool needs = set_deployment_revision(c->d,
					     kc_meta_annotation(c->new_rs, DC_REVISION_ANNOTATION));
	cJSON *st = status_copy(c);
	if (has_progress_deadline(c->d) && !dc_get_condition(st, "Progressing")) {
		char msg[400];
		snprintf(msg, sizeof(msg), "Found new replica set \"%s\"", kc_meta_name(c->new_rs));
		dc_set_condition(st, "Progressing", "True", "FoundNewReplicaSet", msg, now_ns(c));
		needs = true;
	}
	if (!needs) {
		cJSON_Delete(st);
		return 0;
	}
	return update_deployment_status(c, st);
}

/* ---- scaling ---- */

int dc_scale_rs(dc_ctx *c, cJSON *rs, int64_t replicas, const char *op)
{
	int64_t old = cm_int(rs, "spec.replicas", 0);
	bool size = old != replicas;
	cJSON *copy = kc_json_dup(rs);
	bool ann = set_replicas_annotations(copy, dc_replicas(c->d),
					    dc_replicas(c->d) + dc_max_surge(c->d));
	if (!size && !ann) {
		cJSON_Delete(copy);
		return 0;
	}
	kc_json_set_int64(copy, "spec.replicas", replicas);
	cJSON *out = NULL;
	int rc = c->dc->api->update(c->dc->api, "replicasets", kc_meta_namespace(rs),
				    kc_meta_name(rs), NULL, copy, &out);
	cJSON_Delete(copy);
	if (rc < 0)
		return rc;
	if (out)
		cm_json_replace(rs, out);
	if (!size)
		return 0;
	if (!op)
		op = old < replicas ? "up" : "down";
	devent(c, "Normal", "ScalingReplicaSet", "Scaled %s replica set %s from %lld to %lld", op,
	       kc_meta_name(rs), (long long)old, (long long)replicas);
	return 1;
}

/* getReplicaSetFraction / GetProportion for proportional scaling */
static int64_t rs_fraction(dc_ctx *c, const cJSON *rs)
{
	int64_t dr = dc_replicas(c->d), cur = cm_int(rs, "spec.replicas", 0);
	if (dr == 0)
		return -cur;
	int64_t max = dr + dc_max_surge(c->d);
	const char *a = kc_meta_annotation(rs, DC_MAX_REPLICAS_ANNOTATION);
	int64_t before = a ? strtoll(a, NULL, 10) : 0;
	if (before <= 0)
		before = cm_int(c->d, "status.replicas", 0);
	if (before <= 0)
		return 0;
	double sz = (double)(cur * max) / (double)before;
	int64_t r = (int64_t)(sz < 0 ? sz - 0.5 : sz + 0.5); /* math.Round */
	return r - cur;
}

static int64_t proportion(dc_ctx *c, const cJSON *rs, int64_t to_add, int64_t added)
{
	if (!rs || cm_int(rs, "spec.replicas", 0) == 0 || to_add == 0 || to_add == added)
		return 0;
	int64_t f = rs_fraction(c, rs), allowed = to_add - added;
	if (to_add > 0)
		return f < allowed ? f : allowed;
	return f > allowed ? f : allowed;
}

/* IsSaturated */
static bool saturated(dc_ctx *c, const cJSON *rs)
{
	if (!rs)
		return false;
	const char *a = kc_meta_annotation(rs, DC_DESIRED_REPLICAS_ANNOTATION);
	int64_t dr = dc_replicas(c->d);
	return a && strtoll(a, NULL, 10) == dr && cm_int(rs, "spec.replicas", 0) == dr &&
	       cm_int(rs, "status.availableReplicas", 0) == dr;
}

/* scale(): scaling events and paused deployments. */
static int dc_scale(dc_ctx *c)
{
	int n = cJSON_GetArraySize(c->rss);
	cJSON *old[n + 1], *active[n + 1];
	int no = dc_old_rss(c, old, false);
	int64_t dr = dc_replicas(c->d);
	/* FindActiveOrLatest */
	if (c->new_rs || no) {
		dc_sort_by_creation(old, no, true);
		int na = 0;
		for (int i = 0; i < no; i++)
			if (cm_int(old[i], "spec.replicas", 0) > 0)
				active[na++] = old[i];
		if (c->new_rs && cm_int(c->new_rs, "spec.replicas", 0) > 0)
			active[na++] = c->new_rs;
		cJSON *one = NULL;
		if (na == 0)
			one = c->new_rs ? c->new_rs : old[0];
		else if (na == 1)
			one = active[0];
		if (one) {
			if (cm_int(one, "spec.replicas", 0) == dr)
				return 0;
			int rc = dc_scale_rs(c, one, dr, NULL);
			return rc < 0 ? rc : 0;
		}
	}
	if (saturated(c, c->new_rs)) {
		for (int i = 0; i < no; i++)
			if (cm_int(old[i], "spec.replicas", 0) > 0) {
				int rc = dc_scale_rs(c, old[i], 0, NULL);
				if (rc < 0)
					return rc;
			}
		return 0;
	}
	if (!dc_is_rolling(c->d))
		return 0;
	/* proportional scaling across the active ReplicaSets */
	int na = 0;
	for (int i = 0; i < no; i++)
		if (cm_int(old[i], "spec.replicas", 0) > 0)
			active[na++] = old[i];
	if (c->new_rs && cm_int(c->new_rs, "spec.replicas", 0) > 0)
		active[na++] = c->new_rs;
	int64_t total = dc_sum(active, na, "spec.replicas");
	int64_t allowed = dr > 0 ? dr + dc_max_surge(c->d) : 0;
	int64_t to_add = allowed - total;
	const char *op = NULL;
	if (to_add > 0) {
		dc_sort_by_size(active, na, true);
		op = "up";
	} else if (to_add < 0) {
		dc_sort_by_size(active, na, false);
		op = "down";
	}
	int64_t added = 0, size[na + 1];
	for (int i = 0; i < na; i++) {
		int64_t cur = cm_int(active[i], "spec.replicas", 0);
		int64_t p = to_add ? proportion(c, active[i], to_add, added) : 0;
		size[i] = cur + p;
		added += p;
	}
	for (int i = 0; i < na; i++) {
		if (i == 0 && to_add) {
			size[0] += to_add - added; /* leftovers go to the largest */
			if (size[0] < 0)
				size[0] = 0;
		}
		int rc = dc_scale_rs(c, active[i], size[i], op);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- status ---- */

static cJSON *calculate_status(dc_ctx *c)
{
	int n = cJSON_GetArraySize(c->rss);
	cJSON *all[n + 1];
	int na = all_rss(c, all);
	int64_t avail = dc_sum(all, na, "status.availableReplicas");
	int64_t total = dc_sum(all, na, "spec.replicas");
	int64_t unavail = total - avail > 0 ? total - avail : 0;
	cJSON *st = cJSON_CreateObject();
	struct {
		const char *k;
		int64_t v;
	} f[] = {
		{ "observedGeneration", kc_meta_generation(c->d) },
		{ "replicas", dc_sum(all, na, "status.replicas") },
		{ "updatedReplicas", c->new_rs ? cm_int(c->new_rs, "status.replicas", 0) : 0 },
		{ "readyReplicas", dc_sum(all, na, "status.readyReplicas") },
		{ "availableReplicas", avail },
		{ "unavailableReplicas", unavail },
	};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (f[i].v) /* omitempty */
			cJSON_AddItemToObject(st, f[i].k, kc_json_new_int64(f[i].v));
	const cJSON *conds = kc_json_get(c->d, "status.conditions");
	if (conds && cJSON_GetArraySize(conds))
		cJSON_AddItemToObject(st, "conditions", kc_json_dup(conds));
	int64_t cc = cm_int(c->d, "status.collisionCount", -1);
	if (cc >= 0)
		cJSON_AddItemToObject(st, "collisionCount", kc_json_new_int64(cc));
	if (avail >= dc_replicas(c->d) - dc_max_unavailable(c->d))
		dc_set_condition(st, "Available", "True", "MinimumReplicasAvailable",
				 "Deployment has minimum availability.", now_ns(c));
	else
		dc_set_condition(st, "Available", "False", "MinimumReplicasUnavailable",
				 "Deployment does not have minimum availability.", now_ns(c));
	return st;
}

/* syncDeploymentStatus */
static int sync_status(dc_ctx *c)
{
	cJSON *st = calculate_status(c);
	if (kc_json_equal(st, kc_json_get(c->d, "status"))) {
		cJSON_Delete(st);
		return 0;
	}
	return update_deployment_status(c, st);
}

/* DeploymentProgressing */
static bool progressing(const cJSON *d, const cJSON *ns)
{
	const cJSON *os = kc_json_get(d, "status");
	int64_t old_old = cm_int(os, "replicas", 0) - cm_int(os, "updatedReplicas", 0);
	int64_t new_old = cm_int(ns, "replicas", 0) - cm_int(ns, "updatedReplicas", 0);
	return cm_int(ns, "updatedReplicas", 0) > cm_int(os, "updatedReplicas", 0) ||
	       new_old < old_old ||
	       cm_int(ns, "readyReplicas", 0) > cm_int(os, "readyReplicas", 0) ||
	       cm_int(ns, "availableReplicas", 0) > cm_int(os, "availableReplicas", 0);
}

static int64_t cond_time(const cJSON *cond, const char *field)
{
	int64_t t = 0;
	kc_meta_time_parse(kc_json_get_string(cond, field, ""), &t);
	return t;
}

/* DeploymentTimedOut */
static bool timed_out(dc_ctx *c, const cJSON *ns)
{
	if (!has_progress_deadline(c->d))
		return false;
	const cJSON *cond = dc_get_condition(ns, "Progressing");
	if (!cond)
		return false;
	const char *reason = kc_json_get_string(cond, "reason", "");
	if (!strcmp(reason, "NewReplicaSetAvailable"))
		return false;
	if (!strcmp(reason, "ProgressDeadlineExceeded"))
		return true;
	int64_t from = cond_time(cond, "lastUpdateTime");
	int64_t delta = cm_int(c->d, "spec.progressDeadlineSeconds", 600) * KC_NSEC_PER_SEC;
	return from + delta < now_ns(c);
}

int dc_sync_rollout_status(dc_ctx *c)
{
	cJSON *st = calculate_status(c);
	const cJSON *d = c->d;
	if (!has_progress_deadline(d))
		dc_remove_condition(st, "Progressing");
	cJSON *cur = dc_get_condition(st, "Progressing");
	bool is_complete = cm_int(st, "replicas", 0) == cm_int(st, "updatedReplicas", 0) && cur &&
			   !strcmp(kc_json_get_string(cur, "reason", ""), "NewReplicaSetAvailable");
	char msg[512];
	const char *rsn = c->new_rs ? kc_meta_name(c->new_rs) : NULL;
	if (has_progress_deadline(d) && !is_complete) {
		if (dc_complete(d, st)) {
			if (rsn)
				snprintf(msg, sizeof(msg),
					 "ReplicaSet \"%s\" has successfully progressed.", rsn);
			else
				snprintf(msg, sizeof(msg),
					 "Deployment \"%s\" has successfully progressed.",
					 kc_meta_name(d));
			dc_set_condition(st, "Progressing", "True", "NewReplicaSetAvailable", msg,
					 now_ns(c));
		} else if (progressing(d, st)) {
			if (rsn)
				snprintf(msg, sizeof(msg), "ReplicaSet \"%s\" is progressing.", rsn);
			else
				snprintf(msg, sizeof(msg), "Deployment \"%s\" is progressing.",
					 kc_meta_name(d));
			/* a fresh lastUpdateTime marks progress; keep the transition time */
			char ltt[KC_TIME_BUFLEN] = "";
			if (cur && !strcmp(kc_json_get_string(cur, "status", ""), "True"))
				snprintf(ltt, sizeof(ltt), "%s",
					 kc_json_get_string(cur, "lastTransitionTime", ""));
			dc_remove_condition(st, "Progressing");
			dc_set_condition(st, "Progressing", "True", "ReplicaSetUpdated", msg,
					 now_ns(c));
			if (*ltt)
				kc_json_set_string(dc_get_condition(st, "Progressing"),
						   "lastTransitionTime", ltt);
		} else if (timed_out(c, st)) {
			if (rsn)
				snprintf(msg, sizeof(msg),
					 "ReplicaSet \"%s\" has timed out progressing.", rsn);
			else
				snprintf(msg, sizeof(msg),
					 "Deployment \"%s\" has timed out progressing.",
					 kc_meta_name(d));
			dc_set_condition(st, "Progressing", "False", "ProgressDeadlineExceeded", msg,
					 now_ns(c));
		}
	}
	if (kc_json_equal(st, kc_json_get(d, "status"))) {
		/* requeueStuckDeployment: check again when the deadline would pass */
		cur = dc_get_condition(st, "Progressing");
		if (has_progress_deadline(d) && cur && !dc_complete(d, st) &&
		    strcmp(kc_json_get_string(cur, "reason", ""), "ProgressDeadlineExceeded")) {
			int64_t after = cond_time(cur, "lastUpdateTime") +
					cm_int(d, "spec.progressDeadlineSeconds", 600) *
						KC_NSEC_PER_SEC -
					now_ns(c);
			if (after < KC_NSEC_PER_SEC)
				after = 0;
			cm_controller_enqueue_after(c->dc->ctrl, c->key, after + KC_NSEC_PER_SEC);
		}
		cJSON_Delete(st);
		return 0;
	}
	return update_deployment_status(c, st);
}

/* cleanupDeployment: delete the oldest fully scaled-down ReplicaSets beyond
 * revisionHistoryLimit. */
int dc_cleanup(dc_ctx *c)
{
	int64_t limit = cm_int(c->d, "spec.revisionHistoryLimit", INT64_MAX);
	if (limit == INT64_MAX)
		return 0;
	int n = cJSON_GetArraySize(c->rss);
	cJSON *old[n + 1];
	int no = dc_old_rss(c, old, false), k = 0;
	for (int i = 0; i < no; i++)
		if (!*kc_meta_deletion_timestamp(old[i]))
			old[k++] = old[i];
	int64_t diff = k - limit;
	if (diff <= 0)
		return 0;
	dc_sort_by_revision(old, k);
	for (int64_t i = 0; i < diff; i++) {
		cJSON *rs = old[i];
		if (cm_int(rs, "status.replicas", 0) != 0 || cm_int(rs, "spec.replicas", 0) != 0 ||
		    kc_meta_generation(rs) > cm_int(rs, "status.observedGeneration", 0))
			continue;
		kc_log_v(4, "Trying to cleanup replica set %s for deployment %s", kc_meta_name(rs),
			 c->key);
		int rc = c->dc->api->del(c->dc->api, "replicasets", kc_meta_namespace(rs),
					 kc_meta_name(rs), NULL);
		if (rc < 0 && rc != KC_ENOTFOUND)
			return rc;
	}
	return 0;
}

/* checkPausedConditions */
static int check_paused(dc_ctx *c)
{
	if (!has_progress_deadline(c->d))
		return 0;
	const cJSON *cond = dc_get_condition(kc_json_get(c->d, "status"), "Progressing");
	const char *reason = cond ? kc_json_get_string(cond, "reason", "") : "";
	if (!strcmp(reason, "ProgressDeadlineExceeded"))
		return 0;
	bool paused = kc_json_get_bool(c->d, "spec.paused", false);
	bool paused_cond = !strcmp(reason, "DeploymentPaused");
	cJSON *st = status_copy(c);
	if (paused && !paused_cond)
		dc_set_condition(st, "Progressing", "Unknown", "DeploymentPaused",
				 "Deployment is paused", now_ns(c));
	else if (!paused && paused_cond)
		dc_set_condition(st, "Progressing", "Unknown", "DeploymentResumed",
				 "Deployment is resumed", now_ns(c));
	else {
		cJSON_Delete(st);
		return 0;
	}
	return update_deployment_status(c, st);
}

/* isScalingEvent */
static bool scaling_event(dc_ctx *c)
{
	cJSON *rs;
	cJSON_ArrayForEach(rs, c->rss)
	{
		if (cm_int(rs, "spec.replicas", 0) <= 0)
			continue;
		const char *a = kc_meta_annotation(rs, DC_DESIRED_REPLICAS_ANNOTATION);
		if (a && strtoll(a, NULL, 10) != dc_replicas(c->d))
			return true;
	}
	return false;
}

/* sync(): scale only, for paused deployments and scaling events */
static int sync_scale_only(dc_ctx *c)
{
	int rc = dc_sync_revision(c, false);
	if (rc == 0)
		rc = dc_scale(c);
	if (rc == 0 && kc_json_get_bool(c->d, "spec.paused", false))
		rc = dc_cleanup(c);
	if (rc == 0)
		rc = sync_status(c);
	return rc;
}

static int claim_rss(dc_ctx *c, const kc_label_selector *sel)
{
	cJSON *list = NULL;
	cm_claimable cl = { kc_meta_uid(c->d), sel };
	const char *uids[] = { kc_meta_uid(c->d), NULL };
	int rc = c->dc->lister->list_controlled(c->dc->lister, "replicasets",
						kc_meta_namespace(c->d), uids, true,
						cm_keep_claimable, &cl, &list);
	if (rc < 0)
		return rc;
	cm_owner owner = { c->d, D_API_VERSION, D_KIND };
	rc = cm_claim(c->dc->api, "replicasets", &owner, sel, list, &c->rss);
	cJSON_Delete(list);
	return rc;
}

int dc_sync(void *arg, const char *key)
{
	dc_controller *dc = arg;
	char ns[256], name[256];
	if (cm_split_key(key, ns, sizeof(ns), name, sizeof(name)) < 0) {
		kc_error("deployment: invalid key %s", key);
		return 0;
	}
	dc_ctx c = { .dc = dc, .key = key };
	int rc = dc->lister->get(dc->lister, "deployments", ns, name, &c.d);
	if (rc == KC_ENOTFOUND) {
		kc_log_v(4, "Deployment %s has been deleted", key);
		return 0;
	}
	if (rc < 0)
		return rc;
	kc_label_selector sel;
	char serr[KC_SELECTOR_ERRLEN];
	if (kc_selector_from_json(kc_json_get(c.d, "spec.selector"), &sel, serr, sizeof(serr)) <
	    0) {
		kc_error("deployment %s: invalid selector: %s", key, serr);
		cJSON_Delete(c.d);
		return 0;
	}
	if (kc_selector_empty(&sel)) {
		devent(&c, "Warning", "SelectingAll",
		       "This deployment is selecting all pods. A non-empty selector is required.");
		if (cm_int(c.d, "status.observedGeneration", 0) < kc_meta_generation(c.d)) {
			cJSON *st = status_copy(&c);
			kc_json_set_int64(st, "observedGeneration", kc_meta_generation(c.d));
			rc = update_deployment_status(&c, st);
		}
		goto out;
	}
	rc = claim_rss(&c, &sel);
	if (rc < 0)
		goto out;
	/* only Recreate looks at pods: those of this Deployment's ReplicaSets */
	if (!strcmp(kc_json_get_string(c.d, "spec.strategy.type", ""), "Recreate")) {
		int n = cJSON_GetArraySize(c.rss), i = 0;
		const char **uids = calloc((size_t)n + 1, sizeof(*uids));
		if (!uids) {
			rc = -ENOMEM;
			goto out;
		}
		const cJSON *rs;
		cJSON_ArrayForEach(rs, c.rss) uids[i++] = kc_meta_uid(rs);
		rc = dc->lister->list_controlled(dc->lister, "pods", ns, uids, false, NULL, NULL,
						 &c.pods);
		free(uids);
		if (rc < 0)
			goto out;
	}
	if (*kc_meta_deletion_timestamp(c.d)) {
		/* syncStatusOnly */
		rc = dc_sync_revision(&c, false);
		if (rc == 0)
			rc = sync_status(&c);
		goto out;
	}
	rc = check_paused(&c);
	if (rc < 0)
		goto out;
	if (kc_json_get_bool(c.d, "spec.paused", false)) {
		rc = sync_scale_only(&c);
		goto out;
	}
	rc = dc_sync_revision(&c, false);
	if (rc < 0)
		goto out;
	if (scaling_event(&c)) {
		rc = sync_scale_only(&c);
		goto out;
	}
	const char *type = kc_json_get_string(c.d, "spec.strategy.type", "RollingUpdate");
	if (!strcmp(type, "Recreate"))
		rc = dc_rollout_recreate(&c);
	else if (!strcmp(type, "RollingUpdate"))
		rc = dc_rollout_rolling(&c);
	else {
		kc_error("deployment %s: unexpected strategy type: %s", key, type);
		rc = 0;
	}
out:
	kc_selector_close(&sel);
	cJSON_Delete(c.d);
	cJSON_Delete(c.rss);
	cJSON_Delete(c.pods);
	return rc;
}

/* ---- handlers ---- */

void dc_on_deploy_add(const cJSON *obj, void *arg)
{
	cm_controller_enqueue_obj(((dc_controller *)arg)->ctrl, obj);
}

void dc_on_deploy_update(const cJSON *old_obj, const cJSON *new_obj, void *arg)
{
	(void)old_obj;
	cm_controller_enqueue_obj(((dc_controller *)arg)->ctrl, new_obj);
}

void dc_on_deploy_delete(const cJSON *obj, int final_state_unknown, void *arg)
{
	cm_controller_enqueue_obj(((dc_controller *)arg)->ctrl, obj);
}

typedef struct uid_match {
	const char *uid;
	bool ok;
} uid_match;

static int match_uid(const cJSON *obj, void *arg)
{
	uid_match *m = arg;
	m->ok = !strcmp(kc_meta_uid(obj), m->uid);
	return 0;
}

/* The Deployment an object's controllerRef names, if cached with that uid. */
static bool resolve_deployment(dc_controller *dc, const char *ns, const cJSON *ref, char *key,
			       size_t len)
{
	if (!ref || strcmp(kc_json_get_string(ref, "kind", ""), D_KIND))
		return false;
	const char *name = kc_json_get_string(ref, "name", "");
	/* borrowed, not copied: this runs for every ReplicaSet event */
	uid_match m = { kc_json_get_string(ref, "uid", ""), false };
	if (dc->lister->with(dc->lister, "deployments", ns, name, match_uid, &m) < 0)
		return false;
	bool ok = m.ok;
	if (ok)
		snprintf(key, len, "%s/%s", ns, name);
	return ok;
}

/* getDeploymentsForReplicaSet: orphans wake every Deployment that selects them */
static void enqueue_selecting(dc_controller *dc, const cJSON *rs)
{
	cJSON *ds = NULL;
	if (!dc->ctrl ||
	    dc->lister->list(dc->lister, "deployments", kc_meta_namespace(rs), &ds) < 0)
		return;
	const cJSON *d;
	cJSON_ArrayForEach(d, ds)
	{
		kc_label_selector sel;
		if (kc_selector_from_json(kc_json_get(d, "spec.selector"), &sel, NULL, 0) < 0)
			continue;
		if (!kc_selector_empty(&sel) && kc_selector_matches_object(&sel, rs))
			cm_controller_enqueue_obj(dc->ctrl, d);
		kc_selector_close(&sel);
	}
	cJSON_Delete(ds);
}

void dc_on_rs_add(const cJSON *rs, void *arg)
{
	dc_controller *dc = arg;
	char key[512];
	const cJSON *ref = kc_meta_controller_ref(rs);
	if (ref) {
		if (resolve_deployment(dc, kc_meta_namespace(rs), ref, key, sizeof(key)))
			cm_controller_enqueue(dc->ctrl, key);
		return;
	}
	enqueue_selecting(dc, rs);
}

void dc_on_rs_update(const cJSON *old_rs, const cJSON *new_rs, void *arg)
{
	dc_controller *dc = arg;
	if (!strcmp(kc_meta_resource_version(old_rs), kc_meta_resource_version(new_rs)))
		return;
	const cJSON *oref = kc_meta_controller_ref(old_rs);
	const cJSON *nref = kc_meta_controller_ref(new_rs);
	char key[512];
	if (!kc_json_equal(oref, nref) &&
	    resolve_deployment(dc, kc_meta_namespace(old_rs), oref, key, sizeof(key)))
		cm_controller_enqueue(dc->ctrl, key);
	if (nref) {
		if (resolve_deployment(dc, kc_meta_namespace(new_rs), nref, key, sizeof(key)))
			cm_controller_enqueue(dc->ctrl, key);
		return;
	}
	if (!kc_json_equal(kc_meta_labels(old_rs), kc_meta_labels(new_rs)) ||
	    !kc_json_equal(oref, nref))
		enqueue_selecting(dc, new_rs);
}

void dc_on_rs_delete(const cJSON *rs, int final_state_unknown, void *arg)
{
	dc_controller *dc = arg;
	char key[512];
	if (resolve_deployment(dc, kc_meta_namespace(rs), kc_meta_controller_ref(rs), key,
			       sizeof(key)))
		cm_controller_enqueue(dc->ctrl, key);
}

/* deletePod: a Recreate rollout waits for the last old pod to go */
void dc_on_pod_delete(const cJSON *pod, int final_state_unknown, void *arg)
{
	dc_controller *dc = arg;
	const cJSON *ref = cm_controller_ref_of_kind(pod, "ReplicaSet");
	if (!ref || !dc->ctrl)
		return;
	cJSON *rs = NULL;
	const char *ns = kc_meta_namespace(pod);
	if (dc->lister->get(dc->lister, "replicasets", ns, kc_json_get_string(ref, "name", ""),
			    &rs) < 0)
		return;
	char key[512];
	cJSON *d = NULL;
	if (resolve_deployment(dc, ns, kc_meta_controller_ref(rs), key, sizeof(key)) &&
	    dc->lister->get(dc->lister, "deployments", ns,
			    kc_json_get_string(kc_meta_controller_ref(rs), "name", ""), &d) == 0) {
		if (!strcmp(kc_json_get_string(d, "spec.strategy.type", ""), "Recreate"))
			cm_controller_enqueue(dc->ctrl, key);
		cJSON_Delete(d);
	}
	cJSON_Delete(rs);
}

int dc_controller_register(dc_controller *dc, cm_informers *f)
{
	kc_informer *di = cm_informers_get(f, "deployments");
	kc_informer *ri = cm_informers_get(f, "replicasets");
	kc_informer *pi = cm_informers_get(f, "pods");
	if (!di || !ri || !pi)
		return -ENOMEM;
	kc_informer_handlers h1 = { dc_on_deploy_add, dc_on_deploy_update, dc_on_deploy_delete,
				    dc };
	kc_informer_handlers h2 = { dc_on_rs_add, dc_on_rs_update, dc_on_rs_delete, dc };
	kc_informer_handlers h3 = { NULL, NULL, dc_on_pod_delete, dc };
	int rc = kc_informer_add_handlers(di, &h1);
	if (rc == 0)
		rc = kc_informer_add_handlers(ri, &h2);
	if (rc == 0)
		rc = kc_informer_add_handlers(pi, &h3);
	return rc;
}
