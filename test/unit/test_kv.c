/* Engine API semantics as etcd 3.4 shows them on the wire (docs STORE_API.md): revisions,
 * ranges, deletes, txns, compaction, errors and the space quota. */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "../../store/kv.h"
#include "kc_test.h"

#include "kvtest.h"

START_TEST(put_get_history_and_errors)
{
	char *dir = kvt_tmpdir();
	struct kv *kv = kvt_open(dir, NULL, 0);
	ck_assert_int_eq(kv_current_rev(kv), 1); /* etcd: an empty store is at revision 1 */
	ck_assert_int_eq(kvt_put(kv, "foo", "bar"), 2);
	ck_assert_int_eq(kvt_put(kv, "foo", "baz"), 3);
	char v[64];
	Kvpb__KeyValue m;
	ck_assert_int_eq(kvt_get_at(kv, "foo", 0, v, sizeof(v), &m), 0);
	ck_assert_str_eq(v, "baz");
	ck_assert_int_eq(m.create_revision, 2);
	ck_assert_int_eq(m.mod_revision, 3);
	ck_assert_int_eq(m.version, 2);
	ck_assert_int_eq(kvt_get_at(kv, "foo", 2, v, sizeof(v), &m), 0);
	ck_assert_str_eq(v, "bar");
	ck_assert_int_eq(m.version, 1);
	ck_assert_int_eq(kvt_get_at(kv, "foo", 99, v, sizeof(v), NULL), KV_EFUTUREREV);
	ck_assert_int_eq(kvt_get_at(kv, "nonexist", 0, v, sizeof(v), &m), 0);
	ck_assert_int_eq(m.mod_revision, 0);
	/* empty key */
	Kvpb__PutRequest p = KVPB__PUT_REQUEST__INIT;
	p.value = kvt_bin("a");
	Kvpb__PutResponse *pr = NULL;
	ck_assert_int_eq(kv_put(kv, &p, &pr), KV_EEMPTYKEY);
	ck_assert_ptr_null(pr);
	Kvpb__RangeRequest rr = KVPB__RANGE_REQUEST__INIT;
	Kvpb__RangeResponse *rresp = NULL;
	ck_assert_int_eq(kv_range(kv, &rr, &rresp), KV_EEMPTYKEY);
	/* prev_kv on put */
	p.key = kvt_bin("foo");
	p.value = kvt_bin("qux");
	p.prev_kv = true;
	ck_assert_int_eq(kv_put(kv, &p, &pr), 0);
	ck_assert_ptr_nonnull(pr->prev_kv);
	ck_assert_int_eq(pr->prev_kv->mod_revision, 3);
	ck_assert_int_eq(pr->header->revision, 4);
	ck_assert_uint_eq(pr->header->member_id, kv_member_id(kv));
	kvpb__put_response__free_unpacked(pr, NULL);
	/* ignore_value on a missing key, unknown lease */
	Kvpb__PutRequest q = KVPB__PUT_REQUEST__INIT;
	q.key = kvt_bin("empty");
	q.ignore_value = true;
	ck_assert_int_eq(kv_put(kv, &q, &pr), KV_EKEYNOTFOUND);
	q.ignore_value = false;
	q.lease = 7587;
	ck_assert_int_eq(kv_put(kv, &q, &pr), KV_ELEASENOTFOUND);
	ck_assert_int_eq(kv_current_rev(kv), 4); /* failed writes do not move the revision */
	/* ignore_value keeps the value, bumps the version */
	q.key = kvt_bin("foo");
	q.lease = 0;
	q.ignore_value = true;
	ck_assert_int_eq(kv_put(kv, &q, &pr), 0);
	kvpb__put_response__free_unpacked(pr, NULL);
	ck_assert_int_eq(kvt_get_at(kv, "foo", 0, v, sizeof(v), &m), 0);
	ck_assert_str_eq(v, "qux");
	ck_assert_int_eq(m.version, 4);
	kv_close(kv);
	kvt_rm_rf(dir);
	free(dir);
}
END_TEST

static Kvpb__RangeResponse *range(struct kv *kv, Kvpb__RangeRequest *r)
{
	Kvpb__RangeResponse *resp = NULL;
	int rc = kv_range(kv, r, &resp);
	ck_assert_msg(rc == 0, "range: %s", kv_errmsg(rc));
	return resp;
}

static void key_is(const Kvpb__KeyValue *kv, const char *k)
{
	ck_assert_uint_eq(kv->key.len, strlen(k));
	ck_assert(memcmp(kv->key.data, k, kv->key.len) == 0);
}

