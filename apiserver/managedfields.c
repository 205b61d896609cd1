/* Server-side apply and managedFields (see managedfields.h). The schema knowledge
 * structured-merge-diff takes from the OpenAPI models (list-map keys, set lists, atomic
 * structs) is the small table below, mirroring the +listType/+listMapKey/+structType tags
 * of k8s.io/api for the built-in kinds. */
#include "managedfields.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "meta.h"
#include "status.h"

/* ---- schema table ---- */

/* List-map keys of a list field. Deliberately not patch_strategic.c's patchMergeKey table:
 * the +listMapKey tags SSA follows differ (container and Service ports include protocol,
 * topologySpreadConstraints are keyed by topologyKey+whenUnsatisfiable, tolerations and
 * hostAliases' neighbours are atomic). parent: the field holding the map the list is in ("" at
 * the top); for a list item this is the list's own field name. */
static int list_keys(const char *kind, const char *parent, const char *field,
		     const char **keys)
{
	if (!strcmp(field, "ports")) {
		if (!strcmp(parent, "containers") || !strcmp(parent, "initContainers") ||
		    !strcmp(parent, "ephemeralContainers")) {
			keys[0] = "containerPort"; /* Container.Ports: containerPort+protocol */
			keys[1] = "protocol";
			return 2;
		}
		if (!strcmp(kind, "Service") && !strcmp(parent, "spec")) {
			keys[0] = "port"; /* ServiceSpec.Ports: port+protocol */
			keys[1] = "protocol";
			return 2;
		}
		return 0;
	}
	if (!strcmp(field, "topologySpreadConstraints")) {
		keys[0] = "topologyKey";
		keys[1] = "whenUnsatisfiable";
		return 2;
	}
	static const struct {
		const char *field, *key;
	} one[] = {
		{ "containers", "name" },     { "initContainers", "name" },
		{ "ephemeralContainers", "name" }, { "volumes", "name" },
		{ "env", "name" },            { "imagePullSecrets", "name" },
		{ "resourceClaims", "name" }, { "volumeMounts", "mountPath" },
		{ "volumeDevices", "devicePath" }, { "conditions", "type" },
		{ "ownerReferences", "uid" }, { "hostAliases", "ip" },
		{ "schedulingGates", "name" }, { "secrets", "name" },
	};
	if (!strcmp(field, "addresses") && strcmp(kind, "Node"))
		return 0;
	if (!strcmp(field, "addresses")) {
		keys[0] = "type";
		return 1;
	}
	for (size_t i = 0; i < sizeof(one) / sizeof(one[0]); i++)
		if (!strcmp(one[i].field, field)) {
			keys[0] = one[i].key;
			return 1;
		}
	return 0;
}

/* metadata.finalizers is +listType=set. */
static int is_set_list(const char *parent, const char *field)
{
	return !strcmp(field, "finalizers") && !strcmp(parent, "metadata");
}

/* LabelSelector is +structType=atomic; Service/Pod selector maps are +mapType=atomic. */
static int is_atomic_map(const char *field)
{
	return !strcmp(field, "selector") || !strcmp(field, "nodeSelector");
}

/* Key value of a list item; a missing "protocol" key is its default, TCP. */
static const cJSON *key_value(const cJSON *item, const char *k)
{
	static cJSON tcp = { .type = cJSON_String, .valuestring = (char *)"TCP" };
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, k);
	if (!v && !strcmp(k, "protocol"))
		return &tcp;
	return v;
}

/* "k:{...}" for an item (keys sorted as upstream's PathElement serialisation); NULL when
 * the item lacks a key. */
static char *item_key(const cJSON *item, const char **keys, int nk)
{
	const char *sorted[4];
	for (int i = 0; i < nk; i++)
		sorted[i] = keys[i];
	if (nk == 2 && strcmp(sorted[0], sorted[1]) > 0) {
		sorted[0] = keys[1];
		sorted[1] = keys[0];
	}
	cJSON *o = cJSON_CreateObject();
	for (int i = 0; i < nk; i++) {
		const cJSON *v = key_value(item, sorted[i]);
		if (!v || cJSON_IsObject(v) || cJSON_IsArray(v) || cJSON_IsNull(v)) {
			cJSON_Delete(o);
			return NULL;
		}
		cJSON_AddItemToObject(o, sorted[i], cJSON_Duplicate(v, 1));
	}
	char *js = kc_json_print(o);
	cJSON_Delete(o);
	if (!js)
		return NULL;
	size_t l = strlen(js);
	char *k = malloc(l + 3);
	if (k)
		snprintf(k, l + 3, "k:%s", js);
	free(js);
	return k;
}

