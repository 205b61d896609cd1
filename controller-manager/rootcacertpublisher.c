/* The root CA certificate publisher (see rootcacertpublisher.h). */
#include "rootcacertpublisher.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "errors.h"
#include "json.h"
#include "log.h"
#include "meta.h"

int rca_controller_init(rca_controller *rc, cm_lister *lister, cm_api *api, const void *ca,
			size_t len)
{
	memset(rc, 0, sizeof(*rc));
	if (!ca || !len)
		return -EINVAL;
	rc->root_ca = malloc(len + 1);
	if (!rc->root_ca)
		return -ENOMEM;
	memcpy(rc->root_ca, ca, len);
	rc->root_ca[len] = 0;
	rc->lister = lister;
	rc->api = api;
	return 0;
}

void rca_controller_close(rca_controller *rc)
{
	free(rc->root_ca);
	rc->root_ca = NULL;
}

/* Upstream's check: data is exactly {"ca.crt": root CA} and the description annotation
 * is not empty. */
static bool up_to_date(const rca_controller *rc, const cJSON *cm)
{
	const cJSON *data = kc_json_get(cm, "data");
	if (!cJSON_IsObject(data) || cJSON_GetArraySize(data) != 1)
		return false;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, RCA_KEY);
	if (!cJSON_IsString(v) || strcmp(v->valuestring, rc->root_ca))
		return false;
	const cJSON *an = cJSON_GetObjectItemCaseSensitive(kc_meta_annotations(cm),
							  RCA_DESCRIPTION_ANNOTATION);
	return cJSON_IsString(an) && *an->valuestring;
}

static int create_cm(rca_controller *rc, const char *ns)
{
	cJSON *obj = cJSON_CreateObject();
	if (!obj)
		return -ENOMEM;
	cJSON_AddStringToObject(obj, "apiVersion", "v1");
	cJSON_AddStringToObject(obj, "kind", "ConfigMap");
	cJSON *md = cJSON_AddObjectToObject(obj, "metadata");
	cJSON_AddStringToObject(md, "name", RCA_CONFIGMAP_NAME);
	cJSON_AddStringToObject(md, "namespace", ns);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(md, "annotations"),
				RCA_DESCRIPTION_ANNOTATION, RCA_DESCRIPTION);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(obj, "data"), RCA_KEY, rc->root_ca);
	kc_status st;
	kc_status_clear(&st);
	int r = rc->api->create(rc->api, "configmaps", ns, obj, NULL, &st);
	cJSON_Delete(obj);
	/* upstream: a create is not retried when the namespace is gone or terminating */
	if (r == KC_ENOTFOUND || (r == KC_EFORBIDDEN && strstr(st.message, "being terminated")))
		return 0;
	if (r < 0) {
		kc_warn("root-ca-cert-publisher: create configmap %s/%s: %s %s", ns,
			RCA_CONFIGMAP_NAME, kc_strerror(r), st.message);
		return r;
	}
	kc_log_v(2, "root-ca-cert-publisher: created configmap %s/%s", ns, RCA_CONFIGMAP_NAME);
	return 0;
}

int rca_sync(void *arg, const char *key)
{
	rca_controller *rc = arg;
	if (!key || !*key || strchr(key, '/'))
		return 0;
	cJSON *cm = NULL;
	int r = rc->lister->get(rc->lister, "configmaps", key, RCA_CONFIGMAP_NAME, &cm);
	if (r == KC_ENOTFOUND)
		return create_cm(rc, key);
	if (r < 0)
		return r;
	if (up_to_date(rc, cm)) {
		cJSON_Delete(cm);
		return 0;
	}
	/* restore: the data replaced whole, the annotation set, the rest kept; the
	 * cached resourceVersion makes a concurrent edit a conflict (retried) */
	cJSON_DeleteItemFromObjectCaseSensitive(cm, "data");
	cJSON *data = cJSON_AddObjectToObject(cm, "data");
	if (!data || !cJSON_AddStringToObject(data, RCA_KEY, rc->root_ca)) {
		cJSON_Delete(cm);
		return -ENOMEM;
	}
	cJSON *md = cJSON_GetObjectItemCaseSensitive(cm, "metadata");
	cJSON *an = cJSON_GetObjectItemCaseSensitive(md, "annotations");
	if (!cJSON_IsObject(an)) {
		cJSON_DeleteItemFromObjectCaseSensitive(md, "annotations");
		an = cJSON_AddObjectToObject(md, "annotations");
	}
	cJSON_DeleteItemFromObjectCaseSensitive(an, RCA_DESCRIPTION_ANNOTATION);
	cJSON_AddStringToObject(an, RCA_DESCRIPTION_ANNOTATION, RCA_DESCRIPTION);
	r = rc->api->update(rc->api, "configmaps", key, RCA_CONFIGMAP_NAME, NULL, cm, NULL);
	cJSON_Delete(cm);
	if (r == KC_ENOTFOUND)
		return 0; /* deleted meanwhile: its delete event queues the namespace again */
	kc_log_v(2, "root-ca-cert-publisher: updated configmap %s/%s: %s", key,
		 RCA_CONFIGMAP_NAME, r < 0 ? kc_strerror(r) : "ok");
	return r;
}

