#include "nodeport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "txn.h"

int npa_init(npa *a, kc_etcd *etcd, kc_clock_t *clock, const char *prefix, const char *range)
{
	memset(a, 0, sizeof(*a));
	a->etcd = etcd;
	a->clock = clock;
	snprintf(a->prefix, sizeof(a->prefix), "%s", prefix);
	snprintf(a->range, sizeof(a->range), "%s", range);
	char *end;
	long lo = strtol(range, &end, 10), hi;
	if (*end == '-')
		hi = strtol(end + 1, &end, 10);
	else if (*end == '+')
		hi = lo + strtol(end + 1, &end, 10) - 1;
	else
		return -EINVAL;
	if (*end || lo < 1 || hi > 65535 || hi < lo)
		return -EINVAL;
	a->base = (int)lo;
	a->size = (int)(hi - lo + 1);
	return 0;
}

static int claim(npa *a, int port, const char *owner)
{
	char key[256], val[512];
	snprintf(key, sizeof(key), "%s/nodeports/%d", a->prefix, port);
	snprintf(val, sizeof(val), "{\"service\":\"%s\"}", owner);
	int rc = txn_put_if(a->etcd, key, val, 0, 0, NULL);
	return rc == KC_ECONFLICT ? KC_EEXIST : rc;
}

int npa_allocate(npa *a, int want, const char *owner, int *out, char *msg, size_t msglen)
{
	if (want) {
		if (want < a->base || want >= a->base + a->size) {
			/* portallocator.ErrNotInRange */
			snprintf(msg, msglen, "Invalid value: %d: provided port is not in the valid "
					      "range. The range of valid ports is %d-%d",
				 want, a->base, a->base + a->size - 1);
			return KC_EINVALID;
		}
		int rc = claim(a, want, owner);
		if (rc == KC_EEXIST) {
			snprintf(msg, msglen, "Invalid value: %d: provided port is already allocated",
				 want);
			return KC_EINVALID;
		}
		if (!rc)
			*out = want;
		return rc;
	}
	int start = (int)(kc_rand64(a->clock) % (uint64_t)a->size);
	for (int i = 0; i < a->size; i++) {
		int p = a->base + (start + i) % a->size;
		int rc = claim(a, p, owner);
		if (rc == KC_EEXIST)
			continue;
		if (!rc)
			*out = p;
		return rc;
	}
	snprintf(msg, msglen, "failed to allocate a nodePort: range is full");
	return -ENOSPC;
}

int npa_release(npa *a, int port)
{
	if (port <= 0)
		return 0;
	char key[256];
	snprintf(key, sizeof(key), "%s/nodeports/%d", a->prefix, port);
	struct kc_etcd_delete_req q = { .key = key, .key_len = strlen(key) };
	struct kc_etcd_delete_resp resp;
	int rc = kc_etcd_delete_range(a->etcd, &q, &resp, NULL);
	if (!rc)
		kc_etcd_delete_resp_free(&resp);
	return rc;
}
