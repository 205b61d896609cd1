/* Generic registry over etcd v3 (see registry.h). */
#include "registry.h"
#include "registry_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admission_limitranger.h"
#include "admission_priority.h"
#include "admission_quota.h"
#include "admission_serviceaccount.h"
#include "errors.h"
#include "fields.h"
#include "json.h"
#include "labels.h"
#include "log.h"
#include "managedfields.h"
#include "meta.h"
#include "objcache.h"
#include "patch.h"
#include "status.h"
#include "svc_alloc.h"
#include "txn.h"
#include "watchcache.h"


void reg_init(reg *r, kc_etcd *etcd, const char *prefix, kc_clock_t *clock)
{
	memset(r, 0, sizeof(*r));
	r->etcd = etcd;
	r->clock = clock;
	snprintf(r->prefix, sizeof(r->prefix), "%s", prefix && prefix[0] ? prefix : "/registry");
	size_t l = strlen(r->prefix);
	while (l > 1 && r->prefix[l - 1] == '/')
		r->prefix[--l] = 0;
	r->event_ttl_sec = 3600; /* kube-apiserver's --event-ttl default: 1h */
	pthread_mutex_init(&r->lease_mu, NULL);
}

/* The lease new events are attached to, as upstream's storage lease manager: one lease per
 * minute (or event-ttl if shorter), TTL = event-ttl + that window, so events expire about
 * event-ttl after creation
 * without a lease per event. 0 when events do not expire or the grant failed. */
/* Each request is served start to end on one thread, so its field manager can travel
 * beside the calls instead of through every signature (registry.h). */
static __thread const reg_fm *cur_fm;

void reg_fm_set(const reg_fm *fm)
{
	cur_fm = fm && fm->manager && fm->manager[0] ? fm : NULL;
}

/* The managedfields request for d under the current manager. apiv: its buffer. */
static void fm_req(reg *r, const res_desc *d, mf_req *rq, char *apiv, size_t n)
{
	*rq = (mf_req){ .manager = cur_fm->manager,
			.subresource = cur_fm->subresource ? cur_fm->subresource : "",
			.api_version = res_api_version(d, apiv, n),
			.now_ns = kc_now_wall(r->clock),
			.force = cur_fm->force };
}

static int64_t event_lease(reg *r)
{
	if (r->event_ttl_sec <= 0)
		return 0;
	int64_t now = kc_now_mono(r->clock) / 1000000000LL, id = 0;
	pthread_mutex_lock(&r->lease_mu);
	if (r->lease_id && now < r->lease_until) {
		id = r->lease_id;
	} else {
		int64_t ttl = 0, window = r->event_ttl_sec < 60 ? r->event_ttl_sec : 60;
		if (kc_etcd_lease_grant(r->etcd, r->event_ttl_sec + window, 0, &id, &ttl, NULL) == 0) {
			r->lease_id = id;
			r->lease_until = now + window;
		} else {
			id = 0;
		}
	}
	pthread_mutex_unlock(&r->lease_mu);
	return id;
}

/* Appends s to buf at *w (room n, n > 0); -1 when it does not fit, with buf truncated
 * there as snprintf leaves it. */
static int key_put(char *buf, size_t n, size_t *w, const char *s)
{
	size_t l = strlen(s);
	if (*w + l >= n) {
		memcpy(buf + *w, s, n - 1 - *w);
		buf[n - 1] = 0;
		*w = n - 1;
		return -1;
	}
	memcpy(buf + *w, s, l + 1);
	*w += l;
	return 0;
}

/* The key snprintf("%s/%s/%s/%s", ...) gave, concatenated directly (a key per request). */
int reg_key(const reg *r, const res_desc *d, const char *ns, const char *name, char *buf,
	    size_t n)
{
	size_t w = 0;
	if (!n || key_put(buf, n, &w, r->prefix) || key_put(buf, n, &w, "/") ||
	    key_put(buf, n, &w, d->plural) || key_put(buf, n, &w, "/"))
		return -1;
	if (!name) { /* collection prefix, always with a trailing slash */
		if (d->namespaced && ns && ns[0] &&
		    (key_put(buf, n, &w, ns) || key_put(buf, n, &w, "/")))
			return -1;
		return (int)w;
	}
	if (d->namespaced && (key_put(buf, n, &w, ns ? ns : "(null)") || key_put(buf, n, &w, "/")))
		return -1;
	return key_put(buf, n, &w, name) ? -1 : (int)w;
}

/* rev's decimal digits into buf (24 bytes, NUL-terminated), as snprintf("%lld") writes
 * them: every decoded and written object gets one. Returns the length. */
