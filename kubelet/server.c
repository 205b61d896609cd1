/* The kubelet server; see server.h. */
#include "server.h"

/* paths are bounded by PATH_MAX; a longer one is cut and then fails to open */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cri_log.h"
#include "errors.h"
#include "json.h"
#include "log.h"
#include "streaming.h"
#include "websocket.h"

struct ksrv {
	struct MHD_Daemon *tls, *plain;
	pw_manager *pods;
	char node_name[256];
	int anonymous;
	int always_allow;
	char *cert_pem, *key_pem, *ca_pem;
	atomic_int stopping;
	pthread_mutex_t jobs_mu;      /* the live exec/attach bridges */
	pthread_cond_t jobs_cv;
	struct stream_job *jobs;
};

static char *read_file(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
		return NULL;
	}
	char *buf = NULL;
	size_t n = 0, cap = 0;
	char tmp[4096];
	size_t r;
	while ((r = fread(tmp, 1, sizeof(tmp), f)) > 0) {
		if (n + r + 1 > cap) {
			cap = (n + r + 1) * 2;
			char *nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				snprintf(err, errlen, "out of memory");
				return NULL;
			}
			buf = nb;
		}
		memcpy(buf + n, tmp, r);
		n += r;
		if (n > (1 << 20))
			break;
	}
	fclose(f);
	if (!buf) {
		snprintf(err, errlen, "%s is empty", path);
		return NULL;
	}
	buf[n] = 0;
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

/* A self-signed serving certificate for the host name and node IP, as the kubelet makes
 * when no tlsCertFile is configured (cert.GenerateSelfSignedCertKey; CN
 * "<host>@<unix time>", one year). */
static int generate_cert(const char *host, const char *ip, char **cert_pem, char **key_pem, char *err, size_t errlen)
{
	int rc = -EPROTO;
	EVP_PKEY *pkey = EVP_RSA_gen(2048);
	X509 *x = X509_new();
	BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
	if (!pkey || !x || !cb || !kb) {
		snprintf(err, errlen, "generate a serving key: out of memory");
		goto out;
	}
	X509_set_version(x, 2);
	unsigned char serial[8];
	RAND_bytes(serial, sizeof(serial));
	serial[0] &= 0x7f;
	BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	BN_free(bn);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 365L * 24 * 3600);
	X509_set_pubkey(x, pkey);
	char cn[320];
	snprintf(cn, sizeof(cn), "%s@%lld", host, (long long)time(NULL));
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, name);
	char san[512];
	snprintf(san, sizeof(san), "DNS:%s%s%s", host, ip && ip[0] ? ",IP:" : "", ip && ip[0] ? ip : "");
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	const char *exts[][2] = { { "subjectAltName", san },
				  { "keyUsage", "critical,digitalSignature,keyEncipherment,keyCertSign" },
				  { "extendedKeyUsage", "serverAuth" },
				  { "basicConstraints", "critical,CA:TRUE" } };
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		X509_EXTENSION *e = X509V3_EXT_conf(NULL, &ctx, exts[i][0], exts[i][1]);
		if (!e) {
			snprintf(err, errlen, "certificate extension %s=%s refused", exts[i][0], exts[i][1]);
			goto out;
		}
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	if (!X509_sign(x, pkey, EVP_sha256())) {
		snprintf(err, errlen, "sign the serving certificate failed");
		goto out;
	}
	PEM_write_bio_X509(cb, x);
	PEM_write_bio_PrivateKey(kb, pkey, NULL, NULL, 0, NULL, NULL);
	*cert_pem = bio_string(cb);
	*key_pem = bio_string(kb);
	rc = *cert_pem && *key_pem ? 0 : -ENOMEM;
out:
	BIO_free(cb);
	BIO_free(kb);
	X509_free(x);
	EVP_PKEY_free(pkey);
	return rc;
}

static int write_private(const char *path, const char *data, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	size_t len = strlen(data);
	ssize_t w = write(fd, data, len);
	close(fd);
	return w == (ssize_t)len ? 0 : -EIO;
}

/* ---- query parsing ---- */

