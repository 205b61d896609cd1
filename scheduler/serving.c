/* Serving certificate for --secure-port; see serving.h. */
#include "serving.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "errors.h"

/* upstream's PairName for kube-scheduler */
#define PAIR_NAME "kube-scheduler"
#define MAX_PEM (1 << 20)

static char *mem_bio_text(BIO *b)
{
	char *data = NULL;
	long n = BIO_get_mem_data(b, &data);
	if (n < 0)
		return NULL;
	char *s = malloc((size_t)n + 1);
	if (s) {
		memcpy(s, data, (size_t)n);
		s[n] = '\0';
	}
	return s;
}

int sched_serving_self_signed(const char *bind_address, char **cert_pem, char **key_pem)
{
	*cert_pem = *key_pem = NULL;
	int rc = -EIO;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *crt = X509_new();
	BIO *cbio = BIO_new(BIO_s_mem()), *kbio = BIO_new(BIO_s_mem());
	if (!key || !crt || !cbio || !kbio)
		goto done;
	time_t now = time(NULL);
	char cn[64], san[256];
	snprintf(cn, sizeof(cn), "localhost@%lld", (long long)now);
	snprintf(san, sizeof(san), "DNS:localhost,IP:127.0.0.1,IP:::1");
	/* a specific bind address is what clients will dial */
	struct in6_addr a6;
	struct in_addr a4;
	if (bind_address && *bind_address && strcmp(bind_address, "0.0.0.0") != 0 &&
	    strcmp(bind_address, "::") != 0 && strcmp(bind_address, "127.0.0.1") != 0 &&
	    (inet_pton(AF_INET, bind_address, &a4) == 1 ||
	     inet_pton(AF_INET6, bind_address, &a6) == 1))
		snprintf(san + strlen(san), sizeof(san) - strlen(san), ",IP:%s", bind_address);
	X509_NAME *subj = X509_get_subject_name(crt);
	if (!X509_set_version(crt, 2) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(crt), (long)now) ||
	    !X509_gmtime_adj(X509_getm_notBefore(crt), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(crt), 365L * 24 * 3600) ||
	    !X509_set_pubkey(crt, key) ||
	    !X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1,
					-1, 0) ||
	    !X509_set_issuer_name(crt, subj))
		goto done;
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, crt, crt, NULL, NULL, 0);
	static const struct {
		int nid;
		const char *value;
	} exts[] = {
		{ NID_key_usage, "critical,digitalSignature,keyEncipherment" },
		{ NID_ext_key_usage, "serverAuth" },
		{ NID_basic_constraints, "critical,CA:FALSE" },
	};
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]) + 1; i++) {
		int nid = i < sizeof(exts) / sizeof(exts[0]) ? exts[i].nid : NID_subject_alt_name;
		const char *v = i < sizeof(exts) / sizeof(exts[0]) ? exts[i].value : san;
		X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, v);
		int ok = ext && X509_add_ext(crt, ext, -1);
		X509_EXTENSION_free(ext);
		if (!ok)
			goto done;
	}
	if (!X509_sign(crt, key, EVP_sha256()) || !PEM_write_bio_X509(cbio, crt) ||
	    !PEM_write_bio_PrivateKey(kbio, key, NULL, NULL, 0, NULL, NULL))
		goto done;
	*cert_pem = mem_bio_text(cbio);
	*key_pem = mem_bio_text(kbio);
	rc = 0;
	if (!*cert_pem || !*key_pem) {
		free(*cert_pem);
		free(*key_pem);
		*cert_pem = *key_pem = NULL;
		rc = -ENOMEM;
	}
done:
	BIO_free(cbio);
	BIO_free(kbio);
	X509_free(crt);
	EVP_PKEY_free(key);
	return rc;
}

