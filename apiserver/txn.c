#include "txn.h"

#include <string.h>

#include "errors.h"

static int run(kc_etcd *etcd, const char *key, int64_t expect, const struct kc_etcd_op *op,
	       int64_t *rev)
{
	struct kc_etcd_compare cmp = {
		.result = KC_ETCD_CMP_EQUAL,
		.target = expect ? KC_ETCD_CMP_MOD : KC_ETCD_CMP_CREATE,
		.key = key, .key_len = strlen(key), .number = expect,
	};
	struct kc_etcd_txn_req t = { .compare = &cmp, .n_compare = 1, .success = op, .n_success = 1 };
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
