/* InterPodAffinity, filter part (plugins/interpodaffinity/filtering.go):
 *  - required pod affinity: every term needs, in the node's topology domain (the value
 *    of the node's topologyKey label), a pod matching the term's namespaces and
 *    labelSelector; a node without the key fails. The first pod of a group is let
 *    through when no pod anywhere matches and the pod matches all its own terms.
 *    "node(s) didn't match pod affinity rules" (UnschedulableAndUnresolvable);
 *  - required pod anti-affinity: no matching pod in the node's domain of any term:
 *    "node(s) didn't match pod anti-affinity rules" (Unschedulable);
 *  - existing pods' required anti-affinity terms that match the incoming pod forbid
 *    their own domain: "node(s) didn't satisfy existing pods anti-affinity rules"
 *    (Unschedulable).
 * Term namespaces: the listed ones, else the pod's own namespace; an empty
 * namespaceSelector ({}) means all namespaces. A non-empty namespaceSelector needs the
 * Namespace objects' labels, which kubec's scheduler does not watch yet: such a term
 * matches only its listed namespaces.
 *
 * Score (scoring.go): for every existing pod, the incoming pod's preferred affinity terms
 * it matches add their weight to its node's topology domain (anti-affinity subtracts),
 * the existing pod's required affinity terms matching the incoming pod add
 * hardPodAffinityWeight (1), and its preferred (anti-)affinity terms matching the
 * incoming pod add (subtract) their weight; a node scores the sum over its domains,
 * normalised min..max to 0..100. Default weight 2. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "labels.h"
#include "framework.h"

typedef struct term {
	const char *key;    /* the topology key (a.topology_key) */
	const char *own_ns; /* namespace of the pod that carries the term */
	sched_affinity_term a;
} term;

typedef struct pair {
	const char *key, *value;
	int64_t count;
} pair;

typedef struct pairs {
	pair *p;
	int n;
} pairs;

typedef struct ipa_state {
	term *aff, *anti;
	int naff, nanti;
	pairs aff_counts, anti_counts, existing_anti;
} ipa_state;

