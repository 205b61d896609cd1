#include "server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include <gnutls/gnutls.h>

#include "errors.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "podexec.h"
#include "status.h"

struct srv {
	struct MHD_Daemon *mhd;
	api_ctx *api;
	authn *auth;
	sat *sa_tokens;
	int port;
};

/* A bound object of a token must still exist with the claimed uid (upstream's
 * validator.Validate in pkg/serviceaccount/claims.go); 0 or KC_EUNAUTH, logging
 * upstream's reason. */
static int bound_ok(srv *s, const sat_claims *c, const res_desc *d, const sat_ref *ref,
		    const char *what)
{
	if (!ref->name[0])
		return 0;
	cJSON *obj = NULL;
	int code = reg_get(s->api->r, d, d->namespaced ? c->ns : NULL, ref->name, &obj);
	const char *uid = code == 200 ? kc_json_get_string(obj, "metadata.uid", "") : "";
	int rc = 0;
	if (code != 200) {
		kc_log_v(2, "Could not retrieve bound %s %s/%s for service account %s/%s: "
			 "service account token has been invalidated", what, c->ns, ref->name,
			 c->ns, c->name);
		rc = KC_EUNAUTH;
	} else if (strcmp(uid, ref->uid)) {
		kc_log_v(2, "%s UID (%s) does not match service account %s ref claim (%s)", what,
			 uid, what, ref->uid);
		rc = KC_EUNAUTH;
	}
	cJSON_Delete(obj);
	return rc;
}

/* A service-account JWT -> user, as upstream's serviceaccount authenticator with
 * --service-account-lookup (default true): the ServiceAccount must still exist with the
 * token's uid, and the secret or pod it is bound to (and the node of a node-bound token)
 * with theirs. */
static int sa_user(srv *s, const char *token, authn_user *u)
{
	sat_claims c;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (!s->sa_tokens || sat_verify(s->sa_tokens, token, ts.tv_sec, &c))
		return KC_EUNAUTH;
	cJSON *sa = NULL;
	int code = reg_get(s->api->r, &res_serviceaccounts, c.ns, c.name, &sa);
	int ok = code == 200 && (!c.uid[0] || !strcmp(kc_json_get_string(sa, "metadata.uid", ""),
						       c.uid));
	cJSON_Delete(sa);
	if (!ok) {
		kc_log_v(2, "service-account token for %s/%s rejected: the ServiceAccount is gone",
			 c.ns, c.name);
		return KC_EUNAUTH;
	}
	if (bound_ok(s, &c, &res_secrets, &c.secret, "secret") ||
	    bound_ok(s, &c, &res_pods, &c.pod, "pod") ||
	    /* A pod-bound token's node claim is informational only. */
	    (!c.pod.name[0] && bound_ok(s, &c, &res_nodes, &c.node, "node")))
		return KC_EUNAUTH;
	if (c.warnafter && ts.tv_sec > c.warnafter)
		kc_log_v(2, "stale service-account token for %s/%s used (warnafter passed)", c.ns,
			 c.name);
	memset(u, 0, sizeof(*u));
	snprintf(u->name, sizeof(u->name), "system:serviceaccount:%.100s:%.120s", c.ns, c.name);
	snprintf(u->uid, sizeof(u->uid), "%s", c.uid);
	snprintf(u->groups[0], sizeof(u->groups[0]), "system:serviceaccounts");
	snprintf(u->groups[1], sizeof(u->groups[1]), "system:serviceaccounts:%.100s", c.ns);
	snprintf(u->groups[2], sizeof(u->groups[2]), "system:authenticated");
	u->ngroups = 3;
	if (c.jti[0])
		snprintf(u->credential_id, sizeof(u->credential_id), "JTI=%s", c.jti);
	snprintf(u->pod_name, sizeof(u->pod_name), "%s", c.pod.name);
	snprintf(u->pod_uid, sizeof(u->pod_uid), "%s", c.pod.uid);
	snprintf(u->node_name, sizeof(u->node_name), "%s", c.node.name);
	snprintf(u->node_uid, sizeof(u->node_uid), "%s", c.node.uid);
	return 0;
}

