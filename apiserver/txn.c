#include "txn.h"

#include <errno.h>
#include <string.h>

#include "errors.h"

#define TXN_MAX_SIDE 16

static int run_with(kc_etcd *etcd, const char *key, int64_t expect,
		    const struct kc_etcd_op *op, const txn_side *side, size_t nside, int64_t *rev)
{
	if (nside > TXN_MAX_SIDE)
		return -E2BIG;
	struct kc_etcd_compare cmp[1 + TXN_MAX_SIDE];
	struct kc_etcd_op ops[1 + TXN_MAX_SIDE];
	memset(cmp, 0, sizeof(cmp));
	memset(ops, 0, sizeof(ops));
	cmp[0] = (struct kc_etcd_compare){
		.result = KC_ETCD_CMP_EQUAL,
		.target = expect ? KC_ETCD_CMP_MOD : KC_ETCD_CMP_CREATE,
		.key = key, .key_len = strlen(key), .number = expect,
	};
	ops[0] = *op;
	for (size_t i = 0; i < nside; i++) {
		cmp[i + 1] = (struct kc_etcd_compare){
			.result = KC_ETCD_CMP_EQUAL, .target = KC_ETCD_CMP_MOD,
			.key = side[i].key, .key_len = strlen(side[i].key), .number = side[i].expect,
		};
		ops[i + 1].type = KC_ETCD_OP_PUT;
		ops[i + 1].u.put.key = side[i].key;
		ops[i + 1].u.put.key_len = strlen(side[i].key);
		ops[i + 1].u.put.value = side[i].val;
		ops[i + 1].u.put.value_len = strlen(side[i].val);
		ops[i + 1].u.put.ignore_lease = true;
	}
	struct kc_etcd_txn_req t = { .compare = cmp, .n_compare = 1 + nside, .success = ops,
				     .n_success = 1 + nside };
	struct kc_etcd_txn_resp resp;
	int rc = kc_etcd_txn(etcd, &t, &resp, NULL);
	if (rc)
		return rc;
	rc = resp.succeeded ? 0 : KC_ECONFLICT;
	if (rev)
		*rev = resp.header.revision;
	kc_etcd_txn_resp_free(&resp);
	return rc;
}

static int run(kc_etcd *etcd, const char *key, int64_t expect, const struct kc_etcd_op *op,
	       int64_t *rev)
{
	return run_with(etcd, key, expect, op, NULL, 0, rev);
}

int txn_put_if(kc_etcd *etcd, const char *key, const char *val, int64_t expect, int64_t lease,
	       int64_t *rev)
{
	struct kc_etcd_op op = { .type = KC_ETCD_OP_PUT };
	op.u.put.key = key;
	op.u.put.key_len = strlen(key);
	op.u.put.value = val;
	op.u.put.value_len = strlen(val);
	op.u.put.lease = lease;
	op.u.put.ignore_lease = expect != 0;
	return run(etcd, key, expect, &op, rev);
}

int txn_delete_if(kc_etcd *etcd, const char *key, int64_t expect, int64_t *rev)
{
	struct kc_etcd_op op = { .type = KC_ETCD_OP_DELETE };
	op.u.del.key = key;
	op.u.del.key_len = strlen(key);
	return run(etcd, key, expect, &op, rev);
}

int txn_put_if_with(kc_etcd *etcd, const char *key, const char *val, int64_t expect,
		    int64_t lease, const txn_side *side, size_t nside, int64_t *rev)
{
	struct kc_etcd_op op = { .type = KC_ETCD_OP_PUT };
	op.u.put.key = key;
	op.u.put.key_len = strlen(key);
	op.u.put.value = val;
	op.u.put.value_len = strlen(val);
	op.u.put.lease = lease;
	op.u.put.ignore_lease = expect != 0;
	return run_with(etcd, key, expect, &op, side, nside, rev);
}

int txn_delete_if_with(kc_etcd *etcd, const char *key, int64_t expect, const txn_side *side,
		       size_t nside, int64_t *rev)
{
	struct kc_etcd_op op = { .type = KC_ETCD_OP_DELETE };
	op.u.del.key = key;
	op.u.del.key_len = strlen(key);
	return run_with(etcd, key, expect, &op, side, nside, rev);
}