static const char *label(const cJSON *labels, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(labels, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void term_init(term *t, const cJSON *j, const char *own_ns)
{
	sched_affinity_term_init(&t->a, j);
	t->key = t->a.topology_key;
	t->own_ns = own_ns;
}

static bool term_matches(const term *t, const sched_pod *p)
{
	return sched_affinity_term_matches(&t->a, t->own_ns, p);
}

static int pairs_addn(pairs *ps, const char *key, const char *value, int64_t n)
{
	for (int i = 0; i < ps->n; i++)
		if (!strcmp(ps->p[i].key, key) && !strcmp(ps->p[i].value, value)) {
			ps->p[i].count += n;
			return 0;
		}
	pair *np = realloc(ps->p, (size_t)(ps->n + 1) * sizeof(*np));
	if (!np)
		return -ENOMEM;
	ps->p = np;
	ps->p[ps->n].key = key;
	ps->p[ps->n].value = value;
	ps->p[ps->n++].count = n;
	return 0;
}

static int pairs_add(pairs *ps, const char *key, const char *value)
{
	return pairs_addn(ps, key, value, 1);
}

static int64_t pairs_get(const pairs *ps, const char *key, const char *value)
{
	for (int i = 0; i < ps->n; i++)
		if (!strcmp(ps->p[i].key, key) && !strcmp(ps->p[i].value, value))
			return ps->p[i].count;
	return 0;
}

static void free_terms(term *t, int n)
{
	for (int i = 0; i < n; i++)
		kc_selector_close(&t[i].a.sel);
	free(t);
}

static void free_state(void *arg)
{
	ipa_state *s = arg;
	if (!s)
		return;
	free_terms(s->aff, s->naff);
	free_terms(s->anti, s->nanti);
	free(s->aff_counts.p);
	free(s->anti_counts.p);
	free(s->existing_anti.p);
	free(s);
}

static const cJSON *required_terms(const sched_pod *p, const char *kind)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(p->affinity, kind);
	return cJSON_GetObjectItemCaseSensitive(a, "requiredDuringSchedulingIgnoredDuringExecution");
}

static int parse_terms(const sched_pod *p, const char *kind, term **out, int *n)
{
	const cJSON *list = required_terms(p, kind);
	int cnt = cJSON_GetArraySize(list);
	*out = NULL;
	*n = 0;
	if (cnt == 0)
		return 0;
	*out = calloc((size_t)cnt, sizeof(term));
	if (!*out)
		return -ENOMEM;
	const cJSON *j;
	cJSON_ArrayForEach(j, list) term_init(&(*out)[(*n)++], j, p->ns);
	return 0;
}

/* Existing pod ep's anti-affinity terms that match the incoming pod (parsed when ep was
 * cached, types.c, as upstream's PodInfo.RequiredAntiAffinityTerms). */
static int existing_anti(ipa_state *s, const sched_pod *incoming, const sched_pod *ep,
			 const sched_node_info *ni)
{
	for (int i = 0; i < ep->nanti_terms; i++) {
		const sched_affinity_term *t = &ep->anti_terms[i];
		/* the selector first: it rejects most pods, the node's label is then not
		 * looked up (both are pure, the order changes nothing else) */
		if (!sched_affinity_term_matches(t, ep->ns, incoming))
			continue;
		const char *v = label(ni->labels, t->topology_key);
		if (v && pairs_add(&s->existing_anti, t->topology_key, v) != 0)
			return -ENOMEM;
	}
	return 0;
}

static int pre_filter(sched_cycle *cy, void **state, sched_status *st)
{
	(void)st;
	ipa_state *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	*state = s;
	if (parse_terms(cy->pod, "podAffinity", &s->aff, &s->naff) ||
	    parse_terms(cy->pod, "podAntiAffinity", &s->anti, &s->nanti))
		return -ENOMEM;
	/* without terms of its own, only existing pods' anti-affinity matters: none in the
	 * whole cluster, nothing to look at (upstream walks only
	 * HavePodsWithRequiredAntiAffinityNodeInfoList then) */
	bool own_terms = s->naff > 0 || s->nanti > 0;
	int nnodes = !own_terms && cy->counts_known && cy->anti_pods == 0 ? 0 : cy->nnodes;
	for (int k = 0; k < nnodes; k++) {
		const sched_node_info *ni = cy->nodes[k];
		if (!own_terms && ni->nanti == 0)
			continue;
		for (int p = 0; p < ni->npods; p++) {
			const sched_pod *ep = ni->pods[p];
			if (!strcmp(ep->key, cy->pod->key))
				continue;
			if (ep->required_anti && existing_anti(s, cy->pod, ep, ni) != 0)
				return -ENOMEM;
			for (int i = 0; i < s->naff; i++) {
				if (!term_matches(&s->aff[i], ep))
					continue;
				const char *v = label(ni->labels, s->aff[i].key);
				if (v && pairs_add(&s->aff_counts, s->aff[i].key, v))
					return -ENOMEM;
			}
			for (int i = 0; i < s->nanti; i++) {
				if (!term_matches(&s->anti[i], ep))
					continue;
				const char *v = label(ni->labels, s->anti[i].key);
				if (v && pairs_add(&s->anti_counts, s->anti[i].key, v))
					return -ENOMEM;
			}
		}
	}
	return 0;
}

static bool satisfy_affinity(const ipa_state *s, const sched_pod *pod, const sched_node_info *ni)
{
	bool exist = true;
	for (int i = 0; i < s->naff; i++) {
		const char *v = label(ni->labels, s->aff[i].key);
		if (!v)
			return false; /* all topology labels must exist on the node */
		if (pairs_get(&s->aff_counts, s->aff[i].key, v) <= 0)
			exist = false;
	}
	if (exist)
		return true;
	if (s->aff_counts.n != 0)
		return false;
	for (int i = 0; i < s->naff; i++)
		if (!term_matches(&s->aff[i], pod))
			return false;
	return true;
}

static void filter(sched_cycle *cy, void *state, const sched_node_info *ni, sched_status *st)
{
	ipa_state *s = state;
	if (!s)
		return;
	if (!satisfy_affinity(s, cy->pod, ni)) {
		sched_status_set(st, SCHED_UNSCHEDULABLE_UNRESOLVABLE,
				 "node(s) didn't match pod affinity rules");
		return;
	}
	for (int i = 0; i < s->nanti; i++) {
		const char *v = label(ni->labels, s->anti[i].key);
		if (v && pairs_get(&s->anti_counts, s->anti[i].key, v) > 0) {
			sched_status_set(st, SCHED_UNSCHEDULABLE,
					 "node(s) didn't match pod anti-affinity rules");
			return;
		}
	}
	/* the pairs share a handful of topology keys (nearly always one): the node's value
	 * for a key is looked up once per run of equal keys, not once per pair */
	const char *key = NULL, *v = NULL;
	for (int i = 0; i < s->existing_anti.n; i++) {
		const char *k = s->existing_anti.p[i].key;
		if (!key || (k != key && strcmp(k, key) != 0)) {
			key = k;
			v = label(ni->labels, k);
		}
		if (v && !strcmp(v, s->existing_anti.p[i].value)) {
			sched_status_set(st, SCHED_UNSCHEDULABLE,
					 "node(s) didn't satisfy existing pods anti-affinity rules");
			return;
		}
	}
}

/* no required (anti-)affinity of its own and no existing pod's anti-affinity matched it
 * anywhere: filter looks only at this state, so it passes every node */
static bool filter_skip(const sched_cycle *cy, void *state)
{
	(void)cy;
	const ipa_state *s = state;
	return s && s->naff == 0 && s->nanti == 0 && s->existing_anti.n == 0;
}

/* ---- score ---- */

#define HARD_POD_AFFINITY_WEIGHT 1

typedef struct ipa_score {
	pairs topo; /* (topologyKey, value) -> summed weight */
} ipa_score;

static void free_score(void *arg)
{
	ipa_score *s = arg;
	if (!s)
		return;
	free(s->topo.p);
	free(s);
}

static const cJSON *preferred_terms(const sched_pod *p, const char *kind)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(p->affinity, kind);
	return cJSON_GetObjectItemCaseSensitive(a, "preferredDuringSchedulingIgnoredDuringExecution");
}