START_TEST(range_limit_count_sort_filters)
{
	char *dir = kvt_tmpdir();
	struct kv *kv = kvt_open(dir, NULL, 0);
	kvt_put(kv, "foo", "3");   /* rev 2 */
	kvt_put(kv, "foo1", "1");  /* rev 3 */
	kvt_put(kv, "foo2", "2");  /* rev 4 */
	kvt_put(kv, "fop", "0");   /* rev 5 */
	kvt_put(kv, "foo1", "9");  /* rev 6 */
	Kvpb__RangeRequest r = KVPB__RANGE_REQUEST__INIT;
	r.key = kvt_bin("foo");
	r.range_end = kvt_bin("fop");
	r.limit = 2;
	Kvpb__RangeResponse *resp = range(kv, &r);
	ck_assert_uint_eq(resp->n_kvs, 2);
	ck_assert(resp->more);
	ck_assert_int_eq(resp->count, 3);
	key_is(resp->kvs[0], "foo");
	key_is(resp->kvs[1], "foo1");
	ck_assert_int_eq(resp->header->revision, 6);
	kvpb__range_response__free_unpacked(resp, NULL);

	r.limit = 0;
	r.count_only = true;
	resp = range(kv, &r);
	ck_assert_uint_eq(resp->n_kvs, 0);
	ck_assert_int_eq(resp->count, 3);
	kvpb__range_response__free_unpacked(resp, NULL);

	r.count_only = false;
	r.keys_only = true;
	resp = range(kv, &r);
	ck_assert_uint_eq(resp->n_kvs, 3);
	ck_assert_uint_eq(resp->kvs[0]->value.len, 0);
	ck_assert_int_eq(resp->kvs[0]->mod_revision, 2);
	kvpb__range_response__free_unpacked(resp, NULL);

	/* "\0".."\0" = every key; "fop".."\0" = keys >= fop */
	Kvpb__RangeRequest all = KVPB__RANGE_REQUEST__INIT;
	all.key = (ProtobufCBinaryData){ 1, (uint8_t *)"" };
	all.range_end = (ProtobufCBinaryData){ 1, (uint8_t *)"" };
	resp = range(kv, &all);
	ck_assert_uint_eq(resp->n_kvs, 4);
	kvpb__range_response__free_unpacked(resp, NULL);
	all.key = kvt_bin("foo2");
	resp = range(kv, &all);
	ck_assert_uint_eq(resp->n_kvs, 2);
	key_is(resp->kvs[0], "foo2");
	kvpb__range_response__free_unpacked(resp, NULL);

	/* range_end < key: empty, no error */
	Kvpb__RangeRequest inv = KVPB__RANGE_REQUEST__INIT;
	inv.key = kvt_bin("fop");
	inv.range_end = kvt_bin("foo");
	resp = range(kv, &inv);
	ck_assert_uint_eq(resp->n_kvs, 0);
	ck_assert_int_eq(resp->count, 0);
	kvpb__range_response__free_unpacked(resp, NULL);

	/* sort descending by key, by value ascending, by mod (default ascend) */
	r.keys_only = false;
	r.sort_order = KVPB__RANGE_REQUEST__SORT_ORDER__DESCEND;
	r.sort_target = KVPB__RANGE_REQUEST__SORT_TARGET__KEY;
	resp = range(kv, &r);
	key_is(resp->kvs[0], "foo2");
	key_is(resp->kvs[2], "foo");
	kvpb__range_response__free_unpacked(resp, NULL);
	r.sort_order = KVPB__RANGE_REQUEST__SORT_ORDER__NONE;
	r.sort_target = KVPB__RANGE_REQUEST__SORT_TARGET__MOD;
	resp = range(kv, &r);
	key_is(resp->kvs[0], "foo");
	key_is(resp->kvs[1], "foo2");
	key_is(resp->kvs[2], "foo1");
	kvpb__range_response__free_unpacked(resp, NULL);
	r.sort_target = KVPB__RANGE_REQUEST__SORT_TARGET__VALUE;
	r.sort_order = KVPB__RANGE_REQUEST__SORT_ORDER__DESCEND;
	r.limit = 1;
	resp = range(kv, &r);
	ck_assert_uint_eq(resp->n_kvs, 1);
	key_is(resp->kvs[0], "foo1"); /* value "9" */
	ck_assert(resp->more);
	kvpb__range_response__free_unpacked(resp, NULL);

	/* min_mod_revision: count is the count before the filter (etcd) */
	Kvpb__RangeRequest f = KVPB__RANGE_REQUEST__INIT;
	f.key = kvt_bin("foo");
	f.range_end = kvt_bin("fop");
	f.min_mod_revision = 4;
	resp = range(kv, &f);
	ck_assert_uint_eq(resp->n_kvs, 2);
	ck_assert_int_eq(resp->count, 3);
	kvpb__range_response__free_unpacked(resp, NULL);
	f.min_mod_revision = 0;
	f.max_create_revision = 3;
	resp = range(kv, &f);
	ck_assert_uint_eq(resp->n_kvs, 2);
	kvpb__range_response__free_unpacked(resp, NULL);

	/* historical range over a prefix */
	f.max_create_revision = 0;
	f.revision = 3;
	resp = range(kv, &f);
	ck_assert_uint_eq(resp->n_kvs, 2);
	ck_assert_int_eq(resp->header->revision, 6); /* header carries the current revision */
	kvpb__range_response__free_unpacked(resp, NULL);

	r.sort_order = 7;
	Kvpb__RangeResponse *bad = NULL;
	ck_assert_int_eq(kv_range(kv, &r, &bad), KV_EBADSORT);
	kv_close(kv);
	kvt_rm_rf(dir);
	free(dir);
}
END_TEST