static char *set_key(const cJSON *v)
{
	char *js = kc_json_print(v);
	if (!js)
		return NULL;
	size_t l = strlen(js);
	char *k = malloc(l + 3);
	if (k)
		snprintf(k, l + 3, "v:%s", js);
	free(js);
	return k;
}

/* ---- building sets from objects ---- */

static void del_item(cJSON *parent, cJSON *item)
{
	cJSON_Delete(cJSON_DetachItemViaPointer(parent, item));
}

static cJSON *leaf(void)
{
	return cJSON_CreateObject();
}

static void add_child(cJSON *set, const char *k, cJSON *node)
{
	cJSON_DeleteItemFromObjectCaseSensitive(set, k);
	cJSON_AddItemToObject(set, k, node);
}

static cJSON *map_set(const cJSON *obj, const char *kind, const char *parent);

/* The set node for field `field` holding value v inside a map whose field is `parent`.
 * NULL: nothing to track (null values). */
static cJSON *value_set(const cJSON *v, const char *kind, const char *parent,
			const char *field)
{
	if (cJSON_IsNull(v))
		return NULL;
	if (cJSON_IsObject(v)) {
		if (!v->child || is_atomic_map(field))
			return leaf();
		cJSON *s = map_set(v, kind, field);
		if (!s || !s->child) {
			cJSON_Delete(s);
			return leaf();
		}
		return s;
	}
	if (cJSON_IsArray(v) && v->child) {
		const char *keys[2];
		int nk = list_keys(kind, parent, field, keys);
		int set = is_set_list(parent, field);
		if (!nk && !set)
			return leaf(); /* atomic list */
		cJSON *s = cJSON_CreateObject();
		const cJSON *it;
		cJSON_ArrayForEach(it, v)
		{
			char *k = set ? set_key(it) : cJSON_IsObject(it) ? item_key(it, keys, nk) : NULL;
			if (!k)
				continue; /* an item without its key cannot be tracked */
			cJSON *node;
			if (set) {
				node = leaf();
			} else {
				node = map_set(it, kind, field);
				if (!node)
					node = cJSON_CreateObject();
				cJSON_AddItemToObject(node, ".", leaf());
			}
			add_child(s, k, node);
			free(k);
		}
		if (!s->child) {
			cJSON_Delete(s);
			return leaf();
		}
		return s;
	}
	return leaf();
}

/* "f:<field>" into k (512 bytes, truncated as snprintf would: this was snprintf, whose
 * setup cost showed in the profile of every create). */
static void field_key(char k[512], const char *field)
{
	size_t l = strlen(field);
	if (l > 509)
		l = 509;
	k[0] = 'f';
	k[1] = ':';
	memcpy(k + 2, field, l);
	k[l + 2] = 0;
}

/* The set of map obj, leaving out the members in skip[0..nskip) (pointers into obj). */
static cJSON *map_set_skip(const cJSON *obj, const char *kind, const char *parent,
			   const cJSON *const *skip, int nskip)
{
	cJSON *s = cJSON_CreateObject();
	const cJSON *it;
	cJSON_ArrayForEach(it, obj)
	{
		int skipped = 0;
		for (int i = 0; i < nskip && !skipped; i++)
			skipped = skip[i] == it;
		if (skipped)
			continue;
		cJSON *n = value_set(it, kind, parent, it->string);
		if (!n)
			continue;
		char k[512];
		field_key(k, it->string);
		add_child(s, k, n);
	}
	return s;
}

static cJSON *map_set(const cJSON *obj, const char *kind, const char *parent)
{
	return map_set_skip(obj, kind, parent, NULL, 0);
}

/* The set of obj without the fields upstream never tracks. This used to delete them from a
 * deep copy of obj; it now skips exactly the members the deletes removed (the first one of
 * each name, as cJSON_DeleteItemFromObjectCaseSensitive), without the copy. */
