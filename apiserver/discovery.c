#include "discovery.h"

#include <stdio.h>
#include <string.h>

#include "resource.h"

/* Upstream's version.Info for the release kubectl's dispatcher maps to its own 1.32. */
cJSON *disc_version(void)
{
	cJSON *v = cJSON_CreateObject();
	cJSON_AddStringToObject(v, "major", "1");
	cJSON_AddStringToObject(v, "minor", "32");
	cJSON_AddStringToObject(v, "gitVersion", "v1.32.4");
	cJSON_AddStringToObject(v, "gitCommit", "0000000000000000000000000000000000000000");
	cJSON_AddStringToObject(v, "gitTreeState", "clean");
	cJSON_AddStringToObject(v, "buildDate", "2025-04-22T16:03:51Z");
	cJSON_AddStringToObject(v, "goVersion", "go1.23.6");
	cJSON_AddStringToObject(v, "compiler", "gc");
	cJSON_AddStringToObject(v, "platform", "linux/amd64");
	return v;
}

cJSON *disc_api_versions(const char *server_addr)
{
	cJSON *v = cJSON_CreateObject();
	cJSON_AddStringToObject(v, "kind", "APIVersions");
	cJSON *vs = cJSON_AddArrayToObject(v, "versions");
	cJSON_AddItemToArray(vs, cJSON_CreateString("v1"));
	cJSON *a = cJSON_AddArrayToObject(v, "serverAddressByClientCIDRs");
	cJSON *e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "clientCIDR", "0.0.0.0/0");
	cJSON_AddStringToObject(e, "serverAddress", server_addr);
	cJSON_AddItemToArray(a, e);
	return v;
}

int disc_groups(const char *out[], int max)
{
	int n = 0;
	for (int i = 0; res_all[i]; i++) {
		const char *g = res_all[i]->group;
		if (!g[0])
			continue;
		int seen = 0;
		for (int k = 0; k < n; k++)
			seen |= !strcmp(out[k], g);
		if (!seen && n < max)
			out[n++] = g;
	}
	return n;
}

static const char *group_version(const char *g)
{
	for (int i = 0; res_all[i]; i++)
		if (!strcmp(res_all[i]->group, g))
			return res_all[i]->version;
	return NULL;
}

int disc_group_versions(const char *g, const char *out[], int max)
{
	int n = 0;
	for (int i = 0; res_all[i]; i++) {
		if (strcmp(res_all[i]->group, g))
			continue;
		int seen = 0;
		for (int k = 0; k < n; k++)
			seen |= !strcmp(out[k], res_all[i]->version);
		if (!seen && n < max)
			out[n++] = res_all[i]->version;
	}
	return n;
}

static cJSON *group_obj(const char *g)
{
	char gv[128];
	const char *vers[8];
	int nv = disc_group_versions(g, vers, 8);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "name", g);
	cJSON *vs = cJSON_AddArrayToObject(o, "versions");
	for (int i = 0; i < nv; i++) {
		snprintf(gv, sizeof(gv), "%s/%s", g, vers[i]);
		cJSON *e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "groupVersion", gv);
		cJSON_AddStringToObject(e, "version", vers[i]);
		cJSON_AddItemToArray(vs, e);
	}
	snprintf(gv, sizeof(gv), "%s/%s", g, nv ? vers[0] : "");
	cJSON *p = cJSON_AddObjectToObject(o, "preferredVersion");
	cJSON_AddStringToObject(p, "groupVersion", gv);
	cJSON_AddStringToObject(p, "version", nv ? vers[0] : "");
	return o;
}

cJSON *disc_api_groups(void)
{
	const char *gs[32];
	int n = disc_groups(gs, 32);
	cJSON *l = cJSON_CreateObject();
	cJSON_AddStringToObject(l, "kind", "APIGroupList");
	cJSON_AddStringToObject(l, "apiVersion", "v1");
	cJSON *arr = cJSON_AddArrayToObject(l, "groups");
	for (int i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, group_obj(gs[i]));
	return l;
}