START_TEST(delete_tombstones_and_generations)
{
	char *dir = kvt_tmpdir();
	struct kv *kv = kvt_open(dir, NULL, 0);
	kvt_put(kv, "a", "1");
	kvt_put(kv, "b", "2");
	kvt_put(kv, "c", "3"); /* rev 4 */
	ck_assert_int_eq(kvt_del(kv, "zzz", NULL), 0);
	ck_assert_int_eq(kv_current_rev(kv), 4); /* nothing deleted: revision unchanged */
	Kvpb__DeleteRangeRequest d = KVPB__DELETE_RANGE_REQUEST__INIT;
	d.key = kvt_bin("a");
	d.range_end = kvt_bin("c");
	d.prev_kv = true;
	Kvpb__DeleteRangeResponse *dr = NULL;
	ck_assert_int_eq(kv_delete_range(kv, &d, &dr), 0);
	ck_assert_int_eq(dr->deleted, 2);
	ck_assert_uint_eq(dr->n_prev_kvs, 2);
	ck_assert_int_eq(dr->header->revision, 5); /* one revision for both */
	kvpb__delete_range_response__free_unpacked(dr, NULL);
	char v[16];
	Kvpb__KeyValue m;
	ck_assert_int_eq(kvt_get_at(kv, "a", 0, v, sizeof(v), &m), 0);
	ck_assert_int_eq(m.mod_revision, 0);
	ck_assert_int_eq(kvt_get_at(kv, "a", 4, v, sizeof(v), &m), 0);
	ck_assert_str_eq(v, "1");
	/* a new generation starts over */
	ck_assert_int_eq(kvt_put(kv, "a", "x"), 6);
	ck_assert_int_eq(kvt_get_at(kv, "a", 0, v, sizeof(v), &m), 0);
	ck_assert_int_eq(m.create_revision, 6);
	ck_assert_int_eq(m.version, 1);
	kv_close(kv);
	kvt_rm_rf(dir);
	free(dir);
}
END_TEST

static Kvpb__RequestOp *op_put(const char *k, const char *v)
{
	Kvpb__RequestOp *o = calloc(1, sizeof(*o));
	Kvpb__PutRequest *p = calloc(1, sizeof(*p));
	kvpb__request_op__init(o);
	kvpb__put_request__init(p);
	p->key = kvt_bin(k);
	p->value = kvt_bin(v);
	o->request_case = KVPB__REQUEST_OP__REQUEST_REQUEST_PUT;
	o->request_put = p;
	return o;
}

static Kvpb__RequestOp *op_range(const char *k)
{
	Kvpb__RequestOp *o = calloc(1, sizeof(*o));
	Kvpb__RangeRequest *r = calloc(1, sizeof(*r));
	kvpb__request_op__init(o);
	kvpb__range_request__init(r);
	r->key = kvt_bin(k);
	o->request_case = KVPB__REQUEST_OP__REQUEST_REQUEST_RANGE;
	o->request_range = r;
	return o;
}

static Kvpb__RequestOp *op_del(const char *k, const char *end)
{
	Kvpb__RequestOp *o = calloc(1, sizeof(*o));
	Kvpb__DeleteRangeRequest *r = calloc(1, sizeof(*r));
	kvpb__request_op__init(o);
	kvpb__delete_range_request__init(r);
	r->key = kvt_bin(k);
	if (end)
		r->range_end = kvt_bin(end);
	o->request_case = KVPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE;
	o->request_delete_range = r;
	return o;
}

static void free_op(Kvpb__RequestOp *o)
{
	free(o->request_put); /* the union member: any of them */
	free(o);
}