/* processTerm: if target matches the term (carried by owner), add weight * sign to the
 * domain of node. */
static int process_term(ipa_score *sc, const cJSON *tj, const char *owner_ns, int64_t weight,
			const sched_pod *target, const sched_node_info *ni)
{
	term t;
	term_init(&t, tj, owner_ns);
	int rc = 0;
	const char *v = label(ni->labels, t.key);
	if (weight != 0 && v && term_matches(&t, target))
		rc = pairs_addn(&sc->topo, t.key, v, weight);
	kc_selector_close(&t.a.sel);
	return rc;
}

static int process_weighted(ipa_score *sc, const cJSON *list, const char *owner_ns, int sign,
			    const sched_pod *target, const sched_node_info *ni)
{
	const cJSON *wt;
	cJSON_ArrayForEach(wt, list)
	{
		int64_t w = kc_json_get_int64(wt, "weight", 0) * sign;
		int rc = process_term(sc, kc_json_get(wt, "podAffinityTerm"), owner_ns, w, target, ni);
		if (rc)
			return rc;
	}
	return 0;
}

static int pre_score(sched_cycle *cy, sched_node_info **nodes, int n, void **state)
{
	(void)nodes;
	(void)n;
	ipa_score *sc = calloc(1, sizeof(*sc));
	if (!sc)
		return -ENOMEM;
	*state = sc;
	const sched_pod *pod = cy->pod;
	const cJSON *paff = preferred_terms(pod, "podAffinity");
	const cJSON *panti = preferred_terms(pod, "podAntiAffinity");
	bool own = cJSON_GetArraySize(paff) > 0 || cJSON_GetArraySize(panti) > 0;
	/* no preferred terms of its own and no pod with affinity anywhere: nothing to score
	 * (upstream walks only HavePodsWithAffinityNodeInfoList then) */
	int nnodes = !own && cy->counts_known && cy->affinity_pods == 0 ? 0 : cy->nnodes;
	for (int k = 0; k < nnodes; k++) {
		const sched_node_info *ni = cy->nodes[k];
		if (!ni->labels || !ni->labels->child || (!own && ni->naffinity == 0))
			continue;
		for (int p = 0; p < ni->npods; p++) {
			const sched_pod *ep = ni->pods[p];
			if (!own && !ep->pod_affinity)
				continue;
			int rc = process_weighted(sc, paff, pod->ns, 1, ep, ni);
			if (!rc)
				rc = process_weighted(sc, panti, pod->ns, -1, ep, ni);
			if (!rc && ep->pod_affinity) {
				const cJSON *t;
				cJSON_ArrayForEach(t, required_terms(ep, "podAffinity"))
				{
					rc = process_term(sc, t, ep->ns, HARD_POD_AFFINITY_WEIGHT, pod, ni);
					if (rc)
						break;
				}
				if (!rc)
					rc = process_weighted(sc, preferred_terms(ep, "podAffinity"), ep->ns,
							      1, pod, ni);
				if (!rc)
					rc = process_weighted(sc, preferred_terms(ep, "podAntiAffinity"),
							      ep->ns, -1, pod, ni);
			}
			if (rc)
				return rc;
		}
	}
	return 0;
}

