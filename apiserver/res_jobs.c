/* batch/v1 jobs and cronjobs: SetDefaults_Job/SetDefaults_CronJob
 * (pkg/apis/batch/v1/defaults.go), the job strategy's generated selector
 * (pkg/registry/batch/job/strategy.go generateSelector), ValidateJob/ValidateCronJob and
 * printJob/printCronJob. */
#include "resource.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_label(cJSON *labels, const char *k, const char *v)
{
	if (!cJSON_GetObjectItemCaseSensitive(labels, k))
		cJSON_AddStringToObject(labels, k, v);
}

/* Job spec defaults; uid/name non-NULL on create of a Job (generated selector). */
static void job_spec_defaults(cJSON *spec, const char *uid, const char *name)
{
	int has_par = cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(spec, "parallelism"));
	int has_comp = cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(spec, "completions"));
	if (!has_par && !has_comp) {
		res_def_num(spec, "completions", 1);
		res_def_num(spec, "parallelism", 1);
	} else {
		res_def_num(spec, "parallelism", 1);
	}
	res_def_num(spec, "backoffLimit",
		    cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(spec, "backoffLimitPerIndex"))
			    ? 2147483647
			    : 6);
	res_def_str(spec, "completionMode", "NonIndexed");
	if (!cJSON_GetObjectItemCaseSensitive(spec, "suspend"))
		cJSON_AddFalseToObject(spec, "suspend");
	res_def_str(spec, "podReplacementPolicy", "TerminatingOrFailed");
	cJSON *tmpl = res_obj(spec, "template");
	cJSON *tmd = res_obj(tmpl, "metadata");
	res_pod_spec_defaults(res_obj(tmpl, "spec"));
	if (!uid || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec, "manualSelector")))
		return;
	/* generateSelector: controller-uid selector and the four labels on the template. */
	cJSON *labels = res_obj(tmd, "labels");
	set_label(labels, "batch.kubernetes.io/controller-uid", uid);
	set_label(labels, "batch.kubernetes.io/job-name", name);
	set_label(labels, "controller-uid", uid);
	set_label(labels, "job-name", name);
	if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(spec, "selector"))) {
		cJSON *sel = res_obj(spec, "selector");
		cJSON_AddStringToObject(res_obj(sel, "matchLabels"),
					"batch.kubernetes.io/controller-uid", uid);
	}
}

static void job_defaults(cJSON *obj)
{
	const char *uid = res_str(obj, "metadata.uid", NULL);
	job_spec_defaults(res_obj(obj, "spec"), uid, res_str(obj, "metadata.name", ""));
	/* SetDefaults_Job: a Job without labels takes its template's. */
	cJSON *md = res_obj(obj, "metadata");
	cJSON *tl = res_path(obj, "spec.template.metadata.labels");
	if (!cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(md, "labels")) &&
	    cJSON_GetArraySize(tl)) {
		cJSON_DeleteItemFromObjectCaseSensitive(md, "labels");
		cJSON_AddItemToObject(md, "labels", cJSON_Duplicate(tl, 1));
	}
}

static void job_spec_validate(const cJSON *spec, const char *path, res_errs *e)
{
	char f[200];
	static const char *const nonneg[] = { "parallelism", "completions", "backoffLimit",
					      "activeDeadlineSeconds", "ttlSecondsAfterFinished",
					      NULL };
	for (int i = 0; nonneg[i]; i++) {
		cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, nonneg[i]);
		snprintf(f, sizeof(f), "%s.%s", path, nonneg[i]);
		if (v && !cJSON_IsNull(v) && (!cJSON_IsNumber(v) || v->valuedouble < 0))
			res_err(e, "FieldValueInvalid", f,
				"Invalid value: %lld: must be greater than or equal to 0",
				cJSON_IsNumber(v) ? (long long)v->valuedouble : 0LL);
	}
	const char *cm = res_str(spec, "completionMode", "NonIndexed");
	snprintf(f, sizeof(f), "%s.completionMode", path);
	if (strcmp(cm, "NonIndexed") && strcmp(cm, "Indexed"))
		res_err(e, "FieldValueNotSupported", f,
			"Unsupported value: \"%s\": supported values: \"NonIndexed\", \"Indexed\"", cm);
	else if (!strcmp(cm, "Indexed") &&
		 !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(spec, "completions"))) {
		snprintf(f, sizeof(f), "%s.completions", path);
		res_err(e, "FieldValueRequired", f,
			"Required value: when completion mode is Indexed");
	}
	snprintf(f, sizeof(f), "%s.template.spec", path);
	res_pod_spec_validate(res_path(spec, "template.spec"), f, e);
	const char *rp = res_str(spec, "template.spec.restartPolicy", "");
	if (strcmp(rp, "OnFailure") && strcmp(rp, "Never")) {
		snprintf(f, sizeof(f), "%s.template.spec.restartPolicy", path);
		if (!rp[0])
			res_err_required(e, f);
		else
			res_err(e, "FieldValueNotSupported", f,
				"Unsupported value: \"%s\": supported values: \"OnFailure\", \"Never\"",
				rp);
	}
}

