/* The disruption controller (see disruption.h). */
#include "disruption.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deployment.h"
#include "errors.h"
#include "json.h"
#include "labels.h"
#include "log.h"
#include "meta.h"

int pdb_controller_init(pdb_controller *pc, cm_lister *lister, cm_api *api, kc_clock_t *clock)
{
	memset(pc, 0, sizeof(*pc));
	pc->lister = lister;
	pc->api = api;
	pc->clock = clock ? clock : kc_clock_real();
	return 0;
}

/* The PDB's selector; -EINVAL when absent or invalid (matches nothing). */
static int pdb_selector(const cJSON *pdb, kc_label_selector *sel)
{
	const cJSON *s = kc_json_get(pdb, "spec.selector");
	if (!cJSON_IsObject(s))
		return -EINVAL;
	return kc_selector_from_json(s, sel, NULL, 0);
}

static bool keep_selected(const cJSON *obj, void *arg)
{
	return kc_selector_matches_object(arg, obj);
}

/* One controller's scale, found once. */
typedef struct scale_entry {
	char uid[64];
	int64_t replicas;
} scale_entry;

/* The scale of the controller ref points at (finders: ReplicaSet -> its Deployment,
 * Deployment, StatefulSet). 1 with uid and n filled, 0 when not resolvable. */
static int find_scale(pdb_controller *pc, const char *ns, const cJSON *ref, char *uid,
		      size_t uidlen, int64_t *n)
{
	const char *kind = kc_json_get_string(ref, "kind", "");
	const char *name = kc_json_get_string(ref, "name", "");
	const char *ruid = kc_json_get_string(ref, "uid", "");
	const char *res = !strcmp(kind, "ReplicaSet")    ? "replicasets" :
			  !strcmp(kind, "Deployment")    ? "deployments" :
			  !strcmp(kind, "StatefulSet")   ? "statefulsets" :
							   NULL;
	if (!res)
		return 0;
	cJSON *obj = NULL;
	if (pc->lister->get(pc->lister, res, ns, name, &obj) < 0)
		return 0;
	if (strcmp(kc_meta_uid(obj), ruid)) {
		cJSON_Delete(obj);
		return 0;
	}
	int found = 1;
	if (!strcmp(kind, "ReplicaSet")) {
		/* getPodReplicaSet / getPodDeployment: a Deployment's RS counts its owner */
		const cJSON *dref = kc_meta_controller_ref(obj);
		if (dref && !strcmp(kc_json_get_string(dref, "kind", ""), "Deployment")) {
			found = find_scale(pc, ns, dref, uid, uidlen, n);
			cJSON_Delete(obj);
			return found;
		}
	}
	snprintf(uid, uidlen, "%s", kc_meta_uid(obj));
	*n = cm_int(obj, "spec.replicas", 1);
	cJSON_Delete(obj);
	return found;
}

