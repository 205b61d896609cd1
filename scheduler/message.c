/* Explanations: upstream's FitError.Error() (framework/types.go); the preemption part
 * (preemption.c) is appended by the caller as post_filter_msg. */
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
