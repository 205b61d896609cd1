/* Shared helpers of the store engine's unit suites (test_kv, test_wal, test_lease,
 * test_snapshot, test_watchhub): temp data dirs, opening the engine, request builders. */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kc_test.h"
#include "kvtest.h"

static int kvt__rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

void kvt_rm_rf(const char *dir)
{
	nftw(dir, kvt__rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *kvt_tmpdir(void)
{
	char *d = strdup("/tmp/kvtest.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(d));
	return d;
}

struct kv *kvt_open(const char *dir, kc_clock_t *clock, uint64_t snapcount)
{
	struct kv_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.data_dir = dir;
	cfg.name = "test";
	cfg.clock = clock;
	cfg.snapshot_count = snapcount;
	cfg.unsafe_no_fsync = true;
	struct kv *kv = NULL;
	int rc = kv_open(&cfg, &kv);
	ck_assert_msg(rc == 0, "kv_open: %s", kv_errmsg(rc));
	return kv;
}

ProtobufCBinaryData kvt_bin(const char *s)
{
	ProtobufCBinaryData b = { strlen(s), (uint8_t *)s };
	return b;
}

int64_t kvt_put(struct kv *kv, const char *k, const char *v)
{
	Kvpb__PutRequest r = KVPB__PUT_REQUEST__INIT;
	r.key = kvt_bin(k);
	r.value = kvt_bin(v);
	Kvpb__PutResponse *resp = NULL;
	int rc = kv_put(kv, &r, &resp);
	ck_assert_msg(rc == 0, "put %s: %s", k, kv_errmsg(rc));
	int64_t rev = resp->header->revision;
	kvpb__put_response__free_unpacked(resp, NULL);
	return rev;
}

int64_t kvt_del(struct kv *kv, const char *k, const char *end)
{
	Kvpb__DeleteRangeRequest r = KVPB__DELETE_RANGE_REQUEST__INIT;
	r.key = kvt_bin(k);
	if (end)
		r.range_end = end[0] ? kvt_bin(end) : (ProtobufCBinaryData){ 1, (uint8_t *)"" };
	Kvpb__DeleteRangeResponse *resp = NULL;
	int rc = kv_delete_range(kv, &r, &resp);
	ck_assert_msg(rc == 0, "delete %s: %s", k, kv_errmsg(rc));
	int64_t n = resp->deleted;
	kvpb__delete_range_response__free_unpacked(resp, NULL);
	return n;
}

/* Value of k at rev (0 = latest) into buf ("" when absent); returns the range error. */
int kvt_get_at(struct kv *kv, const char *k, int64_t rev, char *buf, size_t cap,
		  Kvpb__KeyValue *meta)
{
	Kvpb__RangeRequest r = KVPB__RANGE_REQUEST__INIT;
	r.key = kvt_bin(k);
	r.revision = rev;
	Kvpb__RangeResponse *resp = NULL;
	int rc = kv_range(kv, &r, &resp);
	buf[0] = 0;
	if (rc)
		return rc;
	if (resp->n_kvs) {
		size_t n = resp->kvs[0]->value.len < cap - 1 ? resp->kvs[0]->value.len : cap - 1;
		memcpy(buf, resp->kvs[0]->value.data, n);
		buf[n] = 0;
		if (meta) {
			*meta = *resp->kvs[0];
			meta->key.data = NULL;
			meta->value.data = NULL;
		}
	} else if (meta) {
		kvpb__key_value__init(meta);
	}
	kvpb__range_response__free_unpacked(resp, NULL);
	return 0;
}

uint32_t kvt_state_hash(struct kv *kv)
{
	Kvpb__HashRequest r = KVPB__HASH_REQUEST__INIT;
	Kvpb__HashResponse *resp = NULL;
	ck_assert_int_eq(kv_hash(kv, &r, &resp), 0);
	uint32_t h = resp->hash;
	kvpb__hash_response__free_unpacked(resp, NULL);
	return h;
}
