/* etcd's JSON gateway encoding (store/jsonpb.c), checked against bytes observed from
 * etcd 3.4.23 (docs STORE_API.md) and Go's encoding/json + encoding/base64 messages. */
#include <stdlib.h>
#include <string.h>

#include "kc_test.h"
#include "store/etcdserver.pb-c.h"
#include "../../store/jsonpb.h"

static char *enc(const ProtobufCMessage *m)
{
	struct jpb_buf b;
	jpb_buf_init(&b);
	ck_assert_int_eq(jpb_encode(m, &b), 0);
	return jpb_buf_take(&b, NULL);
}

/* Decode s as desc, expecting success; returns the message. */
static ProtobufCMessage *dec(const ProtobufCMessageDescriptor *d, const char *s)
{
	ProtobufCMessage *m = NULL;
	size_t used = 0;
	char err[JPB_ERRLEN];
	int rc = jpb_decode(d, s, strlen(s), &used, &m, err, sizeof(err));
	ck_assert_msg(rc == 0, "decode %s: %d %s", s, rc, err);
	ck_assert_ptr_nonnull(m);
	return m;
}

/* Decode s expecting failure rc with message want. */
static void dec_err(const ProtobufCMessageDescriptor *d, const char *s, int want_rc,
		    const char *want)
{
	ProtobufCMessage *m = NULL;
	size_t used = 0;
	char err[JPB_ERRLEN];
	int rc = jpb_decode(d, s, strlen(s), &used, &m, err, sizeof(err));
	ck_assert_msg(rc == want_rc, "decode %s: rc %d, want %d (%s)", s, rc, want_rc, err);
	ck_assert_ptr_null(m);
	ck_assert_str_eq(err, want);
}

START_TEST(put_response_header_int64_as_strings)
{
	Kvpb__ResponseHeader h = KVPB__RESPONSE_HEADER__INIT;
	h.cluster_id = UINT64_C(10144879847569953045);
	h.member_id = UINT64_C(12428976124636271536);
	h.revision = 2;
	h.raft_term = 2;
	Kvpb__PutResponse r = KVPB__PUT_RESPONSE__INIT;
	r.header = &h;
	char *s = enc(&r.base);
	ck_assert_str_eq(s, "{\"header\":{\"cluster_id\":\"10144879847569953045\",\"member_id\":"
			    "\"12428976124636271536\",\"revision\":\"2\",\"raft_term\":\"2\"}}");
	free(s);
}
END_TEST

START_TEST(kv_field_order_and_zero_omission)
{
	Kvpb__KeyValue kv = KVPB__KEY_VALUE__INIT;
	kv.key.data = (uint8_t *)"foo";
	kv.key.len = 3;
	kv.value.data = (uint8_t *)"baz";
	kv.value.len = 3;
	kv.create_revision = 2;
	kv.mod_revision = 3;
	kv.version = 2;
	Kvpb__KeyValue *kvs[] = { &kv };
	Kvpb__ResponseHeader h = KVPB__RESPONSE_HEADER__INIT;
	h.revision = 3;
	Kvpb__RangeResponse r = KVPB__RANGE_RESPONSE__INIT;
	r.header = &h;
	r.kvs = kvs;
	r.n_kvs = 1;
	r.count = 1;
	char *s = enc(&r.base);
	/* lease 0 and more=false omitted; key/value base64; header keeps only revision. */
	ck_assert_str_eq(s, "{\"header\":{\"revision\":\"3\"},\"kvs\":[{\"key\":\"Zm9v\","
			    "\"create_revision\":\"2\",\"mod_revision\":\"3\",\"version\":\"2\","
			    "\"value\":\"YmF6\"}],\"count\":\"1\"}");
	free(s);

	/* An empty range: header only, no kvs, no count. */
	Kvpb__RangeResponse e = KVPB__RANGE_RESPONSE__INIT;
	e.header = &h;
	s = enc(&e.base);
	ck_assert_str_eq(s, "{\"header\":{\"revision\":\"3\"}}");
	free(s);
}
END_TEST

