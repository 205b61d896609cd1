/* --controllers (see options.h). */
#include "options.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Controllers kubec implements. */
static const char *const implemented[] = { "deployment", "replicaset", "endpointslice",
					   "garbagecollector", "namespace", "serviceaccount",
					   "nodelifecycle", "podgc", "endpoint", "nodeipam",
					   "disruption", "ttl-after-finished",
					   "root-ca-cert-publisher", NULL };

/* Upstream 1.32's other controllers (their short aliases), accepted so that a
 * kube-controller-manager command line keeps working; they are not run yet. */
static const char *const upstream_only[] = {
	"endpointslicemirroring", "replicationcontroller",
	"resourcequota", "serviceaccount-token", "daemonset", "job", "horizontalpodautoscaling",
	"statefulset", "cronjob", "csrsigning", "csrapproving", "csrcleaner", "ttl",
	"bootstrapsigner", "tokencleaner", "service",
	"route", "cloud-node-lifecycle", "persistentvolume-binder", "attachdetach",
	"persistentvolume-expander", "clusterrole-aggregation", "pvc-protection",
	"pv-protection", "ephemeral-volume",
	"storage-version-gc", "resourceclaim", "legacy-service-account-token-cleaner",
	"validatingadmissionpolicy-status", "service-cidr", "taint-eviction-controller",
	"selinux-warning-controller", NULL
};

/* 1.32 names (cmd/kube-controller-manager/names) whose alias is not simply the name
 * without "-controller". */
static const char *const aliases[][2] = {
	{ "garbage-collector", "garbagecollector" },
	{ "node-lifecycle", "nodelifecycle" },
	{ "pod-garbage-collector", "podgc" },
	{ "node-ipam", "nodeipam" },
	{ "endpoints", "endpoint" },
	{ "endpointslice-mirroring", "endpointslicemirroring" },
	{ "horizontal-pod-autoscaler", "horizontalpodautoscaling" },
	{ "persistentvolume-attach-detach", "attachdetach" },
	{ "persistentvolumeclaim-protection", "pvc-protection" },
	{ "persistentvolume-protection", "pv-protection" },
	{ "root-ca-certificate-publisher", "root-ca-cert-publisher" },
	{ "certificatesigningrequest-signing", "csrsigning" },
	{ "certificatesigningrequest-approving", "csrapproving" },
	{ "certificatesigningrequest-cleaner", "csrcleaner" },
	{ "bootstrap-signer", "bootstrapsigner" },
	{ "token-cleaner", "tokencleaner" },
	{ "service-lb", "service" },
	{ "node-route", "route" },
};

/* "deployment-controller" -> "deployment" (1.32 names end in -controller) */
static void short_name(const char *s, char *out, size_t n)
{
	snprintf(out, n, "%s", s);
	size_t l = strlen(out);
	const char *suf = "-controller";
	size_t sl = strlen(suf);
	if (l > sl && !strcmp(out + l - sl, suf) && strcmp(out, "taint-eviction-controller") &&
	    strcmp(out, "selinux-warning-controller")) {
		out[l - sl] = 0;
		for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
			if (!strcmp(out, aliases[i][0])) {
				snprintf(out, n, "%s", aliases[i][1]);
				break;
			}
	}
}

static bool in(const char *const *tab, const char *name)
{
	for (int i = 0; tab[i]; i++)
		if (!strcmp(tab[i], name))
			return true;
	return false;
}

bool cm_controller_unimplemented(const char *name)
{
	char s[128];
	short_name(name, s, sizeof(s));
	return in(upstream_only, s);
}

bool cm_controller_enabled(const kc_strlist *list, const char *name, bool disabled_by_default)
{
	bool star = false;
	for (size_t i = 0; i < list->n; i++) {
		const char *e = list->items[i];
		bool neg = e[0] == '-';
		char s[128];
		short_name(neg ? e + 1 : e, s, sizeof(s));
		if (!strcmp(s, name))
			return !neg;
		if (!strcmp(e, "*"))
			star = true;
	}
	return star && !disabled_by_default;
}

int cm_validate_controllers(const kc_strlist *list, char *err, size_t errlen)
{
	for (size_t i = 0; i < list->n; i++) {
		const char *e = list->items[i];
		if (!strcmp(e, "*"))
			continue;
		char s[128];
		short_name(e[0] == '-' ? e + 1 : e, s, sizeof(s));
		if (!in(implemented, s) && !in(upstream_only, s)) {
			snprintf(err, errlen, "\"%s\" is not in the list of known controllers",
				 e[0] == '-' ? e + 1 : e);
			return -EINVAL;
		}
	}
	return 0;
}