/* strconv.ParseBool */
static int parse_bool(const char *s, int *out)
{
	static const char *const t[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const f[] = { "0", "f", "F", "FALSE", "false", "False" };
	for (size_t i = 0; i < 6; i++) {
		if (!strcmp(s, t[i])) {
			*out = 1;
			return 0;
		}
		if (!strcmp(s, f[i])) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

static int parse_int64(const char *s, int64_t *out)
{
	if (!s[0])
		return -1;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (*end || errno)
		return -1;
	*out = v;
	return 0;
}

int ksrv_parse_log_query(const char *(*get)(void *arg, const char *name), void *arg, int64_t now_ns,
			 ksrv_log_query *q, char *msg, size_t msglen)
{
	memset(q, 0, sizeof(*q));
	q->tail_lines = -1;
	q->limit_bytes = -1;
	const char *bad = "{\"message\": \"Unable to decode query.\"}";
	const char *invalid = "{\"message\": \"Invalid request.\"}";
	const char *v;
	int *bools[] = { &q->follow, &q->timestamps, &q->previous };
	const char *bnames[] = { "follow", "timestamps", "previous" };
	for (int i = 0; i < 3; i++) {
		v = get(arg, bnames[i]);
		if (v && v[0] && parse_bool(v, bools[i]) < 0) {
			snprintf(msg, msglen, "%s", bad);
			return 400;
		}
	}
	/* the legacy "tail" parameter: "all" or a count */
	const char *tail = get(arg, "tail");
	v = get(arg, "tailLines");
	if (tail && tail[0])
		v = strcmp(tail, "all") ? tail : NULL;
	if (v && v[0]) {
		if (parse_int64(v, &q->tail_lines) < 0) {
			snprintf(msg, msglen, "%s", bad);
			return 400;
		}
		if (q->tail_lines < 0) {
			snprintf(msg, msglen, "%s", invalid);
			return 422;
		}
	}
	v = get(arg, "limitBytes");
	if (v && v[0]) {
		if (parse_int64(v, &q->limit_bytes) < 0) {
			snprintf(msg, msglen, "%s", bad);
			return 400;
		}
		if (q->limit_bytes < 1) {
			snprintf(msg, msglen, "%s", invalid);
			return 422;
		}
	}
	const char *ss = get(arg, "sinceSeconds"), *st = get(arg, "sinceTime");
	if (ss && ss[0] && st && st[0]) {
		snprintf(msg, msglen, "%s", invalid);
		return 422;
	}
	if (ss && ss[0]) {
		int64_t s;
		if (parse_int64(ss, &s) < 0) {
			snprintf(msg, msglen, "%s", bad);
			return 400;
		}
		if (s < 1) {
			snprintf(msg, msglen, "%s", invalid);
			return 422;
		}
		q->since_ns = now_ns - s * 1000000000LL;
	}
	if (st && st[0]) {
		q->since_ns = crilog_parse_time(st, strlen(st));
		if (q->since_ns < 0) {
			snprintf(msg, msglen, "%s", bad);
			return 400;
		}
	}
	return 0;
}

/* ---- responses ---- */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, const char *ctype, const char *body)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", ctype);
	enum MHD_Result ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned code, const char *body)
{
	return reply(conn, code, "text/plain; charset=utf-8", body);
}

/* ---- containerLogs ---- */

typedef struct log_stream {
	ksrv *s;
	crilog_reader r;
	int follow;
	int fd;                  /* the client socket: a follower that went away */
	char uid[64], container[64];
	int attempt;
} log_stream;

static void log_stream_free(void *cls)
{
	log_stream *ls = cls;
	crilog_reader_close(&ls->r);
	free(ls);
}

static int client_gone(int fd)
{
	if (fd < 0)
		return 0;
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };
	return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* Thread-per-connection: the callback may wait for the file to grow. */
static ssize_t log_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	log_stream *ls = cls;
	for (;;) {
		ssize_t n = crilog_reader_read(&ls->r, buf, max);
		if (n > 0)
			return n;
		if (n < 0)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (!ls->follow || atomic_load(&ls->s->stopping))
			return MHD_CONTENT_READER_END_OF_STREAM;
		/* follow: until the instance stops running and the file is drained
		 * (upstream waits on fsnotify and checks the container's state) */
		if (!pw_instance_running(ls->s->pods, ls->uid, ls->container, ls->attempt)) {
			n = crilog_reader_read(&ls->r, buf, max);
			return n > 0 ? n : MHD_CONTENT_READER_END_OF_STREAM;
		}
		if (client_gone(ls->fd))
			return MHD_CONTENT_READER_END_WITH_ERROR;
		struct timespec ts = { 0, 100 * 1000000L };
		nanosleep(&ts, NULL);
	}
}