START_TEST(enums_by_name_and_zero_enum_omitted)
{
	Kvpb__KeyValue kv = KVPB__KEY_VALUE__INIT;
	kv.key.data = (uint8_t *)"w/a";
	kv.key.len = 3;
	kv.mod_revision = 16;
	Kvpb__Event del = KVPB__EVENT__INIT;
	del.type = KVPB__EVENT__EVENT_TYPE__DELETE;
	del.kv = &kv;
	Kvpb__Event put = KVPB__EVENT__INIT;
	put.kv = &kv;
	Kvpb__Event *evs[] = { &del, &put };
	Kvpb__WatchResponse w = KVPB__WATCH_RESPONSE__INIT;
	w.events = evs;
	w.n_events = 2;
	w.watch_id = 7;
	char *s = enc(&w.base);
	ck_assert_str_eq(s, "{\"watch_id\":\"7\",\"events\":[{\"type\":\"DELETE\",\"kv\":{\"key\":"
			    "\"dy9h\",\"mod_revision\":\"16\"}},{\"kv\":{\"key\":\"dy9h\","
			    "\"mod_revision\":\"16\"}}]}");
	free(s);

	Kvpb__WatchResponse p = KVPB__WATCH_RESPONSE__INIT;
	p.watch_id = -1;
	s = enc(&p.base);
	ck_assert_str_eq(s, "{\"watch_id\":\"-1\"}");
	free(s);
}
END_TEST

START_TEST(uint32_as_number_and_quirky_names)
{
	Kvpb__HashResponse h = KVPB__HASH_RESPONSE__INIT;
	h.hash = 3715822433u;
	char *s = enc(&h.base);
	ck_assert_str_eq(s, "{\"hash\":3715822433}");
	free(s);

	Kvpb__LeaseTimeToLiveResponse t = KVPB__LEASE_TIME_TO_LIVE_RESPONSE__INIT;
	ProtobufCBinaryData keys[] = { { 6, (uint8_t *)"leased" } };
	t.id = 7587;
	t.ttl = 59;
	t.grantedttl = 60;
	t.keys = keys;
	t.n_keys = 1;
	s = enc(&t.base);
	ck_assert_str_eq(s, "{\"ID\":\"7587\",\"TTL\":\"59\",\"grantedTTL\":\"60\",\"keys\":[\"bGVhc2Vk\"]}");
	free(s);

	Kvpb__StatusResponse st = KVPB__STATUS_RESPONSE__INIT;
	st.version = "3.4.23";
	st.dbsize = 20480;
	st.dbsizeinuse = 16384;
	char *errs[] = { "memberID:1 alarm:NOSPACE " };
	st.errors = errs;
	st.n_errors = 1;
	s = enc(&st.base);
	ck_assert_str_eq(s, "{\"version\":\"3.4.23\",\"dbSize\":\"20480\",\"errors\":[\"memberID:1 "
			    "alarm:NOSPACE \"],\"dbSizeInUse\":\"16384\"}");
	free(s);
}
END_TEST

START_TEST(set_oneof_and_empty_submessage_written)
{
	Kvpb__ResponseHeader empty = KVPB__RESPONSE_HEADER__INIT;
	Kvpb__TxnResponse inner = KVPB__TXN_RESPONSE__INIT;
	inner.header = &empty;
	Kvpb__ResponseOp op = KVPB__RESPONSE_OP__INIT;
	op.response_case = KVPB__RESPONSE_OP__RESPONSE_RESPONSE_TXN;
	op.response_txn = &inner;
	Kvpb__ResponseOp *ops[] = { &op };
	Kvpb__TxnResponse t = KVPB__TXN_RESPONSE__INIT;
	t.succeeded = 1;
	t.responses = ops;
	t.n_responses = 1;
	char *s = enc(&t.base);
	ck_assert_str_eq(s, "{\"succeeded\":true,\"responses\":[{\"response_txn\":{\"header\":{}}}]}");
	free(s);
}
END_TEST

START_TEST(strings_escaped_as_go)
{
	Kvpb__WatchResponse w = KVPB__WATCH_RESPONSE__INIT;
	w.cancel_reason = "a<b>&\"\\\n\x01\xff\xe2\x80\xa8\xc3\xa9";
	char *s = enc(&w.base);
	ck_assert_str_eq(s, "{\"cancel_reason\":\"a\\u003cb\\u003e\\u0026\\\"\\\\\\n\\u0001\\ufffd"
			    "\\u2028\xc3\xa9\"}");
	free(s);
}
END_TEST

