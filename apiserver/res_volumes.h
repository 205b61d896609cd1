/* Shared by persistentvolumes and persistentvolumeclaims. */
#ifndef APISERVER_RES_VOLUMES_H
#define APISERVER_RES_VOLUMES_H

#include "resource.h"

/* "RWO,ROX" as upstream's helper.GetAccessModesAsString. modes borrowed. */
void vol_access_modes(const cJSON *modes, char *buf, size_t n);
/* accessModes required and each supported; path e.g. "spec.accessModes". */
void vol_validate_access_modes(const cJSON *modes, const char *path, res_errs *e);

#endif
