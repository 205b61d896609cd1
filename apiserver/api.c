#include "api.h"
#include "managedfields.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "discovery.h"
#include "eviction.h"
#include "fieldschema.h"
#include "metrics.h"
#include "openapi.h"
#include "podexec.h"
#include "podlog.h"
#include "yamljson.h"
#include "errors.h"
#include "protobuf.h"
#include "json.h"
#include "log.h"
#include "status.h"
#include "table.h"

int api_bool(const char *v)
{
	if (!v)
		return 0;
	return !strcmp(v, "1") || !strcmp(v, "t") || !strcmp(v, "T") || !strcmp(v, "true") ||
	       !strcmp(v, "TRUE") || !strcmp(v, "True");
}

void api_json(api_resp *resp, int code, cJSON *obj, const char *ctype)
{
	resp->code = code;
	resp->body = kc_json_print_len(obj, &resp->len);
	resp->ctype = ctype ? ctype : "application/json";
	cJSON_Delete(obj);
	if (!resp->body) {
		resp->code = 500;
		resp->body = strdup("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
				    "\"status\":\"Failure\",\"message\":\"out of memory\","
				    "\"reason\":\"InternalError\",\"code\":500}");
		resp->len = resp->body ? strlen(resp->body) : 0;
	}
}

static void text(api_resp *resp, int code, const char *s)
{
	resp->code = code;
	resp->body = strdup(s);
	resp->len = resp->body ? strlen(s) : 0;
	resp->ctype = "text/plain; charset=utf-8";
}

static const char *qarg(const api_req *q, const char *name)
{
	return MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, name);
}

static int split(const char *path, char segs[][256], int max)
{
	int n = 0;
	const char *p = path;
	while (*p == '/')
		p++;
	while (*p && n < max) {
		const char *e = strchr(p, '/');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l >= 256)
			return -1;
		memcpy(segs[n], p, l);
		segs[n++][l] = 0;
		if (!e) {
			p += l;
			break;
		}
		p = e + 1;
		if (!*p) /* trailing slash */
			break;
	}
	if (*p && n == max)
		return -1;
	return n;
}

static void health(api_ctx *c, const api_req *q, api_resp *resp, const char *which)
{
	int store_ok = 1;
	if (!strcmp(which, "readyz")) {
		int64_t rev;
		store_ok = wc_ready(c->wc) && reg_revision(c->r, &rev) == 0;
	}
	if (qarg(q, "verbose")) {
		char buf[512];
		snprintf(buf, sizeof(buf), "[+]ping ok\n[+]log ok\n[%c]etcd %s\n%s check %s\n",
			 store_ok ? '+' : '-', store_ok ? "ok" : "failed: not connected", which,
			 store_ok ? "passed" : "failed");
		text(resp, store_ok ? 200 : 500, buf);
		return;
	}
	if (store_ok)
		text(resp, 200, "ok");
	else
		text(resp, 500, "[-]etcd failed: reason withheld\nreadyz check failed\n");
}

/* Parses the body of a write; NULL with *resp filled on error. */
static cJSON *parse_body(const api_req *q, api_resp *resp, int is_patch)
{
	const char *ct = q->content_type ? q->content_type : "application/json";
	int yaml = (!is_patch && !strncmp(ct, "application/yaml", 16)) ||
		   (is_patch && !strncmp(ct, "application/apply-patch+yaml", 28));
	int json = !strncmp(ct, "application/json", 16) || yaml ||
		   (is_patch && (!strncmp(ct, "application/merge-patch+json", 28) ||
				 !strncmp(ct, "application/strategic-merge-patch+json", 38) ||
				 !strncmp(ct, "application/json-patch+json", 27) ||
				 !strncmp(ct, "application/apply-patch+yaml", 28)));
	if (is_patch && !strncmp(ct, "application/json", 16) && strncmp(ct, "application/json-patch", 22))
		json = 0; /* plain JSON is not a patch type */
	if (!is_patch && !strncmp(ct, "application/vnd.kubernetes.protobuf", 35)) {
		/* kubectl create <kind> (client-go 1.32 typed clients) posts protobuf. */
		cJSON *obj = NULL;
		char perr[256];
		int rc = pb_decode_object(q->body, q->body_len, &obj, perr, sizeof(perr));
		if (rc == -ENOTSUP)
			api_json(resp, 415, st_new(415, "UnsupportedMediaType", "%s", perr), NULL);
		else if (rc)
			api_json(resp, 400, st_bad_request("%s", perr), NULL);
		return obj;
	}
	if (!json) {
		cJSON *st;
		if (is_patch)
			st = st_new(415, "UnsupportedMediaType",
				    "the server does not support the patch type \"%s\"", ct);
		else
			st = st_new(415, "UnsupportedMediaType",
				    "the body of the request was in an unknown format - accepted "
				    "media types include: application/json, application/yaml, "
				    "application/vnd.kubernetes.protobuf");
		api_json(resp, 415, st, NULL);
		return NULL;
	}
	cJSON *obj = NULL;
	char err[256];
	if (!q->body || !q->body_len) {
		api_json(resp, 400, st_bad_request("the body of the request was empty"), NULL);
		return NULL;
	}
	if (kc_json_parse(q->body, q->body_len, 0, &obj, err, sizeof(err))) {
		/* JSON is YAML: a YAML body that is JSON takes the fast path above. */
		if (yaml && yj_parse(q->body, q->body_len, &obj, err, sizeof(err)) == 0)
			return obj;
		api_json(resp, 400, st_bad_request("error decoding the request body: %s", err), NULL);
		return NULL;
	}
	return obj;
}

