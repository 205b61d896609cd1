/* kube-storectl: etcdctl (v3 API, 3.4) command line over kc_etcd.
 *
 * Same syntax and output as etcdctl 3.4 for the everyday commands, so scripts written for
 * etcdctl work unchanged against kube-store or a real etcd. Flags may appear anywhere
 * (cobra's interspersed parsing); "--" ends flags. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "storectl.h"

static const char *const bool_flags[] = {
	"prefix", "keys-only", "print-value-only", "from-key", "prev-kv", "ignore-value",
	"ignore-lease", "physical", "keys", "once", "hex", "debug", "insecure-skip-tls-verify",
	"insecure-transport", "insecure-discovery", "interactive", "i", "progress-notify",
	"h", "help", "cluster", "skip-hash-check", "learner", NULL,
};

static bool is_bool_flag(const char *name)
{
	for (size_t i = 0; bool_flags[i]; i++)
		if (strcmp(bool_flags[i], name) == 0)
			return true;
	return false;
}

void ctl_args_free(struct ctl_args *a)
{
	for (size_t i = 0; i < a->n_pos; i++)
		free(a->pos[i]);
	for (size_t i = 0; i < a->n_flags; i++) {
		free(a->names[i]);
		free(a->values[i]);
	}
	free(a->pos);
	free(a->names);
	free(a->values);
	memset(a, 0, sizeof(*a));
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);
	if (!q)
		ctl_die(CTL_EXIT_ERROR, "out of memory");
	return q;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		ctl_die(CTL_EXIT_ERROR, "out of memory");
	return d;
}

int ctl_parse_argv(int argc, char **argv, struct ctl_args *a)
{
	memset(a, 0, sizeof(*a));
	bool flags_done = false;
	for (int i = 0; i < argc; i++) {
		const char *s = argv[i];
		if (!flags_done && strcmp(s, "--") == 0) {
			flags_done = true;
			continue;
		}
		if (flags_done || s[0] != '-' || s[1] == 0) {
			a->pos = xrealloc(a->pos, (a->n_pos + 1) * sizeof(char *));
			a->pos[a->n_pos++] = xstrdup(s);
			continue;
		}
		const char *name = s + (s[1] == '-' ? 2 : 1);
		const char *eq = strchr(name, '=');
		char *n = eq ? strndup(name, (size_t)(eq - name)) : xstrdup(name);
		char *v = NULL;
		if (!n)
			ctl_die(CTL_EXIT_ERROR, "out of memory");
		if (strcmp(n, "w") == 0) { /* -w is --write-out */
			free(n);
			n = xstrdup("write-out");
		}
		if (eq) {
			v = xstrdup(eq + 1);
		} else if (!is_bool_flag(n)) {
			if (i + 1 >= argc) {
				fprintf(stderr, "Error: flag needs an argument: %s\n", s);
				free(n);
				ctl_args_free(a);
				return -EINVAL;
			}
			v = xstrdup(argv[++i]);
		}
		a->names = xrealloc(a->names, (a->n_flags + 1) * sizeof(char *));
		a->values = xrealloc(a->values, (a->n_flags + 1) * sizeof(char *));
		a->names[a->n_flags] = n;
		a->values[a->n_flags] = v;
		a->n_flags++;
	}
	return 0;
}

const char *ctl_flag(const struct ctl *c, const char *name)
{
	const struct ctl_args *a = c->args;
	const char *v = NULL;
	for (size_t i = 0; i < a->n_flags; i++) /* last one wins, as pflag */
		if (strcmp(a->names[i], name) == 0)
			v = a->values[i] ? a->values[i] : "true";
	return v;
}

bool ctl_flag_bool(const struct ctl *c, const char *name)
{
	const char *v = ctl_flag(c, name);
	return v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "t") == 0 ||
	             strcmp(v, "TRUE") == 0 || strcmp(v, "True") == 0);
}

int64_t ctl_flag_int(const struct ctl *c, const char *name, int64_t def)
{
	const char *v = ctl_flag(c, name);
	if (!v)
		return def;
	char *end;
	errno = 0;
	long long x = strtoll(v, &end, 10);
	if (errno || end == v || *end)
		ctl_die(CTL_EXIT_BADARGS, "invalid argument \"%s\" for \"--%s\" flag: strconv.ParseInt: parsing \"%s\": invalid syntax",
		        v, name, v);
	return x;
}