/* Read a whole PEM file (at most MAX_PEM bytes). */
static int read_pem(const char *path, char **out, char *err, size_t errlen)
{
	*out = NULL;
	FILE *f = fopen(path, "r");
	if (!f) {
		int e = errno;
		snprintf(err, errlen, "open %s: %s", path, strerror(e));
		return -e;
	}
	char *buf = malloc(MAX_PEM + 1);
	size_t n = buf ? fread(buf, 1, MAX_PEM + 1, f) : 0;
	int bad = ferror(f);
	fclose(f);
	if (!buf)
		return -ENOMEM;
	if (bad || n > MAX_PEM || n == 0) {
		snprintf(err, errlen, "read %s: %s", path,
			 bad ? "I/O error" : n == 0 ? "empty file" : "larger than 1 MiB");
		free(buf);
		return -EINVAL;
	}
	buf[n] = '\0';
	if (!strstr(buf, "-----BEGIN ")) {
		snprintf(err, errlen, "%s: no PEM block", path);
		free(buf);
		return -EINVAL;
	}
	*out = buf;
	return 0;
}

static int write_file(const char *path, const char *data, mode_t mode, char *err,
		      size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "create %s: %s", path, strerror(e));
		return -e;
	}
	size_t len = strlen(data), off = 0;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = w < 0 ? errno : EIO;
			close(fd);
			snprintf(err, errlen, "write %s: %s", path, strerror(e));
			return -e;
		}
		off += (size_t)w;
	}
	if (close(fd) != 0) {
		int e = errno;
		snprintf(err, errlen, "close %s: %s", path, strerror(e));
		return -e;
	}
	return 0;
}

static int load_pair(const char *cert, const char *key, char **cert_pem, char **key_pem,
		     char *err, size_t errlen)
{
	int rc = read_pem(cert, cert_pem, err, errlen);
	if (rc == 0 && (rc = read_pem(key, key_pem, err, errlen)) != 0) {
		free(*cert_pem);
		*cert_pem = NULL;
	}
	return rc;
}

int sched_serving_cert(const sched_serving_opts *o, char **cert_pem, char **key_pem,
		       char *err, size_t errlen)
{
	*cert_pem = *key_pem = NULL;
	bool has_cert = o->cert_file && *o->cert_file, has_key = o->key_file && *o->key_file;
	if (has_cert != has_key) {
		/* upstream: "... both --tls-cert-file and --tls-private-key-file" */
		snprintf(err, errlen, "--tls-cert-file and --tls-private-key-file must be given "
				      "together");
		return -EINVAL;
	}
	if (has_cert)
		return load_pair(o->cert_file, o->key_file, cert_pem, key_pem, err, errlen);
	int rc;
	if (!o->cert_dir || !*o->cert_dir) {
		rc = sched_serving_self_signed(o->bind_address, cert_pem, key_pem);
		if (rc != 0)
			snprintf(err, errlen, "generating a self-signed certificate: %s",
				 kc_strerror(rc));
		return rc;
	}
	char crt[4096], key[4096];
	if (snprintf(crt, sizeof(crt), "%s/%s.crt", o->cert_dir, PAIR_NAME) >= (int)sizeof(crt) ||
	    snprintf(key, sizeof(key), "%s/%s.key", o->cert_dir, PAIR_NAME) >= (int)sizeof(key)) {
		snprintf(err, errlen, "--cert-dir %s: path too long", o->cert_dir);
		return -ENAMETOOLONG;
	}
	if (access(crt, F_OK) == 0 && access(key, F_OK) == 0)
		return load_pair(crt, key, cert_pem, key_pem, err, errlen);
	if (mkdir(o->cert_dir, 0755) != 0 && errno != EEXIST) {
		int e = errno;
		snprintf(err, errlen, "create --cert-dir %s: %s", o->cert_dir, strerror(e));
		return -e;
	}
	if ((rc = sched_serving_self_signed(o->bind_address, cert_pem, key_pem)) != 0) {
		snprintf(err, errlen, "generating a self-signed certificate: %s", kc_strerror(rc));
		return rc;
	}
	if ((rc = write_file(crt, *cert_pem, 0644, err, errlen)) != 0 ||
	    (rc = write_file(key, *key_pem, 0600, err, errlen)) != 0) {
		free(*cert_pem);
		free(*key_pem);
		*cert_pem = *key_pem = NULL;
	}
	return rc;
}