static void serve_list(api_ctx *c, const api_req *q, const res_desc *d, const char *ns,
		       api_resp *resp)
{
	const res_desc *sd = d->storage ? d->storage : d;
	char fsel[1024];
	if (res_field_selector_to_storage(d, qarg(q, "fieldSelector"), fsel, sizeof(fsel))) {
		api_json(resp, 400, st_bad_request("fieldSelector too long"), NULL);
		return;
	}
	if (api_bool(qarg(q, "watch"))) {
		wc_params p = { .ns = ns, .rv = qarg(q, "resourceVersion"),
				.label_selector = qarg(q, "labelSelector"),
				.field_selector = fsel,
				.bookmarks = api_bool(qarg(q, "allowWatchBookmarks")),
				.table = tbl_wanted(q->accept),
				.include = (int)tbl_include_parse(qarg(q, "includeObject")) };
		const char *ts = qarg(q, "timeoutSeconds");
		if (ts)
			p.timeout_sec = strtoll(ts, NULL, 10);
		else if (qarg(q, "timeout")) {
			/* kubectl get -w --request-timeout sends timeout=Ns (Go duration). */
			p.timeout_sec = strtoll(qarg(q, "timeout"), NULL, 10);
			if (p.timeout_sec <= 0)
				p.timeout_sec = 1;
		}
		cJSON *err = NULL;
		int code = wc_watch(c->wc, d, &p, q->conn, &resp->stream, &err);
		if (code != 200)
			api_json(resp, code, err, NULL);
		else
			resp->code = 200;
		return;
	}
	reg_list_opts o = { .label_selector = qarg(q, "labelSelector"),
			    .field_selector = fsel, .cont = qarg(q, "continue") };
	const char *lim = qarg(q, "limit");
	if (lim)
		o.limit = strtoll(lim, NULL, 10);
	const char *rvm = qarg(q, "resourceVersionMatch"), *rv = qarg(q, "resourceVersion");
	if (rvm && rvm[0]) {
		/* NotOlderThan is served at the latest revision; Exact at the given one. */
		if (!rv || !rv[0] || (strcmp(rvm, "Exact") && strcmp(rvm, "NotOlderThan"))) {
			api_json(resp, 400, st_bad_request("resourceVersionMatch: Invalid value: \"%s\": "
							   "resourceVersionMatch is forbidden unless "
							   "resourceVersion is provided", rvm), NULL);
			return;
		}
		if (!strcmp(rvm, "Exact")) {
			o.exact_rv = strtoll(rv, NULL, 10);
			if (o.exact_rv <= 0) {
				api_json(resp, 400, st_bad_request("resourceVersionMatch: Invalid value: "
								   "\"Exact\": resourceVersionMatch \"exact\" is "
								   "forbidden for resourceVersion \"0\""), NULL);
				return;
			}
		}
	}
	cJSON *out = NULL;
	int code = reg_list(c->r, sd, ns, &o, &out);
	if (code == 200)
		res_view(d, out);
	if (code == 200 && tbl_wanted(q->accept)) {
		cJSON *t = tbl_render(d, cJSON_GetObjectItemCaseSensitive(out, "items"),
				      tbl_include_parse(qarg(q, "includeObject")), 1,
				      kc_json_get_string(out, "metadata.resourceVersion", NULL),
				      kc_json_get_string(out, "metadata.continue", NULL),
				      kc_now_wall(c->clock) / 1000000000LL);
		cJSON_Delete(out);
		out = t;
	}
	api_json(resp, code, out, NULL);
}

/* DELETE on a collection: every matching object, then the list of what was deleted. */
static void delete_collection(api_ctx *c, const api_req *q, const res_desc *d, const char *ns,
			      int dry_run, api_resp *resp)
{
	reg_list_opts o = { .label_selector = qarg(q, "labelSelector"),
			    .field_selector = qarg(q, "fieldSelector") };
	cJSON *list = NULL;
	const res_desc *sd = d->storage ? d->storage : d;
	int code = reg_list(c->r, sd, ns, &o, &list);
	if (code != 200) {
		api_json(resp, code, list, NULL);
		return;
	}
	cJSON *items = cJSON_GetObjectItemCaseSensitive(list, "items"), *it;
	cJSON *done = cJSON_CreateArray();
	cJSON_ArrayForEach(it, items)
	{
		cJSON *out = NULL;
		int rc = reg_delete(c->r, sd, kc_json_get_string(it, "metadata.namespace", ns),
				    kc_json_get_string(it, "metadata.name", ""), NULL, dry_run, &out);
		if (rc == 200)
			cJSON_AddItemToArray(done, out);
		else
			cJSON_Delete(out);
	}
	cJSON_ReplaceItemInObjectCaseSensitive(list, "items", done);
	res_view(d, list);
	api_json(resp, 200, list, NULL);
}

