/* The ServiceAccount controller (upstream pkg/controller/serviceaccount
 * serviceaccounts_controller.go): every active namespace has the ServiceAccounts in
 * SA_DEFAULT_NAMES ("default"). Keys are namespace names; a namespace being added or
 * updated, or one of its ServiceAccounts deleted, queues it. Namespaces being deleted
 * (deletionTimestamp or phase Terminating) are skipped, as upstream. */
#ifndef CM_SERVICEACCOUNT_H
#define CM_SERVICEACCOUNT_H

#include "controller.h"

#define SA_DEFAULT_NAME "default"

typedef struct sa_controller {
	cm_lister *lister;   /* borrowed */
	cm_api *api;         /* borrowed */
	cm_controller *ctrl; /* NULL in unit tests */
} sa_controller;

int sa_controller_init(sa_controller *sc, cm_lister *lister, cm_api *api);
/* cm_sync_fn; key is the namespace name */
int sa_sync(void *arg, const char *key);
int sa_controller_register(sa_controller *sc, cm_informers *f);
void sa_on_namespace(const cJSON *obj, void *arg);
void sa_on_namespace_update(const cJSON *old_obj, const cJSON *new_obj, void *arg);
void sa_on_sa_delete(const cJSON *obj, int final_state_unknown, void *arg);

#endif
