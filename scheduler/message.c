/* Explanations: upstream's FitError.Error() (framework/types.go) and the message of the
 * DefaultPreemption PostFilter when no candidate exists (preemption.go findCandidates,
 * default_preemption.go SelectVictimsOnNode). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framework.h"

typedef struct reason_count {
	const char *reason;
	int count;
	char text[SCHED_REASON_LEN + 16];
} reason_count;

static int cmp_text(const void *a, const void *b)
{
	/* Go's sort.Strings: bytewise */
	return strcmp(((const reason_count *)a)->text, ((const reason_count *)b)->text);
}

static void appendf(char *buf, size_t len, size_t *off, const char *s)
{
	size_t l = strlen(s);
	if (*off < len) {
		size_t room = len - *off - 1;
		memcpy(buf + *off, s, l < room ? l : room);
		buf[*off + (l < room ? l : room)] = '\0';
	}
	*off += l;
}

size_t sched_fit_error_message(char *buf, size_t len, int num_all_nodes,
			       const sched_status *statuses, int nstatuses,
			       const char *pre_filter_msg, const char *post_filter_msg)
{
	char tmp[64];
	size_t off = 0;
	if (len)
		buf[0] = '\0';
	/* NoNodeAvailableMsg = "0/%v nodes are available" */
	snprintf(tmp, sizeof(tmp), "0/%d nodes are available:", num_all_nodes);
	appendf(buf, len, &off, tmp);
	if (pre_filter_msg && *pre_filter_msg) {
		appendf(buf, len, &off, " ");
		appendf(buf, len, &off, pre_filter_msg);
		appendf(buf, len, &off, ".");
	} else {
		/* histogram of every reason of every failing node */
		int cap = 0;
		for (int i = 0; i < nstatuses; i++)
			if (statuses[i].code != SCHED_SUCCESS)
				cap += statuses[i].nreasons;
		reason_count *rc = calloc((size_t)(cap ? cap : 1), sizeof(*rc));
		int n = 0;
		if (rc) {
			for (int i = 0; i < nstatuses; i++) {
				if (statuses[i].code == SCHED_SUCCESS)
					continue;
				for (int r = 0; r < statuses[i].nreasons; r++) {
					const char *reason = statuses[i].reasons[r];
					int j;
					for (j = 0; j < n; j++)
						if (strcmp(rc[j].reason, reason) == 0)
							break;
					if (j == n)
						rc[n++].reason = reason;
					rc[j].count++;
				}
			}
			for (int j = 0; j < n; j++)
				snprintf(rc[j].text, sizeof(rc[j].text), "%d %s", rc[j].count,
					 rc[j].reason);
			qsort(rc, (size_t)n, sizeof(*rc), cmp_text);
			for (int j = 0; j < n; j++) {
				appendf(buf, len, &off, j ? ", " : " ");
				appendf(buf, len, &off, rc[j].text);
			}
			if (n)
				appendf(buf, len, &off, ".");
			free(rc);
		}
	}
	if (post_filter_msg && *post_filter_msg) {
		appendf(buf, len, &off, " ");
		appendf(buf, len, &off, post_filter_msg);
		appendf(buf, len, &off, ".");
	}
	return off;
}

static bool not_lower_priority(const sched_pod *p, void *arg)
{
	return p->priority >= *(const int32_t *)arg;
}

int sched_preemption_dry_run(sched_cycle *cy, const sched_status *statuses, char *buf,
			     size_t len)
{
	const sched_pod *pod = cy->pod;
	if (len)
		buf[0] = '\0';
	/* PodEligibleToPreemptOthers */
	if (strcmp(pod->preemption_policy, "Never") == 0) {
		snprintf(buf, len, "preemption: not eligible due to preemptionPolicy=Never.");
		return 0;
	}
	sched_status *ps = calloc((size_t)cy->nnodes, sizeof(*ps));
	if (!ps)
		return -ENOMEM;
	int candidates = 0;
	for (int i = 0; i < cy->nnodes; i++) {
		const sched_node_info *ni = cy->nodes[i];
		if (statuses[i].code == SCHED_UNSCHEDULABLE_UNRESOLVABLE ||
		    statuses[i].code == SCHED_SUCCESS) {
			/* nodesWherePreemptionMightHelp skips these */
			sched_status_set(&ps[i], SCHED_UNSCHEDULABLE_UNRESOLVABLE,
					 "Preemption is not helpful for scheduling");
			continue;
		}
		bool any_lower = false;
		for (int p = 0; p < ni->npods && !any_lower; p++)
			any_lower = ni->pods[p]->priority < pod->priority;
		if (!any_lower) {
			sched_status_set(&ps[i], SCHED_UNSCHEDULABLE_UNRESOLVABLE,
					 "No preemption victims found for incoming pod");
			continue;
		}
		int32_t prio = pod->priority;
		sched_node_info *without = sched_node_info_filtered(ni, not_lower_priority, &prio);
		if (!without) {
			free(ps);
			return -ENOMEM;
		}
		sched_run_filters(cy, without, &ps[i]);
		sched_node_info_free(without);
		if (ps[i].code == SCHED_SUCCESS)
			candidates++;
	}
	int rc = 0;
	if (candidates > 0) {
		/* Upstream would now pick victims and evict them; kubec does not preempt yet,
		 * so it says so instead of pretending. */
		snprintf(buf, len,
			 "preemption: %d node(s) would fit after evicting lower-priority pods, "
			 "but preemption is not implemented",
			 candidates);
		rc = 1;
	} else {
		char inner[3072];
		sched_fit_error_message(inner, sizeof(inner), cy->nnodes, ps, cy->nnodes, NULL,
					NULL);
		snprintf(buf, len, "preemption: %s", inner);
	}
	free(ps);
	return rc;
}