/* fieldValidation (Strict, Warn, Ignore; Warn when absent, as upstream since 1.27) against
 * the kind's field schema. Strict: 400 with the strict decoder's message. Warn: one
 * `299 - "unknown field \"x\""` Warning header per field. Unknown fields are not dropped
 * (upstream's typed decoding drops them): the schema is a name list, not the types, and
 * keeping data is the safer error. Returns 0 to go on, -1 with *resp filled. */
static int field_validation(const api_req *q, const res_desc *d, const cJSON *body, int patch,
			    api_resp *resp)
{
	const char *fv = qarg(q, "fieldValidation");
	if (fv && fv[0] && strcmp(fv, "Strict") && strcmp(fv, "Warn") && strcmp(fv, "Ignore")) {
		api_json(resp, 400, st_bad_request("fieldValidation parameter unsupported: %s", fv),
			 NULL);
		return -1;
	}
	if ((fv && !strcmp(fv, "Ignore")) || !cJSON_IsObject(body))
		return 0;
	char msg[2048];
	int n = fs_unknown_fields(d, body, msg, sizeof(msg));
	if (!n)
		return 0;
	if (fv && !strcmp(fv, "Strict")) {
		if (patch)
			api_json(resp, 400, st_bad_request("strict decoding error: %s", msg), NULL);
		else
			api_json(resp, 400,
				 st_bad_request("%s in version \"%s\" cannot be handled as a %s: "
						"strict decoding error: %s", d->kind,
						d->version, d->kind, msg), NULL);
		return -1;
	}
	/* Warn: msg is `unknown field "a", unknown field "b"`; one header value per field. */
	size_t cap = strlen(msg) * 2 + 64 * (size_t)n + 1, off = 0;
	char *w = malloc(cap);
	if (!w)
		return 0;
	w[0] = 0;
	for (char *p = msg; *p;) {
		char *next = strstr(p + 1, ", unknown field \"");
		size_t len = next ? (size_t)(next - p) : strlen(p);
		off += (size_t)snprintf(w + off, cap - off, "299 - \"");
		for (size_t i = 0; i < len && off + 3 < cap; i++) {
			if (p[i] == '"' || p[i] == '\\')
				w[off++] = '\\';
			w[off++] = p[i];
		}
		off += (size_t)snprintf(w + off, cap - off, "\"\n");
		p = next ? next + 2 : p + len;
	}
	free(resp->warnings);
	resp->warnings = w;
	return 0;
}

/* boundObjectRef of a TokenRequest (token.go): the Pod, Secret or Node must exist, with the
 * reference's uid when one is given; a pod must run as this service account. Fills the
 * claims' refs; returns 0 or the HTTP code with *out a Status. */
static int bind_token(api_ctx *c, const char *ns, const char *sa_name, const cJSON *ref,
		      sat_claims *cl, cJSON **pod_out, cJSON **out)
{
	const char *kind = kc_json_get_string(ref, "kind", "");
	const char *apiv = kc_json_get_string(ref, "apiVersion", "");
	const char *name = kc_json_get_string(ref, "name", "");
	const char *want_uid = kc_json_get_string(ref, "uid", "");
	const char *slash = strchr(apiv, '/');
	/* schema.FromAPIVersionAndKind: "v1" is the core group; "g/v" has group g. */
	char group[128] = "";
	if (slash)
		snprintf(group, sizeof(group), "%.*s", (int)(slash - apiv), apiv);
	const res_desc *d = NULL;
	sat_ref *dst = NULL;
	if (!group[0] && !strcmp(kind, "Pod")) {
		d = &res_pods;
		dst = &cl->pod;
	} else if (!group[0] && !strcmp(kind, "Secret")) {
		d = &res_secrets;
		dst = &cl->secret;
	} else if (!group[0] && !strcmp(kind, "Node")) {
		d = &res_nodes;
		dst = &cl->node;
	} else {
		/* gvk.String(): "group/version, Kind=kind". */
		*out = st_bad_request("cannot bind token for serviceaccount \"%s\" to object of type "
				      "\"%s/%s, Kind=%s\"", sa_name, group,
				      slash ? slash + 1 : apiv, kind);
		return 400;
	}
	cJSON *obj = NULL;
	int code = reg_get(c->r, d, d->namespaced ? ns : NULL, name, &obj);
	if (code != 200) {
		*out = obj;
		return code;
	}
	const char *uid = kc_json_get_string(obj, "metadata.uid", "");
	if (d == &res_pods && strcmp(kc_json_get_string(obj, "spec.serviceAccountName", ""), sa_name)) {
		cJSON_Delete(obj);
		*out = st_bad_request("cannot bind token for serviceaccount \"%s\" to pod running with "
				      "different serviceaccount name.", sa_name);
		return 400;
	}
	if (want_uid[0] && strcmp(want_uid, uid)) {
		/* errors.NewConflict(GroupResource{group, Kind}, ...) */
		cJSON *st = st_new(409, "Conflict", "Operation cannot be fulfilled on %s%s%s \"%s\": the "
				   "UID in the bound object reference (%s) does not match the UID in "
				   "record. The object might have been deleted and then recreated",
				   kind, group[0] ? "." : "", group, name, want_uid);
		st_details(st, name, group, kind);
		cJSON_Delete(obj);
		*out = st;
		return 409;
	}
	snprintf(dst->name, sizeof(dst->name), "%s", name);
	snprintf(dst->uid, sizeof(dst->uid), "%s", uid);
	if (d == &res_pods)
		*pod_out = obj;
	else
		cJSON_Delete(obj);
	return 0;
}