static int64_t score(sched_cycle *cy, void *state, const sched_node_info *ni)
{
	(void)cy;
	ipa_score *sc = state;
	int64_t sum = 0;
	for (int i = 0; sc && i < sc->topo.n; i++) {
		const char *v = label(ni->labels, sc->topo.p[i].key);
		if (v && !strcmp(v, sc->topo.p[i].value))
			sum += sc->topo.p[i].count;
	}
	return sum;
}

/* NormalizeScore: min..max -> 0..100 (all equal -> 0). */
static void normalize(sched_cycle *cy, void *state, int64_t *scores, int n)
{
	(void)cy;
	(void)state;
	int64_t min = INT64_MAX, max = INT64_MIN;
	for (int i = 0; i < n; i++) {
		if (scores[i] > max)
			max = scores[i];
		if (scores[i] < min)
			min = scores[i];
	}
	for (int i = 0; i < n; i++)
		scores[i] = max > min ? (int64_t)((double)SCHED_MAX_NODE_SCORE *
						  ((double)(scores[i] - min) / (double)(max - min)))
				      : 0;
}

/* no topology pair got a weight: every node sums 0 and normalises to 0 (upstream
 * PreScore: Skip when there is nothing to score) */
static bool score_uniform(sched_cycle *cy, void *state, sched_node_info **nodes, int n)
{
	(void)cy;
	(void)nodes;
	(void)n;
	const ipa_score *sc = state;
	return !sc || sc->topo.n == 0;
}

const sched_plugin sched_plugin_inter_pod_affinity = {
	.name = "InterPodAffinity",
	.default_weight = 2,
	.pre_filter = pre_filter,
	.filter = filter,
	.filter_skip = filter_skip,
	.pre_score = pre_score,
	.score = score,
	.score_uniform = score_uniform,
	.normalize = normalize,
	.free_state = free_state,
	.free_score_state = free_score,
};
