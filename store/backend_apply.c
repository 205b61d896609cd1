/* The apply step and the read path, mirroring etcd 3.4's applierV3backend
 * (server/etcdserver/apply.go) over the in-memory MVCC store. Everything here runs with
 * the engine's state lock held: for writing in apply (committer thread only), for reading
 * in ranges and read-only txns. Apply is deterministic: the same state and request give
 * the same result, so WAL replay (and later Raft) reproduces it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "log.h"

/* ---- response building ---- */

Kvpb__ResponseHeader *backend_header(const struct kv *kv, int64_t rev)
{
	Kvpb__ResponseHeader *h = malloc(sizeof(*h));
	if (!h)
		return NULL;
	kvpb__response_header__init(h);
	h->cluster_id = kv->cluster_id;
	h->member_id = kv->member_id;
	h->revision = rev;
	h->raft_term = atomic_load(&kv->raft_term);
	return h;
}

/* Nested (txn op) header: only the revision, as etcd's gateway shows. */
static Kvpb__ResponseHeader *rev_header(int64_t rev)
{
	Kvpb__ResponseHeader *h = malloc(sizeof(*h));
	if (!h)
		return NULL;
	kvpb__response_header__init(h);
	h->revision = rev;
	return h;
}

static int dup_bin(ProtobufCBinaryData *dst, const void *src, size_t len)
{
	dst->len = 0;
	dst->data = NULL;
	if (!len)
		return 0;
	dst->data = malloc(len);
	if (!dst->data)
		return -ENOMEM;
	memcpy(dst->data, src, len);
	dst->len = len;
	return 0;
}

static Kvpb__KeyValue *pb_kv(const struct mvcc_rev *r, bool with_value)
{
	Kvpb__KeyValue *kv = malloc(sizeof(*kv));
	if (!kv)
		return NULL;
	kvpb__key_value__init(kv);
	if (dup_bin(&kv->key, mvcc_key_bytes(r->key), r->key->klen) ||
	    (with_value && dup_bin(&kv->value, r->value, r->vlen))) {
		kvpb__key_value__free_unpacked(kv, NULL);
		return NULL;
	}
	kv->create_revision = r->create;
	kv->mod_revision = r->main;
	kv->version = r->version;
	kv->lease = r->lease;
	return kv;
}


/* ---- range ---- */

struct revs {
	const struct mvcc_rev **v;
	size_t n, cap;
	size_t limit; /* stop collecting after this many (0 = all); counting goes on */
	int64_t count;
	int err;
};

static int collect_rev(void *arg, const struct mvcc_rev *r)
{
	struct revs *rs = arg;
	rs->count++;
	if (rs->limit && rs->n >= rs->limit)
		return 0;
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 16;
		const struct mvcc_rev **v = realloc(rs->v, cap * sizeof(*v));
		if (!v) {
			rs->err = -ENOMEM;
			return 1;
		}
		rs->v = v;
		rs->cap = cap;
	}
	rs->v[rs->n++] = r;
	return 0;
}

static int count_only(void *arg, const struct mvcc_rev *r)
{
	(void)r;
	((struct revs *)arg)->count++;
	return 0;
}

struct sortctx {
	int target, desc;
};

static int sort_cmp(const void *a, const void *b, void *arg)
{
	const struct sortctx *c = arg;
	const struct mvcc_rev *x = *(const struct mvcc_rev *const *)a;
	const struct mvcc_rev *y = *(const struct mvcc_rev *const *)b;
	int r = 0;
	switch (c->target) {
	case KVPB__RANGE_REQUEST__SORT_TARGET__VERSION:
		r = x->version < y->version ? -1 : x->version > y->version;
		break;
	case KVPB__RANGE_REQUEST__SORT_TARGET__CREATE:
		r = x->create < y->create ? -1 : x->create > y->create;
		break;
	case KVPB__RANGE_REQUEST__SORT_TARGET__MOD:
		r = x->main < y->main ? -1 : x->main > y->main;
		break;
	case KVPB__RANGE_REQUEST__SORT_TARGET__VALUE:
		r = mvcc_keycmp(x->value, x->vlen, y->value, y->vlen);
		break;
	default:
		break;
	}
	if (c->desc)
		r = -r;
	if (r == 0) /* ties keep key order so answers are deterministic */
		r = mvcc_keycmp(mvcc_key_bytes(x->key), x->key->klen, mvcc_key_bytes(y->key),
			   y->key->klen) * (c->target == KVPB__RANGE_REQUEST__SORT_TARGET__KEY && c->desc ? -1 : 1);
	return r;
}

static bool keep_rev(const Kvpb__RangeRequest *r, const struct mvcc_rev *v)
{
	if (r->max_mod_revision && v->main > r->max_mod_revision)
		return false;
	if (r->min_mod_revision && v->main < r->min_mod_revision)
		return false;
	if (r->max_create_revision && v->create > r->max_create_revision)
		return false;
	if (r->min_create_revision && v->create < r->min_create_revision)
		return false;
	return true;
}

int backend_check_range(const Kvpb__RangeRequest *r)
{
	if (!r || r->key.len == 0)
		return KV_EEMPTYKEY;
	if ((unsigned)r->sort_order > KVPB__RANGE_REQUEST__SORT_ORDER__DESCEND ||
	    (unsigned)r->sort_target > KVPB__RANGE_REQUEST__SORT_TARGET__VALUE)
		return KV_EBADSORT;
	return 0;
}

