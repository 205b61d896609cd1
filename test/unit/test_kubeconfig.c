#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "kc_test.h"
#include "kubeconfig.h"

static char dir[128];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/kc-test-kubeconfig-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void write_file(const char *name, const char *text)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* "hello CA\n" / "client cert" / "client key" in base64. */
static const char *const full =
	"apiVersion: v1\n"
	"kind: Config\n"
	"clusters:\n"
	"- name: other\n"
	"  cluster:\n"
	"    server: https://other:6443\n"
	"- name: main\n"
	"  cluster:\n"
	"    server: https://10.0.0.1:6443\n"
	"    certificate-authority-data: aGVsbG8gQ0EK\n"
	"    tls-server-name: kubernetes.default\n"
	"- name: files\n"
	"  cluster:\n"
	"    server: \"https://files:6443\"\n"
	"    certificate-authority: pki/ca.crt\n"
	"    insecure-skip-tls-verify: true\n"
	"users:\n"
	"- name: admin\n"
	"  user:\n"
	"    client-certificate-data: Y2xpZW50IGNlcnQ=\n"
	"    client-key-data: Y2xpZW50IGtleQ==\n"
	"- name: filer\n"
	"  user:\n"
	"    client-certificate: pki/admin.crt\n"
	"    client-key: /abs/admin.key\n"
	"- name: tokener\n"
	"  user:\n"
	"    token: inline-token\n"
	"    tokenFile: tok\n"
	"contexts:\n"
	"- name: main-admin\n"
	"  context:\n"
	"    cluster: main\n"
	"    user: admin\n"
	"    namespace: kube-system\n"
	"- name: files\n"
	"  context: {cluster: files, user: filer}\n"
	"- name: tok\n"
	"  context: {cluster: other, user: tokener}\n"
	"- name: ghost\n"
	"  context: {cluster: nowhere, user: admin}\n"
	"- name: nouser\n"
	"  context: {cluster: other, user: nobody}\n"
	"current-context: main-admin\n";

START_TEST(current_context_with_data_fields)
{
	kc_kubeconfig kc;
	char err[256];
	ck_assert_int_eq(kc_kubeconfig_parse(&kc, full, strlen(full), "/etc/k", "t", NULL, err,
					     sizeof(err)),
			 0);
	ck_assert_str_eq(kc.context, "main-admin");
	ck_assert_str_eq(kc.server, "https://10.0.0.1:6443");
	ck_assert_str_eq(kc.namespace, "kube-system");
	ck_assert_str_eq(kc.tls_server_name, "kubernetes.default");
	ck_assert_int_eq(kc.ca_len, 9);
	ck_assert_mem_eq(kc.ca_data, "hello CA\n", 9);
	ck_assert_int_eq(kc.cert_len, 11);
	ck_assert_mem_eq(kc.cert_data, "client cert", 11);
	ck_assert_mem_eq(kc.key_data, "client key", 10);
	ck_assert_ptr_null(kc.ca_file);
	ck_assert_ptr_null(kc.token);
	ck_assert_int_eq(kc.insecure_skip_tls_verify, 0);
	kc_kubeconfig_close(&kc);
}
END_TEST

START_TEST(relative_paths_resolve_against_file_dir)
{
	kc_kubeconfig kc;
	char err[256];
	write_file("config", full);
	char p[256];
	snprintf(p, sizeof(p), "%s/config", dir);
	ck_assert_int_eq(kc_kubeconfig_load_file(&kc, p, "files", err, sizeof(err)), 0);
	char want[256];
	snprintf(want, sizeof(want), "%s/pki/ca.crt", dir);
	ck_assert_str_eq(kc.ca_file, want);
	snprintf(want, sizeof(want), "%s/pki/admin.crt", dir);
	ck_assert_str_eq(kc.cert_file, want);
	ck_assert_str_eq(kc.key_file, "/abs/admin.key");
	ck_assert_str_eq(kc.server, "https://files:6443");
	ck_assert_int_eq(kc.insecure_skip_tls_verify, 1);
	ck_assert_str_eq(kc.namespace, "default");
	kc_kubeconfig_close(&kc);
}
END_TEST

START_TEST(token_file_wins_and_falls_back)
{
	kc_kubeconfig kc;
	char err[256], p[256];
	write_file("config", full);
	write_file("tok", "file-token\n");
	snprintf(p, sizeof(p), "%s/config", dir);
	ck_assert_int_eq(kc_kubeconfig_load_file(&kc, p, "tok", err, sizeof(err)), 0);
	ck_assert_str_eq(kc.token, "file-token");
	kc_kubeconfig_close(&kc);
	char tp[256];
	snprintf(tp, sizeof(tp), "%s/tok", dir);
	unlink(tp);
	ck_assert_int_eq(kc_kubeconfig_load_file(&kc, p, "tok", err, sizeof(err)), 0);
	ck_assert_str_eq(kc.token, "inline-token");
	kc_kubeconfig_close(&kc);
}
END_TEST

