/* NodeAffinity (plugins/nodeaffinity, component-helpers nodeaffinity).
 * Filter: spec.nodeSelector must match the node's labels, and one of the
 * requiredDuringSchedulingIgnoredDuringExecution nodeSelectorTerms must match (terms are
 * ORed; inside a term matchExpressions and matchFields are ANDed; an empty term matches
 * nothing; a term that does not parse matches nothing).
 * Score: sum of the weights of matching preferredDuringScheduling terms, normalised to
 * 0-100 (DefaultNormalizeScore). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "labels.h"
#include "framework.h"

typedef struct term {
	bool valid;
	bool has_labels, has_fields;
	kc_label_selector labels, fields;
	int64_t weight; /* preferred terms only */
} term;

typedef struct na_state {
	bool has_selector;
	kc_label_selector selector;
	bool has_required;
	term *required;
	int nrequired;
	term *preferred;
	int npreferred;
} na_state;

static void term_close(term *t)
{
	kc_selector_close(&t->labels);
	kc_selector_close(&t->fields);
}

static void term_parse(const cJSON *j, term *t)
{
	char err[KC_SELECTOR_ERRLEN];
	kc_selector_init(&t->labels);
	kc_selector_init(&t->fields);
	t->valid = true;
	const cJSON *me = kc_json_get(j, "matchExpressions");
	const cJSON *mf = kc_json_get(j, "matchFields");
	if (cJSON_GetArraySize(me) > 0) {
		t->has_labels = true;
		if (kc_selector_from_node_selector_requirements(me, &t->labels, err, sizeof(err)))
			t->valid = false;
	}
	if (cJSON_GetArraySize(mf) > 0) {
		t->has_fields = true;
		if (kc_selector_from_node_selector_requirements(mf, &t->fields, err, sizeof(err)))
			t->valid = false;
	}
	if (!t->has_labels && !t->has_fields)
		t->valid = false;
}

static bool term_match(const term *t, const sched_node_info *ni, const cJSON *fields)
{
	if (!t->valid)
		return false;
	if (t->has_labels && !kc_selector_matches(&t->labels, ni->labels))
		return false;
	if (t->has_fields && !kc_selector_matches(&t->fields, fields))
		return false;
	return true;
}

static void free_state(void *arg)
{
	na_state *s = arg;
	if (!s)
		return;
	kc_selector_close(&s->selector);
	for (int i = 0; i < s->nrequired; i++)
		term_close(&s->required[i]);
	for (int i = 0; i < s->npreferred; i++)
		term_close(&s->preferred[i]);
	free(s->required);
	free(s->preferred);
	free(s);
}

static int build_state(const sched_pod *pod, na_state **out)
{
	na_state *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	kc_selector_init(&s->selector);
	char err[KC_SELECTOR_ERRLEN];
	if (cJSON_IsObject(pod->node_selector) && pod->node_selector->child) {
		s->has_selector = true;
		if (kc_selector_from_set(pod->node_selector, &s->selector, err, sizeof(err)) != 0)
			kc_selector_init_nothing(&s->selector);
	}
	const cJSON *na = kc_json_get(pod->affinity, "nodeAffinity");
	const cJSON *req = kc_json_get(na, "requiredDuringSchedulingIgnoredDuringExecution");
	if (req && !cJSON_IsNull(req)) {
		s->has_required = true;
		const cJSON *terms = kc_json_get(req, "nodeSelectorTerms");
		int n = cJSON_GetArraySize(terms);
		s->required = calloc((size_t)(n ? n : 1), sizeof(term));
		if (!s->required)
			goto nomem;
		const cJSON *t;
		cJSON_ArrayForEach(t, terms) term_parse(t, &s->required[s->nrequired++]);
	}
	const cJSON *pref = kc_json_get(na, "preferredDuringSchedulingIgnoredDuringExecution");
	int np = cJSON_GetArraySize(pref);
	if (np > 0) {
		s->preferred = calloc((size_t)np, sizeof(term));
		if (!s->preferred)
			goto nomem;
		const cJSON *t;
		cJSON_ArrayForEach(t, pref)
		{
			term *pt = &s->preferred[s->npreferred++];
			term_parse(kc_json_get(t, "preference"), pt);
			pt->weight = kc_json_get_int64(t, "weight", 0);
		}
	}
	*out = s;
	return 0;
nomem:
	free_state(s);
	return -ENOMEM;
}

static cJSON *node_fields(const sched_node_info *ni)
{
	/* the only field a NodeSelectorTerm may name is metadata.name */
	cJSON *f = cJSON_CreateObject();
	if (f)
		cJSON_AddStringToObject(f, "metadata.name", ni->name);
	return f;
}

static int pre_filter(sched_cycle *cy, void **state, sched_status *st)
{
	(void)st;
	return build_state(cy->pod, (na_state **)state);
}

static void filter(sched_cycle *cy, void *state, const sched_node_info *ni, sched_status *st)
{
	(void)cy;
	na_state *s = state;
	bool ok = true;
	if (s->has_selector && !kc_selector_matches(&s->selector, ni->labels))
		ok = false;
	if (ok && s->has_required) {
		cJSON *fields = node_fields(ni);
		ok = false;
		for (int i = 0; i < s->nrequired && !ok; i++)
			ok = term_match(&s->required[i], ni, fields);
		cJSON_Delete(fields);
	}
	if (!ok)
		sched_status_set(st, SCHED_UNSCHEDULABLE_UNRESOLVABLE,
				 "node(s) didn't match Pod's node affinity/selector");
}

static int pre_score(sched_cycle *cy, sched_node_info **nodes, int n, void **state)
{
	(void)nodes;
	(void)n;
	return build_state(cy->pod, (na_state **)state);
}

static int64_t score(sched_cycle *cy, void *state, const sched_node_info *ni)
{
	(void)cy;
	na_state *s = state;
	if (!s || s->npreferred == 0)
		return 0;
	cJSON *fields = node_fields(ni);
	int64_t sum = 0;
	for (int i = 0; i < s->npreferred; i++)
		if (s->preferred[i].weight != 0 && term_match(&s->preferred[i], ni, fields))
			sum += s->preferred[i].weight;
	cJSON_Delete(fields);
	return sum;
}

static void normalize(sched_cycle *cy, void *state, int64_t *scores, int n)
{
	(void)cy;
	(void)state;
	sched_default_normalize(SCHED_MAX_NODE_SCORE, false, scores, n);
}

/* neither nodeSelector nor required node affinity: every node matches */
static bool filter_skip(const sched_cycle *cy, void *state)
{
	(void)cy;
	const na_state *s = state;
	return s && !s->has_selector && !s->has_required;
}

/* no preferred terms: every node scores 0 (upstream PreScore: Skip) */
static bool score_uniform(sched_cycle *cy, void *state, sched_node_info **nodes, int n)
{
	(void)cy;
	(void)nodes;
	(void)n;
	const na_state *s = state;
	return !s || s->npreferred == 0;
}

const sched_plugin sched_plugin_node_affinity = {
	.name = "NodeAffinity",
	.default_weight = 2,
	.pre_filter = pre_filter,
	.filter = filter,
	.filter_skip = filter_skip,
	.pre_score = pre_score,
	.score = score,
	.normalize = normalize,
	.score_uniform = score_uniform,
	.free_state = free_state,
};