/* POST serviceaccounts/<name>/token: authentication.k8s.io/v1 TokenRequest
 * (pkg/registry/core/serviceaccount/storage/token.go): audiences default to the issuer,
 * expirationSeconds to 3600 and at least 600; a boundObjectRef (Pod, Secret, Node) puts
 * the object's name and uid in the token (a pod's node too, as the
 * ServiceAccountTokenPodNodeInfo feature), and the admission-made 3607 s pod token is
 * extended to a year with warnafter (--service-account-extend-token-expiration's
 * default); the answer is the request with status.token and status.expirationTimestamp. */
static int token_request(api_ctx *c, const char *ns, const char *name, const cJSON *body,
			 int dry_run, cJSON **out)
{
	const char *k = kc_json_get_string(body, "kind", ""), *a = kc_json_get_string(body, "apiVersion", "");
	if ((k[0] && strcmp(k, "TokenRequest")) ||
	    (a[0] && strcmp(a, "authentication.k8s.io/v1"))) {
		*out = st_bad_request("the body of the request must be an authentication.k8s.io/v1 "
				      "TokenRequest, not %s %s", a, k);
		return 400;
	}
	cJSON *sa = NULL;
	int code = reg_get(c->r, &res_serviceaccounts, ns, name, &sa);
	if (code != 200) {
		*out = sa;
		return code;
	}
	int64_t expsec = kc_json_get_int64(body, "spec.expirationSeconds", 3600);
	res_errs e = { 0 };
	if (expsec < 600)
		res_err(&e, "FieldValueInvalid", "spec.expirationSeconds",
			"Invalid value: %lld: may not specify a duration less than 10 minutes",
			(long long)expsec);
	else if (expsec > 4294967296LL)
		res_err(&e, "FieldValueTooLong", "spec.expirationSeconds",
			"Invalid value: %lld: may not specify a duration larger than 2^32 seconds",
			(long long)expsec);
	const char *auds[16];
	size_t naud = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, kc_json_get(body, "spec.audiences"))
	{
		if (cJSON_IsString(it) && naud < 16)
			auds[naud++] = it->valuestring;
	}
	if (e.n) {
		cJSON_Delete(sa);
		static const res_desc tr = { .group = "authentication.k8s.io", .version = "v1",
					     .kind = "TokenRequest", .plural = "tokenrequests" };
		*out = st_invalid(&tr, name, &e);
		return 422;
	}
	sat_claims cl;
	memset(&cl, 0, sizeof(cl));
	snprintf(cl.ns, sizeof(cl.ns), "%s", ns);
	snprintf(cl.name, sizeof(cl.name), "%s", name);
	snprintf(cl.uid, sizeof(cl.uid), "%s", kc_json_get_string(sa, "metadata.uid", ""));
	cJSON_Delete(sa);
	cJSON *bor = kc_json_get(body, "spec.boundObjectRef");
	cJSON *pod = NULL;
	if (cJSON_IsObject(bor) && (code = bind_token(c, ns, name, bor, &cl, &pod, out)) != 0)
		return code;
	if (pod) {
		/* The pod's node, best effort (upstream logs and goes on without it). */
		const char *node = kc_json_get_string(pod, "spec.nodeName", "");
		cJSON *n = NULL;
		if (node[0] && reg_get(c->r, &res_nodes, NULL, node, &n) == 200) {
			snprintf(cl.node.name, sizeof(cl.node.name), "%s", node);
			snprintf(cl.node.uid, sizeof(cl.node.uid), "%s",
				 kc_json_get_string(n, "metadata.uid", ""));
		}
		cJSON_Delete(n);
		cJSON_Delete(pod);
	}
	int64_t now = kc_now_wall(c->clock) / 1000000000LL;
	/* isKubeAudiences: every requested audience is one of the apiserver's (the issuer). */
	int kube_aud = 1;
	for (size_t i = 0; i < naud; i++)
		if (strcmp(auds[i], sat_issuer(c->sa_tokens)))
			kube_aud = 0;
	int64_t token_exp = expsec;
	if (cl.pod.name[0] && expsec == SAT_WARN_ONLY_EXPIRATION && kube_aud) {
		cl.warnafter = now + expsec;
		token_exp = SAT_EXTENDED_EXPIRATION;
	}
	char *tok = NULL;
	if (!dry_run && sat_sign(c->sa_tokens, &cl, auds, naud, now, now + token_exp, &tok)) {
		*out = st_internal("failed to sign the token");
		return 500;
	}
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "kind", "TokenRequest");
	cJSON_AddStringToObject(r, "apiVersion", "authentication.k8s.io/v1");
	cJSON *md = cJSON_AddObjectToObject(r, "metadata");
	cJSON_AddStringToObject(md, "name", name);
	cJSON_AddStringToObject(md, "namespace", ns);
	char ts[40];
	res_fmt_time(now, ts, sizeof(ts));
	cJSON_AddStringToObject(md, "creationTimestamp", ts);
	cJSON *spec = cJSON_AddObjectToObject(r, "spec");
	cJSON *aa = cJSON_AddArrayToObject(spec, "audiences");
	if (!naud)
		cJSON_AddItemToArray(aa, cJSON_CreateString(sat_issuer(c->sa_tokens)));
	for (size_t i = 0; i < naud; i++)
		cJSON_AddItemToArray(aa, cJSON_CreateString(auds[i]));
	cJSON_AddItemToObject(spec, "expirationSeconds", kc_json_new_int64(expsec));
	if (cJSON_IsObject(bor))
		cJSON_AddItemToObject(spec, "boundObjectRef", cJSON_Duplicate(bor, 1));
	cJSON *st = cJSON_AddObjectToObject(r, "status");
	cJSON_AddStringToObject(st, "token", tok ? tok : "");
	/* The requested lifetime, even when the token's exp was extended (as upstream). */
	res_fmt_time(now + expsec, ts, sizeof(ts));
	cJSON_AddStringToObject(st, "expirationTimestamp", ts);
	free(tok);
	*out = r;
	return 201;
}

