/* The etcd v3 client's cold-path calls: compaction, leases, and maintenance (status, health,
 * members, alarms, defragment). The hot KV/Txn/watch calls and the transport are in etcd.c;
 * what both share is declared in etcd_int.h. */
#include "etcd.h"
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "errors.h"
#include "etcd_int.h"
/* ------------------------------------------------------------------ compaction, leases */

int kc_etcd_compact(kc_etcd *c, int64_t revision, bool physical, struct kc_etcd_header *hdr_out,
                    struct kc_etcd_error *err)
{
	cJSON *o = cJSON_CreateObject(), *j = NULL;
	if (!o)
		return -ENOMEM;
	int rc = kc_etcd__add_i64(o, "revision", revision);
	if (!rc && physical)
		rc = kc_etcd__add_true(o, "physical");
	if (!rc)
		rc = kc_etcd__call_json(c, -1, "/v3/kv/compaction", o, &j, err);
	cJSON_Delete(o);
	if (!rc && hdr_out)
		rc = kc_etcd__decode_header(j, hdr_out);
	cJSON_Delete(j);
	return rc;
}

int kc_etcd_lease_grant(kc_etcd *c, int64_t ttl, int64_t id, int64_t *id_out, int64_t *ttl_out,
                        struct kc_etcd_error *err)
{
	cJSON *o = cJSON_CreateObject(), *j = NULL;
	if (!o)
		return -ENOMEM;
	int rc = kc_etcd__add_i64(o, "TTL", ttl);
	if (!rc && id)
		rc = kc_etcd__add_i64(o, "ID", id);
	if (!rc)
		rc = kc_etcd__call_json(c, -1, "/v3/lease/grant", o, &j, err);
	cJSON_Delete(o);
	if (!rc) {
		int64_t gid, gttl;
		if (kc_etcd__get_i64(j, "ID", &gid) || kc_etcd__get_i64(j, "TTL", &gttl)) {
			rc = KC_EPARSE;
		} else {
			/* LeaseGrantResponse.error is a string field set on failure. */
			const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
			if (cJSON_IsString(e) && e->valuestring[0]) {
				kc_etcd__set_err(err, 200, 0, "%s", e->valuestring);
				rc = KC_ESERVER;
			}
			if (id_out)
				*id_out = gid;
			if (ttl_out)
				*ttl_out = gttl;
		}
	}
	cJSON_Delete(j);
	return rc;
}

int kc_etcd_lease_revoke(kc_etcd *c, int64_t id, struct kc_etcd_error *err)
{
	cJSON *o = cJSON_CreateObject(), *j = NULL;
	if (!o)
		return -ENOMEM;
	int rc = kc_etcd__add_i64(o, "ID", id);
	if (!rc)
		rc = kc_etcd__call_json(c, -1, "/v3/lease/revoke", o, &j, err);
	cJSON_Delete(o);
	cJSON_Delete(j);
	return rc;
}

int kc_etcd_lease_timetolive(kc_etcd *c, int64_t id, bool keys, struct kc_etcd_lease_ttl *out,
                             struct kc_etcd_error *err)
{
	memset(out, 0, sizeof(*out));
	cJSON *o = cJSON_CreateObject(), *j = NULL;
	if (!o)
		return -ENOMEM;
	int rc = kc_etcd__add_i64(o, "ID", id);
	if (!rc && keys)
		rc = kc_etcd__add_true(o, "keys");
	if (!rc)
		rc = kc_etcd__call_json(c, -1, "/v3/lease/timetolive", o, &j, err);
	cJSON_Delete(o);
	if (!rc)
		rc = kc_etcd__decode_header(j, &out->header);
	if (!rc && (kc_etcd__get_i64(j, "ID", &out->id) || kc_etcd__get_i64(j, "TTL", &out->ttl) ||
	            kc_etcd__get_i64(j, "grantedTTL", &out->granted_ttl)))
		rc = KC_EPARSE;
	const cJSON *ka = rc ? NULL : cJSON_GetObjectItemCaseSensitive(j, "keys");
	if (cJSON_IsArray(ka) && cJSON_GetArraySize(ka) > 0) {
		out->keys = calloc((size_t)cJSON_GetArraySize(ka), sizeof(*out->keys));
		if (!out->keys)
			rc = -ENOMEM;
		const cJSON *it;
		cJSON_ArrayForEach(it, ka)
		{
			if (rc)
				break;
			if (!cJSON_IsString(it)) {
				rc = KC_EPARSE;
				break;
			}
			struct kc_etcd_kv *kv = &out->keys[out->n_keys];
			rc = kc_etcd_b64_decode(it->valuestring, strlen(it->valuestring), &kv->key, &kv->key_len);
			if (!rc)
				out->n_keys++;
		}
	}
	if (rc)
		kc_etcd_lease_ttl_free(out);
	cJSON_Delete(j);
	return rc;
}

