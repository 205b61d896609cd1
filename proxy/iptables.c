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

/* upstream's iptablesJumpChains (minus the load-balancer firewall chain, which kubec
 * does not generate). */
typedef struct jump {
	const char *table, *chain, *from, *comment;
	bool ctnew; /* -m conntrack --ctstate NEW */
} jump;

static const jump jumps[] = {
	{ "filter", "KUBE-EXTERNAL-SERVICES", "INPUT",
	  "kubernetes externally-visible service portals", true },
	{ "filter", "KUBE-EXTERNAL-SERVICES", "FORWARD",
	  "kubernetes externally-visible service portals", true },
	{ "filter", "KUBE-NODEPORTS", "INPUT", "kubernetes health check service ports", false },
	{ "filter", "KUBE-SERVICES", "FORWARD", "kubernetes service portals", true },
	{ "filter", "KUBE-SERVICES", "OUTPUT", "kubernetes service portals", true },
	{ "filter", "KUBE-FORWARD", "FORWARD", "kubernetes forwarding rules", false },
	{ "nat", "KUBE-SERVICES", "OUTPUT", "kubernetes service portals", false },
	{ "nat", "KUBE-SERVICES", "PREROUTING", "kubernetes service portals", false },
	{ "nat", "KUBE-POSTROUTING", "POSTROUTING", "kubernetes postrouting rules", false },
};

static int jump_cmd(const px_ipt *t, const jump *j, const char *op, char *err, size_t errlen,
		    bool quiet)
{
	char w[16];
	snprintf(w, sizeof(w), "%d", t->wait_seconds);
	const char *argv[20];
	int n = 0;
	argv[n++] = t->iptables;
	argv[n++] = "-w";
	argv[n++] = w;
	argv[n++] = "-t";
	argv[n++] = j->table;
	argv[n++] = op;
	argv[n++] = j->from;
	argv[n++] = "-m";
	argv[n++] = "comment";
	argv[n++] = "--comment";
	argv[n++] = j->comment;
	if (j->ctnew) {
		argv[n++] = "-m";
		argv[n++] = "conntrack";
		argv[n++] = "--ctstate";
		argv[n++] = "NEW";
	}
	argv[n++] = "-j";
	argv[n++] = j->chain;
	argv[n] = NULL;
	return run_tool(argv, NULL, 0, NULL, quiet ? NULL : err, quiet ? 0 : errlen);
}

int px_ipt_ensure_jumps(const px_ipt *t, char *err, size_t errlen)
{
	char w[16];
	snprintf(w, sizeof(w), "%d", t->wait_seconds);
	for (size_t i = 0; i < sizeof(jumps) / sizeof(jumps[0]); i++) {
		const jump *j = &jumps[i];
		/* -N fails when the chain exists; that is the common case. */
		const char *nargv[] = { t->iptables, "-w", w, "-t", j->table, "-N", j->chain, NULL };
		int rc = run_tool(nargv, NULL, 0, NULL, NULL, 0);
		if (rc == -ENOENT) {
			set_err(err, errlen, t->iptables, rc, NULL);
			return rc;
		}
		if (jump_cmd(t, j, "-C", NULL, 0, true) == 0)
			continue;
		rc = jump_cmd(t, j, "-I", err, errlen, false);
		if (rc < 0 || rc == KC_ESERVER) {
			kc_error("failed to ensure jump from %s/%s to %s", j->table, j->from, j->chain);
			return rc;
		}
	}
	return 0;
}

int px_ipt_list_chains(const px_ipt *t, const char *table, px_chainset *out, char *err,
		       size_t errlen)
{
	px_buf ob;
	px_buf_init(&ob);
	const char *argv[] = { t->save, "-t", table, NULL };
	int rc = run_tool(argv, NULL, 0, &ob, err, errlen);
	if (rc == 0 && px_buf_status(&ob))
		rc = -ENOMEM;
	if (rc == 0) {
		/* Chain lines read ":NAME POLICY [p:b]". */
		const char *s = px_buf_str(&ob);
		while (*s) {
			const char *e = strchr(s, '\n');
			size_t n = e ? (size_t)(e - s) : strlen(s);
			if (n > 6 && s[0] == ':' && strncmp(s + 1, "KUBE-", 5) == 0) {
				char name[PX_CHAIN_LEN];
				size_t k = 0;
				while (k + 1 < n && s[1 + k] != ' ' && k < PX_CHAIN_LEN - 1) {
					name[k] = s[1 + k];
					k++;
				}
				name[k] = '\0';
				if (px_chainset_add(out, name) < 0) {
					rc = -ENOMEM;
					break;
				}
			}
			s += n;
			if (*s == '\n')
				s++;
		}
	}
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

int px_ipt_cleanup(const px_ipt *t, char *err, size_t errlen)
{
	int first = 0;
	/* Jumps first (a referenced chain cannot be deleted). Delete until -C fails, in
	 * case a rule was inserted twice. */
	for (size_t i = 0; i < sizeof(jumps) / sizeof(jumps[0]); i++) {
		for (int k = 0; k < 16 && jump_cmd(t, &jumps[i], "-C", NULL, 0, true) == 0; k++) {
			int rc = jump_cmd(t, &jumps[i], "-D", err, errlen, false);
			if (rc != 0) {
				first = first ? first : rc;
				break;
			}
		}
	}
	static const char *const tables[] = { "filter", "nat" };
	px_buf in;
	px_buf_init(&in);
	for (size_t ti = 0; ti < 2; ti++) {
		px_chainset cs;
		px_chainset_init(&cs);
		int rc = px_ipt_list_chains(t, tables[ti], &cs, err, errlen);
		if (rc != 0) {
			first = first ? first : rc;
			px_chainset_close(&cs);
			continue;
		}
		px_buf_reset(&in);
		px_buf_printf(&in, "*%s\n", tables[ti]);
		size_t cnt = 0;
		for (size_t i = 0; i < cs.n; i++)
			if (owned_chain(tables[ti], cs.names[i])) {
				px_buf_printf(&in, ":%s - [0:0]\n", cs.names[i]);
				cnt++;
			}
		for (size_t i = 0; i < cs.n; i++)
			if (owned_chain(tables[ti], cs.names[i]))
				px_buf_printf(&in, "-X %s\n", cs.names[i]);
		px_buf_puts(&in, "COMMIT\n");
		px_chainset_close(&cs);
		if (cnt == 0)
			continue;
		if (px_buf_status(&in)) {
			first = first ? first : -ENOMEM;
			continue;
		}
		rc = px_ipt_restore(t, px_buf_str(&in), in.len, err, errlen);
		if (rc != 0)
			first = first ? first : rc;
		else
			kc_info("cleanup: deleted %zu kube-proxy chains in table %s", cnt, tables[ti]);
	}
	px_buf_close(&in);
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