static const char *conn_arg(void *arg, const char *name)
{
	return MHD_lookup_connection_value((struct MHD_Connection *)arg, MHD_GET_ARGUMENT_KIND, name);
}

/* The first three '/'-separated segments of rest ("" when missing; cut at 255 bytes). */
static void split_path(const char *rest, char seg[3][256])
{
	int n = 0;
	for (int i = 0; i < 3; i++)
		seg[i][0] = 0;
	for (const char *p = rest; *p && n < 3;) {
		const char *e = strchr(p, '/');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l >= 256)
			l = 255;
		memcpy(seg[n], p, l);
		seg[n][l] = 0;
		n++;
		p += e ? (size_t)(e - p) + 1 : strlen(p);
	}
}

/* /containerLogs/{ns}/{pod}/{container} */
static enum MHD_Result container_logs(ksrv *s, struct MHD_Connection *conn, const char *rest)
{
	char seg[3][256];
	split_path(rest, seg);
	if (!seg[1][0])
		return reply_text(conn, 400, "{\"message\": \"Missing podID.\"}");
	if (!seg[2][0])
		return reply_text(conn, 400, "{\"message\": \"Missing container name.\"}");
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	ksrv_log_query q;
	char msg[512];
	int code = ksrv_parse_log_query(conn_arg, conn, (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec, &q, msg,
					sizeof(msg));
	if (code)
		return reply_text(conn, (unsigned)code, msg);
	pw_log_target t;
	int http;
	if (pw_log_target_get(s->pods, seg[0], seg[1], seg[2], q.previous, &t, &http, msg, sizeof(msg)) < 0)
		return reply_text(conn, (unsigned)http, msg);
	log_stream *ls = calloc(1, sizeof(*ls));
	if (!ls)
		return MHD_NO;
	ls->s = s;
	ls->follow = q.follow && !q.previous;
	snprintf(ls->uid, sizeof(ls->uid), "%s", t.uid);
	snprintf(ls->container, sizeof(ls->container), "%s", seg[2]);
	ls->attempt = t.attempt;
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	ls->fd = ci ? ci->connect_fd : -1;
	crilog_opts o = { .tail_lines = q.tail_lines, .since_ns = q.since_ns, .limit_bytes = q.limit_bytes,
			  .timestamps = q.timestamps };
	int rc = crilog_reader_open(&ls->r, t.path, &o);
	if (rc < 0) {
		free(ls);
		/* a container that has not written yet has no file: no output */
		if (rc == -ENOENT)
			return reply_text(conn, 200, "");
		snprintf(msg, sizeof(msg), "failed to open log file \"%s\": %s", t.path, strerror(-rc));
		return reply_text(conn, 500, msg);
	}
	struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, log_read, ls,
								   log_stream_free);
	if (!r) {
		log_stream_free(ls);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "text/plain");
	enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* ---- exec / attach (streaming.h) ---- */

typedef struct cmd_args {
	const char *v[256];
	size_t n;
} cmd_args;

static enum MHD_Result collect_command(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	cmd_args *a = cls;
	if (key && !strcmp(key, "command") && value && a->n < sizeof(a->v) / sizeof(a->v[0]))
		a->v[a->n++] = value;
	return MHD_YES;
}

typedef struct stream_job {
	ksrv *s;
	int tunnel;        /* port-forward: kst_tunnel, else kst_bridge */
	char *url;
	kst_opts o;
	int fd;
	uint8_t *extra;
	size_t extra_len;
	struct MHD_UpgradeResponseHandle *urh;
	struct stream_job *next;
} stream_job;

/* Live bridges: MHD must not be stopped while upgraded connections are open, so
 * ksrv_stop shuts their sockets and waits for them. */
static void job_register(stream_job *j)
{
	pthread_mutex_lock(&j->s->jobs_mu);
	j->next = j->s->jobs;
	j->s->jobs = j;
	pthread_mutex_unlock(&j->s->jobs_mu);
}

static void job_unregister(stream_job *j)
{
	ksrv *s = j->s;
	pthread_mutex_lock(&s->jobs_mu);
	for (stream_job **pp = &s->jobs; *pp; pp = &(*pp)->next) {
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	}
	pthread_cond_broadcast(&s->jobs_cv);
	pthread_mutex_unlock(&s->jobs_mu);
}

static void *stream_thread(void *arg)
{
	stream_job *j = arg;
	if (j->tunnel)
		kst_tunnel(j->fd, j->extra, j->extra_len, j->url);
	else
		kst_bridge(j->fd, j->extra, j->extra_len, j->url, &j->o);
	MHD_upgrade_action(j->urh, MHD_UPGRADE_ACTION_CLOSE);
	job_unregister(j);
	free(j->url);
	free(j->extra);
	free(j);
	return NULL;
}

/* Called by MHD once the 101 went out: the bridge runs on its own thread so that MHD's
 * connection thread can go on relaying TLS for the upgraded socket. */
static void on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra_in,
		       size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
	(void)conn;
	(void)con_cls;
	stream_job *j = cls;
	j->fd = sock;
	j->urh = urh;
	if (extra_in_size) {
		j->extra = malloc(extra_in_size);
		if (j->extra) {
			memcpy(j->extra, extra_in, extra_in_size);
			j->extra_len = extra_in_size;
		}
	}
	job_register(j);
	pthread_t th;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &at, stream_thread, j) != 0) {
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		job_unregister(j);
		free(j->url);
		free(j->extra);
		free(j);
	}
	pthread_attr_destroy(&at);
}