START_TEST(txn_compares_ops_and_limits)
{
	char *dir = kvt_tmpdir();
	struct kv *kv = kvt_open(dir, NULL, 0);
	kvt_put(kv, "foo", "baz"); /* rev 2 */

	Kvpb__Compare c = KVPB__COMPARE__INIT;
	Kvpb__Compare *cs[] = { &c };
	c.key = kvt_bin("foo");
	c.result = KVPB__COMPARE__COMPARE_RESULT__EQUAL;
	c.target = KVPB__COMPARE__COMPARE_TARGET__VALUE;
	c.target_union_case = KVPB__COMPARE__TARGET_UNION_VALUE;
	c.value = kvt_bin("baz");
	Kvpb__RequestOp *succ[] = { op_put("foo", "qux"), op_range("foo") };
	Kvpb__RequestOp *fail[] = { op_range("foo") };
	Kvpb__TxnRequest t = KVPB__TXN_REQUEST__INIT;
	t.n_compare = 1;
	t.compare = cs;
	t.n_success = 2;
	t.success = succ;
	t.n_failure = 1;
	t.failure = fail;
	Kvpb__TxnResponse *tr = NULL;
	ck_assert_int_eq(kv_txn(kv, &t, &tr), 0);
	ck_assert(tr->succeeded);
	ck_assert_int_eq(tr->header->revision, 3);
	ck_assert_uint_eq(tr->n_responses, 2);
	ck_assert_int_eq(tr->responses[0]->response_case, KVPB__RESPONSE_OP__RESPONSE_RESPONSE_PUT);
	ck_assert_int_eq(tr->responses[0]->response_put->header->revision, 3);
	ck_assert_uint_eq(tr->responses[0]->response_put->header->member_id, 0); /* nested */
	/* the range after the put sees the txn's own write */
	Kvpb__RangeResponse *in = tr->responses[1]->response_range;
	ck_assert_uint_eq(in->n_kvs, 1);
	ck_assert_int_eq(in->kvs[0]->mod_revision, 3);
	kvpb__txn_response__free_unpacked(tr, NULL);

	/* same again: compare fails, failure branch, revision unchanged */
	ck_assert_int_eq(kv_txn(kv, &t, &tr), 0);
	ck_assert(!tr->succeeded);
	ck_assert_int_eq(tr->header->revision, 3);
	ck_assert_uint_eq(tr->n_responses, 1);
	ck_assert_uint_eq(tr->responses[0]->response_range->n_kvs, 1);
	kvpb__txn_response__free_unpacked(tr, NULL);

	/* create-if-absent: CREATE == 0 */
	Kvpb__Compare cc = KVPB__COMPARE__INIT;
	Kvpb__Compare *ccs[] = { &cc };
	cc.key = kvt_bin("newkey");
	cc.target = KVPB__COMPARE__COMPARE_TARGET__CREATE;
	cc.target_union_case = KVPB__COMPARE__TARGET_UNION_CREATE_REVISION;
	Kvpb__RequestOp *cput[] = { op_put("newkey", "v") };
	Kvpb__TxnRequest t2 = KVPB__TXN_REQUEST__INIT;
	t2.n_compare = 1;
	t2.compare = ccs;
	t2.n_success = 1;
	t2.success = cput;
	ck_assert_int_eq(kv_txn(kv, &t2, &tr), 0);
	ck_assert(tr->succeeded);
	ck_assert_int_eq(tr->header->revision, 4);
	kvpb__txn_response__free_unpacked(tr, NULL);
	ck_assert_int_eq(kv_txn(kv, &t2, &tr), 0);
	ck_assert(!tr->succeeded);
	ck_assert_uint_eq(tr->n_responses, 0);
	kvpb__txn_response__free_unpacked(tr, NULL);

	/* MOD compare with range_end over two keys, GREATER */
	cc.key = kvt_bin("f");
	cc.range_end = kvt_bin("g");
	cc.target = KVPB__COMPARE__COMPARE_TARGET__MOD;
	cc.target_union_case = KVPB__COMPARE__TARGET_UNION_MOD_REVISION;
	cc.mod_revision = 2;
	cc.result = KVPB__COMPARE__COMPARE_RESULT__GREATER;
	t2.n_success = 0;
	ck_assert_int_eq(kv_txn(kv, &t2, &tr), 0);
	ck_assert(tr->succeeded); /* foo mod 3 > 2 */
	kvpb__txn_response__free_unpacked(tr, NULL);
	cc.range_end = kvt_bin("z"); /* newkey mod 4, foo 3: both > 2 */
	cc.mod_revision = 3;     /* foo is not > 3 */
	ck_assert_int_eq(kv_txn(kv, &t2, &tr), 0);
	ck_assert(!tr->succeeded);
	kvpb__txn_response__free_unpacked(tr, NULL);

	/* duplicate keys: two puts, or a put inside a deleted range */
	Kvpb__RequestOp *dup[] = { op_put("k", "1"), op_put("k", "2") };
	Kvpb__TxnRequest t3 = KVPB__TXN_REQUEST__INIT;
	t3.n_success = 2;
	t3.success = dup;
	ck_assert_int_eq(kv_txn(kv, &t3, &tr), KV_EDUPKEY);
	Kvpb__RequestOp *dup2[] = { op_del("a", "z"), op_put("k", "2") };
	t3.success = dup2;
	ck_assert_int_eq(kv_txn(kv, &t3, &tr), KV_EDUPKEY);
	/* a put in both branches of a nested txn is fine */
	Kvpb__TxnRequest nested = KVPB__TXN_REQUEST__INIT;
	Kvpb__RequestOp *nt[] = { op_put("n", "then") };
	Kvpb__RequestOp *nf[] = { op_put("n", "else") };
	nested.n_success = 1;
	nested.success = nt;
	nested.n_failure = 1;
	nested.failure = nf;
	Kvpb__RequestOp nop = KVPB__REQUEST_OP__INIT;
	nop.request_case = KVPB__REQUEST_OP__REQUEST_REQUEST_TXN;
	nop.request_txn = &nested;
	Kvpb__RequestOp *outer[] = { &nop, op_range("n") };
	Kvpb__TxnRequest t4 = KVPB__TXN_REQUEST__INIT;
	t4.n_success = 2;
	t4.success = outer;
	ck_assert_int_eq(kv_txn(kv, &t4, &tr), 0);
	ck_assert(tr->succeeded);
	Kvpb__TxnResponse *sub = tr->responses[0]->response_txn;
	ck_assert_ptr_nonnull(sub->header);
	ck_assert_int_eq(sub->header->revision, 0); /* etcd: nested txn header is empty */
	ck_assert(sub->succeeded);
	ck_assert_uint_eq(tr->responses[1]->response_range->n_kvs, 1);
	kvpb__txn_response__free_unpacked(tr, NULL);

	/* too many operations (etcd's --max-txn-ops 128) */
	Kvpb__RequestOp **many = calloc(129, sizeof(*many));
	char keys[129][16];
	for (int i = 0; i < 129; i++) {
		snprintf(keys[i], sizeof(keys[i]), "m%03d", i);
		many[i] = op_put(keys[i], "x");
	}
	Kvpb__TxnRequest t5 = KVPB__TXN_REQUEST__INIT;
	t5.n_success = 129;
	t5.success = many;
	ck_assert_int_eq(kv_txn(kv, &t5, &tr), KV_ETOOMANYOPS);
	t5.n_success = 128;
	int64_t before = kv_current_rev(kv);
	ck_assert_int_eq(kv_txn(kv, &t5, &tr), 0);
	ck_assert_int_eq(tr->header->revision, before + 1); /* one revision for 128 puts */
	kvpb__txn_response__free_unpacked(tr, NULL);
	for (int i = 0; i < 129; i++)
		free_op(many[i]);
	free(many);

	/* empty txn succeeds */
	Kvpb__TxnRequest t6 = KVPB__TXN_REQUEST__INIT;
	ck_assert_int_eq(kv_txn(kv, &t6, &tr), 0);
	ck_assert(tr->succeeded);
	kvpb__txn_response__free_unpacked(tr, NULL);

	free_op(succ[0]);
	free_op(succ[1]);
	free_op(fail[0]);
	free_op(cput[0]);
	free_op(dup[0]);
	free_op(dup[1]);
	free_op(dup2[0]);
	free_op(dup2[1]);
	free_op(nt[0]);
	free_op(nf[0]);
	free_op(outer[1]);
	kv_close(kv);
	kvt_rm_rf(dir);
	free(dir);
}
END_TEST