static void job_validate(const cJSON *obj, const cJSON *old, res_errs *e)
{
	const cJSON *spec = res_path(obj, "spec");
	job_spec_validate(spec, "spec", e);
	if (!cJSON_IsObject(res_path(obj, "spec.selector")))
		res_err_required(e, "spec.selector");
	if (old) {
		/* ValidateJobSpecUpdate: selector, template (unless suspended) and
		 * completionMode are immutable. */
		static const char *const fixed[] = { "spec.selector", "spec.completionMode", NULL };
		for (int i = 0; fixed[i]; i++) {
			char *a = cJSON_PrintUnformatted(res_path(obj, fixed[i]));
			char *b = cJSON_PrintUnformatted(res_path(old, fixed[i]));
			if ((a || b) && (!a || !b || strcmp(a, b)))
				res_err(e, "FieldValueInvalid", fixed[i],
					"Invalid value: %s: field is immutable", a ? a : "null");
			cJSON_free(a);
			cJSON_free(b);
		}
		char *a = cJSON_PrintUnformatted(res_path(obj, "spec.template"));
		char *b = cJSON_PrintUnformatted(res_path(old, "spec.template"));
		if (a && b && strcmp(a, b) &&
		    !cJSON_IsTrue(res_path(old, "spec.suspend")))
			res_err(e, "FieldValueInvalid", "spec.template",
				"Invalid value: \"\": field is immutable");
		cJSON_free(a);
		cJSON_free(b);
	}
}

static int has_condition(const cJSON *obj, const char *type)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, res_path(obj, "status.conditions"))
	{
		if (!strcmp(res_str(c, "type", ""), type) &&
		    !strcmp(res_str(c, "status", ""), "True"))
			return 1;
	}
	return 0;
}

static void duration(int64_t secs, char *buf, size_t n)
{
	/* duration.HumanDuration, as the Age column. */
	cJSON *tmp = cJSON_CreateObject();
	char ts[32];
	res_fmt_time(0, ts, sizeof(ts));
	cJSON_AddStringToObject(res_obj(tmp, "metadata"), "creationTimestamp", ts);
	res_age(tmp, secs, buf, n);
	cJSON_Delete(tmp);
}

static const res_col job_cols[] = {
	{ "Name", "string", "name", 0 },   { "Status", "string", "", 0 },
	{ "Completions", "string", "", 0 }, { "Duration", "string", "", 0 },
	{ "Age", "string", "", 0 },        { "Containers", "string", "", 1 },
	{ "Images", "string", "", 1 },     { "Selector", "string", "", 1 },
};

static void job_row(const cJSON *obj, cJSON *cells, int64_t now)
{
	char buf[512];
	RES_CELL_NAME(cells, obj);
	/* printJob (1.32): the first true of these conditions names the status. */
	const char *status = "Running";
	if (has_condition(obj, "Complete"))
		status = "Complete";
	else if (has_condition(obj, "Failed"))
		status = "Failed";
	else if (has_condition(obj, "FailureTarget"))
		status = "FailureTarget";
	else if (has_condition(obj, "SuccessCriteriaMet"))
		status = "SuccessCriteriaMet";
	else if (cJSON_IsTrue(res_path(obj, "spec.suspend")) || has_condition(obj, "Suspended"))
		status = "Suspended";
	RES_CELL_S(cells, status);
	cJSON *comp = res_path(obj, "spec.completions");
	int succ = (int)res_num(obj, "status.succeeded", 0);
	if (cJSON_IsNumber(comp))
		snprintf(buf, sizeof(buf), "%d/%d", succ, comp->valueint);
	else if ((int)res_num(obj, "spec.parallelism", 0) > 1)
		snprintf(buf, sizeof(buf), "%d/1 of %d", succ, (int)res_num(obj, "spec.parallelism", 0));
	else
		snprintf(buf, sizeof(buf), "%d/1", succ);
	RES_CELL_S(cells, buf);
	int64_t start = res_parse_time(res_str(obj, "status.startTime", ""));
	int64_t end = res_parse_time(res_str(obj, "status.completionTime", ""));
	if (start < 0)
		buf[0] = 0;
	else
		duration((end >= 0 ? end : now) - start, buf, sizeof(buf));
	RES_CELL_S(cells, buf);
	res_cell_age(obj, cells, now);
	res_containers_cells(res_path(obj, "spec.template.spec"), cells);
	res_selector_str(res_path(obj, "spec.selector"), buf, sizeof(buf));
	RES_CELL_S(cells, buf);
}

const res_desc res_jobs = {
	.group = "batch", .version = "v1", .kind = "Job", .list_kind = "JobList",
	.plural = "jobs", .singular = "job", .categories = { "all" }, .namespaced = 1,
	.has_status = 1, .gen_on_spec = 1, .defaults = job_defaults, .validate = job_validate,
	.cols = job_cols, .ncols = 8, .row = job_row,
};

/* ---- cronjobs ---- */

