/* The generic registry: CRUD, list and patch for every descriptor over the etcd v3 API
 * (k8s.io/apiserver/pkg/registry/generic/registry/store.go + storage/etcd3/store.go).
 *
 * Keys are <prefix>/<plural>/<namespace>/<name> (cluster-scoped: <prefix>/<plural>/<name>),
 * values the object's JSON without metadata.resourceVersion, which is the key's
 * mod_revision on every read. Updates are txns comparing mod_revision.
 *
 * Every operation returns the HTTP status code and sets *out to a new cJSON owned by the
 * caller: the object/list on success, a metav1.Status on failure. */
#ifndef APISERVER_REGISTRY_H
#define APISERVER_REGISTRY_H

#include <pthread.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "clock.h"
#include "etcd.h"
#include "ipalloc.h"
#include "nodeport.h"
#include "resource.h"

typedef struct reg {
	kc_etcd *etcd;      /* borrowed */
	char prefix[128];   /* "/registry" */
	kc_clock_t *clock;  /* borrowed: uids, generateName, timestamps */
	ipa *ips;           /* borrowed; NULL: Service ClusterIPs are not allocated */
	npa *ports;         /* borrowed; NULL: NodePorts are not allocated */
	int64_t event_ttl_sec; /* --event-ttl: events live on an etcd lease; 0 = forever */
	int sa_admission;   /* ServiceAccount admission plugin enabled (admission_serviceaccount.h) */
	struct wc_set *wc;  /* the watch cache once started (watchcache.h: wc_start sets it, wc_free
			     * clears it); NULL: every read goes to the store */
	pthread_mutex_t lease_mu;
	int64_t lease_id, lease_until; /* shared lease for events created in one minute */
} reg;

/* etcd and clock are borrowed and must outlive r; prefix copied (trailing '/' dropped). */
void reg_init(reg *r, kc_etcd *etcd, const char *prefix, kc_clock_t *clock);

/* Key of one object / the prefix of a collection (ns NULL or "" = all namespaces).
 * Returns the length, or -1 if it did not fit. */
int reg_key(const reg *r, const res_desc *d, const char *ns, const char *name, char *buf,
	    size_t n);

typedef struct reg_list_opts {
	const char *label_selector; /* borrowed, may be NULL */
	const char *field_selector;
	int64_t limit;              /* 0 = all */
	const char *cont;           /* continue token */
	int64_t exact_rv;           /* resourceVersionMatch=Exact: list at this revision */
} reg_list_opts;

/* Which part of the object a write may change (upstream's status strategies). */
/* REG_FINALIZE: namespaces/<name>/finalize, only spec.finalizers changes. */
enum reg_sub { REG_MAIN = 0, REG_STATUS = 1, REG_FINALIZE = 2 };

int reg_get(reg *r, const res_desc *d, const char *ns, const char *name, cJSON **out);
int reg_list(reg *r, const res_desc *d, const char *ns, const reg_list_opts *o, cJSON **out);
/* reg_get / reg_list (all of ns, no selectors) served from the watch cache's current objects
 * when it has them (wc_get, wc_list), as upstream's admission plugins read their informers'
 * listers; otherwise from the store. A miss is always confirmed with the store (upstream's
 * NamespaceLifecycle and ServiceAccount plugins do the same live lookup). The list is
 * {"items": [...]} only, without list metadata. For internal reads, not client requests. */
int reg_get_cached(reg *r, const res_desc *d, const char *ns, const char *name, cJSON **out);
int reg_list_cached(reg *r, const res_desc *d, const char *ns, cJSON **out);
/* body is borrowed. dry_run: validate and answer, store nothing. */
int reg_create(reg *r, const res_desc *d, const char *ns, const cJSON *body, int dry_run,
	       cJSON **out);
/* reg_create with body taken (always, also on error): no copy of the request's object.
 * text may be NULL; otherwise, on a stored create (201) it may get (malloc'd, caller frees)
 * the exact bytes kc_json_print_len(*out) gives, and *text_len their length, so that the
 * answer is not printed a second time; *text is NULL when not available. */
int reg_create_take(reg *r, const res_desc *d, const char *ns, cJSON *body, int dry_run,
		    cJSON **out, char **text, size_t *text_len);
int reg_update(reg *r, const res_desc *d, const char *ns, const char *name, const cJSON *body,
	       enum reg_sub sub, int dry_run, cJSON **out);
/* ctype: the PATCH Content-Type. apply-patch creates the object when absent (201); with a
 * reg_fm set it is server-side apply (managedfields.h: 409 on conflicts). */
int reg_patch(reg *r, const res_desc *d, const char *ns, const char *name, const char *ctype,
	      const cJSON *patch, enum reg_sub sub, int dry_run, cJSON **out);
/* opts: the DeleteOptions body (borrowed, may be NULL). */
int reg_delete(reg *r, const res_desc *d, const char *ns, const char *name, const cJSON *opts,
	       int dry_run, cJSON **out);

/* Scale subresource (autoscaling/v1 Scale) of a descriptor with .scale set. */
int reg_get_scale(reg *r, const res_desc *d, const char *ns, const char *name, cJSON **out);
/* body: a Scale (PUT) or a merge/strategic patch of a Scale (PATCH, ctype non-NULL). */
int reg_set_scale(reg *r, const res_desc *d, const char *ns, const char *name,
		  const char *ctype, const cJSON *body, int dry_run, cJSON **out);
/* pods/binding: sets spec.nodeName once (409 if already bound). */
int reg_bind(reg *r, const char *ns, const char *name, const cJSON *binding, cJSON **out);

/* The field manager of the request served on this thread, for metadata.managedFields
 * (managedfields.h). api.c sets it around its reg_create/update/patch/set_scale call and
 * clears it with NULL; without one (internal writes: bootstrap, eviction) managedFields
 * are carried over unchanged. fm and its strings are borrowed until cleared. */
typedef struct reg_fm {
	const char *manager;     /* non-empty */
	const char *subresource; /* "", "status" or "scale" */
	int apply;               /* PATCH application/apply-patch+yaml: server-side apply */
	int force;               /* ?force=true: apply takes conflicting fields */
} reg_fm;
void reg_fm_set(const reg_fm *fm);

/* Current store revision (for readiness and list RVs). */
int reg_revision(reg *r, int64_t *rev);
/* Creates the namespace if it does not exist (start-up namespaces). */
int reg_ensure_namespace(reg *r, const char *name);

/* Object from a stored value + its mod_revision: parses, sets resourceVersion. NULL if the
 * stored value is not JSON. */
cJSON *reg_decode(const void *val, size_t len, int64_t mod_rev);

/* Does obj match the parsed selectors? (Both strings; validated by reg_list first.) */
struct kc_label_selector;
struct kc_field_selector;
int reg_matches(const res_desc *d, const cJSON *obj, const struct kc_label_selector *ls,
		const struct kc_field_selector *fs);
/* Parses label/field selectors for d; on error returns a 400 Status in *err_out. */
int reg_parse_selectors(const res_desc *d, const char *lsel, const char *fsel,
			struct kc_label_selector *ls, struct kc_field_selector *fs,
			cJSON **err_out);

#endif