static size_t fmt_rev(int64_t rev, char buf[24])
{
	char t[24], *e = t + sizeof(t), *q = e;
	uint64_t u = rev < 0 ? (uint64_t)0 - (uint64_t)rev : (uint64_t)rev;
	do {
		*--q = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (rev < 0)
		*--q = '-';
	size_t n = (size_t)(e - q);
	memcpy(buf, q, n);
	buf[n] = 0;
	return n;
}

cJSON *reg_decode(const void *val, size_t len, int64_t mod_rev)
{
	cJSON *obj = NULL;
	if (kc_json_parse(val, len, 0, &obj, NULL, 0) || !cJSON_IsObject(obj)) {
		cJSON_Delete(obj);
		return NULL;
	}
	char rv[24];
	fmt_rev(mod_rev, rv);
	kc_meta_set_resource_version(obj, rv);
	return obj;
}

/* Value stored for obj: without resourceVersion/selfLink (as upstream's versioner). The two
 * members are unlinked for the print and put back where they were, instead of printing a
 * copy of the whole object (a deep copy per write was a visible share of a create). obj is
 * unchanged on return.
 * *len receives the text's length and *md_end (kc_json_print_mark) the offset of the '}'
 * closing metadata, 0 when unknown; either may be NULL. */
static char *encode_store(cJSON *obj, size_t *len, size_t *md_end)
{
	static const char *const drop[] = { "resourceVersion", "selfLink" };
	cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	cJSON *held[2] = { NULL, NULL };
	int at[2] = { 0, 0 };
	for (int k = 0; k < 2 && cJSON_IsObject(md); k++) {
		int i = 0;
		for (cJSON *it = md->child; it; it = it->next, i++)
			if (it->string && !strcmp(it->string, drop[k])) {
				held[k] = cJSON_DetachItemViaPointer(md, it);
				at[k] = i;
				break;
			}
	}
	size_t n = 0, mend = 0;
	char *s = kc_json_print_mark(obj, md, &n, &mend);
	if (len)
		*len = n;
	if (md_end) /* the splice appends resourceVersion: only valid when none was there */
		*md_end = held[0] || held[1] ? 0 : mend;
	/* Re-insert in reverse order of removal so that each index is the original one. */
	for (int k = 1; k >= 0; k--)
		if (held[k])
			cJSON_InsertItemInArray(md, at[k], held[k]);
	return s;
}

static char *encode_for_store(cJSON *obj)
{
	return encode_store(obj, NULL, NULL);
}

static void set_rv(cJSON *obj, int64_t rev)
{
	char rv[24];
	fmt_rev(rev, rv);
	kc_meta_set_resource_version(obj, rv);
}

/* The text of an object stored as val (vlen bytes, metadata closing at md_end) once set_rv
 * appended resourceVersion to its metadata: the same bytes kc_json_print would give for it,
 * spliced (as the watch cache splices its events, objcache.h) instead of printing the whole
 * object again for the answer. NULL on ENOMEM. */
static char *with_rv(const char *val, size_t vlen, size_t md_end, int64_t rev, size_t *len)
{
	oc_raw raw = { .text = val, .n = vlen, .md_close = md_end,
		       .md_empty = md_end > 0 && val[md_end - 1] == '{' };
	size_t n = 0;
	char *t = oc_raw_with_rv(&raw, rev, &n);
	if (t && len)
		*len = n;
	return t;
}

/* Reads one key. 0 and *obj (with RV) / KC_ENOTFOUND / store error. */
static int load(reg *r, const char *key, cJSON **obj, int64_t *mod)
{
	struct kc_etcd_range_req q = { .key = key, .key_len = strlen(key) };
	struct kc_etcd_range_resp resp;
	*obj = NULL;
	int rc = kc_etcd_range(r->etcd, &q, &resp, NULL);
	if (rc)
		return rc;
	if (resp.n_kvs == 0) {
		kc_etcd_range_resp_free(&resp);
		return KC_ENOTFOUND;
	}
	*mod = resp.kvs[0].mod_revision;
	*obj = reg_decode(resp.kvs[0].value, resp.kvs[0].value_len, *mod);
	kc_etcd_range_resp_free(&resp);
	return *obj ? 0 : KC_EPARSE;
}

/* After a successful write of key (and its companion quota writes) at rev: the watch
 * cache's in-memory reads of these resources wait for rev (read-your-writes). */
static void wrote(reg *r, const char *key, const txn_side *side, size_t nside, int64_t rev)
{
	if (!r->wc)
		return;
	wc_wrote(r->wc, key, rev);
	for (size_t i = 0; i < nside; i++)
		wc_wrote(r->wc, side[i].key, rev);
}

static int cas_put(reg *r, const char *key, const char *val, int64_t expect, int64_t *rev)
{
	int64_t at = 0;
	int rc = txn_put_if(r->etcd, key, val, expect, 0, &at);
	if (rc == 0)
		wrote(r, key, NULL, 0, at);
	if (rev)
		*rev = at;
	return rc;
}

static int cas_delete(reg *r, const char *key, int64_t expect, int64_t *rev)
{
	int64_t at = 0;
	int rc = txn_delete_if(r->etcd, key, expect, &at);
	if (rc == 0)
		wrote(r, key, NULL, 0, at);
	if (rev)
		*rev = at;
	return rc;
}

/* Removes obj (stored at key, mod_revision expect) and gives its ResourceQuota usage back
 * in the same txn (admission_quota.h). KC_ECONFLICT when obj or a quota moved. */
static int cas_delete_charged(reg *r, const res_desc *d, const char *key, const cJSON *obj,
			      int64_t expect, int64_t *rev)
{
	if (!d->namespaced)
		return cas_delete(r, key, expect, rev);
	quota_plan qp = { .n = 0 };
	int rc = quota_release(r, d, kc_meta_namespace(obj), obj, &qp);
	if (rc)
		return rc;
	int64_t at = 0;
	rc = txn_delete_if_with(r->etcd, key, expect, qp.side, qp.n, &at);
	if (rc == 0)
		wrote(r, key, qp.side, qp.n, at);
	if (rev)
		*rev = at;
	quota_plan_free(&qp);
	return rc;
}

int reg_revision(reg *r, int64_t *rev)
{
	/* A count-only range of one key carries the current header revision. */
	struct kc_etcd_range_req q = { .key = "/", .key_len = 1, .count_only = true };
	struct kc_etcd_range_resp resp;
	int rc = kc_etcd_range(r->etcd, &q, &resp, NULL);
	if (rc)
		return rc;
	*rev = resp.header.revision;
	kc_etcd_range_resp_free(&resp);
	return 0;
}

int reg__fail(cJSON **out, cJSON *st)
{
	*out = st;
	return st_code(st);
}

int reg__store_fail(cJSON **out, int err, const char *what)
{
	kc_error("store: %s: %s", what, kc_strerror(err));
	return reg__fail(out, st_from_store(err, what));
}

/* ---- get ---- */

int reg_get(reg *r, const res_desc *d, const char *ns, const char *name, cJSON **out)
{
	char key[512];
	if (reg_key(r, d, ns, name, key, sizeof(key)) < 0)
		return reg__fail(out, st_not_found(d, name));
	int64_t mod;
	cJSON *obj;
	int rc = load(r, key, &obj, &mod);
	if (rc == KC_ENOTFOUND)
		return reg__fail(out, st_not_found(d, name));
	if (rc)
		return reg__store_fail(out, rc, "get");
	*out = obj;
	return 200;
}

int reg_get_cached(reg *r, const res_desc *d, const char *ns, const char *name, cJSON **out)
{
	int64_t mod;
	if (r->wc && wc_get(r->wc, d, ns, name, out, &mod) == 1)
		return 200;
	return reg_get(r, d, ns, name, out);
}

int reg_list_cached(reg *r, const res_desc *d, const char *ns, cJSON **out)
{
	cJSON *items = NULL;
	if (r->wc && wc_list(r->wc, d, ns, &items) == 0) {
		*out = cJSON_CreateObject();
		if (*out) {
			cJSON_AddItemToObject(*out, "items", items);
			return 200;
		}
		cJSON_Delete(items);
	}
	reg_list_opts lo = { 0 };
	return reg_list(r, d, ns, &lo, out);
}

/* ---- selectors ---- */

static int check_type_meta(const res_desc *d, cJSON *obj, cJSON **err)
{
	char apiv[96];
	res_api_version(d, apiv, sizeof(apiv));
	const char *k = kc_json_get_string(obj, "kind", ""), *a = kc_json_get_string(obj, "apiVersion", "");
	if (k[0] && strcmp(k, d->kind)) {
		*err = st_bad_request("the kind in the data (%s) does not match the expected kind "
				      "(%s)", k, d->kind);
		return -1;
	}
	if (a[0] && strcmp(a, apiv)) {
		*err = st_bad_request("the API version in the data (%s) does not match the "
				      "expected API version (%s)", a, apiv);
		return -1;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(obj, "kind");
	cJSON_DeleteItemFromObjectCaseSensitive(obj, "apiVersion");
	/* apiVersion/kind first, as Go's struct order prints them. */
	cJSON *kv = cJSON_CreateString(apiv), *kk = cJSON_CreateString(d->kind);
	kv->string = strdup("apiVersion");
	kk->string = strdup("kind");
	kv->next = kk;
	kk->prev = kv;
	kk->next = obj->child;
	if (obj->child) {
		kv->prev = obj->child->prev;
		obj->child->prev = kk;
	} else {
		kv->prev = kk;
	}
	obj->child = kv;
	return 0;
}

static void validate_meta(const res_desc *d, const cJSON *obj, res_errs *e)
{
	const char *name = kc_meta_name(obj);
	if (!name[0])
		res_err(e, "FieldValueRequired", "metadata.name",
			"Required value: name or generateName is required");
	else if (!strcmp(d->plural, "namespaces"))
		res_validate_name(name, 1, "metadata.name", e);
	else if (!strcmp(d->plural, "services")) {
		res_validate_name(name, 1, "metadata.name", e);
		if (e->n == 0 && !(name[0] >= 'a' && name[0] <= 'z'))
			res_err(e, "FieldValueInvalid", "metadata.name",
				"Invalid value: \"%s\": a DNS-1035 label must consist of lower case "
				"alphanumeric characters or '-', start with an alphabetic character, "
				"and end with an alphanumeric character (e.g. 'my-name',  or "
				"'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
				name);
	} else
		res_validate_name(name, 0, "metadata.name", e);
	const cJSON *l;
	cJSON_ArrayForEach(l, kc_meta_labels(obj))
	{
		if (!cJSON_IsString(l)) {
			char f[300];
			snprintf(f, sizeof(f), "metadata.labels");
			res_err(e, "FieldValueInvalid", f, "Invalid value: label values must be "
							   "strings");
			break;
		}
		char err[512];
		if (kc_labels_validate_key(l->string, err, sizeof(err)) ||
		    kc_labels_validate_value(l->valuestring, err, sizeof(err)))
			res_err(e, "FieldValueInvalid", "metadata.labels", "Invalid value: \"%s\": %s",
				l->valuestring, err);
	}
}

/* Go's omitempty on ObjectMeta: empty label/annotation maps and empty lists vanish when
 * upstream round-trips the object through its typed struct; do the same. */
static void tidy_meta(cJSON *obj)
{
	cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	static const char *const f[] = { "labels", "annotations", "finalizers", "ownerReferences",
					 NULL };
	for (int i = 0; f[i]; i++) {
		cJSON *v = cJSON_GetObjectItemCaseSensitive(md, f[i]);
		if (v && (cJSON_IsNull(v) || ((cJSON_IsObject(v) || cJSON_IsArray(v)) && !v->child)))
			cJSON_DeleteItemFromObjectCaseSensitive(md, f[i]);
	}
}

/* NamespaceLifecycle admission: 404 for a missing namespace, 403 for a terminating one. */
static cJSON *ns_admit(reg *r, const char *ns)
{
	cJSON *nsobj = NULL;
	int code = reg_get_cached(r, &res_namespaces, NULL, ns, &nsobj);
	if (code != 200)
		return nsobj;
	cJSON *err = NULL;
	if (!strcmp(kc_json_get_string(nsobj, "status.phase", ""), "Terminating") ||
	    kc_meta_deletion_timestamp(nsobj)[0]) {
		err = st_new(403, "Forbidden", "unable to create new content in namespace %s "
					       "because it is being terminated", ns);
		st_details(err, ns, "", "namespaces");
		/* NamespaceLifecycle's NewForbidden carries a NamespaceTerminating cause
		 * (k8s.io/api/core/v1 NamespaceTerminatingCause). */
		cJSON *causes = cJSON_AddArrayToObject(cJSON_GetObjectItemCaseSensitive(err, "details"),
						       "causes");
		cJSON *c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "reason", "NamespaceTerminating");
		char msg[320];
		snprintf(msg, sizeof(msg), "namespace %s is being terminated", ns);
		cJSON_AddStringToObject(c, "message", msg);
		cJSON_AddStringToObject(c, "field", "metadata.namespace");
		cJSON_AddItemToArray(causes, c);
	}
	cJSON_Delete(nsobj);
	return err;
}

static int create(reg *r, const res_desc *d, const char *ns, cJSON *obj, const cJSON *body,
		  int dry_run, cJSON **out, char **text, size_t *text_len);

int reg_create(reg *r, const res_desc *d, const char *ns, const cJSON *body, int dry_run,
	       cJSON **out)
{
	cJSON *obj = cJSON_IsObject(body) ? cJSON_Duplicate(body, 1) : NULL;
	if (cJSON_IsObject(body) && !obj)
		return reg__fail(out, st_internal("out of memory"));
	return reg_create_take(r, d, ns, obj, dry_run, out, NULL, NULL);
}

int reg_create_take(reg *r, const res_desc *d, const char *ns, cJSON *obj, int dry_run,
		    cJSON **out, char **text, size_t *text_len)
{
	if (text)
		*text = NULL;
	if (!cJSON_IsObject(obj)) {
		cJSON_Delete(obj);
		return reg__fail(out, st_bad_request("the body of the request was in an unknown format "
						"- accepted media types include: application/json, "
						"application/yaml, application/vnd.kubernetes.protobuf"));
	}
	/* Apply-create derives managedFields from the request as it came, before defaulting. */
	cJSON *body = cur_fm && cur_fm->apply ? cJSON_Duplicate(obj, 1) : NULL;
	if (cur_fm && cur_fm->apply && !body) {
		cJSON_Delete(obj);
		return reg__fail(out, st_internal("out of memory"));
	}
	int code = create(r, d, ns, obj, body, dry_run, out, text, text_len);
	cJSON_Delete(body);
	return code;
}

/* reg_create_take's work: obj (taken) is the object to create, body (borrowed) the request
 * as sent, only needed by an apply-create (NULL otherwise). */
static int create(reg *r, const res_desc *d, const char *ns, cJSON *obj, const cJSON *body,
		  int dry_run, cJSON **out, char **text, size_t *text_len)
{
	cJSON *st = NULL;
	if (check_type_meta(d, obj, &st)) {
		cJSON_Delete(obj);
		return reg__fail(out, st);
	}
	if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(obj, "metadata"))) {
		cJSON_DeleteItemFromObjectCaseSensitive(obj, "metadata");
		cJSON_AddObjectToObject(obj, "metadata");
	}
	if (d->namespaced) {
		const char *bns = kc_meta_namespace(obj);
		if (bns[0] && strcmp(bns, ns)) {
			cJSON_Delete(obj);
			return reg__fail(out, st_bad_request("the namespace of the provided object does "
							"not match the namespace sent on the "
							"request"));
		}
		kc_meta_set_namespace(obj, ns);
	} else {
		kc_meta_set_namespace(obj, NULL);
	}
	if (!kc_meta_name(obj)[0] && kc_meta_generate_name(obj)[0]) {
		char gen[80];
		if (!kc_meta_generate_name_suffix(r->clock, kc_meta_generate_name(obj), gen,
						  sizeof(gen)))
			kc_meta_set_name(obj, gen);
	}
	/* BeforeCreate: server-set metadata. */
	cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	static const char *const drop[] = { "resourceVersion", "selfLink", "deletionTimestamp",
					    "deletionGracePeriodSeconds", "managedFields", NULL };
	for (int i = 0; drop[i]; i++)
		cJSON_DeleteItemFromObjectCaseSensitive(md, drop[i]);
	char uid[KC_UUID_LEN + 1];
	kc_meta_uuid_v4(r->clock, uid);
	kc_meta_set_uid(obj, uid);
	kc_meta_set_creation_time(obj, kc_now_wall(r->clock));
	if (cJSON_GetObjectItemCaseSensitive(obj, "spec") || d->gen_on_spec)
		kc_meta_set_generation(obj, 1);
	else
		cJSON_DeleteItemFromObjectCaseSensitive(md, "generation");
	/* PrepareForCreate: clients cannot set status on create (the kubelet writes node status
	 * when it registers, so nodes keep theirs; pods get Pending + QoS from defaulting). */
	if (d->has_status && d != &res_nodes)
		cJSON_DeleteItemFromObjectCaseSensitive(obj, "status");
	tidy_meta(obj);
	if (d->defaults)
		d->defaults(obj);
	/* Only the count is cleared: res_err fills each cause it appends, and zeroing the
	 * whole 9.6 KB array was a visible memset in every create. */
	res_errs e;
	e.n = 0;
	validate_meta(d, obj, &e);
	if (d->validate)
		d->validate(obj, NULL, &e);
	const char *name = kc_meta_name(obj);
	if (e.n) {
		st = st_invalid(d, name, &e);
		cJSON_Delete(obj);
		return reg__fail(out, st);
	}
	if (d->namespaced && (st = ns_admit(r, ns)) != NULL) {
		cJSON_Delete(obj);
		return reg__fail(out, st);
	}
	if (d == &res_pods && (st = adm_serviceaccount(r, ns, obj)) != NULL) {
		cJSON_Delete(obj);
		return reg__fail(out, st);
	}
	if (d == &res_pods && (st = adm_priority(r, obj)) != NULL) {
		cJSON_Delete(obj);
		return reg__fail(out, st);
	}
	if (d == &res_pods && (st = adm_limitranger(r, ns, obj)) != NULL) {
		cJSON_Delete(obj);
		return reg__fail(out, st);
	}
	if (d == &res_pods && cJSON_GetObjectItemCaseSensitive(res_path(obj, "metadata.annotations"),
							       "kubernetes.io/limit-ranger")) {
		/* Upstream computes the QoS class after admission: redo it over the defaults
		 * LimitRanger added. */
		cJSON_DeleteItemFromObjectCaseSensitive(res_path(obj, "status"), "qosClass");
		d->defaults(obj);
	}
	if (d == &res_resourcequotas && quota_init_status(r, ns, obj)) {
		cJSON_Delete(obj);
		return reg__fail(out, st_internal("resourcequotas: cannot compute usage in namespace %s",
					     ns));
	}
	if (cur_fm) {
		mf_req rq;
		char apiv[96];
		fm_req(r, d, &rq, apiv, sizeof(apiv));
		cJSON *applied = NULL;
		if (cur_fm->apply && mf_apply(NULL, body, d->kind, &rq, &applied, &st) == 0) {
			/* Apply-create: the applier owns exactly what it applied. */
			cJSON *mf = cJSON_DetachItemFromObjectCaseSensitive(
				cJSON_GetObjectItemCaseSensitive(applied, "metadata"), "managedFields");
			if (mf)
				cJSON_AddItemToObject(res_obj(obj, "metadata"), "managedFields", mf);
		} else if (!cur_fm->apply) {
			mf_update(NULL, obj, d->kind, &rq);
		}
		cJSON_Delete(applied);
		cJSON_Delete(st);
		st = NULL;
	}
	char key[512];
	if (reg_key(r, d, ns, name, key, sizeof(key)) < 0) {
		cJSON_Delete(obj);
		return reg__fail(out, st_bad_request("name too long"));
	}
	if (dry_run) {
		int64_t mod;
		cJSON *old = NULL;
		int rc = load(r, key, &old, &mod);
		cJSON_Delete(old);
		if (rc == 0) {
			st = st_already_exists(d, name);
			cJSON_Delete(obj);
			return reg__fail(out, st);
		}
		*out = obj;
		return 201;
	}
	int allocated = 0;
	if (d == &res_services) {
		/* An existing Service must not burn an address: check before allocating. */
		int64_t mod;
		cJSON *old = NULL;
		if (load(r, key, &old, &mod) == 0) {
			cJSON_Delete(old);
			st = st_already_exists(d, name);
			cJSON_Delete(obj);
			return reg__fail(out, st);
		}
		if (svc_alloc_create(r, ns, obj, &st)) {
			cJSON_Delete(obj);
			return reg__fail(out, st);
		}
		allocated = 1;
	}
	size_t vlen = 0, md_end = 0;
	char *val = encode_store(obj, &vlen, &md_end);
	int64_t rev = 0;
	int64_t lease = d == &res_events ? event_lease(r) : 0;
	int rc = -ENOMEM;
	/* ResourceQuota admission: the quotas' new usage is written in the object's txn; a
	 * quota that moved meanwhile (KC_ECONFLICT while the key is still free) is re-read. */
	for (int attempt = 0; val && attempt < REG_RETRIES; attempt++) {
		quota_plan qp = { .n = 0 };
		/* The first attempt reads the quotas from the watch cache; a retry after a
		 * conflict from the store. */
		if (d->namespaced &&
		    (st = quota_admit_create(r, d, ns, obj, attempt > 0, &qp)) != NULL)
			break;
		rc = txn_put_if_with(r->etcd, key, val, 0, lease, qp.side, qp.n, &rev);
		if (rc == 0)
			wrote(r, key, qp.side, qp.n, rev);
		int had_quota = qp.n > 0;
		quota_plan_free(&qp);
		cJSON *cur = NULL;
		int64_t cmod;
		if (rc != KC_ECONFLICT || !had_quota || load(r, key, &cur, &cmod) == 0) {
			cJSON_Delete(cur);
			break;
		}
	}
	if (st) {
		free(val);
		if (allocated)
			svc_alloc_release(r, obj);
		cJSON_Delete(obj);
		return reg__fail(out, st);
	}
	if (rc) {
		free(val);
		val = NULL;
	}
	if (rc && allocated)
		svc_alloc_release(r, obj);
	if (rc == KC_ECONFLICT) {
		st = st_already_exists(d, name);
		cJSON_Delete(obj);
		return reg__fail(out, st);
	}
	if (rc) {
		cJSON_Delete(obj);
		return reg__store_fail(out, rc, "create");
	}
	set_rv(obj, rev);
	if (text && val && md_end)
		*text = with_rv(val, vlen, md_end, rev, text_len);
	free(val);
	/* V(3), the level of upstream's per-request httplog line that reports a create (there
	 * is no separate "created" line upstream): at the default -v=2 this was one log write
	 * per created pod and Event. */
	kc_log_v(3, "created %s %s%s%s rv=%lld", d->plural, ns ? ns : "", ns && ns[0] ? "/" : "",
		 name, (long long)rev);
	*out = obj;
	return 201;
}

