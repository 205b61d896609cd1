/* Service ClusterIP allocation from --service-cluster-ip-range (IPv4), as upstream's
 * IPAddress-based allocator (pkg/registry/core/service/ipallocator): one record per
 * allocated address, <prefix>/ipaddresses/<ip>, created with a txn that requires the key
 * to be absent, so two apiservers never hand out the same address. */
#ifndef APISERVER_IPALLOC_H
#define APISERVER_IPALLOC_H

#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "etcd.h"

typedef struct ipa {
	kc_etcd *etcd;     /* borrowed */
	kc_clock_t *clock; /* borrowed: random starting offset */
	char prefix[128];
	char cidr[64];
	uint32_t base;     /* network address, host order */
	uint32_t size;     /* addresses in the range */
} ipa;

/* Parses "10.0.0.0/24" (prefix length 8..30). 0 or -EINVAL. */
int ipa_init(ipa *a, kc_etcd *etcd, kc_clock_t *clock, const char *prefix, const char *cidr);
/* The first usable address (the kubernetes Service's), into buf (>= 16 bytes). */
void ipa_first(const ipa *a, char *buf, size_t n);
/* Allocates want (NULL: any free address) for owner ("ns/name"). 0 with out filled;
 * KC_EINVALID with msg (not in range / already allocated: upstream's texts, 422);
 * -ENOSPC (range is full); or a store error. */
int ipa_allocate(ipa *a, const char *want, const char *owner, char *out, size_t outlen,
		 char *msg, size_t msglen);
/* Releases ip (missing is fine). */
int ipa_release(ipa *a, const char *ip);

#endif
