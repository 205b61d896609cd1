#include "protobuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apiserver/k8s.pb-c.h"
#include "errors.h"
#include "etcd.h"
#include "json.h"
#include "log.h"
#include "meta.h"

static const struct {
	const char *kind;
	const ProtobufCMessageDescriptor *desc;
} kinds[] = {
	{ "Namespace", &k8spb__namespace__descriptor },
	{ "ConfigMap", &k8spb__config_map__descriptor },
	{ "Secret", &k8spb__secret__descriptor },
	{ "ServiceAccount", &k8spb__service_account__descriptor },
	{ "Service", &k8spb__service__descriptor },
	{ "Deployment", &k8spb__deployment__descriptor },
	{ "Job", &k8spb__job__descriptor },
	{ "CronJob", &k8spb__cron_job__descriptor },
	{ "HorizontalPodAutoscaler", &k8spb__horizontal_pod_autoscaler__descriptor },
	{ "TokenRequest", &k8spb__token_request__descriptor },
	{ "PriorityClass", &k8spb__priority_class__descriptor },
};

static cJSON *msg_to_json(const ProtobufCMessage *m);

static int is_entry(const ProtobufCMessageDescriptor *d)
{
	size_t l = strlen(d->name);
	return l > 5 && !strcmp(d->name + l - 5, "Entry") && d->n_fields == 2;
}

static cJSON *bytes_b64(const ProtobufCBinaryData *b)
{
	char *s = NULL;
	if (kc_etcd_b64_encode(b->data, b->len, &s))
		return cJSON_CreateString("");
	cJSON *v = cJSON_CreateString(s);
	free(s);
	return v;
}

/* One scalar or message value at p (pointer to the member storage). */
static cJSON *value_json(const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return cJSON_CreateNumber(*(const int32_t *)p);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return cJSON_CreateNumber(*(const uint32_t *)p);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return kc_json_new_int64(*(const int64_t *)p);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return kc_json_new_int64((int64_t)*(const uint64_t *)p);
	case PROTOBUF_C_TYPE_BOOL:
		return cJSON_CreateBool(*(const protobuf_c_boolean *)p);
	case PROTOBUF_C_TYPE_FLOAT:
		return cJSON_CreateNumber(*(const float *)p);
	case PROTOBUF_C_TYPE_DOUBLE:
		return cJSON_CreateNumber(*(const double *)p);
	case PROTOBUF_C_TYPE_ENUM:
		return cJSON_CreateNumber(*(const int *)p);
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;
		return cJSON_CreateString(s ? s : "");
	}
	case PROTOBUF_C_TYPE_BYTES:
		return bytes_b64((const ProtobufCBinaryData *)p);
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
		return sub ? msg_to_json(sub) : NULL;
	}
	}
	return NULL;
}

static int present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	const char *base = (const char *)m;
	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return *(const size_t *)(base + f->quantifier_offset) > 0;
	if (f->type == PROTOBUF_C_TYPE_STRING) {
		const char *s = *(char *const *)(base + f->offset);
		return s && s[0]; /* Go's omitempty on string fields */
	}
	if (f->type == PROTOBUF_C_TYPE_MESSAGE)
		return *(void *const *)(base + f->offset) != NULL;
	if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
	    !*(const protobuf_c_boolean *)(base + f->quantifier_offset))
		return 0;
	/* Go marshals non-pointer scalars always, so a zero on the wire is usually "unset";
	 * JSON's omitempty drops it. Pointer fields (where 0 is a choice) are kept. */
	static const char *const pointers[] = { "replicas", "revisionHistoryLimit",
						"progressDeadlineSeconds",
						"terminationGracePeriodSeconds", "parallelism",
						"completions", "backoffLimit", "minReplicas",
						"ttlSecondsAfterFinished", "startingDeadlineSeconds",
						"successfulJobsHistoryLimit", "failedJobsHistoryLimit",
						"targetCPUUtilizationPercentage", "suspend", "value",
						"activeDeadlineSeconds", "deletionGracePeriodSeconds",
						"automountServiceAccountToken", "immutable", NULL };
	for (int i = 0; pointers[i]; i++)
		if (!strcmp(f->name, pointers[i]))
			return 1;
	const void *p = base + f->offset;
	switch (f->type) {
	case PROTOBUF_C_TYPE_BOOL:
		return *(const protobuf_c_boolean *)p != 0;
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_ENUM:
		return *(const int32_t *)p != 0;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return *(const int64_t *)p != 0;
	default:
		return 1;
	}
}

static size_t elem_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_ENUM:
		return 4;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	default:
		return 8;
	}
}