/* A write body of a version served from another one's storage (events.k8s.io/v1,
 * autoscaling/v1): type meta checked against d, the version's own validation run, then
 * converted in place to the storage version. Returns 0, or -1 with *resp filled. */
static int body_to_storage(const res_desc *d, cJSON *body, api_resp *resp)
{
	char apiv[96], sapiv[96];
	res_api_version(d, apiv, sizeof(apiv));
	if (!cJSON_IsObject(body))
		return 0; /* the registry answers with its own error */
	const char *k = kc_json_get_string(body, "kind", ""), *a = kc_json_get_string(body, "apiVersion", "");
	if (k[0] && strcmp(k, d->kind)) {
		api_json(resp, 400, st_bad_request("the kind in the data (%s) does not match the "
						   "expected kind (%s)", k, d->kind), NULL);
		return -1;
	}
	if (a[0] && strcmp(a, apiv)) {
		api_json(resp, 400, st_bad_request("the API version in the data (%s) does not match "
						   "the expected API version (%s)", a, apiv), NULL);
		return -1;
	}
	if (d->to_storage)
		d->to_storage(body);
	if (d->validate) {
		res_errs e; /* only the count: res_err fills each cause it appends */
		e.n = 0;
		d->validate(body, NULL, &e);
		if (e.n) {
			api_json(resp, 422, st_invalid(d, kc_json_get_string(body, "metadata.name", ""), &e),
				 NULL);
			return -1;
		}
	}
	cJSON_DeleteItemFromObjectCaseSensitive(body, "apiVersion");
	cJSON_DeleteItemFromObjectCaseSensitive(body, "kind");
	cJSON_AddStringToObject(body, "apiVersion", res_api_version(d->storage, sapiv, sizeof(sapiv)));
	cJSON_AddStringToObject(body, "kind", d->storage->kind);
	return 0;
}

/* s into dst (n bytes), truncated as snprintf("%s") would: six of these per request, where
 * snprintf's setup cost was visible in the profile. */
static void copy_label(char *dst, size_t n, const char *s)
{
	size_t l = strlen(s);
	if (l >= n)
		l = n - 1;
	memcpy(dst, s, l);
	dst[l] = 0;
}