/* ---- update ---- */

/* Builds the object to store from the incoming one and the current one (PrepareForUpdate):
 * server-owned metadata from old; status or spec preserved depending on the endpoint;
 * generation bumped when the spec changed. Takes nobj. */
cJSON *reg__prepare_update(reg *r, const res_desc *d, const cJSON *old, cJSON *nobj,
			   enum reg_sub sub)
{
	cJSON *md = res_obj(nobj, "metadata");
	static const char *const keep[] = { "uid", "creationTimestamp", "namespace", "generation",
					    "deletionTimestamp", "deletionGracePeriodSeconds", NULL };
	const cJSON *omd = cJSON_GetObjectItemCaseSensitive(old, "metadata");
	for (int i = 0; keep[i]; i++) {
		cJSON_DeleteItemFromObjectCaseSensitive(md, keep[i]);
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(omd, keep[i]);
		if (v)
			cJSON_AddItemToObject(md, keep[i], cJSON_Duplicate(v, 1));
	}
	/* managedFields are the server's: carried over from old, except that an apply has
	 * already computed them (mf_apply) and an update records itself below. */
	if (!(cur_fm && cur_fm->apply)) {
		cJSON_DeleteItemFromObjectCaseSensitive(md, "managedFields");
		const cJSON *omf = cJSON_GetObjectItemCaseSensitive(omd, "managedFields");
		if (omf)
			cJSON_AddItemToObject(md, "managedFields", cJSON_Duplicate(omf, 1));
	}
	tidy_meta(nobj);
	const char *part = sub == REG_STATUS ? "spec" : (d->has_status ? "status" : NULL);
	if (part) {
		cJSON_DeleteItemFromObjectCaseSensitive(nobj, part);
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(old, part);
		if (v)
			cJSON_AddItemToObject(nobj, part, cJSON_Duplicate(v, 1));
	}
	if (sub == REG_MAIN && d->defaults)
		d->defaults(nobj);
	/* The quota controller's job upstream: status.hard follows spec.hard, usage recounted. */
	if (sub == REG_MAIN && d == &res_resourcequotas &&
	    !kc_json_equal(res_path(old, "spec"), res_path(nobj, "spec")) &&
	    quota_init_status(r, kc_meta_namespace(old), nobj))
		kc_warn("resourcequota %s/%s: cannot recount usage", kc_meta_namespace(old),
			kc_meta_name(old));
	if (kc_meta_generation(old) > 0 &&
	    !kc_json_equal(cJSON_GetObjectItemCaseSensitive(old, "spec"),
			   cJSON_GetObjectItemCaseSensitive(nobj, "spec")))
		kc_meta_set_generation(nobj, kc_meta_generation(old) + 1);
	if (cur_fm && !cur_fm->apply) {
		mf_req rq;
		char apiv[96];
		fm_req(r, d, &rq, apiv, sizeof(apiv));
		mf_update(old, nobj, d->kind, &rq);
	}
	return nobj;
}

