/* PodSpec defaulting and validation shared by pods and every pod template
 * (pkg/apis/core/v1/defaults.go SetDefaults_PodSpec/SetDefaults_Container and
 * pkg/apis/core/validation ValidatePodSpec, reduced to the fields this milestone checks). */
#include "resource.h"

#include <stdio.h>
#include <string.h>

/* SetDefaults_Container: Always for ":latest" or untagged images, else IfNotPresent. */
static const char *pull_policy(const char *image)
{
	if (strchr(image, '@'))
		return "IfNotPresent";
	const char *slash = strrchr(image, '/');
	const char *colon = strrchr(slash ? slash : image, ':');
	if (!colon || !strcmp(colon + 1, "latest"))
		return "Always";
	return "IfNotPresent";
}

static void container_defaults(cJSON *c)
{
	if (!cJSON_IsObject(c))
		return;
	const char *image = res_str(c, "image", "");
	if (image[0])
		res_def_str(c, "imagePullPolicy", pull_policy(image));
	res_def_str(c, "terminationMessagePath", "/dev/termination-log");
	res_def_str(c, "terminationMessagePolicy", "File");
	res_obj(c, "resources");
	cJSON *p;
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(c, "ports"))
	{
		if (cJSON_IsObject(p))
			res_def_str(p, "protocol", "TCP");
	}
}

void res_pod_spec_defaults(cJSON *spec)
{
	if (!cJSON_IsObject(spec))
		return;
	res_def_str(spec, "restartPolicy", "Always");
	res_def_str(spec, "dnsPolicy", "ClusterFirst");
	res_def_num(spec, "terminationGracePeriodSeconds", 30);
	res_def_str(spec, "schedulerName", "default-scheduler");
	res_obj(spec, "securityContext");
	cJSON *c;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, "containers"))
		container_defaults(c);
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(spec, "initContainers"))
		container_defaults(c);
}

static void containers_validate(const cJSON *list, const char *path, const char *key,
				int required, res_errs *e)
{
	char f[160];
	snprintf(f, sizeof(f), "%s.%s", path, key);
	if (!list || cJSON_IsNull(list) || (cJSON_IsArray(list) && !cJSON_GetArraySize(list))) {
		if (required)
			res_err_required(e, f);
		return;
	}
	if (!cJSON_IsArray(list)) {
		res_err(e, "FieldValueInvalid", f, "Invalid value: must be a list");
		return;
	}
	int i = 0;
	const cJSON *c;
	cJSON_ArrayForEach(c, list)
	{
		char cf[200];
		const char *name = res_str(c, "name", "");
		snprintf(cf, sizeof(cf), "%s[%d].name", f, i);
		if (!name[0])
			res_err_required(e, cf);
		else
			res_validate_name(name, 1, cf, e);
		int j = 0;
		const cJSON *o;
		cJSON_ArrayForEach(o, list)
		{
			if (j++ >= i)
				break;
			if (name[0] && !strcmp(res_str(o, "name", ""), name)) {
				res_err(e, "FieldValueDuplicate", cf, "Duplicate value: \"%s\"", name);
				break;
			}
		}
		snprintf(cf, sizeof(cf), "%s[%d].image", f, i);
		if (!res_str(c, "image", "")[0])
			res_err_required(e, cf);
		i++;
	}
}

void res_pod_spec_validate(const cJSON *spec, const char *path, res_errs *e)
{
	containers_validate(cJSON_GetObjectItemCaseSensitive(spec, "containers"), path,
			    "containers", 1, e);
	containers_validate(cJSON_GetObjectItemCaseSensitive(spec, "initContainers"), path,
			    "initContainers", 0, e);
	char f[160];
	const char *rp = res_str(spec, "restartPolicy", "Always");
	if (strcmp(rp, "Always") && strcmp(rp, "OnFailure") && strcmp(rp, "Never")) {
		snprintf(f, sizeof(f), "%s.restartPolicy", path);
		res_err(e, "FieldValueNotSupported", f,
			"Unsupported value: \"%s\": supported values: \"Always\", \"OnFailure\", "
			"\"Never\"",
			rp);
	}
	const char *dp = res_str(spec, "dnsPolicy", "ClusterFirst");
	if (strcmp(dp, "ClusterFirst") && strcmp(dp, "ClusterFirstWithHostNet") &&
	    strcmp(dp, "Default") && strcmp(dp, "None")) {
		snprintf(f, sizeof(f), "%s.dnsPolicy", path);
		res_err(e, "FieldValueNotSupported", f,
			"Unsupported value: \"%s\": supported values: \"ClusterFirst\", "
			"\"ClusterFirstWithHostNet\", \"Default\", \"None\"",
			dp);
	}
}

void res_containers_cells(const cJSON *podspec, cJSON *cells)
{
	char names[512] = "", images[1024] = "";
	size_t no = 0, io = 0;
	const cJSON *c;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(podspec, "containers"))
	{
		if (no < sizeof(names))
			no += (size_t)snprintf(names + no, sizeof(names) - no, "%s%s", no ? "," : "",
					       res_str(c, "name", ""));
		if (io < sizeof(images))
			io += (size_t)snprintf(images + io, sizeof(images) - io, "%s%s",
					       io ? "," : "", res_str(c, "image", ""));
	}
	cJSON_AddItemToArray(cells, cJSON_CreateString(names));
	cJSON_AddItemToArray(cells, cJSON_CreateString(images));
}