cJSON *mf_fieldset(const cJSON *obj, const char *kind, const char *sub)
{
	if (!cJSON_IsObject(obj))
		return cJSON_CreateObject();
	kind = kind ? kind : "";
	/* Upstream's reset fields: the main resource never owns status, /status never spec. */
	const char *reset = sub && !strcmp(sub, "status") ? "spec" : "status";
	const cJSON *top[4] = { cJSON_GetObjectItemCaseSensitive(obj, "apiVersion"),
				cJSON_GetObjectItemCaseSensitive(obj, "kind"),
				cJSON_GetObjectItemCaseSensitive(obj, reset), NULL };
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	int ntop = 3;
	static const char *const meta[] = { "name", "namespace", "uid", "resourceVersion",
					    "generation", "creationTimestamp", "selfLink",
					    "managedFields", "deletionTimestamp",
					    "deletionGracePeriodSeconds", NULL };
	const cJSON *mskip[10];
	int nm = 0;
	if (cJSON_IsObject(md)) {
		for (int i = 0; meta[i]; i++) {
			const cJSON *m = cJSON_GetObjectItemCaseSensitive(md, meta[i]);
			if (m)
				mskip[nm++] = m;
		}
		int left = -nm;
		for (const cJSON *it = md->child; it; it = it->next)
			left++;
		if (!left)
			top[ntop++] = md; /* nothing left: as if metadata were absent */
	}
	cJSON *s = cJSON_CreateObject();
	const cJSON *it;
	cJSON_ArrayForEach(it, obj)
	{
		int skipped = 0;
		for (int i = 0; i < ntop && !skipped; i++)
			skipped = top[i] == it;
		if (skipped)
			continue;
		cJSON *n;
		if (it == md && cJSON_IsObject(md)) {
			/* value_set of the trimmed metadata map: never atomic, has members. */
			n = map_set_skip(md, kind, "metadata", mskip, nm);
			if (!n->child) {
				cJSON_Delete(n);
				n = leaf();
			}
		} else {
			n = value_set(it, kind, "", it->string);
		}
		if (!n)
			continue;
		char k[512];
		field_key(k, it->string);
		add_child(s, k, n);
	}
	return s;
}

/* ---- set algebra ---- */

static int is_member(const cJSON *n)
{
	return !n->child || cJSON_GetObjectItemCaseSensitive(n, ".") != NULL;
}

static int has_children(const cJSON *n)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, n)
	if (strcmp(it->string, "."))
		return 1;
	return 0;
}

/* Node from a member flag and children (taken); NULL when it would be empty. */
static cJSON *make_node(int member, cJSON *children)
{
	if (children && children->child) {
		if (member)
			cJSON_AddItemToObject(children, ".", leaf());
		return children;
	}
	cJSON_Delete(children);
	return member ? leaf() : NULL;
}

enum set_op { OP_UNION, OP_DIFF, OP_INTERSECT };

static cJSON *set_op(const cJSON *a, const cJSON *b, enum set_op op)
{
	cJSON *r = cJSON_CreateObject();
	const cJSON *it;
	cJSON_ArrayForEach(it, a)
	{
		if (!strcmp(it->string, "."))
			continue;
		const cJSON *o = b ? cJSON_GetObjectItemCaseSensitive(b, it->string) : NULL;
		cJSON *n;
		if (!o) {
			n = op == OP_INTERSECT ? NULL : cJSON_Duplicate(it, 1);
		} else {
			int ma = is_member(it), mb = is_member(o);
			int m = op == OP_UNION ? (ma || mb) : op == OP_DIFF ? (ma && !mb) : (ma && mb);
			n = make_node(m, set_op(it, o, op));
		}
		if (n)
			cJSON_AddItemToObject(r, it->string, n);
	}
	if (op == OP_UNION && b) {
		cJSON_ArrayForEach(it, b)
		{
			if (!strcmp(it->string, ".") ||
			    (a && cJSON_GetObjectItemCaseSensitive(a, it->string)))
				continue;
			cJSON_AddItemToObject(r, it->string, cJSON_Duplicate(it, 1));
		}
	}
	return r;
}

cJSON *mf_set_union(const cJSON *a, const cJSON *b)
{
	return set_op(a, b, OP_UNION);
}
cJSON *mf_set_diff(const cJSON *a, const cJSON *b)
{
	return set_op(a, b, OP_DIFF);
}
cJSON *mf_set_intersect(const cJSON *a, const cJSON *b)
{
	return set_op(a, b, OP_INTERSECT);
}
int mf_set_empty(const cJSON *s)
{
	return !s || !s->child;
}

/* ---- navigating objects by set keys ---- */

/* The value under one set key inside v (an object for f:, a list for k:/v:). *idx gets the
 * list position for k:/v:. */