/* etcd's applierV3backend.Range. hdr_rev: the header revision (the txn's view); full: a
 * top-level header. */
static int do_range(struct kv *kv, const Kvpb__RangeRequest *r, int64_t hdr_rev, bool full,
		    Kvpb__RangeResponse **out)
{
	struct mvcc *s = &kv->mvcc;
	int64_t rev = r->revision;
	/* hdr_rev is the view's current revision: inside a write txn it includes the txn's
	 * own changes so far (etcd's storeTxnWrite.Range reads beginRev + 1). */
	if (rev > hdr_rev)
		return KV_EFUTUREREV;
	if (rev <= 0)
		rev = hdr_rev;
	if (rev < s->compact_rev)
		return KV_ECOMPACTED;

	bool fetch_all = r->sort_order != KVPB__RANGE_REQUEST__SORT_ORDER__NONE ||
			 r->min_mod_revision || r->max_mod_revision || r->min_create_revision ||
			 r->max_create_revision;
	struct revs rs = { 0 };
	if (!fetch_all && r->limit > 0)
		rs.limit = (size_t)r->limit + 1;
	mvcc_range(s, r->key.data, r->key.len, r->range_end.data, r->range_end.len, rev,
		   r->count_only && !fetch_all ? count_only : collect_rev, &rs);
	if (rs.err) {
		free(rs.v);
		return rs.err;
	}
	/* Filters after the fetch; count stays the count before them, as etcd. */
	size_t n = 0;
	for (size_t i = 0; i < rs.n; i++)
		if (keep_rev(r, rs.v[i]))
			rs.v[n++] = rs.v[i];
	rs.n = n;
	int order = r->sort_order;
	if (r->sort_target != KVPB__RANGE_REQUEST__SORT_TARGET__KEY &&
	    order == KVPB__RANGE_REQUEST__SORT_ORDER__NONE)
		order = KVPB__RANGE_REQUEST__SORT_ORDER__ASCEND; /* etcd's default */
	if (order != KVPB__RANGE_REQUEST__SORT_ORDER__NONE && rs.n > 1) {
		struct sortctx c = { r->sort_target, order == KVPB__RANGE_REQUEST__SORT_ORDER__DESCEND };
		if (!(c.target == KVPB__RANGE_REQUEST__SORT_TARGET__KEY && !c.desc))
			qsort_r(rs.v, rs.n, sizeof(*rs.v), sort_cmp, &c);
	}
	Kvpb__RangeResponse *resp = malloc(sizeof(*resp));
	if (!resp) {
		free(rs.v);
		return -ENOMEM;
	}
	kvpb__range_response__init(resp);
	resp->header = full ? backend_header(kv, hdr_rev) : rev_header(hdr_rev);
	if (r->limit > 0 && rs.n > (size_t)r->limit) {
		rs.n = (size_t)r->limit;
		resp->more = true;
	}
	resp->count = rs.count;
	if (r->count_only)
		rs.n = 0;
	if (rs.n) {
		resp->kvs = calloc(rs.n, sizeof(*resp->kvs));
		if (resp->kvs)
			for (size_t i = 0; i < rs.n; i++) {
				resp->kvs[i] = pb_kv(rs.v[i], !r->keys_only);
				if (!resp->kvs[i])
					break;
				resp->n_kvs++;
			}
	}
	free(rs.v);
	if (!resp->header || resp->n_kvs != rs.n) {
		kvpb__range_response__free_unpacked(resp, NULL);
		return -ENOMEM;
	}
	*out = resp;
	return 0;
}

int backend_range(struct kv *kv, const Kvpb__RangeRequest *req, Kvpb__RangeResponse **out)
{
	return do_range(kv, req, kv->mvcc.rev, true, out);
}

/* ---- put / delete ---- */

static const struct mvcc_rev *live(const struct mvcc *s, const void *key, size_t klen)
{
	struct mvcc_key *k = mvcc_find(s, key, klen);
	return k && k->head && !k->head->tomb ? k->head : NULL;
}

/* The checks etcd makes before a put is applied (applierV3backend.Put / checkRequestPut). */
static int check_put_state(struct kv *kv, const Kvpb__PutRequest *p)
{
	if ((p->ignore_value || p->ignore_lease) && !live(&kv->mvcc, p->key.data, p->key.len))
		return KV_EKEYNOTFOUND;
	if (!p->ignore_lease && p->lease && !lessor_get(&kv->lessor, p->lease))
		return KV_ELEASENOTFOUND;
	return 0;
}

