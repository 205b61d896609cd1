/* In-memory MVCC key space: skiplist index + per-key revision chains + revision log.
 * See mvcc.h for the semantics (etcd's mvcc package). */
#include "mvcc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int64_t mvcc_rev_cost(size_t klen, size_t vlen)
{
	return (int64_t)klen + (int64_t)vlen + 64;
}


static int random_level(struct mvcc *s)
{
	/* xorshift64*; p = 1/4 per level like LevelDB's skiplist (branching 4). */
	uint64_t x = s->rnd;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	s->rnd = x;
	uint64_t r = x * UINT64_C(2685821657736338717);
	int lvl = 1;
	while (lvl < MVCC_MAX_LEVEL && (r & 3) == 0) {
		lvl++;
		r >>= 2;
	}
	return lvl;
}

int mvcc_init(struct mvcc *s)
{
	memset(s, 0, sizeof(*s));
	s->head = calloc(1, sizeof(struct mvcc_key) + MVCC_MAX_LEVEL * sizeof(struct mvcc_key *));
	if (!s->head)
		return -ENOMEM;
	s->head->level = MVCC_MAX_LEVEL;
	s->level = 1;
	s->rnd = UINT64_C(0x9E3779B97F4A7C15);
	s->rev = 1; /* etcd starts at revision 1 with an empty store */
	s->log_base = 2;
	return 0;
}

static void free_chain(struct mvcc_rev *r)
{
	while (r) {
		struct mvcc_rev *o = r->older;
		free(r);
		r = o;
	}
}

void mvcc_close(struct mvcc *s)
{
	if (!s->head)
		return;
	struct mvcc_key *k = s->head->next[0];
	while (k) {
		struct mvcc_key *n = k->next[0];
		free_chain(k->head);
		free(k);
		k = n;
	}
	free(s->head);
	free(s->log);
	memset(s, 0, sizeof(*s));
}

/* Last node with key < target at each level into update[]; returns the candidate >= key. */
static struct mvcc_key *seek(const struct mvcc *s, const void *key, size_t klen,
			     struct mvcc_key **update)
{
	struct mvcc_key *x = s->head;
	for (int i = s->level - 1; i >= 0; i--) {
		while (x->next[i] &&
		       mvcc_keycmp(mvcc_key_bytes(x->next[i]), x->next[i]->klen, key, klen) < 0)
			x = x->next[i];
		if (update)
			update[i] = x;
	}
	return x->next[0];
}

struct mvcc_key *mvcc_find(const struct mvcc *s, const void *key, size_t klen)
{
	struct mvcc_key *k = seek(s, key, klen, NULL);
	if (k && mvcc_keycmp(mvcc_key_bytes(k), k->klen, key, klen) == 0)
		return k;
	return NULL;
}

const struct mvcc_rev *mvcc_visible(const struct mvcc_key *k, int64_t rev)
{
	const struct mvcc_rev *r = k->head;
	while (r && r->main > rev)
		r = r->older;
	if (!r || r->tomb)
		return NULL;
	return r;
}

static struct mvcc_key *insert_key(struct mvcc *s, const void *key, size_t klen)
{
	struct mvcc_key *update[MVCC_MAX_LEVEL];
	struct mvcc_key *k = seek(s, key, klen, update);
	if (k && mvcc_keycmp(mvcc_key_bytes(k), k->klen, key, klen) == 0)
		return k;
	int lvl = random_level(s);
	if (lvl > s->level) {
		for (int i = s->level; i < lvl; i++)
			update[i] = s->head;
		s->level = lvl;
	}
	k = malloc(sizeof(*k) + (size_t)lvl * sizeof(struct mvcc_key *) + klen);
	if (!k)
		return NULL;
	k->head = NULL;
	k->lease_prev = k->lease_next = NULL;
	k->klen = (uint32_t)klen;
	k->level = (uint8_t)lvl;
	memcpy((char *)&k->next[lvl], key, klen);
	for (int i = 0; i < lvl; i++) {
		k->next[i] = update[i]->next[i];
		update[i]->next[i] = k;
	}
	s->nkeys++;
	return k;
}

static void remove_key(struct mvcc *s, struct mvcc_key *k)
{
	struct mvcc_key *update[MVCC_MAX_LEVEL];
	struct mvcc_key *x = seek(s, mvcc_key_bytes(k), k->klen, update);
	if (x != k)
		return;
	for (int i = 0; i < k->level; i++)
		if (update[i]->next[i] == k)
			update[i]->next[i] = k->next[i];
	while (s->level > 1 && !s->head->next[s->level - 1])
		s->level--;
	s->nkeys--;
	free(k);
}