START_TEST(decode_snake_and_camel_names)
{
	Kvpb__RangeRequest *r = (Kvpb__RangeRequest *)dec(
		&kvpb__range_request__descriptor,
		"{\"key\":\"Zm9v\",\"rangeEnd\":\"Zm9w\",\"count_only\":true,\"limit\":\"5\","
		"\"revision\":7,\"sortOrder\":\"DESCEND\",\"sort_target\":3,\"bogus\":{\"x\":[1]}}");
	ck_assert_uint_eq(r->key.len, 3);
	ck_assert(memcmp(r->key.data, "foo", 3) == 0);
	ck_assert_uint_eq(r->range_end.len, 3);
	ck_assert(memcmp(r->range_end.data, "fop", 3) == 0);
	ck_assert(r->count_only);
	ck_assert_int_eq(r->limit, 5);
	ck_assert_int_eq(r->revision, 7);
	ck_assert_int_eq(r->sort_order, KVPB__RANGE_REQUEST__SORT_ORDER__DESCEND);
	ck_assert_int_eq(r->sort_target, KVPB__RANGE_REQUEST__SORT_TARGET__MOD);
	protobuf_c_message_free_unpacked(&r->base, NULL);

	/* Quirky proto names: TTL and ID; large int64 exact as number and as string. */
	Kvpb__LeaseGrantRequest *g = (Kvpb__LeaseGrantRequest *)dec(
		&kvpb__lease_grant_request__descriptor, "{\"TTL\":30,\"ID\":\"1418812012492632103\"}");
	ck_assert_int_eq(g->ttl, 30);
	ck_assert_int_eq(g->id, INT64_C(1418812012492632103));
	protobuf_c_message_free_unpacked(&g->base, NULL);
	g = (Kvpb__LeaseGrantRequest *)dec(&kvpb__lease_grant_request__descriptor,
					   "{\"ID\":9223372036854775807}");
	ck_assert_int_eq(g->id, INT64_MAX);
	protobuf_c_message_free_unpacked(&g->base, NULL);
}
END_TEST

START_TEST(decode_txn_oneofs_nested)
{
	Kvpb__TxnRequest *t = (Kvpb__TxnRequest *)dec(
		&kvpb__txn_request__descriptor,
		"{\"compare\":[{\"key\":\"bmV3a2V5\",\"target\":\"CREATE\",\"create_revision\":\"0\"},"
		"{\"key\":\"Zm9v\",\"result\":\"NOT_EQUAL\",\"target\":\"VALUE\",\"value\":\"YmF6\"}],"
		"\"success\":[{\"request_put\":{\"key\":\"Zm9v\",\"value\":\"cXV4\"}},"
		"{\"requestTxn\":{\"failure\":[{\"request_delete_range\":{\"key\":\"YQ==\"}}]}}],"
		"\"failure\":[{\"request_range\":{\"key\":\"Zm9v\"}}]}");
	ck_assert_uint_eq(t->n_compare, 2);
	ck_assert_int_eq(t->compare[0]->target, KVPB__COMPARE__COMPARE_TARGET__CREATE);
	/* "create_revision":"0" still selects the oneof member. */
	ck_assert_int_eq(t->compare[0]->target_union_case,
			 KVPB__COMPARE__TARGET_UNION_CREATE_REVISION);
	ck_assert_int_eq(t->compare[1]->result, KVPB__COMPARE__COMPARE_RESULT__NOT_EQUAL);
	ck_assert_int_eq(t->compare[1]->target_union_case, KVPB__COMPARE__TARGET_UNION_VALUE);
	ck_assert_uint_eq(t->compare[1]->value.len, 3);
	ck_assert_uint_eq(t->n_success, 2);
	ck_assert_int_eq(t->success[0]->request_case, KVPB__REQUEST_OP__REQUEST_REQUEST_PUT);
	ck_assert(memcmp(t->success[0]->request_put->value.data, "qux", 3) == 0);
	ck_assert_int_eq(t->success[1]->request_case, KVPB__REQUEST_OP__REQUEST_REQUEST_TXN);
	ck_assert_uint_eq(t->success[1]->request_txn->n_failure, 1);
	ck_assert_int_eq(t->failure[0]->request_case, KVPB__REQUEST_OP__REQUEST_REQUEST_RANGE);
	protobuf_c_message_free_unpacked(&t->base, NULL);
}
END_TEST

