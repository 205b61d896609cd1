/* OpenAPI v2 and v3 documents from the field schema, as k8s.io/kube-openapi builds them for
 * kube-apiserver: one definition per Go type, named by its package path, `$ref`s between
 * them (v3 wraps a reference that carries a description or default in a one-element allOf,
 * as 1.32's builder3 does), x-kubernetes-group-version-kind on the kinds and their Lists,
 * and the strategic-merge/list extensions from the struct tags. */
#include "openapi.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "discovery.h"
#include "fieldschema.h"
#include "json.h"
#include "resource.h"

#define META "io.k8s.apimachinery.pkg.apis.meta.v1."
#define DEF_TIME META "Time"
#define DEF_MICROTIME META "MicroTime"
#define DEF_LISTMETA META "ListMeta"
#define DEF_INTSTR "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
#define DEF_QUANTITY "io.k8s.apimachinery.pkg.api.resource.Quantity"

static cJSON *ref(enum oa_flavor fl, const char *def)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s%s",
		 fl == OA_V3 ? "#/components/schemas/" : "#/definitions/", def);
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "$ref", buf);
	return r;
}

/* A reference with siblings: v3 {"allOf":[{"$ref"}], ...}, v2 {"$ref", ...}. */
static cJSON *ref_field(enum oa_flavor fl, const char *def, int dflt_obj)
{
	cJSON *s;
	if (fl == OA_V3) {
		s = cJSON_CreateObject();
		cJSON *all = cJSON_AddArrayToObject(s, "allOf");
		cJSON_AddItemToArray(all, ref(fl, def));
		if (dflt_obj)
			cJSON_AddObjectToObject(s, "default");
	} else {
		s = ref(fl, def);
	}
	return s;
}

static cJSON *prim(const char *type, const char *format)
{
	cJSON *s = cJSON_CreateObject();
	cJSON_AddStringToObject(s, "type", type);
	if (format)
		cJSON_AddStringToObject(s, "format", format);
	return s;
}

/* The definitions of the apimachinery value types, added when first referenced. */
static void add_special(cJSON *defs, const char *def, enum oa_flavor fl)
{
	if (cJSON_GetObjectItemCaseSensitive(defs, def))
		return;
	cJSON *s = NULL;
	if (!strcmp(def, DEF_TIME) || !strcmp(def, DEF_MICROTIME)) {
		s = prim("string", "date-time");
		cJSON_AddStringToObject(s, "description",
					!strcmp(def, DEF_TIME)
						? "Time is a wrapper around time.Time which supports "
						  "correct marshaling to YAML and JSON."
						: "MicroTime is version of Time with microsecond level "
						  "precision.");
	} else if (!strcmp(def, DEF_INTSTR)) {
		/* v2: type string, format int-or-string; v3: oneOf integer|string. */
		s = cJSON_CreateObject();
		cJSON_AddStringToObject(s, "description",
					"IntOrString is a type that can hold an int32 or a string.");
		cJSON_AddStringToObject(s, "format", "int-or-string");
		if (fl == OA_V3) {
			cJSON *one = cJSON_AddArrayToObject(s, "oneOf");
			cJSON_AddItemToArray(one, prim("integer", NULL));
			cJSON_AddItemToArray(one, prim("string", NULL));
		} else {
			cJSON_AddStringToObject(s, "type", "string");
		}
	} else if (!strcmp(def, DEF_QUANTITY)) {
		s = cJSON_CreateObject();
		cJSON_AddStringToObject(s, "description",
					"Quantity is a fixed-point representation of a number, "
					"serialized as a string (\"100m\", \"1Gi\").");
		if (fl == OA_V3) {
			cJSON *one = cJSON_AddArrayToObject(s, "oneOf");
			cJSON_AddItemToArray(one, prim("string", NULL));
			cJSON_AddItemToArray(one, prim("number", NULL));
		} else {
			cJSON_AddStringToObject(s, "type", "string");
		}
	} else if (!strcmp(def, DEF_LISTMETA)) {
		s = cJSON_CreateObject();
		cJSON_AddStringToObject(s, "description",
					"ListMeta describes metadata that synthetic resources must "
					"have, including lists and various status objects.");
		cJSON *p = cJSON_AddObjectToObject(s, "properties");
		cJSON_AddItemToObject(p, "continue", prim("string", NULL));
		cJSON_AddItemToObject(p, "remainingItemCount", prim("integer", "int64"));
		cJSON_AddItemToObject(p, "resourceVersion", prim("string", NULL));
		cJSON_AddItemToObject(p, "selfLink", prim("string", NULL));
		cJSON_AddStringToObject(s, "type", "object");
	}
	if (s)
		cJSON_AddItemToObject(defs, def, s);
}

