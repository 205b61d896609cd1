/* events.k8s.io/v1 events: the same storage as core/v1 events (as upstream, where both are
 * served from /registry/events in the core form), converted field by field as
 * pkg/apis/events/v1/conversion.go: regarding <-> involvedObject, note <-> message,
 * reportingController <-> reportingComponent, deprecatedSource/FirstTimestamp/
 * LastTimestamp/Count <-> source/firstTimestamp/lastTimestamp/count. */
#include "resource.h"

#include <string.h>

static const char *const ev_map[][2] = {
	/* events.k8s.io name, core name */
	{ "regarding", "involvedObject" },
	{ "note", "message" },
	{ "reportingController", "reportingComponent" },
	{ "deprecatedSource", "source" },
	{ "deprecatedFirstTimestamp", "firstTimestamp" },
	{ "deprecatedLastTimestamp", "lastTimestamp" },
	{ "deprecatedCount", "count" },
};

static void rename_fields(cJSON *obj, int from, int to)
{
	for (size_t i = 0; i < sizeof(ev_map) / sizeof(ev_map[0]); i++) {
		cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(obj, ev_map[i][from]);
		if (!v)
			continue;
		cJSON_DeleteItemFromObjectCaseSensitive(obj, ev_map[i][to]);
		cJSON_AddItemToObject(obj, ev_map[i][to], v);
	}
}

static void ev1_to_core(cJSON *obj)
{
	rename_fields(obj, 0, 1);
}

static void ev1_from_core(cJSON *obj)
{
	rename_fields(obj, 1, 0);
}

/* pkg/apis/events/v1 AddFieldLabelConversionFuncs: regarding.* and the renamed fields. */
static const char *ev1_field_label(const char *label)
{
	static const char *const map[][2] = {
		{ "regarding.kind", "involvedObject.kind" },
		{ "regarding.namespace", "involvedObject.namespace" },
		{ "regarding.name", "involvedObject.name" },
		{ "regarding.uid", "involvedObject.uid" },
		{ "regarding.apiVersion", "involvedObject.apiVersion" },
		{ "regarding.resourceVersion", "involvedObject.resourceVersion" },
		{ "regarding.fieldPath", "involvedObject.fieldPath" },
		{ "reportingController", "reportingComponent" },
		{ "deprecatedSource", "source" },
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(label, map[i][0]))
			return map[i][1];
	return label;
}

static void ev1_validate(const cJSON *obj, const cJSON *old, res_errs *e)
{
	(void)old;
	/* ValidateEventCreate for events.k8s.io/v1: eventTime, reportingController,
	 * reportingInstance and action are required. (Checked on the core form.) */
	if (!res_str(obj, "eventTime", NULL))
		res_err_required(e, "eventTime");
	if (!res_str(obj, "reportingComponent", "")[0])
		res_err_required(e, "reportingController");
	if (!res_str(obj, "reportingInstance", "")[0])
		res_err_required(e, "reportingInstance");
	if (!res_str(obj, "action", "")[0])
		res_err_required(e, "action");
	const char *t = res_str(obj, "type", "");
	if (strcmp(t, "Normal") && strcmp(t, "Warning"))
		res_err(e, "FieldValueNotSupported", "type",
			"Unsupported value: \"%s\": supported values: \"Normal\", \"Warning\"", t);
}

/* printEvent's columns (the internal type is shared by both versions). */
static const res_col ev1_cols[] = {
	{ "Last Seen", "string", "", 0 }, { "Type", "string", "", 0 },
	{ "Reason", "string", "", 0 },    { "Object", "string", "", 0 },
	{ "Subobject", "string", "", 1 }, { "Source", "string", "", 1 },
	{ "Message", "string", "", 0 },   { "First Seen", "string", "", 1 },
	{ "Count", "integer", "", 1 },    { "Name", "string", "name", 1 },
};

/* The core printer over the core form. */
static void ev1_row(const cJSON *obj, cJSON *cells, int64_t now)
{
	cJSON *core = cJSON_Duplicate(obj, 1);
	ev1_to_core(core);
	res_events.row(core, cells, now);
	cJSON_Delete(core);
}

const res_desc res_events_v1 = {
	.group = "events.k8s.io", .version = "v1", .kind = "Event", .list_kind = "EventList",
	.plural = "events", .singular = "event", .short_names = { "ev" }, .namespaced = 1,
	.validate = ev1_validate, .cols = ev1_cols, .ncols = 10, .row = ev1_row,
	.storage = &res_events, .to_storage = ev1_to_core, .from_storage = ev1_from_core,
	.field_label = ev1_field_label,
};