/* The upgrade headers of an exec/attach/portForward request: -1 with why set (400), 0 for
 * a non-WebSocket upgrade (SPDY), 1 for a WebSocket handshake with accept and the chosen
 * subprotocol (one of protos, in the client's order, as wsstream) filled. */
static int upgrade_handshake(struct MHD_Connection *conn, const char *const *protos, size_t nprotos,
			     char accept[KC_WS_ACCEPT_LEN], char *proto, size_t protolen, char *why, size_t whylen)
{
	const char *upgrade = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Upgrade");
	const char *connection = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Connection");
	if (!upgrade || !kc_ws_header_has_token(connection, "upgrade")) {
		snprintf(why, whylen, "unable to upgrade: missing upgrade headers in request");
		return -1;
	}
	if (!kc_ws_header_has_token(upgrade, "websocket"))
		return 0;
	const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Key");
	const char *wsv = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Version");
	if (!wsv || strcmp(wsv, "13") || kc_ws_accept(key, accept) < 0) {
		snprintf(why, whylen, "websocket: not a websocket handshake: bad Sec-WebSocket-Key or version");
		return -1;
	}
	const char *offer = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Protocol");
	if (kc_ws_pick_protocol(offer, protos, nprotos, proto, protolen) < 0) {
		size_t o = (size_t)snprintf(why, whylen, "requested protocol(s) are not supported: [%s]; supports [",
					    offer ? offer : "");
		for (size_t i = 0; i < nprotos && o < whylen; i++)
			o += (size_t)snprintf(why + o, whylen - o, "%s%s", i ? " " : "", protos[i]);
		if (o < whylen)
			snprintf(why + o, whylen - o, "]");
		return -1;
	}
	return 1;
}

/* /exec/{ns}/{pod}/{container}?command=..&stdin=1&stdout=1&stderr=1&tty=1 and
 * /attach/{ns}/{pod}/{container}?... as server.go getExec/getAttach: the options
 * (remotecommand NewOptions: "1" is true), the runtime's URL, then the upgrade. */
