/* PodDisruptionBudgets as DefaultPreemption reads them (upstream
 * default_preemption.go filterPodsWithPDBViolation); see framework.h. */
#include <errno.h>
#include <string.h>

#include "errors.h"
#include "framework.h"
#include "json.h"

int sched_pdb_init(sched_pdb *p, const cJSON *pdb)
{
	memset(p, 0, sizeof(*p));
	kc_selector_init(&p->sel);
	if (!*kc_json_get_string(pdb, "metadata.name", ""))
		return KC_EINVALID;
	p->obj = kc_json_dup(pdb);
	if (!p->obj)
		return -ENOMEM;
	p->name = kc_json_get_string(p->obj, "metadata.name", "");
	p->ns = kc_json_get_string(p->obj, "metadata.namespace", "");
	char err[256];
	kc_selector_close(&p->sel);
	/* a selector that does not parse counts as no PDB (upstream: continue) */
	p->sel_ok = kc_selector_from_json(kc_json_get(p->obj, "spec.selector"), &p->sel, err,
					  sizeof(err)) == 0;
	if (!p->sel_ok)
		kc_selector_init(&p->sel);
	p->disruptions_allowed = kc_json_get_int64(p->obj, "status.disruptionsAllowed", 0);
	p->disrupted_pods = kc_json_get(p->obj, "status.disruptedPods");
	return 0;
}

void sched_pdb_close(sched_pdb *p)
{
	kc_selector_close(&p->sel);
	cJSON_Delete(p->obj);
	memset(p, 0, sizeof(*p));
}

bool sched_pdb_counts(const sched_pdb *p, const sched_pod *pod)
{
	const cJSON *labels = kc_json_get(pod->obj, "metadata.labels");
	/* upstream: pods without labels match no PDB; an empty selector selects nothing */
	if (!p->sel_ok || cJSON_GetArraySize(labels) == 0 || strcmp(p->ns, pod->ns) != 0)
		return false;
	if (kc_selector_empty(&p->sel) || !kc_selector_matches(&p->sel, labels))
		return false;
	return !(cJSON_IsObject(p->disrupted_pods) &&
		 cJSON_GetObjectItemCaseSensitive(p->disrupted_pods, pod->name));
}
