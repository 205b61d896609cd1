/* Server-side apply and metadata.managedFields (KEP-555), as kube-apiserver's
 * k8s.io/apimachinery/pkg/util/managedfields + sigs.k8s.io/structured-merge-diff.
 *
 * Field sets are kept in their wire form, FieldsV1: a JSON object whose keys are
 * "f:<field>" (a struct/map member), "k:{"name":"web"}" (a list item by its list-map keys,
 * compact JSON with the keys sorted), "v:<json>" (an item of a set list) and "." (the item
 * itself is a member). A node {} is a member leaf; a node with children and "." is a member
 * with members below it; a node with children and no "." only holds its children.
 *
 * Every function takes its cJSON arguments as borrowed and returns new trees owned by the
 * caller (NULL only on ENOMEM). */
#ifndef APISERVER_MANAGEDFIELDS_H
#define APISERVER_MANAGEDFIELDS_H

#include <stdint.h>
#include <cjson/cJSON.h>

/* Who writes, and how (one per request). */
typedef struct mf_req {
	const char *manager;     /* borrowed, non-empty */
	const char *subresource; /* borrowed: "" (main), "status" or "scale" */
	const char *api_version; /* borrowed: "apps/v1" */
	int64_t now_ns;          /* wall clock of the write (entry "time") */
	int force;               /* apply: take conflicting fields instead of a 409 */
} mf_req;

/* FieldsV1 of every field set in obj, without the fields upstream never tracks (apiVersion,
 * kind, metadata.name/namespace/uid/resourceVersion/generation/creationTimestamp/selfLink/
 * managedFields) and without status (sub "") or spec (sub "status"). kind selects
 * context-dependent list keys (Service ports). */
cJSON *mf_fieldset(const cJSON *obj, const char *kind, const char *sub);

/* Set algebra on FieldsV1 trees. NULL arguments are the empty set. */
cJSON *mf_set_union(const cJSON *a, const cJSON *b);
cJSON *mf_set_diff(const cJSON *a, const cJSON *b);
cJSON *mf_set_intersect(const cJSON *a, const cJSON *b);
int mf_set_empty(const cJSON *s);

/* The member leaves of set whose values differ between objects a and b. */
cJSON *mf_set_changed(const cJSON *set, const cJSON *a, const cJSON *b);

/* Each member path of set as upstream's fieldpath.Path.String(), e.g. ".spec.replicas",
 * ".spec.template.spec.containers[name=\"web\"].image", appended to arr (borrowed). */
void mf_set_paths(const cJSON *set, cJSON *arr);

/* Update operation (create, PUT, non-apply PATCH, subresources): records in nobj's
 * metadata.managedFields (old's entries carried over; old may be NULL for a create) that
 * rq->manager now owns the fields it added or changed; they leave other managers' sets,
 * and removed fields leave every set. An unchanged object keeps old's entries untouched. */
void mf_update(const cJSON *old, cJSON *nobj, const char *kind, const mf_req *rq);

/* Apply operation: merges the applied configuration into live (NULL: the object is
 * created from it) and returns the object to store in *out with its managedFields.
 * Fields the manager applied before and no longer applies are removed unless another
 * manager owns them. Returns 0, or 409 with an upstream Status in *st ("Apply failed with
 * 1 conflict: conflict with \"kubectl-scale\" using apps/v1: .spec.replicas") when a
 * field owned by another manager would change and rq->force is 0. */
int mf_apply(const cJSON *live, const cJSON *applied, const char *kind, const mf_req *rq,
	     cJSON **out, cJSON **st);

/* Manager name for a request without ?fieldManager=: the User-Agent up to its first '/'
 * (upstream's prefixFromUserAgent), at most 128 bytes; "unknown" without one. */
void mf_manager_from_user_agent(const char *ua, char *buf, size_t n);

#endif