static void cj_defaults(cJSON *obj)
{
	cJSON *spec = res_obj(obj, "spec");
	res_def_str(spec, "concurrencyPolicy", "Allow");
	if (!cJSON_GetObjectItemCaseSensitive(spec, "suspend"))
		cJSON_AddFalseToObject(spec, "suspend");
	res_def_num(spec, "successfulJobsHistoryLimit", 3);
	res_def_num(spec, "failedJobsHistoryLimit", 1);
	cJSON *jt = res_obj(spec, "jobTemplate");
	res_obj(jt, "metadata");
	job_spec_defaults(res_obj(jt, "spec"), NULL, NULL);
}

/* A standard 5-field cron line or one of the @ macros (robfig/cron's ParseStandard). */
static int cron_valid(const char *s)
{
	static const char *const macros[] = { "@yearly", "@annually", "@monthly", "@weekly",
					      "@daily", "@midnight", "@hourly", NULL };
	if (!strncmp(s, "TZ=", 3) || !strncmp(s, "CRON_TZ=", 8))
		return 0; /* upstream: "cannot use TZ or CRON_TZ in schedule, use timeZone" */
	if (s[0] == '@') {
		for (int i = 0; macros[i]; i++)
			if (!strcmp(s, macros[i]))
				return 1;
		return !strncmp(s, "@every ", 7);
	}
	int fields = 0, in = 0;
	for (const char *p = s; *p; p++) {
		if (*p == ' ' || *p == '\t') {
			in = 0;
			continue;
		}
		if (!strchr("0123456789*/,-?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
			    *p))
			return 0;
		if (!in)
			fields++;
		in = 1;
	}
	return fields == 5;
}

static void cj_validate(const cJSON *obj, const cJSON *old, res_errs *e)
{
	(void)old;
	const char *sched = res_str(obj, "spec.schedule", "");
	if (!sched[0])
		res_err_required(e, "spec.schedule");
	else if (!cron_valid(sched))
		res_err(e, "FieldValueInvalid", "spec.schedule",
			"Invalid value: \"%s\": unparseable schedule", sched);
	const char *cp = res_str(obj, "spec.concurrencyPolicy", "Allow");
	if (strcmp(cp, "Allow") && strcmp(cp, "Forbid") && strcmp(cp, "Replace"))
		res_err(e, "FieldValueNotSupported", "spec.concurrencyPolicy",
			"Unsupported value: \"%s\": supported values: \"Allow\", \"Forbid\", "
			"\"Replace\"", cp);
	/* A CronJob's name becomes the prefix of its Jobs' names (+11 chars). */
	if (strlen(res_str(obj, "metadata.name", "")) > 52)
		res_err(e, "FieldValueInvalid", "metadata.name",
			"Invalid value: \"%s\": must be no more than 52 characters",
			res_str(obj, "metadata.name", ""));
	job_spec_validate(res_path(obj, "spec.jobTemplate.spec"), "spec.jobTemplate.spec", e);
}

static const res_col cj_cols[] = {
	{ "Name", "string", "name", 0 },          { "Schedule", "string", "", 0 },
	{ "Timezone", "string", "", 0 },          { "Suspend", "boolean", "", 0 },
	{ "Active", "integer", "", 0 },           { "Last Schedule", "string", "", 0 },
	{ "Age", "string", "", 0 },               { "Containers", "string", "", 1 },
	{ "Images", "string", "", 1 },            { "Selector", "string", "", 1 },
};

static void cj_row(const cJSON *obj, cJSON *cells, int64_t now)
{
	char buf[512];
	RES_CELL_NAME(cells, obj);
	RES_CELL_S(cells, res_str(obj, "spec.schedule", ""));
	RES_CELL_S(cells, res_none(res_str(obj, "spec.timeZone", NULL)));
	cJSON_AddItemToArray(cells, cJSON_CreateBool(cJSON_IsTrue(res_path(obj, "spec.suspend"))));
	RES_CELL_I(cells, cJSON_GetArraySize(res_path(obj, "status.active")));
	const char *last = res_str(obj, "status.lastScheduleTime", NULL);
	if (last) {
		cJSON *tmp = cJSON_CreateObject();
		cJSON_AddStringToObject(res_obj(tmp, "metadata"), "creationTimestamp", last);
		res_age(tmp, now, buf, sizeof(buf));
		cJSON_Delete(tmp);
		RES_CELL_S(cells, buf);
	} else {
		RES_CELL_S(cells, "<none>");
	}
	res_cell_age(obj, cells, now);
	res_containers_cells(res_path(obj, "spec.jobTemplate.spec.template.spec"), cells);
	res_selector_str(res_path(obj, "spec.jobTemplate.spec.selector"), buf, sizeof(buf));
	RES_CELL_S(cells, buf);
}

const res_desc res_cronjobs = {
	.group = "batch", .version = "v1", .kind = "CronJob", .list_kind = "CronJobList",
	.plural = "cronjobs", .singular = "cronjob", .short_names = { "cj" },
	.categories = { "all" }, .namespaced = 1, .has_status = 1, .gen_on_spec = 1,
	.defaults = cj_defaults, .validate = cj_validate, .cols = cj_cols, .ncols = 10,
	.row = cj_row,
};