void ctl_die(int code, const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	fputs("Error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

void ctl_die_err(int rc, const struct kc_etcd_error *err)
{
	if (err && err->message[0])
		ctl_die(CTL_EXIT_ERROR, "%s", err->message);
	ctl_die(CTL_EXIT_ERROR, "%s", kc_strerror(rc));
}

int ctl_parse_lease(const char *s, int64_t *out)
{
	/* etcdctl: strconv.ParseInt(s, 16, 64). */
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 16);
	if (errno || end == s || *end || strncasecmp(s, "0x", 2) == 0)
		return -EINVAL;
	*out = x;
	return 0;
}

/* Go duration ("5s", "500ms", "1m30s", "2") to milliseconds; -1 when malformed. */
static long parse_duration_ms(const char *s)
{
	double total = 0;
	const char *p = s;
	if (!*p)
		return -1;
	while (*p) {
		char *end;
		double v = strtod(p, &end);
		if (end == p)
			return -1;
		p = end;
		double mul;
		if (strncmp(p, "ms", 2) == 0) {
			mul = 1;
			p += 2;
		} else if (strncmp(p, "us", 2) == 0 || strncmp(p, "µs", 3) == 0) {
			mul = 0.001;
			p += p[0] == 'u' ? 2 : 3;
		} else if (strncmp(p, "ns", 2) == 0) {
			mul = 0.000001;
			p += 2;
		} else if (*p == 's') {
			mul = 1000;
			p++;
		} else if (*p == 'm') {
			mul = 60000;
			p++;
		} else if (*p == 'h') {
			mul = 3600000;
			p++;
		} else if (*p == 0 && v == 0) {
			mul = 0;
		} else {
			return -1;
		}
		total += v * mul;
	}
	return (long)total;
}

static void split_endpoints(const char *list, char ***out, size_t *n)
{
	char *copy = xstrdup(list), *save = NULL;
	*out = NULL;
	*n = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		if (!*tok)
			continue;
		*out = xrealloc(*out, (*n + 1) * sizeof(char *));
		(*out)[(*n)++] = xstrdup(tok);
	}
	free(copy);
}

static void usage(void)
{
	fputs("NAME:\n\tkube-storectl - etcdctl-compatible client for kube-store and etcd\n\n"
	      "USAGE:\n\tkube-storectl [flags] <command> [args]\n\n"
	      "COMMANDS:\n"
	      "\tget, put, del, watch, txn, compaction, defrag\n"
	      "\tlease grant|revoke|keep-alive|timetolive|list\n"
	      "\talarm list|disarm, snapshot save|restore\n"
	      "\tmember list|add|remove|update|promote, move-leader <hexid>\n"
	      "\tendpoint health|status [--cluster]\n\n"
	      "GLOBAL OPTIONS:\n"
	      "\t--endpoints=[127.0.0.1:2379] --cacert --cert --key --dial-timeout=2s\n"
	      "\t--command-timeout=5s -w, --write-out=simple|json|table --hex\n",
	      stderr);
}

struct command {
	const char *name;
	int (*fn)(struct ctl *c);
	bool needs_client;
};

static const struct command commands[] = {
	{ "get", ctl_cmd_get, true },         { "put", ctl_cmd_put, true },
	{ "del", ctl_cmd_del, true },         { "watch", ctl_cmd_watch, true },
	{ "txn", ctl_cmd_txn, true },         { "lease", ctl_cmd_lease, true },
	{ "compaction", ctl_cmd_compaction, true }, { "defrag", ctl_cmd_defrag, true },
	{ "alarm", ctl_cmd_alarm, true },     { "snapshot", ctl_cmd_snapshot, false },
	{ "member", ctl_cmd_member, true },   { "endpoint", ctl_cmd_endpoint, true },
	{ "move-leader", ctl_cmd_move_leader, true },
	{ NULL, NULL, false },
};