static cJSON *child_value(const cJSON *v, const char *key, int *idx)
{
	*idx = -1;
	if (!strncmp(key, "f:", 2))
		return cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, key + 2) : NULL;
	if (!cJSON_IsArray(v) || (strncmp(key, "k:", 2) && strncmp(key, "v:", 2)))
		return NULL;
	cJSON *want = cJSON_Parse(key + 2);
	if (!want)
		return NULL;
	cJSON *found = NULL;
	int i = 0;
	cJSON *it;
	cJSON_ArrayForEach(it, v)
	{
		int match = 1;
		if (key[0] == 'v') {
			match = kc_json_equal(it, want);
		} else if (cJSON_IsObject(it) && cJSON_IsObject(want)) {
			const cJSON *w;
			cJSON_ArrayForEach(w, want)
			{
				const cJSON *x = key_value(it, w->string);
				if (!x || !kc_json_equal(x, w)) {
					match = 0;
					break;
				}
			}
		} else {
			match = 0;
		}
		if (match) {
			found = it;
			*idx = i;
			break;
		}
		i++;
	}
	cJSON_Delete(want);
	return found;
}

static cJSON *changed_rec(const cJSON *set, const cJSON *a, const cJSON *b)
{
	cJSON *r = cJSON_CreateObject();
	const cJSON *it;
	cJSON_ArrayForEach(it, set)
	{
		if (!strcmp(it->string, "."))
			continue;
		int ia, ib;
		const cJSON *va = a ? child_value(a, it->string, &ia) : NULL;
		const cJSON *vb = b ? child_value(b, it->string, &ib) : NULL;
		cJSON *n;
		if (!has_children(it)) {
			n = (!va != !vb) || (va && !kc_json_equal(va, vb)) ? leaf() : NULL;
		} else {
			/* A keyed item present on one side only changed as a whole. */
			int m = is_member(it) && !va != !vb;
			n = make_node(m, changed_rec(it, va, vb));
		}
		if (n)
			cJSON_AddItemToObject(r, it->string, n);
	}
	return r;
}

cJSON *mf_set_changed(const cJSON *set, const cJSON *a, const cJSON *b)
{
	return changed_rec(set, a, b);
}

/* ---- path strings ---- */

static void paths_rec(const cJSON *set, const char *prefix, cJSON *arr)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, set)
	{
		if (!strcmp(it->string, "."))
			continue;
		char p[2048];
		const char *k = it->string;
		if (!strncmp(k, "f:", 2)) {
			snprintf(p, sizeof(p), "%s.%s", prefix, k + 2);
		} else if (!strncmp(k, "v:", 2)) {
			snprintf(p, sizeof(p), "%s[=%s]", prefix, k + 2);
		} else {
			/* k:{"a":1,"b":"x"} -> [a=1,b="x"] */
			cJSON *o = cJSON_Parse(k + 2);
			size_t off = (size_t)snprintf(p, sizeof(p), "%s[", prefix);
			const cJSON *w;
			int first = 1;
			cJSON_ArrayForEach(w, o)
			{
				char *js = kc_json_print(w);
				if (off < sizeof(p))
					off += (size_t)snprintf(p + off, sizeof(p) - off, "%s%s=%s",
								first ? "" : ",", w->string,
								js ? js : "");
				free(js);
				first = 0;
			}
			if (off < sizeof(p))
				snprintf(p + off, sizeof(p) - off, "]");
			cJSON_Delete(o);
		}
		if (is_member(it))
			cJSON_AddItemToArray(arr, cJSON_CreateString(p));
		if (has_children(it))
			paths_rec(it, p, arr);
	}
}

void mf_set_paths(const cJSON *set, cJSON *arr)
{
	if (set && arr)
		paths_rec(set, "", arr);
}

/* ---- managedFields entries ---- */

static void format_time(int64_t ns, char *buf, size_t n)
{
	/* Years 1000-9999 print the same four digits either way; kc_meta_time_format skips
	 * gmtime_r and strftime, paid on every create. */
	if (ns >= 0 && ns / 1000000000LL < 253402300800LL &&
	    kc_meta_time_format(ns, buf, n) > 0)
		return;
	time_t t = (time_t)(ns / 1000000000LL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *ent_str(const cJSON *e, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, k);
	return cJSON_IsString(v) ? v->valuestring : "";
}

static int ent_is(const cJSON *e, const char *manager, const char *op, const char *sub)
{
	return !strcmp(ent_str(e, "manager"), manager) && !strcmp(ent_str(e, "operation"), op) &&
	       !strcmp(ent_str(e, "subresource"), sub ? sub : "");
}

static cJSON *ent_new(const mf_req *rq, const char *op, cJSON *set)
{
	char ts[32];
	format_time(rq->now_ns, ts, sizeof(ts));
	cJSON *e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "manager", rq->manager);
	cJSON_AddStringToObject(e, "operation", op);
	cJSON_AddStringToObject(e, "apiVersion", rq->api_version);
	cJSON_AddStringToObject(e, "time", ts);
	cJSON_AddStringToObject(e, "fieldsType", "FieldsV1");
	cJSON_AddItemToObject(e, "fieldsV1", set);
	if (rq->subresource && rq->subresource[0])
		cJSON_AddStringToObject(e, "subresource", rq->subresource);
	return e;
}