/* getExpectedScale; -ENOENT (and *why) when some pod's controller is unknown. */
static int expected_scale(pdb_controller *pc, const char *ns, const cJSON *pods, int64_t *out,
			  const char **reason, char *why, size_t whylen)
{
	int np = cJSON_GetArraySize(pods);
	scale_entry *v = calloc((size_t)np + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	int nv = 0, rc = 0;
	const cJSON *p;
	cJSON_ArrayForEach(p, pods)
	{
		const cJSON *ref = kc_meta_controller_ref(p);
		if (!ref) {
			*reason = "NoControllerRef";
			snprintf(why, whylen, "found no controller ref for pod \"%s\"",
				 kc_meta_name(p));
			rc = -ENOENT;
			break;
		}
		char uid[64];
		int64_t n = 0;
		if (!find_scale(pc, ns, ref, uid, sizeof(uid), &n)) {
			*reason = "NoControllers";
			snprintf(why, whylen, "found no controllers for pod \"%s\"", kc_meta_name(p));
			rc = -ENOENT;
			break;
		}
		bool dup = false;
		for (int i = 0; i < nv && !dup; i++)
			dup = !strcmp(v[i].uid, uid);
		if (!dup) {
			snprintf(v[nv].uid, sizeof(v[nv].uid), "%s", uid);
			v[nv++].replicas = n;
		}
	}
	int64_t sum = 0;
	for (int i = 0; i < nv; i++)
		sum += v[i].replicas;
	free(v);
	*out = sum;
	return rc;
}

/* buildDisruptedPodMap: entries younger than the timeout (a new object). */
static cJSON *live_disrupted(pdb_controller *pc, const cJSON *pdb)
{
	cJSON *m = cJSON_CreateObject();
	int64_t now = kc_now_wall(pc->clock);
	const cJSON *e;
	cJSON_ArrayForEach(e, kc_json_get(pdb, "status.disruptedPods"))
	{
		int64_t t;
		if (!cJSON_IsString(e) || kc_meta_time_parse(e->valuestring, &t) < 0)
			continue;
		if (t + PDB_DELETION_TIMEOUT_NS < now)
			continue; /* upstream logs "Pod was expected to be deleted" and drops it */
		cJSON_AddStringToObject(m, e->string, e->valuestring);
	}
	return m;
}

static bool int_equal(const cJSON *obj, const char *path, int64_t want)
{
	const cJSON *v = kc_json_get(obj, path);
	int64_t n;
	return v && kc_json_item_int64(v, &n) == 0 && n == want;
}

int pdb_sync(void *arg, const char *key)
{
	pdb_controller *pc = arg;
	char ns[256], name[256];
	if (cm_split_key(key, ns, sizeof(ns), name, sizeof(name)) < 0)
		return 0;
	cJSON *pdb = NULL, *pods = NULL, *disrupted = NULL;
	int rc = pc->lister->get(pc->lister, "poddisruptionbudgets", ns, name, &pdb);
	if (rc == KC_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	kc_label_selector sel;
	if (pdb_selector(pdb, &sel) < 0) {
		kc_selector_init_nothing(&sel);
	}
	rc = pc->lister->list_filtered(pc->lister, "pods", ns, keep_selected, &sel, &pods);
	kc_selector_close(&sel);
	if (rc < 0)
		goto out;
	int npods = cJSON_GetArraySize(pods);
	if (npods == 0)
		pc->api->event(pc->api, pdb, "policy/v1", "PodDisruptionBudget", "Normal", "NoPods",
			       "No matching pods found");
	const cJSON *maxu = kc_json_get(pdb, "spec.maxUnavailable");
	const cJSON *mina = kc_json_get(pdb, "spec.minAvailable");
	if (cJSON_IsNull(maxu))
		maxu = NULL;
	if (cJSON_IsNull(mina))
		mina = NULL;
	int64_t expected = npods, desired = 0;
	bool need_scale = maxu || (mina && cJSON_IsString(mina));
	if (need_scale) {
		const char *reason = NULL;
		char why[512] = "";
		int e = expected_scale(pc, ns, pods, &expected, &reason, why, sizeof(why));
		if (e == -ENOMEM) {
			rc = e;
			goto out;
		}
		if (e < 0) {
			pc->api->event(pc->api, pdb, "policy/v1", "PodDisruptionBudget", "Warning",
				       reason, why);
			expected = npods;
		}
	}
	if (maxu) {
		int64_t mu;
		if (dc_scaled_value(maxu, NULL, expected, true, &mu) < 0) {
			rc = 0; /* invalid spec: validation should have refused it */
			goto out;
		}
		desired = expected - mu;
		if (desired < 0)
			desired = 0;
	} else if (mina) {
		if (dc_scaled_value(mina, NULL, expected, true, &desired) < 0) {
			rc = 0;
			goto out;
		}
		if (kc_json_is_number(mina))
			expected = npods;
	}
	disrupted = live_disrupted(pc, pdb);
	int64_t healthy = 0;
	const cJSON *p;
	cJSON_ArrayForEach(p, pods)
	{
		if (*kc_meta_deletion_timestamp(p) || !cm_pod_ready(p))
			continue;
		if (cJSON_GetObjectItemCaseSensitive(disrupted, kc_meta_name(p)))
			continue;
		healthy++;
	}
	int64_t allowed = healthy - desired;
	if (expected <= 0 || allowed <= 0)
		allowed = 0;
	int64_t gen = kc_meta_generation(pdb);
	const char *cstatus = allowed > 0 ? "True" : "False";
	const char *creason = allowed > 0 ? "SufficientPods" : "InsufficientPods";
	const cJSON *cond = cm_condition(pdb, "DisruptionAllowed");
	bool cond_same = cond && !strcmp(kc_json_get_string(cond, "status", ""), cstatus) &&
			 !strcmp(kc_json_get_string(cond, "reason", ""), creason);
	cJSON *old_dp = kc_json_dup(kc_json_get(pdb, "status.disruptedPods"));
	if (!old_dp)
		old_dp = cJSON_CreateObject();
	bool dp_same = kc_json_equal(old_dp, disrupted);
	cJSON_Delete(old_dp);
	if (cond_same && dp_same && int_equal(pdb, "status.currentHealthy", healthy) &&
	    int_equal(pdb, "status.desiredHealthy", desired) &&
	    int_equal(pdb, "status.disruptionsAllowed", allowed) &&
	    int_equal(pdb, "status.expectedPods", expected) &&
	    int_equal(pdb, "status.observedGeneration", gen)) {
		rc = 0;
		goto out;
	}
	kc_json_set_int64(pdb, "status.currentHealthy", healthy);
	kc_json_set_int64(pdb, "status.desiredHealthy", desired);
	kc_json_set_int64(pdb, "status.disruptionsAllowed", allowed);
	kc_json_set_int64(pdb, "status.expectedPods", expected);
	kc_json_set_int64(pdb, "status.observedGeneration", gen);
	kc_json_delete(pdb, "status.disruptedPods");
	if (cJSON_GetArraySize(disrupted)) {
		kc_json_set(pdb, "status.disruptedPods", disrupted);
		disrupted = NULL;
	}
	if (!cond_same) {
		/* apimeta.SetStatusCondition: the time moves only with the status */
		char ts[KC_TIME_BUFLEN];
		kc_meta_time_format(kc_now_wall(pc->clock), ts, sizeof(ts));
		cJSON *c = cm_condition(pdb, "DisruptionAllowed");
		if (!c) {
			cJSON *conds = kc_json_get(pdb, "status.conditions");
			if (!cJSON_IsArray(conds)) {
				conds = cJSON_CreateArray();
				kc_json_delete(pdb, "status.conditions");
				kc_json_set(pdb, "status.conditions", conds);
			}
			c = cJSON_CreateObject();
			cJSON_AddStringToObject(c, "type", "DisruptionAllowed");
			cJSON_AddItemToArray(conds, c);
		}
		if (strcmp(kc_json_get_string(c, "status", ""), cstatus))
			kc_json_set_string(c, "lastTransitionTime", ts);
		else if (!*kc_json_get_string(c, "lastTransitionTime", ""))
			kc_json_set_string(c, "lastTransitionTime", ts);
		kc_json_set_string(c, "status", cstatus);
		kc_json_set_string(c, "reason", creason);
		kc_json_set_string(c, "message", "");
		kc_json_set_int64(c, "observedGeneration", gen);
	} else {
		kc_json_set_int64(cm_condition(pdb, "DisruptionAllowed"), "observedGeneration", gen);
	}
	rc = pc->api->update(pc->api, "poddisruptionbudgets", ns, name, "status", pdb, NULL);
	if (rc == KC_ENOTFOUND)
		rc = 0;
	if (rc < 0)
		kc_log_v(2, "disruption: status of pdb %s: %s", key, kc_strerror(rc));
out:
	cJSON_Delete(pdb);
	cJSON_Delete(pods);
	cJSON_Delete(disrupted);
	return rc;
}

/* ---- handlers ---- */

static void on_pdb(const cJSON *obj, void *arg)
{
	cm_controller_enqueue_obj(((pdb_controller *)arg)->ctrl, obj);
}

static void on_pdb_update(const cJSON *old_obj, const cJSON *new_obj, void *arg)
{
	(void)old_obj;
	on_pdb(new_obj, arg);
}

static void on_pdb_delete(const cJSON *obj, int final_state_unknown, void *arg)
{
	(void)obj;
	(void)final_state_unknown;
	(void)arg; /* nothing to clean up: the status went with the object */
}

/* getPdbForPod: every PDB of the pod's namespace whose selector matches it (upstream
 * warns when more than one does and takes the first; all are kept current here) */
static void enqueue_pdbs(pdb_controller *pc, const cJSON *pod)
{
	cJSON *pdbs = NULL;
	if (!pc->ctrl || pc->lister->list(pc->lister, "poddisruptionbudgets",
					  kc_meta_namespace(pod), &pdbs) < 0)
		return;
	const cJSON *b;
	cJSON_ArrayForEach(b, pdbs)
	{
		kc_label_selector sel;
		if (pdb_selector(b, &sel) < 0)
			continue;
		if (kc_selector_matches_object(&sel, pod))
			cm_controller_enqueue_obj(pc->ctrl, b);
		kc_selector_close(&sel);
	}
	cJSON_Delete(pdbs);
}

static void on_pod(const cJSON *pod, void *arg)
{
	enqueue_pdbs(arg, pod);
}

static void on_pod_update(const cJSON *old_pod, const cJSON *new_pod, void *arg)
{
	enqueue_pdbs(arg, new_pod);
	if (!kc_json_equal(kc_meta_labels(old_pod), kc_meta_labels(new_pod)))
		enqueue_pdbs(arg, old_pod);
}

static void on_pod_delete(const cJSON *pod, int final_state_unknown, void *arg)
{
	(void)final_state_unknown;
	enqueue_pdbs(arg, pod);
}

/* A scale change of a controller changes expectedPods: sync every PDB of its namespace
 * (upstream resolves PDBs per pod; namespaces rarely hold many PDBs). */
static void on_scalable(const cJSON *obj, void *arg)
{
	pdb_controller *pc = arg;
	cJSON *pdbs = NULL;
	if (!pc->ctrl || pc->lister->list(pc->lister, "poddisruptionbudgets",
					  kc_meta_namespace(obj), &pdbs) < 0)
		return;
	const cJSON *b;
	cJSON_ArrayForEach(b, pdbs)
	{
		cm_controller_enqueue_obj(pc->ctrl, b);
	}
	cJSON_Delete(pdbs);
}

static void on_scalable_update(const cJSON *old_obj, const cJSON *new_obj, void *arg)
{
	if (cm_int(old_obj, "spec.replicas", 1) != cm_int(new_obj, "spec.replicas", 1))
		on_scalable(new_obj, arg);
}

int pdb_controller_register(pdb_controller *pc, cm_informers *f)
{
	kc_informer *bi = cm_informers_get(f, "poddisruptionbudgets");
	kc_informer *pi = cm_informers_get(f, "pods");
	const char *scalable[] = { "replicasets", "deployments", "statefulsets" };
	if (!bi || !pi)
		return -ENOMEM;
	kc_informer_handlers h1 = { on_pdb, on_pdb_update, on_pdb_delete, pc };
	kc_informer_handlers h2 = { on_pod, on_pod_update, on_pod_delete, pc };
	int rc = kc_informer_add_handlers(bi, &h1);
	if (rc == 0)
		rc = kc_informer_add_handlers(pi, &h2);
	for (int i = 0; i < 3 && rc == 0; i++) {
		kc_informer *si = cm_informers_get(f, scalable[i]);
		if (!si)
			return -ENOMEM;
		kc_informer_handlers h3 = { NULL, on_scalable_update, NULL, pc };
		rc = kc_informer_add_handlers(si, &h3);
	}
	return rc;
}