/* end_len == 0: single key; end == "\0": unbounded; else exclusive bound. */
static bool below_end(const struct mvcc_key *k, const void *key, size_t klen, const void *end,
		      size_t end_len)
{
	if (end_len == 0)
		return mvcc_keycmp(mvcc_key_bytes(k), k->klen, key, klen) == 0;
	if (end_len == 1 && ((const char *)end)[0] == 0)
		return true;
	return mvcc_keycmp(mvcc_key_bytes(k), k->klen, end, end_len) < 0;
}

int mvcc_range_keys(const struct mvcc *s, const void *key, size_t klen, const void *end,
		    size_t end_len, mvcc_key_fn fn, void *arg)
{
	struct mvcc_key *k = seek(s, key, klen, NULL);
	while (k && below_end(k, key, klen, end, end_len)) {
		struct mvcc_key *n = k->next[0];
		int rc = fn(arg, k);
		if (rc)
			return rc;
		if (end_len == 0)
			break;
		k = n;
	}
	return 0;
}

int mvcc_range(const struct mvcc *s, const void *key, size_t klen, const void *end,
	       size_t end_len, int64_t rev, mvcc_iter_fn fn, void *arg)
{
	struct mvcc_key *k = seek(s, key, klen, NULL);
	while (k && below_end(k, key, klen, end, end_len)) {
		const struct mvcc_rev *r = mvcc_visible(k, rev);
		if (r) {
			int rc = fn(arg, r);
			if (rc)
				return rc;
		}
		if (end_len == 0)
			break;
		k = k->next[0];
	}
	return 0;
}

int mvcc_each_key(const struct mvcc *s, mvcc_key_fn fn, void *arg)
{
	for (struct mvcc_key *k = s->head->next[0]; k;) {
		struct mvcc_key *n = k->next[0];
		int rc = fn(arg, k);
		if (rc)
			return rc;
		k = n;
	}
	return 0;
}

void mvcc_txn_begin(struct mvcc *s, struct mvcc_txn *t)
{
	t->s = s;
	t->rev = s->rev + 1;
	t->sub = 0;
	t->first = t->last = NULL;
}

static void txn_link(struct mvcc_txn *t, struct mvcc_key *k, struct mvcc_rev *r)
{
	r->key = k;
	r->main = t->rev;
	r->sub = t->sub++;
	r->older = k->head;
	r->next_in_rev = NULL;
	k->head = r;
	if (t->last)
		t->last->next_in_rev = r;
	else
		t->first = r;
	t->last = r;
	t->s->bytes += mvcc_rev_cost(k->klen, r->vlen);
}

struct mvcc_rev *mvcc_txn_put(struct mvcc_txn *t, const void *key, size_t klen,
			      const void *val, size_t vlen, int64_t lease,
			      const struct mvcc_rev **prev)
{
	struct mvcc_key *k = insert_key(t->s, key, klen);
	if (!k)
		return NULL;
	return mvcc_txn_put_at(t, k, val, vlen, lease, prev);
}

struct mvcc_rev *mvcc_txn_put_at(struct mvcc_txn *t, struct mvcc_key *k, const void *val,
				 size_t vlen, int64_t lease, const struct mvcc_rev **prev)
{
	struct mvcc_rev *r = malloc(sizeof(*r) + vlen);
	if (!r) {
		if (!k->head)
			remove_key(t->s, k);
		return NULL;
	}
	const struct mvcc_rev *p = k->head && !k->head->tomb ? k->head : NULL;
	if (prev)
		*prev = p;
	r->create = p ? p->create : t->rev;
	r->version = p ? p->version + 1 : 1;
	r->lease = lease;
	r->vlen = (uint32_t)vlen;
	r->tomb = 0;
	if (vlen)
		memcpy(r->value, val, vlen);
	txn_link(t, k, r);
	return r;
}

struct mvcc_rev *mvcc_txn_delete(struct mvcc_txn *t, struct mvcc_key *k)
{
	struct mvcc_rev *r = malloc(sizeof(*r));
	if (!r)
		return NULL;
	r->create = 0;
	r->version = 0;
	r->lease = 0;
	r->vlen = 0;
	r->tomb = 1;
	txn_link(t, k, r);
	return r;
}