static const char *special_def(const char *code)
{
	if (!strcmp(code, "ios"))
		return DEF_INTSTR;
	if (!strcmp(code, "qty"))
		return DEF_QUANTITY;
	if (!strcmp(code, "time"))
		return DEF_TIME;
	if (!strcmp(code, "mtime"))
		return DEF_MICROTIME;
	return NULL;
}

/* Schema of a scalar code; NULL for a special (referenced) one. */
static cJSON *scalar(const char *code)
{
	if (!strcmp(code, "s"))
		return prim("string", NULL);
	if (!strcmp(code, "i32"))
		return prim("integer", "int32");
	if (!strcmp(code, "i64"))
		return prim("integer", "int64");
	if (!strcmp(code, "b"))
		return prim("boolean", NULL);
	if (!strcmp(code, "f"))
		return prim("number", "double");
	if (!strcmp(code, "byte"))
		return prim("string", "byte");
	return prim("object", NULL); /* "any" and unknown codes: free-form */
}

/* Element of a list or map: items / additionalProperties. */
static cJSON *elem_schema(cJSON *defs, const char *elem, enum oa_flavor fl)
{
	const fs_type *t = fs_type_get(elem);
	if (t) {
		oa_add_type(defs, elem, fl);
		return ref_field(fl, t->def, 1);
	}
	const char *sd = special_def(elem);
	if (sd) {
		add_special(defs, sd, fl);
		return ref(fl, sd);
	}
	return scalar(elem);
}

static void add_desc(cJSON *s, const char *desc)
{
	if (desc && desc[0])
		cJSON_AddStringToObject(s, "description", desc);
}

static cJSON *field_schema(cJSON *defs, const fs_type *owner, const fs_field *f,
			   enum oa_flavor fl)
{
	const char *desc = fs_field_desc(owner, f->name);
	cJSON *s = NULL;
	switch (f->kind) {
	case FS_OBJ: {
		const fs_type *t = fs_type_get(f->elem);
		oa_add_type(defs, f->elem, fl);
		s = ref_field(fl, t->def, 1);
		add_desc(s, desc);
		if (f->strategy[0])
			cJSON_AddStringToObject(s, "x-kubernetes-patch-strategy", f->strategy);
		return s;
	}
	case FS_SCALAR: {
		const char *sd = special_def(f->elem);
		if (sd) {
			add_special(defs, sd, fl);
			s = ref_field(fl, sd, 0);
		} else {
			s = scalar(f->elem);
		}
		add_desc(s, desc);
		return s;
	}
	case FS_LIST:
		s = cJSON_CreateObject();
		add_desc(s, desc);
		cJSON_AddItemToObject(s, "items", elem_schema(defs, f->elem, fl));
		cJSON_AddStringToObject(s, "type", "array");
		if (!strcmp(f->keys, "@")) {
			cJSON_AddStringToObject(s, "x-kubernetes-list-type", "set");
			cJSON_AddStringToObject(s, "x-kubernetes-patch-strategy", "merge");
		} else if (f->keys[0]) {
			cJSON *mk = cJSON_AddArrayToObject(s, "x-kubernetes-list-map-keys");
			char keys[64];
			snprintf(keys, sizeof(keys), "%s", f->keys);
			char *save = NULL;
			for (char *k = strtok_r(keys, "+", &save); k; k = strtok_r(NULL, "+", &save))
				cJSON_AddItemToArray(mk, cJSON_CreateString(k));
			cJSON_AddStringToObject(s, "x-kubernetes-list-type", "map");
			char first[64];
			snprintf(first, sizeof(first), "%s", f->keys);
			char *plus = strchr(first, '+');
			if (plus)
				*plus = 0;
			cJSON_AddStringToObject(s, "x-kubernetes-patch-merge-key", first);
			cJSON_AddStringToObject(s, "x-kubernetes-patch-strategy",
						f->strategy[0] ? f->strategy : "merge");
		}
		return s;
	case FS_MAP:
		s = cJSON_CreateObject();
		cJSON_AddItemToObject(s, "additionalProperties", elem_schema(defs, f->elem, fl));
		add_desc(s, desc);
		cJSON_AddStringToObject(s, "type", "object");
		return s;
	case FS_ANY:
	default:
		s = prim("object", NULL);
		add_desc(s, desc);
		return s;
	}
}

