/* The latest stored text of objects by key ("<namespace>/<name>" or "<name>"), as the watch
 * cache learns them from its store watch: the lister side of upstream's informers and of
 * the cacher's store (k8s.io/client-go/tools/cache.Indexer, the cacher's watchCache.store).
 * The watch cache (watchcache.c) keeps one map per resource and does all locking; this
 * module is only the map. */
#ifndef APISERVER_OBJCACHE_H
#define APISERVER_OBJCACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct oc_entry {
	char *key;    /* owned */
	char *text;   /* NUL-terminated JSON: owned when the map owns texts, else borrowed */
	size_t n;     /* strlen(text) */
	int64_t rev;  /* mod_revision the text was stored at */
	uint64_t seq; /* caller's tag, e.g. which buffer holds a borrowed text (oc_del_if_seq) */
	int deleted;  /* the latest event for the key was a deletion (text: its last state) */
	struct oc_entry *next;
} oc_entry;

typedef struct oc_map {
	oc_entry **b;
	size_t nb, count;
	int own; /* texts copied in and freed by the map */
} oc_map;

/* own: nonzero = oc_put copies texts; zero = texts are borrowed and must outlive their
 * entries (the caller removes an entry before freeing its text). */
void oc_init(oc_map *m, int own);
void oc_close(oc_map *m);
/* Removes every entry. */
void oc_clear(oc_map *m);
/* Sets key's entry (replacing any). key copied; text copied or borrowed as oc_init said.
 * 0 or -ENOMEM (the map is unchanged). */
int oc_put(oc_map *m, const char *key, const char *text, size_t n, int64_t rev, uint64_t seq,
	   int deleted);
void oc_del(oc_map *m, const char *key);
/* Removes key's entry only if it still carries seq (a newer event did not replace it). */
void oc_del_if_seq(oc_map *m, const char *key, uint64_t seq);
/* NULL when absent. The entry is valid until the map changes. */
const oc_entry *oc_find(const oc_map *m, const char *key);
/* fn for each entry, in no particular order, until it returns nonzero (returned). */
int oc_foreach(const oc_map *m, int (*fn)(const oc_entry *e, void *arg), void *arg);

/* The map key of an object in namespace ns (NULL/"" for cluster-scoped) named name. Returns
 * the length, or -1 when it does not fit in buf. */
int oc_key(const char *ns, const char *name, char *buf, size_t n);

#endif
