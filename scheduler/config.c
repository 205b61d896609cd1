/* KubeSchedulerConfiguration v1; see config.h. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "yaml.h"

void sched_config_default(sched_config *c)
{
	memset(c, 0, sizeof(*c));
	sched_profile_default(&c->profiles[0]);
	c->nprofiles = 1;
	/* upstream: leaderElection.leaderElect defaults to true */
	c->leader_elect = true;
	snprintf(c->lease_namespace, sizeof(c->lease_namespace), "kube-system");
	snprintf(c->lease_name, sizeof(c->lease_name), "kube-scheduler");
}

static int bad(char *err, size_t errlen, const char *field, const char *msg)
{
	snprintf(err, errlen, "%s: %s", field, msg);
	return KC_EINVALID;
}

static int plugin_set(sched_profile *p, const cJSON *set, const char *point, int pi,
		      char *err, size_t errlen)
{
	bool filter = !strcmp(point, "filter") || !strcmp(point, "preFilter") ||
		      !strcmp(point, "multiPoint");
	bool score = !strcmp(point, "score") || !strcmp(point, "preScore") ||
		     !strcmp(point, "multiPoint");
	if (!filter && !score)
		return 0; /* other extension points have nothing kubec implements */
	char field[256];
	const char *lists[2] = { "disabled", "enabled" };
	for (int l = 0; l < 2; l++) {
		const cJSON *arr = cJSON_GetObjectItemCaseSensitive(set, lists[l]);
		if (!arr || cJSON_IsNull(arr))
			continue;
		if (!cJSON_IsArray(arr)) {
			snprintf(field, sizeof(field), "profiles[%d].plugins.%s.%s", pi, point,
				 lists[l]);
			return bad(err, errlen, field, "must be a list");
		}
		int i = 0;
		const cJSON *it;
		cJSON_ArrayForEach(it, arr)
		{
			snprintf(field, sizeof(field), "profiles[%d].plugins.%s.%s[%d].name", pi,
				 point, lists[l], i++);
			const char *name = kc_json_get_string(it, "name", NULL);
			if (!name || !*name)
				return bad(err, errlen, field, "Required value");
			int64_t w = kc_json_get_int64(it, "weight", 0);
			if (w < 0 || w > 100)
				return bad(err, errlen, field, "weight must be within 0-100");
			const sched_plugin *pl = strcmp(name, "*") ? sched_plugin_lookup(name) : NULL;
			if (strcmp(name, "*") && !pl) {
				char msg[256];
				snprintf(msg, sizeof(msg), "plugin \"%s\" does not exist", name);
				return bad(err, errlen, field, msg);
			}
			if (l == 0) {
				if (filter && (!pl || pl->filter))
					sched_profile_disable(p, false, name);
				if (score && (!pl || pl->score))
					sched_profile_disable(p, true, name);
			} else {
				if (filter && pl->filter)
					sched_profile_enable(p, false, name, 0);
				if (score && pl->score)
					sched_profile_enable(p, true, name, (int)w);
			}
		}
	}
	return 0;
}

