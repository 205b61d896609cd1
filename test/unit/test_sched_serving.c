/* The serving certificate of kube-scheduler's --secure-port (scheduler/serving.c), as
 * upstream's SecureServingOptions: explicit files, --cert-dir reuse, in-memory
 * self-signed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "kc_test.h"
#include "../../scheduler/serving.h"

/* The certificate's SANs as text ("DNS:localhost, IP Address:127.0.0.1, ..."). */
static char *sans(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	ck_assert_ptr_nonnull(x);
	int idx = X509_get_ext_by_NID(x, NID_subject_alt_name, -1);
	ck_assert_int_ge(idx, 0);
	BIO *out = BIO_new(BIO_s_mem());
	X509V3_EXT_print(out, X509_get_ext(x, idx), 0, 0);
	char *data;
	long n = BIO_get_mem_data(out, &data);
	char *s = strndup(data, (size_t)n);
	BIO_free(out);
	X509_free(x);
	BIO_free(b);
	return s;
}

START_TEST(in_memory_self_signed_covers_the_bind_address)
{
	char *crt = NULL, *key = NULL, err[256] = "";
	sched_serving_opts o = { .bind_address = "10.1.2.3" };
	ck_assert_int_eq(sched_serving_cert(&o, &crt, &key, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(crt, "-----BEGIN CERTIFICATE-----"));
	ck_assert_ptr_nonnull(strstr(key, "PRIVATE KEY-----"));
	char *s = sans(crt);
	ck_assert_msg(strstr(s, "DNS:localhost") && strstr(s, "IP Address:127.0.0.1") &&
			      strstr(s, "IP Address:10.1.2.3"),
		      "SANs: %s", s);
	free(s);
	free(crt);
	free(key);
	/* a wildcard bind address is not a name to put in the certificate */
	o.bind_address = "0.0.0.0";
	ck_assert_int_eq(sched_serving_cert(&o, &crt, &key, err, sizeof(err)), 0);
	s = sans(crt);
	ck_assert_ptr_null(strstr(s, "0.0.0.0"));
	free(s);
	free(crt);
	free(key);
}
END_TEST

START_TEST(cert_dir_is_written_once_then_reused)
{
	char dir[] = "/tmp/sched_serving_XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char sub[128], crtp[160], keyp[160];
	snprintf(sub, sizeof(sub), "%s/certs", dir);
	snprintf(crtp, sizeof(crtp), "%s/kube-scheduler.crt", sub);
	snprintf(keyp, sizeof(keyp), "%s/kube-scheduler.key", sub);
	char *c1 = NULL, *k1 = NULL, *c2 = NULL, *k2 = NULL, err[256] = "";
	sched_serving_opts o = { .cert_dir = sub };
	ck_assert_int_eq(sched_serving_cert(&o, &c1, &k1, err, sizeof(err)), 0);
	struct stat st;
	ck_assert_int_eq(stat(keyp, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(stat(crtp, &st), 0);
	/* a restart serves the same pair */
	ck_assert_int_eq(sched_serving_cert(&o, &c2, &k2, err, sizeof(err)), 0);
	ck_assert_str_eq(c1, c2);
	ck_assert_str_eq(k1, k2);
	free(c2);
	free(k2);
	/* explicit files win over --cert-dir */
	sched_serving_opts f = { .cert_file = crtp, .key_file = keyp, .cert_dir = "/nonexistent" };
	ck_assert_int_eq(sched_serving_cert(&f, &c2, &k2, err, sizeof(err)), 0);
	ck_assert_str_eq(c1, c2);
	free(c1);
	free(k1);
	free(c2);
	free(k2);
	unlink(crtp);
	unlink(keyp);
	rmdir(sub);
	rmdir(dir);
}
END_TEST

START_TEST(bad_flags_are_rejected_with_a_reason)
{
	char *crt = (char *)"x", *key = (char *)"y", err[256] = "";
	sched_serving_opts half = { .cert_file = "/any/serving.crt" };
	ck_assert_int_eq(sched_serving_cert(&half, &crt, &key, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(crt);
	ck_assert_ptr_nonnull(strstr(err, "--tls-private-key-file"));
	sched_serving_opts missing = { .cert_file = "/nonexistent/a.crt",
				       .key_file = "/nonexistent/a.key" };
	ck_assert_int_lt(sched_serving_cert(&missing, &crt, &key, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/a.crt"));
	/* a file that is not PEM */
	char path[] = "/tmp/sched_serving_notpem_XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "hello\n", 6), 6);
	close(fd);
	sched_serving_opts notpem = { .cert_file = path, .key_file = path };
	int rc = sched_serving_cert(&notpem, &crt, &key, err, sizeof(err));
	unlink(path);
	ck_assert_int_eq(rc, -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "PEM"));
	ck_assert_ptr_null(crt);
	ck_assert_ptr_null(key);
}
END_TEST

static Suite *sched_serving_suite(void)
{
	Suite *s = suite_create("sched_serving");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, in_memory_self_signed_covers_the_bind_address);
	tcase_add_test(tc, cert_dir_is_written_once_then_reused);
	tcase_add_test(tc, bad_flags_are_rejected_with_a_reason);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(sched_serving_suite)
