/* kc_etcd: the etcd v3 JSON client, against canned etcd 3.4 answers (STORE_API.md)
 * served by testsrv, and its watch-stream decoder fed in arbitrary splits. */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "etcd.h"
#include "etcd_int.h"
#include "kc_test.h"
#include "testsrv.h"

/* ---- a canned etcd: path -> (status, body); records the last request ---- */

#define HDR "\"header\":{\"cluster_id\":\"10144879847569953045\",\"member_id\":\"12428976124636271536\",\"revision\":\"%s\",\"raft_term\":\"2\"}"

struct canned {
	pthread_mutex_t mu;
	char path[128];
	char *body;         /* last request body */
	int status;
	const char *reply;  /* for unary paths */
	testsrv_stream *stream; /* for /v3/watch and streams when set */
	int hits;
};

static void handler(const testsrv_req *req, testsrv_resp *resp, void *arg)
{
	struct canned *c = arg;
	pthread_mutex_lock(&c->mu);
	snprintf(c->path, sizeof(c->path), "%s", req->path);
	free(c->body);
	c->body = strdup(req->body);
	c->hits++;
	resp->status = c->status ? c->status : 200;
	if (c->stream) {
		resp->stream = testsrv_stream_ref(c->stream);
	} else if (c->reply) {
		resp->body = strdup(c->reply);
	}
	pthread_mutex_unlock(&c->mu);
}

static struct canned cn;
static testsrv *srv;
static kc_etcd *cli;

static void setup(void)
{
	memset(&cn, 0, sizeof(cn));
	pthread_mutex_init(&cn.mu, NULL);
	ck_assert_int_eq(testsrv_start(&srv, handler, &cn), 0);
	const char *eps[] = { testsrv_url(srv) };
	struct kc_etcd_config cfg = { .endpoints = eps, .n_endpoints = 1 };
	ck_assert_int_eq(kc_etcd_new(&cfg, &cli), 0);
}

static void teardown(void)
{
	kc_etcd_free(cli);
	testsrv_stop(srv);
	if (cn.stream)
		testsrv_stream_unref(cn.stream);
	free(cn.body);
	pthread_mutex_destroy(&cn.mu);
}

static cJSON *last_request(void)
{
	pthread_mutex_lock(&cn.mu);
	cJSON *j = cJSON_Parse(cn.body ? cn.body : "");
	pthread_mutex_unlock(&cn.mu);
	ck_assert_ptr_nonnull(j);
	return j;
}

static const char *jstr(cJSON *o, const char *name)
{
	cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsString(it) ? it->valuestring : NULL;
}

/* ---- base64 and prefixes ---- */

START_TEST(b64_is_strict_standard_padded)
{
	uint8_t *out;
	size_t n;
	ck_assert_int_eq(kc_etcd_b64_decode("Zm9vMQ==", 8, &out, &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_mem_eq(out, "foo1", 4);
	free(out);
	/* etcd rejects unpadded and URL-safe input (Go's StdEncoding). */
	ck_assert_int_eq(kc_etcd_b64_decode("Zm9vMQ", 6, &out, &n), KC_EPARSE);
	ck_assert_int_eq(kc_etcd_b64_decode("-_8=", 4, &out, &n), KC_EPARSE);
	ck_assert_int_eq(kc_etcd_b64_decode("Zg=a", 4, &out, &n), KC_EPARSE);
	char *enc;
	ck_assert_int_eq(kc_etcd_b64_encode("\x00\xff\xfe", 3, &enc), 0);
	ck_assert_str_eq(enc, "AP/+");
	free(enc);
	ck_assert_int_eq(kc_etcd_b64_encode("", 0, &enc), 0);
	ck_assert_str_eq(enc, "");
	free(enc);
}
END_TEST

START_TEST(prefix_end_as_clientv3)
{
	uint8_t out[8];
	ck_assert_uint_eq(kc_etcd_prefix_end("foo", 3, out), 3);
	ck_assert_mem_eq(out, "fop", 3);
	ck_assert_uint_eq(kc_etcd_prefix_end("a\xff", 2, out), 1);
	ck_assert_int_eq(out[0], 'b');
	ck_assert_uint_eq(kc_etcd_prefix_end("\xff\xff", 2, out), 1);
	ck_assert_int_eq(out[0], 0);
}
END_TEST

/* ---- unary calls ---- */

START_TEST(range_encodes_request_and_decodes_kvs)
{
	static char reply[1024];
	snprintf(reply, sizeof(reply),
	         "{" HDR ",\"kvs\":[{\"key\":\"Zm9v\",\"create_revision\":\"2\",\"mod_revision\":\"3\",\"version\":\"2\","
	         "\"value\":\"AGJhcgA=\",\"lease\":\"7587\"},{\"key\":\"Zm9vMQ==\",\"create_revision\":\"4\","
	         "\"mod_revision\":\"4\",\"version\":\"1\"}],\"more\":true,\"count\":\"3\"}", "5");
	cn.reply = reply;
	struct kc_etcd_range_req req = { .key = "foo", .key_len = 3, .range_end = "fop", .range_end_len = 3,
	                                 .limit = 2, .revision = 5, .keys_only = true,
	                                 .sort_order = KC_ETCD_SORT_DESCEND, .sort_target = KC_ETCD_SORT_MOD };
	struct kc_etcd_range_resp resp;
	struct kc_etcd_error err = { 0 };
	ck_assert_int_eq(kc_etcd_range(cli, &req, &resp, &err), 0);
	ck_assert_str_eq(cn.path, "/v3/kv/range");
	cJSON *j = last_request();
	ck_assert_str_eq(jstr(j, "key"), "Zm9v");
	ck_assert_str_eq(jstr(j, "range_end"), "Zm9w");
	ck_assert_str_eq(jstr(j, "limit"), "2");
	ck_assert_str_eq(jstr(j, "revision"), "5");
	ck_assert_str_eq(jstr(j, "sort_order"), "DESCEND");
	ck_assert_str_eq(jstr(j, "sort_target"), "MOD");
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "keys_only")));
	ck_assert_ptr_null(cJSON_GetObjectItem(j, "count_only")); /* zero values omitted */
	cJSON_Delete(j);

	ck_assert_uint_eq(resp.header.cluster_id, 10144879847569953045ull);
	ck_assert_uint_eq(resp.header.member_id, 12428976124636271536ull);
	ck_assert_int_eq(resp.header.revision, 5);
	ck_assert_uint_eq(resp.n_kvs, 2);
	ck_assert(resp.more);
	ck_assert_int_eq(resp.count, 3);
	ck_assert_uint_eq(resp.kvs[0].key_len, 3);
	ck_assert_uint_eq(resp.kvs[0].value_len, 5);
	ck_assert_mem_eq(resp.kvs[0].value, "\0bar\0", 5);
	ck_assert_int_eq(resp.kvs[0].lease, 7587);
	ck_assert_int_eq(resp.kvs[0].mod_revision, 3);
	ck_assert_ptr_null(resp.kvs[1].value);
	ck_assert_int_eq(resp.kvs[1].create_revision, 4);
	kc_etcd_range_resp_free(&resp);
	ck_assert_ptr_null(resp.kvs);
}
END_TEST