static void add_extra(cJSON *extra, const char *key, const char *val)
{
	if (!val[0])
		return;
	cJSON *a = cJSON_AddArrayToObject(extra, key);
	cJSON_AddItemToArray(a, cJSON_CreateString(val));
}

/* POST /apis/authentication.k8s.io/v1/selfsubjectreviews (kubectl auth whoami): the
 * request's own user as upstream's SelfSubjectReview REST (pkg/registry/authentication/
 * selfsubjectreview), the body ignored but for its kind. */
/* upstream's AuthenticatedGroupAdder: every authenticated user is also in
 * system:authenticated (appended once, after the authenticator's own groups). */
static void add_authenticated_group(authn_user *u)
{
	for (int i = 0; i < u->ngroups; i++)
		if (!strcmp(u->groups[i], "system:authenticated"))
			return;
	if (u->ngroups < AUTHN_MAX_GROUPS)
		snprintf(u->groups[u->ngroups++], sizeof(u->groups[0]), "system:authenticated");
}

static void self_subject_review(const authn_user *u, api_resp *r)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "kind", "SelfSubjectReview");
	cJSON_AddStringToObject(o, "apiVersion", "authentication.k8s.io/v1");
	cJSON *md = cJSON_AddObjectToObject(o, "metadata");
	char ts[40];
	res_fmt_time((int64_t)time(NULL), ts, sizeof(ts));
	cJSON_AddStringToObject(md, "creationTimestamp", ts);
	cJSON *ui = cJSON_AddObjectToObject(cJSON_AddObjectToObject(o, "status"), "userInfo");
	cJSON_AddStringToObject(ui, "username", u->name);
	if (u->uid[0])
		cJSON_AddStringToObject(ui, "uid", u->uid);
	cJSON *g = cJSON_AddArrayToObject(ui, "groups");
	for (int i = 0; i < u->ngroups && i < AUTHN_MAX_GROUPS; i++)
		cJSON_AddItemToArray(g, cJSON_CreateString(u->groups[i]));
	cJSON *extra = cJSON_CreateObject();
	add_extra(extra, "authentication.kubernetes.io/credential-id", u->credential_id);
	add_extra(extra, "authentication.kubernetes.io/node-name", u->node_name);
	add_extra(extra, "authentication.kubernetes.io/node-uid", u->node_uid);
	add_extra(extra, "authentication.kubernetes.io/pod-name", u->pod_name);
	add_extra(extra, "authentication.kubernetes.io/pod-uid", u->pod_uid);
	if (cJSON_GetArraySize(extra))
		cJSON_AddItemToObject(ui, "extra", extra);
	else
		cJSON_Delete(extra);
	api_json(r, 201, o, NULL);
	snprintf(r->m_verb, sizeof(r->m_verb), "POST");
	snprintf(r->m_group, sizeof(r->m_group), "authentication.k8s.io");
	snprintf(r->m_version, sizeof(r->m_version), "v1");
	snprintf(r->m_resource, sizeof(r->m_resource), "selfsubjectreviews");
	snprintf(r->m_scope, sizeof(r->m_scope), "cluster");
}

typedef struct conn_ctx {
	char *body;
	size_t len, cap;
	int too_large;
} conn_ctx;

/* Debian's libmicrohttpd terminates TLS with GnuTLS: the peer's chain comes from its
 * session; verification against --client-ca-file is done with OpenSSL in authn.c. */
static int cert_user(srv *s, struct MHD_Connection *conn, authn_user *u, char *why, size_t n)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (!ci || !ci->tls_session)
		return KC_EUNAUTH;
	unsigned int count = 0;
	const gnutls_datum_t *certs =
		gnutls_certificate_get_peers((gnutls_session_t)ci->tls_session, &count);
	if (!certs || !count)
		return KC_EUNAUTH;
	if (count > 8)
		count = 8;
	const unsigned char *der[8];
	size_t lens[8];
	for (unsigned i = 0; i < count; i++) {
		der[i] = certs[i].data;
		lens[i] = certs[i].size;
	}
	return authn_cert(s->auth, der, lens, count, u, why, n);
}