void kc_etcd_lease_ttl_free(struct kc_etcd_lease_ttl *t)
{
	if (!t)
		return;
	kc_etcd__kvs_free(t->keys, t->n_keys);
	memset(t, 0, sizeof(*t));
}

int kc_etcd_lease_list(kc_etcd *c, int64_t **ids_out, size_t *n_out, struct kc_etcd_error *err)
{
	*ids_out = NULL;
	*n_out = 0;
	cJSON *j = NULL;
	int rc = kc_etcd__call_json(c, -1, "/v3/lease/leases", NULL, &j, err);
	if (rc)
		return rc;
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "leases");
	int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0;
	int64_t *ids = n ? calloc((size_t)n, sizeof(*ids)) : NULL;
	if (n && !ids)
		rc = -ENOMEM;
	size_t i = 0;
	const cJSON *it;
	if (!rc)
		cJSON_ArrayForEach(it, arr)
		{
			if (kc_etcd__get_i64(it, "ID", &ids[i])) {
				rc = KC_EPARSE;
				break;
			}
			i++;
		}
	cJSON_Delete(j);
	if (rc) {
		free(ids);
		return rc;
	}
	*ids_out = ids;
	*n_out = i;
	return 0;
}

/* ------------------------------------------------------------------ maintenance */

/* A heap copy of a string item, "" when absent or not a string (proto3 omits empty
 * strings). NULL only when out of memory. */
static char *dup_str(const cJSON *it)
{
	return strdup(cJSON_IsString(it) ? it->valuestring : "");
}

static int str_list(const cJSON *o, const char *name, char ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, name);
	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0)
		return 0;
	char **v = calloc((size_t)cJSON_GetArraySize(arr), sizeof(char *));
	if (!v)
		return -ENOMEM;
	const cJSON *it;
	size_t i = 0;
	cJSON_ArrayForEach(it, arr)
	{
		v[i] = dup_str(it);
		if (!v[i]) {
			for (size_t k = 0; k < i; k++)
				free(v[k]);
			free(v);
			return -ENOMEM;
		}
		i++;
	}
	*out = v;
	*n = i;
	return 0;
}

static void str_list_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int kc_etcd_status_get(kc_etcd *c, int endpoint_index, struct kc_etcd_status *out, struct kc_etcd_error *err)
{
	memset(out, 0, sizeof(*out));
	cJSON *j = NULL;
	int rc = kc_etcd__call_json(c, endpoint_index, "/v3/maintenance/status", NULL, &j, err);
	if (rc)
		return rc;
	rc = kc_etcd__decode_header(j, &out->header);
	if (!rc && (kc_etcd__get_i64(j, "dbSize", &out->db_size) || kc_etcd__get_u64(j, "leader", &out->leader) ||
	            kc_etcd__get_u64(j, "raftIndex", &out->raft_index) || kc_etcd__get_u64(j, "raftTerm", &out->raft_term) ||
	            kc_etcd__get_u64(j, "raftAppliedIndex", &out->raft_applied_index) ||
	            kc_etcd__get_i64(j, "dbSizeInUse", &out->db_size_in_use)))
		rc = KC_EPARSE;
	out->is_learner = kc_etcd__get_bool(j, "isLearner");
	if (!rc) {
		out->version = dup_str(cJSON_GetObjectItemCaseSensitive(j, "version"));
		if (!out->version)
			rc = -ENOMEM;
	}
	if (!rc)
		rc = str_list(j, "errors", &out->errors, &out->n_errors);
	cJSON_Delete(j);
	if (rc)
		kc_etcd_status_free(out);
	return rc;
}

