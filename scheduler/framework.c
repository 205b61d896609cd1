/* Filter, score and select: upstream schedule_one.go (schedulePod, findNodesThatFitPod,
 * prioritizeNodes, selectHost) and framework/runtime (RunFilterPlugins). */
#include "framework.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"

void sched_status_set(sched_status *st, sched_code code, const char *reason)
{
	st->code = code;
	st->nreasons = 0;
	if (reason)
		sched_status_add_reason(st, reason);
}

void sched_status_add_reason(sched_status *st, const char *reason)
{
	if (st->nreasons >= SCHED_MAX_REASONS)
		return;
	snprintf(st->reasons[st->nreasons++], SCHED_REASON_LEN, "%s", reason);
}

const sched_plugin *const sched_all_plugins[] = {
	&sched_plugin_node_unschedulable,
	&sched_plugin_node_name,
	&sched_plugin_taint_toleration,
	&sched_plugin_node_affinity,
	&sched_plugin_node_ports,
	&sched_plugin_node_resources_fit,
	&sched_plugin_pod_topology_spread,
	&sched_plugin_inter_pod_affinity,
	&sched_plugin_balanced_allocation,
	&sched_plugin_image_locality,
	NULL,
};

const sched_plugin *sched_plugin_lookup(const char *name)
{
	for (int i = 0; sched_all_plugins[i]; i++)
		if (strcmp(sched_all_plugins[i]->name, name) == 0)
			return sched_all_plugins[i];
	return NULL;
}

void sched_profile_default(sched_profile *p)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->scheduler_name, sizeof(p->scheduler_name), "default-scheduler");
	/* NodeResourcesFitArgs defaults: LeastAllocated over cpu and memory, weight 1 */
	p->fit.strategy = SCHED_FIT_LEAST_ALLOCATED;
	p->fit.nresources = 2;
	snprintf(p->fit.resources[0].name, sizeof(p->fit.resources[0].name), "cpu");
	snprintf(p->fit.resources[1].name, sizeof(p->fit.resources[1].name), "memory");
	p->fit.resources[0].weight = p->fit.resources[1].weight = 1;
	/* upstream getDefaultPlugins (apis/config/v1/default_plugins.go) order */
	for (int i = 0; sched_all_plugins[i]; i++) {
		const sched_plugin *pl = sched_all_plugins[i];
		if (pl->filter)
			p->filters[p->nfilters++] = pl;
		if (pl->score) {
			p->weights[p->nscores] = pl->default_weight;
			p->scores[p->nscores++] = pl;
		}
	}
}

int sched_profile_enable(sched_profile *p, bool score_point, const char *name, int weight)
{
	const sched_plugin *pl = sched_plugin_lookup(name);
	if (!pl)
		return -ENOENT;
	if (score_point) {
		if (!pl->score)
			return -EINVAL;
		for (int i = 0; i < p->nscores; i++)
			if (p->scores[i] == pl) {
				if (weight > 0)
					p->weights[i] = weight;
				return 0;
			}
		if (p->nscores >= SCHED_MAX_PLUGINS)
			return -ENOSPC;
		p->weights[p->nscores] = weight > 0 ? weight : pl->default_weight;
		p->scores[p->nscores++] = pl;
		return 0;
	}
	if (!pl->filter)
		return -EINVAL;
	for (int i = 0; i < p->nfilters; i++)
		if (p->filters[i] == pl)
			return 0;
	if (p->nfilters >= SCHED_MAX_PLUGINS)
		return -ENOSPC;
	p->filters[p->nfilters++] = pl;
	return 0;
}

int sched_profile_disable(sched_profile *p, bool score_point, const char *name)
{
	bool all = strcmp(name, "*") == 0;
	if (!all && !sched_plugin_lookup(name))
		return -ENOENT;
	if (score_point) {
		int j = 0;
		for (int i = 0; i < p->nscores; i++) {
			if (all || strcmp(p->scores[i]->name, name) == 0)
				continue;
			p->weights[j] = p->weights[i];
			p->scores[j++] = p->scores[i];
		}
		p->nscores = j;
	} else {
		int j = 0;
		for (int i = 0; i < p->nfilters; i++) {
			if (all || strcmp(p->filters[i]->name, name) == 0)
				continue;
			p->filters[j++] = p->filters[i];
		}
		p->nfilters = j;
	}
	return 0;
}

