/* The OpenAPI generator: every served kind has a schema named as upstream with its GVK,
 * fields carry the right types, formats and refs, refs resolve, the list/patch extensions
 * follow the struct tags, and /openapi/v2's protobuf decodes back to the same definitions. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "kc_test.h"
#include "apiserver/openapiv2.pb-c.h"
#include "../../apiserver/fieldschema.h"
#include "../../apiserver/openapi.h"
#include "../../apiserver/resource.h"

static const cJSON *get(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = get(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The $ref of a property: direct, or inside a one-element allOf (v3). */
static const char *prop_ref(const cJSON *prop)
{
	if (str(prop, "$ref"))
		return str(prop, "$ref");
	const cJSON *all = get(prop, "allOf");
	return all ? str(cJSON_GetArrayItem(all, 0), "$ref") : NULL;
}

static const cJSON *schema(const cJSON *doc, const char *def)
{
	const cJSON *s = get(get(get(doc, "components"), "schemas"), def);
	return s ? s : get(get(doc, "definitions"), def);
}

static const cJSON *prop(const cJSON *doc, const char *def, const char *field)
{
	return get(get(schema(doc, def), "properties"), field);
}

static int has_gvk(const cJSON *s, const char *g, const char *v, const char *k)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, get(s, "x-kubernetes-group-version-kind"))
		if (!strcmp(str(e, "group"), g) && !strcmp(str(e, "version"), v) &&
		    !strcmp(str(e, "kind"), k))
			return 1;
	return 0;
}

static int in_array(const cJSON *a, const char *s)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, a)
		if (cJSON_IsString(e) && !strcmp(e->valuestring, s))
			return 1;
	return 0;
}

START_TEST(every_served_kind_has_a_schema_with_its_gvk)
{
	for (int i = 0; res_all[i]; i++) {
		const res_desc *d = res_all[i];
		ck_assert_msg(fs_has_schema(d), "%s/%s %s has no field schema", d->group,
			      d->version, d->kind);
		cJSON *doc = oa_v3_gv(d->group, d->version);
		ck_assert_ptr_nonnull(doc);
		const cJSON *s, *found = NULL, *list = NULL;
		cJSON_ArrayForEach(s, get(get(doc, "components"), "schemas"))
		{
			if (has_gvk(s, d->group, d->version, d->kind))
				found = s;
			if (has_gvk(s, d->group, d->version, d->list_kind))
				list = s;
		}
		ck_assert_msg(found, "no v3 schema with GVK %s/%s %s", d->group, d->version, d->kind);
		ck_assert_msg(list, "no v3 schema for %s", d->list_kind);
		ck_assert_str_eq(str(found, "type"), "object");
		ck_assert_ptr_nonnull(get(get(found, "properties"), "metadata"));
		/* explain finds the GVK through the operations of the resource's paths. */
		char path[256];
		if (d->group[0])
			snprintf(path, sizeof(path), "/apis/%s/%s%s/%s/{name}", d->group, d->version,
				 d->namespaced ? "/namespaces/{namespace}" : "", d->plural);
		else
			snprintf(path, sizeof(path), "/api/v1%s/%s/{name}",
				 d->namespaced ? "/namespaces/{namespace}" : "", d->plural);
		const cJSON *patch = get(get(get(doc, "paths"), path), "patch");
		ck_assert_msg(patch, "no patch operation at %s", path);
		ck_assert_str_eq(str(get(patch, "x-kubernetes-group-version-kind"), "kind"), d->kind);
		cJSON_Delete(doc);
	}
	ck_assert_ptr_null(oa_v3_gv("nope.example.com", "v1"));
}
END_TEST