static enum MHD_Result stream_request(ksrv *s, struct MHD_Connection *conn, const char *rest, int exec)
{
	char seg[3][256];
	split_path(rest, seg);
	if (!seg[0][0] || !seg[1][0] || !seg[2][0])
		return reply_text(conn, 404, "404 page not found\n");
	kst_opts o = { 0 };
	const char *v;
	o.tty = (v = conn_arg(conn, "tty")) && !strcmp(v, "1");
	o.in = (v = conn_arg(conn, "stdin")) && !strcmp(v, "1");
	o.out = (v = conn_arg(conn, "stdout")) && !strcmp(v, "1");
	o.err = (v = conn_arg(conn, "stderr")) && !strcmp(v, "1");
	if (o.tty && o.err)
		o.err = 0; /* upstream: "Access to exec with tty and stderr is not supported, bypassing stderr" */
	if (!o.in && !o.out && !o.err)
		return reply_text(conn, 400, "you must specify at least 1 of stdin, stdout, stderr");
	cmd_args args = { .n = 0 };
	if (exec) {
		MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_command, &args);
		if (!args.n)
			return reply_text(conn, 400, "you must specify at least one command for the container");
	}
	/* SPDY is refused only after the pod and container resolved, so that kubectl, which
	 * retries with SPDY when the WebSocket upgrade failed, prints the real reason */
	static const char *const protos[] = { KST_PROTO_V5, KST_PROTO_V4 };
	char accept[KC_WS_ACCEPT_LEN], proto[64] = "", why[600];
	int websocket = upgrade_handshake(conn, protos, 2, accept, proto, sizeof(proto), why, sizeof(why));
	if (websocket < 0)
		return reply_text(conn, 400, why);
	o.v5 = !strcmp(proto, KST_PROTO_V5);
	char msg[1024];
	char *url = NULL;
	int code = kst_resolve(s->pods, seg[0], seg[1], seg[2], exec ? args.v : NULL, args.n, &o, &url, msg,
			       sizeof(msg));
	if (code) {
		kc_log_v(2, "%s %s/%s/%s: %s", exec ? "exec" : "attach", seg[0], seg[1], seg[2], msg);
		return reply_text(conn, (unsigned)code, msg);
	}
	if (!websocket) {
		free(url);
		return reply_text(conn, 400, "unable to upgrade: this kubelet streams exec and attach over WebSocket "
					     "(v5.channel.k8s.io, v4.channel.k8s.io) only, not SPDY");
	}
	stream_job *j = calloc(1, sizeof(*j));
	if (!j) {
		free(url);
		return reply_text(conn, 500, "out of memory");
	}
	j->s = s;
	j->url = url;
	j->o = o;
	struct MHD_Response *r = MHD_create_response_for_upgrade(on_upgrade, j);
	if (!r) {
		free(url);
		free(j);
		return reply_text(conn, 500, "cannot upgrade the connection");
	}
	MHD_add_response_header(r, "Upgrade", "websocket");
	MHD_add_response_header(r, "Sec-WebSocket-Accept", accept);
	MHD_add_response_header(r, "Sec-WebSocket-Protocol", proto);
	kc_log_v(2, "%s %s/%s/%s: streaming (%s)", exec ? "exec" : "attach", seg[0], seg[1], seg[2], proto);
	enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, r);
	MHD_destroy_response(r);
	return ret;
}

typedef struct port_args {
	int32_t v[64];
	size_t n;
	int bad;
} port_args;

static enum MHD_Result collect_port(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	port_args *a = cls;
	if (!key || strcmp(key, "port"))
		return MHD_YES;
	char *end = NULL;
	long p = value ? strtol(value, &end, 10) : 0;
	if (!value || !value[0] || *end || p < 1 || p > 65535)
		a->bad = 1;
	else if (a->n < sizeof(a->v) / sizeof(a->v[0]))
		a->v[a->n++] = (int32_t)p;
	return MHD_YES;
}

/* /portForward/{ns}/{pod}?port=..: only kubectl's WebSocket tunnel of SPDY
 * (KST_PROTO_PORTFORWARD) is served; see streaming.h. */
