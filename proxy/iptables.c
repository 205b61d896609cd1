/* The iptables tools. See iptables.h. */
#include "iptables.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "exec.h"
#include "log.h"

void px_ipt_defaults(px_ipt *t)
{
	t->iptables = "iptables";
	t->restore = "iptables-restore";
	t->save = "iptables-save";
	t->conntrack = "conntrack";
	t->wait_seconds = 5;
}

static void set_err(char *err, size_t errlen, const char *what, int rc, const px_buf *eb)
{
	if (!err || !errlen)
		return;
	const char *txt = eb ? px_buf_str(eb) : "";
	size_t n = strlen(txt);
	while (n && (txt[n - 1] == '\n' || txt[n - 1] == ' '))
		n--;
	if (rc < 0)
		snprintf(err, errlen, "%s: %s", what, kc_strerror(rc));
	else
		snprintf(err, errlen, "%s: exit status %d: %.*s", what, rc, (int)n, txt);
}

/* Run, map failures: missing tool -> -ENOENT, non-zero exit -> KC_ESERVER. */
static int run_tool(const char *const argv[], const char *in, size_t inlen, px_buf *out,
		    char *err, size_t errlen)
{
	px_buf eb;
	px_buf_init(&eb);
	int rc = px_run(argv, in, inlen, out, &eb);
	if (rc != 0)
		set_err(err, errlen, argv[0], rc, &eb);
	px_buf_close(&eb);
	if (rc < 0)
		return rc;
	return rc == 0 ? 0 : KC_ESERVER;
}

int px_ipt_restore(const px_ipt *t, const char *data, size_t len, char *err, size_t errlen)
{
	char w[16];
	snprintf(w, sizeof(w), "%d", t->wait_seconds);
	const char *argv[] = { t->restore, "-w", w, "--noflush", NULL };
	return run_tool(argv, data, len, NULL, err, errlen);
}

int px_ipt_save(const px_ipt *t, const char *table, px_buf *out, char *err, size_t errlen)
{
	px_buf_reset(out);
	const char *argv[] = { t->save, "-t", table, NULL };
	int rc = run_tool(argv, NULL, 0, out, err, errlen);
	if (rc == 0 && px_buf_status(out))
		rc = -ENOMEM;
	return rc;
}

/* Copy the whitespace-delimited token at s (at most cap-1 bytes) into out; returns the
 * position after it. */
static const char *token(const char *s, const char *end, char *out, size_t cap)
{
	size_t k = 0;
	while (s < end && *s != ' ') {
		if (k + 1 < cap)
			out[k++] = *s;
		s++;
	}
	out[k] = '\0';
	return s;
}

/* The target of a saved rule line ("... -j TARGET [target options]"). */
static void rule_target(const char *line, const char *end, char *out, size_t cap)
{
	out[0] = '\0';
	const char *hit = NULL;
	for (const char *s = line; s + 4 <= end; s++)
		if (memcmp(s, " -j ", 4) == 0)
			hit = s + 4;
	if (hit)
		token(hit, end, out, cap);
}

static bool contains(const char *s, const char *end, const char *needle)
{
	size_t n = strlen(needle);
	for (; s + n <= end; s++)
		if (memcmp(s, needle, n) == 0)
			return true;
	return false;
}

int px_ipt_parse_save(const char *text, const char *table, px_chainset *chains,
		      unsigned *jumps)
{
	if (jumps)
		*jumps = 0;
	const char *s = text;
	while (*s) {
		const char *e = strchr(s, '\n');
		if (!e)
			e = s + strlen(s);
		if (chains && e - s > 6 && s[0] == ':' && strncmp(s + 1, "KUBE-", 5) == 0) {
			/* ":NAME POLICY [p:b]" */
			char name[PX_CHAIN_LEN];
			token(s + 1, e, name, sizeof(name));
			if (px_chainset_add(chains, name) < 0)
				return -ENOMEM;
		} else if (jumps && e - s > 3 && strncmp(s, "-A ", 3) == 0) {
			char from[32], target[PX_CHAIN_LEN];
			token(s + 3, e, from, sizeof(from));
			rule_target(s, e, target, sizeof(target));
			for (unsigned i = 0; i < PX_NJUMPS; i++) {
				const px_jump *j = &px_jumps[i];
				char cm[128];
				snprintf(cm, sizeof(cm), "--comment \"%s\"", j->comment);
				/* As iptables -C: the same matches, in whatever order
				 * iptables-save prints them. */
				if (strcmp(j->table, table) == 0 && strcmp(j->from, from) == 0 &&
				    strcmp(j->chain, target) == 0 && contains(s, e, cm) &&
				    contains(s, e, "--ctstate NEW") == j->ctnew)
					*jumps |= 1u << i;
			}
		}
		s = *e ? e + 1 : e;
	}
	return 0;
}

int px_ipt_list_chains(const px_ipt *t, const char *table, px_chainset *out, char *err,
		       size_t errlen)
{
	px_buf ob;
	px_buf_init(&ob);
	int rc = px_ipt_save(t, table, &ob, err, errlen);
	if (rc == 0)
		rc = px_ipt_parse_save(px_buf_str(&ob), table, out, NULL);
	px_buf_close(&ob);
	return rc;
}

