/* DefaultPreemption (upstream pkg/scheduler/framework/preemption/preemption.go and
 * plugins/defaultpreemption/default_preemption.go) and the nominated-pods filter pass
 * (framework/runtime RunFilterPluginsWithNominatedPods). See framework.h.
 *
 * Known differences from upstream, on purpose or for now:
 *  - PodDisruptionBudgets come from the scheduler's PDB informer (status as last seen).
 *  - The PreFilter state (PodTopologySpread / InterPodAffinity counts) is the cycle's,
 *    computed over the whole cluster; upstream updates it with RemovePod/AddPod for each
 *    would-be victim and nominated pod. Resource, port, taint and affinity-to-node
 *    filters see the exact node (they read the node info).
 *  - Candidates are searched from node 0 rather than a random offset, stopping after
 *    upstream's count (max(100, 10 % of nodes)). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework.h"
#include "json.h"
#include "meta.h"

static bool keep_all(const sched_pod *p, void *arg)
{
	(void)p;
	(void)arg;
	return true;
}

/* upstream addNominatedPods: nominated pods of priority >= the pod's, not the pod. */
static bool nominated_applies(const sched_cycle *cy, const sched_nominated *n,
			      const sched_node_info *ni)
{
	return n->pod->priority >= cy->pod->priority && strcmp(n->node, ni->name) == 0 &&
	       strcmp(n->pod->key, cy->pod->key) != 0;
}

void sched_filter_node(sched_cycle *cy, const sched_node_info *ni, sched_status *st)
{
	int add = 0;
	for (int i = 0; i < cy->nnominated; i++)
		add += nominated_applies(cy, &cy->nominated[i], ni);
	if (add == 0) {
		sched_run_filters(cy, ni, st);
		return;
	}
	/* pass 1 with the nominated pods counted (they will run there), pass 2 without
	 * (affinity to them must not be relied on): the pod must pass both */
	sched_node_info *with = sched_node_info_filtered(ni, keep_all, NULL);
	if (!with) {
		sched_status_set(st, SCHED_ERROR, "out of memory");
		return;
	}
	for (int i = 0; i < cy->nnominated; i++)
		if (nominated_applies(cy, &cy->nominated[i], ni) &&
		    sched_node_info_add_pod(with, (sched_pod *)cy->nominated[i].pod) != 0) {
			sched_node_info_free(with);
			sched_status_set(st, SCHED_ERROR, "out of memory");
			return;
		}
	sched_run_filters(cy, with, st);
	sched_node_info_free(with);
	if (st->code == SCHED_SUCCESS)
		sched_run_filters(cy, ni, st);
}

/* upstream GetPodStartTime: status.startTime, or now for pods not started yet. */
static int64_t pod_start(const sched_pod *p, int64_t now_ns)
{
	const char *t = kc_json_get_string(p->obj, "status.startTime", "");
	int64_t ns;
	if (*t && kc_meta_time_parse(t, &ns) == 0)
		return ns;
	return now_ns;
}

typedef struct victim_sort {
	const sched_pod *pod;
	int64_t start;
} victim_sort;

/* upstream MoreImportantPod: higher priority first, then the one started earlier. */
static int cmp_more_important(const void *a, const void *b)
{
	const victim_sort *x = a, *y = b;
	if (x->pod->priority != y->pod->priority)
		return x->pod->priority > y->pod->priority ? -1 : 1;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return strcmp(x->pod->key, y->pod->key);
}

static bool not_lower_priority(const sched_pod *p, void *arg)
{
	return p->priority >= *(const int32_t *)arg;
}

typedef struct candidate {
	int node;
	int pdb_violations;
	int nvictims;
	const sched_pod **victims; /* highest priority first */
	int64_t highest, sum, start;
} candidate;

/* upstream SelectVictimsOnNode. Returns 1 with c filled (c->victims malloc'd), 0 when
 * the node cannot be made to fit (st says why), negative on error. */
