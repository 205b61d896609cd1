/* Priority admission; see admission_priority.h. */
#include "admission_priority.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "status.h"
#include "watchcache.h"

/* The globalDefault class with the highest value, as upstream's getDefaultPriorityClass;
 * *pc NULL when there is none. Listed from the watch cache. */
static int list_default(reg *r, cJSON **pc)
{
	*pc = NULL;
	cJSON *list = NULL;
	int code = reg_list_cached(r, &res_priorityclasses, NULL, &list);
	if (code != 200) {
		cJSON_Delete(list);
		return -1;
	}
	const cJSON *it, *best = NULL;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(list, "items"))
	{
		if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "globalDefault")))
			continue;
		if (!best || kc_json_get_int64(it, "value", 0) > kc_json_get_int64(best, "value", 0))
			best = it;
	}
	if (best)
		*pc = cJSON_Duplicate(best, 1);
	cJSON_Delete(list);
	return 0;
}

/* The last answer of list_default and the cache revision it held for: every pod without a
 * priorityClassName asks, and listing and parsing every class per pod was ~2 % of a pod
 * create. Reused only while the complete cache is at the same revision (wc_objs_rev waits
 * for this server's own writes, as the list does), so a class created, changed or deleted
 * is seen by the next pod exactly as before. */
static struct {
	pthread_mutex_t mu;
	const reg *r;
	int64_t rev; /* 0: nothing kept */
	cJSON *pc;   /* the default class at rev, NULL for none */
} dflt = { .mu = PTHREAD_MUTEX_INITIALIZER };

static int default_class(reg *r, cJSON **pc)
{
	*pc = NULL;
	int64_t rev = 0;
	if (!r->wc || wc_objs_rev(r->wc, &res_priorityclasses, &rev) || rev <= 0)
		return list_default(r, pc);
	pthread_mutex_lock(&dflt.mu);
	if (dflt.r == r && dflt.rev == rev) {
		*pc = dflt.pc ? cJSON_Duplicate(dflt.pc, 1) : NULL;
		int oom = dflt.pc && !*pc;
		pthread_mutex_unlock(&dflt.mu);
		return oom ? -1 : 0;
	}
	pthread_mutex_unlock(&dflt.mu);
	/* The list is at rev or later (the cache's revision only grows), so keeping it under
	 * rev can only cost a second list, never hand out an older answer. */
	if (list_default(r, pc))
		return -1;
	cJSON *keep = *pc ? cJSON_Duplicate(*pc, 1) : NULL;
	if (*pc && !keep)
		return 0;
	pthread_mutex_lock(&dflt.mu);
	cJSON_Delete(dflt.pc);
	dflt.r = r;
	dflt.rev = rev;
	dflt.pc = keep;
	pthread_mutex_unlock(&dflt.mu);
	return 0;
}

cJSON *adm_priority(reg *r, cJSON *pod)
{
	cJSON *spec = cJSON_GetObjectItemCaseSensitive(pod, "spec");
	if (!cJSON_IsObject(spec))
		return NULL;
	const char *pod_name = kc_json_get_string(pod, "metadata.name", "");
	const char *name = kc_json_get_string(spec, "priorityClassName", "");
	cJSON *pc = NULL;
	if (name[0]) {
		int code = reg_get_cached(r, &res_priorityclasses, NULL, name, &pc);
		if (code != 200) {
			cJSON_Delete(pc);
			cJSON *st = st_new(403, "Forbidden",
					   "pods \"%s\" is forbidden: no PriorityClass with name %s "
					   "was found", pod_name, name);
			st_details(st, pod_name, "", "pods");
			return st;
		}
	} else if (default_class(r, &pc)) {
		return st_internal("failed to get default priority class");
	}
	int64_t prio = pc ? kc_json_get_int64(pc, "value", 0) : 0;
	const char *policy = pc ? kc_json_get_string(pc, "preemptionPolicy", "PreemptLowerPriority")
				: "PreemptLowerPriority";
	cJSON *given = cJSON_GetObjectItemCaseSensitive(spec, "priority");
	if (cJSON_IsNumber(given) && (int64_t)given->valuedouble != prio) {
		cJSON *st = st_new(403, "Forbidden",
				   "pods \"%s\" is forbidden: the integer value of priority (%lld) "
				   "must not be provided in pod spec; priority admission controller "
				   "computed %lld from the given PriorityClass name",
				   pod_name, (long long)given->valuedouble, (long long)prio);
		st_details(st, pod_name, "", "pods");
		cJSON_Delete(pc);
		return st;
	}
	if (pc && !name[0]) {
		cJSON_DeleteItemFromObjectCaseSensitive(spec, "priorityClassName");
		cJSON_AddStringToObject(spec, "priorityClassName",
					kc_json_get_string(pc, "metadata.name", ""));
	}
	cJSON_DeleteItemFromObjectCaseSensitive(spec, "priority");
	cJSON_AddItemToObject(spec, "priority", kc_json_new_int64(prio));
	if (!cJSON_GetObjectItemCaseSensitive(spec, "preemptionPolicy"))
		cJSON_AddStringToObject(spec, "preemptionPolicy", policy);
	cJSON_Delete(pc);
	return NULL;
}
