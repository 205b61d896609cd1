/* The registry's read side: label/field selectors, continue tokens and list (see
 * registry.h). */
#include "registry.h"
#include "registry_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "fields.h"
#include "json.h"
#include "labels.h"
#include "log.h"
#include "meta.h"
#include "status.h"

int reg_parse_selectors(const res_desc *d, const char *lsel, const char *fsel,
			kc_label_selector *ls, kc_field_selector *fs, cJSON **err_out)
{
	char err[KC_SELECTOR_ERRLEN];
	*err_out = NULL;
	kc_selector_init(ls);
	kc_fields_init(fs);
	if (kc_selector_parse(lsel, ls, err, sizeof(err))) {
		*err_out = st_bad_request("unable to parse requirement: %s", err);
		if (strstr(err, "unable to parse requirement") == err) {
			cJSON_Delete(*err_out);
			*err_out = st_bad_request("%s", err);
		}
		return -1;
	}
	if (kc_fields_parse(fsel, fs, err, sizeof(err))) {
		*err_out = st_bad_request("%s", err);
		kc_selector_close(ls);
		return -1;
	}
	/* Every field must be selectable for this resource (field label conversion). */
	char buf[64];
	cJSON *probe = cJSON_CreateObject();
	for (size_t i = 0; i < fs->nreqs; i++) {
		const char *f = fs->reqs[i].field;
		if (!strcmp(f, "metadata.name") || !strcmp(f, "metadata.namespace"))
			continue;
		if (!d->field || !d->field(probe, f, buf, sizeof(buf))) {
			*err_out = st_bad_request("field label not supported: %s", f);
			break;
		}
	}
	cJSON_Delete(probe);
	if (*err_out) {
		kc_selector_close(ls);
		kc_fields_close(fs);
		return -1;
	}
	return 0;
}

int reg_matches(const res_desc *d, const cJSON *obj, const kc_label_selector *ls,
		const kc_field_selector *fs)
{
	if (ls && !kc_selector_matches_object(ls, obj))
		return 0;
	for (size_t i = 0; fs && i < fs->nreqs; i++) {
		const char *f = fs->reqs[i].field, *v;
		char buf[256];
		if (!strcmp(f, "metadata.name"))
			v = kc_meta_name(obj);
		else if (!strcmp(f, "metadata.namespace"))
			v = kc_meta_namespace(obj);
		else
			v = d->field ? d->field(obj, f, buf, sizeof(buf)) : NULL;
		if (!v)
			v = "";
		int eq = !strcmp(v, fs->reqs[i].value);
		if ((fs->reqs[i].op == KC_FIELD_EQUALS) != eq)
			return 0;
	}
	return 1;
}

/* ---- list ---- */

/* Continue token as upstream's storage/etcd3 continueToken: base64 of
 * {"v":"meta.k8s.io/v1","rv":N,"start":"<key after the collection prefix>"}. */
static char *make_continue(int64_t rv, const char *start)
{
	cJSON *t = cJSON_CreateObject();
	cJSON_AddStringToObject(t, "v", "meta.k8s.io/v1");
	cJSON_AddNumberToObject(t, "rv", (double)rv);
	cJSON_AddStringToObject(t, "start", start);
	char *js = kc_json_print(t), *b64 = NULL;
	cJSON_Delete(t);
	if (js)
		kc_etcd_b64_encode(js, strlen(js), &b64);
	free(js);
	return b64;
}

static int parse_continue(const char *tok, int64_t *rv, char *start, size_t n)
{
	uint8_t *raw = NULL;
	size_t len = 0;
	if (kc_etcd_b64_decode(tok, strlen(tok), &raw, &len))
		return -1;
	cJSON *t = NULL;
	int rc = kc_json_parse((char *)raw, len, 0, &t, NULL, 0);
	free(raw);
	if (rc)
		return -1;
	const char *v = kc_json_get_string(t, "v", ""), *s = kc_json_get_string(t, "start", NULL);
	*rv = kc_json_get_int64(t, "rv", 0);
	rc = (strcmp(v, "meta.k8s.io/v1") || !s || *rv <= 0 || strstr(s, "..")) ? -1 : 0;
	if (!rc)
		snprintf(start, n, "%s", s);
	cJSON_Delete(t);
	return rc;
}