static int same_ignoring_rv(const cJSON *a, const cJSON *b)
{
	cJSON *x = cJSON_Duplicate(a, 1), *y = cJSON_Duplicate(b, 1);
	cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(x, "metadata"),
						"resourceVersion");
	cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(y, "metadata"),
						"resourceVersion");
	int eq = kc_json_equal(x, y);
	cJSON_Delete(x);
	cJSON_Delete(y);
	return eq;
}

/* A namespace may go once neither its spec nor its metadata finalizers remain. */
static int ns_finalized(const cJSON *ns)
{
	return !cJSON_GetArraySize(res_path(ns, "spec.finalizers")) &&
	       !cJSON_GetArraySize(res_path(ns, "metadata.finalizers"));
}

/* Validates and writes nobj (taken) over old (mod_revision mod). 200 with the stored object,
 * 409 on a concurrent change (*conflict set so patch can retry), or a Status. */
int reg__write_update(reg *r, const res_desc *d, const char *key, const cJSON *old,
		       int64_t mod, cJSON *nobj, int dry_run, int *conflict, cJSON **out)
{
	const char *name = kc_meta_name(old);
	*conflict = 0;
	res_errs e; /* only the count: res_err fills what it appends (see reg_create) */
	e.n = 0;
	validate_meta(d, nobj, &e);
	if (d->validate)
		d->validate(nobj, old, &e);
	if (e.n) {
		cJSON_Delete(nobj);
		return reg__fail(out, st_invalid(d, name, &e));
	}
	if (same_ignoring_rv(old, nobj)) {
		/* No-op: upstream skips the write, so resourceVersion does not move. */
		cJSON_Delete(nobj);
		*out = cJSON_Duplicate(old, 1);
		return 200;
	}
	if (dry_run) {
		*out = nobj;
		return 200;
	}
	int64_t rev = 0;
	int rc;
	/* Finalizers emptied on an object being deleted: the delete completes now. */
	if (kc_meta_deletion_timestamp(nobj)[0] &&
	    !cJSON_GetArraySize(res_path(nobj, "metadata.finalizers")) &&
	    (d != &res_namespaces || ns_finalized(nobj))) {
		rc = cas_delete_charged(r, d, key, old, mod, &rev);
		if (!rc && d == &res_services)
			svc_alloc_release(r, old);
	} else {
		char *val = encode_for_store(nobj);
		rc = val ? cas_put(r, key, val, mod, &rev) : -ENOMEM;
		free(val);
	}
	if (rc == KC_ECONFLICT) {
		*conflict = 1;
		cJSON_Delete(nobj);
		return reg__fail(out, st_conflict(d, name, ST_MODIFIED));
	}
	if (rc) {
		cJSON_Delete(nobj);
		return reg__store_fail(out, rc, "update");
	}
	set_rv(nobj, rev);
	*out = nobj;
	return 200;
}