static cJSON *msg_to_json(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const char *base = (const char *)m;
	/* Well-known apimachinery types have a JSON form of their own. */
	if (!strcmp(d->short_name, "Time")) {
		const K8spb__Time *t = (const K8spb__Time *)m;
		if (!t->seconds)
			return NULL; /* zero Time: omitted (null upstream) */
		char buf[KC_TIME_BUFLEN];
		kc_meta_time_format(t->seconds * 1000000000LL, buf, sizeof(buf));
		return cJSON_CreateString(buf);
	}
	if (!strcmp(d->short_name, "IntOrString")) {
		const K8spb__IntOrString *v = (const K8spb__IntOrString *)m;
		if (v->type == 1)
			return cJSON_CreateString(v->strval ? v->strval : "");
		return cJSON_CreateNumber(v->intval);
	}
	if (!strcmp(d->short_name, "Quantity")) {
		const K8spb__Quantity *q = (const K8spb__Quantity *)m;
		return cJSON_CreateString(q->string ? q->string : "0");
	}
	for (unsigned i = 0; i < m->n_unknown_fields; i++)
		kc_log_v(2, "protobuf %s: field %u is not decoded", d->short_name,
			 m->unknown_fields[i].tag);
	cJSON *o = cJSON_CreateObject();
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (!present(m, f))
			continue;
		cJSON *v = NULL;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset);
			const char *arr = *(char *const *)(base + f->offset);
			const ProtobufCMessageDescriptor *sd = f->descriptor;
			if (f->type == PROTOBUF_C_TYPE_MESSAGE && is_entry(sd)) {
				/* map<K,V>: repeated {key, value} entries -> JSON object. */
				v = cJSON_CreateObject();
				for (size_t k = 0; k < n; k++) {
					const ProtobufCMessage *e = ((ProtobufCMessage *const *)arr)[k];
					const ProtobufCFieldDescriptor *kf = &sd->fields[0], *vf = &sd->fields[1];
					const char *key = *(char *const *)((const char *)e + kf->offset);
					cJSON *val = value_json(vf, (const char *)e + vf->offset);
					if (!val)
						val = cJSON_CreateString("");
					cJSON_DeleteItemFromObjectCaseSensitive(v, key ? key : "");
					cJSON_AddItemToObject(v, key ? key : "", val);
				}
			} else {
				v = cJSON_CreateArray();
				for (size_t k = 0; k < n; k++) {
					cJSON *e = value_json(f, arr + k * elem_size(f));
					cJSON_AddItemToArray(v, e ? e : cJSON_CreateObject());
				}
			}
		} else {
			v = value_json(f, base + f->offset);
		}
		if (v)
			cJSON_AddItemToObject(o, f->name, v);
	}
	return o;
}

int pb_decode_object(const void *body, size_t len, cJSON **out, char *err, size_t errlen)
{
	*out = NULL;
	const uint8_t *b = body;
	if (len < 4 || memcmp(b, "k8s\0", 4)) {
		snprintf(err, errlen, "provided data does not appear to be a protobuf message, "
				      "expected prefix [107 56 115 0]");
		return KC_EPARSE;
	}
	K8spb__Unknown *u = k8spb__unknown__unpack(NULL, len - 4, b + 4);
	if (!u || !u->typemeta || !u->has_raw) {
		if (u)
			k8spb__unknown__free_unpacked(u, NULL);
		snprintf(err, errlen, "unable to decode the runtime.Unknown envelope");
		return KC_EPARSE;
	}
	const char *kind = u->typemeta->kind ? u->typemeta->kind : "";
	const char *apiv = u->typemeta->apiversion ? u->typemeta->apiversion : "";
	const ProtobufCMessageDescriptor *desc = NULL;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(kinds[i].kind, kind))
			desc = kinds[i].desc;
	if (!desc) {
		snprintf(err, errlen, "protobuf bodies of kind %s are not supported yet; send "
				      "application/json", kind);
		k8spb__unknown__free_unpacked(u, NULL);
		return -ENOTSUP;
	}
	ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, u->raw.len, u->raw.data);
	if (!m) {
		snprintf(err, errlen, "unable to decode %s from protobuf", kind);
		k8spb__unknown__free_unpacked(u, NULL);
		return KC_EPARSE;
	}
	cJSON *obj = msg_to_json(m);
	protobuf_c_message_free_unpacked(m, NULL);
	if (apiv[0]) {
		cJSON *a = cJSON_CreateString(apiv);
		cJSON_AddItemToObject(obj, "apiVersion", a);
	}
	cJSON_AddStringToObject(obj, "kind", kind);
	k8spb__unknown__free_unpacked(u, NULL);
	*out = obj;
	return 0;
}
