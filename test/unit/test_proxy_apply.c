/* kube-proxy's apply path with fake iptables / iptables-restore / iptables-save /
 * conntrack tools (shell scripts that log their arguments and stdin), so it runs
 * without root and without touching the host: missing jump rules found in iptables-save
 * and inserted by the same restore, on a full sync only,
 * restore --noflush input, stale chains found by iptables-save deleted, UDP conntrack
 * entries of a removed endpoint deleted ("0 flow entries" is success), a failing
 * restore reported and counted, and --cleanup's chain selection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "json.h"
#include "kc_test.h"
#include "../../proxy/iptables.h"
#include "../../proxy/proxier.h"

static char dir[256];
static char p_ipt[300], p_restore[300], p_save[300], p_ct[300];

static void write_script(const char *path, const char *body)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "#!/bin/sh\nD=%s\n%s", dir, body);
	fclose(f);
	chmod(path, 0755);
}

static char *slurp(const char *name)
{
	char path[320];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "r");
	if (!f)
		return strdup("");
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = calloc(1, (size_t)n + 1);
	ck_assert_int_eq(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return b;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/kubec-proxy-apply-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(p_ipt, sizeof(p_ipt), "%s/iptables", dir);
	snprintf(p_restore, sizeof(p_restore), "%s/iptables-restore", dir);
	snprintf(p_save, sizeof(p_save), "%s/iptables-save", dir);
	snprintf(p_ct, sizeof(p_ct), "%s/conntrack", dir);
	/* Any iptables call is logged (a full sync should make none). */
	write_script(p_ipt, "echo \"$*\" >>$D/iptables.log\nexit 0\n");
	write_script(p_restore, "echo \"$*\" >>$D/restore.log\ncat >>$D/restore.in\n"
				"[ -e $D/fail ] && { echo 'iptables-restore: line 7 failed' >&2; exit 1; }\n"
				"exit 0\n");
	/* filter: one of our jumps, with its matches in the order an older kube-proxy
	 * wrote them, and a foreign rule; nat: our PREROUTING jump, a stale service chain
	 * and the kubelet's canary chain (not ours). */
	write_script(p_save, "echo \"$*\" >>$D/save.log\n"
			     "case \"$*\" in *filter*)\n"
			     "echo '*filter'\necho ':INPUT ACCEPT [0:0]'\n"
			     "echo ':KUBE-SERVICES - [0:0]'\n"
			     "echo '-A INPUT -s 10.9.9.9/32 -j ACCEPT'\n"
			     "echo '-A FORWARD -m comment --comment \"kubernetes service portals\" "
			     "-m conntrack --ctstate NEW -j KUBE-SERVICES'\n"
			     "echo COMMIT;;\n*)\n"
			     "echo '*nat'\necho ':PREROUTING ACCEPT [0:0]'\n"
			     "echo ':KUBE-SERVICES - [0:0]'\necho ':KUBE-SVC-OLDOLDOLDOLDOLDO - [0:0]'\n"
			     "echo ':KUBE-KUBELET-CANARY - [0:0]'\n"
			     "echo '-A PREROUTING -m comment --comment \"kubernetes service portals\" "
			     "-j KUBE-SERVICES'\n"
			     "echo '-A OUTPUT -j KUBE-KUBELET-CANARY'\n"
			     "echo COMMIT;;\nesac\n");
	write_script(p_ct, "echo \"$*\" >>$D/conntrack.log\n"
			   "echo 'conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.' >&2\n"
			   "exit 1\n");
}

static void teardown(void)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void fake_ipt(px_ipt *t)
{
	px_ipt_defaults(t);
	t->iptables = p_ipt;
	t->restore = p_restore;
	t->save = p_save;
	t->conntrack = p_ct;
}

static cJSON *parse(const char *s)
{
	cJSON *j = NULL;
	char err[KC_JSON_ERRLEN];
	ck_assert_msg(kc_json_parse_str(s, &j, err, sizeof(err)) == 0, "%s", err);
	return j;
}

#define SVCS                                                                              \
	"[{\"metadata\":{\"namespace\":\"kube-system\",\"name\":\"dns\"},\"spec\":{\"clusterIP\":" \
	"\"10.96.0.10\",\"ports\":[{\"name\":\"dns\",\"port\":53,\"protocol\":\"UDP\"}]}},"        \
	"{\"metadata\":{\"namespace\":\"default\",\"name\":\"web\"},\"spec\":{\"clusterIP\":"      \
	"\"10.96.0.20\",\"ports\":[{\"port\":80}]}}]"
#define SLICES(dns_eps, web_eps)                                                         \
	"[{\"metadata\":{\"namespace\":\"kube-system\",\"name\":\"d\",\"labels\":"             \
	"{\"kubernetes.io/service-name\":\"dns\"}},\"ports\":[{\"name\":\"dns\",\"port\":53,"   \
	"\"protocol\":\"UDP\"}],\"endpoints\":[" dns_eps "]},"                                 \
	"{\"metadata\":{\"namespace\":\"default\",\"name\":\"w\",\"labels\":"                  \
	"{\"kubernetes.io/service-name\":\"web\"}},\"ports\":[{\"port\":80}],\"endpoints\":["  \
	web_eps "]}]"