static void serve_resource(api_ctx *c, const api_req *q, const char *group, const char *version,
			   char segs[][256], int n, api_resp *resp)
{
	/* segs: [namespaces, ns,] plural [, name [, sub]] */
	const char *ns = NULL;
	int i = 0;
	if (n >= 3 && !strcmp(segs[0], "namespaces")) {
		const res_desc *nd = res_find(group, version, segs[2]);
		if (nd && nd->namespaced) {
			ns = segs[1];
			i = 2;
		}
	}
	const res_desc *d = res_find(group, version, segs[i]);
	if (!d || (ns && !d->namespaced)) {
		cJSON *st = st_new(404, "NotFound", "the server could not find the requested "
						    "resource");
		st_details(st, NULL, NULL, NULL);
		api_json(resp, 404, st, NULL);
		return;
	}
	const char *name = n > i + 1 ? segs[i + 1] : NULL;
	const char *sub = n > i + 2 ? segs[i + 2] : NULL;
	if (d == &res_pods && ns && name && sub && n == i + 3 &&
	    (!strcmp(sub, "log") || !strcmp(sub, "exec") || !strcmp(sub, "attach") ||
	     !strcmp(sub, "portforward"))) {
		snprintf(resp->m_verb, sizeof(resp->m_verb), "%s",
			 !strcmp(sub, "log") ? "GET" : "CONNECT");
		snprintf(resp->m_resource, sizeof(resp->m_resource), "pods");
		snprintf(resp->m_version, sizeof(resp->m_version), "v1");
		snprintf(resp->m_sub, sizeof(resp->m_sub), "%s", sub);
		snprintf(resp->m_scope, sizeof(resp->m_scope), "resource");
		if (!strcmp(sub, "log") && strcmp(q->method, "GET"))
			api_json(resp, 405, st_new(405, "MethodNotAllowed", "the server does not "
								    "allow this method on the requested resource"),
				 NULL);
		else if (!strcmp(sub, "log"))
			pl_serve_log(c, q, ns, name, resp);
		else
			px_serve(c, q, ns, name, sub, resp);
		return;
	}
	if (n > i + 3 || (sub && strcmp(sub, "status") && strcmp(sub, "scale") &&
			  strcmp(sub, "binding") && strcmp(sub, "eviction") && strcmp(sub, "token") &&
			  strcmp(sub, "finalize")) ||
	    (sub && !strcmp(sub, "finalize") && (d != &res_namespaces || strcmp(q->method, "PUT"))) ||
	    (sub && !strcmp(sub, "token") && (d != &res_serviceaccounts || !c->sa_tokens ||
					      !sat_can_sign(c->sa_tokens))) ||
	    (sub && !strcmp(sub, "eviction") && d != &res_pods) ||
	    (sub && !strcmp(sub, "status") && !d->has_status) ||
	    (sub && !strcmp(sub, "scale") && !d->scale) ||
	    (sub && !strcmp(sub, "binding") && !d->binding)) {
		api_json(resp, 404, st_new(404, "NotFound", "the server could not find the "
							    "requested resource"), NULL);
		return;
	}
	if (d->namespaced && name && !ns) {
		api_json(resp, 404, st_new(404, "NotFound", "the server could not find the "
							    "requested resource"), NULL);
		return;
	}
	const char *m = q->method;
	int dry_run = qarg(q, "dryRun") && !strcmp(qarg(q, "dryRun"), "All");
	{
		const char *verb = m;
		if (!strcmp(m, "GET"))
			verb = name ? "GET" : api_bool(qarg(q, "watch")) ? "WATCH" : "LIST";
		else if (!strcmp(m, "PATCH") && q->content_type &&
			 !strncmp(q->content_type, "application/apply-patch", 23))
			verb = "APPLY";
		else if (!strcmp(m, "DELETE") && !name)
			verb = "DELETECOLLECTION";
		copy_label(resp->m_verb, sizeof(resp->m_verb), verb);
		copy_label(resp->m_group, sizeof(resp->m_group), d->group);
		copy_label(resp->m_version, sizeof(resp->m_version), d->version);
		copy_label(resp->m_resource, sizeof(resp->m_resource), d->plural);
		copy_label(resp->m_sub, sizeof(resp->m_sub), sub ? sub : "");
		copy_label(resp->m_scope, sizeof(resp->m_scope),
			   name ? "resource" : ns ? "namespace" : "cluster");
	}
	/* sd: where the objects live; d: the version the client speaks (res_view converts). */
	const res_desc *sd = d->storage ? d->storage : d;
	cJSON *out = NULL, *body = NULL;
	int code;
	/* The field manager of a write (managedFields): ?fieldManager=, else the User-Agent's
	 * prefix as upstream's prefixFromUserAgent. reg_fm_set is called right around each
	 * reg_* write so no early return leaves it set. */
	char mgr[136];
	const char *fmq = qarg(q, "fieldManager");
	int is_apply = !strcmp(m, "PATCH") && q->content_type &&
		       !strncmp(q->content_type, "application/apply-patch", 23);
	if (fmq && fmq[0])
		copy_label(mgr, sizeof(mgr), fmq);
	else
		mf_manager_from_user_agent(MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND,
									"User-Agent"),
					   mgr, sizeof(mgr));
	if (is_apply && (!fmq || !fmq[0])) {
		/* ValidatePatchOptions: apply needs an explicit manager. */
		api_json(resp, 422, st_new(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is "
							   "invalid: fieldManager: Required value: is "
							   "required for apply patch"),
			 NULL);
		return;
	}
	if (!strcmp(m, "PATCH") && !is_apply && qarg(q, "force")) {
		api_json(resp, 422, st_new(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is "
							   "invalid: force: Forbidden: may not be "
							   "specified for non-apply patch"),
			 NULL);
		return;
	}
	if (fmq && strlen(fmq) > 128) {
		api_json(resp, 422, st_new(422, "Invalid", "fieldManager: Too long: may not be "
							   "longer than 128"),
			 NULL);
		return;
	}
	reg_fm fm = { .manager = mgr, .subresource = sub ? sub : "", .apply = is_apply,
		      .force = api_bool(qarg(q, "force")) };
	if (!name) {
		if (!strcmp(m, "GET")) {
			serve_list(c, q, d, ns, resp);
			return;
		}
		if (!strcmp(m, "POST")) {
			if (d->namespaced && !ns) {
				api_json(resp, 404, st_new(404, "NotFound", "the server could not "
									    "find the requested resource"),
					 NULL);
				return;
			}
			if (!(body = parse_body(q, resp, 0)))
				return;
			if (field_validation(q, d, body, 0, resp)) {
				cJSON_Delete(body);
				return;
			}
			if (d->storage && body_to_storage(d, body, resp)) {
				cJSON_Delete(body);
				return;
			}
			reg_fm_set(&fm);
			char *text = NULL;
			size_t tlen = 0;
			/* A kind served in its storage version answers with the stored text
			 * plus resourceVersion (res_view would not change it), not a second
			 * print of the object. */
			code = reg_create_take(c->r, sd, ns, body, dry_run, &out,
					       d->storage ? NULL : &text, &tlen);
			body = NULL; /* taken */
			reg_fm_set(NULL);
			if (text) {
				cJSON_Delete(out);
				resp->code = code;
				resp->body = text;
				resp->len = tlen;
				resp->ctype = "application/json";
				return;
			}
		} else if (!strcmp(m, "DELETE")) {
			delete_collection(c, q, d, ns, dry_run, resp);
			return;
		} else {
			api_json(resp, 405, st_new(405, "MethodNotAllowed", "the server does not "
									    "allow this method on the requested resource"),
				 NULL);
			return;
		}
	} else if (!strcmp(m, "GET")) {
		if (sub && !strcmp(sub, "scale"))
			code = reg_get_scale(c->r, d, ns, name, &out);
		else
			code = reg_get(c->r, sd, ns, name, &out);
		if (code == 200 && !sub)
			res_view(d, out);
		if (code == 200 && tbl_wanted(q->accept) && !sub) {
			cJSON *t = tbl_render(d, out, tbl_include_parse(qarg(q, "includeObject")), 1,
					      kc_json_get_string(out, "metadata.resourceVersion", NULL),
					      NULL, kc_now_wall(c->clock) / 1000000000LL);
			cJSON_Delete(out);
			out = t;
		}
	} else if (!strcmp(m, "PUT")) {
		if (!(body = parse_body(q, resp, 0)))
			return;
		if (sub && !strcmp(sub, "scale")) {
			reg_fm_set(&fm);
			code = reg_set_scale(c->r, d, ns, name, NULL, body, dry_run, &out);
			reg_fm_set(NULL);
		} else {
			if (field_validation(q, d, body, 0, resp)) {
				cJSON_Delete(body);
				return;
			}
			if (d->storage && body_to_storage(d, body, resp)) {
				cJSON_Delete(body);
				return;
			}
			reg_fm_set(&fm);
			code = reg_update(c->r, sd, ns, name, body,
					  !sub ? REG_MAIN
					  : !strcmp(sub, "finalize") ? REG_FINALIZE
								     : REG_STATUS,
					  dry_run, &out);
			reg_fm_set(NULL);
		}
	} else if (!strcmp(m, "PATCH")) {
		if (!(body = parse_body(q, resp, 1)))
			return;
		const char *ct = q->content_type;
		if (!(sub && !strcmp(sub, "scale")) && strncmp(ct, "application/json-patch", 22) &&
		    field_validation(q, d, body, 1, resp)) {
			cJSON_Delete(body);
			return;
		}
		reg_fm_set(&fm);
		if (sub && !strcmp(sub, "scale"))
			code = reg_set_scale(c->r, d, ns, name, ct, body, dry_run, &out);
		else
			code = reg_patch(c->r, d, ns, name, ct, body, sub ? REG_STATUS : REG_MAIN,
					 dry_run, &out);
		reg_fm_set(NULL);
	} else if (!strcmp(m, "POST") && sub && !strcmp(sub, "eviction")) {
		/* policy/v1 Eviction: PodDisruptionBudgets first, then the pod is deleted with
		 * the eviction's deleteOptions. */
		if (!(body = parse_body(q, resp, 0)))
			return;
		code = evict_pod(c->r, ns, name, cJSON_GetObjectItemCaseSensitive(body, "deleteOptions"),
				 dry_run, &out);
	} else if (!strcmp(m, "POST") && sub && !strcmp(sub, "token")) {
		if (!(body = parse_body(q, resp, 0)))
			return;
		code = token_request(c, ns, name, body, dry_run, &out);
	} else if (!strcmp(m, "POST") && sub && !strcmp(sub, "binding")) {
		if (!(body = parse_body(q, resp, 0)))
			return;
		code = reg_bind(c->r, ns, name, body, &out);
	} else if (!strcmp(m, "DELETE") && !sub) {
		if (q->body && q->body_len) {
			if (!(body = parse_body(q, resp, 0)))
				return;
		}
		const char *gp = qarg(q, "gracePeriodSeconds");
		const char *pp = qarg(q, "propagationPolicy");
		if (gp || pp) {
			if (!body)
				body = cJSON_CreateObject();
			if (gp) {
				cJSON_DeleteItemFromObjectCaseSensitive(body, "gracePeriodSeconds");
				cJSON_AddNumberToObject(body, "gracePeriodSeconds", strtod(gp, NULL));
			}
			if (pp) {
				cJSON_DeleteItemFromObjectCaseSensitive(body, "propagationPolicy");
				cJSON_AddStringToObject(body, "propagationPolicy", pp);
			}
		}
		code = reg_delete(c->r, sd, ns, name, body, dry_run, &out);
	} else {
		api_json(resp, 405, st_new(405, "MethodNotAllowed", "the server does not allow "
								    "this method on the requested resource"),
			 NULL);
		return;
	}
	cJSON_Delete(body);
	if (code < 300)
		res_view(d, out);
	api_json(resp, code, out, NULL);
}

