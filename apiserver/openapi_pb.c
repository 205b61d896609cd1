/* /openapi/v2 as protobuf: the Swagger 2.0 JSON document converted into gnostic's
 * openapi_v2.Document (openapiv2.proto), the only form kubectl asks for
 * (Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf). As gnostic does,
 * vendor extensions are carried as YAML text (JSON is YAML), which kube-openapi's
 * VendorExtensionToMap decodes. */
#include "openapi.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "apiserver/openapiv2.pb-c.h"
#include "json.h"

/* Every allocation of one conversion, freed together. */
typedef struct pb_arena {
	void **v;
	size_t n, cap;
	int oom;
} pb_arena;

static void *pb_alloc(pb_arena *a, size_t sz)
{
	if (a->oom)
		return NULL;
	if (a->n == a->cap) {
		size_t nc = a->cap ? a->cap * 2 : 1024;
		void **nv = realloc(a->v, nc * sizeof(*nv));
		if (!nv) {
			a->oom = 1;
			return NULL;
		}
		a->v = nv;
		a->cap = nc;
	}
	void *p = calloc(1, sz ? sz : 1);
	if (!p) {
		a->oom = 1;
		return NULL;
	}
	a->v[a->n++] = p;
	return p;
}

static char *pb_str(pb_arena *a, const char *s)
{
	size_t l = strlen(s);
	char *p = pb_alloc(a, l + 1);
	if (p)
		memcpy(p, s, l + 1);
	return p ? p : (char *)protobuf_c_empty_string;
}

static void pb_free(pb_arena *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
}

static Kubec__Openapiv2__Schema *conv_schema(pb_arena *a, const cJSON *js, int depth);

static Kubec__Openapiv2__NamedSchema **conv_named(pb_arena *a, const cJSON *obj, size_t *n,
						  int depth)
{
	size_t cnt = (size_t)cJSON_GetArraySize(obj);
	*n = 0;
	Kubec__Openapiv2__NamedSchema **v = pb_alloc(a, cnt * sizeof(*v));
	if (!v)
		return NULL;
	const cJSON *it;
	cJSON_ArrayForEach(it, obj)
	{
		Kubec__Openapiv2__NamedSchema *ns = pb_alloc(a, sizeof(*ns));
		if (!ns)
			return NULL;
		kubec__openapiv2__named_schema__init(ns);
		ns->name = pb_str(a, it->string ? it->string : "");
		ns->value = conv_schema(a, it, depth + 1);
		v[(*n)++] = ns;
	}
	return v;
}

