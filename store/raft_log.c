/* In-memory Raft log; see raft_log.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "raft_log.h"

void raft_log_init(struct raft_log *l)
{
	memset(l, 0, sizeof(*l));
}

void raft_log_close(struct raft_log *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->ents[i].data);
	free(l->ents);
	raft_log_free_garbage(l);
	free(l->garbage);
	memset(l, 0, sizeof(*l));
}

int raft_log_term(const struct raft_log *l, uint64_t index, uint64_t *term)
{
	*term = 0;
	if (index == l->snap_index) {
		*term = l->snap_term;
		return 0;
	}
	if (index < l->snap_index || index > raft_log_last_index(l))
		return -ENOENT;
	*term = l->ents[index - l->snap_index - 1].term;
	return 0;
}

uint64_t raft_log_term_or0(const struct raft_log *l, uint64_t index)
{
	uint64_t t;
	raft_log_term(l, index, &t);
	return t;
}

uint64_t raft_log_last_term(const struct raft_log *l)
{
	return l->n ? l->ents[l->n - 1].term : l->snap_term;
}

struct raft_entry *raft_log_get(const struct raft_log *l, uint64_t index)
{
	if (index <= l->snap_index || index > raft_log_last_index(l))
		return NULL;
	return &l->ents[index - l->snap_index - 1];
}

bool raft_log_match(const struct raft_log *l, uint64_t index, uint64_t term)
{
	uint64_t t;
	if (raft_log_term(l, index, &t) != 0)
		return false;
	return t == term;
}

bool raft_log_up_to_date(const struct raft_log *l, uint64_t last_index, uint64_t last_term)
{
	uint64_t my = raft_log_last_term(l);
	return last_term > my || (last_term == my && last_index >= raft_log_last_index(l));
}

static void park(struct raft_log *l, void *p)
{
	if (!p)
		return;
	if (l->ngarbage == l->garbage_cap) {
		size_t nc = l->garbage_cap ? l->garbage_cap * 2 : 64;
		void **g = realloc(l->garbage, nc * sizeof(*g));
		if (!g) {
			/* Cannot defer: leaking is safer than freeing memory a queued
			 * message may still reference. */
			return;
		}
		l->garbage = g;
		l->garbage_cap = nc;
	}
	l->garbage[l->ngarbage++] = p;
}

int raft_log_append(struct raft_log *l, uint64_t term, uint8_t type, const void *data,
		    size_t len)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 64;
		struct raft_entry *e = realloc(l->ents, nc * sizeof(*e));
		if (!e)
			return -ENOMEM;
		l->ents = e;
		l->cap = nc;
	}
	uint8_t *copy = NULL;
	if (len) {
		copy = malloc(len);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, data, len);
	}
	struct raft_entry *e = &l->ents[l->n];
	e->term = term;
	e->index = raft_log_last_index(l) + 1;
	e->type = type;
	e->data = copy;
	e->len = len;
	l->n++;
	return 0;
}

void raft_log_truncate_after(struct raft_log *l, uint64_t index)
{
	if (index < l->snap_index)
		index = l->snap_index;
	while (raft_log_last_index(l) > index) {
		park(l, l->ents[l->n - 1].data);
		l->n--;
	}
	if (l->stable > index)
		l->stable = index;
}

void raft_log_compact(struct raft_log *l, uint64_t index, uint64_t term)
{
	if (index <= l->snap_index)
		return;
	if (index > raft_log_last_index(l)) {
		raft_log_reset(l, index, term);
		return;
	}
	size_t drop = (size_t)(index - l->snap_index);
	for (size_t i = 0; i < drop; i++)
		park(l, l->ents[i].data);
	memmove(l->ents, l->ents + drop, (l->n - drop) * sizeof(*l->ents));
	l->n -= drop;
	l->snap_index = index;
	l->snap_term = term;
	if (l->stable < index)
		l->stable = index;
}

void raft_log_reset(struct raft_log *l, uint64_t index, uint64_t term)
{
	for (size_t i = 0; i < l->n; i++)
		park(l, l->ents[i].data);
	l->n = 0;
	l->snap_index = index;
	l->snap_term = term;
	/* The snapshot itself becomes durable with the Ready that carries it. */
	if (l->stable > index)
		l->stable = index;
}

uint64_t raft_log_find_conflict_by_term(const struct raft_log *l, uint64_t index, uint64_t term)
{
	if (index > raft_log_last_index(l))
		index = raft_log_last_index(l);
	while (index > l->snap_index) {
		if (l->ents[index - l->snap_index - 1].term <= term)
			return index;
		index--;
	}
	return l->snap_index;
}

void raft_log_free_garbage(struct raft_log *l)
{
	for (size_t i = 0; i < l->ngarbage; i++)
		free(l->garbage[i]);
	l->ngarbage = 0;
}
