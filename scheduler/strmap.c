/* String -> int map; see strmap.h. */
#include "strmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char tomb_marker;
#define TOMB (&tomb_marker)

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

void sched_strmap_init(sched_strmap *m)
{
	memset(m, 0, sizeof(*m));
}

void sched_strmap_close(sched_strmap *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

static int grow(sched_strmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	while (m->live * 2 >= cap)
		cap *= 2;
	const char **keys = calloc(cap, sizeof(*keys));
	int *vals = calloc(cap, sizeof(*vals));
	if (!keys || !vals) {
		free(keys);
		free(vals);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++) {
		const char *k = m->keys[i];
		if (!k || k == TOMB)
			continue;
		size_t j = hash(k) & (cap - 1);
		while (keys[j])
			j = (j + 1) & (cap - 1);
		keys[j] = k;
		vals[j] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = keys;
	m->vals = vals;
	m->cap = cap;
	m->used = m->live;
	return 0;
}

static size_t find(const sched_strmap *m, const char *key, int *found)
{
	size_t j = hash(key) & (m->cap - 1), tomb = (size_t)-1;
	for (;;) {
		const char *k = m->keys[j];
		if (!k) {
			*found = 0;
			return tomb != (size_t)-1 ? tomb : j;
		}
		if (k == TOMB) {
			if (tomb == (size_t)-1)
				tomb = j;
		} else if (strcmp(k, key) == 0) {
			*found = 1;
			return j;
		}
		j = (j + 1) & (m->cap - 1);
	}
}

int sched_strmap_put(sched_strmap *m, const char *key, int val)
{
	if ((m->used + 1) * 4 >= m->cap * 3 && grow(m) != 0)
		return -ENOMEM;
	int found;
	size_t j = find(m, key, &found);
	if (!found) {
		if (!m->keys[j])
			m->used++;
		m->live++;
	}
	m->keys[j] = key;
	m->vals[j] = val;
	return 0;
}

int sched_strmap_get(const sched_strmap *m, const char *key)
{
	if (!m->cap)
		return -1;
	int found;
	size_t j = find(m, key, &found);
	return found ? m->vals[j] : -1;
}

void sched_strmap_del(sched_strmap *m, const char *key)
{
	if (!m->cap)
		return;
	int found;
	size_t j = find(m, key, &found);
	if (found) {
		m->keys[j] = TOMB;
		m->live--;
	}
}