static Kubec__Openapiv2__Schema *conv_schema(pb_arena *a, const cJSON *js, int depth)
{
	Kubec__Openapiv2__Schema *s = pb_alloc(a, sizeof(*s));
	if (!s || depth > 64)
		return s;
	kubec__openapiv2__schema__init(s);
	size_t next = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, js)
		next += it->string && !strncmp(it->string, "x-", 2);
	if (next) {
		s->vendor_extension = pb_alloc(a, next * sizeof(*s->vendor_extension));
		if (!s->vendor_extension)
			return s;
	}
	cJSON_ArrayForEach(it, js)
	{
		const char *k = it->string ? it->string : "";
		if (!strcmp(k, "$ref") && cJSON_IsString(it)) {
			s->_ref = pb_str(a, it->valuestring);
		} else if (!strcmp(k, "format") && cJSON_IsString(it)) {
			s->format = pb_str(a, it->valuestring);
		} else if (!strcmp(k, "description") && cJSON_IsString(it)) {
			s->description = pb_str(a, it->valuestring);
		} else if (!strcmp(k, "type") && cJSON_IsString(it)) {
			s->type = pb_alloc(a, sizeof(*s->type));
			if (!s->type)
				return s;
			kubec__openapiv2__type_item__init(s->type);
			s->type->value = pb_alloc(a, sizeof(char *));
			if (!s->type->value)
				return s;
			s->type->value[0] = pb_str(a, it->valuestring);
			s->type->n_value = 1;
		} else if (!strcmp(k, "required") && cJSON_IsArray(it)) {
			size_t n = (size_t)cJSON_GetArraySize(it);
			s->required = pb_alloc(a, n * sizeof(char *));
			if (!s->required)
				return s;
			const cJSON *r;
			cJSON_ArrayForEach(r, it)
				if (cJSON_IsString(r))
					s->required[s->n_required++] = pb_str(a, r->valuestring);
		} else if (!strcmp(k, "items") && cJSON_IsObject(it)) {
			s->items = pb_alloc(a, sizeof(*s->items));
			if (!s->items)
				return s;
			kubec__openapiv2__items_item__init(s->items);
			s->items->schema = pb_alloc(a, sizeof(*s->items->schema));
			if (!s->items->schema)
				return s;
			s->items->schema[0] = conv_schema(a, it, depth + 1);
			s->items->n_schema = 1;
		} else if (!strcmp(k, "additionalProperties") && cJSON_IsObject(it)) {
			s->additional_properties = pb_alloc(a, sizeof(*s->additional_properties));
			if (!s->additional_properties)
				return s;
			kubec__openapiv2__additional_properties_item__init(s->additional_properties);
			s->additional_properties->oneof_case =
				KUBEC__OPENAPIV2__ADDITIONAL_PROPERTIES_ITEM__ONEOF_SCHEMA;
			s->additional_properties->schema = conv_schema(a, it, depth + 1);
		} else if (!strcmp(k, "properties") && cJSON_IsObject(it)) {
			s->properties = pb_alloc(a, sizeof(*s->properties));
			if (!s->properties)
				return s;
			kubec__openapiv2__properties__init(s->properties);
			s->properties->additional_properties =
				conv_named(a, it, &s->properties->n_additional_properties, depth);
		} else if (!strncmp(k, "x-", 2)) {
			Kubec__Openapiv2__NamedAny *na = pb_alloc(a, sizeof(*na));
			Kubec__Openapiv2__Any *any = pb_alloc(a, sizeof(*any));
			if (!na || !any)
				return s;
			kubec__openapiv2__named_any__init(na);
			kubec__openapiv2__any__init(any);
			na->name = pb_str(a, k);
			char *y = kc_json_print_len(it, NULL);
			any->yaml = pb_str(a, y ? y : "null");
			free(y);
			na->value = any;
			s->vendor_extension[s->n_vendor_extension++] = na;
		}
	}
	return s;
}

int oa_v2_proto(unsigned char **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	cJSON *doc = oa_v2();
	if (!doc)
		return -ENOMEM;
	pb_arena a = { 0 };
	Kubec__Openapiv2__Document d = KUBEC__OPENAPIV2__DOCUMENT__INIT;
	Kubec__Openapiv2__Info info = KUBEC__OPENAPIV2__INFO__INIT;
	Kubec__Openapiv2__Definitions defs = KUBEC__OPENAPIV2__DEFINITIONS__INIT;
	d.swagger = pb_str(&a, "2.0");
	info.title = pb_str(&a, "Kubernetes");
	info.version = pb_str(&a, "v1.32.4");
	d.info = &info;
	defs.additional_properties =
		conv_named(&a, cJSON_GetObjectItemCaseSensitive(doc, "definitions"),
			   &defs.n_additional_properties, 0);
	d.definitions = &defs;
	cJSON_Delete(doc);
	int rc = 0;
	if (a.oom) {
		rc = -ENOMEM;
	} else {
		size_t n = kubec__openapiv2__document__get_packed_size(&d);
		*out = malloc(n ? n : 1);
		if (!*out)
			rc = -ENOMEM;
		else
			*len = kubec__openapiv2__document__pack(&d, *out);
	}
	pb_free(&a);
	return rc;
}