#define EP(ip) "{\"addresses\":[\"" ip "\"]}"

START_TEST(apply_path_with_fake_tools)
{
	px_proxier_opts o = { .rules = { .masq_bit = 14 }, .node_name = "node1",
			      .sync_period_ns = 30 * KC_NSEC_PER_SEC };
	fake_ipt(&o.ipt);
	px_proxier *p = NULL;
	ck_assert_int_eq(px_proxier_new(&o, &p), 0);
	cJSON *svcs = parse(SVCS);
	cJSON *s1 = parse(SLICES(EP("10.0.0.1") "," EP("10.0.0.2"), EP("10.0.1.1") "," EP("10.0.1.2")));
	cJSON *s2 = parse(SLICES(EP("10.0.0.1"), EP("10.0.1.1")));

	/* 1. First (full) sync: one iptables-save per table and one restore --noflush; the
	 * jumps iptables-save did not show are "-I" lines of that restore (no iptables
	 * process at all); the old service chain is deleted, nothing else is. */
	ck_assert_int_eq(px_proxier_sync(p, svcs, s1, true), 0);
	char *ipt = slurp("iptables.log");
	ck_assert_str_eq(ipt, "");
	char *sv = slurp("save.log");
	ck_assert_str_eq(sv, "-t filter\n-t nat\n");
	char *rl = slurp("restore.log");
	ck_assert_str_eq(rl, "-w 5 --noflush\n");
	char *in = slurp("restore.in");
	ck_assert_int_eq(count(in, "\n-I "), 7);
	ck_assert_ptr_null(strstr(in, "-I PREROUTING"));
	ck_assert_ptr_null(strstr(in, "-I FORWARD -m conntrack --ctstate NEW -m comment --comment "
				      "\"kubernetes service portals\" -j KUBE-SERVICES\n"));
	ck_assert_ptr_nonnull(strstr(in, "\n-I OUTPUT -m comment --comment \"kubernetes service "
					 "portals\" -j KUBE-SERVICES\n"));
	ck_assert_ptr_nonnull(strstr(in, "\n-I POSTROUTING -m comment --comment \"kubernetes "
					 "postrouting rules\" -j KUBE-POSTROUTING\n"));
	ck_assert_ptr_nonnull(strstr(in, "\n-I INPUT -m conntrack --ctstate NEW -m comment "
					 "--comment \"kubernetes externally-visible service "
					 "portals\" -j KUBE-EXTERNAL-SERVICES\n"));
	/* each jump in its own table's section, after that table's chain lines */
	const char *nat = strstr(in, "*nat\n");
	ck_assert_ptr_nonnull(nat);
	ck_assert_ptr_nonnull(strstr(nat, "-I OUTPUT -m comment --comment \"kubernetes service"));
	ck_assert_ptr_null(strstr(nat, "-I INPUT"));
	ck_assert_ptr_nonnull(strstr(in, "-X KUBE-SVC-OLDOLDOLDOLDOLDO\n"));
	ck_assert_ptr_null(strstr(in, "KUBE-KUBELET-CANARY"));
	ck_assert_ptr_nonnull(strstr(in, "--to-destination 10.0.0.2:53"));
	char *ct = slurp("conntrack.log");
	ck_assert_str_eq(ct, ""); /* nothing of ours existed before */
	free(ipt);
	free(sv);
	free(rl);
	free(in);
	free(ct);

	/* 2. An endpoint of each service goes away (not a full sync): no iptables-save,
	 * no jump lines, conntrack cleared for the UDP endpoint only. */
	ck_assert_int_eq(px_proxier_sync(p, svcs, s2, false), 0);
	sv = slurp("save.log");
	ck_assert_int_eq(count(sv, "\n"), 2);
	in = slurp("restore.in");
	ck_assert_int_eq(count(in, "\n-I "), 7); /* from step 1 only */
	ct = slurp("conntrack.log");
	ck_assert_str_eq(ct, "-D -p udp --orig-dst 10.96.0.10 --dst-nat 10.0.0.2\n");
	free(in);
	free(sv);
	free(ct);

	/* 3. iptables-restore fails: the error is returned and counted; the next sync
	 * re-reads the kernel's chains. */
	char failp[300];
	snprintf(failp, sizeof(failp), "%s/fail", dir);
	FILE *f = fopen(failp, "w");
	fclose(f);
	ck_assert_int_eq(px_proxier_sync(p, svcs, s1, false), KC_ESERVER);
	px_buf b;
	px_buf_init(&b);
	px_proxier_metrics(p, &b);
	ck_assert_ptr_nonnull(strstr(px_buf_str(&b),
				     "kubeproxy_sync_proxy_rules_iptables_restore_failures_total 1\n"));
	px_buf_close(&b);
	unlink(failp);
	ck_assert_int_eq(px_proxier_sync(p, svcs, s1, false), 0);
	sv = slurp("save.log");
	ck_assert_int_eq(count(sv, "\n"), 4);
	free(sv);
	ipt = slurp("iptables.log");
	ck_assert_str_eq(ipt, "");
	free(ipt);

	cJSON_Delete(svcs);
	cJSON_Delete(s1);
	cJSON_Delete(s2);
	px_proxier_free(p);
}
END_TEST

