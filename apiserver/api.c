#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discovery.h"
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
	int json = !strncmp(ct, "application/json", 16) ||
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
				    "media types include: application/json");
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
		if (!strncmp(ct, "application/apply-patch+yaml", 28))
			api_json(resp, 415, st_new(415, "UnsupportedMediaType",
						   "apply patches in YAML are not supported yet; "
						   "send JSON: %s", err), NULL);
		else
			api_json(resp, 400,
				 st_bad_request("error decoding the request body: %s", err), NULL);
		return NULL;
	}
	return obj;
}

static void serve_list(api_ctx *c, const api_req *q, const res_desc *d, const char *ns,
		       api_resp *resp)
{
	if (api_bool(qarg(q, "watch"))) {
		wc_params p = { .ns = ns, .rv = qarg(q, "resourceVersion"),
				.label_selector = qarg(q, "labelSelector"),
				.field_selector = qarg(q, "fieldSelector"),
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
			    .field_selector = qarg(q, "fieldSelector"), .cont = qarg(q, "continue") };
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
	int code = reg_list(c->r, d, ns, &o, &out);
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
	int code = reg_list(c->r, d, ns, &o, &list);
	if (code != 200) {
		api_json(resp, code, list, NULL);
		return;
	}
	cJSON *items = cJSON_GetObjectItemCaseSensitive(list, "items"), *it;
	cJSON *done = cJSON_CreateArray();
	cJSON_ArrayForEach(it, items)
	{
		cJSON *out = NULL;
		int rc = reg_delete(c->r, d, kc_json_get_string(it, "metadata.namespace", ns),
				    kc_json_get_string(it, "metadata.name", ""), NULL, dry_run, &out);
		if (rc == 200)
			cJSON_AddItemToArray(done, out);
		else
			cJSON_Delete(out);
	}
	cJSON_ReplaceItemInObjectCaseSensitive(list, "items", done);
	api_json(resp, 200, list, NULL);
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
	if (n > i + 3 || (sub && strcmp(sub, "status") && strcmp(sub, "scale") &&
			  strcmp(sub, "binding") && strcmp(sub, "eviction")) ||
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
	cJSON *out = NULL, *body = NULL;
	int code;
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
			code = reg_create(c->r, d, ns, body, dry_run, &out);
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
			code = reg_get(c->r, d, ns, name, &out);
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
		if (sub && !strcmp(sub, "scale"))
			code = reg_set_scale(c->r, d, ns, name, NULL, body, dry_run, &out);
		else
			code = reg_update(c->r, d, ns, name, body, sub ? REG_STATUS : REG_MAIN,
					  dry_run, &out);
	} else if (!strcmp(m, "PATCH")) {
		if (!(body = parse_body(q, resp, 1)))
			return;
		const char *ct = q->content_type;
		if (sub && !strcmp(sub, "scale"))
			code = reg_set_scale(c->r, d, ns, name, ct, body, dry_run, &out);
		else
			code = reg_patch(c->r, d, ns, name, ct, body, sub ? REG_STATUS : REG_MAIN,
					 dry_run, &out);
	} else if (!strcmp(m, "POST") && sub && !strcmp(sub, "eviction")) {
		/* policy/v1 Eviction: deletes the pod with the eviction's deleteOptions.
		 * PodDisruptionBudgets are not served yet, so no budget can refuse (429). */
		if (!(body = parse_body(q, resp, 0)))
			return;
		code = reg_delete(c->r, d, ns, name, cJSON_GetObjectItemCaseSensitive(body, "deleteOptions"),
				  dry_run, &out);
		if (code == 200) {
			cJSON_Delete(out);
			out = st_success(201);
			code = 201;
		}
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
		code = reg_delete(c->r, d, ns, name, body, dry_run, &out);
	} else {
		api_json(resp, 405, st_new(405, "MethodNotAllowed", "the server does not allow "
								    "this method on the requested resource"),
			 NULL);
		return;
	}
	cJSON_Delete(body);
	api_json(resp, code, out, NULL);
}

void api_handle(api_ctx *c, const api_req *q, api_resp *resp)
{
	memset(resp, 0, sizeof(*resp));
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
	if (n == 1 && !strcmp(segs[0], "version") && get) {
		api_json(resp, 200, disc_version(), NULL);
		return;
	}
	if (n >= 1 && !strcmp(segs[0], "openapi") && get) {
		cJSON *doc = NULL;
		if (n == 2 && !strcmp(segs[1], "v3"))
			doc = disc_openapi_root();
		else if (n == 4 && !strcmp(segs[1], "v3") && !strcmp(segs[2], "api"))
			doc = disc_openapi_gv("", segs[3]);
		else if (n == 5 && !strcmp(segs[1], "v3") && !strcmp(segs[2], "apis"))
			doc = disc_openapi_gv(segs[3], segs[4]);
		/* /openapi/v2 (protobuf only) is not served: kubectl falls back to its
		 * compiled-in types for strategic merge patches. */
		if (!doc)
			goto notfound;
		api_json(resp, 200, doc, NULL);
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