static int apply_put(struct kv *kv, struct mvcc_txn *t, const Kvpb__PutRequest *p, bool full,
		     Kvpb__PutResponse **out)
{
	/* One index search serves the checks and the write. */
	struct mvcc_key *k = mvcc_find(&kv->mvcc, p->key.data, p->key.len);
	const struct mvcc_rev *old = k && k->head && !k->head->tomb ? k->head : NULL;
	if ((p->ignore_value || p->ignore_lease) && !old)
		return KV_EKEYNOTFOUND;
	if (!p->ignore_lease && p->lease && !lessor_get(&kv->lessor, p->lease))
		return KV_ELEASENOTFOUND;
	Kvpb__PutResponse *resp = malloc(sizeof(*resp));
	if (!resp)
		return -ENOMEM;
	kvpb__put_response__init(resp);
	if (p->prev_kv && old && !(resp->prev_kv = pb_kv(old, true))) {
		free(resp);
		return -ENOMEM;
	}
	const void *val = p->value.data;
	size_t vlen = p->value.len;
	int64_t lease = p->lease;
	int64_t old_lease = old ? old->lease : 0;
	/* ignore_value/ignore_lease reuse the current value/lease. The old revision stays
	 * in memory (history), so pointing into it while copying is safe. */
	if (p->ignore_value) {
		val = old->value;
		vlen = old->vlen;
	}
	if (p->ignore_lease)
		lease = old_lease;
	struct mvcc_rev *nr = k ? mvcc_txn_put_at(t, k, val, vlen, lease, NULL)
				: mvcc_txn_put(t, p->key.data, p->key.len, val, vlen, lease, NULL);
	if (!nr) {
		kvpb__put_response__free_unpacked(resp, NULL);
		return -ENOMEM;
	}
	lessor_attach(&kv->lessor, nr->key, old_lease, lease);
	resp->header = full ? backend_header(kv, t->rev) : rev_header(t->rev);
	if (!resp->header) {
		kvpb__put_response__free_unpacked(resp, NULL);
		return -ENOMEM;
	}
	*out = resp;
	return 0;
}

struct delctx {
	struct kv *kv;
	struct mvcc_txn *t;
	Kvpb__DeleteRangeResponse *resp;
	bool prev;
	size_t cap;
	int err;
};

static int del_key(void *arg, struct mvcc_key *k)
{
	struct delctx *d = arg;
	if (!k->head || k->head->tomb)
		return 0;
	if (d->prev) {
		if (d->resp->n_prev_kvs == d->cap) {
			size_t cap = d->cap ? d->cap * 2 : 8;
			Kvpb__KeyValue **v = realloc(d->resp->prev_kvs, cap * sizeof(*v));
			if (!v)
				return d->err = -ENOMEM;
			d->resp->prev_kvs = v;
			d->cap = cap;
		}
		Kvpb__KeyValue *kv = pb_kv(k->head, true);
		if (!kv)
			return d->err = -ENOMEM;
		d->resp->prev_kvs[d->resp->n_prev_kvs++] = kv;
	}
	lessor_detach(&d->kv->lessor, k, k->head->lease);
	if (!mvcc_txn_delete(d->t, k))
		return d->err = -ENOMEM;
	d->resp->deleted++;
	return 0;
}

static int apply_delete(struct kv *kv, struct mvcc_txn *t, const Kvpb__DeleteRangeRequest *r,
			bool full, Kvpb__DeleteRangeResponse **out)
{
	Kvpb__DeleteRangeResponse *resp = malloc(sizeof(*resp));
	if (!resp)
		return -ENOMEM;
	kvpb__delete_range_response__init(resp);
	struct delctx d = { kv, t, resp, r->prev_kv, 0, 0 };
	mvcc_range_keys(&kv->mvcc, r->key.data, r->key.len, r->range_end.data, r->range_end.len,
			del_key, &d);
	int64_t rev = mvcc_txn_rev(t);
	resp->header = full ? backend_header(kv, rev) : rev_header(rev);
	if (d.err || !resp->header) {
		/* Partial deletes stay applied (memory exhaustion is fatal for consistency
		 * anyway); report the failure. */
		kvpb__delete_range_response__free_unpacked(resp, NULL);
		return d.err ? d.err : -ENOMEM;
	}
	*out = resp;
	return 0;
}

/* ---- txn ---- */

static bool compare_one(const Kvpb__Compare *c, const struct mvcc_rev *v)
{
	int res = 0;
	int64_t want = 0, have = 0;
	switch (c->target) {
	case KVPB__COMPARE__COMPARE_TARGET__VALUE: {
		const void *val = NULL;
		size_t vlen = 0;
		if (c->target_union_case == KVPB__COMPARE__TARGET_UNION_VALUE) {
			val = c->value.data;
			vlen = c->value.len;
		}
		res = v ? mvcc_keycmp(v->value, v->vlen, val, vlen) : mvcc_keycmp("", 0, val, vlen);
		goto result;
	}
	case KVPB__COMPARE__COMPARE_TARGET__CREATE:
		if (c->target_union_case == KVPB__COMPARE__TARGET_UNION_CREATE_REVISION)
			want = c->create_revision;
		have = v ? v->create : 0;
		break;
	case KVPB__COMPARE__COMPARE_TARGET__MOD:
		if (c->target_union_case == KVPB__COMPARE__TARGET_UNION_MOD_REVISION)
			want = c->mod_revision;
		have = v ? v->main : 0;
		break;
	case KVPB__COMPARE__COMPARE_TARGET__VERSION:
		if (c->target_union_case == KVPB__COMPARE__TARGET_UNION_VERSION)
			want = c->version;
		have = v ? v->version : 0;
		break;
	case KVPB__COMPARE__COMPARE_TARGET__LEASE:
		if (c->target_union_case == KVPB__COMPARE__TARGET_UNION_LEASE)
			want = c->lease;
		have = v ? v->lease : 0;
		break;
	default:
		break;
	}
	res = have < want ? -1 : have > want;
result:
	switch (c->result) {
	case KVPB__COMPARE__COMPARE_RESULT__EQUAL:
		return res == 0;
	case KVPB__COMPARE__COMPARE_RESULT__NOT_EQUAL:
		return res != 0;
	case KVPB__COMPARE__COMPARE_RESULT__GREATER:
		return res > 0;
	case KVPB__COMPARE__COMPARE_RESULT__LESS:
		return res < 0;
	default:
		return true;
	}
}

