/* Lifecycle hooks; see lifecycle.h. */
#include "lifecycle.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "prober.h"

#define MIN_GRACE_S 2

int hook_present(const cJSON *container, const char *which)
{
	return cJSON_IsObject(kc_json_get(kc_json_get(container, "lifecycle"), which));
}

int64_t hook_remaining_grace(int64_t grace_s, int64_t hook_s)
{
	int64_t g = grace_s - hook_s;
	return g < MIN_GRACE_S ? MIN_GRACE_S : g;
}

int hook_run(const cJSON *container, const char *which, cri_client *cri, const char *pod_ip,
	     const char *container_id, const char *pod_desc, int64_t timeout_s, char *msg, size_t msglen)
{
	const cJSON *h = kc_json_get(kc_json_get(container, "lifecycle"), which);
	const char *cname = kc_json_get_string(container, "name", "");
	msg[0] = 0;
	if (!cJSON_IsObject(h))
		return 0;
	if (timeout_s < 1)
		timeout_s = 1;
	const cJSON *sl = kc_json_get(h, "sleep");
	if (sl) {
		/* LifecycleSleepAction: the worker waits, bounded by the timeout */
		int64_t s = kc_json_get_int64(sl, "seconds", 0);
		if (s > timeout_s)
			s = timeout_s;
		struct timespec ts = { (time_t)(s > 0 ? s : 0), 0 };
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		return 0;
	}
	if (!kc_json_get(h, "exec") && !kc_json_get(h, "httpGet")) {
		snprintf(msg, msglen, "invalid %s handler for Container \"%s\" in Pod \"%s\": neither exec, httpGet nor sleep",
			 which, cname, pod_desc);
		return -EINVAL;
	}
	/* the handler has a probe handler's shape: parse it as one, against the container
	 * (named ports resolve to its containerPorts) */
	cJSON *c = kc_json_dup(container);
	if (!c)
		return -ENOMEM;
	cJSON_AddItemToObject(c, "__hook", kc_json_dup(h));
	probe_spec p;
	char perr[256] = "";
	int rc = probe_parse(c, "__hook", &p, perr, sizeof(perr));
	cJSON_Delete(c);
	if (rc < 0) {
		snprintf(msg, msglen, "invalid %s handler for Container \"%s\" in Pod \"%s\": %s", which, cname, pod_desc,
			 perr);
		return rc;
	}
	p.timeout_s = (int32_t)(timeout_s > 86400 ? 86400 : timeout_s);
	char why[512] = "";
	int ok = probe_run(&p, cri, pod_ip, container_id, why, sizeof(why));
	if (!ok) {
		if (p.kind == PROBE_EXEC) {
			char cmd[512] = "";
			for (int i = 0; i < p.ncmd; i++) {
				size_t l = strlen(cmd);
				snprintf(cmd + l, sizeof(cmd) - l, "%s%s", i ? " " : "", p.cmd[i]);
			}
			snprintf(msg, msglen, "Exec lifecycle hook ([%s]) for Container \"%s\" in Pod \"%s\" failed - error: %s",
				 cmd, cname, pod_desc, why);
		} else {
			snprintf(msg, msglen, "HTTP lifecycle hook (%s) for Container \"%s\" in Pod \"%s\" failed - error: %s",
				 p.path, cname, pod_desc, why);
		}
	}
	probe_spec_close(&p);
	return ok ? 0 : -1;
}