/* Replaces an entry's fieldsV1 with set (taken; freed when e is not an object). */
static void set_fields(cJSON *e, cJSON *set)
{
	if (!cJSON_IsObject(e)) {
		cJSON_Delete(set);
		return;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(e, "fieldsV1");
	cJSON_AddItemToObject(e, "fieldsV1", set);
}

/* Sorted as upstream's sortEncodedManagedFields: operation, time, manager, apiVersion,
 * subresource. */
static int ent_cmp(const void *x, const void *y)
{
	const cJSON *p = *(const cJSON *const *)x, *q = *(const cJSON *const *)y;
	int c;
	if ((c = strcmp(ent_str(p, "operation"), ent_str(q, "operation"))))
		return c;
	if ((c = strcmp(ent_str(p, "time"), ent_str(q, "time"))))
		return c;
	if ((c = strcmp(ent_str(p, "manager"), ent_str(q, "manager"))))
		return c;
	if ((c = strcmp(ent_str(p, "apiVersion"), ent_str(q, "apiVersion"))))
		return c;
	return strcmp(ent_str(p, "subresource"), ent_str(q, "subresource"));
}

/* Installs entries (taken; empty sets dropped, sorted) as obj's managedFields. */
static void install(cJSON *obj, cJSON *entries)
{
	int n = cJSON_GetArraySize(entries), k = 0;
	cJSON **v = calloc((size_t)(n ? n : 1), sizeof(*v));
	while (entries->child) {
		cJSON *e = cJSON_DetachItemViaPointer(entries, entries->child);
		if (v && !mf_set_empty(cJSON_GetObjectItemCaseSensitive(e, "fieldsV1")))
			v[k++] = e;
		else
			cJSON_Delete(e);
	}
	cJSON_Delete(entries);
	cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	if (!cJSON_IsObject(md)) {
		cJSON_DeleteItemFromObjectCaseSensitive(obj, "metadata");
		md = cJSON_AddObjectToObject(obj, "metadata");
	}
	cJSON_DeleteItemFromObjectCaseSensitive(md, "managedFields");
	if (!k) {
		free(v);
		return;
	}
	qsort(v, (size_t)k, sizeof(*v), ent_cmp);
	cJSON *arr = cJSON_AddArrayToObject(md, "managedFields");
	for (int i = 0; i < k; i++)
		cJSON_AddItemToArray(arr, v[i]);
	free(v);
}

/* A FieldsV1 tree: objects all the way down (stored data is validated before use). */
static int valid_set(const cJSON *n, int depth)
{
	if (!cJSON_IsObject(n) || depth > 64)
		return 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, n)
	if (!it->string || !valid_set(it, depth + 1))
		return 0;
	return 1;
}

/* old's entries that are well formed (upstream drops undecodable managedFields too). */
static cJSON *old_entries(const cJSON *old)
{
	const cJSON *mf = old ? kc_json_get(old, "metadata.managedFields") : NULL;
	cJSON *r = cJSON_CreateArray();
	const cJSON *e;
	if (!cJSON_IsArray(mf))
		return r;
	cJSON_ArrayForEach(e, mf)
	{
		if (cJSON_IsObject(e) && ent_str(e, "manager")[0] &&
		    valid_set(cJSON_GetObjectItemCaseSensitive(e, "fieldsV1"), 0))
			cJSON_AddItemToArray(r, cJSON_Duplicate(e, 1));
	}
	return r;
}

/* obj without managedFields and resourceVersion, for "did anything change" tests. */
static int same_content(const cJSON *a, const cJSON *b)
{
	if (!a || !b)
		return 0;
	cJSON *x = cJSON_Duplicate(a, 1), *y = cJSON_Duplicate(b, 1);
	static const char *const drop[] = { "managedFields", "resourceVersion", NULL };
	for (int i = 0; drop[i]; i++) {
		cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(x, "metadata"),
							drop[i]);
		cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(y, "metadata"),
							drop[i]);
	}
	int eq = kc_json_equal(x, y);
	cJSON_Delete(x);
	cJSON_Delete(y);
	return eq;
}