static cJSON *gvk_obj(const char *group, const char *version, const char *kind)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "group", group);
	cJSON_AddStringToObject(o, "kind", kind);
	cJSON_AddStringToObject(o, "version", version);
	return o;
}

int oa_add_type(cJSON *defs, const char *type, enum oa_flavor fl)
{
	const fs_type *t = fs_type_get(type);
	if (!t)
		return -ENOENT;
	if (cJSON_GetObjectItemCaseSensitive(defs, t->def))
		return 0;
	cJSON *s = cJSON_CreateObject();
	/* Added before its fields so that a cycle ends here. */
	cJSON_AddItemToObject(defs, t->def, s);
	cJSON_AddStringToObject(s, "description", t->desc);
	cJSON *props = cJSON_AddObjectToObject(s, "properties");
	cJSON *req = cJSON_CreateArray();
	const char *cur = t->fields;
	fs_field f;
	while (fs_next_field(&cur, &f)) {
		cJSON_AddItemToObject(props, f.name, field_schema(defs, t, &f, fl));
		if (f.required)
			cJSON_AddItemToArray(req, cJSON_CreateString(f.name));
	}
	if (cJSON_GetArraySize(req))
		cJSON_AddItemToObject(s, "required", req);
	else
		cJSON_Delete(req);
	cJSON_AddStringToObject(s, "type", "object");
	/* Every served version of this kind (autoscaling/v1 and v2 have their own types). */
	cJSON *gvks = NULL;
	for (int i = 0; res_all[i]; i++) {
		if (fs_kind_type(res_all[i]) != t)
			continue;
		if (!gvks)
			gvks = cJSON_AddArrayToObject(s, "x-kubernetes-group-version-kind");
		cJSON_AddItemToArray(gvks, gvk_obj(res_all[i]->group, res_all[i]->version,
						   res_all[i]->kind));
	}
	return 0;
}

/* The kind's List definition (io.k8s.api.apps.v1.DeploymentList). */
static void add_list(cJSON *defs, const res_desc *d, enum oa_flavor fl)
{
	const fs_type *t = fs_kind_type(d);
	if (!t)
		return;
	char def[256];
	snprintf(def, sizeof(def), "%sList", t->def);
	if (cJSON_GetObjectItemCaseSensitive(defs, def))
		return;
	add_special(defs, DEF_LISTMETA, fl);
	cJSON *s = cJSON_CreateObject();
	char desc[160];
	snprintf(desc, sizeof(desc), "%s is a list of %s objects.", d->list_kind, d->kind);
	cJSON_AddStringToObject(s, "description", desc);
	cJSON *p = cJSON_AddObjectToObject(s, "properties");
	cJSON_AddItemToObject(p, "apiVersion", prim("string", NULL));
	cJSON *items = cJSON_AddObjectToObject(p, "items");
	cJSON_AddItemToObject(items, "items", ref_field(fl, t->def, 1));
	cJSON_AddStringToObject(items, "type", "array");
	cJSON_AddItemToObject(p, "kind", prim("string", NULL));
	cJSON *m = ref_field(fl, DEF_LISTMETA, 1);
	cJSON_AddStringToObject(m, "description", "Standard list metadata.");
	cJSON_AddItemToObject(p, "metadata", m);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(s, "required"), cJSON_CreateString("items"));
	cJSON_AddStringToObject(s, "type", "object");
	cJSON_AddItemToArray(cJSON_AddArrayToObject(s, "x-kubernetes-group-version-kind"),
			     gvk_obj(d->group, d->version, d->list_kind));
	cJSON_AddItemToObject(defs, def, s);
}

/* ---- v3 documents ---- */

