/* Pod spec -> runtime request facts; see pod_spec.h. */
#include "pod_spec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "quantity.h"

void pspec_env_close(pspec_env *e)
{
	for (size_t i = 0; i < e->n; i++) {
		free(e->names[i]);
		free(e->values[i]);
	}
	free(e->names);
	free(e->values);
	memset(e, 0, sizeof(*e));
}

int pspec_env_set(pspec_env *e, const char *name, const char *value)
{
	char *v = strdup(value ? value : "");
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < e->n; i++) {
		if (strcmp(e->names[i], name) == 0) {
			free(e->values[i]);
			e->values[i] = v;
			return 0;
		}
	}
	if (e->n == e->cap) {
		size_t nc = e->cap ? e->cap * 2 : 8;
		char **nn = realloc(e->names, nc * sizeof(*nn));
		if (!nn) {
			free(v);
			return -ENOMEM;
		}
		e->names = nn;
		char **nv = realloc(e->values, nc * sizeof(*nv));
		if (!nv) {
			free(v);
			return -ENOMEM;
		}
		e->values = nv;
		e->cap = nc;
	}
	e->names[e->n] = strdup(name);
	if (!e->names[e->n]) {
		free(v);
		return -ENOMEM;
	}
	e->values[e->n++] = v;
	return 0;
}

const char *pspec_env_get(const pspec_env *e, const char *name)
{
	if (!e)
		return NULL;
	for (size_t i = 0; i < e->n; i++)
		if (strcmp(e->names[i], name) == 0)
			return e->values[i];
	return NULL;
}

typedef struct sbuf {
	char *p;
	size_t n, cap;
	int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t nc = (b->n + n + 1) * 2;
		char *np = realloc(b->p, nc);
		if (!np) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
}