START_TEST(put_prev_kv_and_missing_fields)
{
	cn.reply = "{\"header\":{\"revision\":\"9\"},\"prev_kv\":{\"key\":\"Zm9v\",\"create_revision\":\"2\","
	           "\"mod_revision\":\"2\",\"version\":\"1\",\"value\":\"YmFy\"}}";
	struct kc_etcd_put_req req = { .key = "foo", .key_len = 3, .value = "baz", .value_len = 3, .lease = 7587,
	                               .prev_kv = true };
	struct kc_etcd_put_resp resp;
	ck_assert_int_eq(kc_etcd_put(cli, &req, &resp, NULL), 0);
	cJSON *j = last_request();
	ck_assert_str_eq(jstr(j, "value"), "YmF6");
	ck_assert_str_eq(jstr(j, "lease"), "7587");
	cJSON_Delete(j);
	ck_assert_int_eq(resp.header.revision, 9);
	ck_assert_uint_eq(resp.header.cluster_id, 0);
	ck_assert(resp.has_prev_kv);
	ck_assert_mem_eq(resp.prev_kv.value, "bar", 3);
	kc_etcd_put_resp_free(&resp);

	cn.reply = "{\"header\":{\"revision\":\"10\"}}";
	req.prev_kv = false;
	ck_assert_int_eq(kc_etcd_put(cli, &req, &resp, NULL), 0);
	ck_assert(!resp.has_prev_kv);
	kc_etcd_put_resp_free(&resp);
}
END_TEST

START_TEST(delete_range_encodes_and_decodes_prev_kvs)
{
	static char reply[512];
	snprintf(reply, sizeof(reply),
	         "{" HDR ",\"deleted\":\"2\",\"prev_kvs\":[{\"key\":\"Zm9v\",\"mod_revision\":\"3\","
	         "\"value\":\"YmFy\"},{\"key\":\"Zm9vMQ==\",\"mod_revision\":\"4\"}]}", "12");
	cn.reply = reply;
	struct kc_etcd_delete_req req = { .key = "foo", .key_len = 3, .range_end = "fop", .range_end_len = 3,
	                                  .prev_kv = true };
	struct kc_etcd_delete_resp resp;
	ck_assert_int_eq(kc_etcd_delete_range(cli, &req, &resp, NULL), 0);
	ck_assert_str_eq(cn.path, "/v3/kv/deleterange");
	cJSON *j = last_request();
	ck_assert_str_eq(jstr(j, "key"), "Zm9v");
	ck_assert_str_eq(jstr(j, "range_end"), "Zm9w");
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "prev_kv")));
	cJSON_Delete(j);
	ck_assert_int_eq(resp.header.revision, 12);
	ck_assert_int_eq(resp.deleted, 2);
	ck_assert_uint_eq(resp.n_prev_kvs, 2);
	ck_assert_mem_eq(resp.prev_kvs[0].key, "foo", 3);
	ck_assert_mem_eq(resp.prev_kvs[0].value, "bar", 3);
	ck_assert_int_eq(resp.prev_kvs[1].mod_revision, 4);
	kc_etcd_delete_resp_free(&resp);
	ck_assert_ptr_null(resp.prev_kvs);

	/* A malformed answer is an error and leaves nothing to free. */
	cn.reply = "{\"deleted\":\"1\",\"prev_kvs\":[{\"key\":\"Zm9v\"},{\"key\":\"not base64!\"}]}";
	ck_assert_int_eq(kc_etcd_delete_range(cli, &req, &resp, NULL), KC_EPARSE);
	ck_assert_ptr_null(resp.prev_kvs);
	ck_assert_uint_eq(resp.n_prev_kvs, 0);
}
END_TEST

