/* NodePort allocation from --service-node-port-range (default 30000-32767), as upstream's
 * portallocator: one record per allocated port, <prefix>/nodeports/<port>, created with a
 * txn requiring the key to be absent. */
#ifndef APISERVER_NODEPORT_H
#define APISERVER_NODEPORT_H

#include <stddef.h>

#include "clock.h"
#include "etcd.h"

typedef struct npa {
	kc_etcd *etcd;     /* borrowed */
	kc_clock_t *clock; /* borrowed */
	char prefix[128];
	int base, size;    /* ports base .. base+size-1 */
	char range[32];
} npa;

/* range "30000-32767" (or "30000+2768"). 0 or -EINVAL. */
int npa_init(npa *a, kc_etcd *etcd, kc_clock_t *clock, const char *prefix, const char *range);
/* Allocates want (0: any free port) for owner. 0 and *out; KC_EINVALID with upstream's
 * message (out of range / already allocated); -ENOSPC when full; or a store error. */
int npa_allocate(npa *a, int want, const char *owner, int *out, char *msg, size_t msglen);
int npa_release(npa *a, int port);

#endif
