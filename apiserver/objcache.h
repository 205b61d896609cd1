/* The latest stored text of objects by key ("<namespace>/<name>" or "<name>"), as the watch
 * cache learns them from its store watch: the lister side of upstream's informers and of
 * the cacher's store (k8s.io/client-go/tools/cache.Indexer, the cacher's watchCache.store).
 * The watch cache (watchcache.c) keeps one map per resource and does all locking; this
 * module is only the map. */
#ifndef APISERVER_OBJCACHE_H
#define APISERVER_OBJCACHE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

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

/* ---- stored texts read without parsing them ----
 * The store keeps each object as the compact JSON kc_json_print gives, without
 * metadata.resourceVersion (registry.c's encode_for_store, as upstream's versioner clears
 * it). A watch event's text is that object with the resourceVersion set: parsing the bytes,
 * setting metadata.resourceVersion (appended as metadata's last member) and printing again
 * gives exactly the stored bytes with ,"resourceVersion":"<rev>" before metadata's closing
 * brace, whenever the bytes are a fixed point of parse+print. oc_raw_scan checks that in one
 * pass without building a tree, and records where the members the watch cache reads are. */

typedef struct oc_span {
	uint32_t off, len; /* text[off, off + len); len 0: absent */
} oc_span;

#define OC_RAW_TOP 32 /* top-level members recorded (an object with more is not scanned) */

typedef struct oc_raw {
	const char *text; /* borrowed from oc_raw_scan's caller */
	size_t n;
	size_t md_close; /* offset of the closing brace of the top-level metadata object */
	int md_empty;    /* metadata is {} */
	oc_span name, ns, labels; /* metadata.name/.namespace/.labels values (as JSON text) */
	size_t ntop;
	struct {
		oc_span key; /* without the quotes, as printed (escapes kept) */
		oc_span val;
	} top[OC_RAW_TOP];
} oc_raw;

/* 0 with *r filled when text[0, n) (borrowed; must outlive *r) is a JSON object that
 * kc_json_parse accepts and kc_json_print prints back byte for byte (no whitespace, the
 * printer's string escapes, integers only, no duplicate keys, no deeper than 128 levels,
 * at most OC_RAW_TOP members at the top, at most KC_JSON_DEFAULT_MAX bytes), with a
 * metadata object that has no resourceVersion and whose name and namespace have no
 * escapes. -1 otherwise: the caller parses the text instead. */
int oc_raw_scan(const char *text, size_t n, oc_raw *r);
/* The object's text with metadata.resourceVersion rev: byte for byte what kc_json_print
 * gives after parsing the text and setting the resourceVersion (kc_meta_set_resource_version).
 * New NUL-terminated string with its length in *len, NULL on out of memory. */
char *oc_raw_with_rv(const oc_raw *r, int64_t rev, size_t *len);
/* The contents of a string value without escapes (borrowed from the text, not
 * NUL-terminated) and its length; "" and 0 for an absent or non-string value, as
 * kc_meta_name/kc_meta_namespace read them. */
const char *oc_raw_str(const oc_raw *r, oc_span v, size_t *len);
/* An empty partial object for selector matching, {"metadata":{}}, which the two calls
 * below fill with what a selector reads. NULL on out of memory. */
cJSON *oc_raw_view_new(void);
/* Adds metadata member key ("name", "namespace" or "labels"; borrowed) to view's metadata,
 * copied from the text, unless view has it already. 0 (also when the text has no such
 * member), -1 for another key or on out of memory. */
int oc_raw_view_add_meta(const oc_raw *r, cJSON *view, const char *key);
/* Adds the top-level member named key (NUL-terminated, borrowed) to view, parsed from the
 * text, unless view has it already. 0 (also when the text has no such member), -1 when key
 * cannot be looked up in the raw text (it would be printed escaped) or on out of memory. */
int oc_raw_view_add(const oc_raw *r, cJSON *view, const char *key);

#endif