START_TEST(missing_names_are_clear_errors)
{
	kc_kubeconfig kc;
	char err[256];
	ck_assert_int_eq(kc_kubeconfig_parse(&kc, full, strlen(full), NULL, "cfg", "nope", err,
					     sizeof(err)),
			 KC_ENOTFOUND);
	ck_assert_str_eq(err, "cfg: context \"nope\" does not exist");
	ck_assert_ptr_null(kc.server);
	ck_assert_int_eq(kc_kubeconfig_parse(&kc, full, strlen(full), NULL, "cfg", "ghost", err,
					     sizeof(err)),
			 KC_ENOTFOUND);
	ck_assert_str_eq(err, "cfg: cluster \"nowhere\" (of context \"ghost\") does not exist");
	ck_assert_int_eq(kc_kubeconfig_parse(&kc, full, strlen(full), NULL, "cfg", "nouser", err,
					     sizeof(err)),
			 KC_ENOTFOUND);
	ck_assert(strstr(err, "user \"nobody\"") != NULL);
	const char *nocur = "clusters: []\ncontexts: []\n";
	ck_assert_int_eq(kc_kubeconfig_parse(&kc, nocur, strlen(nocur), NULL, "cfg", NULL, err,
					     sizeof(err)),
			 KC_ENOTFOUND);
	ck_assert_str_eq(err, "cfg: current-context is not set");
	const char *noserver = "clusters:\n- name: c\n  cluster: {}\ncontexts:\n- name: x\n"
			       "  context: {cluster: c}\ncurrent-context: x\n";
	ck_assert_int_eq(kc_kubeconfig_parse(&kc, noserver, strlen(noserver), NULL, "cfg", NULL,
					     err, sizeof(err)),
			 KC_EINVALID);
	ck_assert_str_eq(err, "cfg: cluster \"c\" has no server defined");
}
END_TEST

START_TEST(malformed_yaml_and_values)
{
	kc_kubeconfig kc;
	char err[256];
	const char *bad = "clusters:\n  - name: [unclosed\ncurrent-context: x\n";
	ck_assert_int_eq(kc_kubeconfig_parse(&kc, bad, strlen(bad), NULL, "cfg", NULL, err,
					     sizeof(err)),
			 KC_EPARSE);
	ck_assert(strncmp(err, "cfg: YAML error at line", 23) == 0);
	const char *list = "- a\n- b\n";
	ck_assert_int_eq(kc_kubeconfig_parse(&kc, list, strlen(list), NULL, "cfg", NULL, err,
					     sizeof(err)),
			 KC_EPARSE);
	const char *b64 = "clusters:\n- name: c\n  cluster: {server: 'https://x', "
			  "certificate-authority-data: 'not base64!'}\ncontexts:\n- name: x\n"
			  "  context: {cluster: c}\ncurrent-context: x\n";
	ck_assert_int_eq(kc_kubeconfig_parse(&kc, b64, strlen(b64), NULL, "cfg", NULL, err,
					     sizeof(err)),
			 KC_EPARSE);
	ck_assert(strstr(err, "certificate-authority-data") != NULL);
	const char *boolean = "clusters:\n- name: c\n  cluster: {server: 'https://x', "
			      "insecure-skip-tls-verify: maybe}\ncontexts:\n- name: x\n"
			      "  context: {cluster: c}\ncurrent-context: x\n";
	ck_assert_int_eq(kc_kubeconfig_parse(&kc, boolean, strlen(boolean), NULL, "cfg", NULL, err,
					     sizeof(err)),
			 KC_EPARSE);
	/* Wrong shapes never crash: lists where maps belong and the reverse. */
	const char *shapes = "clusters: {a: b}\nusers: 7\ncontexts:\n- name: x\n  context: [1]\n"
			     "current-context: x\n";
	ck_assert_int_lt(kc_kubeconfig_parse(&kc, shapes, strlen(shapes), NULL, "cfg", NULL, err,
					     sizeof(err)),
			 0);
	ck_assert_int_lt(kc_kubeconfig_parse(&kc, "", 0, NULL, NULL, NULL, NULL, 0), 0);
}
END_TEST