static cJSON *op(const char *verb, const char *action, const res_desc *d, int params,
		 const char *body_def)
{
	char opid[128];
	snprintf(opid, sizeof(opid), "%s%s%s", verb, d->namespaced ? "Namespaced" : "", d->kind);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "operationId", opid);
	if (params) {
		/* kubectl's QueryParamVerifierV3 looks for fieldValidation on the patch
		 * operation of the object's GVK before it sends ?fieldValidation=Strict. */
		cJSON *ps = cJSON_AddArrayToObject(o, "parameters");
		static const char *const names[] = { "dryRun", "fieldManager", "fieldValidation" };
		for (int i = 0; i < 3; i++) {
			cJSON *p = cJSON_CreateObject();
			cJSON_AddStringToObject(p, "in", "query");
			cJSON_AddStringToObject(p, "name", names[i]);
			cJSON *s = cJSON_AddObjectToObject(p, "schema");
			cJSON_AddStringToObject(s, "type", "string");
			cJSON_AddBoolToObject(s, "uniqueItems", 1);
			cJSON_AddItemToArray(ps, p);
		}
	}
	cJSON *ok = cJSON_AddObjectToObject(cJSON_AddObjectToObject(o, "responses"), "200");
	cJSON_AddStringToObject(ok, "description", "OK");
	if (body_def) {
		cJSON *c = cJSON_AddObjectToObject(ok, "content");
		cJSON_AddItemToObject(cJSON_AddObjectToObject(c, "application/json"), "schema",
				      ref(OA_V3, body_def));
	}
	cJSON_AddStringToObject(o, "x-kubernetes-action", action);
	cJSON *g = cJSON_CreateObject();
	cJSON_AddStringToObject(g, "group", d->group);
	cJSON_AddStringToObject(g, "kind", d->kind);
	cJSON_AddStringToObject(g, "version", d->version);
	cJSON_AddItemToObject(o, "x-kubernetes-group-version-kind", g);
	return o;
}

cJSON *oa_v3_gv(const char *group, const char *version)
{
	int any = 0;
	for (int i = 0; res_all[i]; i++)
		any |= !strcmp(res_all[i]->group, group) && !strcmp(res_all[i]->version, version);
	if (!any)
		return NULL;
	cJSON *doc = cJSON_CreateObject();
	cJSON *defs = cJSON_CreateObject();
	cJSON_AddItemToObject(cJSON_AddObjectToObject(doc, "components"), "schemas", defs);
	cJSON *info = cJSON_AddObjectToObject(doc, "info");
	cJSON_AddStringToObject(info, "title", "Kubernetes");
	cJSON_AddStringToObject(info, "version", "v1.32.4");
	cJSON_AddStringToObject(doc, "openapi", "3.0.0");
	cJSON *paths = cJSON_AddObjectToObject(doc, "paths");
	for (int i = 0; res_all[i]; i++) {
		const res_desc *d = res_all[i];
		if (strcmp(d->group, group) || strcmp(d->version, version))
			continue;
		const fs_type *t = fs_kind_type(d);
		if (t) {
			oa_add_type(defs, t->name, OA_V3);
			add_list(defs, d, OA_V3);
		}
		char base[256], item[300], listdef[256];
		if (group[0])
			snprintf(base, sizeof(base), "/apis/%s/%s%s/%s", group, version,
				 d->namespaced ? "/namespaces/{namespace}" : "", d->plural);
		else
			snprintf(base, sizeof(base), "/api/%s%s/%s", version,
				 d->namespaced ? "/namespaces/{namespace}" : "", d->plural);
		snprintf(item, sizeof(item), "%s/{name}", base);
		snprintf(listdef, sizeof(listdef), "%sList", t ? t->def : "");
		cJSON *pc = cJSON_AddObjectToObject(paths, base);
		cJSON_AddItemToObject(pc, "get", op("list", "list", d, 0, t ? listdef : NULL));
		cJSON_AddItemToObject(pc, "post", op("create", "post", d, 1, t ? t->def : NULL));
		cJSON *pi = cJSON_AddObjectToObject(paths, item);
		cJSON_AddItemToObject(pi, "get", op("read", "get", d, 0, t ? t->def : NULL));
		cJSON_AddItemToObject(pi, "patch", op("patch", "patch", d, 1, t ? t->def : NULL));
		cJSON_AddItemToObject(pi, "put", op("replace", "put", d, 1, t ? t->def : NULL));
	}
	return doc;
}

/* ---- cached, hashed documents ---- */

typedef struct oa_entry {
	char path[128];
	char *body;
	size_t len;
	char etag[129];
	const char *ctype;
} oa_entry;

