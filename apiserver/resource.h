/* Resource descriptors: one table entry per served resource.
 *
 * Mirrors upstream's per-resource "strategy" (k8s.io/kubernetes/pkg/registry/<group>/<r>/strategy.go)
 * plus its printer (pkg/printers/internalversion/printers.go): defaulting, validation, Table
 * columns and field-selector fields live next to each other in one res_<plural>.c file, and the
 * generic registry (registry.c) does storage, watch and patch for all of them. */
#ifndef APISERVER_RESOURCE_H
#define APISERVER_RESOURCE_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

/* A field error as upstream's field.Error: reason (FieldValueRequired, FieldValueInvalid,
 * FieldValueNotSupported, FieldValueDuplicate, FieldValueForbidden), field path, message. */
typedef struct res_cause {
	char reason[40];
	char field[160];
	char message[400];
} res_cause;

typedef struct res_errs {
	int n;
	res_cause c[16];
} res_errs;

/* Appends a cause (silently dropped past 16, as the Status would be unreadable anyway). */
void res_err(res_errs *e, const char *reason, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
#define res_err_required(e, f) res_err((e), "FieldValueRequired", (f), "Required value")

typedef struct res_col {
	const char *name;
	const char *type;   /* "string", "integer", "date" */
	const char *format; /* "name" for the first column, else "" */
	int priority;       /* 1: only with -o wide */
} res_col;

typedef struct res_desc res_desc;
struct res_desc {
	const char *group; /* "" for core */
	const char *version;
	const char *kind;
	const char *list_kind;
	const char *plural;
	const char *singular;
	const char *short_names[4];
	const char *categories[2];
	int namespaced;
	int has_status;  /* status subresource: main endpoint ignores status, /status ignores spec */
	int scale;       /* /scale subresource (spec.replicas, status.replicas, spec.selector) */
	int gen_on_spec; /* metadata.generation bumped when spec changes */
	int binding;     /* pods/binding */

	/* Fill upstream defaults in place (obj is a full object). May be NULL. */
	void (*defaults)(cJSON *obj);
	/* Validate a defaulted object; old is NULL on create. Adds causes to e. May be NULL. */
	void (*validate)(const cJSON *obj, const cJSON *old, res_errs *e);
	/* Table columns as upstream's printers.go (all of them, Name included); row() appends
	 * exactly ncols cells. NULL cols: the default "Name, Created At" table. */
	const res_col *cols;
	int ncols;
	void (*row)(const cJSON *obj, cJSON *cells, int64_t now_sec);
	/* Field selector: value of a supported field path into buf; returns NULL when the field
	 * is not supported (-> 400 as upstream "field label not supported"). metadata.name and
	 * metadata.namespace are handled generically. May be NULL. */
	const char *(*field)(const cJSON *obj, const char *path, char *buf, size_t n);

	/* Another version served from the same storage (upstream's storage version): reads,
	 * writes, selectors and watches go through *storage; from_storage converts a stored
	 * object (in place) to this version, to_storage converts a request body to the storage
	 * version. NULL storage: the descriptor is its own storage version. */
	const res_desc *storage;
	void (*to_storage)(cJSON *obj);
	void (*from_storage)(cJSON *obj);
	/* Field-selector label of this version -> the storage version's (upstream's
	 * AddFieldLabelConversionFunc); NULL: labels are the same. */
	const char *(*field_label)(const char *label);
};

/* Rewrites a field selector ("a=b,c!=d") of d's version into the storage version's labels
 * (a copy when d has no field_label). in may be NULL (-> ""). 0, or -1 if it did not fit. */
int res_field_selector_to_storage(const res_desc *d, const char *in, char *out, size_t n);

/* Converts a stored object (or every item of a list) to d's version and sets its
 * apiVersion/kind; a no-op for descriptors without storage. obj borrowed. */
void res_view(const res_desc *d, cJSON *obj);

/* The table of all resources, NULL-terminated. */
extern const res_desc *const res_all[];

/* Lookup by group, version and plural; NULL if unknown. */
const res_desc *res_find(const char *group, const char *version, const char *plural);
/* "v1" for core, else "group/version"; buf borrowed from the caller. */
const char *res_api_version(const res_desc *d, char *buf, size_t n);
/* Resource name as in messages: "pods", "deployments.apps". */
const char *res_qualified(const res_desc *d, char *buf, size_t n);

/* --- small JSON helpers used by the descriptor files (all arguments borrowed) --- */
/* Object at a dotted path ("spec.template.spec"), NULL if any step is missing. */
cJSON *res_path(const cJSON *obj, const char *dotted);
/* String at path or def. */
const char *res_str(const cJSON *obj, const char *dotted, const char *def);
/* Number at path or def. */
double res_num(const cJSON *obj, const char *dotted, double def);
/* Ensures an object exists at key in parent; returns it. */
cJSON *res_obj(cJSON *parent, const char *key);
/* Sets key to a string/number if absent. */
void res_def_str(cJSON *parent, const char *key, const char *val);
void res_def_num(cJSON *parent, const char *key, double val);
/* duration.HumanDuration of a number of seconds ("5s", "3m", "2d"; "<invalid>" below -1). */
void res_human_duration(int64_t seconds, char *buf, size_t n);
/* Age cell as upstream's duration.HumanDuration ("5s", "3m", "2d"). */
void res_age(const cJSON *obj, int64_t now_sec, char *buf, size_t n);
/* "<none>" when s is NULL/empty, else s. */
const char *res_none(const char *s);
/* Comma-joined "k=v" of a string map, "<none>" if empty. */
void res_labels_str(const cJSON *map, char *buf, size_t n);
/* Validates a DNS-1123 subdomain/label name; message text as upstream's apimachinery. */
void res_validate_name(const char *name, int label, const char *field, res_errs *e);
/* Container list validation/defaulting shared by pods and pod templates. */
void res_pod_spec_defaults(cJSON *spec);
/* DefaultTolerationSeconds admission (--default-not-ready-toleration-seconds,
 * --default-unreachable-toleration-seconds; 300 by default as upstream). Set once at start. */
extern int res_pod_not_ready_toleration_s;
extern int res_pod_unreachable_toleration_s;
void res_pod_spec_validate(const cJSON *spec, const char *path, res_errs *e);
/* "Containers"/"Images" cells of a pod template spec. */
void res_containers_cells(const cJSON *podspec, cJSON *cells);
/* label selector object (matchLabels/matchExpressions) as a string, as metav1.FormatLabelSelector */
void res_selector_str(const cJSON *sel, char *buf, size_t n);

#endif

/* Descriptors (one file each: res_<plural>.c). */
extern const res_desc res_namespaces, res_pods, res_services, res_endpoints, res_nodes,
	res_configmaps, res_secrets, res_serviceaccounts, res_events, res_deployments,
	res_replicasets, res_leases, res_endpointslices, res_statefulsets, res_daemonsets,
	res_controllerrevisions, res_jobs, res_cronjobs, res_persistentvolumes,
	res_persistentvolumeclaims, res_resourcequotas, res_limitranges, res_poddisruptionbudgets,
	res_hpa_v1, res_hpa_v2, res_ingresses, res_networkpolicies, res_priorityclasses,
	res_storageclasses, res_events_v1;

/* RFC 3339 (with Z or an offset, fractional seconds allowed) -> unix seconds; -1 if bad. */
int64_t res_parse_time(const char *s);
/* unix seconds -> "2026-11-22T07:20:11Z" into buf (>= 21 bytes). */
void res_fmt_time(int64_t t, char *buf, size_t n);

#define RES_CELL_S(cells, s) cJSON_AddItemToArray((cells), cJSON_CreateString(s))
#define RES_CELL_I(cells, i) cJSON_AddItemToArray((cells), cJSON_CreateNumber((double)(i)))
/* Name and Age cells, the two every printer has. */
#define RES_CELL_NAME(cells, obj) RES_CELL_S((cells), res_str((obj), "metadata.name", ""))
void res_cell_age(const cJSON *obj, cJSON *cells, int64_t now_sec);