/* pluginConfig[].args of NodeResourcesFit: scoringStrategy (ValidateNodeResourcesFitArgs). */
static int parse_fit_args(sched_fit_args *a, const cJSON *args, const char *at, char *err,
			  size_t errlen)
{
	char field[256];
	const cJSON *ss = cJSON_GetObjectItemCaseSensitive(args, "scoringStrategy");
	if (!ss || cJSON_IsNull(ss))
		return 0;
	const char *type = kc_json_get_string(ss, "type", "LeastAllocated");
	if (!strcmp(type, "LeastAllocated"))
		a->strategy = SCHED_FIT_LEAST_ALLOCATED;
	else if (!strcmp(type, "MostAllocated"))
		a->strategy = SCHED_FIT_MOST_ALLOCATED;
	else if (!strcmp(type, "RequestedToCapacityRatio"))
		a->strategy = SCHED_FIT_REQUESTED_TO_CAPACITY_RATIO;
	else {
		char msg[256];
		snprintf(field, sizeof(field), "%s.scoringStrategy.type", at);
		snprintf(msg, sizeof(msg), "Unsupported value: \"%s\": supported values: "
					   "\"LeastAllocated\", \"MostAllocated\", "
					   "\"RequestedToCapacityRatio\"", type);
		return bad(err, errlen, field, msg);
	}
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(ss, "resources");
	if (cJSON_GetArraySize(res) > 0) {
		a->nresources = 0;
		const cJSON *r;
		cJSON_ArrayForEach(r, res)
		{
			snprintf(field, sizeof(field), "%s.scoringStrategy.resources[%d]", at,
				 a->nresources);
			const char *name = kc_json_get_string(r, "name", "");
			int64_t w = kc_json_get_int64(r, "weight", 1);
			if (!*name || strlen(name) >= SCHED_RES_NAME_MAX)
				return bad(err, errlen, field, "name: Required value");
			if (w < 1 || w > 100)
				return bad(err, errlen, field, "weight: Invalid value: must be in the "
							       "range [1, 100]");
			if (a->nresources >= SCHED_FIT_MAX_RESOURCES)
				return bad(err, errlen, field, "too many resources");
			snprintf(a->resources[a->nresources].name, SCHED_RES_NAME_MAX, "%s", name);
			a->resources[a->nresources++].weight = w;
		}
	}
	if (a->strategy == SCHED_FIT_REQUESTED_TO_CAPACITY_RATIO) {
		const cJSON *shape = kc_json_get(ss, "requestedToCapacityRatio.shape");
		snprintf(field, sizeof(field), "%s.scoringStrategy.requestedToCapacityRatio.shape",
			 at);
		int n = cJSON_GetArraySize(shape);
		if (n == 0)
			return bad(err, errlen, field, "Required value: at least one point must be "
						       "specified");
		if (n > SCHED_FIT_MAX_SHAPE)
			return bad(err, errlen, field, "too many points");
		a->nshape = 0;
		const cJSON *pt;
		cJSON_ArrayForEach(pt, shape)
		{
			int64_t u = kc_json_get_int64(pt, "utilization", -1);
			int64_t sc = kc_json_get_int64(pt, "score", -1);
			if (u < 0 || u > 100)
				return bad(err, errlen, field, "utilization: Invalid value: not in "
							       "valid range [0, 100]");
			if (sc < 0 || sc > 10)
				return bad(err, errlen, field, "score: Invalid value: not in valid "
							       "range [0, 10]");
			if (a->nshape > 0 && u <= a->shape[a->nshape - 1].utilization)
				return bad(err, errlen, field, "utilization: Invalid value: values "
							       "must be sorted in increasing order");
			a->shape[a->nshape].utilization = u;
			a->shape[a->nshape++].score = sc;
		}
	}
	return 0;
}

static int parse_profile(sched_profile *p, const cJSON *j, int pi, int global_pct, char *err,
			 size_t errlen)
{
	char field[128];
	sched_profile_default(p);
	p->percentage_of_nodes_to_score = global_pct;
	const char *name = kc_json_get_string(j, "schedulerName", "default-scheduler");
	if (!*name || strlen(name) >= sizeof(p->scheduler_name)) {
		snprintf(field, sizeof(field), "profiles[%d].schedulerName", pi);
		return bad(err, errlen, field, "Required value");
	}
	snprintf(p->scheduler_name, sizeof(p->scheduler_name), "%s", name);
	const cJSON *pct = cJSON_GetObjectItemCaseSensitive(j, "percentageOfNodesToScore");
	if (pct && !cJSON_IsNull(pct)) {
		int64_t v;
		if (kc_json_item_int64(pct, &v) != 0 || v < 0 || v > 100) {
			snprintf(field, sizeof(field), "profiles[%d].percentageOfNodesToScore", pi);
			return bad(err, errlen, field, "not in valid range [0-100]");
		}
		p->percentage_of_nodes_to_score = (int)v;
	}
	const cJSON *plugins = cJSON_GetObjectItemCaseSensitive(j, "plugins");
	/* multiPoint first, then the specific points override it, as upstream */
	const char *points[] = { "multiPoint", "preFilter", "filter", "preScore", "score" };
	for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
		const cJSON *set = cJSON_GetObjectItemCaseSensitive(plugins, points[i]);
		if (!set || cJSON_IsNull(set))
			continue;
		int rc = plugin_set(p, set, points[i], pi, err, errlen);
		if (rc)
			return rc;
	}
	const cJSON *pc;
	int ci = 0;
	cJSON_ArrayForEach(pc, cJSON_GetObjectItemCaseSensitive(j, "pluginConfig"))
	{
		char at[96];
		snprintf(at, sizeof(at), "profiles[%d].pluginConfig[%d].args", pi, ci++);
		const char *pname = kc_json_get_string(pc, "name", "");
		if (!strcmp(pname, "NodeResourcesFit")) {
			int rc = parse_fit_args(&p->fit, kc_json_get(pc, "args"), at, err, errlen);
			if (rc)
				return rc;
		} else if (!sched_plugin_lookup(pname)) {
			char msg[256];
			snprintf(msg, sizeof(msg), "plugin \"%s\" does not exist", pname);
			snprintf(at, sizeof(at), "profiles[%d].pluginConfig[%d].name", pi, ci - 1);
			return bad(err, errlen, at, msg);
		}
		/* args of other known plugins have nothing kubec acts on yet */
	}
	return 0;
}