START_TEST(compaction_errors_and_reads)
{
	char *dir = kvt_tmpdir();
	struct kv *kv = kvt_open(dir, NULL, 0);
	for (int i = 0; i < 9; i++)
		kvt_put(kv, "foo", i % 2 ? "odd" : "even"); /* revs 2..10 */
	Kvpb__CompactionRequest c = KVPB__COMPACTION_REQUEST__INIT;
	Kvpb__CompactionResponse *cr = NULL;
	c.revision = 5;
	ck_assert_int_eq(kv_compact(kv, &c, &cr), 0);
	ck_assert_int_eq(cr->header->revision, 10);
	kvpb__compaction_response__free_unpacked(cr, NULL);
	char v[16];
	ck_assert_int_eq(kvt_get_at(kv, "foo", 4, v, sizeof(v), NULL), KV_ECOMPACTED);
	ck_assert_int_eq(kvt_get_at(kv, "foo", 5, v, sizeof(v), NULL), 0); /* == compacted: ok */
	ck_assert_str_eq(v, "odd");
	ck_assert_int_eq(kvt_get_at(kv, "foo", 6, v, sizeof(v), NULL), 0);
	ck_assert_str_eq(v, "even");
	c.revision = 3;
	ck_assert_int_eq(kv_compact(kv, &c, &cr), KV_ECOMPACTED);
	c.revision = 5;
	ck_assert_int_eq(kv_compact(kv, &c, &cr), KV_ECOMPACTED);
	c.revision = 99999;
	ck_assert_int_eq(kv_compact(kv, &c, &cr), KV_EFUTUREREV);
	ck_assert_int_eq(kv_compact_rev(kv), 5);
	/* the error table carries etcd's text and gRPC codes */
	ck_assert_str_eq(kv_errmsg(KV_ECOMPACTED),
			 "etcdserver: mvcc: required revision has been compacted");
	ck_assert_int_eq(kv_grpc_code(KV_ECOMPACTED), 11);
	ck_assert_int_eq(kv_grpc_code(KV_ELEASENOTFOUND), 5);
	ck_assert_int_eq(kv_grpc_code(KV_ENOSPACE), 8);
	ck_assert_str_eq(kv_errmsg(KV_EDUPKEY), "etcdserver: duplicate key given in txn request");
	ck_assert_int_eq(kv_grpc_code(KV_ETOOMANYOPS), 3);
	ck_assert_int_eq(kv_grpc_code(-ENOMEM), 2);
	kv_close(kv);
	kvt_rm_rf(dir);
	free(dir);
}
END_TEST

static bool has_nospace(struct kv *kv)
{
	Kvpb__AlarmRequest a = KVPB__ALARM_REQUEST__INIT;
	Kvpb__AlarmResponse *ar = NULL;
	ck_assert_int_eq(kv_alarm(kv, &a, &ar), 0);
	bool found = false;
	for (size_t i = 0; i < ar->n_alarms; i++)
		found |= ar->alarms[i]->alarm == KVPB__ALARM_TYPE__NOSPACE;
	kvpb__alarm_response__free_unpacked(ar, NULL);
	return found;
}

