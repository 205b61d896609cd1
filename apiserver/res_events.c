/* core/v1 events: pkg/registry/core/event/strategy.go (field selectors describe uses) and
 * printEvent. */
#include "resource.h"

#include <stdio.h>
#include <string.h>

static const res_col ev_cols[] = {
	{ "Last Seen", "string", "", 0 }, { "Type", "string", "", 0 },
	{ "Reason", "string", "", 0 },    { "Object", "string", "", 0 },
	{ "Subobject", "string", "", 1 }, { "Source", "string", "", 1 },
	{ "Message", "string", "", 0 },   { "First Seen", "string", "", 1 },
	{ "Count", "integer", "", 1 },    { "Name", "string", "name", 1 },
};

static void ev_age(const char *ts, int64_t now, char *buf, size_t n)
{
	cJSON *tmp = cJSON_CreateObject();
	cJSON_AddStringToObject(res_obj(tmp, "metadata"), "creationTimestamp", ts ? ts : "");
	res_age(tmp, now, buf, n);
	cJSON_Delete(tmp);
}

static void ev_row(const cJSON *obj, cJSON *cells, int64_t now)
{
	char last[32], first[32], object[300], src[200];
	const char *lt = res_str(obj, "lastTimestamp", NULL);
	if (!lt)
		lt = res_str(obj, "eventTime", NULL);
	if (!lt)
		lt = res_str(obj, "metadata.creationTimestamp", "");
	ev_age(lt, now, last, sizeof(last));
	const char *ft = res_str(obj, "firstTimestamp", NULL);
	ev_age(ft ? ft : lt, now, first, sizeof(first));
	char kind[64];
	snprintf(kind, sizeof(kind), "%s", res_str(obj, "involvedObject.kind", ""));
	for (char *p = kind; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	snprintf(object, sizeof(object), "%s/%s", kind, res_str(obj, "involvedObject.name", ""));
	const char *comp = res_str(obj, "source.component", "");
	const char *host = res_str(obj, "source.host", "");
	if (host[0])
		snprintf(src, sizeof(src), "%s, %s", comp, host);
	else
		snprintf(src, sizeof(src), "%s", comp);
	RES_CELL_S(cells, last);
	RES_CELL_S(cells, res_str(obj, "type", ""));
	RES_CELL_S(cells, res_str(obj, "reason", ""));
	RES_CELL_S(cells, object);
	RES_CELL_S(cells, res_str(obj, "involvedObject.fieldPath", ""));
	RES_CELL_S(cells, src);
	RES_CELL_S(cells, res_str(obj, "message", ""));
	RES_CELL_S(cells, first);
	RES_CELL_I(cells, res_num(obj, "count", 1));
	RES_CELL_NAME(cells, obj);
}

/* event.ToSelectableFields */
static const char *ev_field(const cJSON *obj, const char *path, char *buf, size_t n)
{
	static const char *const f[] = {
		"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
		"involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
		"involvedObject.fieldPath", "reason", "reportingComponent", "type", NULL
	};
	for (int i = 0; f[i]; i++)
		if (!strcmp(path, f[i]))
			return res_str(obj, path, "");
	if (!strcmp(path, "source")) {
		snprintf(buf, n, "%s", res_str(obj, "source.component", ""));
		return buf;
	}
	return NULL;
}

static void ev_validate(const cJSON *obj, const cJSON *old, res_errs *e)
{
	(void)old;
	if (!res_str(obj, "involvedObject.name", NULL) && !res_path(obj, "involvedObject"))
		res_err_required(e, "involvedObject");
}

const res_desc res_events = {
	.group = "", .version = "v1", .kind = "Event", .list_kind = "EventList",
	.plural = "events", .singular = "event", .short_names = { "ev" }, .namespaced = 1,
	.validate = ev_validate, .cols = ev_cols, .ncols = 10, .row = ev_row, .field = ev_field,
};