START_TEST(names_types_and_refs_as_upstream)
{
	cJSON *doc = oa_v3_gv("", "v1");
	const char *pod = "io.k8s.api.core.v1.Pod";
	ck_assert_str_eq(prop_ref(prop(doc, pod, "spec")), "#/components/schemas/io.k8s.api.core.v1.PodSpec");
	ck_assert_str_eq(prop_ref(prop(doc, pod, "metadata")),
			 "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
	const cJSON *ctrs = prop(doc, "io.k8s.api.core.v1.PodSpec", "containers");
	ck_assert_str_eq(str(ctrs, "type"), "array");
	ck_assert_str_eq(prop_ref(get(ctrs, "items")), "#/components/schemas/io.k8s.api.core.v1.Container");
	ck_assert_str_eq(str(ctrs, "x-kubernetes-patch-merge-key"), "name");
	ck_assert_str_eq(str(ctrs, "x-kubernetes-patch-strategy"), "merge");
	ck_assert_str_eq(str(ctrs, "x-kubernetes-list-type"), "map");
	ck_assert(in_array(get(schema(doc, "io.k8s.api.core.v1.PodSpec"), "required"), "containers"));
	ck_assert(in_array(get(schema(doc, "io.k8s.api.core.v1.Container"), "required"), "name"));
	const cJSON *ports = prop(doc, "io.k8s.api.core.v1.Container", "ports");
	ck_assert_str_eq(str(ports, "x-kubernetes-patch-merge-key"), "containerPort");
	const cJSON *mk = get(ports, "x-kubernetes-list-map-keys");
	ck_assert_int_eq(cJSON_GetArraySize(mk), 2);
	ck_assert_str_eq(cJSON_GetArrayItem(mk, 0)->valuestring, "containerPort");
	ck_assert_str_eq(cJSON_GetArrayItem(mk, 1)->valuestring, "protocol");
	const cJSON *cp = prop(doc, "io.k8s.api.core.v1.ContainerPort", "containerPort");
	ck_assert_str_eq(str(cp, "type"), "integer");
	ck_assert_str_eq(str(cp, "format"), "int32");
	const cJSON *fin = prop(doc, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers");
	ck_assert_str_eq(str(fin, "x-kubernetes-list-type"), "set");
	ck_assert_str_eq(str(get(fin, "items"), "type"), "string");
	const cJSON *labels = prop(doc, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "labels");
	ck_assert_str_eq(str(labels, "type"), "object");
	ck_assert_str_eq(str(get(labels, "additionalProperties"), "type"), "string");
	const cJSON *ct = prop(doc, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
			       "creationTimestamp");
	ck_assert_str_eq(prop_ref(ct), "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Time");
	ck_assert_str_eq(str(schema(doc, "io.k8s.apimachinery.pkg.apis.meta.v1.Time"), "format"),
			 "date-time");
	const cJSON *lim = prop(doc, "io.k8s.api.core.v1.ResourceRequirements", "limits");
	ck_assert_str_eq(prop_ref(get(lim, "additionalProperties")),
			 "#/components/schemas/io.k8s.apimachinery.pkg.api.resource.Quantity");
	const cJSON *tp = prop(doc, "io.k8s.api.core.v1.ServicePort", "targetPort");
	ck_assert_str_eq(prop_ref(tp), "#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString");
	const cJSON *ios = schema(doc, "io.k8s.apimachinery.pkg.util.intstr.IntOrString");
	ck_assert_str_eq(str(ios, "format"), "int-or-string");
	ck_assert_int_eq(cJSON_GetArraySize(get(ios, "oneOf")), 2);
	ck_assert_str_eq(str(prop(doc, "io.k8s.api.core.v1.Secret", "data"), "type"), "object");
	ck_assert_str_eq(str(get(prop(doc, "io.k8s.api.core.v1.Secret", "data"), "additionalProperties"),
			     "format"), "byte");
	cJSON_Delete(doc);

	doc = oa_v3_gv("apps", "v1");
	const char *ds = "io.k8s.api.apps.v1.DeploymentSpec";
	const cJSON *rep = prop(doc, ds, "replicas");
	ck_assert_str_eq(str(rep, "type"), "integer");
	ck_assert_str_eq(str(rep, "format"), "int32");
	ck_assert(in_array(get(schema(doc, ds), "required"), "selector"));
	ck_assert(in_array(get(schema(doc, ds), "required"), "template"));
	ck_assert(!in_array(get(schema(doc, ds), "required"), "replicas"));
	ck_assert_str_eq(prop_ref(prop(doc, ds, "strategy")),
			 "#/components/schemas/io.k8s.api.apps.v1.DeploymentStrategy");
	ck_assert_str_eq(prop_ref(prop(doc, "io.k8s.api.apps.v1.RollingUpdateDeployment", "maxSurge")),
			 "#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString");
	ck_assert_str_eq(str(prop(doc, ds, "strategy"), "x-kubernetes-patch-strategy"), "retainKeys");
	ck_assert_str_eq(str(prop(doc, "io.k8s.api.core.v1.PodSpec", "volumes"),
			     "x-kubernetes-patch-strategy"), "merge,retainKeys");
	/* Types of other groups are in the document that references them. */
	ck_assert_ptr_nonnull(schema(doc, "io.k8s.api.core.v1.PodSpec"));
	ck_assert_ptr_null(schema(doc, "io.k8s.api.core.v1.Pod"));
	cJSON_Delete(doc);
}
END_TEST

static void refs_resolve(const cJSON *doc, const cJSON *node, const char *prefix)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, node)
	{
		if (it->string && !strcmp(it->string, "$ref")) {
			ck_assert_msg(!strncmp(it->valuestring, prefix, strlen(prefix)), "ref %s",
				      it->valuestring);
			ck_assert_msg(schema(doc, it->valuestring + strlen(prefix)),
				      "dangling ref %s", it->valuestring);
		}
		if (cJSON_IsObject(it) || cJSON_IsArray(it))
			refs_resolve(doc, it, prefix);
	}
}

