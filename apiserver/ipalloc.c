#include "ipalloc.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "txn.h"

int ipa_init(ipa *a, kc_etcd *etcd, kc_clock_t *clock, const char *prefix, const char *cidr)
{
	memset(a, 0, sizeof(*a));
	a->etcd = etcd;
	a->clock = clock;
	snprintf(a->prefix, sizeof(a->prefix), "%s", prefix);
	snprintf(a->cidr, sizeof(a->cidr), "%s", cidr);
	char ip[64];
	const char *slash = strchr(cidr, '/');
	if (!slash || (size_t)(slash - cidr) >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, cidr, (size_t)(slash - cidr));
	ip[slash - cidr] = 0;
	char *end;
	long bits = strtol(slash + 1, &end, 10);
	struct in_addr in;
	if (*end || bits < 8 || bits > 30 || inet_pton(AF_INET, ip, &in) != 1)
		return -EINVAL;
	uint32_t mask = bits == 0 ? 0 : 0xffffffffu << (32 - bits);
	a->base = ntohl(in.s_addr) & mask;
	a->size = 1u << (32 - bits);
	return 0;
}

static void fmt_ip(uint32_t v, char *buf, size_t n)
{
	struct in_addr in = { .s_addr = htonl(v) };
	inet_ntop(AF_INET, &in, buf, (socklen_t)n);
}

void ipa_first(const ipa *a, char *buf, size_t n)
{
	fmt_ip(a->base + 1, buf, n);
}

/* 0 on success, KC_EEXIST when taken, store error otherwise. */
static int claim(ipa *a, const char *ip, const char *owner)
{
	char key[256], val[512];
	snprintf(key, sizeof(key), "%s/ipaddresses/%s", a->prefix, ip);
	snprintf(val, sizeof(val), "{\"service\":\"%s\"}", owner);
	int rc = txn_put_if(a->etcd, key, val, 0, 0, NULL);
	return rc == KC_ECONFLICT ? KC_EEXIST : rc;
}

int ipa_allocate(ipa *a, const char *want, const char *owner, char *out, size_t outlen,
		 char *msg, size_t msglen)
{
	if (want && want[0]) {
		struct in_addr in;
		uint32_t v;
		if (inet_pton(AF_INET, want, &in) != 1 || (v = ntohl(in.s_addr)) <= a->base ||
		    v >= a->base + a->size - 1) {
			/* ipallocator.ErrNotInRange */
			snprintf(msg, msglen, "failed to allocate IP %s: the provided IP (%s) is not "
					      "in the valid range. The range of valid IPs is %s",
				 want, want, a->cidr);
			return KC_EINVALID;
		}
		int rc = claim(a, want, owner);
		if (rc == KC_EEXIST) {
			snprintf(msg, msglen, "failed to allocate IP %s: provided IP is already "
					      "allocated", want);
			return KC_EINVALID;
		}
		if (!rc)
			snprintf(out, outlen, "%s", want);
		return rc;
	}
	/* Usable: base+1 .. base+size-2; base+1 is reserved for the kubernetes Service, so
	 * random allocations start above it (as upstream's reserved lower band). */
	uint32_t usable = a->size - 3;
	uint32_t start = (uint32_t)(kc_rand64(a->clock) % usable);
	for (uint32_t i = 0; i < usable; i++) {
		uint32_t v = a->base + 2 + (start + i) % usable;
		char ip[32];
		fmt_ip(v, ip, sizeof(ip));
		int rc = claim(a, ip, owner);
		if (rc == KC_EEXIST)
			continue;
		if (!rc)
			snprintf(out, outlen, "%s", ip);
		return rc;
	}
	snprintf(msg, msglen, "failed to allocate a serviceIP: range is full");
	return -ENOSPC;
}

int ipa_release(ipa *a, const char *ip)
{
	if (!ip || !ip[0] || !strcmp(ip, "None"))
		return 0;
	char key[256];
	snprintf(key, sizeof(key), "%s/ipaddresses/%s", a->prefix, ip);
	struct kc_etcd_delete_req q = { .key = key, .key_len = strlen(key) };
	struct kc_etcd_delete_resp resp;
	int rc = kc_etcd_delete_range(a->etcd, &q, &resp, NULL);
	if (!rc)
		kc_etcd_delete_resp_free(&resp);
	return rc;
}