/* reg__write_update for Services: allocation of new NodePorts before, release of dropped ones
 * after (or of the new ones when the write failed). Takes nobj. */
static int write_service_update(reg *r, const char *ns, const char *key, const cJSON *old,
				int64_t mod, cJSON *nobj, enum reg_sub sub, int dry_run,
				int *conflict, cJSON **out)
{
	cJSON *st = NULL;
	*conflict = 0;
	if (sub != REG_MAIN || dry_run)
		return reg__write_update(r, &res_services, key, old, mod, nobj, dry_run, conflict, out);
	if (svc_alloc_update(r, ns, old, nobj, &st)) {
		cJSON_Delete(nobj);
		return reg__fail(out, st);
	}
	cJSON *attempt = cJSON_Duplicate(nobj, 1);
	int code = reg__write_update(r, &res_services, key, old, mod, nobj, dry_run, conflict, out);
	if (code == 200)
		svc_alloc_after_update(r, old, *out);
	else
		svc_alloc_after_update(r, attempt, old);
	cJSON_Delete(attempt);
	return code;
}

int reg_update(reg *r, const res_desc *d, const char *ns, const char *name, const cJSON *body,
	       enum reg_sub sub, int dry_run, cJSON **out)
{
	cJSON *st = NULL;
	if (!cJSON_IsObject(body))
		return reg__fail(out, st_bad_request("the body of the request was in an unknown format"));
	cJSON *nobj = cJSON_Duplicate(body, 1);
	if (check_type_meta(d, nobj, &st)) {
		cJSON_Delete(nobj);
		return reg__fail(out, st);
	}
	const char *bname = kc_meta_name(nobj), *bns = kc_meta_namespace(nobj);
	if (strcmp(bname, name)) {
		cJSON_Delete(nobj);
		return reg__fail(out, st_bad_request("the name of the object (%s) does not match the "
						"name on the URL (%s)", bname, name));
	}
	if (d->namespaced && bns[0] && strcmp(bns, ns)) {
		cJSON_Delete(nobj);
		return reg__fail(out, st_bad_request("the namespace of the provided object does not "
						"match the namespace sent on the request"));
	}
	char key[512];
	if (reg_key(r, d, ns, name, key, sizeof(key)) < 0) {
		cJSON_Delete(nobj);
		return reg__fail(out, st_not_found(d, name));
	}
	cJSON *old;
	int64_t mod;
	int rc = load(r, key, &old, &mod);
	if (rc == KC_ENOTFOUND) {
		cJSON_Delete(nobj);
		/* Upstream creates on PUT only for kinds that AllowCreateOnUpdate (none here
		 * but events/leases/endpoints do: mirror those). */
		if (sub == REG_MAIN && (d == &res_events || d == &res_leases || d == &res_endpoints))
			return reg_create(r, d, ns, body, dry_run, out);
		return reg__fail(out, st_not_found(d, name));
	}
	if (rc) {
		cJSON_Delete(nobj);
		return reg__store_fail(out, rc, "update");
	}
	const char *brv = kc_meta_resource_version(nobj);
	if (brv[0] && strcmp(brv, kc_meta_resource_version(old))) {
		cJSON_Delete(nobj);
		cJSON_Delete(old);
		return reg__fail(out, st_conflict(d, name, ST_MODIFIED));
	}
	if (sub == REG_FINALIZE) {
		/* namespaces/<name>/finalize (FinalizeREST): only spec.finalizers changes. */
		cJSON *fin = cJSON_Duplicate(res_path(nobj, "spec.finalizers"), 1);
		cJSON_Delete(nobj);
		nobj = cJSON_Duplicate(old, 1);
		cJSON *spec = res_obj(nobj, "spec");
		cJSON_DeleteItemFromObjectCaseSensitive(spec, "finalizers");
		cJSON_AddItemToObject(spec, "finalizers",
				      cJSON_IsArray(fin) ? fin : cJSON_CreateArray());
		if (!cJSON_IsArray(fin))
			cJSON_Delete(fin);
	}
	nobj = reg__prepare_update(r, d, old, nobj, sub);
	int conflict;
	int code = d == &res_services
			   ? write_service_update(r, ns, key, old, mod, nobj, sub, dry_run, &conflict, out)
			   : reg__write_update(r, d, key, old, mod, nobj, dry_run, &conflict, out);
	cJSON_Delete(old);
	return code;
}