static enum MHD_Result portforward_request(ksrv *s, struct MHD_Connection *conn, const char *rest)
{
	char ns[256] = "", pod[256] = "";
	const char *slash = strchr(rest, '/');
	if (!slash || slash == rest || (size_t)(slash - rest) >= sizeof(ns) || !slash[1] ||
	    strlen(slash + 1) >= sizeof(pod) || strchr(slash + 1, '/'))
		return reply_text(conn, 404, "404 page not found\n");
	memcpy(ns, rest, (size_t)(slash - rest));
	snprintf(pod, sizeof(pod), "%s", slash + 1);
	port_args ports = { .n = 0 };
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_port, &ports);
	if (ports.bad)
		return reply_text(conn, 400, "invalid port in the request");
	static const char *const protos[] = { KST_PROTO_PORTFORWARD };
	char accept[KC_WS_ACCEPT_LEN], proto[64] = "", why[600];
	int websocket = upgrade_handshake(conn, protos, 1, accept, proto, sizeof(proto), why, sizeof(why));
	if (websocket < 0)
		return reply_text(conn, 400, why);
	char msg[1024];
	char *url = NULL;
	int code = kst_resolve_portforward(s->pods, ns, pod, ports.v, ports.n, &url, msg, sizeof(msg));
	if (code) {
		kc_log_v(2, "portForward %s/%s: %s", ns, pod, msg);
		return reply_text(conn, (unsigned)code, msg);
	}
	if (!websocket) {
		free(url);
		return reply_text(conn, 400, "unable to upgrade: this kubelet serves port-forward as SPDY tunneled over "
					     "WebSocket (" KST_PROTO_PORTFORWARD ") only");
	}
	stream_job *j = calloc(1, sizeof(*j));
	if (!j) {
		free(url);
		return reply_text(conn, 500, "out of memory");
	}
	j->s = s;
	j->tunnel = 1;
	j->url = url;
	struct MHD_Response *r = MHD_create_response_for_upgrade(on_upgrade, j);
	if (!r) {
		free(url);
		free(j);
		return reply_text(conn, 500, "cannot upgrade the connection");
	}
	MHD_add_response_header(r, "Upgrade", "websocket");
	MHD_add_response_header(r, "Sec-WebSocket-Accept", accept);
	MHD_add_response_header(r, "Sec-WebSocket-Protocol", proto);
	kc_log_v(2, "portForward %s/%s: tunneling (%s)", ns, pod, proto);
	enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, r);
	MHD_destroy_response(r);
	return ret;
}

/* ---- authentication ---- */