START_TEST(errors_map_grpc_codes)
{
	struct kc_etcd_range_req req = { .key = "foo", .key_len = 3, .revision = 2 };
	struct kc_etcd_range_resp resp;
	struct kc_etcd_error err;

	cn.status = 400;
	cn.reply = "{\"error\":\"etcdserver: mvcc: required revision has been compacted\","
	           "\"message\":\"etcdserver: mvcc: required revision has been compacted\",\"code\":11}";
	ck_assert_int_eq(kc_etcd_range(cli, &req, &resp, &err), KC_EGONE);
	ck_assert_int_eq(err.http_status, 400);
	ck_assert_int_eq(err.grpc_code, 11);
	ck_assert_str_eq(err.message, "etcdserver: mvcc: required revision has been compacted");

	cn.reply = "{\"error\":\"etcdserver: mvcc: required revision is a future revision\","
	           "\"message\":\"etcdserver: mvcc: required revision is a future revision\",\"code\":11}";
	ck_assert_int_eq(kc_etcd_range(cli, &req, &resp, &err), KC_EINVALID);

	cn.status = 404;
	cn.reply = "{\"error\":\"etcdserver: requested lease not found\",\"message\":\"etcdserver: requested lease not found\",\"code\":5}";
	ck_assert_int_eq(kc_etcd_lease_revoke(cli, 7587, &err), KC_ENOTFOUND);
	ck_assert_str_eq(err.message, "etcdserver: requested lease not found");

	cn.status = 412;
	cn.reply = "{\"error\":\"etcdserver: lease already exists\",\"message\":\"etcdserver: lease already exists\",\"code\":9}";
	int64_t id, ttl;
	ck_assert_int_eq(kc_etcd_lease_grant(cli, 60, 7587, &id, &ttl, &err), KC_EEXIST);

	cn.status = 429;
	cn.reply = "{\"error\":\"etcdserver: mvcc: database space exceeded\",\"message\":\"etcdserver: mvcc: database space exceeded\",\"code\":8}";
	struct kc_etcd_put_req preq = { .key = "a", .key_len = 1 };
	struct kc_etcd_put_resp presp;
	ck_assert_int_eq(kc_etcd_put(cli, &preq, &presp, &err), KC_ETOOLARGE);

	cn.status = 503;
	cn.reply = "{\"error\":\"etcdserver: request timed out\",\"message\":\"etcdserver: request timed out\",\"code\":14}";
	ck_assert_int_eq(kc_etcd_range(cli, &req, &resp, &err), KC_ETIMEOUT);

	/* Plain-text answers from the gateway (405, 404). */
	cn.status = 405;
	cn.reply = "Method Not Allowed";
	ck_assert_int_eq(kc_etcd_range(cli, &req, &resp, &err), KC_EHTTP);
	ck_assert_int_eq(err.http_status, 405);
	ck_assert_str_eq(err.message, "Method Not Allowed");

	/* 200 with garbage is a parse error, not a crash. */
	cn.status = 200;
	cn.reply = "{\"header\":{\"revision\":\"x\"}}";
	ck_assert_int_eq(kc_etcd_range(cli, &req, &resp, &err), KC_EPARSE);
	cn.reply = "{\"kvs\":[{\"key\":\"Zm9vMQ\"}]}";
	ck_assert_int_eq(kc_etcd_range(cli, &req, &resp, &err), KC_EPARSE);
	cn.reply = "not json";
	ck_assert_int_eq(kc_etcd_range(cli, &req, &resp, &err), KC_EPARSE);
}
END_TEST