void mf_update(const cJSON *old, cJSON *nobj, const char *kind, const mf_req *rq)
{
	const char *sub = rq->subresource ? rq->subresource : "";
	if (!old) {
		/* A create: with no previous object or entries, the set algebra below reduces to
		 * "the updater owns every field of nobj" (added = sn, nothing removed or
		 * modified); skip its six copies of the set. */
		cJSON *entries = cJSON_CreateArray();
		cJSON_AddItemToArray(entries, ent_new(rq, "Update", mf_fieldset(nobj, kind, sub)));
		install(nobj, entries);
		return;
	}
	cJSON *entries = old_entries(old);
	if (same_content(old, nobj)) {
		install(nobj, entries); /* no-op write: upstream keeps the entries as they are */
		return;
	}
	cJSON *so = mf_fieldset(old, kind, sub);
	cJSON *sn = mf_fieldset(nobj, kind, sub);
	cJSON *added = mf_set_diff(sn, so), *removed = mf_set_diff(so, sn);
	cJSON *both = mf_set_intersect(sn, so);
	cJSON *modified = mf_set_changed(both, old, nobj);
	cJSON *taken = mf_set_union(added, modified);
	cJSON *gone = mf_set_union(taken, removed);
	cJSON *mine = NULL;
	cJSON *e;
	cJSON_ArrayForEach(e, entries)
	{
		cJSON *fs = cJSON_GetObjectItemCaseSensitive(e, "fieldsV1");
		if (ent_is(e, rq->manager, "Update", sub)) {
			mine = e;
			continue;
		}
		/* Updates never conflict: changed fields move to the updater (SMD's
		 * Updater.Update is an apply with force), removed ones leave every set. */
		set_fields(e, mf_set_diff(fs, gone));
	}
	cJSON *prev = mine ? cJSON_GetObjectItemCaseSensitive(mine, "fieldsV1") : NULL;
	cJSON *u = mf_set_union(prev, taken);
	cJSON *set = mf_set_diff(u, removed);
	cJSON_Delete(u);
	if (mine)
		del_item(entries, mine);
	cJSON_AddItemToArray(entries, ent_new(rq, "Update", set));
	install(nobj, entries);
	cJSON_Delete(so);
	cJSON_Delete(sn);
	cJSON_Delete(added);
	cJSON_Delete(removed);
	cJSON_Delete(both);
	cJSON_Delete(modified);
	cJSON_Delete(taken);
	cJSON_Delete(gone);
}

/* ---- apply ---- */

/* Merges applied into live (in place) as SMD's merge: maps member by member, list-maps
 * item by item (new items appended), everything else replaced. */
static void merge_into(cJSON *live, const cJSON *applied, const char *kind, const char *parent)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, applied)
	{
		if (cJSON_IsNull(it))
			continue;
		cJSON *lv = cJSON_GetObjectItemCaseSensitive(live, it->string);
		const char *keys[2];
		int nk;
		if (lv && cJSON_IsObject(lv) && cJSON_IsObject(it) && !is_atomic_map(it->string)) {
			merge_into(lv, it, kind, it->string);
			continue;
		}
		if (lv && cJSON_IsArray(lv) && cJSON_IsArray(it) &&
		    ((nk = list_keys(kind, parent, it->string, keys)) > 0 ||
		     is_set_list(parent, it->string))) {
			int set = is_set_list(parent, it->string);
			const cJSON *ai;
			cJSON_ArrayForEach(ai, it)
			{
				char *k = set ? set_key(ai) : item_key(ai, keys, nk);
				int idx;
				cJSON *li = k ? child_value(lv, k, &idx) : NULL;
				free(k);
				if (li && !set && cJSON_IsObject(li))
					merge_into(li, ai, kind, it->string);
				else if (!li)
					cJSON_AddItemToArray(lv, cJSON_Duplicate(ai, 1));
			}
			continue;
		}
		cJSON_DeleteItemFromObjectCaseSensitive(live, it->string);
		cJSON_AddItemToObject(live, it->string, cJSON_Duplicate(it, 1));
	}
}

/* Removes the members of set from v, keeping whatever keep (others' fields) still holds. */
static void remove_rec(cJSON *v, const cJSON *set, const cJSON *keep)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, set)
	{
		if (!strcmp(it->string, "."))
			continue;
		int idx;
		cJSON *cv = child_value(v, it->string, &idx);
		if (!cv)
			continue;
		const cJSON *kn = keep ? cJSON_GetObjectItemCaseSensitive(keep, it->string) : NULL;
		if (is_member(it) && (!kn || !kn->child)) {
			if (kn)
				continue; /* another manager owns this very field */
			if (idx >= 0)
				cJSON_DeleteItemFromArray(v, idx);
			else
				del_item(v, cv);
			continue;
		}
		if (has_children(it))
			remove_rec(cv, it, kn);
	}
}