int sched_cycle_prefilter(sched_cycle *cy, sched_status *st)
{
	memset(st, 0, sizeof(*st));
	for (int i = 0; i < cy->profile->nfilters; i++) {
		const sched_plugin *pl = cy->profile->filters[i];
		cy->filter_skip[i] = false;
		if (pl->pre_filter) {
			int rc = pl->pre_filter(cy, &cy->filter_state[i], st);
			if (rc < 0)
				return rc;
			if (st->code != SCHED_SUCCESS && st->code != SCHED_SKIP) {
				st->plugin = pl->name;
				return 1;
			}
			st->code = SCHED_SUCCESS;
		}
		if (pl->filter_skip)
			cy->filter_skip[i] = pl->filter_skip(cy, cy->filter_state[i]);
	}
	return 0;
}

void sched_run_filters(sched_cycle *cy, const sched_node_info *ni, sched_status *st)
{
	st->code = SCHED_SUCCESS;
	st->nreasons = 0;
	st->plugin = NULL;
	for (int i = 0; i < cy->profile->nfilters; i++) {
		const sched_plugin *pl = cy->profile->filters[i];
		if (cy->filter_skip[i])
			continue;
		pl->filter(cy, cy->filter_state[i], ni, st);
		if (st->code != SCHED_SUCCESS) {
			st->plugin = pl->name;
			return;
		}
	}
}

void sched_cycle_close(sched_cycle *cy)
{
	for (int i = 0; i < cy->profile->nfilters; i++)
		if (cy->filter_state[i] && cy->profile->filters[i]->free_state)
			cy->profile->filters[i]->free_state(cy->filter_state[i]);
	for (int i = 0; i < cy->profile->nscores; i++) {
		const sched_plugin *pl = cy->profile->scores[i];
		void (*fr)(void *) = pl->free_score_state ? pl->free_score_state : pl->free_state;
		if (cy->score_state[i] && fr)
			fr(cy->score_state[i]);
	}
	memset(cy->filter_state, 0, sizeof(cy->filter_state));
	memset(cy->filter_skip, 0, sizeof(cy->filter_skip));
	memset(cy->score_state, 0, sizeof(cy->score_state));
}

/* upstream minFeasibleNodesToFind = 100, minFeasibleNodesPercentageToFind = 5 */
int sched_num_feasible_nodes_to_find(int percentage, int num_all_nodes)
{
	if (num_all_nodes < 100)
		return num_all_nodes;
	if (percentage <= 0) {
		percentage = 50 - num_all_nodes / 125;
		if (percentage < 5)
			percentage = 5;
	}
	if (percentage >= 100)
		return num_all_nodes;
	int n = (int)((int64_t)num_all_nodes * percentage / 100);
	return n < 100 ? 100 : n;
}

void sched_default_normalize(int64_t max_priority, bool reverse, int64_t *scores, int n)
{
	int64_t max = 0;
	for (int i = 0; i < n; i++)
		if (scores[i] > max)
			max = scores[i];
	if (max == 0) {
		if (reverse)
			for (int i = 0; i < n; i++)
				scores[i] = max_priority;
		return;
	}
	for (int i = 0; i < n; i++) {
		int64_t s = max_priority * scores[i] / max;
		scores[i] = reverse ? max_priority - s : s;
	}
}

static void collect_plugins(sched_result *res, const sched_status *st, int n);

/* *dst = *src, copying only the reasons in use (a status is ~1 KB of reason buffers). */
static void status_copy(sched_status *dst, const sched_status *src)
{
	dst->code = src->code;
	dst->plugin = src->plugin;
	dst->nreasons = src->nreasons;
	for (int r = 0; r < src->nreasons; r++)
		memcpy(dst->reasons[r], src->reasons[r], strlen(src->reasons[r]) + 1);
}

/* prioritizeNodes: every score plugin scores every feasible node, normalises to 0-100,
 * and the weighted sum is the node's score. */
static int prioritize(sched_cycle *cy, sched_node_info **feasible, int n, int64_t *total,
		      int64_t *scores)
{
	const sched_profile *prof = cy->profile;
	memset(total, 0, (size_t)n * sizeof(*total));
	for (int p = 0; p < prof->nscores; p++) {
		const sched_plugin *pl = prof->scores[p];
		if (pl->pre_score) {
			int rc = pl->pre_score(cy, feasible, n, &cy->score_state[p]);
			if (rc < 0)
				return rc;
		}
		if (pl->score_uniform && pl->score_uniform(cy, cy->score_state[p], feasible, n))
			continue;
		for (int i = 0; i < n; i++)
			scores[i] = pl->score(cy, cy->score_state[p], feasible[i]);
		if (pl->normalize)
			pl->normalize(cy, cy->score_state[p], scores, n);
		for (int i = 0; i < n; i++) {
			int64_t s = scores[i];
			if (s < 0)
				s = 0;
			if (s > SCHED_MAX_NODE_SCORE)
				s = SCHED_MAX_NODE_SCORE;
			total[i] += s * prof->weights[p];
		}
	}
	return 0;
}