static oa_entry oa_cache[48];
static int oa_n;
static pthread_once_t oa_once = PTHREAD_ONCE_INIT;

static void sha512_hex(const char *b, size_t n, char out[129])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int ml = 0;
	out[0] = 0;
	if (!EVP_Digest(b, n, md, &ml, EVP_sha512(), NULL))
		return;
	for (unsigned i = 0; i < ml && i < 64; i++)
		snprintf(out + 2 * i, 3, "%02X", md[i]);
}

static oa_entry *cache_put(const char *path, char *body, size_t len, const char *ctype)
{
	if (!body || oa_n >= (int)(sizeof(oa_cache) / sizeof(oa_cache[0]))) {
		free(body);
		return NULL;
	}
	oa_entry *e = &oa_cache[oa_n++];
	snprintf(e->path, sizeof(e->path), "%s", path);
	e->body = body;
	e->len = len;
	e->ctype = ctype;
	sha512_hex(body, len, e->etag);
	return e;
}

static void cache_json(const char *path, cJSON *doc)
{
	size_t len = 0;
	char *s = doc ? kc_json_print_len(doc, &len) : NULL;
	cJSON_Delete(doc);
	cache_put(path, s, len, "application/json");
}

static void build_all(void)
{
	/* Per group/version documents first: the root lists them by their hashes. */
	cJSON *root = cJSON_CreateObject();
	cJSON *paths = cJSON_AddObjectToObject(root, "paths");
	const char *gs[33];
	int ng = disc_groups(gs + 1, 32);
	gs[0] = "";
	for (int i = 0; i <= ng; i++) {
		const char *vers[8];
		int nv = disc_group_versions(gs[i], vers, 8);
		for (int k = 0; k < nv; k++) {
			char key[160], path[170], url[400];
			if (gs[i][0])
				snprintf(key, sizeof(key), "apis/%s/%s", gs[i], vers[k]);
			else
				snprintf(key, sizeof(key), "api/%s", vers[k]);
			snprintf(path, sizeof(path), "v3/%s", key);
			cache_json(path, oa_v3_gv(gs[i], vers[k]));
			oa_entry *e = &oa_cache[oa_n - 1];
			if (oa_n == 0 || strcmp(e->path, path))
				continue;
			snprintf(url, sizeof(url), "/openapi/v3/%s?hash=%s", key, e->etag);
			cJSON_AddStringToObject(cJSON_AddObjectToObject(paths, key),
						"serverRelativeURL", url);
		}
	}
	cache_json("v3", root);
	cache_json("v2", oa_v2());
	unsigned char *pb = NULL;
	size_t pblen = 0;
	if (oa_v2_proto(&pb, &pblen) == 0)
		cache_put("v2.pb", (char *)pb, pblen,
			  "application/com.github.proto-openapi.spec.v2.v1.0+protobuf");
}

cJSON *oa_v3_root(void)
{
	oa_doc d;
	cJSON *v = NULL;
	if (oa_get("v3", &d) == 0)
		kc_json_parse(d.body, d.len, d.len + 1, &v, NULL, 0);
	return v;
}

int oa_get(const char *path, oa_doc *doc)
{
	pthread_once(&oa_once, build_all);
	for (int i = 0; i < oa_n; i++) {
		if (strcmp(oa_cache[i].path, path))
			continue;
		doc->body = oa_cache[i].body;
		doc->len = oa_cache[i].len;
		doc->etag = oa_cache[i].etag;
		doc->ctype = oa_cache[i].ctype;
		return 0;
	}
	return -ENOENT;
}

/* ---- v2 ---- */

cJSON *oa_v2(void)
{
	cJSON *doc = cJSON_CreateObject();
	cJSON *defs = cJSON_AddObjectToObject(doc, "definitions");
	cJSON *info = cJSON_AddObjectToObject(doc, "info");
	cJSON_AddStringToObject(info, "title", "Kubernetes");
	cJSON_AddStringToObject(info, "version", "v1.32.4");
	cJSON_AddObjectToObject(doc, "paths");
	cJSON_AddStringToObject(doc, "swagger", "2.0");
	for (int i = 0; res_all[i]; i++) {
		const fs_type *t = fs_kind_type(res_all[i]);
		if (!t)
			continue;
		oa_add_type(defs, t->name, OA_V2);
		add_list(defs, res_all[i], OA_V2);
	}
	return doc;
}