START_TEST(quota_raises_nospace_until_disarmed)
{
	char *dir = kvt_tmpdir();
	struct kv_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.data_dir = dir;
	cfg.quota_bytes = 8192;
	cfg.unsafe_no_fsync = true;
	struct kv *kv = NULL;
	ck_assert_int_eq(kv_open(&cfg, &kv), 0);
	char val[1025];
	memset(val, 'v', 1024);
	val[1024] = 0;
	int rc = 0, i;
	char key[16];
	for (i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		Kvpb__PutRequest p = KVPB__PUT_REQUEST__INIT;
		p.key = kvt_bin(key);
		p.value = kvt_bin(val);
		Kvpb__PutResponse *pr = NULL;
		rc = kv_put(kv, &p, &pr);
		if (rc)
			break;
		kvpb__put_response__free_unpacked(pr, NULL);
	}
	ck_assert_int_eq(rc, KV_ENOSPACE);
	ck_assert_int_lt(i, 10);
	ck_assert(has_nospace(kv));
	Kvpb__StatusRequest sreq = KVPB__STATUS_REQUEST__INIT;
	Kvpb__StatusResponse *st = NULL;
	ck_assert_int_eq(kv_status(kv, &sreq, &st), 0);
	ck_assert_uint_eq(st->n_errors, 1);
	ck_assert(strstr(st->errors[0], "alarm:NOSPACE") != NULL);
	ck_assert_int_gt(st->dbsize, 0);
	kvpb__status_response__free_unpacked(st, NULL);
	/* small writes fail too while the alarm is raised; deletes work */
	Kvpb__PutRequest small = KVPB__PUT_REQUEST__INIT;
	small.key = kvt_bin("s");
	small.value = kvt_bin("1");
	Kvpb__PutResponse *pr = NULL;
	ck_assert_int_eq(kv_put(kv, &small, &pr), KV_ENOSPACE);
	ck_assert_int_gt(kvt_del(kv, "k", "l"), 0);
	ck_assert_int_eq(kv_put(kv, &small, &pr), KV_ENOSPACE); /* still armed */
	/* compact + defragment + disarm: writes resume */
	Kvpb__CompactionRequest c = KVPB__COMPACTION_REQUEST__INIT;
	c.revision = kv_current_rev(kv);
	Kvpb__CompactionResponse *cr = NULL;
	ck_assert_int_eq(kv_compact(kv, &c, &cr), 0);
	kvpb__compaction_response__free_unpacked(cr, NULL);
	Kvpb__DefragmentRequest dq = KVPB__DEFRAGMENT_REQUEST__INIT;
	Kvpb__DefragmentResponse *dr = NULL;
	ck_assert_int_eq(kv_defragment(kv, &dq, &dr), 0);
	ck_assert_ptr_null(dr->header);
	kvpb__defragment_response__free_unpacked(dr, NULL);
	Kvpb__AlarmRequest a = KVPB__ALARM_REQUEST__INIT;
	a.action = KVPB__ALARM_REQUEST__ALARM_ACTION__DEACTIVATE;
	a.memberid = kv_member_id(kv);
	a.alarm = KVPB__ALARM_TYPE__NOSPACE;
	Kvpb__AlarmResponse *ar = NULL;
	ck_assert_int_eq(kv_alarm(kv, &a, &ar), 0);
	kvpb__alarm_response__free_unpacked(ar, NULL);
	ck_assert(!has_nospace(kv));
	ck_assert_int_eq(kv_put(kv, &small, &pr), 0);
	kvpb__put_response__free_unpacked(pr, NULL);
	kv_close(kv);
	/* the alarm state is durable: raise it again and reopen */
	kvt_rm_rf(dir);
	free(dir);
}
END_TEST

START_TEST(status_and_member_list)
{
	char *dir = kvt_tmpdir();
	struct kv_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.data_dir = dir;
	cfg.name = "m0";
	const char *peers[] = { "http://127.0.0.1:2380" };
	const char *clients[] = { "http://127.0.0.1:2379" };
	cfg.peer_urls = peers;
	cfg.n_peer_urls = 1;
	cfg.client_urls = clients;
	cfg.n_client_urls = 1;
	cfg.unsafe_no_fsync = true;
	struct kv *kv = NULL;
	ck_assert_int_eq(kv_open(&cfg, &kv), 0);
	uint64_t id = kv_member_id(kv);
	kvt_put(kv, "x", "y");
	Kvpb__MemberListRequest mr = KVPB__MEMBER_LIST_REQUEST__INIT;
	Kvpb__MemberListResponse *ml = NULL;
	ck_assert_int_eq(kv_member_list(kv, &mr, &ml), 0);
	ck_assert_uint_eq(ml->n_members, 1);
	ck_assert_str_eq(ml->members[0]->name, "m0");
	ck_assert_str_eq(ml->members[0]->clienturls[0], "http://127.0.0.1:2379");
	ck_assert_int_eq(ml->header->revision, 0);
	kvpb__member_list_response__free_unpacked(ml, NULL);
	Kvpb__StatusRequest sreq = KVPB__STATUS_REQUEST__INIT;
	Kvpb__StatusResponse *st = NULL;
	ck_assert_int_eq(kv_status(kv, &sreq, &st), 0);
	ck_assert_uint_eq(st->leader, id);
	/* Raft: the leader's empty entry at index 1, the put at 2; a sole voter has
	 * applied everything it logged. */
	ck_assert_uint_eq(st->raftindex, 2);
	ck_assert_uint_eq(st->raftappliedindex, 2);
	ck_assert_uint_ge(st->raftterm, 1);
	ck_assert_uint_eq(st->header->raft_term, st->raftterm);
	ck_assert_int_eq(st->header->revision, 2);
	ck_assert_uint_eq(st->n_errors, 0);
	kvpb__status_response__free_unpacked(st, NULL);
	kv_close(kv);
	/* member ID is stable across restarts */
	ck_assert_int_eq(kv_open(&cfg, &kv), 0);
	ck_assert_uint_eq(kv_member_id(kv), id);
	kv_close(kv);
	kvt_rm_rf(dir);
	free(dir);
}
END_TEST


/* Wait (real time, bounded) until the engine's compacted revision reaches want. */
static int64_t wait_compact(struct kv *kv, int64_t want)
{
	struct timespec dl, now, tick = { 0, 2 * 1000 * 1000 };
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += 10;
	for (;;) {
		int64_t c = kv_compact_rev(kv);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (c >= want || now.tv_sec > dl.tv_sec)
			return c;
		nanosleep(&tick, NULL);
	}
}