static int anonymous_path(const char *url)
{
	static const char *const ok[] = { "/healthz", "/livez", "/readyz", "/version", "/version/",
					  NULL };
	for (int i = 0; ok[i]; i++)
		if (!strcmp(url, ok[i]))
			return 1;
	return 0;
}

static enum MHD_Result send_resp(struct MHD_Connection *conn, api_resp *r)
{
	struct MHD_Response *resp;
	if (r->stream) {
		resp = r->stream;
	} else {
		resp = MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_FREE);
		if (!resp) {
			free(r->body);
			free(r->headers);
			free(r->warnings);
			r->headers = r->warnings = NULL;
			return MHD_NO;
		}
		MHD_add_response_header(resp, "Content-Type", r->ctype);
		if (!r->headers || !strstr(r->headers, "Cache-Control:"))
			MHD_add_response_header(resp, "Cache-Control", "no-cache, private");
	}
	if (r->headers) {
		char *save = NULL;
		for (char *line = strtok_r(r->headers, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			char *colon = strchr(line, ':');
			if (!colon)
				continue;
			*colon = 0;
			MHD_add_response_header(resp, line, colon + 1 + (colon[1] == ' '));
		}
		free(r->headers);
		r->headers = NULL;
	}
	if (r->warnings) {
		/* One Warning header per line, as upstream's warning recorder writes them. */
		char *save = NULL;
		for (char *line = strtok_r(r->warnings, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save))
			MHD_add_response_header(resp, "Warning", line);
		free(r->warnings);
		r->warnings = NULL;
	}
	enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->code, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	(void)version;
	srv *s = cls;
	conn_ctx *cc = *con_cls;
	if (!cc) {
		cc = calloc(1, sizeof(*cc));
		if (!cc)
			return MHD_NO;
		*con_cls = cc;
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (cc->too_large || cc->len + n > SRV_MAX_BODY) {
			cc->too_large = 1;
			return MHD_YES;
		}
		if (cc->len + n + 1 > cc->cap) {
			size_t nc = cc->cap ? cc->cap * 2 : 16384;
			while (nc < cc->len + n + 1)
				nc *= 2;
			char *nb = realloc(cc->body, nc);
			if (!nb)
				return MHD_NO;
			cc->body = nb;
			cc->cap = nc;
		}
		memcpy(cc->body + cc->len, upload_data, n);
		cc->len += n;
		cc->body[cc->len] = 0;
		return MHD_YES;
	}
	api_resp r;
	memset(&r, 0, sizeof(r));
	if (cc->too_large) {
		/* upstream: 413 RequestEntityTooLarge "the request body is too large" style. */
		api_json(&r, 413, st_new(413, "RequestEntityTooLarge",
					 "Request entity too large: limit is %d", SRV_MAX_BODY), NULL);
		return send_resp(conn, &r);
	}
	authn_user user;
	memset(&user, 0, sizeof(user));
	int authed = 0;
	if (s->auth) {
		const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
		if (h && !strncasecmp(h, "Bearer ", 7)) {
			authed = authn_token(s->auth, h + 7, &user) == 0;
			if (!authed)
				authed = sa_user(s, h + 7, &user) == 0;
		}
		char why[256] = "";
		if (!authed)
			authed = cert_user(s, conn, &user, why, sizeof(why)) == 0;
		if (!authed && why[0])
			kc_log_v(2, "client certificate rejected: %s", why);
		if (authed)
			add_authenticated_group(&user);
	} else {
		authed = 1;
		snprintf(user.name, sizeof(user.name), "system:anonymous");
	}
	if (!authed && !anonymous_path(url)) {
		cJSON *st = st_new(401, "Unauthorized", "Unauthorized");
		api_json(&r, 401, st, NULL);
		return send_resp(conn, &r);
	}
	api_req q = {
		.conn = conn,
		.method = method,
		.path = url,
		.content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type"),
		.accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept"),
		.body = cc->body,
		.body_len = cc->len,
	};
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!strcmp(method, "POST") && !strcmp(url, "/apis/authentication.k8s.io/v1/selfsubjectreviews"))
		self_subject_review(&user, &r);
	else
		api_handle(s->api, &q, &r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	met_observe(r.m_verb, r.m_group, r.m_version, r.m_resource, r.m_sub, r.m_scope, r.code,
		    (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	kc_log_v(3, "%s %s %d user=%s", method, url, r.code, user.name);
	return send_resp(conn, &r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	conn_ctx *cc = *con_cls;
	if (cc) {
		free(cc->body);
		free(cc);
		*con_cls = NULL;
	}
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char buf[512];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	size_t l = strlen(buf);
	while (l && buf[l - 1] == '\n')
		buf[--l] = 0;
	kc_log_v(1, "http: %s", buf);
}

/* How many connections the server accepts. libmicrohttpd's default is FD_SETSIZE - 4 (1020)
 * even with epoll, so 1,000 watches left no room for requests (they queued in the listen
 * backlog until the client gave up). Upstream's Go server has no such limit; ours is bounded
 * by the descriptor limit, raised to its hard maximum here, minus a reserve for the store
 * connections, log and key files. */
static unsigned conn_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1000;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit want = rl;
		want.rlim_cur = rl.rlim_max == RLIM_INFINITY ? 65536 : rl.rlim_max;
		if (want.rlim_cur > 1048576)
			want.rlim_cur = 1048576;
		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			rl = want;
	}
	rlim_t n = rl.rlim_cur == RLIM_INFINITY ? 65536 : rl.rlim_cur;
	if (n > 1048576)
		n = 1048576;
	return n > 256 + 64 ? (unsigned)(n - 128) : (unsigned)(n / 2);
}

int srv_start(const srv_config *cfg, api_ctx *api, srv **out)
{
	srv *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->api = api;
	s->auth = cfg->auth;
	s->sa_tokens = cfg->sa_tokens;
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)cfg->port);
	if (inet_pton(AF_INET, cfg->bind_address ? cfg->bind_address : "0.0.0.0", &sa.sin_addr) != 1) {
		free(s);
		return -EINVAL;
	}
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			 MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG;
	if (cfg->cert_pem)
		flags |= MHD_USE_TLS;
	struct MHD_OptionItem opts[16];
	int n = 0;
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, &sa };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE,
					     cfg->threads > 0 ? cfg->threads : 4, NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, 600, NULL };
	unsigned limit = conn_limit();
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, limit, NULL };
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED,
					     (intptr_t)on_completed, NULL };
	/* Each connection's pool holds its request headers and the outgoing chunk; MHD zeroes
	 * the pool when it is reset, so its whole size became resident per connection: 256 KiB
	 * cost ~170 KB per idle watch. Bodies are streamed to on_request and large responses
	 * are sent from their own buffer, so 64 KiB (twice MHD's default) is ample. */
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT, 32 * 1024, NULL };
	if (cfg->cert_pem) {
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)cfg->key_pem };
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0,
						     (void *)cfg->cert_pem };
		if (cfg->client_ca_pem)
			opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_TRUST, 0,
							     (void *)cfg->client_ca_pem };
	}
	opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, opts,
				  MHD_OPTION_END);
	if (!s->mhd) {
		free(s);
		return -EADDRINUSE;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di ? di->port : cfg->port;
	kc_log_v(1, "serving on port %d, up to %u connections", s->port, limit);
	*out = s;
	return 0;
}

int srv_port(const srv *s)
{
	return s->port;
}

void srv_stop(srv *s)
{
	if (!s)
		return;
	px_close_all(); /* open exec/attach upgrades first: MHD aborts on them */
	MHD_stop_daemon(s->mhd);
	free(s);
}