START_TEST(txn_encodes_compares_and_decodes_branches)
{
	/* The apiserver's update: if mod_revision(key) == 5 then put else get. */
	cn.reply = "{" "\"header\":{\"revision\":\"8\"},\"responses\":[{\"response_range\":{\"header\":{\"revision\":\"8\"},"
	           "\"kvs\":[{\"key\":\"Zm9v\",\"create_revision\":\"2\",\"mod_revision\":\"8\",\"version\":\"3\","
	           "\"value\":\"cXV4\"}],\"count\":\"1\"}},{\"response_txn\":{\"header\":{},\"succeeded\":true,"
	           "\"responses\":[{\"response_delete_range\":{\"header\":{\"revision\":\"8\"},\"deleted\":\"2\"}}]}}]}";
	struct kc_etcd_compare cmp = { .target = KC_ETCD_CMP_MOD, .result = KC_ETCD_CMP_EQUAL, .key = "foo",
	                               .key_len = 3, .number = 5 };
	struct kc_etcd_compare create0 = { .target = KC_ETCD_CMP_CREATE, .key = "new", .key_len = 3, .number = 0 };
	struct kc_etcd_op del = { .type = KC_ETCD_OP_DELETE, .u.del = { .key = "d", .key_len = 1 } };
	struct kc_etcd_txn_req inner = { .success = &del, .n_success = 1 };
	struct kc_etcd_op succ = { .type = KC_ETCD_OP_PUT, .u.put = { .key = "foo", .key_len = 3, .value = "v", .value_len = 1 } };
	struct kc_etcd_op fail[2] = {
		{ .type = KC_ETCD_OP_RANGE, .u.range = { .key = "foo", .key_len = 3 } },
		{ .type = KC_ETCD_OP_TXN, .u.txn = &inner },
	};
	struct kc_etcd_compare cmps[2] = { cmp, create0 };
	struct kc_etcd_txn_req req = { .compare = cmps, .n_compare = 2, .success = &succ, .n_success = 1,
	                               .failure = fail, .n_failure = 2 };
	struct kc_etcd_txn_resp resp;
	ck_assert_int_eq(kc_etcd_txn(cli, &req, &resp, NULL), 0);
	ck_assert_str_eq(cn.path, "/v3/kv/txn");
	cJSON *j = last_request();
	cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "compare"), 0);
	ck_assert_str_eq(jstr(c0, "target"), "MOD");
	ck_assert_str_eq(jstr(c0, "result"), "EQUAL");
	ck_assert_str_eq(jstr(c0, "mod_revision"), "5");
	cJSON *c1 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "compare"), 1);
	ck_assert_str_eq(jstr(c1, "create_revision"), "0"); /* create-if-absent must be sent */
	cJSON *s0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "success"), 0);
	ck_assert_str_eq(jstr(cJSON_GetObjectItem(s0, "request_put"), "value"), "dg==");
	cJSON *f1 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "failure"), 1);
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(cJSON_GetObjectItem(f1, "request_txn"), "success"));
	cJSON_Delete(j);

	ck_assert(!resp.succeeded); /* "succeeded" absent = false */
	ck_assert_uint_eq(resp.n_responses, 2);
	ck_assert_int_eq(resp.responses[0].type, KC_ETCD_OP_RANGE);
	ck_assert_int_eq(resp.responses[0].u.range.kvs[0].mod_revision, 8);
	ck_assert_int_eq(resp.responses[1].type, KC_ETCD_OP_TXN);
	ck_assert(resp.responses[1].u.txn->succeeded);
	ck_assert_int_eq(resp.responses[1].u.txn->responses[0].u.del.deleted, 2);
	kc_etcd_txn_resp_free(&resp);
}
END_TEST