void rca_on_namespace_add(const cJSON *obj, void *arg)
{
	rca_controller *rc = arg;
	cm_controller_enqueue(rc->ctrl, kc_meta_name(obj));
}

void rca_on_namespace_update(const cJSON *old_obj, const cJSON *new_obj, void *arg)
{
	(void)old_obj;
	/* upstream namespaceUpdated: only Active namespaces */
	if (strcmp(kc_json_get_string(new_obj, "status.phase", "Active"), "Active"))
		return;
	rca_on_namespace_add(new_obj, arg);
}

void rca_on_configmap_update(const cJSON *old_obj, const cJSON *new_obj, void *arg)
{
	rca_controller *rc = arg;
	(void)old_obj;
	if (!strcmp(kc_meta_name(new_obj), RCA_CONFIGMAP_NAME))
		cm_controller_enqueue(rc->ctrl, kc_meta_namespace(new_obj));
}

void rca_on_configmap_delete(const cJSON *obj, int final_state_unknown, void *arg)
{
	(void)final_state_unknown;
	rca_on_configmap_update(NULL, obj, arg);
}

int rca_controller_register(rca_controller *rc, cm_informers *f)
{
	kc_informer *ni = cm_informers_get(f, "namespaces");
	kc_informer *ci = cm_informers_get(f, "configmaps");
	if (!ni || !ci)
		return -ENOMEM;
	kc_informer_handlers h1 = { rca_on_namespace_add, rca_on_namespace_update, NULL, rc };
	kc_informer_handlers h2 = { NULL, rca_on_configmap_update, rca_on_configmap_delete, rc };
	int r = kc_informer_add_handlers(ni, &h1);
	if (r == 0)
		r = kc_informer_add_handlers(ci, &h2);
	return r;
}

int rca_read_ca_file(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
	*out = NULL;
	*len = 0;
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		int e = errno;
		snprintf(err, errlen, "error reading root-ca-file at %s: %s", path, strerror(e));
		return -e;
	}
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (!buf) {
			fclose(fp);
			return -ENOMEM;
		}
		if (n + 1 >= cap) {
			if (cap > (16u << 20)) { /* a CA bundle is not 16 MB */
				free(buf);
				fclose(fp);
				snprintf(err, errlen, "error parsing root-ca-file at %s: too large", path);
				return KC_EINVALID;
			}
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				free(buf);
			buf = nb;
			cap *= 2;
			continue;
		}
		size_t r = fread(buf + n, 1, cap - n - 1, fp);
		if (!r)
			break;
		n += r;
	}
	fclose(fp);
	buf[n] = 0;
	/* certutil.ParseCertsPEM: every CERTIFICATE block must parse, at least one */
	BIO *bio = BIO_new_mem_buf(buf, (int)n);
	int certs = 0;
	X509 *x;
	while (bio && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
		certs++;
		X509_free(x);
	}
	unsigned long e = ERR_peek_last_error();
	ERR_clear_error();
	BIO_free(bio);
	/* running out of PEM blocks at the end is the normal stop */
	bool clean_end = !e || ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
	if (!certs || !clean_end) {
		free(buf);
		snprintf(err, errlen, "error parsing root-ca-file at %s: %s", path,
			 certs ? "invalid certificate data" : "data does not contain any valid RSA "
							    "or ECDSA certificates");
		return KC_EINVALID;
	}
	*out = buf;
	*len = n;
	return 0;
}