static char *manager_label(const cJSON *e)
{
	char buf[512];
	size_t off = (size_t)snprintf(buf, sizeof(buf), "\"%s\"", ent_str(e, "manager"));
	const char *sub = ent_str(e, "subresource");
	if (sub[0] && off < sizeof(buf))
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, " with subresource \"%s\"",
					sub);
	/* printManager: Update managers are named with their apiVersion (the identifier has
	 * no time), Apply managers by name only. */
	if (!strcmp(ent_str(e, "operation"), "Update") && off < sizeof(buf))
		snprintf(buf + off, sizeof(buf) - off, " using %s", ent_str(e, "apiVersion"));
	return strdup(buf);
}

/* NewConflictError (managedfields/internal/conflict.go). */
static cJSON *conflict_status(cJSON *labels, cJSON *paths)
{
	int n = cJSON_GetArraySize(paths);
	size_t cap = 256;
	for (int i = 0; i < n; i++)
		cap += strlen(cJSON_GetArrayItem(labels, i)->valuestring) +
		       strlen(cJSON_GetArrayItem(paths, i)->valuestring) + 32;
	char *msg = malloc(cap);
	if (!msg)
		return st_internal("out of memory");
	if (n == 1) {
		snprintf(msg, cap, "Apply failed with 1 conflict: conflict with %s: %s",
			 cJSON_GetArrayItem(labels, 0)->valuestring,
			 cJSON_GetArrayItem(paths, 0)->valuestring);
	} else {
		/* Grouped by manager, managers sorted. */
		size_t off = (size_t)snprintf(msg, cap, "Apply failed with %d conflicts: ", n);
		char *done = n > 0 ? calloc((size_t)n, 1) : NULL;
		if (!done) {
			free(msg);
			return st_internal("out of memory");
		}
		int first = 1;
		for (;;) {
			int best = -1;
			for (int i = 0; i < n; i++)
				if (!done[i] && (best < 0 ||
						 strcmp(cJSON_GetArrayItem(labels, i)->valuestring,
							cJSON_GetArrayItem(labels, best)->valuestring) < 0))
					best = i;
			if (best < 0)
				break;
			const char *lb = cJSON_GetArrayItem(labels, best)->valuestring;
			off += (size_t)snprintf(msg + off, cap - off, "%sconflicts with %s:",
						first ? "" : "\n", lb);
			first = 0;
			for (int i = 0; i < n; i++)
				if (!done[i] && !strcmp(cJSON_GetArrayItem(labels, i)->valuestring, lb)) {
					done[i] = 1;
					off += (size_t)snprintf(msg + off, cap - off, "\n- %s",
								cJSON_GetArrayItem(paths, i)->valuestring);
				}
		}
		free(done);
	}
	cJSON *st = st_new(409, "Conflict", "%s", msg);
	free(msg);
	cJSON *det = cJSON_AddObjectToObject(st, "details");
	cJSON *causes = cJSON_AddArrayToObject(det, "causes");
	for (int i = 0; i < n; i++) {
		cJSON *c = cJSON_CreateObject();
		char m[600];
		snprintf(m, sizeof(m), "conflict with %s", cJSON_GetArrayItem(labels, i)->valuestring);
		cJSON_AddStringToObject(c, "reason", "FieldManagerConflict");
		cJSON_AddStringToObject(c, "message", m);
		cJSON_AddStringToObject(c, "field", cJSON_GetArrayItem(paths, i)->valuestring);
		cJSON_AddItemToArray(causes, c);
	}
	return st;
}