START_TEST(leases_status_members)
{
	cn.reply = "{" "\"header\":{\"revision\":\"3\"},\"ID\":\"1418812012492632103\",\"TTL\":\"30\"}";
	int64_t id, ttl;
	ck_assert_int_eq(kc_etcd_lease_grant(cli, 30, 0, &id, &ttl, NULL), 0);
	ck_assert_int_eq(id, 1418812012492632103ll);
	ck_assert_int_eq(ttl, 30);

	cn.reply = "{\"header\":{},\"ID\":\"7587\",\"TTL\":\"59\",\"grantedTTL\":\"60\",\"keys\":[\"bGVhc2Vk\"]}";
	struct kc_etcd_lease_ttl t;
	ck_assert_int_eq(kc_etcd_lease_timetolive(cli, 7587, true, &t, NULL), 0);
	ck_assert_int_eq(t.ttl, 59);
	ck_assert_int_eq(t.granted_ttl, 60);
	ck_assert_uint_eq(t.n_keys, 1);
	ck_assert_mem_eq(t.keys[0].key, "leased", 6);
	kc_etcd_lease_ttl_free(&t);

	cn.reply = "{\"header\":{\"revision\":\"13\",\"raft_term\":\"2\",\"member_id\":\"12428976124636271536\"},"
	           "\"version\":\"3.4.23\",\"dbSize\":\"20480\",\"leader\":\"12428976124636271536\",\"raftIndex\":\"32\","
	           "\"raftTerm\":\"2\",\"raftAppliedIndex\":\"32\",\"dbSizeInUse\":\"16384\",\"errors\":[\"etcdserver: no leader\"]}";
	struct kc_etcd_status st;
	ck_assert_int_eq(kc_etcd_status_get(cli, 0, &st, NULL), 0);
	ck_assert_str_eq(st.version, "3.4.23");
	ck_assert_int_eq(st.db_size, 20480);
	ck_assert_uint_eq(st.leader, st.header.member_id);
	ck_assert_uint_eq(st.raft_applied_index, 32);
	ck_assert_uint_eq(st.n_errors, 1);
	ck_assert_str_eq(st.errors[0], "etcdserver: no leader");
	kc_etcd_status_free(&st);

	cn.reply = "{\"header\":{},\"members\":[{\"ID\":\"3691031196991793931\",\"name\":\"c2\",\"peerURLs\":"
	           "[\"http://127.0.0.1:23805\"],\"clientURLs\":[\"http://127.0.0.1:23804\",\"http://10.0.0.1:2379\"]},"
	           "{\"ID\":\"8635860930177745891\",\"isLearner\":true}]}";
	struct kc_etcd_member_list ml;
	ck_assert_int_eq(kc_etcd_member_list(cli, &ml, NULL), 0);
	ck_assert_uint_eq(ml.n_members, 2);
	ck_assert_uint_eq(ml.members[0].id, 3691031196991793931ull);
	ck_assert_str_eq(ml.members[0].name, "c2");
	ck_assert_uint_eq(ml.members[0].n_client_urls, 2);
	ck_assert_str_eq(ml.members[0].client_urls[1], "http://10.0.0.1:2379");
	ck_assert_str_eq(ml.members[1].name, "");
	ck_assert(ml.members[1].is_learner);
	kc_etcd_member_list_free(&ml);

	cn.reply = "{\"alarms\":[{\"memberID\":\"12428976124636271536\",\"alarm\":\"NOSPACE\"}]}";
	struct kc_etcd_alarm *al;
	size_t n;
	ck_assert_int_eq(kc_etcd_alarm_list(cli, &al, &n, NULL), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(al[0].alarm, "NOSPACE");
	free(al);
	/* disarm = list, then DEACTIVATE each: member IDs above 2^63 stay unsigned. */
	ck_assert_int_eq(kc_etcd_alarm_disarm(cli, &al, &n, NULL), 0);
	ck_assert_uint_eq(n, 1);
	free(al);
	cJSON *j = last_request();
	ck_assert_str_eq(jstr(j, "action"), "DEACTIVATE");
	ck_assert_str_eq(jstr(j, "memberID"), "12428976124636271536");
	ck_assert_str_eq(jstr(j, "alarm"), "NOSPACE");
	cJSON_Delete(j);
}
END_TEST

START_TEST(keepalive_stream_and_unknown_lease)
{
	cn.stream = testsrv_stream_new();
	testsrv_stream_puts(cn.stream, "{\"result\":{\"header\":{\"revision\":\"3\"},");
	testsrv_stream_puts(cn.stream, "\"ID\":\"7587\",\"TTL\":\"60\"}}\n");
	testsrv_stream_close(cn.stream);
	int64_t ttl = 0;
	ck_assert_int_eq(kc_etcd_lease_keepalive_once(cli, 7587, &ttl, NULL), 0);
	ck_assert_int_eq(ttl, 60);
	ck_assert_str_eq(cn.path, "/v3/lease/keepalive");
	testsrv_stream_unref(cn.stream);

	/* etcd answers an unknown lease with TTL omitted (0), not an error. */
	cn.stream = testsrv_stream_new();
	testsrv_stream_puts(cn.stream, "{\"result\":{\"header\":{\"revision\":\"3\"},\"ID\":\"12345\"}}\n");
	testsrv_stream_close(cn.stream);
	struct kc_etcd_error err;
	ck_assert_int_eq(kc_etcd_lease_keepalive_once(cli, 12345, &ttl, &err), KC_ENOTFOUND);
}
END_TEST

START_TEST(snapshot_streams_blobs_to_fd)
{
	cn.stream = testsrv_stream_new();
	/* "hello " + "\0world" in two messages, the second split mid-string. */
	testsrv_stream_puts(cn.stream, "{\"result\":{\"header\":{},\"remaining_bytes\":\"6\",\"blob\":\"aGVsbG8g\"}}\n{\"result\":{\"bl");
	testsrv_stream_puts(cn.stream, "ob\":\"AHdvcmxk\"}}\n");
	testsrv_stream_close(cn.stream);
	char path[] = "/tmp/test_etcd_snapXXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	uint64_t bytes = 0;
	ck_assert_int_eq(kc_etcd_snapshot(cli, fd, &bytes, NULL), 0);
	ck_assert_uint_eq(bytes, 12);
	char buf[32];
	ck_assert_int_eq(pread(fd, buf, sizeof(buf), 0), 12);
	ck_assert_mem_eq(buf, "hello \0world", 12);
	close(fd);
	unlink(path);
}
END_TEST

START_TEST(failover_to_the_next_endpoint)
{
	/* A port nobody listens on: bind, read the port, close. */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	getsockname(s, (struct sockaddr *)&a, &al);
	close(s);
	char dead[64];
	snprintf(dead, sizeof(dead), "http://127.0.0.1:%u", ntohs(a.sin_port));
	const char *eps[] = { dead, testsrv_url(srv) };
	struct kc_etcd_config cfg = { .endpoints = eps, .n_endpoints = 2, .dial_timeout_ms = 1000 };
	kc_etcd *two;
	ck_assert_int_eq(kc_etcd_new(&cfg, &two), 0);
	cn.reply = "{\"header\":{\"revision\":\"4\"}}";
	struct kc_etcd_range_req req = { .key = "a", .key_len = 1 };
	struct kc_etcd_range_resp resp;
	ck_assert_int_eq(kc_etcd_range(two, &req, &resp, NULL), 0);
	ck_assert_int_eq(resp.header.revision, 4);
	kc_etcd_range_resp_free(&resp);
	kc_etcd_free(two);

	/* Only the dead endpoint: a transport error, not a hang or a crash. */
	const char *one[] = { dead };
	cfg.endpoints = one;
	cfg.n_endpoints = 1;
	ck_assert_int_eq(kc_etcd_new(&cfg, &two), 0);
	struct kc_etcd_error err;
	ck_assert_int_eq(kc_etcd_range(two, &req, &resp, &err), -ECONNREFUSED);
	ck_assert_int_eq(err.http_status, 0);
	kc_etcd_free(two);

	const char *bad[] = { "127.0.0.1:2379" };
	cfg.endpoints = bad;
	ck_assert_int_eq(kc_etcd_new(&cfg, &two), -EINVAL);
}
END_TEST

/* ---- watch ---- */

struct seen {
	int msgs, created, events, cancels;
	int64_t revs[16];
	int types[16];
	char vals[16][16];
	int64_t prev_mod[16];
	int64_t compact;
	int stop_after; /* return 1 once this many events were seen (0 = never) */
};

static int on_watch(void *arg, const struct kc_etcd_watch_resp *w)
{
	struct seen *s = arg;
	s->msgs++;
	if (w->created)
		s->created++;
	if (w->canceled)
		s->cancels++;
	if (w->compact_revision)
		s->compact = w->compact_revision;
	for (size_t i = 0; i < w->n_events && s->events < 16; i++) {
		const struct kc_etcd_event *e = &w->events[i];
		s->revs[s->events] = e->kv.mod_revision;
		s->types[s->events] = e->type;
		snprintf(s->vals[s->events], sizeof(s->vals[0]), "%.*s", (int)e->kv.value_len,
		         e->kv.value ? (const char *)e->kv.value : "");
		s->prev_mod[s->events] = e->has_prev_kv ? e->prev_kv.mod_revision : -1;
		s->events++;
	}
	return s->stop_after && s->events >= s->stop_after;
}

/* The stream etcd 3.4 sends (STORE_API.md 1.3), then a compacted cancel. The progress
 * message carries an (ignored) string with braces, quotes and backslashes: framing must
 * track JSON strings, not count raw braces. */
static const char WATCH_STREAM[] =
	"{\"result\":{\"header\":{\"cluster_id\":\"10144879847569953045\",\"member_id\":\"12428976124636271536\","
	"\"revision\":\"13\",\"raft_term\":\"2\"},\"created\":true}}\n"
	"{\"result\":{\"header\":{\"revision\":\"14\"},\"events\":[{\"kv\":{\"key\":\"dy9h\",\"create_revision\":\"14\","
	"\"mod_revision\":\"14\",\"version\":\"1\",\"value\":\"MQ==\"}}]}}\n"
	"{\"result\":{\"header\":{\"revision\":\"16\"},\"events\":[{\"type\":\"DELETE\",\"kv\":{\"key\":\"dy9h\","
	"\"mod_revision\":\"16\"},\"prev_kv\":{\"key\":\"dy9h\",\"create_revision\":\"14\",\"mod_revision\":\"15\","
	"\"version\":\"2\",\"value\":\"Mg==\"}}]}}\n"
	"{\"result\":{\"header\":{\"revision\":\"17\"},\"events\":[{\"kv\":{\"key\":\"dy9i\",\"mod_revision\":\"17\","
	"\"value\":\"e30=\"}},{\"kv\":{\"key\":\"dy9j\",\"mod_revision\":\"17\",\"value\":\"IlxcfSI=\"}}]}}\n"
	"{\"result\":{\"header\":{\"revision\":\"17\"},\"watch_id\":\"-1\",\"note\":\"}{\\\"]\\\\\"}}\n"
	"{\"result\":{\"header\":{\"cluster_id\":\"1\",\"member_id\":\"2\",\"raft_term\":\"2\"},\"canceled\":true,"
	"\"compact_revision\":\"11\"}}\n";

static void check_watch_stream(const struct seen *s)
{
	ck_assert_int_eq(s->msgs, 6);
	ck_assert_int_eq(s->created, 1);
	ck_assert_int_eq(s->events, 4);
	ck_assert_int_eq(s->revs[0], 14);
	ck_assert_int_eq(s->types[0], KC_ETCD_EVENT_PUT);
	ck_assert_str_eq(s->vals[0], "1");
	ck_assert_int_eq(s->prev_mod[0], -1);
	ck_assert_int_eq(s->types[1], KC_ETCD_EVENT_DELETE);
	ck_assert_int_eq(s->prev_mod[1], 15);
	ck_assert_int_eq(s->revs[2], 17);
	ck_assert_str_eq(s->vals[2], "{}");
	ck_assert_str_eq(s->vals[3], "\"\\\\}\"");
	ck_assert_int_eq(s->compact, 11);
}

START_TEST(watch_decoder_any_split)
{
	size_t n = strlen(WATCH_STREAM);
	/* Every chunk size from 1 byte to the whole stream. */
	for (size_t step = 1; step <= n; step += (step < 40 ? 1 : 97)) {
		struct seen s = { 0 };
		struct kc_etcd_error err = { 0 };
		kc_etcd_watch_decoder *d;
		ck_assert_int_eq(kc_etcd_watch_decoder_new(on_watch, &s, &err, &d), 0);
		int rc = 0;
		for (size_t off = 0; off < n && rc == 0; off += step)
			rc = kc_etcd_watch_decoder_feed(d, WATCH_STREAM + off, off + step > n ? n - off : step);
		ck_assert_int_eq(rc, KC_EGONE);
		ck_assert_int_eq(err.grpc_code, 11);
		check_watch_stream(&s);
		kc_etcd_watch_decoder_free(d);
	}
}
END_TEST

START_TEST(watch_decoder_rejects_garbage)
{
	static const char *const bad[] = {
		"hello\n",
		"{\"result\":{\"events\":[{\"kv\":{\"key\":\"Zm9vMQ\"}}]}}\n", /* unpadded base64 */
		"{\"result\":{\"header\":{\"revision\":\"abc\"}}}\n",
		"{\"result\":{\"events\":[{\"type\":\"BOGUS\",\"kv\":{}}]}}\n",
		"}",
		"{\"result\":{\"events\":{}}}",
		/* numbers beyond int64 are malformed, not converted (undefined in C) */
		"{\"result\":{\"compact_revision\":3.3e23}}\n",
		"{\"result\":{\"header\":{\"revision\":-1e300}}}\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct seen s = { 0 };
		kc_etcd_watch_decoder *d;
		ck_assert_int_eq(kc_etcd_watch_decoder_new(on_watch, &s, NULL, &d), 0);
		ck_assert_int_eq(kc_etcd_watch_decoder_feed(d, bad[i], strlen(bad[i])), KC_EPARSE);
		ck_assert_int_eq(s.events, 0);
		kc_etcd_watch_decoder_free(d);
	}
	/* A gateway stream error object is mapped like a unary error. */
	struct seen s = { 0 };
	struct kc_etcd_error err = { 0 };
	kc_etcd_watch_decoder *d;
	ck_assert_int_eq(kc_etcd_watch_decoder_new(on_watch, &s, &err, &d), 0);
	const char *e = "{\"error\":{\"grpc_code\":14,\"http_code\":503,\"message\":\"etcdserver: no leader\"}}\n";
	ck_assert_int_eq(kc_etcd_watch_decoder_feed(d, e, strlen(e)), KC_ETIMEOUT);
	ck_assert_str_eq(err.message, "etcdserver: no leader");
	kc_etcd_watch_decoder_free(d);
}
END_TEST

START_TEST(int64_fields_refuse_numbers_out_of_range)
{
	/* A JSON number beyond int64 (or a huge exponent) is malformed; converting it
	 * would be undefined behaviour. In range it is taken as is. */
	cJSON *o = cJSON_Parse("{\"a\":3.3e23,\"b\":-1e300,\"c\":9223372036854775808,"
			       "\"d\":42,\"e\":\"-7\",\"f\":-9.2e18}");
	ck_assert_ptr_nonnull(o);
	int64_t v = 1;
	ck_assert_int_eq(kc_etcd__get_i64(o, "a", &v), -1);
	ck_assert_int_eq(kc_etcd__get_i64(o, "b", &v), -1);
	ck_assert_int_eq(kc_etcd__get_i64(o, "c", &v), -1);
	ck_assert_int_eq(kc_etcd__get_i64(o, "d", &v), 0);
	ck_assert_int_eq(v, 42);
	ck_assert_int_eq(kc_etcd__get_i64(o, "e", &v), 0);
	ck_assert_int_eq(v, -7);
	ck_assert_int_eq(kc_etcd__get_i64(o, "f", &v), 0);
	ck_assert_int_eq(v, -9200000000000000000LL);
	ck_assert_int_eq(kc_etcd__get_i64(o, "missing", &v), 0);
	ck_assert_int_eq(v, 0);
	cJSON_Delete(o);
}
END_TEST

START_TEST(watch_over_http_split_chunks)
{
	cn.stream = testsrv_stream_new();
	/* Queue the stream in uneven pieces; the decoder must not care where HTTP chunks end. */
	size_t n = strlen(WATCH_STREAM);
	for (size_t off = 0; off < n; off += 37)
		testsrv_stream_write(cn.stream, WATCH_STREAM + off, off + 37 > n ? n - off : 37);
	struct seen s = { 0 };
	struct kc_etcd_error err = { 0 };
	struct kc_etcd_watch_req req = { .key = "w/", .key_len = 2, .range_end = "w0", .range_end_len = 2,
	                                 .start_revision = 14, .prev_kv = true, .filter_noput = true };
	ck_assert_int_eq(kc_etcd_watch(cli, &req, on_watch, &s, NULL, &err), KC_EGONE);
	check_watch_stream(&s);
	ck_assert_str_eq(cn.path, "/v3/watch");
	cJSON *j = last_request();
	cJSON *cr = cJSON_GetObjectItem(j, "create_request");
	ck_assert_str_eq(jstr(cr, "key"), "dy8=");
	ck_assert_str_eq(jstr(cr, "range_end"), "dzA=");
	ck_assert_str_eq(jstr(cr, "start_revision"), "14");
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(cr, "prev_kv")));
	ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(cr, "filters"), 0)->valuestring, "NOPUT");
	cJSON_Delete(j);
}
END_TEST

