/* txn: etcdctl 3.4's ctlv3/command/txn_command.go. Input (stdin, or prompted with -i):
 *
 *   <compare>*      value("k") = "v" | mod("k") > "5" | create | version | lease
 *   <blank line>
 *   <success op>*   put k v [--lease=..] | get k [...] | del k [...]
 *   <blank line>
 *   <failure op>*
 *   <blank line>
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "storectl.h"

#define MAX_LINE 65536

/* A growing set of things to release after the call. */
struct txn_build {
	struct kc_etcd_compare *cmps;
	size_t n_cmps;
	struct kc_etcd_op *ops[2];
	size_t n_ops[2];
	struct ctl_args *argsv;
	size_t n_args;
	void **bufs;
	size_t n_bufs;
};

static void keep(struct txn_build *b, void *p)
{
	void **nb = realloc(b->bufs, (b->n_bufs + 1) * sizeof(void *));
	if (!nb)
		ctl_die(CTL_EXIT_ERROR, "out of memory");
	b->bufs = nb;
	b->bufs[b->n_bufs++] = p;
}

/* Reads one line; returns NULL at EOF. Trailing newline removed. */
static char *read_line(char *buf, size_t len)
{
	if (!fgets(buf, (int)len, stdin))
		return NULL;
	size_t n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = 0;
	return buf;
}

static bool blank(const char *s)
{
	for (; *s; s++)
		if (*s != ' ' && *s != '\t')
			return false;
	return true;
}

/* Go's %q scan: a double-quoted string with backslash escapes. Returns the end. */
static const char *scan_quoted(const char *p, char *out, size_t outlen)
{
	size_t n = 0;
	if (*p != '"')
		return NULL;
	p++;
	while (*p && *p != '"') {
		char ch = *p++;
		if (ch == '\\') {
			switch (*p) {
			case 'n': ch = '\n'; break;
			case 't': ch = '\t'; break;
			case 'r': ch = '\r'; break;
			case '0': ch = 0; break;
			case '\\': ch = '\\'; break;
			case '"': ch = '"'; break;
			default: return NULL;
			}
			p++;
		}
		if (n + 1 >= outlen)
			return NULL;
		out[n++] = ch;
	}
	if (*p != '"')
		return NULL;
	out[n] = 0;
	return p + 1;
}

static void parse_compare(struct txn_build *b, const char *line)
{
	const char *lp = strchr(line, '(');
	if (!lp)
		ctl_die(4, "malformed comparison: %s", line);
	char target[32];
	size_t tl = (size_t)(lp - line);
	while (tl && line[tl - 1] == ' ')
		tl--;
	const char *ts = line;
	while (*ts == ' ' && ts < lp) {
		ts++;
		tl--;
	}
	if (tl >= sizeof(target))
		ctl_die(4, "malformed comparison: %s (unknown target)", line);
	memcpy(target, ts, tl);
	target[tl] = 0;
	char *key = malloc(MAX_LINE), *val = malloc(MAX_LINE);
	if (!key || !val)
		ctl_die(CTL_EXIT_ERROR, "out of memory");
	keep(b, key);
	keep(b, val);
	const char *p = scan_quoted(lp + 1, key, MAX_LINE);
	if (!p || *p != ')')
		ctl_die(4, "malformed comparison: %s", line);
	p++;
	while (*p == ' ')
		p++;
	char op[4] = "";
	size_t ol = 0;
	while (*p && *p != ' ' && ol < 3)
		op[ol++] = *p++;
	op[ol] = 0;
	while (*p == ' ')
		p++;
	if (!scan_quoted(p, val, MAX_LINE))
		ctl_die(4, "malformed comparison: %s", line);

	struct kc_etcd_compare cmp = { .key = key, .key_len = strlen(key) };
	if (strcmp(op, "=") == 0)
		cmp.result = KC_ETCD_CMP_EQUAL;
	else if (strcmp(op, "!=") == 0)
		cmp.result = KC_ETCD_CMP_NOT_EQUAL;
	else if (strcmp(op, ">") == 0)
		cmp.result = KC_ETCD_CMP_GREATER;
	else if (strcmp(op, "<") == 0)
		cmp.result = KC_ETCD_CMP_LESS;
	else
		ctl_die(4, "malformed comparison: %s (Unknown compare type %s)", line, op);
	bool numeric = true;
	if (strcmp(target, "ver") == 0 || strcmp(target, "version") == 0)
		cmp.target = KC_ETCD_CMP_VERSION;
	else if (strcmp(target, "c") == 0 || strcmp(target, "create") == 0)
		cmp.target = KC_ETCD_CMP_CREATE;
	else if (strcmp(target, "m") == 0 || strcmp(target, "mod") == 0)
		cmp.target = KC_ETCD_CMP_MOD;
	else if (strcmp(target, "lease") == 0)
		cmp.target = KC_ETCD_CMP_LEASE;
	else if (strcmp(target, "val") == 0 || strcmp(target, "value") == 0) {
		cmp.target = KC_ETCD_CMP_VALUE;
		numeric = false;
		cmp.value = val;
		cmp.value_len = strlen(val);
	} else
		ctl_die(4, "malformed comparison: %s (unknown target %s)", line, target);
	if (numeric) {
		char *end;
		errno = 0;
		if (cmp.target == KC_ETCD_CMP_LEASE) {
			if (ctl_parse_lease(val, &cmp.number) != 0)
				ctl_die(4, "malformed comparison: %s (invalid lease)", line);
		} else {
			cmp.number = strtoll(val, &end, 10);
			if (errno || end == val || *end)
				ctl_die(4, "malformed comparison: %s (strconv.ParseInt: parsing \"%s\": invalid syntax)", line, val);
		}
	}
	struct kc_etcd_compare *nc = realloc(b->cmps, (b->n_cmps + 1) * sizeof(*nc));
	if (!nc)
		ctl_die(CTL_EXIT_ERROR, "out of memory");
	b->cmps = nc;
	b->cmps[b->n_cmps++] = cmp;
}