struct cmpctx {
	const Kvpb__Compare *c;
	bool ok, any;
};

static int cmp_each(void *arg, const struct mvcc_rev *r)
{
	struct cmpctx *cc = arg;
	cc->any = true;
	if (!compare_one(cc->c, r)) {
		cc->ok = false;
		return 1;
	}
	return 0;
}

/* etcd's applyCompare: every key in the range must satisfy it; an empty range compares a
 * zero KeyValue, except VALUE, which always fails on missing keys. */
static bool apply_compare(struct kv *kv, const Kvpb__Compare *c)
{
	struct cmpctx cc = { c, true, false };
	mvcc_range(&kv->mvcc, c->key.data, c->key.len, c->range_end.data, c->range_end.len,
		   kv->mvcc.rev, cmp_each, &cc);
	if (!cc.any)
		return c->target == KVPB__COMPARE__COMPARE_TARGET__VALUE ? false
									  : compare_one(c, NULL);
	return cc.ok;
}

struct path {
	bool *v;
	size_t n, cap, pos;
};

/* etcd's compareToPath: all compares (nested ones too) see the state before the txn. */
static int compare_to_path(struct kv *kv, const Kvpb__TxnRequest *r, struct path *p)
{
	bool ok = true;
	for (size_t i = 0; i < r->n_compare && ok; i++)
		ok = apply_compare(kv, r->compare[i]);
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		bool *v = realloc(p->v, cap);
		if (!v)
			return -ENOMEM;
		p->v = v;
		p->cap = cap;
	}
	p->v[p->n++] = ok;
	Kvpb__RequestOp **ops = ok ? r->success : r->failure;
	size_t nops = ok ? r->n_success : r->n_failure;
	for (size_t i = 0; i < nops; i++)
		if (ops[i]->request_case == KVPB__REQUEST_OP__REQUEST_REQUEST_TXN) {
			int rc = compare_to_path(kv, ops[i]->request_txn, p);
			if (rc)
				return rc;
		}
	return 0;
}

/* etcd's checkRequests with checkPut + checkRange along the chosen path. */
static int check_path(struct kv *kv, const Kvpb__TxnRequest *r, struct path *p)
{
	bool ok = p->v[p->pos++];
	Kvpb__RequestOp **ops = ok ? r->success : r->failure;
	size_t nops = ok ? r->n_success : r->n_failure;
	for (size_t i = 0; i < nops; i++) {
		const Kvpb__RequestOp *op = ops[i];
		int rc = 0;
		switch (op->request_case) {
		case KVPB__REQUEST_OP__REQUEST_REQUEST_TXN:
			rc = check_path(kv, op->request_txn, p);
			break;
		case KVPB__REQUEST_OP__REQUEST_REQUEST_PUT:
			rc = check_put_state(kv, op->request_put);
			break;
		case KVPB__REQUEST_OP__REQUEST_REQUEST_RANGE: {
			int64_t rev = op->request_range->revision;
			if (rev > kv->mvcc.rev)
				rc = KV_EFUTUREREV;
			else if (rev > 0 && rev < kv->mvcc.compact_rev)
				rc = KV_ECOMPACTED;
			break;
		}
		default:
			break;
		}
		if (rc)
			return rc;
	}
	return 0;
}

/* t == NULL: read-only txn under the read lock. */
static int apply_txn_ops(struct kv *kv, struct mvcc_txn *t, const Kvpb__TxnRequest *r,
			 struct path *p, Kvpb__TxnResponse *resp)
{
	bool ok = p->v[p->pos++];
	resp->succeeded = ok;
	Kvpb__RequestOp **ops = ok ? r->success : r->failure;
	size_t nops = ok ? r->n_success : r->n_failure;
	if (nops) {
		resp->responses = calloc(nops, sizeof(*resp->responses));
		if (!resp->responses)
			return -ENOMEM;
	}
	int64_t cur = kv->mvcc.rev;
	for (size_t i = 0; i < nops; i++) {
		const Kvpb__RequestOp *op = ops[i];
		Kvpb__ResponseOp *ro = malloc(sizeof(*ro));
		if (!ro)
			return -ENOMEM;
		kvpb__response_op__init(ro);
		resp->responses[resp->n_responses++] = ro;
		int rc = 0;
		switch (op->request_case) {
		case KVPB__REQUEST_OP__REQUEST_REQUEST_RANGE:
			ro->response_case = KVPB__RESPONSE_OP__RESPONSE_RESPONSE_RANGE;
			rc = do_range(kv, op->request_range, t ? mvcc_txn_rev(t) : cur, false,
				      &ro->response_range);
			break;
		case KVPB__REQUEST_OP__REQUEST_REQUEST_PUT:
			ro->response_case = KVPB__RESPONSE_OP__RESPONSE_RESPONSE_PUT;
			rc = t ? apply_put(kv, t, op->request_put, false, &ro->response_put) : -EINVAL;
			break;
		case KVPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE:
			ro->response_case = KVPB__RESPONSE_OP__RESPONSE_RESPONSE_DELETE_RANGE;
			rc = t ? apply_delete(kv, t, op->request_delete_range, false,
					      &ro->response_delete_range)
			       : -EINVAL;
			break;
		case KVPB__REQUEST_OP__REQUEST_REQUEST_TXN: {
			ro->response_case = KVPB__RESPONSE_OP__RESPONSE_RESPONSE_TXN;
			Kvpb__TxnResponse *sub = malloc(sizeof(*sub));
			Kvpb__ResponseHeader *h = malloc(sizeof(*h));
			if (!sub || !h) {
				free(sub);
				free(h);
				rc = -ENOMEM;
				ro->response_case = KVPB__RESPONSE_OP__RESPONSE__NOT_SET;
				break;
			}
			kvpb__txn_response__init(sub);
			kvpb__response_header__init(h); /* etcd: nested txn header is empty */
			sub->header = h;
			ro->response_txn = sub;
			rc = apply_txn_ops(kv, t, op->request_txn, p, sub);
			break;
		}
		default:
			ro->response_case = KVPB__RESPONSE_OP__RESPONSE__NOT_SET;
			break;
		}
		if (rc) {
			if (ro->response_case != KVPB__RESPONSE_OP__RESPONSE_RESPONSE_TXN)
				ro->response_case = KVPB__RESPONSE_OP__RESPONSE__NOT_SET;
			return rc;
		}
	}
	return 0;
}