/* ---- patch ---- */

static int apply_patch(const res_desc *d, const cJSON *cur, const char *ctype,
		       const cJSON *patch, cJSON **res, cJSON **st)
{
	char err[512] = "";
	int rc;
	if (!strncmp(ctype, "application/json-patch+json", 27))
		rc = patch_json(cur, patch, res, err, sizeof(err));
	else if (!strncmp(ctype, "application/merge-patch+json", 28))
		rc = patch_merge(cur, patch, res, err, sizeof(err));
	else
		rc = patch_strategic(cur, patch, d->kind, res, err, sizeof(err));
	if (rc == KC_EPARSE) {
		*st = st_bad_request("%s", err);
		return -1;
	}
	if (rc) {
		*st = st_new(422, "Invalid", "%s", err);
		return -1;
	}
	if (!cJSON_IsObject(*res)) {
		cJSON_Delete(*res);
		*res = NULL;
		*st = st_bad_request("the patched object is not a JSON object");
		return -1;
	}
	return 0;
}

/* PATCH of a version served from another's storage: the patch applies to the object as the
 * client sees it (upstream patches the external version too), then the result is converted
 * back and written with its resourceVersion as a precondition (retried on a race). */
static int patch_view(reg *r, const res_desc *d, const char *ns, const char *name,
		      const char *ctype, const cJSON *patch, enum reg_sub sub, int dry_run,
		      cJSON **out)
{
	const res_desc *sd = d->storage;
	int apply = !strncmp(ctype, "application/apply-patch", 23);
	for (int attempt = 0; attempt < REG_RETRIES; attempt++) {
		cJSON *cur = NULL, *nobj = NULL, *st = NULL;
		int code = reg_get(r, sd, ns, name, &cur);
		if (code == 404 && apply && sub == REG_MAIN) {
			cJSON_Delete(cur);
			cJSON *body = cJSON_Duplicate(patch, 1);
			if (cJSON_IsObject(body) && !kc_meta_name(body)[0])
				kc_meta_set_name(body, name);
			if (cJSON_IsObject(body) && d->to_storage)
				d->to_storage(body);
			if (cJSON_IsObject(body)) {
				char apiv[96];
				cJSON_DeleteItemFromObjectCaseSensitive(body, "apiVersion");
				cJSON_DeleteItemFromObjectCaseSensitive(body, "kind");
				cJSON_AddStringToObject(body, "apiVersion",
							res_api_version(sd, apiv, sizeof(apiv)));
				cJSON_AddStringToObject(body, "kind", sd->kind);
			}
			code = reg_create(r, sd, ns, body, dry_run, out);
			cJSON_Delete(body);
			return code;
		}
		if (code != 200) {
			*out = cur;
			return code;
		}
		res_view(d, cur);
		if (apply && cur_fm) {
			/* Server-side apply on the version the client speaks. */
			mf_req rq;
			char apiv[96];
			fm_req(r, d, &rq, apiv, sizeof(apiv));
			if (!cJSON_IsObject(patch)) {
				cJSON_Delete(cur);
				return reg__fail(out, st_bad_request("the apply configuration is not a "
								"JSON object"));
			}
			if (mf_apply(cur, patch, d->kind, &rq, &nobj, &st)) {
				cJSON_Delete(cur);
				return reg__fail(out, st);
			}
		} else if (apply_patch(d, cur, ctype, patch, &nobj, &st)) {
			cJSON_Delete(cur);
			return reg__fail(out, st);
		}
		const char *prv = kc_json_get_string(patch, "metadata.resourceVersion", "");
		if (cJSON_IsObject(patch) && prv[0] && strcmp(prv, kc_meta_resource_version(cur))) {
			cJSON_Delete(cur);
			cJSON_Delete(nobj);
			return reg__fail(out, st_conflict(sd, name, ST_MODIFIED));
		}
		kc_meta_set_resource_version(nobj, kc_meta_resource_version(cur));
		cJSON_Delete(cur);
		if (d->to_storage)
			d->to_storage(nobj);
		char apiv[96];
		cJSON_DeleteItemFromObjectCaseSensitive(nobj, "apiVersion");
		cJSON_DeleteItemFromObjectCaseSensitive(nobj, "kind");
		cJSON_AddStringToObject(nobj, "apiVersion", res_api_version(sd, apiv, sizeof(apiv)));
		cJSON_AddStringToObject(nobj, "kind", sd->kind);
		code = reg_update(r, sd, ns, name, nobj, sub, dry_run, out);
		cJSON_Delete(nobj);
		if (code != 409 || prv[0])
			return code;
		cJSON_Delete(*out);
		*out = NULL;
	}
	return reg__fail(out, st_conflict(sd, name, ST_MODIFIED));
}