char *pspec_expand(const char *in, const pspec_env *env)
{
	sbuf b = { 0 };
	sb_add(&b, "", 0);
	for (const char *p = in ? in : ""; *p;) {
		if (p[0] != '$' || !p[1]) {
			sb_add(&b, p, 1);
			p++;
			continue;
		}
		if (p[1] == '$') { /* escaped: "$$" -> "$" */
			sb_add(&b, "$", 1);
			p += 2;
			continue;
		}
		if (p[1] == '(') {
			const char *close = strchr(p + 2, ')');
			if (close) {
				size_t nl = (size_t)(close - (p + 2));
				char name[256];
				if (nl > 0 && nl < sizeof(name)) {
					memcpy(name, p + 2, nl);
					name[nl] = 0;
					const char *v = pspec_env_get(env, name);
					if (v) {
						sb_add(&b, v, strlen(v));
						p = close + 1;
						continue;
					}
				}
				/* undefined (or empty) reference: kept as written */
				sb_add(&b, p, (size_t)(close + 1 - p));
				p = close + 1;
				continue;
			}
		}
		/* any other "$x": both kept */
		sb_add(&b, p, 2);
		p += 2;
	}
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* milli-units of resources.<kind>.<res>; -1 when absent, -2 when malformed */
static int64_t res_milli(const cJSON *c, const char *kind, const char *res)
{
	char path[64];
	snprintf(path, sizeof(path), "resources.%s.%s", kind, res);
	const cJSON *q = kc_json_get(c, path);
	if (!q)
		return -1;
	kc_quantity qq;
	char e[64];
	if (kc_quantity_from_json(q, &qq, e, sizeof(e)) < 0)
		return -2;
	return kc_quantity_milli_value(&qq);
}

/* the request, defaulting to the limit as the API's defaulting does */
static int64_t req_milli(const cJSON *c, const char *res)
{
	int64_t r = res_milli(c, "requests", res);
	return r == -1 ? res_milli(c, "limits", res) : r;
}

const char *pspec_qos_class(const cJSON *pod)
{
	int any = 0, guaranteed = 1;
	const char *res[] = { "cpu", "memory" };
	const char *lists[] = { "spec.containers", "spec.initContainers" };
	for (int l = 0; l < 2; l++) {
		const cJSON *c;
		cJSON_ArrayForEach(c, kc_json_get(pod, lists[l]))
		{
			for (int i = 0; i < 2; i++) {
				int64_t rq = req_milli(c, res[i]), lim = res_milli(c, "limits", res[i]);
				if (rq > 0 || lim > 0)
					any = 1;
				if (lim <= 0 || rq != lim)
					guaranteed = 0;
			}
		}
	}
	if (!any)
		return "BestEffort";
	return guaranteed ? "Guaranteed" : "Burstable";
}

int pspec_container_resources(const cJSON *container, pspec_resources *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	out->cpu_period = 100000;
	int64_t cpu_req = req_milli(container, "cpu"), cpu_lim = res_milli(container, "limits", "cpu");
	int64_t mem_lim = res_milli(container, "limits", "memory");
	if (cpu_req == -2 || cpu_lim == -2 || mem_lim == -2) {
		snprintf(err, errlen, "resources: a quantity does not parse");
		return -EINVAL;
	}
	/* milliCPUToShares: MinShares 2, SharesPerCPU 1024 */
	int64_t shares = cpu_req > 0 ? cpu_req * 1024 / 1000 : 2;
	out->cpu_shares = shares < 2 ? 2 : shares;
	/* milliCPUToQuota: MinQuotaPeriod 1000 */
	if (cpu_lim > 0) {
		int64_t q = cpu_lim * out->cpu_period / 1000;
		out->cpu_quota = q < 1000 ? 1000 : q;
	}
	if (mem_lim > 0)
		out->memory_limit = mem_lim / 1000;
	return 0;
}

int pspec_cgroup_parent(char *buf, size_t len, const char *root, const char *qos, const char *uid)
{
	char r[512];
	snprintf(r, sizeof(r), "%s", root ? root : "");
	size_t rl = strlen(r);
	while (rl > 0 && r[rl - 1] == '/')
		r[--rl] = 0;
	const char *tier = !strcmp(qos, "Burstable") ? "/burstable" : !strcmp(qos, "BestEffort") ? "/besteffort" : "";
	int n = snprintf(buf, len, "%s/kubepods%s/pod%s", r, tier, uid);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return n;
}

int64_t pspec_backoff_ns(int restarts)
{
	if (restarts <= 0)
		return 0;
	int64_t d = 10LL * 1000000000LL, max = 300LL * 1000000000LL;
	for (int i = 1; i < restarts && d < max; i++)
		d *= 2;
	return d > max ? max : d;
}

int pspec_should_restart(const char *restart_policy, int exit_code)
{
	if (!restart_policy || !restart_policy[0] || !strcmp(restart_policy, "Always"))
		return 1;
	if (!strcmp(restart_policy, "OnFailure"))
		return exit_code != 0;
	return 0;
}

int pspec_resolve_port(const cJSON *container, const cJSON *port)
{
	if (cJSON_IsNumber(port)) {
		int64_t p;
		if (kc_json_item_int64(port, &p) < 0 || p < 1 || p > 65535)
			return -EINVAL;
		return (int)p;
	}
	if (!cJSON_IsString(port))
		return -EINVAL;
	const char *s = port->valuestring;
	char *end;
	long v = strtol(s, &end, 10);
	if (*s && !*end)
		return v >= 1 && v <= 65535 ? (int)v : -EINVAL;
	const cJSON *p;
	cJSON_ArrayForEach(p, kc_json_get(container, "ports"))
	{
		if (!strcmp(kc_json_get_string(p, "name", ""), s)) {
			int64_t cp = kc_json_get_int64(p, "containerPort", 0);
			return cp >= 1 && cp <= 65535 ? (int)cp : -EINVAL;
		}
	}
	return -EINVAL;
}
