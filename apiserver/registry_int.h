/* Helpers shared by the registry's files (registry.c, registry_list.c, registry_scale.c);
 * not for other modules. */
#ifndef KUBEC_APISERVER_REGISTRY_INT_H
#define KUBEC_APISERVER_REGISTRY_INT_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "registry.h"

/* Attempts of a read-modify-write before answering 409. */
#define REG_RETRIES 8

/* Sets *out to st (a Status; taken) and returns st_code(st). */
int reg__fail(cJSON **out, cJSON *st);
/* *out = the Status for a store error err while doing what (borrowed). */
int reg__store_fail(cJSON **out, int err, const char *what);

/* Builds the object to store from the incoming one and the current one (PrepareForUpdate):
 * server-owned metadata from old; status or spec preserved depending on the endpoint;
 * generation bumped when the spec changed. Takes nobj; returns the object to write. */
cJSON *reg__prepare_update(reg *r, const res_desc *d, const cJSON *old, cJSON *nobj,
			   enum reg_sub sub);
/* Validates and writes nobj (taken) over old (borrowed; mod_revision mod) at key. 200 with
 * the stored object in *out, 409 on a concurrent change (*conflict set so a patch can
 * retry), or a Status. */
int reg__write_update(reg *r, const res_desc *d, const char *key, const cJSON *old,
		      int64_t mod, cJSON *nobj, int dry_run, int *conflict, cJSON **out);

#endif