int main(int argc, char **argv)
{
	struct ctl_args args;
	if (ctl_parse_argv(argc - 1, argv + 1, &args) != 0)
		return CTL_EXIT_BADARGS;
	struct ctl c = { .args = &args };
	if (args.n_pos == 0 || ctl_flag_bool(&c, "help") || ctl_flag_bool(&c, "h")) {
		usage();
		return args.n_pos == 0 ? CTL_EXIT_BADARGS : 0;
	}
	if (strcmp(args.pos[0], "version") == 0) {
		printf("kube-storectl version: 3.4.0-kubec\nAPI version: 3.4\n");
		return 0;
	}
	const struct command *cmd = NULL;
	for (size_t i = 0; commands[i].name; i++)
		if (strcmp(commands[i].name, args.pos[0]) == 0)
			cmd = &commands[i];
	if (!cmd)
		ctl_die(CTL_EXIT_BADARGS, "unknown command \"%s\" for \"kube-storectl\"", args.pos[0]);

	/* Flags fall back to etcdctl's environment variables. */
	const char *eps = ctl_flag(&c, "endpoints");
	if (!eps)
		eps = getenv("ETCDCTL_ENDPOINTS");
	if (!eps)
		eps = "127.0.0.1:2379";
	const char *cacert = ctl_flag(&c, "cacert") ? ctl_flag(&c, "cacert") : getenv("ETCDCTL_CACERT");
	const char *cert = ctl_flag(&c, "cert") ? ctl_flag(&c, "cert") : getenv("ETCDCTL_CERT");
	const char *key = ctl_flag(&c, "key") ? ctl_flag(&c, "key") : getenv("ETCDCTL_KEY");
	const char *wo = ctl_flag(&c, "write-out");
	if (!wo || strcmp(wo, "simple") == 0)
		c.out = CTL_OUT_SIMPLE;
	else if (strcmp(wo, "json") == 0)
		c.out = CTL_OUT_JSON;
	else if (strcmp(wo, "table") == 0)
		c.out = CTL_OUT_TABLE;
	else
		ctl_die(CTL_EXIT_BADARGS, "unsupported output format %s (kube-storectl supports simple, json, table)", wo);
	c.hex = ctl_flag_bool(&c, "hex");
	/* Accepted etcdctl flags this tool does not implement: refuse rather than ignore. */
	static const char *const unsupported[] = { "user", "password", "discovery-srv", "discovery-srv-name", NULL };
	for (size_t i = 0; unsupported[i]; i++)
		if (ctl_flag(&c, unsupported[i]))
			ctl_die(CTL_EXIT_BADARGS, "--%s is not supported by kube-storectl (no auth or DNS discovery)",
			        unsupported[i]);
	long dial = parse_duration_ms(ctl_flag(&c, "dial-timeout") ? ctl_flag(&c, "dial-timeout") : "2s");
	long cmdt = parse_duration_ms(ctl_flag(&c, "command-timeout") ? ctl_flag(&c, "command-timeout") : "5s");
	if (dial < 0 || cmdt < 0)
		ctl_die(CTL_EXIT_BADARGS, "invalid duration in --dial-timeout or --command-timeout");

	split_endpoints(eps, &c.endpoints, &c.n_endpoints);
	if (c.n_endpoints == 0)
		ctl_die(CTL_EXIT_BADARGS, "no endpoints given");
	/* etcdctl accepts host:port; the scheme follows whether TLS material was given. */
	bool tls = cacert || cert;
	char **urls = xrealloc(NULL, c.n_endpoints * sizeof(char *));
	for (size_t i = 0; i < c.n_endpoints; i++) {
		const char *e = c.endpoints[i];
		if (strncmp(e, "http://", 7) == 0 || strncmp(e, "https://", 8) == 0) {
			urls[i] = xstrdup(e);
		} else {
			size_t n = strlen(e) + 16;
			urls[i] = xrealloc(NULL, n);
			snprintf(urls[i], n, "%s://%s", tls ? "https" : "http", e);
		}
	}
	c.cfg.endpoints = (const char *const *)urls;
	c.cfg.n_endpoints = c.n_endpoints;
	c.cfg.cacert = cacert;
	c.cfg.cert = cert;
	c.cfg.key = key;
	c.cfg.dial_timeout_ms = dial;
	c.cfg.request_timeout_ms = dial + cmdt;
	c.cfg.insecure_skip_verify = ctl_flag_bool(&c, "insecure-skip-tls-verify");
	/* etcdctl's tablePrinter only implements member list and endpoint tables; the others
	 * fail with exit 4. (etcdctl performs the call first; refusing before is safer.) */
	if (c.out == CTL_OUT_TABLE && strcmp(cmd->name, "member") != 0 && strcmp(cmd->name, "endpoint") != 0 &&
	    strcmp(cmd->name, "move-leader") != 0)
		ctl_die(4, "table not supported as output format");
	if (cmd->needs_client || strcmp(args.pos[0], "snapshot") == 0) {
		int rc = kc_etcd_new(&c.cfg, &c.cli);
		if (rc)
			ctl_die(CTL_EXIT_BADARGS, "invalid endpoints %s: %s", eps, kc_strerror(rc));
	}
	int rc = cmd->fn(&c);
	fflush(stdout);
	kc_etcd_free(c.cli);
	for (size_t i = 0; i < c.n_endpoints; i++) {
		free(c.endpoints[i]);
		free(urls[i]);
	}
	free(c.endpoints);
	free(urls);
	ctl_args_free(&args);
	return rc;
}