START_TEST(every_ref_resolves_and_scalar_codes_are_known)
{
	for (int i = 0; res_all[i]; i++) {
		cJSON *doc = oa_v3_gv(res_all[i]->group, res_all[i]->version);
		refs_resolve(doc, doc, "#/components/schemas/");
		cJSON_Delete(doc);
	}
	cJSON *v2 = oa_v2();
	refs_resolve(v2, v2, "#/definitions/");
	/* v2 value types as upstream's v2: plain string types. */
	const cJSON *ios = schema(v2, "io.k8s.apimachinery.pkg.util.intstr.IntOrString");
	ck_assert_str_eq(str(ios, "type"), "string");
	ck_assert_str_eq(str(ios, "format"), "int-or-string");
	ck_assert_str_eq(str(prop(v2, "io.k8s.api.apps.v1.DeploymentSpec", "template"), "$ref"),
			 "#/definitions/io.k8s.api.core.v1.PodTemplateSpec");
	cJSON_Delete(v2);
	static const char *const codes[] = { "s", "i32", "i64", "b", "f", "byte", "ios", "qty",
					     "time", "mtime", "any" };
	const fs_type *t;
	for (int i = 0; (t = fs_type_at(i)); i++) {
		const char *cur = t->fields;
		fs_field f;
		while (fs_next_field(&cur, &f)) {
			if (f.kind != FS_SCALAR && f.kind != FS_LIST && f.kind != FS_MAP)
				continue;
			if (!f.elem[0] || fs_type_get(f.elem))
				continue;
			int ok = 0;
			for (size_t k = 0; k < sizeof(codes) / sizeof(codes[0]); k++)
				ok |= !strcmp(codes[k], f.elem);
			ck_assert_msg(ok, "%s.%s has unknown type %s", t->name, f.name, f.elem);
		}
	}
}
END_TEST