int mf_apply(const cJSON *live, const cJSON *applied, const char *kind, const mf_req *rq,
	     cJSON **out, cJSON **st)
{
	*out = NULL;
	*st = NULL;
	cJSON *sa = mf_fieldset(applied, kind, rq->subresource);
	cJSON *entries = old_entries(live);
	if (live && !entries->child) {
		/* An object nobody has managed yet: its fields belong to "before-first-apply"
		 * (upstream's skipNonAppliedManager), so applying over them conflicts. */
		mf_req bf = *rq;
		bf.manager = "before-first-apply";
		cJSON *all = mf_fieldset(live, kind, rq->subresource);
		if (!mf_set_empty(all))
			cJSON_AddItemToArray(entries, ent_new(&bf, "Update", all));
		else
			cJSON_Delete(all);
	}
	cJSON *mine = NULL;
	cJSON *labels = cJSON_CreateArray(), *paths = cJSON_CreateArray();
	cJSON *e;
	cJSON_ArrayForEach(e, entries)
	{
		if (ent_is(e, rq->manager, "Apply", rq->subresource)) {
			mine = e;
			continue;
		}
		if (!live)
			continue;
		cJSON *fs = cJSON_GetObjectItemCaseSensitive(e, "fieldsV1");
		cJSON *both = mf_set_intersect(sa, fs);
		cJSON *ch = mf_set_changed(both, applied, live);
		cJSON_Delete(both);
		if (mf_set_empty(ch)) {
			cJSON_Delete(ch);
			continue;
		}
		if (rq->force) {
			/* force: ownership of the conflicting fields moves to the applier. */
			set_fields(e, mf_set_diff(fs, ch));
		} else {
			cJSON *pl = cJSON_CreateArray();
			mf_set_paths(ch, pl);
			char *lb = manager_label(e);
			const cJSON *p;
			cJSON_ArrayForEach(p, pl)
			{
				cJSON_AddItemToArray(labels, cJSON_CreateString(lb ? lb : "\"\""));
				cJSON_AddItemToArray(paths, cJSON_CreateString(p->valuestring));
			}
			free(lb);
			cJSON_Delete(pl);
		}
		cJSON_Delete(ch);
	}
	if (cJSON_GetArraySize(paths) > 0) {
		*st = conflict_status(labels, paths);
		cJSON_Delete(labels);
		cJSON_Delete(paths);
		cJSON_Delete(sa);
		cJSON_Delete(entries);
		return 409;
	}
	cJSON_Delete(labels);
	cJSON_Delete(paths);
	cJSON *obj = live ? cJSON_Duplicate(live, 1) : cJSON_CreateObject();
	cJSON *ap = cJSON_Duplicate(applied, 1);
	cJSON *amd = cJSON_GetObjectItemCaseSensitive(ap, "metadata");
	cJSON_DeleteItemFromObjectCaseSensitive(amd, "managedFields");
	cJSON_DeleteItemFromObjectCaseSensitive(amd, "resourceVersion");
	if (live) {
		/* Upstream's reset fields: the main resource does not apply status, /status
		 * does not apply spec; server-owned ObjectMeta is never applied. */
		cJSON_DeleteItemFromObjectCaseSensitive(
			ap, rq->subresource && !strcmp(rq->subresource, "status") ? "spec" : "status");
		static const char *const keep[] = { "uid", "creationTimestamp", "generation",
						    "deletionTimestamp", "selfLink", NULL };
		for (int i = 0; keep[i]; i++)
			cJSON_DeleteItemFromObjectCaseSensitive(amd, keep[i]);
	}
	merge_into(obj, ap, kind ? kind : "", "");
	cJSON_Delete(ap);
	/* Fields this manager applied last time and no longer applies go, unless another
	 * manager still owns them. */
	cJSON *prev = mine ? cJSON_GetObjectItemCaseSensitive(mine, "fieldsV1") : NULL;
	cJSON *others = cJSON_CreateObject();
	cJSON_ArrayForEach(e, entries)
	{
		if (e == mine)
			continue;
		cJSON *u = mf_set_union(others, cJSON_GetObjectItemCaseSensitive(e, "fieldsV1"));
		cJSON_Delete(others);
		others = u;
	}
	if (prev && live) {
		cJSON *r1 = mf_set_diff(prev, sa);
		cJSON *r = mf_set_diff(r1, others);
		remove_rec(obj, r, others);
		cJSON_Delete(r1);
		cJSON_Delete(r);
	}
	cJSON_Delete(others);
	int changed = !live || !same_content(live, obj) ||
		      !prev || !kc_json_equal(prev, sa);
	if (mine && !changed) {
		cJSON_Delete(sa); /* unchanged: entries (and their times) stay as they were */
	} else {
		if (mine)
			del_item(entries, mine);
		cJSON_AddItemToArray(entries, ent_new(rq, "Apply", sa));
	}
	install(obj, entries);
	*out = obj;
	return 0;
}

void mf_manager_from_user_agent(const char *ua, char *buf, size_t n)
{
	if (!n)
		return;
	if (!ua || !ua[0]) {
		snprintf(buf, n, "unknown");
		return;
	}
	size_t l = strcspn(ua, "/");
	if (l > 128)
		l = 128;
	if (l >= n)
		l = n - 1;
	memcpy(buf, ua, l);
	buf[l] = 0;
}
