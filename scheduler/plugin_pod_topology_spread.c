/* PodTopologySpread, filter part (plugins/podtopologyspread/filtering.go): for each
 * whenUnsatisfiable=DoNotSchedule constraint, placing the pod on a node must keep
 *   (pods matching the selector in the node's domain) + (1 if the pod matches itself)
 *   - (the smallest count over all eligible domains, 0 if fewer than minDomains)
 * at most maxSkew. Only pods in the pod's namespace that are not terminating count.
 * Eligible nodes carry every constraint's topologyKey and pass the inclusion policies:
 * nodeAffinityPolicy Honor (default: the pod's nodeSelector / required node affinity)
 * and nodeTaintsPolicy Ignore (default; Honor: untolerated NoSchedule/NoExecute taints
 * exclude the node).
 * Reasons: "node(s) didn't match pod topology spread constraints" (Unschedulable) and
 * "... (missing required label)" (UnschedulableAndUnresolvable).
 *
 * Score (scoring.go) for whenUnsatisfiable=ScheduleAnyway constraints: a node scores
 * sum(matching pods in its domain * log(domains + 2) + maxSkew - 1), nodes missing a key
 * are ignored (score 0), and the normalised score is 100 * (max + min - s) / max, so the
 * emptiest domain wins. Upstream's system default constraints (derived from the pod's
 * Service / ReplicaSet selectors) are not applied yet. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "labels.h"
#include "framework.h"

#define REASON "node(s) didn't match pod topology spread constraints"

typedef struct domain {
	const char *value; /* borrowed from a node's labels */
	int64_t count;
} domain;

typedef struct constraint {
	const char *key;
	int64_t max_skew;
	int64_t min_domains;
	bool honor_affinity, honor_taints;
	bool self_match;
	kc_label_selector sel;
	domain *domains;
	int ndomains;
	int64_t min_match;
} constraint;

typedef struct pts_state {
	constraint *c;
	int n;
} pts_state;

static void close_state(pts_state *s)
{
	for (int i = 0; i < s->n; i++) {
		kc_selector_close(&s->c[i].sel);
		free(s->c[i].domains);
	}
	free(s->c);
}

static void free_state(void *arg)
{
	if (!arg)
		return;
	close_state(arg);
	free(arg);
}

