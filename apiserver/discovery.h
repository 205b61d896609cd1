/* /version, legacy and aggregated discovery (OpenAPI is openapi.h), all generated
 * from the descriptor table (res_all). Every function returns a new cJSON owned by the
 * caller, or NULL for an unknown group/version. */
#ifndef APISERVER_DISCOVERY_H
#define APISERVER_DISCOVERY_H

#include <cjson/cJSON.h>

#define DISC_AGG_CTYPE "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

cJSON *disc_version(void);
/* /api: APIVersions; server_addr "host:port" for serverAddressByClientCIDRs. */
cJSON *disc_api_versions(const char *server_addr);
/* /apis: APIGroupList. */
cJSON *disc_api_groups(void);
/* /apis/<group>: APIGroup, NULL if unknown. */
cJSON *disc_api_group(const char *group);
/* /api/v1 or /apis/<g>/<v>: APIResourceList. */
cJSON *disc_resource_list(const char *group, const char *version);
/* Accept asks for apidiscovery.k8s.io/v2 APIGroupDiscoveryList? */
int disc_wants_aggregated(const char *accept);
/* Named groups (core excluded) in table order, deduplicated: at most max into out. */
int disc_groups(const char *out[], int max);
/* Versions of group g ("" for core) in table order, deduplicated; the first is the
 * preferred one (autoscaling: v2 before v1, as upstream). */
int disc_group_versions(const char *g, const char *out[], int max);
/* core: /api (the legacy group only) else /apis (every named group). */
cJSON *disc_aggregated(int core);

#endif