/* /openapi/v2 and /openapi/v3[/<gv>] with kube-openapi's caching: an ETag of the document's
 * SHA-512, 304 on If-None-Match, and for /openapi/v3/<gv>?hash=H either "public, immutable"
 * (H current) or a 301 to the current hash (handler3.HandleGroupVersion). */
static void serve_openapi(const api_req *q, char segs[][256], int n, api_resp *resp)
{
	char path[600];
	if (n == 2 && !strcmp(segs[1], "v2")) {
		/* kubectl asks for application/com.github.proto-openapi.spec.v2@v1.0+protobuf */
		int pb = q->accept && strstr(q->accept, "protobuf");
		snprintf(path, sizeof(path), "%s", pb ? "v2.pb" : "v2");
	} else if (n >= 2 && !strcmp(segs[1], "v3") && n <= 5) {
		snprintf(path, sizeof(path), "v3");
		for (int i = 2; i < n; i++) {
			size_t l = strlen(path);
			snprintf(path + l, sizeof(path) - l, "/%s", segs[i]);
		}
	} else {
		text(resp, 404, "404 page not found\n");
		return;
	}
	oa_doc d;
	if (oa_get(path, &d) != 0) {
		text(resp, 404, "404 page not found\n");
		return;
	}
	char etag[140];
	snprintf(etag, sizeof(etag), "\"%s\"", d.etag);
	const char *hash = q->conn ? qarg(q, "hash") : NULL;
	if (n > 2 && hash && hash[0] && strcmp(hash, d.etag)) {
		char loc[800];
		snprintf(loc, sizeof(loc), "/openapi/%s?hash=%s", path, d.etag);
		text(resp, 301, "Moved Permanently\n");
		if (asprintf(&resp->headers, "Location: %s\n", loc) < 0)
			resp->headers = NULL;
		return;
	}
	char hdr[400];
	if (n > 2 && hash && hash[0]) {
		char exp[64];
		time_t t = time(NULL) + 365 * 24 * 3600;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(exp, sizeof(exp), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		snprintf(hdr, sizeof(hdr),
			 "ETag: %s\nCache-Control: public, immutable\nExpires: %s\n", etag, exp);
	} else {
		snprintf(hdr, sizeof(hdr), "ETag: %s\n", etag);
	}
	resp->headers = strdup(hdr);
	const char *inm = q->conn ? MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND,
								"If-None-Match")
				  : NULL;
	if (inm && !strcmp(inm, etag)) {
		resp->code = 304;
		resp->body = strdup("");
		resp->len = 0;
		resp->ctype = d.ctype;
		return;
	}
	resp->body = malloc(d.len ? d.len : 1);
	if (!resp->body) {
		text(resp, 500, "out of memory\n");
		return;
	}
	memcpy(resp->body, d.body, d.len);
	resp->len = d.len;
	resp->code = 200;
	resp->ctype = d.ctype;
}