/* 1 authenticated by certificate, 0 anonymous, -1 a certificate that does not verify */
static int authenticate(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (!ci || !ci->tls_session)
		return 0;
	gnutls_session_t sess = (gnutls_session_t)ci->tls_session;
	unsigned int count = 0;
	const gnutls_datum_t *certs = gnutls_certificate_get_peers(sess, &count);
	if (!certs || count == 0)
		return 0;
	unsigned int status = 0;
	if (gnutls_certificate_verify_peers2(sess, &status) < 0 || status != 0)
		return -1;
	return 1;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	(void)version;
	(void)upload_data;
	ksrv *s = cls;
	if (!*con_cls) {
		/* first call: headers only; answer on the next one (bodies are ignored) */
		*con_cls = (void *)1;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (!strcmp(url, "/healthz"))
		return reply_text(conn, 200, "ok");
	int who = authenticate(conn);
	if (who < 0 || (who == 0 && !s->anonymous)) {
		kc_log_v(3, "kubelet server: unauthorized %s %s", method, url);
		return reply_text(conn, 401, "Unauthorized");
	}
	if (who == 0 && !s->always_allow) {
		char m[512];
		snprintf(m, sizeof(m), "Forbidden (user=system:anonymous, verb=get, resource=nodes, subresource(s)=[%s])\n",
			 !strncmp(url, "/containerLogs/", 15) ? "log" : !strncmp(url, "/metrics", 8) ? "metrics" : "proxy");
		return reply_text(conn, 403, m);
	}
	if (!strcmp(url, "/pods") || !strcmp(url, "/pods/")) {
		cJSON *list = pw_pod_list(s->pods);
		char *txt = list ? kc_json_print(list) : NULL;
		cJSON_Delete(list);
		if (!txt)
			return reply_text(conn, 500, "out of memory");
		enum MHD_Result r = reply(conn, 200, "application/json", txt);
		free(txt);
		return r;
	}
	if (!strncmp(url, "/containerLogs/", 15))
		return container_logs(s, conn, url + 15);
	if (!strcmp(url, "/metrics") || !strcmp(url, "/metrics/resource")) {
		char *txt = url[8] ? ksrv_metrics_resource_text(s->pods, "/proc", "/sys/fs/cgroup")
				   : ksrv_metrics_text(s->pods, s->node_name);
		if (!txt)
			return reply_text(conn, 500, "out of memory");
		/* the Prometheus text exposition format client_golang serves */
		enum MHD_Result r = reply(conn, 200, "text/plain; version=0.0.4; charset=utf-8", txt);
		free(txt);
		return r;
	}
	if (!strncmp(url, "/exec/", 6))
		return stream_request(s, conn, url + 6, 1);
	if (!strncmp(url, "/attach/", 8))
		return stream_request(s, conn, url + 8, 0);
	if (!strncmp(url, "/portForward/", 13))
		return portforward_request(s, conn, url + 13);
	static const char *const streaming[] = { "/run/" };
	for (size_t i = 0; i < 1; i++) {
		if (!strncmp(url, streaming[i], strlen(streaming[i]))) {
			char m[256];
			snprintf(m, sizeof(m), "%.*s is not supported by this kubelet yet",
				 (int)strlen(streaming[i]) - 2, streaming[i] + 1);
			return reply_text(conn, 501, m);
		}
	}
	return reply_text(conn, 404, "404 page not found\n");
}

static enum MHD_Result on_healthz(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	(void)cls;
	(void)method;
	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;
	if (!strcmp(url, "/healthz"))
		return reply_text(conn, 200, "ok");
	return reply_text(conn, 404, "404 page not found\n");
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char buf[512];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	size_t l = strlen(buf);
	while (l > 0 && buf[l - 1] == '\n')
		buf[--l] = 0;
	kc_log_v(4, "kubelet server: %s", buf);
}

static int sockaddr_of(const char *addr, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	if (!addr || !addr[0])
		addr = "0.0.0.0";
	if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*len = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a6);
		return 0;
	}
	return -EINVAL;
}

