/* Helpers shared by the registry's files (registry.c, registry_list.c); not for other
 * modules. */
#ifndef KUBEC_APISERVER_REGISTRY_INT_H
#define KUBEC_APISERVER_REGISTRY_INT_H

#include <cjson/cJSON.h>

/* Sets *out to st (a Status; taken) and returns st_code(st). */
int reg__fail(cJSON **out, cJSON *st);
/* *out = the Status for a store error err while doing what (borrowed). */
int reg__store_fail(cJSON **out, int err, const char *what);

#endif