int reg_list(reg *r, const res_desc *d, const char *ns, const reg_list_opts *o, cJSON **out)
{
	kc_label_selector ls;
	kc_field_selector fs;
	cJSON *st;
	if (reg_parse_selectors(d, o->label_selector, o->field_selector, &ls, &fs, &st))
		return reg__fail(out, st);
	char prefix[512], start[1024], last[1024] = "";
	reg_key(r, d, ns, NULL, prefix, sizeof(prefix));
	size_t plen = strlen(prefix), start_len = plen;
	int64_t rev = o->exact_rv > 0 ? o->exact_rv : 0;
	memcpy(start, prefix, plen + 1);
	if (o->cont && o->cont[0]) {
		if (parse_continue(o->cont, &rev, last, sizeof(last)) ||
		    plen + strlen(last) + 1 >= sizeof(start)) {
			kc_selector_close(&ls);
			kc_fields_close(&fs);
			return reg__fail(out, st_bad_request("continue key is not valid: incorrect encoded "
							"start resourceVersion (version "
							"meta.k8s.io/v1)"));
		}
		/* Resume just after the last key examined: key + "\0". */
		start_len = plen + strlen(last) + 1;
		memcpy(start + plen, last, strlen(last) + 1);
	}
	uint8_t end[512];
	size_t end_len = kc_etcd_prefix_end(prefix, plen, end);
	cJSON *items = cJSON_CreateArray();
	int count = 0, more = 0;
	int rc = 0;
	for (;;) {
		/* Page through etcd; with selectors, matches may be sparse. */
		int64_t page = o->limit > 0 ? (o->limit - count) : 0;
		if (page > 0 && (ls.nreqs || fs.nreqs))
			page = page < 100 ? 100 : page;
		struct kc_etcd_range_req q = { .key = start, .key_len = start_len,
					       .range_end = end, .range_end_len = end_len,
					       .limit = page, .revision = rev };
		struct kc_etcd_range_resp resp;
		rc = kc_etcd_range(r->etcd, &q, &resp, NULL);
		if (rc)
			break;
		if (!rev)
			rev = resp.header.revision;
		size_t i;
		for (i = 0; i < resp.n_kvs; i++) {
			if (o->limit > 0 && count >= o->limit) {
				more = 1;
				break;
			}
			if (resp.kvs[i].key_len > plen && resp.kvs[i].key_len - plen < sizeof(last))
				snprintf(last, sizeof(last), "%s", (char *)resp.kvs[i].key + plen);
			cJSON *obj = reg_decode(resp.kvs[i].value, resp.kvs[i].value_len,
						resp.kvs[i].mod_revision);
			if (!obj)
				continue;
			if (reg_matches(d, obj, &ls, &fs)) {
				cJSON_AddItemToArray(items, obj);
				count++;
			} else {
				cJSON_Delete(obj);
			}
		}
		int etcd_more = resp.more;
		kc_etcd_range_resp_free(&resp);
		if (more || !etcd_more || page == 0)
			break;
		if (o->limit > 0 && count >= o->limit) {
			more = 1;
			break;
		}
		start_len = plen + strlen(last) + 1;
		memcpy(start + plen, last, strlen(last) + 1);
	}
	kc_selector_close(&ls);
	kc_fields_close(&fs);
	if (rc) {
		cJSON_Delete(items);
		if (rc == KC_EGONE && !(o->cont && o->cont[0]))
			return reg__fail(out, st_new(410, "Expired", "The resourceVersion for the provided "
								"list is too old."));
		if (rc == KC_EGONE)
			return reg__fail(out, st_new(410, "Expired",
						"The provided continue parameter is too old to "
						"display a consistent list result. You can start a new "
						"list without the continue parameter, or use the "
						"continue token in this response to retrieve the "
						"remainder of the results. Continuing with the "
						"provided token results in an inconsistent list - "
						"objects that were created, modified, or deleted "
						"between the time the first chunk was returned and now "
						"may show up in the list."));
		return reg__store_fail(out, rc, "list");
	}
	char apiv[96];
	cJSON *list = cJSON_CreateObject();
	cJSON_AddStringToObject(list, "kind", d->list_kind);
	cJSON_AddStringToObject(list, "apiVersion", res_api_version(d, apiv, sizeof(apiv)));
	cJSON *md = cJSON_AddObjectToObject(list, "metadata");
	char rvs[32];
	snprintf(rvs, sizeof(rvs), "%lld", (long long)rev);
	cJSON_AddStringToObject(md, "resourceVersion", rvs);
	if (more) {
		char *tok = make_continue(rev, last);
		if (tok)
			cJSON_AddStringToObject(md, "continue", tok);
		free(tok);
	}
	cJSON_AddItemToObject(list, "items", items);
	*out = list;
	return 200;
}

/* ---- create ---- */