int ksrv_start(const ksrv_config *cfg, ksrv **out, char *err, size_t errlen)
{
	ksrv *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->jobs_mu, NULL);
	pthread_cond_init(&s->jobs_cv, NULL);
	s->pods = cfg->pods;
	snprintf(s->node_name, sizeof(s->node_name), "%s", cfg->node_name ? cfg->node_name : "");
	s->anonymous = cfg->anonymous;
	s->always_allow = cfg->authorization_mode && !strcmp(cfg->authorization_mode, "AlwaysAllow");
	int rc = 0;
	if (cfg->port > 0) {
		if (cfg->tls_cert_file && cfg->tls_cert_file[0]) {
			s->cert_pem = read_file(cfg->tls_cert_file, err, errlen);
			s->key_pem = s->cert_pem ? read_file(cfg->tls_key_file ? cfg->tls_key_file : "", err, errlen) : NULL;
			if (!s->cert_pem || !s->key_pem) {
				rc = -ENOENT;
				goto fail;
			}
		} else {
			/* upstream: <cert-dir>/kubelet.crt and kubelet.key, made once and reused */
			char dir[PATH_MAX], cp[PATH_MAX], kp[PATH_MAX];
			snprintf(dir, sizeof(dir), "%s/pki", cfg->root_dir && cfg->root_dir[0] ? cfg->root_dir : "/var/lib/kubelet");
			snprintf(cp, sizeof(cp), "%s/kubelet.crt", dir);
			snprintf(kp, sizeof(kp), "%s/kubelet.key", dir);
			char e2[256];
			s->cert_pem = read_file(cp, e2, sizeof(e2));
			s->key_pem = s->cert_pem ? read_file(kp, e2, sizeof(e2)) : NULL;
			if (!s->cert_pem || !s->key_pem) {
				free(s->cert_pem);
				free(s->key_pem);
				s->cert_pem = s->key_pem = NULL;
				rc = generate_cert(cfg->node_name, cfg->node_ip, &s->cert_pem, &s->key_pem, err, errlen);
				if (rc < 0)
					goto fail;
				mkdir(cfg->root_dir && cfg->root_dir[0] ? cfg->root_dir : "/var/lib/kubelet", 0750);
				mkdir(dir, 0700);
				if (write_private(cp, s->cert_pem, 0644) < 0 || write_private(kp, s->key_pem, 0600) < 0)
					kc_warn("could not keep the generated serving certificate in %s", dir);
				else
					kc_info("\"Generated self-signed cert\" certFile=\"%s\" keyFile=\"%s\"", cp, kp);
			}
		}
		if (cfg->client_ca_file && cfg->client_ca_file[0]) {
			s->ca_pem = read_file(cfg->client_ca_file, err, errlen);
			if (!s->ca_pem) {
				rc = -ENOENT;
				goto fail;
			}
		}
		if (!s->always_allow)
			kc_warn("authorization mode %s: SubjectAccessReview is not available from kubec's apiserver; "
				"clients with a valid certificate are allowed, anonymous ones are forbidden",
				cfg->authorization_mode ? cfg->authorization_mode : "");
		struct sockaddr_storage ss;
		socklen_t sl;
		if (sockaddr_of(cfg->address, cfg->port, &ss, &sl) < 0) {
			snprintf(err, errlen, "invalid address %s", cfg->address);
			rc = -EINVAL;
			goto fail;
		}
		unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS |
				 MHD_ALLOW_UPGRADE |
				 MHD_USE_ERROR_LOG | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
		struct MHD_OptionItem opts[12];
		int n = 0;
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL };
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, &ss };
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, s->key_pem };
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, s->cert_pem };
		if (s->ca_pem)
			opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_TRUST, 0, s->ca_pem };
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, 0, NULL };
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, 256, NULL };
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
		s->tls = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
		if (!s->tls) {
			snprintf(err, errlen, "listen tcp %s:%d: could not start the HTTPS server", cfg->address, cfg->port);
			rc = -EADDRINUSE;
			goto fail;
		}
		kc_info("\"Starting to listen\" address=\"%s\" port=%d", cfg->address, cfg->port);
	}
	if (cfg->healthz_port > 0) {
		struct sockaddr_storage ss;
		socklen_t sl;
		if (sockaddr_of(cfg->healthz_address && cfg->healthz_address[0] ? cfg->healthz_address : "127.0.0.1",
				cfg->healthz_port, &ss, &sl) < 0) {
			snprintf(err, errlen, "invalid healthz address %s", cfg->healthz_address);
			rc = -EINVAL;
			goto fail;
		}
		s->plain = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
						    (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
					    0, NULL, NULL, on_healthz, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
					    MHD_OPTION_SOCK_ADDR, &ss, MHD_OPTION_END);
		if (!s->plain) {
			snprintf(err, errlen, "listen tcp %s:%d: could not start the healthz server",
				 cfg->healthz_address, cfg->healthz_port);
			rc = -EADDRINUSE;
			goto fail;
		}
		kc_info("\"Starting healthz server\" address=\"%s\" port=%d", cfg->healthz_address, cfg->healthz_port);
	}
	*out = s;
	return 0;
fail:
	ksrv_stop(s);
	return rc;
}

void ksrv_stop(ksrv *s)
{
	if (!s)
		return;
	atomic_store(&s->stopping, 1);
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 5;
	pthread_mutex_lock(&s->jobs_mu);
	for (struct stream_job *j = s->jobs; j; j = j->next)
		shutdown(j->fd, SHUT_RDWR);
	while (s->jobs)
		if (pthread_cond_timedwait(&s->jobs_cv, &s->jobs_mu, &dl) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&s->jobs_mu);
	if (s->tls)
		MHD_stop_daemon(s->tls);
	if (s->plain)
		MHD_stop_daemon(s->plain);
	free(s->cert_pem);
	free(s->key_pem);
	free(s->ca_pem);
	pthread_mutex_destroy(&s->jobs_mu);
	pthread_cond_destroy(&s->jobs_cv);
	free(s);
}
