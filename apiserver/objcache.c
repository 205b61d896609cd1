/* Key -> latest object text; see objcache.h. Chained hash table, doubled when the load
 * passes 2 so that lookups stay O(1) with tens of thousands of objects. */
#include "objcache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OC_MIN_BUCKETS 64

static uint64_t key_hash(const char *k)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *k; k++) {
		h ^= (unsigned char)*k;
		h *= 1099511628211ULL;
	}
	return h;
}

void oc_init(oc_map *m, int own)
{
	memset(m, 0, sizeof(*m));
	m->own = own;
}

static void entry_free(const oc_map *m, oc_entry *e)
{
	free(e->key);
	if (m->own)
		free(e->text);
	free(e);
}

void oc_clear(oc_map *m)
{
	for (size_t i = 0; i < m->nb; i++) {
		oc_entry *e = m->b[i];
		while (e) {
			oc_entry *next = e->next;
			entry_free(m, e);
			e = next;
		}
		m->b[i] = NULL;
	}
	m->count = 0;
}

void oc_close(oc_map *m)
{
	oc_clear(m);
	free(m->b);
	m->b = NULL;
	m->nb = 0;
}

static int grow(oc_map *m)
{
	size_t nb = m->nb ? m->nb * 2 : OC_MIN_BUCKETS;
	oc_entry **b = calloc(nb, sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < m->nb; i++) {
		oc_entry *e = m->b[i];
		while (e) {
			oc_entry *next = e->next;
			size_t j = key_hash(e->key) & (nb - 1);
			e->next = b[j];
			b[j] = e;
			e = next;
		}
	}
	free(m->b);
	m->b = b;
	m->nb = nb;
	return 0;
}

static oc_entry **slot_of(const oc_map *m, const char *key)
{
	if (!m->nb)
		return NULL;
	oc_entry **pp = &m->b[key_hash(key) & (m->nb - 1)];
	while (*pp && strcmp((*pp)->key, key))
		pp = &(*pp)->next;
	return pp;
}

int oc_put(oc_map *m, const char *key, const char *text, size_t n, int64_t rev, uint64_t seq,
	   int deleted)
{
	if ((!m->nb || m->count >= m->nb * 2) && grow(m) && !m->nb)
		return -ENOMEM; /* a failed grow of a non-empty table only costs longer chains */
	char *t = (char *)text;
	if (m->own) {
		t = malloc(n + 1);
		if (!t)
			return -ENOMEM;
		memcpy(t, text, n);
		t[n] = 0;
	}
	oc_entry **pp = slot_of(m, key);
	oc_entry *e = *pp;
	if (!e) {
		e = calloc(1, sizeof(*e));
		char *k = strdup(key);
		if (!e || !k) {
			free(e);
			free(k);
			if (m->own)
				free(t);
			return -ENOMEM;
		}
		e->key = k;
		*pp = e;
		m->count++;
	} else if (m->own) {
		free(e->text);
	}
	e->text = t;
	e->n = n;
	e->rev = rev;
	e->seq = seq;
	e->deleted = deleted;
	return 0;
}

static void unlink_at(oc_map *m, oc_entry **pp)
{
	oc_entry *e = *pp;
	*pp = e->next;
	entry_free(m, e);
	m->count--;
}

void oc_del(oc_map *m, const char *key)
{
	oc_entry **pp = slot_of(m, key);
	if (pp && *pp)
		unlink_at(m, pp);
}

void oc_del_if_seq(oc_map *m, const char *key, uint64_t seq)
{
	oc_entry **pp = slot_of(m, key);
	if (pp && *pp && (*pp)->seq == seq)
		unlink_at(m, pp);
}

const oc_entry *oc_find(const oc_map *m, const char *key)
{
	oc_entry **pp = slot_of(m, key);
	return pp ? *pp : NULL;
}

int oc_foreach(const oc_map *m, int (*fn)(const oc_entry *e, void *arg), void *arg)
{
	for (size_t i = 0; i < m->nb; i++)
		for (const oc_entry *e = m->b[i]; e; e = e->next) {
			int rc = fn(e, arg);
			if (rc)
				return rc;
		}
	return 0;
}

int oc_key(const char *ns, const char *name, char *buf, size_t n)
{
	int w = (ns && ns[0]) ? snprintf(buf, n, "%s/%s", ns, name) : snprintf(buf, n, "%s", name);
	return (w < 0 || (size_t)w >= n) ? -1 : w;
}