static int log_push(struct mvcc *s, struct mvcc_rev *first)
{
	if (s->log_len == s->log_cap) {
		size_t cap = s->log_cap ? s->log_cap * 2 : 1024;
		struct mvcc_rev **n = realloc(s->log, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		s->log = n;
		s->log_cap = cap;
	}
	s->log[s->log_len++] = first;
	return 0;
}

int mvcc_txn_end(struct mvcc_txn *t)
{
	if (!t->sub)
		return 0;
	struct mvcc *s = t->s;
	if (s->log_len == 0)
		s->log_base = t->rev;
	int rc = log_push(s, t->first);
	s->rev = t->rev;
	t->sub = 0;
	return rc;
}

const struct mvcc_rev *mvcc_log_at(const struct mvcc *s, int64_t rev)
{
	if (rev < s->log_base || rev >= s->log_base + (int64_t)s->log_len)
		return NULL;
	return s->log[rev - s->log_base];
}

void mvcc_compact(struct mvcc *s, int64_t rev)
{
	struct mvcc_key *k = s->head->next[0];
	while (k) {
		struct mvcc_key *next = k->next[0];
		struct mvcc_rev **link = &k->head;
		while (*link && (*link)->main > rev)
			link = &(*link)->older;
		struct mvcc_rev *keep = *link;
		if (keep) {
			/* Free everything older than the newest revision <= rev. */
			for (struct mvcc_rev *o = keep->older; o; o = o->older)
				s->bytes -= mvcc_rev_cost(k->klen, o->vlen);
			free_chain(keep->older);
			keep->older = NULL;
			/* A tombstone strictly below rev ends a generation nobody can read any
			 * more; one exactly at rev stays so the log at rev remains whole. */
			if (keep->tomb && keep->main < rev) {
				s->bytes -= mvcc_rev_cost(k->klen, 0);
				free(keep);
				*link = NULL;
			}
		}
		if (!k->head)
			remove_key(s, k);
		k = next;
	}
	/* Drop log entries below rev: nothing can ask for them again. */
	if (rev > s->log_base) {
		size_t drop = (size_t)(rev - s->log_base);
		if (drop > s->log_len)
			drop = s->log_len;
		if (drop)
			memmove(s->log, s->log + drop, (s->log_len - drop) * sizeof(*s->log));
		s->log_len -= drop;
		s->log_base += (int64_t)drop;
		if (s->log_len == 0)
			s->log_base = s->rev + 1;
	}
	s->compact_rev = rev;
}

struct mvcc_rev *mvcc_restore_rev(struct mvcc *s, const void *key, size_t klen,
				  const void *val, size_t vlen, int64_t main, uint32_t sub,
				  int64_t create, int64_t version, int64_t lease, bool tomb)
{
	struct mvcc_key *k = insert_key(s, key, klen);
	if (!k)
		return NULL;
	struct mvcc_rev *r = malloc(sizeof(*r) + vlen);
	if (!r)
		return NULL;
	r->main = main;
	r->sub = sub;
	r->create = create;
	r->version = version;
	r->lease = lease;
	r->vlen = (uint32_t)vlen;
	r->tomb = tomb;
	r->key = k;
	r->next_in_rev = NULL;
	if (vlen)
		memcpy(r->value, val, vlen);
	r->older = k->head;
	k->head = r;
	s->bytes += mvcc_rev_cost(klen, vlen);
	return r;
}

static int revcmp(const void *a, const void *b)
{
	const struct mvcc_rev *x = *(const struct mvcc_rev *const *)a;
	const struct mvcc_rev *y = *(const struct mvcc_rev *const *)b;
	if (x->main != y->main)
		return x->main < y->main ? -1 : 1;
	return x->sub < y->sub ? -1 : x->sub > y->sub;
}

int mvcc_restore_finish(struct mvcc *s, int64_t rev, int64_t compact_rev)
{
	s->rev = rev;
	s->compact_rev = compact_rev;
	int64_t base = compact_rev > 0 ? compact_rev : 2;
	/* Collect every revision >= base, sort by (main, sub), chain into the log. */
	size_t n = 0, cap = 1024;
	struct mvcc_rev **all = malloc(cap * sizeof(*all));
	if (!all)
		return -ENOMEM;
	for (struct mvcc_key *k = s->head->next[0]; k; k = k->next[0])
		for (struct mvcc_rev *r = k->head; r && r->main >= base; r = r->older) {
			if (n == cap) {
				struct mvcc_rev **m = realloc(all, cap * 2 * sizeof(*all));
				if (!m) {
					free(all);
					return -ENOMEM;
				}
				all = m;
				cap *= 2;
			}
			all[n++] = r;
		}
	qsort(all, n, sizeof(*all), revcmp);
	free(s->log);
	s->log = NULL;
	s->log_len = s->log_cap = 0;
	s->log_base = n ? all[0]->main : rev + 1;
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		if (i > 0 && all[i - 1]->main == all[i]->main) {
			all[i - 1]->next_in_rev = all[i];
			continue;
		}
		/* Revisions are dense (each bumps by one); fill any gap with NULL. */
		while (!rc && s->log_base + (int64_t)s->log_len < all[i]->main)
			rc = log_push(s, NULL);
		if (!rc)
			rc = log_push(s, all[i]);
	}
	free(all);
	return rc;
}