void kc_etcd_status_free(struct kc_etcd_status *s)
{
	if (!s)
		return;
	free(s->version);
	str_list_free(s->errors, s->n_errors);
	memset(s, 0, sizeof(*s));
}

int kc_etcd_health(kc_etcd *c, int endpoint_index, struct kc_etcd_error *err)
{
	if (endpoint_index < 0 || (size_t)endpoint_index >= c->n_endpoints)
		return -EINVAL;
	CURL *h = kc_etcd__pool_get(c);
	if (!h)
		return -ENOMEM;
	char url[1024];
	snprintf(url, sizeof(url), "%s/health", c->endpoints[endpoint_index]);
	struct kc_etcd__buf b = { 0 };
	kc_etcd__setup_handle(c, h, url, NULL, NULL, false);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, kc_etcd__write_buf);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	CURLcode cr = curl_easy_perform(h);
	int rc = 0;
	long status = 0;
	if (cr != CURLE_OK) {
		kc_etcd__set_err(err, 0, 0, "%s", curl_easy_strerror(cr));
		rc = kc_etcd__curl_to_err(cr);
	} else {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		cJSON *j = b.p ? cJSON_Parse(b.p) : NULL;
		const cJSON *hv = cJSON_GetObjectItemCaseSensitive(j, "health");
		if (status == 200 && cJSON_IsString(hv) && strcmp(hv->valuestring, "true") == 0) {
			rc = 0;
		} else {
			kc_etcd__set_err(err, (int)status, 0, "unhealthy: %s", b.p ? b.p : "");
			rc = KC_ESERVER;
		}
		cJSON_Delete(j);
	}
	free(b.p);
	kc_etcd__pool_put(c, h);
	return rc;
}

int kc_etcd_member_list(kc_etcd *c, struct kc_etcd_member_list *out, struct kc_etcd_error *err)
{
	memset(out, 0, sizeof(*out));
	cJSON *j = NULL;
	int rc = kc_etcd__call_json(c, -1, "/v3/cluster/member/list", NULL, &j, err);
	if (rc)
		return rc;
	rc = kc_etcd__decode_header(j, &out->header);
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "members");
	int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0;
	if (!rc && n > 0) {
		out->members = calloc((size_t)n, sizeof(*out->members));
		if (!out->members)
			rc = -ENOMEM;
		const cJSON *it;
		cJSON_ArrayForEach(it, arr)
		{
			if (rc)
				break;
			struct kc_etcd_member *m = &out->members[out->n_members++];
			const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
			if (kc_etcd__get_u64(it, "ID", &m->id)) {
				rc = KC_EPARSE;
				break;
			}
			m->name = dup_str(nm);
			m->is_learner = kc_etcd__get_bool(it, "isLearner");
			if (!m->name)
				rc = -ENOMEM;
			if (!rc)
				rc = str_list(it, "peerURLs", &m->peer_urls, &m->n_peer_urls);
			if (!rc)
				rc = str_list(it, "clientURLs", &m->client_urls, &m->n_client_urls);
		}
	}
	cJSON_Delete(j);
	if (rc)
		kc_etcd_member_list_free(out);
	return rc;
}

void kc_etcd_member_list_free(struct kc_etcd_member_list *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_members; i++) {
		free(m->members[i].name);
		str_list_free(m->members[i].peer_urls, m->members[i].n_peer_urls);
		str_list_free(m->members[i].client_urls, m->members[i].n_client_urls);
	}
	free(m->members);
	memset(m, 0, sizeof(*m));
}