static bool txn_is_write(const Kvpb__TxnRequest *r)
{
	for (int b = 0; b < 2; b++) {
		Kvpb__RequestOp **ops = b ? r->failure : r->success;
		size_t n = b ? r->n_failure : r->n_success;
		for (size_t i = 0; i < n; i++) {
			switch (ops[i]->request_case) {
			case KVPB__REQUEST_OP__REQUEST_REQUEST_PUT:
			case KVPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE:
				return true;
			case KVPB__REQUEST_OP__REQUEST_REQUEST_TXN:
				if (txn_is_write(ops[i]->request_txn))
					return true;
				break;
			default:
				break;
			}
		}
	}
	return false;
}

bool backend_txn_is_write(const Kvpb__TxnRequest *r)
{
	return txn_is_write(r);
}

int backend_txn(struct kv *kv, struct mvcc_txn *t, const Kvpb__TxnRequest *r,
		Kvpb__TxnResponse **out)
{
	struct path p = { 0 };
	int rc = compare_to_path(kv, r, &p);
	if (!rc && t)
		rc = check_path(kv, r, &p);
	if (rc) {
		free(p.v);
		return rc;
	}
	p.pos = 0;
	Kvpb__TxnResponse *resp = malloc(sizeof(*resp));
	if (!resp) {
		free(p.v);
		return -ENOMEM;
	}
	kvpb__txn_response__init(resp);
	rc = apply_txn_ops(kv, t, r, &p, resp);
	free(p.v);
	if (!rc) {
		resp->header = backend_header(kv, t ? mvcc_txn_rev(t) : kv->mvcc.rev);
		if (!resp->header)
			rc = -ENOMEM;
	}
	if (rc) {
		kvpb__txn_response__free_unpacked(resp, NULL);
		return rc;
	}
	*out = resp;
	return 0;
}

/* ---- static request checks (etcd's v3rpc checkPutRequest / checkTxnReqs) ---- */

int backend_check_put(struct kv *kv, const Kvpb__PutRequest *r)
{
	(void)kv;
	if (!r || r->key.len == 0)
		return KV_EEMPTYKEY;
	if (r->ignore_value && r->value.len != 0)
		return KV_EVALUEPROVIDED;
	if (r->ignore_lease && r->lease != 0)
		return KV_ELEASEPROVIDED;
	return 0;
}

struct ivals {
	/* puts: points; dels: [key, end) with end_len 0 = point, "\0" = unbounded */
	const ProtobufCBinaryData **puts;
	size_t nputs, cputs;
	const ProtobufCBinaryData **dk, **de;
	size_t ndels, cdels;
};

static bool bin_eq(const ProtobufCBinaryData *a, const ProtobufCBinaryData *b)
{
	return mvcc_keycmp(a->data, a->len, b->data, b->len) == 0;
}

static bool in_dels(const struct ivals *iv, const ProtobufCBinaryData *k)
{
	for (size_t i = 0; i < iv->ndels; i++) {
		const ProtobufCBinaryData *a = iv->dk[i], *e = iv->de[i];
		if (e->len == 0) {
			if (bin_eq(a, k))
				return true;
			continue;
		}
		if (mvcc_keycmp(k->data, k->len, a->data, a->len) < 0)
			continue;
		if ((e->len == 1 && e->data[0] == 0) || mvcc_keycmp(k->data, k->len, e->data, e->len) < 0)
			return true;
	}
	return false;
}

static bool in_puts(const struct ivals *iv, const ProtobufCBinaryData *k)
{
	for (size_t i = 0; i < iv->nputs; i++)
		if (bin_eq(iv->puts[i], k))
			return true;
	return false;
}

static int add_put(struct ivals *iv, const ProtobufCBinaryData *k)
{
	if (iv->nputs == iv->cputs) {
		size_t c = iv->cputs ? iv->cputs * 2 : 8;
		const ProtobufCBinaryData **v = realloc(iv->puts, c * sizeof(*v));
		if (!v)
			return -ENOMEM;
		iv->puts = v;
		iv->cputs = c;
	}
	iv->puts[iv->nputs++] = k;
	return 0;
}