START_TEST(decode_base64_errors_with_offsets)
{
	const ProtobufCMessageDescriptor *d = &kvpb__range_request__descriptor;
	/* Observed from etcd 3.4.23. */
	dec_err(d, "{\"key\":\"Zm9vMQ\"}", JPB_ETYPE, "illegal base64 data at input byte 4");
	dec_err(d, "{\"key\":\"-_8=\"}", JPB_ETYPE, "illegal base64 data at input byte 0");
	dec_err(d, "{\"key\":\"Zm=v\"}", JPB_ETYPE, "illegal base64 data at input byte 2");
	/* Go: a single leftover char, bad second padding, trailing garbage. */
	dec_err(d, "{\"key\":\"Zm9vM\"}", JPB_ETYPE, "illegal base64 data at input byte 4");
	dec_err(d, "{\"key\":\"Zg=x\"}", JPB_ETYPE, "illegal base64 data at input byte 2");
	dec_err(d, "{\"key\":\"Zg==Zg==\"}", JPB_ETYPE, "illegal base64 data at input byte 4");
	/* Valid padded forms decode. */
	Kvpb__RangeRequest *r = (Kvpb__RangeRequest *)dec(d, "{\"key\":\"Zm9vMQ==\"}");
	ck_assert_uint_eq(r->key.len, 4);
	ck_assert(memcmp(r->key.data, "foo1", 4) == 0);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	r = (Kvpb__RangeRequest *)dec(d, "{\"key\":\"AA==\",\"range_end\":\"\"}");
	ck_assert_uint_eq(r->key.len, 1);
	ck_assert_int_eq(r->key.data[0], 0);
	ck_assert_uint_eq(r->range_end.len, 0);
	protobuf_c_message_free_unpacked(&r->base, NULL);
}
END_TEST

START_TEST(decode_syntax_and_type_errors_as_go)
{
	const ProtobufCMessageDescriptor *d = &kvpb__range_request__descriptor;
	/* Every text below was observed from etcd 3.4.23's gateway. */
	dec_err(d, "{\"key\":\"Zm9v", JPB_EPARTIAL, "unexpected EOF");
	dec_err(d, "{bad}", JPB_ESYNTAX,
		"invalid character 'b' looking for beginning of object key string");
	dec_err(d, "xyz", JPB_ESYNTAX, "invalid character 'x' looking for beginning of value");
	dec_err(d, "{\"key\":\"Zm9v\" \"x\":1}", JPB_ESYNTAX,
		"invalid character '\"' after object key:value pair");
	dec_err(d, "{\"key\":5}", JPB_ETYPE,
		"json: cannot unmarshal number into Go value of type []uint8");
	dec_err(d, "{\"key\":\"Zm9v\",\"limit\":\"abc\"}", JPB_ESYNTAX,
		"invalid character 'a' looking for beginning of value");
	dec_err(d, "{\"key\":\"Zm9v\",\"sort_order\":\"BOGUS\"}", JPB_ETYPE,
		"unknown value \"BOGUS\" for enum etcdserverpb.RangeRequest_SortOrder");
	dec_err(d, "{\"key\":\"Zm9v\",\"limit\":1.5}", JPB_ETYPE,
		"json: cannot unmarshal number 1.5 into Go value of type int64");
	dec_err(d, "{\"key\":\"Zm9v\",\"keys_only\":\"true\"}", JPB_ETYPE,
		"json: cannot unmarshal string into Go value of type bool");
	dec_err(d, "[1]", JPB_ETYPE,
		"json: cannot unmarshal array into Go value of type map[string]json.RawMessage");
	dec_err(d, "{\"key\":\"Zm9v\",\"limit\":99999999999999999999}", JPB_ETYPE,
		"json: cannot unmarshal number 99999999999999999999 into Go value of type int64");
	dec_err(d, "{\"key\":\"a\",}", JPB_ESYNTAX,
		"invalid character '}' looking for beginning of object key string");
	dec_err(d, "{\"key\" 1}", JPB_ESYNTAX, "invalid character '1' after object key");
	dec_err(d, "{\"key\":tru}", JPB_ESYNTAX,
		"invalid character '}' in literal true (expecting 'e')");
	dec_err(d, "{\"key\":\"a\nb\"}", JPB_ESYNTAX, "invalid character '\\n' in string literal");
}
END_TEST