static int alarm_call(kc_etcd *c, const char *action, uint64_t member, const char *alarm,
                      struct kc_etcd_alarm **alarms_out, size_t *n_out, struct kc_etcd_error *err)
{
	*alarms_out = NULL;
	*n_out = 0;
	cJSON *o = cJSON_CreateObject(), *j = NULL;
	if (!o)
		return -ENOMEM;
	int rc = 0;
	if (strcmp(action, "GET") != 0) { /* GET is enum 0: omitted */
		if (!cJSON_AddStringToObject(o, "action", action))
			rc = -ENOMEM;
		if (!rc && member)
			rc = kc_etcd__add_u64(o, "memberID", member);
		if (!rc && alarm && strcmp(alarm, "NONE") != 0 && !cJSON_AddStringToObject(o, "alarm", alarm))
			rc = -ENOMEM;
	}
	if (!rc)
		rc = kc_etcd__call_json(c, -1, "/v3/maintenance/alarm", o, &j, err);
	cJSON_Delete(o);
	if (rc)
		return rc;
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "alarms");
	int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0;
	struct kc_etcd_alarm *v = n ? calloc((size_t)n, sizeof(*v)) : NULL;
	if (n && !v)
		rc = -ENOMEM;
	size_t i = 0;
	const cJSON *it;
	if (!rc)
		cJSON_ArrayForEach(it, arr)
		{
			const cJSON *a = cJSON_GetObjectItemCaseSensitive(it, "alarm");
			if (kc_etcd__get_u64(it, "memberID", &v[i].member_id)) {
				rc = KC_EPARSE;
				break;
			}
			/* AlarmType NONE=0 is omitted; numbers are accepted as input elsewhere. */
			snprintf(v[i].alarm, sizeof(v[i].alarm), "%s",
			         cJSON_IsString(a) ? a->valuestring : cJSON_IsNumber(a) ? (a->valueint == 1 ? "NOSPACE" : a->valueint == 2 ? "CORRUPT" : "NONE") : "NONE");
			i++;
		}
	cJSON_Delete(j);
	if (rc) {
		free(v);
		return rc;
	}
	*alarms_out = v;
	*n_out = i;
	return 0;
}

int kc_etcd_alarm_list(kc_etcd *c, struct kc_etcd_alarm **alarms_out, size_t *n_out, struct kc_etcd_error *err)
{
	return alarm_call(c, "GET", 0, NULL, alarms_out, n_out, err);
}

int kc_etcd_alarm_disarm(kc_etcd *c, struct kc_etcd_alarm **alarms_out, size_t *n_out, struct kc_etcd_error *err)
{
	struct kc_etcd_alarm *list;
	size_t n;
	*alarms_out = NULL;
	*n_out = 0;
	int rc = kc_etcd_alarm_list(c, &list, &n, err);
	if (rc)
		return rc;
	/* clientv3 AlarmDisarm with an empty member: list, then deactivate each one. */
	struct kc_etcd_alarm *done = n ? calloc(n, sizeof(*done)) : NULL;
	size_t nd = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		struct kc_etcd_alarm *r;
		size_t nr;
		rc = alarm_call(c, "DEACTIVATE", list[i].member_id, list[i].alarm, &r, &nr, err);
		for (size_t k = 0; !rc && k < nr && done && nd < n; k++)
			done[nd++] = r[k];
		free(r);
	}
	free(list);
	if (rc) {
		free(done);
		return rc;
	}
	*alarms_out = done;
	*n_out = nd;
	return 0;
}

int kc_etcd_defragment(kc_etcd *c, int endpoint_index, struct kc_etcd_error *err)
{
	cJSON *j = NULL;
	int rc = kc_etcd__call_json(c, endpoint_index, "/v3/maintenance/defragment", NULL, &j, err);
	cJSON_Delete(j);
	return rc;
}