cJSON *disc_api_group(const char *group)
{
	if (!group_version(group) || !group[0])
		return NULL;
	cJSON *o = group_obj(group);
	cJSON_AddStringToObject(o, "kind", "APIGroup");
	cJSON_AddStringToObject(o, "apiVersion", "v1");
	return o;
}

static const char *const verbs_main[] = { "create", "delete", "deletecollection", "get",
					  "list", "patch", "update", "watch", NULL };
static const char *const verbs_sub[] = { "get", "patch", "update", NULL };
static const char *const verbs_create[] = { "create", NULL };

static cJSON *strs(const char *const *v, int max)
{
	cJSON *a = cJSON_CreateArray();
	for (int i = 0; i < max && v[i]; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
	return a;
}

typedef struct sub_info {
	const char *name, *group, *version, *kind;
	const char *const *verbs;
} sub_info;

static int subresources(const res_desc *d, sub_info *out)
{
	int n = 0;
	if (d->binding) {
		out[n++] = (sub_info){ "binding", "", "v1", "Binding", verbs_create };
		out[n++] = (sub_info){ "eviction", "policy", "v1", "Eviction", verbs_create };
	}
	if (d->scale)
		out[n++] = (sub_info){ "scale", "autoscaling", "v1", "Scale", verbs_sub };
	if (d == &res_serviceaccounts)
		out[n++] = (sub_info){ "token", "authentication.k8s.io", "v1", "TokenRequest",
				       verbs_create };
	if (d->has_status)
		out[n++] = (sub_info){ "status", d->group, d->version, d->kind, verbs_sub };
	return n;
}

cJSON *disc_resource_list(const char *group, const char *version)
{
	int any = 0;
	for (int i = 0; res_all[i]; i++)
		any |= !strcmp(res_all[i]->group, group) && !strcmp(res_all[i]->version, version);
	if (!any)
		return NULL;
	char gv[128];
	if (group[0])
		snprintf(gv, sizeof(gv), "%s/%s", group, version);
	else
		snprintf(gv, sizeof(gv), "%s", version);
	cJSON *l = cJSON_CreateObject();
	cJSON_AddStringToObject(l, "kind", "APIResourceList");
	cJSON_AddStringToObject(l, "apiVersion", "v1");
	cJSON_AddStringToObject(l, "groupVersion", gv);
	cJSON *arr = cJSON_AddArrayToObject(l, "resources");
	for (int i = 0; res_all[i]; i++) {
		const res_desc *d = res_all[i];
		if (strcmp(d->group, group) || strcmp(d->version, version))
			continue;
		cJSON *r = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "name", d->plural);
		cJSON_AddStringToObject(r, "singularName", d->singular);
		cJSON_AddBoolToObject(r, "namespaced", d->namespaced);
		cJSON_AddStringToObject(r, "kind", d->kind);
		cJSON_AddItemToObject(r, "verbs", strs(verbs_main, 16));
		if (d->short_names[0])
			cJSON_AddItemToObject(r, "shortNames", strs(d->short_names, 4));
		if (d->categories[0])
			cJSON_AddItemToObject(r, "categories", strs(d->categories, 2));
		cJSON_AddItemToArray(arr, r);
		sub_info subs[4];
		int ns = subresources(d, subs);
		for (int k = 0; k < ns; k++) {
			char name[128];
			snprintf(name, sizeof(name), "%s/%s", d->plural, subs[k].name);
			cJSON *s = cJSON_CreateObject();
			cJSON_AddStringToObject(s, "name", name);
			cJSON_AddStringToObject(s, "singularName", "");
			cJSON_AddBoolToObject(s, "namespaced", d->namespaced);
			if (strcmp(subs[k].group, d->group) || strcmp(subs[k].version, d->version)) {
				cJSON_AddStringToObject(s, "group", subs[k].group);
				cJSON_AddStringToObject(s, "version", subs[k].version);
			}
			cJSON_AddStringToObject(s, "kind", subs[k].kind);
			cJSON_AddItemToObject(s, "verbs", strs(subs[k].verbs, 8));
			cJSON_AddItemToArray(arr, s);
		}
	}
	return l;
}

