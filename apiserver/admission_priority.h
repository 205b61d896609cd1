/* The Priority admission plugin (plugin/pkg/admission/priority): a new pod's
 * spec.priorityClassName resolves to spec.priority and spec.preemptionPolicy; without one,
 * the globalDefault PriorityClass (or priority 0) applies. */
#ifndef APISERVER_ADMISSION_PRIORITY_H
#define APISERVER_ADMISSION_PRIORITY_H

#include <cjson/cJSON.h>

#include "registry.h"

/* Mutates pod (borrowed) in place. Returns NULL, or a 403 Forbidden Status (caller owns)
 * when the class does not exist or spec.priority disagrees with it, as upstream. */
cJSON *adm_priority(reg *r, cJSON *pod);

#endif
