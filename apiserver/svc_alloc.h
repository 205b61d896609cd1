/* The Service REST storage's allocation steps (pkg/registry/core/service/storage): ClusterIPs
 * from the ipalloc range and NodePorts from the nodeport range on create and update, released
 * on delete, and kept across updates that omit them (patchAllocatedValues). */
#ifndef APISERVER_SVC_ALLOC_H
#define APISERVER_SVC_ALLOC_H

#include <cjson/cJSON.h>

#include "registry.h"

/* On create: fills spec.clusterIP(s), ipFamilies, ipFamilyPolicy and nodePorts. 0, or -1
 * with a Status in *st (422 taken / out of range, 500 range full); nothing stays allocated
 * on failure. */
int svc_alloc_create(reg *r, const char *ns, cJSON *svc, cJSON **st);
/* On update (before validation): carries the allocated values of old over to nobj where nobj
 * omits them, and allocates nodePorts for new NodePort ports. 0 or -1 with *st. */
int svc_alloc_update(reg *r, const char *ns, const cJSON *old, cJSON *nobj, cJSON **st);
/* After a successful update: releases nodePorts old had and stored no longer has. */
void svc_alloc_after_update(reg *r, const cJSON *old, const cJSON *stored);
/* Releases everything svc holds (after delete, or when its create failed). */
void svc_alloc_release(reg *r, const cJSON *svc);

#endif