struct stopper {
	atomic_int *flag;
	struct seen *s;
};

START_TEST(watch_callback_and_stop_flag_end_it)
{
	/* The callback asks to stop after 2 events: its value comes back. */
	cn.stream = testsrv_stream_new();
	testsrv_stream_puts(cn.stream, WATCH_STREAM);
	struct seen s = { .stop_after = 2 };
	struct kc_etcd_watch_req req = { .key = "w", .key_len = 1 };
	ck_assert_int_eq(kc_etcd_watch(cli, &req, on_watch, &s, NULL, NULL), 1);
	ck_assert_int_eq(s.events, 2);
	testsrv_stream_unref(cn.stream);

	/* A stream that stays open: the stop flag (already set) ends the watch with 0. */
	cn.stream = testsrv_stream_new();
	testsrv_stream_puts(cn.stream, "{\"result\":{\"header\":{\"revision\":\"13\"},\"created\":true}}\n");
	atomic_int stop = 1;
	struct seen s2 = { 0 };
	ck_assert_int_eq(kc_etcd_watch(cli, &req, on_watch, &s2, &stop, NULL), 0);

	/* The server ends the stream: KC_ECLOSED so the caller re-watches. */
	testsrv_stream_unref(cn.stream);
	cn.stream = testsrv_stream_new();
	testsrv_stream_puts(cn.stream, "{\"result\":{\"header\":{\"revision\":\"13\"},\"created\":true}}\n");
	testsrv_stream_close(cn.stream);
	struct seen s3 = { 0 };
	ck_assert_int_eq(kc_etcd_watch(cli, &req, on_watch, &s3, NULL, NULL), KC_ECLOSED);
	ck_assert_int_eq(s3.created, 1);

	/* An undecodable watch request: etcd answers 500 with a JSON error, not a stream. */
	testsrv_stream_unref(cn.stream);
	cn.stream = NULL;
	cn.status = 500;
	cn.reply = "{\"error\":\"invalid character 'b'\",\"message\":\"invalid character 'b'\",\"code\":2}";
	struct kc_etcd_error err = { 0 };
	ck_assert_int_lt(kc_etcd_watch(cli, &req, on_watch, &s3, NULL, &err), 0);
	ck_assert_int_eq(err.http_status, 500);
	ck_assert_str_eq(err.message, "invalid character 'b'");
}
END_TEST