int reg_patch(reg *r, const res_desc *d, const char *ns, const char *name, const char *ctype,
	      const cJSON *patch, enum reg_sub sub, int dry_run, cJSON **out)
{
	if (d->storage)
		return patch_view(r, d, ns, name, ctype, patch, sub, dry_run, out);
	char key[512];
	if (reg_key(r, d, ns, name, key, sizeof(key)) < 0)
		return reg__fail(out, st_not_found(d, name));
	int apply = !strncmp(ctype, "application/apply-patch", 23);
	for (int attempt = 0; attempt < REG_RETRIES; attempt++) {
		cJSON *old, *nobj = NULL, *st = NULL;
		int64_t mod;
		int rc = load(r, key, &old, &mod);
		if (rc == KC_ENOTFOUND) {
			if (apply && sub == REG_MAIN) {
				/* Server-side apply creates the object when it is absent. */
				cJSON *body = cJSON_Duplicate(patch, 1);
				if (cJSON_IsObject(body) && !kc_meta_name(body)[0])
					kc_meta_set_name(body, name);
				int code = reg_create(r, d, ns, body, dry_run, out);
				cJSON_Delete(body);
				return code;
			}
			return reg__fail(out, st_not_found(d, name));
		}
		if (rc)
			return reg__store_fail(out, rc, "patch");
		if (apply && cur_fm) {
			if (!cJSON_IsObject(patch)) {
				cJSON_Delete(old);
				return reg__fail(out, st_bad_request("the apply configuration is not a "
								"JSON object"));
			}
			mf_req rq;
			char apiv[96];
			fm_req(r, d, &rq, apiv, sizeof(apiv));
			if (mf_apply(old, patch, d->kind, &rq, &nobj, &st)) {
				cJSON_Delete(old);
				return reg__fail(out, st);
			}
		} else if (apply_patch(d, old, ctype, patch, &nobj, &st)) {
			cJSON_Delete(old);
			return reg__fail(out, st);
		}
		/* A patch carrying metadata.resourceVersion is a precondition. */
		const char *prv = kc_json_get_string(patch, "metadata.resourceVersion", "");
		if (cJSON_IsObject(patch) && prv[0] && strcmp(prv, kc_meta_resource_version(old))) {
			cJSON_Delete(old);
			cJSON_Delete(nobj);
			return reg__fail(out, st_conflict(d, name, ST_MODIFIED));
		}
		if (strcmp(kc_meta_name(nobj), name)) {
			cJSON_Delete(old);
			cJSON_Delete(nobj);
			return reg__fail(out, st_bad_request("metadata.name: Invalid value: \"%s\": field "
							"is immutable", kc_meta_name(nobj)));
		}
		if (check_type_meta(d, nobj, &st)) {
			cJSON_Delete(old);
			cJSON_Delete(nobj);
			return reg__fail(out, st);
		}
		nobj = reg__prepare_update(r, d, old, nobj, sub);
		int conflict;
		int code = d == &res_services ? write_service_update(r, ns, key, old, mod, nobj, sub,
								     dry_run, &conflict, out)
					      : reg__write_update(r, d, key, old, mod, nobj, dry_run,
							     &conflict, out);
		cJSON_Delete(old);
		if (!conflict)
			return code;
		cJSON_Delete(*out); /* GuaranteedUpdate: retry on a concurrent write */
		*out = NULL;
	}
	return reg__fail(out, st_conflict(d, name, ST_MODIFIED));
}

/* ---- delete ---- */

/* Namespaces (pkg/registry/core/namespace/storage/storage.go Delete): the first DELETE only
 * marks the namespace (deletionTimestamp, status.phase Terminating) and answers 200 with it;
 * the namespace controller empties it and PUTs namespaces/<name>/finalize without
 * "kubernetes"; the object goes once spec.finalizers and metadata.finalizers are both empty.
 * The NamespaceLifecycle admission plugin forbids deleting the immortal namespaces. */
static int delete_namespace(reg *r, const char *key, const char *name, const cJSON *opts,
			    int dry_run, cJSON **out)
{
	static const char *const immortal[] = { "default", "kube-system", "kube-public", NULL };
	for (int i = 0; immortal[i]; i++)
		if (!strcmp(name, immortal[i])) {
			cJSON *st = st_new(403, "Forbidden", "namespaces \"%s\" is forbidden: this "
							     "namespace may not be deleted", name);
			st_details(st, name, "", "namespaces");
			return reg__fail(out, st);
		}
	for (int attempt = 0; attempt < REG_RETRIES; attempt++) {
		cJSON *old;
		int64_t mod, rev = 0;
		int rc = load(r, key, &old, &mod);
		if (rc == KC_ENOTFOUND)
			return reg__fail(out, st_not_found(&res_namespaces, name));
		if (rc)
			return reg__store_fail(out, rc, "delete");
		const char *puid = kc_json_get_string(opts, "preconditions.uid", NULL);
		if (puid && strcmp(puid, kc_meta_uid(old))) {
			char why[256];
			snprintf(why, sizeof(why), "Precondition failed: UID in precondition: %s, "
						   "UID in object meta: %s", puid, kc_meta_uid(old));
			cJSON_Delete(old);
			return reg__fail(out, st_conflict(&res_namespaces, name, why));
		}
		cJSON *nobj = cJSON_Duplicate(old, 1);
		if (kc_meta_deletion_timestamp(old)[0] && !ns_finalized(old)) {
			/* Already terminating: nothing to change until the finalizers are gone. */
			cJSON_Delete(nobj);
			*out = old;
			return 200;
		}
		if (!kc_meta_deletion_timestamp(nobj)[0])
			kc_meta_set_deletion_time(nobj, kc_now_wall(r->clock));
		kc_json_set_string(nobj, "status.phase", "Terminating");
		if (!strcmp(kc_json_get_string(opts, "propagationPolicy", ""), "Orphan"))
			kc_meta_add_finalizer(nobj, "orphan");
		if (dry_run) {
			cJSON_Delete(old);
			*out = nobj;
			return 200;
		}
		int gone = ns_finalized(nobj);
		if (gone) {
			rc = cas_delete(r, key, mod, &rev);
		} else {
			char *val = encode_for_store(nobj);
			rc = val ? cas_put(r, key, val, mod, &rev) : -ENOMEM;
			free(val);
		}
		cJSON_Delete(old);
		if (rc == KC_ECONFLICT) {
			cJSON_Delete(nobj);
			continue;
		}
		if (rc) {
			cJSON_Delete(nobj);
			return reg__store_fail(out, rc, "delete");
		}
		if (!gone)
			set_rv(nobj, rev);
		*out = nobj;
		return 200;
	}
	return reg__fail(out, st_conflict(&res_namespaces, name, ST_MODIFIED));
}

