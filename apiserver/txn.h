/* Compare-and-swap writes over the etcd v3 API: the two txns everything in the apiserver
 * that writes is built from (optimistic concurrency on mod_revision, create-if-absent). */
#ifndef APISERVER_TXN_H
#define APISERVER_TXN_H

#include <stdint.h>

#include "etcd.h"

/* Puts val (NUL-terminated) at key if the key's mod_revision is expect, or, with expect 0,
 * if the key does not exist. lease: attached on create (0 = none); updates keep the key's
 * lease. Returns 0 with *rev = the new store revision, KC_ECONFLICT when the compare
 * failed, or a store error. key and val borrowed; rev may be NULL. */
int txn_put_if(kc_etcd *etcd, const char *key, const char *val, int64_t expect, int64_t lease,
	       int64_t *rev);
/* Deletes key if its mod_revision is expect: 0, KC_ECONFLICT or a store error. */
int txn_delete_if(kc_etcd *etcd, const char *key, int64_t expect, int64_t *rev);

/* A companion write done in the same txn (ResourceQuota usage): val put at key if the key's
 * mod_revision is still expect. Strings borrowed. */
typedef struct txn_side {
	const char *key;
	const char *val;
	int64_t expect;
} txn_side;

/* txn_put_if / txn_delete_if that also apply nside companion writes atomically: all or
 * none; KC_ECONFLICT when any compare failed. */
int txn_put_if_with(kc_etcd *etcd, const char *key, const char *val, int64_t expect,
		    int64_t lease, const txn_side *side, size_t nside, int64_t *rev);
int txn_delete_if_with(kc_etcd *etcd, const char *key, int64_t expect, const txn_side *side,
		       size_t nside, int64_t *rev);

#endif