START_TEST(auto_compaction_revision_and_periodic)
{
	kc_fake_clock fc;
	kc_fake_clock_init(&fc, INT64_C(1700000000) * KC_NSEC_PER_SEC, 9);
	char *dir = kvt_tmpdir();
	struct kv_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.data_dir = dir;
	cfg.unsafe_no_fsync = true;
	cfg.clock = &fc.base;
	cfg.auto_compaction_mode = KV_COMPACT_REVISION;
	cfg.auto_compaction_retention = "10";
	struct kv *kv = NULL;
	ck_assert_int_eq(kv_open(&cfg, &kv), 0);
	for (int i = 0; i < 30; i++)
		kvt_put(kv, "r", "v"); /* revision 31 */
	ck_assert_int_eq(kv_compact_rev(kv), 0);
	/* etcd's revision compactor runs every 5 minutes: current - retention */
	kc_fake_clock_advance(&fc, 301 * KC_NSEC_PER_SEC);
	ck_assert_int_eq(wait_compact(kv, 21), 21);
	kv_close(kv);
	kvt_rm_rf(dir);

	/* periodic "1h": compact to the revision sampled an hour earlier */
	ck_assert_ptr_nonnull(mkdtemp(strcpy(dir, "/tmp/kvtest.XXXXXX")));
	cfg.auto_compaction_mode = KV_COMPACT_PERIODIC;
	cfg.auto_compaction_retention = "1h";
	ck_assert_int_eq(kv_open(&cfg, &kv), 0);
	for (int i = 0; i < 5; i++)
		kvt_put(kv, "p", "v"); /* revision 6 */
	kc_fake_clock_advance(&fc, 61 * 60 * KC_NSEC_PER_SEC);
	/* first hour: the sample taken at start (revision 1) */
	ck_assert_int_eq(wait_compact(kv, 1), 1);
	for (int i = 0; i < 5; i++)
		kvt_put(kv, "p", "v"); /* revision 11 */
	kc_fake_clock_advance(&fc, 61 * 60 * KC_NSEC_PER_SEC);
	/* an hour later: the revision seen an hour ago (6), not the current 11 */
	ck_assert_int_eq(wait_compact(kv, 6), 6);
	kv_close(kv);
	/* a bad retention is refused */
	cfg.auto_compaction_retention = "1x";
	ck_assert_int_eq(kv_open(&cfg, &kv), -EINVAL);
	kc_fake_clock_close(&fc);
	kvt_rm_rf(dir);
	free(dir);
}
END_TEST


struct acks {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int n, errors;
	int64_t revs[256];
	bool inline_txn;
};