START_TEST(decode_limits_and_go_corner_cases)
{
	/* uint32 range, enum kinds, control characters quoted as Go's quoteChar. */
	dec_err(&kvpb__hash_response__descriptor, "{\"hash\":4294967296}", JPB_ETYPE,
		"json: cannot unmarshal number 4294967296 into Go value of type uint32");
	dec_err(&kvpb__range_request__descriptor, "{\"sort_order\":true}", JPB_ETYPE,
		"json: cannot unmarshal bool into Go value of type etcdserverpb.RangeRequest_SortOrder");
	dec_err(&kvpb__range_request__descriptor, "{\"key\":\"a\x01\"}", JPB_ESYNTAX,
		"invalid character '\\x01' in string literal");
	dec_err(&kvpb__txn_request__descriptor, "{\"compare\":{}}", JPB_ETYPE,
		"json: cannot unmarshal object into Go value of type []json.RawMessage");
	dec_err(&kvpb__range_request__descriptor, "{\"limit\":\"\"}", JPB_ESYNTAX,
		"unexpected end of JSON input");
	/* Nesting is bounded instead of exhausting the stack. */
	size_t depth = 5000;
	char *deep = malloc(depth * 2 + 16);
	size_t k = 0;
	deep[k++] = '{';
	memcpy(deep + k, "\"x\":", 4);
	k += 4;
	for (size_t i = 0; i < depth; i++)
		deep[k++] = '[';
	for (size_t i = 0; i < depth; i++)
		deep[k++] = ']';
	deep[k++] = '}';
	deep[k] = 0;
	dec_err(&kvpb__range_request__descriptor, deep, JPB_ESYNTAX, "exceeded max depth");
	free(deep);
	/* Truncated input is "unexpected EOF" and partial, so a stream can wait for more. */
	dec_err(&kvpb__watch_request__descriptor, "{\"create_request\":{\"key\":\"YQ", JPB_EPARTIAL,
		"unexpected EOF");
	dec_err(&kvpb__range_request__descriptor, "{\"limit\":12", JPB_EPARTIAL, "unexpected EOF");

	char camel[64];
	jpb_camel_name("min_mod_revision", camel, sizeof(camel));
	ck_assert_str_eq(camel, "minModRevision");
	jpb_camel_name("grantedTTL", camel, sizeof(camel));
	ck_assert_str_eq(camel, "grantedTTL");
}
END_TEST