/* selectHost: the highest score; ties broken uniformly at random. Upstream samples a
 * reservoir with one rand.Intn per tie; one draw over the count of ties is the same
 * distribution and costs one random number per cycle. */
static int select_host(kc_clock_t *clock, const int64_t *total, int n)
{
	int64_t max = total[0];
	int cnt = 0;
	for (int i = 0; i < n; i++) {
		if (total[i] > max) {
			max = total[i];
			cnt = 1;
		} else if (total[i] == max) {
			cnt++;
		}
	}
	int pick = cnt > 1 ? (int)(kc_rand64(clock) % (uint64_t)cnt) : 0;
	for (int i = 0; i < n; i++)
		if (total[i] == max && pick-- == 0)
			return i;
	return 0;
}

void sched_state_close(sched_state *s)
{
	free(s->statuses);
	free(s->feasible);
	free(s->total);
	free(s->scores);
	free(s->feasible_idx);
	s->statuses = NULL;
	s->feasible = NULL;
	s->total = NULL;
	s->scores = NULL;
	s->feasible_idx = NULL;
	s->cap = 0;
}

int sched_schedule_pod(sched_state *s, const sched_profile *prof, const sched_pod *pod,
		       sched_node_info **nodes, int nnodes, sched_result *res)
{
	memset(res, 0, sizeof(*res));
	res->node_index = -1;
	if (nnodes == 0) {
		/* upstream ErrNoNodesAvailable */
		snprintf(res->message, sizeof(res->message), "no nodes available to schedule pods");
		res->error = true;
		return 1;
	}
	sched_cycle cy;
	memset(&cy, 0, sizeof(cy));
	cy.profile = prof;
	cy.pod = pod;
	cy.nodes = nodes;
	cy.nnodes = nnodes;
	cy.total_nodes = nnodes;
	cy.nominated = s->nominated;
	cy.nnominated = s->nominated ? s->nnominated : 0;
	cy.pdbs = s->pdbs;
	cy.npdbs = s->pdbs ? s->npdbs : 0;
	cy.counts_known = s->counts_known;
	cy.affinity_pods = s->affinity_pods;
	cy.anti_pods = s->anti_pods;
	cy.nodes_with_images = s->nodes_with_images;

	if (s->cap < nnodes) {
		/* grown together: the cycle itself allocates nothing per node */
		sched_status *nb = realloc(s->statuses, (size_t)nnodes * sizeof(*nb));
		if (nb)
			s->statuses = nb;
		sched_node_info **nf = nb ? realloc(s->feasible, (size_t)nnodes * sizeof(*nf)) : NULL;
		if (nf)
			s->feasible = nf;
		int64_t *nt = nf ? realloc(s->total, (size_t)nnodes * sizeof(*nt)) : NULL;
		if (nt)
			s->total = nt;
		int64_t *ns = nt ? realloc(s->scores, (size_t)nnodes * sizeof(*ns)) : NULL;
		if (ns)
			s->scores = ns;
		int *ni = ns ? realloc(s->feasible_idx, (size_t)nnodes * sizeof(*ni)) : NULL;
		if (ni)
			s->feasible_idx = ni;
		if (!ni)
			return -ENOMEM;
		s->cap = nnodes;
	}
	sched_status *statuses = s->statuses;
	sched_node_info **feasible = s->feasible;
	int64_t *total = s->total;
	int *feasible_idx = s->feasible_idx;
	memset(total, 0, (size_t)nnodes * sizeof(*total));
	int rc;

	sched_status pst;
	rc = sched_cycle_prefilter(&cy, &pst);
	if (rc < 0)
		goto out;
	if (rc == 1) {
		/* A PreFilter rejection applies to every node (Diagnosis.PreFilterMsg). */
		char pre[1024] = "";
		for (int i = 0; i < pst.nreasons; i++) {
			size_t l = strlen(pre);
			snprintf(pre + l, sizeof(pre) - l, "%s%s", i ? ", " : "", pst.reasons[i]);
		}
		for (int i = 0; i < nnodes; i++)
			statuses[i] = pst;
		char post[2048] = "";
		rc = sched_preempt(&cy, statuses, kc_now_wall(s->clock), res, post, sizeof(post));
		if (rc < 0)
			goto out;
		sched_fit_error_message(res->message, sizeof(res->message), nnodes, statuses,
					nnodes, pre, post);
		res->evaluated_nodes = nnodes;
		collect_plugins(res, &pst, 1);
		rc = 1;
		goto out;
	}

	int want = sched_num_feasible_nodes_to_find(prof->percentage_of_nodes_to_score, nnodes);
	int nfeasible = 0, processed = 0;
	int start = s->next_start_node_index % nnodes;
	/* Each node is filtered into one status on the stack, copied into statuses[] only
	 * when the node fails: the per-node statuses are read only when no node fits
	 * (every node was then filtered and failed), and writing a cold status per node
	 * cost more than the filters themselves. */
	sched_status nst;
	for (int i = 0; i < nnodes && nfeasible < want; i++) {
		int idx = (start + i) % nnodes;
		sched_filter_node(&cy, nodes[idx], &nst);
		if (nst.code == SCHED_ERROR) {
			rc = -ENOMEM;
			goto out;
		}
		processed++;
		if (nst.code == SCHED_SUCCESS) {
			feasible_idx[nfeasible] = idx;
			feasible[nfeasible++] = nodes[idx];
		} else {
			status_copy(&statuses[idx], &nst);
		}
	}
	s->next_start_node_index = (start + processed) % nnodes;
	res->evaluated_nodes = processed;
	res->feasible_nodes = nfeasible;

	if (nfeasible == 0) {
		/* PostFilter: DefaultPreemption. When it nominates a node its status is
		 * Success with no message, so the FitError has no "preemption:" part. */
		char post[2048] = "";
		rc = sched_preempt(&cy, statuses, kc_now_wall(s->clock), res, post, sizeof(post));
		if (rc < 0)
			goto out;
		sched_fit_error_message(res->message, sizeof(res->message), nnodes, statuses,
					nnodes, NULL, post);
		collect_plugins(res, statuses, nnodes);
		rc = 1;
		goto out;
	}
	int chosen = 0;
	if (nfeasible > 1) {
		rc = prioritize(&cy, feasible, nfeasible, total, s->scores);
		if (rc < 0)
			goto out;
		chosen = select_host(s->clock, total, nfeasible);
	}
	res->node_index = feasible_idx[chosen];
	snprintf(res->node_name, sizeof(res->node_name), "%s", feasible[chosen]->name);
	rc = 0;
out:
	sched_cycle_close(&cy);
	return rc;
}