static int add_del(struct ivals *iv, const ProtobufCBinaryData *k, const ProtobufCBinaryData *e)
{
	if (iv->ndels == iv->cdels) {
		size_t c = iv->cdels ? iv->cdels * 2 : 8;
		const ProtobufCBinaryData **a = realloc(iv->dk, c * sizeof(*a));
		if (a)
			iv->dk = a;
		const ProtobufCBinaryData **b = realloc(iv->de, c * sizeof(*b));
		if (b)
			iv->de = b;
		if (!a || !b)
			return -ENOMEM;
		iv->cdels = c;
	}
	iv->dk[iv->ndels] = k;
	iv->de[iv->ndels++] = e;
	return 0;
}

static void ivals_free(struct ivals *iv)
{
	free(iv->puts);
	free(iv->dk);
	free(iv->de);
	memset(iv, 0, sizeof(*iv));
}

/* etcd's checkIntervals: puts may not repeat a key or fall in a delete range of the same
 * txn level or below; the two branches of a nested txn may put the same key. */
static int check_intervals(Kvpb__RequestOp **ops, size_t n, struct ivals *out)
{
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++)
		if (ops[i]->request_case == KVPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE &&
		    ops[i]->request_delete_range)
			rc = add_del(out, &ops[i]->request_delete_range->key,
				     &ops[i]->request_delete_range->range_end);
	for (size_t i = 0; i < n && !rc; i++) {
		if (ops[i]->request_case != KVPB__REQUEST_OP__REQUEST_REQUEST_TXN ||
		    !ops[i]->request_txn)
			continue;
		const Kvpb__TxnRequest *t = ops[i]->request_txn;
		struct ivals th = { 0 }, el = { 0 };
		rc = check_intervals(t->success, t->n_success, &th);
		if (!rc)
			rc = check_intervals(t->failure, t->n_failure, &el);
		for (size_t j = 0; !rc && j < th.nputs; j++) {
			if (in_puts(out, th.puts[j]) || in_dels(out, th.puts[j]))
				rc = KV_EDUPKEY;
		}
		for (size_t j = 0; !rc && j < th.nputs; j++)
			rc = add_put(out, th.puts[j]);
		for (size_t j = 0; !rc && j < el.nputs; j++) {
			bool from_then = in_puts(&th, el.puts[j]);
			if ((in_puts(out, el.puts[j]) && !from_then) || in_dels(out, el.puts[j]))
				rc = KV_EDUPKEY;
			else if (!from_then)
				rc = add_put(out, el.puts[j]);
		}
		for (size_t j = 0; !rc && j < th.ndels; j++)
			rc = add_del(out, th.dk[j], th.de[j]);
		for (size_t j = 0; !rc && j < el.ndels; j++)
			rc = add_del(out, el.dk[j], el.de[j]);
		ivals_free(&th);
		ivals_free(&el);
	}
	for (size_t i = 0; i < n && !rc; i++) {
		if (ops[i]->request_case != KVPB__REQUEST_OP__REQUEST_REQUEST_PUT ||
		    !ops[i]->request_put)
			continue;
		const ProtobufCBinaryData *k = &ops[i]->request_put->key;
		if (in_puts(out, k) || in_dels(out, k))
			rc = KV_EDUPKEY;
		else
			rc = add_put(out, k);
	}
	return rc;
}

static int check_op(struct kv *kv, const Kvpb__RequestOp *op, uint32_t max_ops);

static int check_txn_ops(struct kv *kv, const Kvpb__TxnRequest *r, uint32_t max_ops)
{
	size_t opc = r->n_compare;
	if (opc < r->n_success)
		opc = r->n_success;
	if (opc < r->n_failure)
		opc = r->n_failure;
	if (opc > max_ops)
		return KV_ETOOMANYOPS;
	for (size_t i = 0; i < r->n_compare; i++)
		if (!r->compare[i] || r->compare[i]->key.len == 0)
			return KV_EEMPTYKEY;
	for (size_t i = 0; i < r->n_success; i++) {
		int rc = check_op(kv, r->success[i], max_ops - (uint32_t)opc);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < r->n_failure; i++) {
		int rc = check_op(kv, r->failure[i], max_ops - (uint32_t)opc);
		if (rc)
			return rc;
	}
	return 0;
}

static int check_op(struct kv *kv, const Kvpb__RequestOp *op, uint32_t max_ops)
{
	if (!op)
		return -EINVAL;
	switch (op->request_case) {
	case KVPB__REQUEST_OP__REQUEST_REQUEST_RANGE:
		return backend_check_range(op->request_range);
	case KVPB__REQUEST_OP__REQUEST_REQUEST_PUT:
		return backend_check_put(kv, op->request_put);
	case KVPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE:
		return op->request_delete_range && op->request_delete_range->key.len
			       ? 0
			       : KV_EEMPTYKEY;
	case KVPB__REQUEST_OP__REQUEST_REQUEST_TXN:
		return op->request_txn ? check_txn_ops(kv, op->request_txn, max_ops) : -EINVAL;
	default:
		return 0; /* an empty RequestOp is ignored, as etcd */
	}
}

int backend_check_txn(struct kv *kv, const Kvpb__TxnRequest *r)
{
	if (!r)
		return -EINVAL;
	int rc = check_txn_ops(kv, r, kv->max_txn_ops);
	struct ivals a = { 0 }, b = { 0 };
	if (!rc)
		rc = check_intervals(r->success, r->n_success, &a);
	if (!rc)
		rc = check_intervals(r->failure, r->n_failure, &b);
	ivals_free(&a);
	ivals_free(&b);
	return rc;
}