START_TEST(decode_stream_of_objects_and_nulls)
{
	const char *s = " {\"create_request\":{\"key\":\"YQ==\",\"filters\":[\"NOPUT\",1]}}\n"
			"{\"cancel_request\":{\"watch_id\":\"3\"}}{\"progress_request\":{}}  ";
	size_t len = strlen(s), off = 0, used;
	ProtobufCMessage *m;
	char err[JPB_ERRLEN];
	ck_assert_int_eq(jpb_decode(&kvpb__watch_request__descriptor, s, len, &used, &m, err,
				    sizeof(err)), 0);
	Kvpb__WatchRequest *w = (Kvpb__WatchRequest *)m;
	ck_assert_int_eq(w->request_union_case, KVPB__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST);
	ck_assert_uint_eq(w->create_request->n_filters, 2);
	ck_assert_int_eq(w->create_request->filters[0], KVPB__WATCH_CREATE_REQUEST__FILTER_TYPE__NOPUT);
	ck_assert_int_eq(w->create_request->filters[1],
			 KVPB__WATCH_CREATE_REQUEST__FILTER_TYPE__NODELETE);
	protobuf_c_message_free_unpacked(m, NULL);
	off += used;
	ck_assert_int_eq(jpb_decode(&kvpb__watch_request__descriptor, s + off, len - off, &used, &m,
				    err, sizeof(err)), 0);
	w = (Kvpb__WatchRequest *)m;
	ck_assert_int_eq(w->request_union_case, KVPB__WATCH_REQUEST__REQUEST_UNION_CANCEL_REQUEST);
	ck_assert_int_eq(w->cancel_request->watch_id, 3);
	protobuf_c_message_free_unpacked(m, NULL);
	off += used;
	ck_assert_int_eq(jpb_decode(&kvpb__watch_request__descriptor, s + off, len - off, &used, &m,
				    err, sizeof(err)), 0);
	w = (Kvpb__WatchRequest *)m;
	ck_assert_int_eq(w->request_union_case,
			 KVPB__WATCH_REQUEST__REQUEST_UNION_PROGRESS_REQUEST);
	protobuf_c_message_free_unpacked(m, NULL);
	off += used;
	ck_assert_int_eq(jpb_decode(&kvpb__watch_request__descriptor, s + off, len - off, &used, &m,
				    err, sizeof(err)), JPB_EOF);

	/* null leaves fields unset; duplicate keys: the last wins without leaking. */
	Kvpb__PutRequest *p = (Kvpb__PutRequest *)dec(
		&kvpb__put_request__descriptor,
		"{\"key\":null,\"value\":\"YQ==\",\"value\":\"Yg==\",\"prev_kv\":null}");
	ck_assert_uint_eq(p->key.len, 0);
	ck_assert_uint_eq(p->value.len, 1);
	ck_assert_int_eq(p->value.data[0], 'b');
	ck_assert(!p->prev_kv);
	protobuf_c_message_free_unpacked(&p->base, NULL);
}
END_TEST

START_TEST(roundtrip_encode_decode)
{
	Kvpb__LeaseTimeToLiveResponse t = KVPB__LEASE_TIME_TO_LIVE_RESPONSE__INIT;
	ProtobufCBinaryData keys[] = { { 2, (uint8_t *)"\x00\xff" }, { 1, (uint8_t *)"k" } };
	t.id = -5;
	t.grantedttl = INT64_MAX;
	t.keys = keys;
	t.n_keys = 2;
	char *s = enc(&t.base);
	Kvpb__LeaseTimeToLiveResponse *r = (Kvpb__LeaseTimeToLiveResponse *)dec(
		&kvpb__lease_time_to_live_response__descriptor, s);
	ck_assert_int_eq(r->id, -5);
	ck_assert_int_eq(r->grantedttl, INT64_MAX);
	ck_assert_uint_eq(r->n_keys, 2);
	ck_assert_uint_eq(r->keys[0].len, 2);
	ck_assert(memcmp(r->keys[0].data, "\x00\xff", 2) == 0);
	protobuf_c_message_free_unpacked(&r->base, NULL);
	free(s);
}
END_TEST

static Suite *jsonpb_suite(void)
{
	Suite *s = suite_create("jsonpb");
	TCase *tc = tcase_create("encode");
	tcase_add_test(tc, put_response_header_int64_as_strings);
	tcase_add_test(tc, kv_field_order_and_zero_omission);
	tcase_add_test(tc, enums_by_name_and_zero_enum_omitted);
	tcase_add_test(tc, uint32_as_number_and_quirky_names);
	tcase_add_test(tc, set_oneof_and_empty_submessage_written);
	tcase_add_test(tc, strings_escaped_as_go);
	suite_add_tcase(s, tc);
	tc = tcase_create("decode");
	tcase_add_test(tc, decode_snake_and_camel_names);
	tcase_add_test(tc, decode_txn_oneofs_nested);
	tcase_add_test(tc, decode_base64_errors_with_offsets);
	tcase_add_test(tc, decode_syntax_and_type_errors_as_go);
	tcase_add_test(tc, decode_limits_and_go_corner_cases);
	tcase_add_test(tc, decode_stream_of_objects_and_nulls);
	tcase_add_test(tc, roundtrip_encode_decode);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(jsonpb_suite)