int reg_delete(reg *r, const res_desc *d, const char *ns, const char *name, const cJSON *opts,
	       int dry_run, cJSON **out)
{
	char key[512];
	if (reg_key(r, d, ns, name, key, sizeof(key)) < 0)
		return reg__fail(out, st_not_found(d, name));
	if (d == &res_namespaces)
		return delete_namespace(r, key, name, opts, dry_run, out);
	for (int attempt = 0; attempt < REG_RETRIES; attempt++) {
		cJSON *old;
		int64_t mod, rev = 0;
		int rc = load(r, key, &old, &mod);
		if (rc == KC_ENOTFOUND)
			return reg__fail(out, st_not_found(d, name));
		if (rc)
			return reg__store_fail(out, rc, "delete");
		/* Preconditions {uid, resourceVersion}. */
		const char *puid = kc_json_get_string(opts, "preconditions.uid", NULL);
		const char *prv = kc_json_get_string(opts, "preconditions.resourceVersion", NULL);
		if ((puid && strcmp(puid, kc_meta_uid(old))) ||
		    (prv && strcmp(prv, kc_meta_resource_version(old)))) {
			char why[256];
			snprintf(why, sizeof(why), "Precondition failed: %s: %s, %s: %s",
				 puid ? "UID in precondition" : "ResourceVersion in precondition",
				 puid ? puid : prv, puid ? "UID in object meta" : "ResourceVersion in object meta",
				 puid ? kc_meta_uid(old) : kc_meta_resource_version(old));
			cJSON_Delete(old);
			return reg__fail(out, st_conflict(d, name, why));
		}
		const char *policy = kc_json_get_string(opts, "propagationPolicy", "");
		int64_t grace = kc_json_get_int64(opts, "gracePeriodSeconds", -1);
		cJSON *nobj = cJSON_Duplicate(old, 1);
		int graceful = 0;
		/* Finalizers (and the GC's orphan/foreground ones): mark, don't remove. */
		if (!strcmp(policy, "Foreground"))
			kc_meta_add_finalizer(nobj, "foregroundDeletion");
		else if (!strcmp(policy, "Orphan"))
			kc_meta_add_finalizer(nobj, "orphan");
		if (cJSON_GetArraySize(res_path(nobj, "metadata.finalizers")) > 0)
			graceful = 1;
		/* Pods bound to a node are deleted gracefully: the kubelet confirms. */
		if (d == &res_pods && kc_json_get_string(old, "spec.nodeName", "")[0] && grace != 0) {
			if (grace < 0)
				grace = kc_json_get_int64(old, "spec.terminationGracePeriodSeconds", 30);
			if (grace > 0)
				graceful = 1;
		}
		if (graceful) {
			if (kc_meta_deletion_timestamp(old)[0] && kc_json_equal(old, nobj)) {
				/* Already being deleted: nothing changes. */
				cJSON_Delete(nobj);
				*out = old;
				return 200;
			}
			if (!kc_meta_deletion_timestamp(nobj)[0]) {
				kc_meta_set_deletion_time(nobj, kc_now_wall(r->clock) +
									grace * 1000000000LL *
										(grace > 0));
				cJSON *md = cJSON_GetObjectItemCaseSensitive(nobj, "metadata");
				cJSON_DeleteItemFromObjectCaseSensitive(md, "deletionGracePeriodSeconds");
				cJSON_AddNumberToObject(md, "deletionGracePeriodSeconds",
							grace > 0 ? (double)grace : 0);
			}
			if (dry_run) {
				cJSON_Delete(old);
				*out = nobj;
				return 200;
			}
			char *val = encode_for_store(nobj);
			rc = val ? cas_put(r, key, val, mod, &rev) : -ENOMEM;
			free(val);
		} else {
			rc = dry_run ? 0 : cas_delete_charged(r, d, key, old, mod, &rev);
			if (!rc && !dry_run && d == &res_services)
				svc_alloc_release(r, old);
		}
		cJSON_Delete(old);
		if (rc == KC_ECONFLICT) {
			cJSON_Delete(nobj);
			continue;
		}
		if (rc) {
			cJSON_Delete(nobj);
			return reg__store_fail(out, rc, "delete");
		}
		if (rev && graceful)
			set_rv(nobj, rev);
		if (!graceful && d != &res_pods && d != &res_services && d != &res_namespaces) {
			/* The generic store answers an immediate delete with a Success Status
			 * (ReturnDeletedObject is set only for pods and services). */
			cJSON *st = st_success(200);
			st_details(st, name, d->group, d->plural);
			cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(st, "details"), "uid",
						kc_meta_uid(nobj));
			cJSON_Delete(nobj);
			*out = st;
			return 200;
		}
		*out = nobj;
		return 200;
	}
	return reg__fail(out, st_conflict(d, name, ST_MODIFIED));
}

/* ---- pods/binding ---- */

int reg_bind(reg *r, const char *ns, const char *name, const cJSON *binding, cJSON **out)
{
	const char *node = kc_json_get_string(binding, "target.name", "");
	if (!node[0]) {
		res_errs e = { 0 };
		res_err_required(&e, "target.name");
		static const res_desc bdesc = { .group = "", .kind = "Binding", .plural = "bindings" };
		return reg__fail(out, st_invalid(&bdesc, name, &e));
	}
	char key[512];
	if (reg_key(r, &res_pods, ns, name, key, sizeof(key)) < 0)
		return reg__fail(out, st_not_found(&res_pods, name));
	/* The first read comes from the watch cache's copy of the pod (the scheduler binds pods
	 * it has just seen created through that cache): the write compares that
	 * mod_revision, so a stale copy only costs a conflict and a read from the store, as
	 * upstream's cacher gives GuaranteedUpdate its cached object. A refusal is never
	 * decided on a cached copy. */
	int cached = r->wc != NULL;
	for (int attempt = 0; attempt < REG_RETRIES; attempt++) {
		cJSON *old = NULL;
		int64_t mod, rev;
		int rc;
		int from_cache = cached && wc_get(r->wc, &res_pods, ns, name, &old, &mod) == 1;
		cached = 0;
		if (from_cache)
			rc = 0;
		else
			rc = load(r, key, &old, &mod);
		if (rc == KC_ENOTFOUND)
			return reg__fail(out, st_not_found(&res_pods, name));
		if (rc)
			return reg__store_fail(out, rc, "bind");
		const char *cur = kc_json_get_string(old, "spec.nodeName", "");
		if (from_cache && (cur[0] || kc_meta_deletion_timestamp(old)[0])) {
			cJSON_Delete(old);
			attempt--; /* not a conflict: decide on the store's copy */
			continue;
		}
		if (cur[0] || kc_meta_deletion_timestamp(old)[0]) {
			/* assignPod: "pod %v is already assigned to node %q" / being deleted. */
			char why[512];
			if (cur[0])
				snprintf(why, sizeof(why), "pod %s is already assigned to node \"%s\"",
					 name, cur);
			else
				snprintf(why, sizeof(why), "pod %s is being deleted, cannot be assigned "
							   "to a host", name);
			cJSON_Delete(old);
			cJSON *st = st_new(409, "Conflict",
					   "Operation cannot be fulfilled on pods/binding \"%s\": %s",
					   name, why);
			st_details(st, name, "", "pods/binding");
			return reg__fail(out, st);
		}
		cJSON *nobj = old; /* changed in place: old is not needed afterwards */
		old = NULL;
		kc_json_set_string(nobj, "spec.nodeName", node);
		cJSON *conds = res_path(nobj, "status.conditions");
		if (!cJSON_IsArray(conds)) {
			cJSON_DeleteItemFromObjectCaseSensitive(res_obj(nobj, "status"), "conditions");
			conds = cJSON_AddArrayToObject(res_obj(nobj, "status"), "conditions");
		}
		char now[KC_TIME_BUFLEN];
		kc_meta_time_format(kc_now_wall(r->clock), now, sizeof(now));
		cJSON *c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "type", "PodScheduled");
		cJSON_AddStringToObject(c, "status", "True");
		cJSON_AddNullToObject(c, "lastProbeTime");
		cJSON_AddStringToObject(c, "lastTransitionTime", now);
		for (int i = cJSON_GetArraySize(conds) - 1; i >= 0; i--)
			if (!strcmp(res_str(cJSON_GetArrayItem(conds, i), "type", ""), "PodScheduled"))
				cJSON_DeleteItemFromArray(conds, i);
		cJSON_AddItemToArray(conds, c);
		char *val = encode_for_store(nobj);
		cJSON_Delete(nobj);
		cJSON_Delete(old);
		rc = val ? cas_put(r, key, val, mod, &rev) : -ENOMEM;
		free(val);
		if (rc == KC_ECONFLICT) {
			if (from_cache)
				attempt--; /* the cached copy was stale: not one of the retries */
			continue;
		}
		if (rc)
			return reg__store_fail(out, rc, "bind");
		*out = st_success(201);
		return 201;
	}
	return reg__fail(out, st_conflict(&res_pods, name, ST_MODIFIED));
}

int reg_ensure_namespace(reg *r, const char *name)
{
	cJSON *body = cJSON_CreateObject(), *out = NULL;
	kc_meta_set_name(body, name);
	int code = reg_create(r, &res_namespaces, NULL, body, 0, &out);
	cJSON_Delete(body);
	cJSON_Delete(out);
	if (code == 201 || code == 409)
		return 0;
	return KC_ESERVER;
}
