/* Lease table: a chained hash by ID plus an intrusive list of attached keys per lease. */
#include "lease.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static size_t bucket_of(const struct lessor *l, int64_t id)
{
	uint64_t x = (uint64_t)id * UINT64_C(0x9E3779B97F4A7C15);
	return (size_t)(x >> 20) & (l->nbuckets - 1);
}

int lessor_init(struct lessor *l)
{
	memset(l, 0, sizeof(*l));
	l->nbuckets = 64;
	l->buckets = calloc(l->nbuckets, sizeof(*l->buckets));
	return l->buckets ? 0 : -ENOMEM;
}

void lessor_close(struct lessor *l)
{
	for (size_t i = 0; i < l->nbuckets; i++) {
		struct lease *x = l->buckets[i];
		while (x) {
			struct lease *n = x->hnext;
			free(x);
			x = n;
		}
	}
	free(l->buckets);
	memset(l, 0, sizeof(*l));
}

struct lease *lessor_get(const struct lessor *l, int64_t id)
{
	if (!l->buckets)
		return NULL;
	for (struct lease *x = l->buckets[bucket_of(l, id)]; x; x = x->hnext)
		if (x->id == id)
			return x;
	return NULL;
}

static void grow(struct lessor *l)
{
	size_t nb = l->nbuckets * 2;
	struct lease **b = calloc(nb, sizeof(*b));
	if (!b)
		return; /* keep the old table: slower, still correct */
	struct lessor nl = { b, nb, l->n };
	for (size_t i = 0; i < l->nbuckets; i++) {
		struct lease *x = l->buckets[i];
		while (x) {
			struct lease *n = x->hnext;
			size_t j = bucket_of(&nl, x->id);
			x->hnext = b[j];
			b[j] = x;
			x = n;
		}
	}
	free(l->buckets);
	l->buckets = b;
	l->nbuckets = nb;
}

int lessor_grant(struct lessor *l, int64_t id, int64_t ttl, int64_t expiry_ns,
		 struct lease **out)
{
	if (lessor_get(l, id))
		return -EEXIST;
	if (l->n + 1 > l->nbuckets)
		grow(l);
	struct lease *x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->id = id;
	x->ttl = ttl;
	atomic_store(&x->expiry_ns, expiry_ns);
	size_t j = bucket_of(l, id);
	x->hnext = l->buckets[j];
	l->buckets[j] = x;
	l->n++;
	if (out)
		*out = x;
	return 0;
}

void lessor_remove(struct lessor *l, struct lease *ls)
{
	struct lease **p = &l->buckets[bucket_of(l, ls->id)];
	while (*p && *p != ls)
		p = &(*p)->hnext;
	if (!*p)
		return;
	*p = ls->hnext;
	l->n--;
	/* Defensive: never leave keys pointing at freed memory. */
	for (struct mvcc_key *k = ls->keys; k;) {
		struct mvcc_key *n = k->lease_next;
		k->lease_next = k->lease_prev = NULL;
		k = n;
	}
	free(ls);
}

void lessor_detach(struct lessor *l, struct mvcc_key *k, int64_t id)
{
	if (id == 0)
		return;
	struct lease *ls = lessor_get(l, id);
	if (!ls)
		return;
	bool linked = k->lease_prev || ls->keys == k;
	if (!linked)
		return;
	if (k->lease_prev)
		k->lease_prev->lease_next = k->lease_next;
	else
		ls->keys = k->lease_next;
	if (k->lease_next)
		k->lease_next->lease_prev = k->lease_prev;
	k->lease_prev = k->lease_next = NULL;
	ls->nkeys--;
}

void lessor_attach(struct lessor *l, struct mvcc_key *k, int64_t old, int64_t id)
{
	if (old == id && old != 0) {
		struct lease *ls = lessor_get(l, id);
		if (ls && (k->lease_prev || ls->keys == k))
			return;
	}
	lessor_detach(l, k, old);
	if (id == 0)
		return;
	struct lease *ls = lessor_get(l, id);
	if (!ls)
		return;
	k->lease_prev = NULL;
	k->lease_next = ls->keys;
	if (ls->keys)
		ls->keys->lease_prev = k;
	ls->keys = k;
	ls->nkeys++;
}

int lessor_each(const struct lessor *l, lessor_fn fn, void *arg)
{
	for (size_t i = 0; i < l->nbuckets; i++)
		for (struct lease *x = l->buckets[i]; x;) {
			struct lease *n = x->hnext;
			int rc = fn(arg, x);
			if (rc)
				return rc;
			x = n;
		}
	return 0;
}

size_t lessor_expired(const struct lessor *l, int64_t now_ns, int64_t *ids, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < l->nbuckets && n < max; i++)
		for (struct lease *x = l->buckets[i]; x && n < max; x = x->hnext)
			if (atomic_load(&x->expiry_ns) <= now_ns)
				ids[n++] = x->id;
	return n;
}
