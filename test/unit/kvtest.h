/* Shared helpers of the store engine's unit suites. Failures abort the running Check test. */
#ifndef KUBEC_TEST_KVTEST_H
#define KUBEC_TEST_KVTEST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../store/kv.h"

/* Removes dir and everything under it. */
void kvt_rm_rf(const char *dir);
/* A fresh /tmp/kvtest.XXXXXX directory (heap string; free()). */
char *kvt_tmpdir(void);
/* Opens the engine on dir (fsync off: tests check logic, not durability timing). */
struct kv *kvt_open(const char *dir, kc_clock_t *clock, uint64_t snapcount);
/* Bytes of a NUL-terminated string (borrowed). */
ProtobufCBinaryData kvt_bin(const char *s);
/* Puts k=v; returns the new revision. */
int64_t kvt_put(struct kv *kv, const char *k, const char *v);
/* Deletes k (or [k, end); end "" means all keys >= k); returns the count deleted. */
int64_t kvt_del(struct kv *kv, const char *k, const char *end);
/* Value of k at rev (0 = latest) into buf ("" when absent); returns the range error.
 * meta, if given, receives the KeyValue's numbers (key/value pointers cleared). */
int kvt_get_at(struct kv *kv, const char *k, int64_t rev, char *buf, size_t cap,
	       Kvpb__KeyValue *meta);
/* The engine's state hash (as /v3/maintenance/hash). */
uint32_t kvt_state_hash(struct kv *kv);

#endif