int disc_wants_aggregated(const char *accept)
{
	if (!accept)
		return 0;
	const char *p = strstr(accept, "as=APIGroupDiscoveryList");
	if (!p)
		return 0;
	/* Only v2 is served: the clause must say v=v2 exactly (not v2beta1). */
	for (const char *v = strstr(accept, "v=v2"); v; v = strstr(v + 1, "v=v2"))
		if (v[4] == ';' || v[4] == ',' || v[4] == 0)
			return 1;
	return 0;
}

static cJSON *gvk(const char *g, const char *v, const char *k)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "group", g);
	cJSON_AddStringToObject(o, "version", v);
	cJSON_AddStringToObject(o, "kind", k);
	return o;
}

/* One version entry of an aggregated discovery group. */
static cJSON *agg_version(const char *group, const char *version)
{
	cJSON *ver = cJSON_CreateObject();
	cJSON_AddStringToObject(ver, "version", version);
	cJSON *rs = cJSON_AddArrayToObject(ver, "resources");
	for (int i = 0; res_all[i]; i++) {
		const res_desc *d = res_all[i];
		if (strcmp(d->group, group) || strcmp(d->version, version))
			continue;
		cJSON *r = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "resource", d->plural);
		cJSON_AddItemToObject(r, "responseKind", gvk(d->group, d->version, d->kind));
		cJSON_AddStringToObject(r, "scope", d->namespaced ? "Namespaced" : "Cluster");
		cJSON_AddStringToObject(r, "singularResource", d->singular);
		cJSON_AddItemToObject(r, "verbs", strs(verbs_main, 16));
		if (d->short_names[0])
			cJSON_AddItemToObject(r, "shortNames", strs(d->short_names, 4));
		if (d->categories[0])
			cJSON_AddItemToObject(r, "categories", strs(d->categories, 2));
		sub_info subs[4];
		int ns = subresources(d, subs);
		if (ns) {
			cJSON *sa = cJSON_AddArrayToObject(r, "subresources");
			for (int k = 0; k < ns; k++) {
				cJSON *s = cJSON_CreateObject();
				cJSON_AddStringToObject(s, "subresource", subs[k].name);
				cJSON_AddItemToObject(s, "responseKind",
						      gvk(subs[k].group, subs[k].version, subs[k].kind));
				cJSON_AddItemToObject(s, "verbs", strs(subs[k].verbs, 8));
				cJSON_AddItemToArray(sa, s);
			}
		}
		cJSON_AddItemToArray(rs, r);
	}
	cJSON_AddStringToObject(ver, "freshness", "Current");
	return ver;
}

static cJSON *agg_group(const char *group)
{
	cJSON *item = cJSON_CreateObject();
	cJSON *md = cJSON_AddObjectToObject(item, "metadata");
	cJSON_AddNullToObject(md, "creationTimestamp");
	if (group[0])
		cJSON_AddStringToObject(md, "name", group);
	cJSON *vs = cJSON_AddArrayToObject(item, "versions");
	const char *vers[8];
	int nv = disc_group_versions(group, vers, 8);
	for (int vi = 0; vi < nv; vi++)
		cJSON_AddItemToArray(vs, agg_version(group, vers[vi]));
	return item;
}

cJSON *disc_aggregated(int core)
{
	cJSON *l = cJSON_CreateObject();
	cJSON_AddStringToObject(l, "kind", "APIGroupDiscoveryList");
	cJSON_AddStringToObject(l, "apiVersion", "apidiscovery.k8s.io/v2");
	cJSON_AddObjectToObject(l, "metadata");
	cJSON *items = cJSON_AddArrayToObject(l, "items");
	if (core) {
		cJSON_AddItemToArray(items, agg_group(""));
	} else {
		const char *gs[32];
		int n = disc_groups(gs, 32);
		for (int i = 0; i < n; i++)
			cJSON_AddItemToArray(items, agg_group(gs[i]));
	}
	return l;
}