/* etcdctl's argify: "double quoted" (with escapes), 'single quoted', or bare words. */
static int argify(const char *s, char ***out)
{
	int n = 0;
	char **v = NULL;
	while (*s) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			break;
		char *w = malloc(strlen(s) + 1);
		if (!w)
			ctl_die(CTL_EXIT_ERROR, "out of memory");
		if (*s == '"') {
			const char *e = scan_quoted(s, w, strlen(s) + 1);
			if (!e)
				ctl_die(4, "invalid txn request: %s", s);
			s = e;
		} else if (*s == '\'') {
			const char *e = strchr(s + 1, '\'');
			if (!e)
				ctl_die(4, "invalid txn request: %s", s);
			memcpy(w, s + 1, (size_t)(e - s - 1));
			w[e - s - 1] = 0;
			s = e + 1;
		} else {
			size_t l = strcspn(s, " \t");
			memcpy(w, s, l);
			w[l] = 0;
			s += l;
		}
		char **nv = realloc(v, (size_t)(n + 1) * sizeof(char *));
		if (!nv)
			ctl_die(CTL_EXIT_ERROR, "out of memory");
		v = nv;
		v[n++] = w;
	}
	*out = v;
	return n;
}

static void parse_op(struct ctl *c, struct txn_build *b, int which, const char *line)
{
	char **argv;
	int argc = argify(line, &argv);
	if (argc < 2)
		ctl_die(4, "invalid txn compare request: %s", line);
	struct ctl_args *nargs = realloc(b->argsv, (b->n_args + 1) * sizeof(*nargs));
	if (!nargs)
		ctl_die(CTL_EXIT_ERROR, "out of memory");
	b->argsv = nargs;
	struct ctl_args *a = &b->argsv[b->n_args];
	if (ctl_parse_argv(argc, argv, a) != 0)
		ctl_die(4, "invalid txn request: %s", line);
	b->n_args++;
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
	struct ctl sub = *c;
	sub.args = a;
	struct kc_etcd_op op = { 0 };
	if (strcmp(a->pos[0], "put") == 0) {
		if (a->n_pos < 3)
			ctl_die(4, "invalid txn request: %s", line);
		char *sv = NULL;
		op.type = KC_ETCD_OP_PUT;
		ctl_build_put(&sub, &op.u.put, &sv);
		free(sv);
	} else if (strcmp(a->pos[0], "get") == 0) {
		uint8_t *eb;
		op.type = KC_ETCD_OP_RANGE;
		ctl_build_get(&sub, &op.u.range, &eb);
		keep(b, eb);
	} else if (strcmp(a->pos[0], "del") == 0) {
		uint8_t *eb;
		op.type = KC_ETCD_OP_DELETE;
		ctl_build_del(&sub, &op.u.del, &eb);
		keep(b, eb);
	} else {
		ctl_die(4, "invalid txn request: %s", line);
	}
	struct kc_etcd_op *no = realloc(b->ops[which], (b->n_ops[which] + 1) * sizeof(*no));
	if (!no)
		ctl_die(CTL_EXIT_ERROR, "out of memory");
	b->ops[which] = no;
	b->ops[which][b->n_ops[which]++] = op;
}

int ctl_cmd_txn(struct ctl *c)
{
	/* The op-line args live in b.argsv; ctl_args array pointers stay valid because the
	 * requests point into the strings, not into the array. */
	bool interactive = ctl_flag_bool(c, "interactive") || ctl_flag_bool(c, "i");
	if (c->args->n_pos != 1)
		ctl_die(CTL_EXIT_BADARGS, "txn command does not accept argument");
	struct txn_build b = { 0 };
	char *line = malloc(MAX_LINE);
	if (!line)
		ctl_die(CTL_EXIT_ERROR, "out of memory");
	if (interactive)
		printf("compares:\n");
	while (read_line(line, MAX_LINE) && !blank(line))
		parse_compare(&b, line);
	for (int which = 0; which < 2; which++) {
		if (interactive)
			printf(which == 0 ? "success requests (get, put, del):\n" : "failure requests (get, put, del):\n");
		while (read_line(line, MAX_LINE) && !blank(line))
			parse_op(c, &b, which, line);
	}
	free(line);
	struct kc_etcd_txn_req req = {
		.compare = b.cmps, .n_compare = b.n_cmps,
		.success = b.ops[0], .n_success = b.n_ops[0],
		.failure = b.ops[1], .n_failure = b.n_ops[1],
	};
	struct kc_etcd_txn_resp resp;
	struct kc_etcd_error err = { 0 };
	int rc = kc_etcd_txn(c->cli, &req, &resp, &err);
	if (rc)
		ctl_die_err(rc, &err);
	ctl_print_txn(c, &resp);
	kc_etcd_txn_resp_free(&resp);
	for (size_t i = 0; i < b.n_args; i++)
		ctl_args_free(&b.argsv[i]);
	free(b.argsv);
	for (size_t i = 0; i < b.n_bufs; i++)
		free(b.bufs[i]);
	free(b.bufs);
	free(b.cmps);
	free(b.ops[0]);
	free(b.ops[1]);
	return 0;
}