START_TEST(file_resolution_order)
{
	kc_kubeconfig kc;
	char err[256], p[256];
	const char *a = "clusters:\n- name: c\n  cluster: {server: 'https://from-a'}\ncontexts:\n"
			"- name: x\n  context: {cluster: c}\ncurrent-context: x\n";
	const char *b = "clusters:\n- name: c\n  cluster: {server: 'https://from-b'}\ncontexts:\n"
			"- name: x\n  context: {cluster: c}\ncurrent-context: x\n";
	const char *h = "clusters:\n- name: c\n  cluster: {server: 'https://from-home'}\ncontexts:\n"
			"- name: x\n  context: {cluster: c}\ncurrent-context: x\n";
	write_file("a", a);
	write_file("b", b);
	snprintf(p, sizeof(p), "%s/.kube", dir);
	mkdir(p, 0700);
	write_file(".kube/config", h);
	char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
	char *old_kc = getenv("KUBECONFIG") ? strdup(getenv("KUBECONFIG")) : NULL;
	setenv("HOME", dir, 1);
	char env[600];
	snprintf(env, sizeof(env), "%s/b:%s/a", dir, dir);
	setenv("KUBECONFIG", env, 1);

	snprintf(p, sizeof(p), "%s/a", dir);
	ck_assert_int_eq(kc_kubeconfig_load(&kc, p, NULL, err, sizeof(err)), 0);
	ck_assert_str_eq(kc.server, "https://from-a");
	kc_kubeconfig_close(&kc);
	ck_assert_int_eq(kc_kubeconfig_load(&kc, NULL, NULL, err, sizeof(err)), 0);
	ck_assert_str_eq(kc.server, "https://from-b"); /* first of the list */
	kc_kubeconfig_close(&kc);
	unsetenv("KUBECONFIG");
	ck_assert_int_eq(kc_kubeconfig_load(&kc, "", NULL, err, sizeof(err)), 0);
	ck_assert_str_eq(kc.server, "https://from-home");
	kc_kubeconfig_close(&kc);
	snprintf(p, sizeof(p), "%s/missing", dir);
	ck_assert_int_eq(kc_kubeconfig_load(&kc, p, NULL, err, sizeof(err)), -ENOENT);
	ck_assert(strstr(err, "missing") != NULL);

	if (old_home)
		setenv("HOME", old_home, 1);
	if (old_kc)
		setenv("KUBECONFIG", old_kc, 1);
	free(old_home);
	free(old_kc);
}
END_TEST

START_TEST(master_and_kubeconfig_flags)
{
	kc_kubeconfig kc;
	char err[256], p[256];
	write_file("config", full);
	snprintf(p, sizeof(p), "%s/config", dir);
	/* --kubeconfig alone. */
	ck_assert_int_eq(kc_kubeconfig_from_flags(&kc, NULL, p, err, sizeof(err)), 0);
	ck_assert_str_eq(kc.server, "https://10.0.0.1:6443");
	kc_kubeconfig_close(&kc);
	/* --master overrides the server but keeps the credentials. */
	ck_assert_int_eq(kc_kubeconfig_from_flags(&kc, "https://override:1", p, err, sizeof(err)), 0);
	ck_assert_str_eq(kc.server, "https://override:1");
	ck_assert_int_eq(kc.cert_len, 11);
	kc_kubeconfig_close(&kc);
	/* --master alone: no file is read even if $KUBECONFIG points somewhere broken. */
	char *old_kc = getenv("KUBECONFIG") ? strdup(getenv("KUBECONFIG")) : NULL;
	setenv("KUBECONFIG", "/nonexistent/kubeconfig", 1);
	ck_assert_int_eq(kc_kubeconfig_from_flags(&kc, "http://127.0.0.1:8080", "", err, sizeof(err)), 0);
	ck_assert_str_eq(kc.server, "http://127.0.0.1:8080");
	ck_assert_ptr_null(kc.token);
	kc_kubeconfig_close(&kc);
	/* Neither: the default rules, here a missing $KUBECONFIG file. */
	ck_assert_int_eq(kc_kubeconfig_from_flags(&kc, NULL, NULL, err, sizeof(err)), -ENOENT);
	if (old_kc)
		setenv("KUBECONFIG", old_kc, 1);
	else
		unsetenv("KUBECONFIG");
	free(old_kc);
}
END_TEST

START_TEST(from_parts_and_copy)
{
	kc_kubeconfig kc, cp;
	ck_assert_int_eq(kc_kubeconfig_from_parts(&kc, "https://x:6443", "/ca", "c.crt", NULL, "t"), 0);
	ck_assert_str_eq(kc.server, "https://x:6443");
	ck_assert_str_eq(kc.ca_file, "/ca");
	ck_assert(kc.cert_file[0] == '/'); /* made absolute */
	ck_assert_ptr_null(kc.key_file);
	ck_assert_str_eq(kc.token, "t");
	ck_assert_int_eq(kc_kubeconfig_copy(&cp, &kc), 0);
	kc_kubeconfig_close(&kc);
	ck_assert_str_eq(cp.server, "https://x:6443");
	ck_assert_str_eq(cp.token, "t");
	kc_kubeconfig_close(&cp);
	ck_assert_int_eq(kc_kubeconfig_from_parts(&kc, NULL, NULL, NULL, NULL, NULL), -EINVAL);
}
END_TEST

static Suite *kubeconfig_suite(void)
{
	Suite *s = suite_create("kubeconfig");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, current_context_with_data_fields);
	tcase_add_test(tc, relative_paths_resolve_against_file_dir);
	tcase_add_test(tc, token_file_wins_and_falls_back);
	tcase_add_test(tc, missing_names_are_clear_errors);
	tcase_add_test(tc, malformed_yaml_and_values);
	tcase_add_test(tc, file_resolution_order);
	tcase_add_test(tc, master_and_kubeconfig_flags);
	tcase_add_test(tc, from_parts_and_copy);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(kubeconfig_suite)