static int select_victims_on_node(sched_cycle *cy, const sched_node_info *ni, int64_t now_ns,
				  candidate *c, sched_status *st)
{
	int32_t prio = cy->pod->priority;
	int nlower = 0;
	for (int p = 0; p < ni->npods; p++)
		nlower += ni->pods[p]->priority < prio;
	if (nlower == 0) {
		sched_status_set(st, SCHED_UNSCHEDULABLE_UNRESOLVABLE,
				 "No preemption victims found for incoming pod");
		return 0;
	}
	sched_node_info *without = sched_node_info_filtered(ni, not_lower_priority, &prio);
	victim_sort *pv = calloc((size_t)nlower, sizeof(*pv));
	const sched_pod **victims = calloc((size_t)nlower, sizeof(*victims));
	victim_sort *vs = calloc((size_t)nlower, sizeof(*vs));
	int64_t *allowed = NULL;
	bool *violating = NULL;
	int rc = -ENOMEM;
	if (!without || !pv || !victims || !vs)
		goto out;
	/* with every lower-priority pod gone, does the pod fit at all? */
	sched_filter_node(cy, without, st);
	if (st->code != SCHED_SUCCESS) {
		rc = st->code == SCHED_ERROR ? -ENOMEM : 0;
		goto out;
	}
	int n = 0;
	for (int p = 0; p < ni->npods; p++)
		if (ni->pods[p]->priority < prio) {
			pv[n].pod = ni->pods[p];
			pv[n++].start = pod_start(ni->pods[p], now_ns);
		}
	qsort(pv, (size_t)n, sizeof(*pv), cmp_more_important);
	/* filterPodsWithPDBViolation: walking the pods most important first, a pod whose
	 * PDB has no disruption left (counting the pods before it) is "violating" */
	if (cy->npdbs > 0) {
		allowed = calloc((size_t)cy->npdbs, sizeof(*allowed));
		violating = calloc((size_t)n, sizeof(*violating));
		if (!allowed || !violating)
			goto out;
		for (int j = 0; j < cy->npdbs; j++)
			allowed[j] = cy->pdbs[j].disruptions_allowed;
		for (int i = 0; i < n; i++)
			for (int j = 0; j < cy->npdbs; j++)
				if (sched_pdb_counts(&cy->pdbs[j], pv[i].pod) && --allowed[j] < 0)
					violating[i] = true;
	}
	/* reprieve as many as possible, violating ones first, then the others, each group
	 * most important first (upstream reprievePod) */
	int nv = 0, nviol = 0;
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < n; i++) {
			bool viol = violating && violating[i];
			if (viol != (pass == 0))
				continue;
			if (sched_node_info_add_pod(without, (sched_pod *)pv[i].pod) != 0)
				goto out;
			sched_status tst;
			sched_filter_node(cy, without, &tst);
			if (tst.code == SCHED_ERROR)
				goto out;
			if (tst.code != SCHED_SUCCESS) {
				sched_node_info_remove_pod(without, pv[i].pod->key);
				vs[nv++] = pv[i];
				nviol += viol;
			}
		}
	/* victims in order of importance, as upstream sorts them after reprieving */
	qsort(vs, (size_t)nv, sizeof(*vs), cmp_more_important);
	for (int i = 0; i < nv; i++)
		victims[i] = vs[i].pod;
	if (nv > SCHED_MAX_VICTIMS) {
		sched_status_set(st, SCHED_UNSCHEDULABLE_UNRESOLVABLE,
				 "Too many preemption victims on the node");
		rc = 0;
		goto out;
	}
	c->victims = victims;
	victims = NULL;
	c->nvictims = nv;
	c->pdb_violations = nviol;
	c->highest = nv ? c->victims[0]->priority : INT32_MIN;
	c->sum = 0;
	c->start = INT64_MAX;
	for (int i = 0; i < nv; i++) {
		/* upstream adds MaxInt32+1 per victim so that fewer victims win on ties of
		 * negative priorities */
		c->sum += (int64_t)c->victims[i]->priority + (int64_t)INT32_MAX + 1;
		if (c->victims[i]->priority == c->highest) {
			int64_t t = pod_start(c->victims[i], now_ns);
			if (t < c->start)
				c->start = t;
		}
	}
	rc = 1;
out:
	if (rc < 0)
		sched_status_set(st, SCHED_ERROR, "out of memory");
	sched_node_info_free(without);
	free(pv);
	free(vs);
	free(allowed);
	free(violating);
	free(victims);
	return rc;
}