static void collect_plugins(sched_result *res, const sched_status *st, int n)
{
	for (int i = 0; i < n; i++) {
		const char *pl = st[i].plugin;
		if (st[i].code == SCHED_SUCCESS || !pl)
			continue;
		/* token match in the comma list */
		size_t l = strlen(pl);
		const char *h = res->plugins;
		bool seen = false;
		while ((h = strstr(h, pl)) != NULL) {
			if ((h == res->plugins || h[-1] == ',') && (h[l] == ',' || h[l] == '\0')) {
				seen = true;
				break;
			}
			h += l;
		}
		if (seen)
			continue;
		size_t off = strlen(res->plugins);
		snprintf(res->plugins + off, sizeof(res->plugins) - off, "%s%s", off ? "," : "", pl);
	}
}

/* ---- tolerations (v1 helper ToleratesTaint) ---- */

bool sched_toleration_tolerates(const cJSON *t, const cJSON *taint)
{
	const char *teff = kc_json_get_string(t, "effect", "");
	const char *tkey = kc_json_get_string(t, "key", "");
	const char *op = kc_json_get_string(t, "operator", "");
	if (*teff && strcmp(teff, kc_json_get_string(taint, "effect", "")) != 0)
		return false;
	if (*tkey && strcmp(tkey, kc_json_get_string(taint, "key", "")) != 0)
		return false;
	if (!*op || strcmp(op, "Equal") == 0)
		return strcmp(kc_json_get_string(t, "value", ""),
			      kc_json_get_string(taint, "value", "")) == 0;
	return strcmp(op, "Exists") == 0;
}

bool sched_tolerations_tolerate(const cJSON *tolerations, const cJSON *taint)
{
	const cJSON *t;
	cJSON_ArrayForEach(t, tolerations) if (sched_toleration_tolerates(t, taint)) return true;
	return false;
}