static void *range_thread(void *arg)
{
	(void)arg;
	for (int i = 0; i < 50; i++) {
		struct kc_etcd_range_req req = { .key = "k", .key_len = 1 };
		struct kc_etcd_range_resp resp;
		if (kc_etcd_range(cli, &req, &resp, NULL) != 0)
			return (void *)1;
		if (resp.header.revision != 21)
			return (void *)1;
		kc_etcd_range_resp_free(&resp);
	}
	return NULL;
}

START_TEST(client_is_thread_safe)
{
	cn.reply = "{\"header\":{\"revision\":\"21\"}}";
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, range_thread, NULL);
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(th[i], &r);
		ck_assert_ptr_null(r);
	}
	ck_assert_int_eq(cn.hits, 200);
}
END_TEST

static Suite *etcd_suite(void)
{
	Suite *s = suite_create("etcd");
	TCase *pure = tcase_create("codec");
	tcase_add_test(pure, b64_is_strict_standard_padded);
	tcase_add_test(pure, prefix_end_as_clientv3);
	tcase_add_test(pure, watch_decoder_any_split);
	tcase_add_test(pure, watch_decoder_rejects_garbage);
	tcase_add_test(pure, int64_fields_refuse_numbers_out_of_range);
	suite_add_tcase(s, pure);
	TCase *tc = tcase_create("http");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, range_encodes_request_and_decodes_kvs);
	tcase_add_test(tc, put_prev_kv_and_missing_fields);
	tcase_add_test(tc, delete_range_encodes_and_decodes_prev_kvs);
	tcase_add_test(tc, errors_map_grpc_codes);
	tcase_add_test(tc, txn_encodes_compares_and_decodes_branches);
	tcase_add_test(tc, leases_status_members);
	tcase_add_test(tc, keepalive_stream_and_unknown_lease);
	tcase_add_test(tc, snapshot_streams_blobs_to_fd);
	tcase_add_test(tc, failover_to_the_next_endpoint);
	tcase_add_test(tc, watch_over_http_split_chunks);
	tcase_add_test(tc, watch_callback_and_stop_flag_end_it);
	tcase_add_test(tc, client_is_thread_safe);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(etcd_suite)