START_TEST(cleanup_selects_kube_chains)
{
	px_ipt t;
	fake_ipt(&t);
	char err[512];
	ck_assert_int_eq(px_ipt_cleanup(&t, err, sizeof(err)), 0);
	char *in = slurp("restore.in");
	/* filter: only the top-level chains; nat: those and the per-service chains. Jumps
	 * into them are deleted as iptables-save printed them (whatever the match order);
	 * the kubelet's chain, its jump and foreign rules are not ours. */
	ck_assert_str_eq(in, "*filter\n:KUBE-SERVICES - [0:0]\n"
			     "-D FORWARD -m comment --comment \"kubernetes service portals\" "
			     "-m conntrack --ctstate NEW -j KUBE-SERVICES\n"
			     "-X KUBE-SERVICES\nCOMMIT\n"
			     "*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-OLDOLDOLDOLDOLDO - [0:0]\n"
			     "-D PREROUTING -m comment --comment \"kubernetes service portals\" "
			     "-j KUBE-SERVICES\n"
			     "-X KUBE-SERVICES\n-X KUBE-SVC-OLDOLDOLDOLDOLDO\nCOMMIT\n");
	char *ipt = slurp("iptables.log");
	ck_assert_str_eq(ipt, "");
	free(ipt);
	free(in);
}
END_TEST

START_TEST(missing_tool_is_an_error)
{
	px_ipt t;
	fake_ipt(&t);
	t.restore = "/nonexistent/iptables-restore";
	char err[512] = "";
	ck_assert_int_eq(px_ipt_restore(&t, "*nat\nCOMMIT\n", 12, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/iptables-restore"));
}
END_TEST


/* iptables-save text -> our chains and which jumps exist: the same matches in either
 * order count, a jump with another comment or without ctstate NEW does not, and only
 * the given table's jumps are considered. */
START_TEST(parse_save_finds_chains_and_jumps)
{
	const char *nat = "# Generated by iptables-save\n*nat\n:PREROUTING ACCEPT [0:0]\n"
			  ":OUTPUT ACCEPT [3:180]\n:KUBE-SERVICES - [0:0]\n"
			  ":KUBE-SEP-ABCDEFGHIJKLMNOP - [0:0]\n:DOCKER - [0:0]\n"
			  "-A PREROUTING -m comment --comment \"kubernetes service portals\" "
			  "-j KUBE-SERVICES\n"
			  "-A OUTPUT -m comment --comment \"something else\" -j KUBE-SERVICES\n"
			  "-A POSTROUTING -j KUBE-POSTROUTING\nCOMMIT\n";
	px_chainset cs;
	px_chainset_init(&cs);
	unsigned j = 99;
	ck_assert_int_eq(px_ipt_parse_save(nat, "nat", &cs, &j), 0);
	ck_assert_uint_eq(cs.n, 2);
	px_chainset_sort(&cs);
	ck_assert(px_chainset_has(&cs, "KUBE-SERVICES"));
	ck_assert(px_chainset_has(&cs, "KUBE-SEP-ABCDEFGHIJKLMNOP"));
	ck_assert(!px_chainset_has(&cs, "DOCKER"));
	ck_assert_uint_eq(j, 1u << 7); /* PREROUTING only */
	px_chainset_close(&cs);

	const char *filter = "*filter\n"
			     "-A FORWARD -m comment --comment \"kubernetes service portals\" "
			     "-m conntrack --ctstate NEW -j KUBE-SERVICES\n"
			     "-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "
			     "\"kubernetes service portals\" -j KUBE-SERVICES\n"
			     "-A INPUT -m comment --comment \"kubernetes externally-visible service "
			     "portals\" -j KUBE-EXTERNAL-SERVICES\n"
			     "-A FORWARD -m comment --comment \"kubernetes forwarding rules\" "
			     "-j KUBE-FORWARD\nCOMMIT";
	ck_assert_int_eq(px_ipt_parse_save(filter, "filter", NULL, &j), 0);
	ck_assert_uint_eq(j, (1u << 3) | (1u << 4) | (1u << 5));
	ck_assert_int_eq(px_ipt_parse_save(filter, "nat", NULL, &j), 0);
	ck_assert_uint_eq(j, 0);
	ck_assert_int_eq(px_ipt_parse_save("", "nat", NULL, &j), 0);
	ck_assert_uint_eq(j, 0);
}
END_TEST

static Suite *proxy_apply_suite(void)
{
	Suite *s = suite_create("proxy_apply");
	TCase *tc = tcase_create("apply");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, apply_path_with_fake_tools);
	tcase_add_test(tc, cleanup_selects_kube_chains);
	tcase_add_test(tc, missing_tool_is_an_error);
	tcase_add_test(tc, parse_save_finds_chains_and_jumps);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(proxy_apply_suite)