/* upstream pickOneNodeForPreemption: true when a beats b. */
static bool better(const candidate *a, const candidate *b)
{
	if (a->pdb_violations != b->pdb_violations)
		return a->pdb_violations < b->pdb_violations;
	if (a->highest != b->highest)
		return a->highest < b->highest;
	if (a->sum != b->sum)
		return a->sum < b->sum;
	if (a->nvictims != b->nvictims)
		return a->nvictims < b->nvictims;
	return a->start > b->start;
}

/* upstream GetOffsetAndNumCandidates: 10 % of the nodes, at least 100. */
static int num_candidates(int n)
{
	int c = n / 10;
	if (c < 100)
		c = 100;
	return c > n ? n : c;
}

/* upstream PodEligibleToPreemptOthers. */
static bool eligible(sched_cycle *cy, const sched_status *statuses, char *buf, size_t len)
{
	const sched_pod *pod = cy->pod;
	if (strcmp(pod->preemption_policy, "Never") == 0) {
		snprintf(buf, len, "preemption: not eligible due to preemptionPolicy=Never.");
		return false;
	}
	const char *nom = kc_json_get_string(pod->obj, "status.nominatedNodeName", "");
	for (int i = 0; i < cy->nnominated; i++)
		if (strcmp(cy->nominated[i].pod->key, pod->key) == 0)
			nom = cy->nominated[i].node;
	if (!*nom)
		return true;
	for (int i = 0; i < cy->nnodes; i++) {
		const sched_node_info *ni = cy->nodes[i];
		if (strcmp(ni->name, nom) != 0)
			continue;
		/* the nominated node became unresolvable: preempt again elsewhere */
		if (statuses[i].code == SCHED_UNSCHEDULABLE_UNRESOLVABLE)
			return true;
		/* victims of an earlier preemption are still terminating: wait for them
		 * rather than evicting more (upstream checks the DisruptionTarget condition;
		 * kubec's victims are recognised by their deletionTimestamp) */
		for (int p = 0; p < ni->npods; p++)
			if (ni->pods[p]->priority < pod->priority && ni->pods[p]->terminating) {
				snprintf(buf, len, "preemption: not eligible due to a terminating "
						   "pod on the nominated node.");
				return false;
			}
	}
	return true;
}

int sched_preempt(sched_cycle *cy, const sched_status *statuses, int64_t now_ns,
		  sched_result *res, char *buf, size_t len)
{
	if (len)
		buf[0] = '\0';
	if (!eligible(cy, statuses, buf, len))
		return 0;
	sched_status *ps = calloc((size_t)cy->nnodes, sizeof(*ps));
	candidate *cands = calloc((size_t)cy->nnodes, sizeof(*cands));
	int ncands = 0, rc = -ENOMEM;
	if (!ps || !cands)
		goto out;
	int want = num_candidates(cy->nnodes);
	for (int i = 0; i < cy->nnodes && ncands < want; i++) {
		/* nodesWherePreemptionMightHelp: UnschedulableAndUnresolvable nodes (and, in
		 * a PreFilter rejection, every node) are skipped */
		if (statuses[i].code == SCHED_UNSCHEDULABLE_UNRESOLVABLE ||
		    statuses[i].code == SCHED_SUCCESS) {
			sched_status_set(&ps[i], SCHED_UNSCHEDULABLE_UNRESOLVABLE,
					 "Preemption is not helpful for scheduling");
			continue;
		}
		int r = select_victims_on_node(cy, cy->nodes[i], now_ns, &cands[ncands], &ps[i]);
		if (r < 0)
			goto out;
		if (r == 1)
			cands[ncands++].node = i;
	}
	if (ncands == 0) {
		char inner[3072];
		sched_fit_error_message(inner, sizeof(inner), cy->nnodes, ps, cy->nnodes, NULL,
					NULL);
		snprintf(buf, len, "preemption: %s", inner);
		rc = 0;
		goto out;
	}
	int best = 0;
	for (int i = 1; i < ncands; i++)
		if (better(&cands[i], &cands[best]))
			best = i;
	const candidate *c = &cands[best];
	snprintf(res->nominated_node, sizeof(res->nominated_node), "%s",
		 cy->nodes[c->node]->name);
	res->nvictims = c->nvictims;
	for (int i = 0; i < c->nvictims; i++)
		res->victims[i] = c->victims[i];
	rc = 1;
out:
	if (cands)
		for (int i = 0; i < ncands; i++)
			free(cands[i].victims);
	free(cands);
	free(ps);
	return rc;
}