START_TEST(v2_protobuf_decodes_to_the_same_definitions)
{
	unsigned char *pb = NULL;
	size_t len = 0;
	ck_assert_int_eq(oa_v2_proto(&pb, &len), 0);
	ck_assert_uint_gt(len, 1000);
	Kubec__Openapiv2__Document *d = kubec__openapiv2__document__unpack(NULL, len, pb);
	ck_assert_ptr_nonnull(d);
	ck_assert_str_eq(d->swagger, "2.0");
	cJSON *v2 = oa_v2();
	const cJSON *defs = get(v2, "definitions");
	ck_assert_uint_eq(d->definitions->n_additional_properties, (size_t)cJSON_GetArraySize(defs));
	int seen = 0;
	for (size_t i = 0; i < d->definitions->n_additional_properties; i++) {
		Kubec__Openapiv2__NamedSchema *ns = d->definitions->additional_properties[i];
		if (strcmp(ns->name, "io.k8s.api.apps.v1.Deployment"))
			continue;
		seen = 1;
		Kubec__Openapiv2__Schema *s = ns->value;
		ck_assert_str_eq(s->type->value[0], "object");
		ck_assert_uint_eq(s->n_vendor_extension, 1);
		ck_assert_str_eq(s->vendor_extension[0]->name, "x-kubernetes-group-version-kind");
		ck_assert_ptr_nonnull(strstr(s->vendor_extension[0]->value->yaml, "\"Deployment\""));
		int spec = 0;
		for (size_t k = 0; k < s->properties->n_additional_properties; k++) {
			Kubec__Openapiv2__NamedSchema *p = s->properties->additional_properties[k];
			if (!strcmp(p->name, "spec")) {
				spec = 1;
				ck_assert_str_eq(p->value->_ref,
						 "#/definitions/io.k8s.api.apps.v1.DeploymentSpec");
			}
		}
		ck_assert(spec);
	}
	ck_assert(seen);
	kubec__openapiv2__document__free_unpacked(d, NULL);
	cJSON_Delete(v2);
	free(pb);
}
END_TEST

START_TEST(served_documents_are_hashed_and_listed_by_hash)
{
	oa_doc root, apps;
	ck_assert_int_eq(oa_get("v3", &root), 0);
	ck_assert_int_eq(oa_get("v3/apis/apps/v1", &apps), 0);
	ck_assert_uint_eq(strlen(apps.etag), 128);
	char want[300];
	snprintf(want, sizeof(want), "/openapi/v3/apis/apps/v1?hash=%s", apps.etag);
	cJSON *r = NULL;
	ck_assert_int_eq(kc_json_parse(root.body, root.len, 0, &r, NULL, 0), 0);
	ck_assert_str_eq(str(get(get(r, "paths"), "apis/apps/v1"), "serverRelativeURL"), want);
	ck_assert_ptr_nonnull(get(get(r, "paths"), "api/v1"));
	ck_assert_ptr_nonnull(get(get(r, "paths"), "apis/autoscaling/v1"));
	ck_assert_ptr_nonnull(get(get(r, "paths"), "apis/autoscaling/v2"));
	cJSON_Delete(r);
	oa_doc pb, v2;
	ck_assert_int_eq(oa_get("v2.pb", &pb), 0);
	ck_assert_int_eq(oa_get("v2", &v2), 0);
	ck_assert_str_ne(pb.etag, v2.etag);
	ck_assert_int_eq(oa_get("v3/apis/nope/v1", &pb), -ENOENT);
}
END_TEST

static Suite *apiserver_openapi_suite(void)
{
	Suite *s = suite_create("apiserver_openapi");
	TCase *tc = tcase_create("openapi");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, every_served_kind_has_a_schema_with_its_gvk);
	tcase_add_test(tc, names_types_and_refs_as_upstream);
	tcase_add_test(tc, every_ref_resolves_and_scalar_codes_are_known);
	tcase_add_test(tc, v2_protobuf_decodes_to_the_same_definitions);
	tcase_add_test(tc, served_documents_are_hashed_and_listed_by_hash);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(apiserver_openapi_suite)