static const char *label(const cJSON *labels, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(labels, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The incoming pod's node affinity / selector, checked by the NodeAffinity plugin
 * itself. Its state (the parsed selector and terms) is built once per pass over the
 * nodes, not once per node. */
typedef struct affinity_check {
	sched_profile one;
	sched_cycle sub;
	int ready; /* 0: not built yet; 1: built; -1: could not be built (no node passes) */
} affinity_check;

static bool node_passes_affinity(affinity_check *ac, sched_cycle *cy, const sched_node_info *ni)
{
	sched_status st;
	if (ac->ready == 0) {
		memset(&ac->one, 0, sizeof(ac->one));
		ac->one.filters[ac->one.nfilters++] = &sched_plugin_node_affinity;
		memset(&ac->sub, 0, sizeof(ac->sub));
		ac->sub.profile = &ac->one;
		ac->sub.pod = cy->pod;
		ac->ready = sched_cycle_prefilter(&ac->sub, &st) == 0 ? 1 : -1;
	}
	if (ac->ready < 0)
		return false;
	sched_run_filters(&ac->sub, ni, &st);
	return st.code == SCHED_SUCCESS;
}

static void affinity_check_close(affinity_check *ac)
{
	if (ac->ready != 0)
		sched_cycle_close(&ac->sub);
	ac->ready = 0;
}

static bool node_passes_taints(const sched_pod *pod, const sched_node_info *ni)
{
	const cJSON *t;
	cJSON_ArrayForEach(t, ni->taints)
	{
		const char *eff = kc_json_get_string(t, "effect", "");
		if ((!strcmp(eff, "NoSchedule") || !strcmp(eff, "NoExecute")) &&
		    !sched_tolerations_tolerate(pod->tolerations, t))
			return false;
	}
	return true;
}

static int add_domain(constraint *c, const char *value, int64_t n)
{
	for (int i = 0; i < c->ndomains; i++)
		if (!strcmp(c->domains[i].value, value)) {
			c->domains[i].count += n;
			return 0;
		}
	domain *nd = realloc(c->domains, (size_t)(c->ndomains + 1) * sizeof(*nd));
	if (!nd)
		return -ENOMEM;
	c->domains = nd;
	c->domains[c->ndomains].value = value;
	c->domains[c->ndomains++].count = n;
	return 0;
}

/* The pod's constraints with whenUnsatisfiable == when into s (s->c allocated here;
 * nothing when there are none). */
static int parse_constraints(const sched_pod *pod, const char *when, pts_state *s)
{
	const cJSON *list = kc_json_get(pod->obj, "spec.topologySpreadConstraints");
	int total = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, list)
		if (!strcmp(kc_json_get_string(it, "whenUnsatisfiable", ""), when))
			total++;
	if (total == 0)
		return 0;
	if (!(s->c = calloc((size_t)total, sizeof(constraint))))
		return -ENOMEM;
	char err[KC_SELECTOR_ERRLEN];
	cJSON_ArrayForEach(it, list)
	{
		if (strcmp(kc_json_get_string(it, "whenUnsatisfiable", ""), when) != 0)
			continue;
		constraint *c = &s->c[s->n++];
		kc_selector_init(&c->sel);
		c->key = kc_json_get_string(it, "topologyKey", "");
		c->max_skew = kc_json_get_int64(it, "maxSkew", 1);
		c->min_domains = kc_json_get_int64(it, "minDomains", 1);
		c->honor_affinity =
			strcmp(kc_json_get_string(it, "nodeAffinityPolicy", "Honor"), "Ignore") != 0;
		c->honor_taints =
			strcmp(kc_json_get_string(it, "nodeTaintsPolicy", "Ignore"), "Honor") == 0;
		if (kc_selector_from_json(kc_json_get(it, "labelSelector"), &c->sel, err,
					  sizeof(err)) != 0)
			kc_selector_init_nothing(&c->sel);
		c->self_match = kc_selector_matches_object(&c->sel, pod->obj);
	}
	return 0;
}

/* Count the pods matching each constraint per domain over the nodes that carry every
 * constraint's key (nodeLabelsMatchSpreadConstraints) and pass its inclusion policies.
 * new_domains: a node's domain is added if unknown (filtering); else only domains
 * already listed are counted (scoring: the feasible nodes' domains). */
static int count_pods(sched_cycle *cy, pts_state *s, bool new_domains)
{
	affinity_check ac;
	ac.ready = 0;
	int rc = 0;
	for (int k = 0; k < cy->nnodes && rc == 0; k++) {
		const sched_node_info *ni = cy->nodes[k];
		bool all = true;
		for (int i = 0; i < s->n && all; i++)
			all = label(ni->labels, s->c[i].key) != NULL;
		if (!all)
			continue;
		int affinity_ok = -1;
		for (int i = 0; i < s->n; i++) {
			constraint *c = &s->c[i];
			if (c->honor_affinity) {
				if (affinity_ok < 0)
					affinity_ok = node_passes_affinity(&ac, cy, ni);
				if (!affinity_ok)
					continue;
			}
			if (c->honor_taints && !node_passes_taints(cy->pod, ni))
				continue;
			int64_t n = 0;
			for (int p = 0; p < ni->npods; p++) {
				const sched_pod *ep = ni->pods[p];
				if (!ep->terminating && !strcmp(ep->ns, cy->pod->ns) &&
				    kc_selector_matches_object(&c->sel, ep->obj))
					n++;
			}
			const char *v = label(ni->labels, c->key);
			if (new_domains) {
				if (add_domain(c, v, n) != 0) {
					rc = -ENOMEM;
					break;
				}
				continue;
			}
			for (int d = 0; d < c->ndomains; d++)
				if (!strcmp(c->domains[d].value, v))
					c->domains[d].count += n;
		}
	}
	affinity_check_close(&ac);
	return rc;
}

static int pre_filter(sched_cycle *cy, void **state, sched_status *st)
{
	(void)st;
	pts_state *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	*state = s;
	int rc = parse_constraints(cy->pod, "DoNotSchedule", s);
	if (rc == 0 && s->n > 0)
		rc = count_pods(cy, s, true);
	if (rc != 0)
		return rc;
	for (int i = 0; i < s->n; i++) {
		constraint *c = &s->c[i];
		int64_t min = INT64_MAX;
		for (int d = 0; d < c->ndomains; d++)
			if (c->domains[d].count < min)
				min = c->domains[d].count;
		if (c->ndomains == 0 || c->ndomains < c->min_domains)
			min = 0;
		c->min_match = min;
	}
	return 0;
}

static void filter(sched_cycle *cy, void *state, const sched_node_info *ni, sched_status *st)
{
	(void)cy;
	pts_state *s = state;
	if (!s || s->n == 0)
		return;
	for (int i = 0; i < s->n; i++) {
		const char *v = label(ni->labels, s->c[i].key);
		if (!v) {
			sched_status_set(st, SCHED_UNSCHEDULABLE_UNRESOLVABLE,
					 REASON " (missing required label)");
			return;
		}
	}
	for (int i = 0; i < s->n; i++) {
		constraint *c = &s->c[i];
		const char *v = label(ni->labels, c->key);
		int64_t match = 0;
		for (int d = 0; d < c->ndomains; d++)
			if (!strcmp(c->domains[d].value, v))
				match = c->domains[d].count;
		int64_t skew = match + (c->self_match ? 1 : 0) - c->min_match;
		if (skew > c->max_skew) {
			sched_status_set(st, SCHED_UNSCHEDULABLE, REASON);
			return;
		}
	}
}

/* no DoNotSchedule constraint: filter passes every node */
static bool filter_skip(const sched_cycle *cy, void *state)
{
	(void)cy;
	const pts_state *s = state;
	return s && s->n == 0;
}

/* ---- score ---- */

typedef struct pts_score {
	pts_state base; /* constraints with domains counted over the eligible nodes */
	double *weights; /* log(domains + 2) per constraint */
} pts_score;

static void free_score(void *arg)
{
	pts_score *sc = arg;
	if (!sc)
		return;
	close_state(&sc->base);
	free(sc->weights);
	free(sc);
}

static int pre_score(sched_cycle *cy, sched_node_info **feasible, int nfeasible, void **state)
{
	pts_score *sc = calloc(1, sizeof(*sc));
	if (!sc)
		return -ENOMEM;
	*state = sc;
	int rc = parse_constraints(cy->pod, "ScheduleAnyway", &sc->base);
	if (rc != 0 || sc->base.n == 0)
		return rc;
	if (!(sc->weights = calloc((size_t)sc->base.n, sizeof(double))))
		return -ENOMEM;
	/* domains present among the feasible nodes give the normalising weight */
	for (int i = 0; i < sc->base.n; i++) {
		constraint *c = &sc->base.c[i];
		for (int k = 0; k < nfeasible; k++) {
			const char *v = label(feasible[k]->labels, c->key);
			if (v && add_domain(c, v, 0) != 0)
				return -ENOMEM;
		}
		sc->weights[i] = log((double)c->ndomains + 2);
	}
	return count_pods(cy, &sc->base, false);
}

#define IGNORED_NODE INT64_MIN

static int64_t score(sched_cycle *cy, void *state, const sched_node_info *ni)
{
	(void)cy;
	pts_score *sc = state;
	if (!sc || sc->base.n == 0)
		return 0;
	double total = 0;
	for (int i = 0; i < sc->base.n; i++) {
		constraint *c = &sc->base.c[i];
		const char *v = label(ni->labels, c->key);
		if (!v)
			return IGNORED_NODE; /* scored 0 after normalisation */
		int64_t cnt = 0;
		for (int d = 0; d < c->ndomains; d++)
			if (!strcmp(c->domains[d].value, v))
				cnt = c->domains[d].count;
		total += (double)cnt * sc->weights[i] + (double)(c->max_skew - 1);
	}
	return (int64_t)llround(total);
}

static void normalize(sched_cycle *cy, void *state, int64_t *scores, int n)
{
	(void)cy;
	pts_score *sc = state;
	if (!sc || sc->base.n == 0)
		return;
	int64_t min = INT64_MAX, max = 0;
	for (int i = 0; i < n; i++) {
		if (scores[i] == IGNORED_NODE)
			continue;
		if (scores[i] < min)
			min = scores[i];
		if (scores[i] > max)
			max = scores[i];
	}
	for (int i = 0; i < n; i++) {
		if (scores[i] == IGNORED_NODE)
			scores[i] = 0;
		else if (max == 0)
			scores[i] = SCHED_MAX_NODE_SCORE;
		else
			scores[i] = SCHED_MAX_NODE_SCORE * (max + min - scores[i]) / max;
	}
}

/* no ScheduleAnyway constraint: every node scores 0 (upstream PreScore: Skip) */
static bool score_uniform(sched_cycle *cy, void *state, sched_node_info **nodes, int n)
{
	(void)cy;
	(void)nodes;
	(void)n;
	const pts_score *sc = state;
	return !sc || sc->base.n == 0;
}

const sched_plugin sched_plugin_pod_topology_spread = {
	.name = "PodTopologySpread",
	.default_weight = 2,
	.pre_filter = pre_filter,
	.filter = filter,
	.filter_skip = filter_skip,
	.pre_score = pre_score,
	.score = score,
	.normalize = normalize,
	.score_uniform = score_uniform,
	.free_state = free_state,
	.free_score_state = free_score,
};
