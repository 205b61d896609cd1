/* /healthz and /metrics over HTTPS (see server.h). */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "log.h"

struct cm_server {
	struct MHD_Daemon *d;
	cm_server_opts o;
	char *cert, *key;
	int port;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *ctype,
			     char *body)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body,
								 MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", ctype);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	enum MHD_Result ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_size, void **con_cls)
{
	cm_server *s = cls;
	(void)version;
	(void)upload_data;
	if (!*con_cls) {
		*con_cls = s; /* first call: headers only */
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0; /* ignore bodies */
		return MHD_YES;
	}
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply(c, 405, "text/plain; charset=utf-8", strdup("method not allowed\n"));
	if (!strcmp(url, "/healthz") || !strcmp(url, "/readyz") || !strcmp(url, "/livez")) {
		char why[128] = "";
		if (s->o.healthz && s->o.healthz(s->o.arg, why, sizeof(why)) != 0) {
			/* healthz's failure text (reasons withheld from unauthenticated users) */
			char *b = NULL;
			if (asprintf(&b, "[-]%s failed: reason withheld\nhealthz check failed\n",
				     why) < 0)
				return MHD_NO;
			return reply(c, 500, "text/plain; charset=utf-8", b);
		}
		return reply(c, 200, "text/plain; charset=utf-8", strdup("ok"));
	}
	if (!strcmp(url, "/metrics")) {
		char *m = s->o.metrics ? s->o.metrics(s->o.arg) : strdup("");
		if (!m)
			return MHD_NO;
		return reply(c, 200, "text/plain; version=0.0.4; charset=utf-8", m);
	}
	return reply(c, 404, "text/plain; charset=utf-8", strdup("404 page not found\n"));
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	char tmp[4096];
	size_t n;
	while (m && (n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		fwrite(tmp, 1, n, m);
	fclose(f);
	if (m)
		fclose(m);
	return buf;
}

static char *bio_string(BIO *b)
{
	char *p;
	long n = BIO_get_mem_data(b, &p);
	char *s = malloc((size_t)n + 1);
	if (s) {
		memcpy(s, p, (size_t)n);
		s[n] = 0;
	}
	return s;
}

int cm_self_signed(const char *host, char **cert_pem, char **key_pem)
{
	*cert_pem = *key_pem = NULL;
	int rc = -EIO;
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
	if (!pk || !x || !cb || !kb)
		goto out;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL));
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 365L * 24 * 3600);
	X509_set_pubkey(x, pk);
	char cn[300];
	/* upstream's self-signed serving cert names itself "<host>@<unix time>" */
	snprintf(cn, sizeof(cn), "%s@%ld", host, (long)time(NULL));
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, name);
	char san[400];
	snprintf(san, sizeof(san), "DNS:%s,DNS:localhost,IP:127.0.0.1,IP:::1", host);
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
	if (ext) {
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	if (!X509_sign(x, pk, EVP_sha256()) || !PEM_write_bio_X509(cb, x) ||
	    !PEM_write_bio_PrivateKey(kb, pk, NULL, NULL, 0, NULL, NULL))
		goto out;
	*cert_pem = bio_string(cb);
	*key_pem = bio_string(kb);
	rc = *cert_pem && *key_pem ? 0 : -ENOMEM;
	if (rc) {
		free(*cert_pem);
		free(*key_pem);
		*cert_pem = *key_pem = NULL;
	}
out:
	BIO_free(cb);
	BIO_free(kb);
	X509_free(x);
	EVP_PKEY_free(pk);
	return rc;
}

int cm_server_start(const cm_server_opts *opts, cm_server **out, char *err, size_t errlen)
{
	*out = NULL;
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	const char *addr = opts->bind_address && *opts->bind_address ? opts->bind_address :
								       "0.0.0.0";
	if (opts->port <= 0 || opts->port > 65535) {
		snprintf(err, errlen, "invalid port %d", opts->port);
		return -EINVAL;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_TLS;
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)opts->port);
	} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)opts->port);
		flags |= MHD_USE_IPv6;
	} else {
		snprintf(err, errlen, "invalid --bind-address %s: not an IP address", addr);
		return -EINVAL;
	}
	cm_server *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->o = *opts;
	if (opts->cert_file && *opts->cert_file) {
		s->cert = read_file(opts->cert_file);
		s->key = opts->key_file ? read_file(opts->key_file) : NULL;
		if (!s->cert || !s->key) {
			snprintf(err, errlen, "cannot read --tls-cert-file %s / --tls-private-key-file %s",
				 opts->cert_file, opts->key_file ? opts->key_file : "(none)");
			cm_server_stop(s);
			return -EINVAL;
		}
	} else {
		char host[256] = "localhost";
		int r = cm_self_signed(host, &s->cert, &s->key);
		if (r < 0) {
			snprintf(err, errlen, "cannot generate a self-signed certificate");
			cm_server_stop(s);
			return r;
		}
	}
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &ss,
				MHD_OPTION_HTTPS_MEM_KEY, s->key, MHD_OPTION_HTTPS_MEM_CERT,
				s->cert, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
				MHD_OPTION_END);
	if (!s->d) {
		int e = errno ? errno : EADDRINUSE;
		snprintf(err, errlen, "failed to listen on %s:%d: %s", addr, opts->port,
			 strerror(e));
		cm_server_stop(s);
		return -e;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di ? di->port : opts->port;
	s->o.bind_address = NULL;
	s->o.cert_file = s->o.key_file = NULL;
	*out = s;
	return 0;
}

int cm_server_port(cm_server *s)
{
	return s->port;
}

void cm_server_stop(cm_server *s)
{
	if (!s)
		return;
	if (s->d)
		MHD_stop_daemon(s->d);
	free(s->cert);
	free(s->key);
	free(s);
}