static void on_put_done(void *arg, int err, void *resp)
{
	struct acks *a = arg;
	pthread_mutex_lock(&a->mu);
	if (err || !resp) {
		a->errors++;
	} else {
		Kvpb__PutResponse *r = resp;
		if (a->n < 256)
			a->revs[a->n] = r->header->revision;
		kvpb__put_response__free_unpacked(r, NULL);
	}
	a->n++;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

static void on_txn_done(void *arg, int err, void *resp)
{
	struct acks *a = arg;
	a->inline_txn = err == 0 && resp && ((Kvpb__TxnResponse *)resp)->succeeded;
	if (resp)
		kvpb__txn_response__free_unpacked(resp, NULL);
}

START_TEST(async_writes_complete_in_order)
{
	char *dir = kvt_tmpdir();
	struct kv *kv = kvt_open(dir, NULL, 0);
	struct acks a = { .n = 0 };
	pthread_mutex_init(&a.mu, NULL);
	pthread_cond_init(&a.cv, NULL);
	char keys[100][24];
	for (int i = 0; i < 100; i++) {
		snprintf(keys[i], sizeof(keys[i]), "async/%02d", i);
		Kvpb__PutRequest r = KVPB__PUT_REQUEST__INIT;
		r.key = kvt_bin(keys[i]);
		r.value = kvt_bin("v");
		ck_assert_int_eq(kv_put_async(kv, &r, on_put_done, &a), 0);
	}
	/* validation errors come back at once, without a callback */
	Kvpb__PutRequest bad = KVPB__PUT_REQUEST__INIT;
	ck_assert_int_eq(kv_put_async(kv, &bad, on_put_done, &a), KV_EEMPTYKEY);
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 10;
	pthread_mutex_lock(&a.mu);
	int rc = 0;
	while (a.n < 100 && rc == 0)
		rc = pthread_cond_timedwait(&a.cv, &a.mu, &dl);
	ck_assert_int_eq(a.n, 100);
	ck_assert_int_eq(a.errors, 0);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(a.revs[i], 2 + i); /* submission order is commit order */
	pthread_mutex_unlock(&a.mu);
	char v[8];
	ck_assert_int_eq(kvt_get_at(kv, "async/99", 0, v, sizeof(v), NULL), 0);
	ck_assert_str_eq(v, "v");
	/* a read-only txn is answered inline */
	Kvpb__TxnRequest t = KVPB__TXN_REQUEST__INIT;
	ck_assert_int_eq(kv_txn_async(kv, &t, on_txn_done, &a), 0);
	ck_assert(a.inline_txn);
	kv_close(kv);
	pthread_mutex_destroy(&a.mu);
	pthread_cond_destroy(&a.cv);
	kvt_rm_rf(dir);
	free(dir);
}
END_TEST


/* kv_*_submit: the engine keeps using the caller's request until the callback (no copy),
 * so the caller frees it there; a read-only txn is refused for the caller to serve it
 * where it may block. */
struct submitted {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int n, errors;
	int64_t last_rev;
	bool txn_succeeded;
};

static void free_put(void *req)
{
	Kvpb__PutRequest *r = req;
	free(r->key.data);
	free(r->value.data);
	free(r);
}

struct put_ctx {
	struct submitted *s;
	Kvpb__PutRequest *req;
};

static void on_submitted_put(void *arg, int err, void *resp)
{
	struct put_ctx *c = arg;
	free_put(c->req); /* the engine is done with it once cb runs */
	pthread_mutex_lock(&c->s->mu);
	if (err || !resp)
		c->s->errors++;
	else
		c->s->last_rev = ((Kvpb__PutResponse *)resp)->header->revision;
	if (resp)
		kvpb__put_response__free_unpacked(resp, NULL);
	c->s->n++;
	pthread_cond_broadcast(&c->s->cv);
	pthread_mutex_unlock(&c->s->mu);
	free(c);
}

static void on_submitted_txn(void *arg, int err, void *resp)
{
	struct submitted *s = arg;
	pthread_mutex_lock(&s->mu);
	if (err || !resp)
		s->errors++;
	else
		s->txn_succeeded = ((Kvpb__TxnResponse *)resp)->succeeded;
	if (resp)
		kvpb__txn_response__free_unpacked(resp, NULL);
	s->n++;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static void wait_submitted(struct submitted *s, int n)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 10;
	pthread_mutex_lock(&s->mu);
	int rc = 0;
	while (s->n < n && rc == 0)
		rc = pthread_cond_timedwait(&s->cv, &s->mu, &dl);
	pthread_mutex_unlock(&s->mu);
	ck_assert_int_eq(s->n, n);
}

START_TEST(submitted_writes_borrow_the_request_until_answered)
{
	char *dir = kvt_tmpdir();
	struct kv *kv = kvt_open(dir, NULL, 0);
	struct submitted s = { .n = 0 };
	pthread_mutex_init(&s.mu, NULL);
	pthread_cond_init(&s.cv, NULL);
	for (int i = 0; i < 50; i++) {
		char k[24];
		snprintf(k, sizeof(k), "sub/%02d", i);
		Kvpb__PutRequest *r = calloc(1, sizeof(*r));
		kvpb__put_request__init(r);
		r->key.data = (uint8_t *)strdup(k);
		r->key.len = strlen(k);
		r->value.data = (uint8_t *)strdup("value");
		r->value.len = 5;
		struct put_ctx *c = calloc(1, sizeof(*c));
		c->s = &s;
		c->req = r;
		ck_assert_int_eq(kv_put_submit(kv, r, on_submitted_put, c), 0);
	}
	wait_submitted(&s, 50);
	ck_assert_int_eq(s.errors, 0);
	ck_assert_int_eq(s.last_rev, 51);
	char v[8];
	ck_assert_int_eq(kvt_get_at(kv, "sub/49", 0, v, sizeof(v), NULL), 0);
	ck_assert_str_eq(v, "value");
	/* validation errors at once, without a callback */
	Kvpb__PutRequest bad = KVPB__PUT_REQUEST__INIT;
	ck_assert_int_eq(kv_put_submit(kv, &bad, on_submitted_put, NULL), KV_EEMPTYKEY);
	/* a write txn goes through; a read-only one is refused with -EAGAIN */
	Kvpb__TxnRequest t = KVPB__TXN_REQUEST__INIT;
	ck_assert_int_eq(kv_txn_submit(kv, &t, on_submitted_txn, &s), -EAGAIN);
	Kvpb__PutRequest put = KVPB__PUT_REQUEST__INIT;
	put.key = kvt_bin("sub/txn");
	put.value = kvt_bin("t");
	Kvpb__RequestOp op = KVPB__REQUEST_OP__INIT;
	op.request_case = KVPB__REQUEST_OP__REQUEST_REQUEST_PUT;
	op.request_put = &put;
	Kvpb__RequestOp *ops[] = { &op };
	t.success = ops;
	t.n_success = 1;
	ck_assert_int_eq(kv_txn_submit(kv, &t, on_submitted_txn, &s), 0);
	wait_submitted(&s, 51);
	ck_assert_int_eq(s.errors, 0);
	ck_assert(s.txn_succeeded);
	ck_assert_int_eq(kvt_get_at(kv, "sub/txn", 0, v, sizeof(v), NULL), 0);
	ck_assert_str_eq(v, "t");
	/* delete through the same path */
	Kvpb__DeleteRangeRequest d = KVPB__DELETE_RANGE_REQUEST__INIT;
	ck_assert_int_eq(kv_delete_range_submit(kv, &d, on_submitted_txn, &s), KV_EEMPTYKEY);
	kv_close(kv);
	pthread_mutex_destroy(&s.mu);
	pthread_cond_destroy(&s.cv);
	kvt_rm_rf(dir);
	free(dir);
}
END_TEST

static Suite *kv_suite(void)
{
	Suite *s = suite_create("kv");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, put_get_history_and_errors);
	tcase_add_test(tc, range_limit_count_sort_filters);
	tcase_add_test(tc, delete_tombstones_and_generations);
	tcase_add_test(tc, txn_compares_ops_and_limits);
	tcase_add_test(tc, compaction_errors_and_reads);
	tcase_add_test(tc, quota_raises_nospace_until_disarmed);
	tcase_add_test(tc, status_and_member_list);
	tcase_add_test(tc, auto_compaction_revision_and_periodic);
	tcase_add_test(tc, async_writes_complete_in_order);
	tcase_add_test(tc, submitted_writes_borrow_the_request_until_answered);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(kv_suite)
