/* /version, legacy and aggregated discovery, and the OpenAPI v3 documents, all generated
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
/* core: /api (the legacy group only) else /apis (every named group). */
cJSON *disc_aggregated(int core);
/* /openapi/v3 and /openapi/v3/<api/v1|apis/g/v>: enough for kubectl's field-validation
 * check (QueryParamVerifierV3: a patch operation per GVK with a fieldValidation
 * parameter); components.schemas is empty. */
cJSON *disc_openapi_root(void);
cJSON *disc_openapi_gv(const char *group, const char *version);

#endif
