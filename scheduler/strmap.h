/* A small string -> int map (open addressing, linear probing, tombstones) for the cache's
 * and the queue's key lookups. Keys are borrowed: the caller keeps each key alive while it
 * is in the map (they point into the objects the map indexes). */
#ifndef SCHED_STRMAP_H
#define SCHED_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct sched_strmap {
	const char **keys; /* NULL empty; SCHED_STRMAP_TOMB deleted */
	int *vals;
	size_t cap, used, live;
} sched_strmap;

void sched_strmap_init(sched_strmap *m);
void sched_strmap_close(sched_strmap *m);
/* Insert or replace. 0 or -ENOMEM. */
int sched_strmap_put(sched_strmap *m, const char *key, int val);
/* The value, or -1 when absent. */
int sched_strmap_get(const sched_strmap *m, const char *key);
void sched_strmap_del(sched_strmap *m, const char *key);

#endif