/* ---- quota ---- */

static int64_t txn_cost(const Kvpb__TxnRequest *r)
{
	int64_t c = 0;
	for (int b = 0; b < 2; b++) {
		Kvpb__RequestOp **ops = b ? r->failure : r->success;
		size_t n = b ? r->n_failure : r->n_success;
		for (size_t i = 0; i < n; i++) {
			if (ops[i]->request_case == KVPB__REQUEST_OP__REQUEST_REQUEST_PUT)
				c += mvcc_rev_cost(ops[i]->request_put->key.len,
						   ops[i]->request_put->value.len);
			else if (ops[i]->request_case == KVPB__REQUEST_OP__REQUEST_REQUEST_TXN)
				c += txn_cost(ops[i]->request_txn);
		}
	}
	return c;
}

int64_t backend_cost(const Kvpb__InternalRequest *req)
{
	switch (req->request_case) {
	case KVPB__INTERNAL_REQUEST__REQUEST_PUT:
		return mvcc_rev_cost(req->put->key.len, req->put->value.len);
	case KVPB__INTERNAL_REQUEST__REQUEST_TXN:
		return txn_cost(req->txn);
	case KVPB__INTERNAL_REQUEST__REQUEST_LEASE_GRANT:
		return 64; /* etcd: a lease costs its bucket entry */
	default:
		return 0;
	}
}

bool backend_alarm_active(const struct kv *kv, uint32_t type)
{
	for (size_t i = 0; i < kv->nalarms; i++)
		if (kv->alarms[i].type == type)
			return true;
	return false;
}

/* ---- leases / compaction / alarms ---- */

static int apply_lease_grant(struct kv *kv, const Kvpb__LeaseGrantRequest *r,
			     Kvpb__LeaseGrantResponse **out)
{
	if (backend_alarm_active(kv, KVPB__ALARM_TYPE__NOSPACE))
		return KV_ENOSPACE;
	if (r->ttl > LEASE_MAX_TTL)
		return KV_ELEASETTLTOOLARGE;
	int64_t ttl = r->ttl < kv->min_lease_ttl ? kv->min_lease_ttl : r->ttl;
	int rc = lessor_grant(&kv->lessor, r->id, ttl,
			      kc_now_mono(kv->clock) + ttl * KC_NSEC_PER_SEC, NULL);
	if (rc == -EEXIST)
		return KV_ELEASEEXIST;
	if (rc)
		return rc;
	Kvpb__LeaseGrantResponse *resp = malloc(sizeof(*resp));
	if (!resp)
		return -ENOMEM;
	kvpb__lease_grant_response__init(resp);
	resp->header = backend_header(kv, kv->mvcc.rev);
	resp->id = r->id;
	resp->ttl = ttl;
	*out = resp;
	return 0;
}

static int keyptr_cmp(const void *a, const void *b)
{
	const struct mvcc_key *x = *(struct mvcc_key *const *)a, *y = *(struct mvcc_key *const *)b;
	return mvcc_keycmp(mvcc_key_bytes(x), x->klen, mvcc_key_bytes(y), y->klen);
}

/* Revoke: delete every attached key in one revision (sorted by key, like etcd's lessor
 * Revoke), then drop the lease. */
static int apply_lease_revoke(struct kv *kv, const Kvpb__LeaseRevokeRequest *r,
			      Kvpb__LeaseRevokeResponse **out)
{
	struct lease *ls = lessor_get(&kv->lessor, r->id);
	if (!ls)
		return KV_ELEASENOTFOUND;
	Kvpb__LeaseRevokeResponse *resp = malloc(sizeof(*resp));
	struct mvcc_key **keys = ls->nkeys ? malloc(ls->nkeys * sizeof(*keys)) : NULL;
	if (!resp || (ls->nkeys && !keys)) {
		free(resp);
		free(keys);
		return -ENOMEM;
	}
	size_t n = 0;
	for (struct mvcc_key *k = ls->keys; k; k = k->lease_next)
		keys[n++] = k;
	if (n > 1)
		qsort(keys, n, sizeof(*keys), keyptr_cmp);
	struct mvcc_txn t;
	mvcc_txn_begin(&kv->mvcc, &t);
	for (size_t i = 0; i < n; i++) {
		lessor_detach(&kv->lessor, keys[i], r->id);
		if (keys[i]->head && !keys[i]->head->tomb)
			mvcc_txn_delete(&t, keys[i]);
	}
	mvcc_txn_end(&t);
	free(keys);
	lessor_remove(&kv->lessor, ls);
	kvpb__lease_revoke_response__init(resp);
	resp->header = backend_header(kv, kv->mvcc.rev);
	*out = resp;
	return 0;
}

static int apply_compaction(struct kv *kv, const Kvpb__CompactionRequest *r,
			    Kvpb__CompactionResponse **out)
{
	if (r->revision <= kv->mvcc.compact_rev)
		return KV_ECOMPACTED;
	if (r->revision > kv->mvcc.rev)
		return KV_EFUTUREREV;
	mvcc_compact(&kv->mvcc, r->revision);
	Kvpb__CompactionResponse *resp = malloc(sizeof(*resp));
	if (!resp)
		return -ENOMEM;
	kvpb__compaction_response__init(resp);
	resp->header = backend_header(kv, kv->mvcc.rev);
	*out = resp;
	return 0;
}