/* The top-level chains of each table (upstream's CleanupLeftovers lists). */
static bool owned_chain(const char *table, const char *c)
{
	static const char *const nat[] = { "KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING",
					   "KUBE-MARK-MASQ", NULL };
	static const char *const filter[] = { "KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES",
					      "KUBE-FORWARD", "KUBE-NODEPORTS",
					      "KUBE-PROXY-FIREWALL", NULL };
	const char *const *l = strcmp(table, "nat") == 0 ? nat : filter;
	for (; *l; l++)
		if (strcmp(*l, c) == 0)
			return true;
	return strcmp(table, "nat") == 0 && px_is_service_chain(c);
}

static bool builtin_chain(const char *c)
{
	static const char *const b[] = { "PREROUTING", "INPUT", "FORWARD", "OUTPUT",
					 "POSTROUTING" };
	for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++)
		if (strcmp(b[i], c) == 0)
			return true;
	return false;
}

/* One table's cleanup input from its iptables-save text: flush the owned chains, delete
 * every built-in-chain rule jumping into one of them (as saved, whatever its matches:
 * older kube-proxies wrote them in another order), delete the chains. */
static int cleanup_input(const char *table, const char *saved, px_buf *in, size_t *nchains)
{
	px_chainset cs;
	px_chainset_init(&cs);
	int rc = px_ipt_parse_save(saved, table, &cs, NULL);
	if (rc < 0) {
		px_chainset_close(&cs);
		return rc;
	}
	px_chainset_sort(&cs);
	*nchains = 0;
	px_buf_reset(in);
	px_buf_printf(in, "*%s\n", table);
	for (size_t i = 0; i < cs.n; i++)
		if (owned_chain(table, cs.names[i])) {
			px_buf_printf(in, ":%s - [0:0]\n", cs.names[i]);
			(*nchains)++;
		}
	for (const char *s = saved; *s;) {
		const char *e = strchr(s, '\n');
		if (!e)
			e = s + strlen(s);
		if (e - s > 3 && strncmp(s, "-A ", 3) == 0) {
			char from[32], target[PX_CHAIN_LEN];
			token(s + 3, e, from, sizeof(from));
			rule_target(s, e, target, sizeof(target));
			if (builtin_chain(from) && px_chainset_has(&cs, target) &&
			    owned_chain(table, target)) {
				px_buf_puts(in, "-D");
				px_buf_add(in, s + 2, (size_t)(e - s - 2));
				px_buf_puts(in, "\n");
			}
		}
		s = *e ? e + 1 : e;
	}
	for (size_t i = 0; i < cs.n; i++)
		if (owned_chain(table, cs.names[i]))
			px_buf_printf(in, "-X %s\n", cs.names[i]);
	px_buf_puts(in, "COMMIT\n");
	px_chainset_close(&cs);
	return px_buf_status(in);
}

int px_ipt_cleanup(const px_ipt *t, char *err, size_t errlen)
{
	int first = 0;
	static const char *const tables[] = { "filter", "nat" };
	px_buf in, saved;
	px_buf_init(&in);
	px_buf_init(&saved);
	for (size_t ti = 0; ti < 2; ti++) {
		int rc = px_ipt_save(t, tables[ti], &saved, err, errlen);
		size_t cnt = 0;
		if (rc == 0)
			rc = cleanup_input(tables[ti], px_buf_str(&saved), &in, &cnt);
		if (rc != 0) {
			first = first ? first : rc;
			continue;
		}
		if (cnt == 0)
			continue;
		rc = px_ipt_restore(t, px_buf_str(&in), in.len, err, errlen);
		if (rc != 0)
			first = first ? first : rc;
		else
			kc_info("cleanup: deleted %zu kube-proxy chains in table %s", cnt, tables[ti]);
	}
	px_buf_close(&in);
	px_buf_close(&saved);
	return first;
}

bool px_ipt_has_random_fully(const px_ipt *t)
{
	px_buf ob;
	px_buf_init(&ob);
	const char *argv[] = { t->iptables, "--version", NULL };
	int rc = px_run(argv, NULL, 0, &ob, NULL);
	int a = 0, b = 0, c = 0;
	bool ok = rc == 0 && sscanf(px_buf_str(&ob), "iptables v%d.%d.%d", &a, &b, &c) == 3 &&
		  (a > 1 || (a == 1 && (b > 6 || (b == 6 && c >= 2))));
	px_buf_close(&ob);
	return ok;
}

int px_conntrack_clear(const px_ipt *t, const char *proto, const char *orig_dst, int dport,
		       const char *dst_nat, char *err, size_t errlen)
{
	char port[16];
	snprintf(port, sizeof(port), "%d", dport);
	const char *argv[12];
	int n = 0;
	argv[n++] = t->conntrack;
	argv[n++] = "-D";
	argv[n++] = "-p";
	argv[n++] = proto;
	if (orig_dst) {
		argv[n++] = "--orig-dst";
		argv[n++] = orig_dst;
	} else {
		argv[n++] = "--dport";
		argv[n++] = port;
	}
	if (dst_nat) {
		argv[n++] = "--dst-nat";
		argv[n++] = dst_nat;
	}
	argv[n] = NULL;
	px_buf ob, eb;
	px_buf_init(&ob);
	px_buf_init(&eb);
	int rc = px_run(argv, NULL, 0, &ob, &eb);
	/* conntrack exits 1 when nothing matched ("0 flow entries have been deleted"). */
	if (rc > 0 && strstr(px_buf_str(&eb), "0 flow entries"))
		rc = 0;
	if (rc != 0)
		set_err(err, errlen, t->conntrack, rc, &eb);
	px_buf_close(&ob);
	px_buf_close(&eb);
	return rc < 0 ? rc : (rc == 0 ? 0 : KC_ESERVER);
}