void api_handle(api_ctx *c, const api_req *q, api_resp *resp)
{
	memset(resp, 0, sizeof(*resp));
	snprintf(resp->m_verb, sizeof(resp->m_verb), "%s", q->method);
	char segs[10][256];
	int n = split(q->path, segs, 10);
	int get = !strcmp(q->method, "GET") || !strcmp(q->method, "HEAD");
	if (n < 0)
		goto notfound;
	if (n == 1 && (!strcmp(segs[0], "healthz") || !strcmp(segs[0], "livez") ||
		       !strcmp(segs[0], "readyz")) && get) {
		health(c, q, resp, segs[0]);
		return;
	}
	if (n == 1 && !strcmp(segs[0], "metrics") && get) {
		resp->code = 200;
		resp->body = met_render(c->wc);
		resp->len = resp->body ? strlen(resp->body) : 0;
		resp->ctype = "text/plain; version=0.0.4; charset=utf-8";
		if (!resp->body)
			text(resp, 500, "out of memory\n");
		return;
	}
	if (n == 1 && !strcmp(segs[0], "version") && get) {
		api_json(resp, 200, disc_version(), NULL);
		return;
	}
	if (n >= 2 && !strcmp(segs[0], "openapi") && get) {
		serve_openapi(q, segs, n, resp);
		return;
	}
	if (n >= 1 && !strcmp(segs[0], "api")) {
		if (n == 1 && get) {
			if (disc_wants_aggregated(q->accept))
				api_json(resp, 200, disc_aggregated(1), DISC_AGG_CTYPE);
			else
				api_json(resp, 200, disc_api_versions(c->server_addr), NULL);
			return;
		}
		if (strcmp(segs[1], "v1"))
			goto notfound;
		if (n == 2 && get) {
			api_json(resp, 200, disc_resource_list("", "v1"), NULL);
			return;
		}
		if (n >= 3) {
			serve_resource(c, q, "", "v1", segs + 2, n - 2, resp);
			return;
		}
		goto notfound;
	}
	if (n >= 1 && !strcmp(segs[0], "apis")) {
		if (n == 1 && get) {
			if (disc_wants_aggregated(q->accept))
				api_json(resp, 200, disc_aggregated(0), DISC_AGG_CTYPE);
			else
				api_json(resp, 200, disc_api_groups(), NULL);
			return;
		}
		if (n == 2 && get) {
			cJSON *g = disc_api_group(segs[1]);
			if (!g)
				goto notfound;
			api_json(resp, 200, g, NULL);
			return;
		}
		cJSON *rl = disc_resource_list(segs[1], segs[2]);
		if (!rl)
			goto notfound;
		if (n == 3 && get) {
			api_json(resp, 200, rl, NULL);
			return;
		}
		cJSON_Delete(rl);
		if (n >= 4) {
			serve_resource(c, q, segs[1], segs[2], segs + 3, n - 3, resp);
			return;
		}
	}
notfound:
	/* Go's http.NotFound for paths outside the API. */
	text(resp, 404, "404 page not found\n");
}