int sched_config_parse(sched_config *c, const char *text, size_t len, char *err, size_t errlen)
{
	cJSON *j = NULL;
	int rc = sched_yaml_to_json(text, len, &j, err, errlen);
	if (rc)
		return rc;
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return bad(err, errlen, "config", "must be a mapping");
	}
	const char *av = kc_json_get_string(j, "apiVersion", "");
	const char *kind = kc_json_get_string(j, "kind", "");
	if (strcmp(av, "kubescheduler.config.k8s.io/v1") != 0 ||
	    strcmp(kind, "KubeSchedulerConfiguration") != 0) {
		snprintf(err, errlen, "no kind \"%s\" is registered for version \"%s\"", kind, av);
		cJSON_Delete(j);
		return KC_EINVALID;
	}
	rc = 0;
	const cJSON *pct = cJSON_GetObjectItemCaseSensitive(j, "percentageOfNodesToScore");
	if (pct && !cJSON_IsNull(pct)) {
		int64_t v;
		if (kc_json_item_int64(pct, &v) != 0 || v < 0 || v > 100) {
			rc = bad(err, errlen, "percentageOfNodesToScore", "not in valid range [0-100]");
			goto out;
		}
		c->percentage_of_nodes_to_score = (int)v;
	}
	const cJSON *le = kc_json_get(j, "leaderElection");
	const cJSON *lv = cJSON_GetObjectItemCaseSensitive(le, "leaderElect");
	if (cJSON_IsBool(lv)) {
		c->leader_elect = cJSON_IsTrue(lv);
		c->leader_elect_set = true;
	}
	const char *rns = kc_json_get_string(le, "resourceNamespace", NULL);
	const char *rname = kc_json_get_string(le, "resourceName", NULL);
	if (rns && *rns)
		snprintf(c->lease_namespace, sizeof(c->lease_namespace), "%s", rns);
	if (rname && *rname)
		snprintf(c->lease_name, sizeof(c->lease_name), "%s", rname);
	const char *kc = kc_json_get_string(j, "clientConnection.kubeconfig", NULL);
	if (kc)
		snprintf(c->kubeconfig, sizeof(c->kubeconfig), "%s", kc);
	const cJSON *profiles = cJSON_GetObjectItemCaseSensitive(j, "profiles");
	if (profiles && !cJSON_IsNull(profiles)) {
		if (!cJSON_IsArray(profiles)) {
			rc = bad(err, errlen, "profiles", "must be a list");
			goto out;
		}
		int n = cJSON_GetArraySize(profiles);
		if (n > SCHED_MAX_PROFILES) {
			rc = bad(err, errlen, "profiles", "too many profiles");
			goto out;
		}
		if (n > 0) {
			c->nprofiles = 0;
			const cJSON *it;
			cJSON_ArrayForEach(it, profiles)
			{
				int pi = c->nprofiles;
				rc = parse_profile(&c->profiles[pi], it, pi,
						   c->percentage_of_nodes_to_score, err, errlen);
				if (rc)
					goto out;
				for (int k = 0; k < pi; k++)
					if (!strcmp(c->profiles[k].scheduler_name,
						    c->profiles[pi].scheduler_name)) {
						char field[64];
						snprintf(field, sizeof(field), "profiles[%d].schedulerName", pi);
						rc = bad(err, errlen, field, "Duplicate value");
						goto out;
					}
				c->nprofiles++;
			}
		}
	} else {
		c->profiles[0].percentage_of_nodes_to_score = c->percentage_of_nodes_to_score;
	}
out:
	cJSON_Delete(j);
	return rc;
}

int sched_config_load(sched_config *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
		return -errno;
	}
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len + 4096 > cap) {
			cap = cap ? cap * 2 : 8192;
			if (cap > (1u << 20)) {
				free(buf);
				fclose(f);
				snprintf(err, errlen, "%s: file too large", path);
				return KC_ETOOLARGE;
			}
			char *nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				return -ENOMEM;
			}
			buf = nb;
		}
		size_t r = fread(buf + len, 1, cap - len, f);
		len += r;
		if (r == 0)
			break;
	}
	fclose(f);
	int rc = sched_config_parse(c, buf ? buf : "", len, err, errlen);
	free(buf);
	return rc;
}
