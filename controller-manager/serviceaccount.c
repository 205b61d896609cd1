/* The ServiceAccount controller (see serviceaccount.h). */
#include "serviceaccount.h"

#include <errno.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "log.h"
#include "meta.h"

int sa_controller_init(sa_controller *sc, cm_lister *lister, cm_api *api)
{
	memset(sc, 0, sizeof(*sc));
	sc->lister = lister;
	sc->api = api;
	return 0;
}

int sa_sync(void *arg, const char *key)
{
	sa_controller *sc = arg;
	if (!key || !*key || strchr(key, '/'))
		return 0;
	cJSON *ns = NULL;
	int rc = sc->lister->get(sc->lister, "namespaces", "", key, &ns);
	if (rc == KC_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	/* upstream syncNamespace: nothing for a namespace on its way out */
	bool terminating = *kc_meta_deletion_timestamp(ns) ||
			   !strcmp(kc_json_get_string(ns, "status.phase", ""), "Terminating");
	cJSON_Delete(ns);
	if (terminating)
		return 0;
	cJSON *sa = NULL;
	rc = sc->lister->get(sc->lister, "serviceaccounts", key, SA_DEFAULT_NAME, &sa);
	cJSON_Delete(sa);
	if (rc == 0)
		return 0;
	if (rc != KC_ENOTFOUND)
		return rc;
	/* the cache may not have seen the namespace go: ask the apiserver before
	 * creating, so a namespace being emptied does not get a new account */
	rc = sc->api->get(sc->api, "namespaces", "", key, &ns);
	if (rc == KC_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	terminating = *kc_meta_deletion_timestamp(ns) ||
		      !strcmp(kc_json_get_string(ns, "status.phase", ""), "Terminating");
	cJSON_Delete(ns);
	if (terminating)
		return 0;
	cJSON *obj = cJSON_CreateObject();
	if (!obj)
		return -ENOMEM;
	cJSON_AddStringToObject(obj, "apiVersion", "v1");
	cJSON_AddStringToObject(obj, "kind", "ServiceAccount");
	cJSON *md = cJSON_AddObjectToObject(obj, "metadata");
	cJSON_AddStringToObject(md, "name", SA_DEFAULT_NAME);
	cJSON_AddStringToObject(md, "namespace", key);
	kc_status st;
	kc_status_clear(&st);
	rc = sc->api->create(sc->api, "serviceaccounts", key, obj, NULL, &st);
	cJSON_Delete(obj);
	/* AlreadyExists: the cache lagged; Forbidden while the namespace terminates:
	 * upstream ignores both */
	if (rc == KC_EEXIST || rc == KC_EFORBIDDEN)
		return 0;
	if (rc < 0) {
		kc_warn("serviceaccount controller: create %s/%s: %s %s", key, SA_DEFAULT_NAME,
			kc_strerror(rc), st.message);
		return rc;
	}
	kc_log_v(2, "serviceaccount controller: created serviceaccount %s/%s", key,
		 SA_DEFAULT_NAME);
	return 0;
}

void sa_on_namespace(const cJSON *obj, void *arg)
{
	sa_controller *sc = arg;
	cm_controller_enqueue(sc->ctrl, kc_meta_name(obj));
}

void sa_on_namespace_update(const cJSON *old_obj, const cJSON *new_obj, void *arg)
{
	(void)old_obj;
	sa_on_namespace(new_obj, arg);
}

void sa_on_sa_delete(const cJSON *obj, int final_state_unknown, void *arg)
{
	sa_controller *sc = arg;
	(void)final_state_unknown;
	/* As upstream: re-queue at once. A namespace being deleted is Terminating before its
	 * contents go, and sync skips Terminating namespaces (the apiserver refuses creates
	 * there too), so the re-create cannot outlive the namespace. */
	if (!strcmp(kc_meta_name(obj), SA_DEFAULT_NAME))
		cm_controller_enqueue(sc->ctrl, kc_meta_namespace(obj));
}

int sa_controller_register(sa_controller *sc, cm_informers *f)
{
	kc_informer *ni = cm_informers_get(f, "namespaces");
	kc_informer *si = cm_informers_get(f, "serviceaccounts");
	if (!ni || !si)
		return -ENOMEM;
	kc_informer_handlers h1 = { sa_on_namespace, sa_on_namespace_update, NULL, sc };
	kc_informer_handlers h2 = { NULL, NULL, sa_on_sa_delete, sc };
	int rc = kc_informer_add_handlers(ni, &h1);
	if (rc == 0)
		rc = kc_informer_add_handlers(si, &h2);
	return rc;
}