static int apply_alarm(struct kv *kv, const Kvpb__AlarmRequest *r, Kvpb__AlarmResponse **out)
{
	Kvpb__AlarmResponse *resp = malloc(sizeof(*resp));
	if (!resp)
		return -ENOMEM;
	kvpb__alarm_response__init(resp);
	struct snap_alarm hit = { 0, 0 };
	bool changed = false;
	if (r->action == KVPB__ALARM_REQUEST__ALARM_ACTION__ACTIVATE) {
		if (r->alarm == KVPB__ALARM_TYPE__NONE) {
			*out = resp;
			return 0;
		}
		bool have = false;
		for (size_t i = 0; i < kv->nalarms; i++)
			have |= kv->alarms[i].member == r->memberid && kv->alarms[i].type == r->alarm;
		if (!have && kv->nalarms < KV_MAX_ALARMS) {
			kv->alarms[kv->nalarms++] = (struct snap_alarm){ r->memberid, r->alarm };
			kc_warn("alarm raised: memberID:%llu alarm:%s", (unsigned long long)r->memberid,
				r->alarm == KVPB__ALARM_TYPE__NOSPACE ? "NOSPACE" : "CORRUPT");
		}
		hit = (struct snap_alarm){ r->memberid, r->alarm };
		changed = true;
	} else if (r->action == KVPB__ALARM_REQUEST__ALARM_ACTION__DEACTIVATE) {
		for (size_t i = 0; i < kv->nalarms; i++)
			if (kv->alarms[i].member == r->memberid && kv->alarms[i].type == r->alarm) {
				hit = kv->alarms[i];
				kv->alarms[i] = kv->alarms[--kv->nalarms];
				changed = true;
				kc_info("alarm disarmed: memberID:%llu", (unsigned long long)r->memberid);
				break;
			}
	}
	if (changed) {
		resp->alarms = malloc(sizeof(*resp->alarms));
		Kvpb__AlarmMember *m = malloc(sizeof(*m));
		if (!resp->alarms || !m) {
			free(m);
			kvpb__alarm_response__free_unpacked(resp, NULL);
			return -ENOMEM;
		}
		kvpb__alarm_member__init(m);
		m->memberid = hit.member;
		m->alarm = (Kvpb__AlarmType)hit.type;
		resp->alarms[0] = m;
		resp->n_alarms = 1;
	}
	*out = resp;
	return 0;
}

int backend_apply(struct kv *kv, const Kvpb__InternalRequest *req, void **resp)
{
	*resp = NULL;
	struct mvcc_txn t;
	int rc;
	switch (req->request_case) {
	case KVPB__INTERNAL_REQUEST__REQUEST_PUT:
		if (backend_alarm_active(kv, KVPB__ALARM_TYPE__NOSPACE))
			return KV_ENOSPACE; /* etcd's applierV3Capped */
		mvcc_txn_begin(&kv->mvcc, &t);
		rc = apply_put(kv, &t, req->put, true, (Kvpb__PutResponse **)resp);
		mvcc_txn_end(&t);
		return rc;
	case KVPB__INTERNAL_REQUEST__REQUEST_DELETE_RANGE:
		mvcc_txn_begin(&kv->mvcc, &t);
		rc = apply_delete(kv, &t, req->delete_range, true, (Kvpb__DeleteRangeResponse **)resp);
		mvcc_txn_end(&t);
		return rc;
	case KVPB__INTERNAL_REQUEST__REQUEST_TXN:
		if (backend_alarm_active(kv, KVPB__ALARM_TYPE__NOSPACE) && txn_cost(req->txn) > 0)
			return KV_ENOSPACE;
		mvcc_txn_begin(&kv->mvcc, &t);
		rc = backend_txn(kv, &t, req->txn, (Kvpb__TxnResponse **)resp);
		mvcc_txn_end(&t);
		return rc;
	case KVPB__INTERNAL_REQUEST__REQUEST_COMPACTION:
		return apply_compaction(kv, req->compaction, (Kvpb__CompactionResponse **)resp);
	case KVPB__INTERNAL_REQUEST__REQUEST_LEASE_GRANT:
		return apply_lease_grant(kv, req->lease_grant, (Kvpb__LeaseGrantResponse **)resp);
	case KVPB__INTERNAL_REQUEST__REQUEST_LEASE_REVOKE:
		return apply_lease_revoke(kv, req->lease_revoke, (Kvpb__LeaseRevokeResponse **)resp);
	case KVPB__INTERNAL_REQUEST__REQUEST_ALARM:
		return apply_alarm(kv, req->alarm, (Kvpb__AlarmResponse **)resp);
	case KVPB__INTERNAL_REQUEST__REQUEST_LEASE_RENEW:
		return backend_apply_renew(kv, req->lease_renew,
					   (Kvpb__LeaseKeepAliveResponse **)resp);
	case KVPB__INTERNAL_REQUEST__REQUEST_MEMBER_ADD:
	case KVPB__INTERNAL_REQUEST__REQUEST_MEMBER_UPDATE:
	case KVPB__INTERNAL_REQUEST__REQUEST_MEMBER_REMOVE:
		return backend_apply_member(kv, req);
	default:
		kc_warn("apply: empty internal request %llu ignored", (unsigned long long)req->id);
		return 0;
	}
}
