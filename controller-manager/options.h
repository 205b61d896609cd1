/* --controllers handling, as kube-controller-manager's IsControllerEnabled and
 * validation (cmd/kube-controller-manager/app/options). */
#ifndef CM_OPTIONS_H
#define CM_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "flags.h"

/* Is controller name enabled by list? The first entry that is name or "-name" decides;
 * otherwise "*" enables every controller not disabled by default. Both the short name
 * ("deployment") and upstream's 1.32 name ("deployment-controller") are accepted in the
 * list; name is the short one. */
bool cm_controller_enabled(const kc_strlist *list, const char *name, bool disabled_by_default);
/* Every entry must be "*", or [-]<known controller>: 0, or -EINVAL with upstream's
 * message ("\"foo\" is not in the list of known controllers") in err. */
int cm_validate_controllers(const kc_strlist *list, char *err, size_t errlen);
/* True for upstream controllers kubec does not implement yet. */
bool cm_controller_unimplemented(const char *name);

#endif
