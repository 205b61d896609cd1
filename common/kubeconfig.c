/* kubeconfig loading with libyaml's document API (see kubeconfig.h).
 *
 * Mirrors client-go's clientcmd: the named (or current) context picks a cluster and a
 * user by name; relative paths are resolved against the kubeconfig's directory
 * (clientcmd.ResolveLocalPaths); "-data" fields are base64 in the file. */
#include <ctype.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "errors.h"
#include "kubeconfig.h"
#include "log.h"

#define KUBECONFIG_MAX_BYTES ((size_t)16 << 20)
#define TOKEN_MAX_BYTES ((size_t)1 << 20)

static int seterr(char *errbuf, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int seterr(char *errbuf, size_t errlen, int rc, const char *fmt, ...)
{
	if (errbuf && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(errbuf, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* ---- base64 (standard alphabet; whitespace skipped; padding optional) ---- */

static int b64val(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z') return ch - 'A';
	if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9') return ch - '0' + 52;
	if (ch == '+') return 62;
	if (ch == '/') return 63;
	return -1;
}

static int b64_decode(const char *in, size_t len, unsigned char **out, size_t *outlen)
{
	unsigned char *o = malloc(len / 4 * 3 + 4);
	if (!o)
		return -ENOMEM;
	size_t n = 0;
	unsigned acc = 0;
	int bits = 0, pad = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)in[i];
		if (isspace(ch))
			continue;
		if (ch == '=') {
			pad++;
			continue;
		}
		int v = b64val(ch);
		if (v < 0 || pad) /* data after padding */
			goto bad;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* 6 leftover bits mean a single dangling character: not valid base64. */
	if (bits >= 6 || pad > 2)
		goto bad;
	o[n] = '\0';
	*out = o;
	*outlen = n;
	return 0;
bad:
	free(o);
	return KC_EPARSE;
}

/* ---- files ---- */

static int read_file(const char *path, size_t max, char **out, size_t *outlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		int e = S_ISDIR(sb.st_mode) ? -EISDIR : -EINVAL;
		close(fd);
		return e;
	}
	if ((size_t)sb.st_size > max) {
		close(fd);
		return KC_ETOOLARGE;
	}
	char *buf = malloc((size_t)sb.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	size_t n = 0;
	while (n < (size_t)sb.st_size) {
		ssize_t r = read(fd, buf + n, (size_t)sb.st_size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 0;
}

/* Absolute path of p relative to base_dir (or the cwd). NULL on ENOMEM. */
static char *resolve(const char *base_dir, const char *p)
{
	char *r = NULL;
	if (p[0] == '/')
		return strdup(p);
	if (base_dir && *base_dir) {
		if (asprintf(&r, "%s/%s", base_dir, p) < 0)
			return NULL;
		return r;
	}
	char *cwd = getcwd(NULL, 0);
	if (!cwd)
		return strdup(p);
	if (asprintf(&r, "%s/%s", cwd, p) < 0)
		r = NULL;
	free(cwd);
	return r;
}

/* ---- YAML document helpers ---- */

static const char *scalar(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		const char *k = scalar(yaml_document_get_node(doc, p->key));
		if (k && strcmp(k, key) == 0)
			return yaml_document_get_node(doc, p->value);
	}
	return NULL;
}

/* A scalar field; YAML's null ("", "~", "null") reads as absent. */
static const char *field(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
	yaml_node_t *n = map_get(doc, map, key);
	const char *s = scalar(n);
	if (!s)
		return NULL;
	if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (!*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0))
		return NULL;
	return s;
}

/* The `what` map (cluster/user/context) of the entry named `name` in the list `list`. */
static yaml_node_t *find_named(yaml_document_t *doc, yaml_node_t *root, const char *list,
			       const char *name, const char *what)
{
	yaml_node_t *seq = map_get(doc, root, list);
	if (!seq || seq->type != YAML_SEQUENCE_NODE)
		return NULL;
	for (yaml_node_item_t *it = seq->data.sequence.items.start;
	     it < seq->data.sequence.items.top; it++) {
		yaml_node_t *e = yaml_document_get_node(doc, *it);
		const char *nm = field(doc, e, "name");
		if (nm && strcmp(nm, name) == 0) {
			yaml_node_t *m = map_get(doc, e, what);
			return m ? m : e; /* an entry without the inner map is empty */
		}
	}
	return NULL;
}

static int parse_bool(const char *s, int *out)
{
	static const char *const t[] = { "true", "yes", "on", "y" };
	static const char *const f[] = { "false", "no", "off", "n" };
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, t[i]) == 0)
			return *out = 1, 0;
		if (strcasecmp(s, f[i]) == 0)
			return *out = 0, 0;
	}
	return KC_EPARSE;
}

struct loadctx {
	yaml_document_t *doc;
	const char *base_dir;
	const char *name;
	char *errbuf;
	size_t errlen;
};

/* Copy a path field (resolved) and its -data sibling (decoded). */
static int path_and_data(struct loadctx *lc, yaml_node_t *m, const char *pkey, const char *dkey,
			 char **path, unsigned char **data, size_t *len)
{
	const char *d = field(lc->doc, m, dkey);
	if (d) {
		int rc = b64_decode(d, strlen(d), data, len);
		if (rc < 0)
			return seterr(lc->errbuf, lc->errlen, rc, "%s: %s is not valid base64",
				      lc->name, dkey);
	}
	const char *p = field(lc->doc, m, pkey);
	if (p && !(*path = resolve(lc->base_dir, p)))
		return -ENOMEM;
	return 0;
}

static char *xstrdup(const char *s, int *rc)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		*rc = -ENOMEM;
	return d;
}

static int read_token_file(struct loadctx *lc, kc_kubeconfig *kc, const char *tf)
{
	char *path = resolve(lc->base_dir, tf);
	if (!path)
		return -ENOMEM;
	char *tok;
	size_t n;
	int rc = read_file(path, TOKEN_MAX_BYTES, &tok, &n);
	if (rc < 0) {
		/* client-go falls back to an inline token when the file cannot be read. */
		if (kc->token) {
			kc_warn("kubeconfig %s: tokenFile %s: %s; using the inline token", lc->name,
				path, kc_strerror(rc));
			free(path);
			return 0;
		}
		seterr(lc->errbuf, lc->errlen, rc, "%s: tokenFile %s: %s", lc->name, path,
		       kc_strerror(rc));
		free(path);
		return rc;
	}
	free(path);
	while (n > 0 && isspace((unsigned char)tok[n - 1]))
		tok[--n] = '\0';
	free(kc->token);
	kc->token = tok;
	return 0;
}

static int load_doc(kc_kubeconfig *kc, struct loadctx *lc, const char *context)
{
	yaml_document_t *doc = lc->doc;
	yaml_node_t *root = yaml_document_get_root_node(doc);
	if (root && root->type != YAML_MAPPING_NODE)
		return seterr(lc->errbuf, lc->errlen, KC_EPARSE, "%s: top level is not a mapping",
			      lc->name);
	const char *ctxname = context && *context ? context : field(doc, root, "current-context");
	if (!ctxname)
		return seterr(lc->errbuf, lc->errlen, KC_ENOTFOUND,
			      "%s: current-context is not set", lc->name);
	yaml_node_t *ctx = find_named(doc, root, "contexts", ctxname, "context");
	if (!ctx)
		return seterr(lc->errbuf, lc->errlen, KC_ENOTFOUND,
			      "%s: context \"%s\" does not exist", lc->name, ctxname);
	const char *cluster = field(doc, ctx, "cluster");
	const char *user = field(doc, ctx, "user");
	const char *ns = field(doc, ctx, "namespace");
	if (!cluster)
		return seterr(lc->errbuf, lc->errlen, KC_EINVALID,
			      "%s: context \"%s\" names no cluster", lc->name, ctxname);
	yaml_node_t *cl = find_named(doc, root, "clusters", cluster, "cluster");
	if (!cl)
		return seterr(lc->errbuf, lc->errlen, KC_ENOTFOUND,
			      "%s: cluster \"%s\" (of context \"%s\") does not exist", lc->name,
			      cluster, ctxname);
	yaml_node_t *us = NULL;
	if (user) {
		us = find_named(doc, root, "users", user, "user");
		if (!us)
			return seterr(lc->errbuf, lc->errlen, KC_ENOTFOUND,
				      "%s: user \"%s\" (of context \"%s\") does not exist",
				      lc->name, user, ctxname);
	}
	const char *server = field(doc, cl, "server");
	if (!server)
		return seterr(lc->errbuf, lc->errlen, KC_EINVALID,
			      "%s: cluster \"%s\" has no server defined", lc->name, cluster);
	int rc = 0;
	kc->context = xstrdup(ctxname, &rc);
	kc->cluster_name = xstrdup(cluster, &rc);
	kc->user_name = xstrdup(user, &rc);
	kc->namespace = xstrdup(ns ? ns : "default", &rc);
	kc->server = xstrdup(server, &rc);
	kc->tls_server_name = xstrdup(field(doc, cl, "tls-server-name"), &rc);
	if (rc < 0)
		return rc;
	const char *ins = field(doc, cl, "insecure-skip-tls-verify");
	if (ins && parse_bool(ins, &kc->insecure_skip_tls_verify) < 0)
		return seterr(lc->errbuf, lc->errlen, KC_EPARSE,
			      "%s: cluster \"%s\": insecure-skip-tls-verify: not a boolean: %s",
			      lc->name, cluster, ins);
	rc = path_and_data(lc, cl, "certificate-authority", "certificate-authority-data",
			   &kc->ca_file, &kc->ca_data, &kc->ca_len);
	if (rc < 0 || !us)
		return rc;
	rc = path_and_data(lc, us, "client-certificate", "client-certificate-data",
			   &kc->cert_file, &kc->cert_data, &kc->cert_len);
	if (rc < 0)
		return rc;
	rc = path_and_data(lc, us, "client-key", "client-key-data", &kc->key_file,
			   &kc->key_data, &kc->key_len);
	if (rc < 0)
		return rc;
	kc->token = xstrdup(field(doc, us, "token"), &rc);
	if (rc < 0)
		return rc;
	const char *tf = field(doc, us, "tokenFile");
	if (tf && (rc = read_token_file(lc, kc, tf)) < 0)
		return rc;
	static const char *const unsupported[] = { "exec", "auth-provider", "username",
						   "password" };
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
		if (map_get(doc, us, unsupported[i]))
			kc_log_v(2, "kubeconfig %s: user \"%s\": %s is not supported, ignored",
				 lc->name, user, unsupported[i]);
	return 0;
}

int kc_kubeconfig_parse(kc_kubeconfig *kc, const char *yaml, size_t len, const char *base_dir,
			const char *name, const char *context, char *errbuf, size_t errlen)
{
	memset(kc, 0, sizeof(*kc));
	if (errbuf && errlen)
		errbuf[0] = '\0';
	if (!name)
		name = "kubeconfig";
	yaml_parser_t p;
	yaml_document_t doc;
	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)yaml, len);
	if (!yaml_parser_load(&p, &doc)) {
		int rc = seterr(errbuf, errlen, KC_EPARSE, "%s: YAML error at line %zu: %s", name,
				p.problem_mark.line + 1, p.problem ? p.problem : "malformed");
		yaml_parser_delete(&p);
		return rc;
	}
	struct loadctx lc = { &doc, base_dir, name, errbuf, errlen };
	int rc = load_doc(kc, &lc, context);
	yaml_document_delete(&doc);
	yaml_parser_delete(&p);
	if (rc < 0) {
		if (errbuf && errlen && !errbuf[0])
			seterr(errbuf, errlen, rc, "%s: %s", name, kc_strerror(rc));
		kc_kubeconfig_close(kc);
	}
	return rc;
}

int kc_kubeconfig_load_file(kc_kubeconfig *kc, const char *path, const char *context,
			    char *errbuf, size_t errlen)
{
	memset(kc, 0, sizeof(*kc));
	char *text;
	size_t len;
	int rc = read_file(path, KUBECONFIG_MAX_BYTES, &text, &len);
	if (rc < 0)
		return seterr(errbuf, errlen, rc, "kubeconfig %s: %s", path, kc_strerror(rc));
	char *abs = resolve(NULL, path);
	if (!abs) {
		free(text);
		return -ENOMEM;
	}
	char *slash = strrchr(abs, '/');
	if (slash == abs)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	rc = kc_kubeconfig_parse(kc, text, len, abs, path, context, errbuf, errlen);
	free(abs);
	free(text);
	return rc;
}

int kc_kubeconfig_load(kc_kubeconfig *kc, const char *explicit_path, const char *context,
		       char *errbuf, size_t errlen)
{
	memset(kc, 0, sizeof(*kc));
	if (explicit_path && *explicit_path)
		return kc_kubeconfig_load_file(kc, explicit_path, context, errbuf, errlen);
	const char *env = getenv("KUBECONFIG");
	if (env && *env) {
		/* Only the first non-empty entry: merging several files is not supported. */
		while (*env == ':')
			env++;
		size_t n = strcspn(env, ":");
		if (n > 0) {
			char *first = strndup(env, n);
			if (!first)
				return -ENOMEM;
			int rc = kc_kubeconfig_load_file(kc, first, context, errbuf, errlen);
			free(first);
			return rc;
		}
	}
	const char *home = getenv("HOME");
	if (!home || !*home)
		return seterr(errbuf, errlen, -ENOENT,
			      "no kubeconfig: --kubeconfig, $KUBECONFIG and $HOME are all unset");
	char *p;
	if (asprintf(&p, "%s/.kube/config", home) < 0)
		return -ENOMEM;
	int rc = kc_kubeconfig_load_file(kc, p, context, errbuf, errlen);
	free(p);
	return rc;
}

int kc_kubeconfig_from_parts(kc_kubeconfig *kc, const char *server, const char *ca_file,
			     const char *cert_file, const char *key_file, const char *token)
{
	memset(kc, 0, sizeof(*kc));
	if (!server || !*server)
		return -EINVAL;
	int rc = 0;
	kc->server = xstrdup(server, &rc);
	kc->namespace = xstrdup("default", &rc);
	kc->ca_file = ca_file && *ca_file ? resolve(NULL, ca_file) : NULL;
	kc->cert_file = cert_file && *cert_file ? resolve(NULL, cert_file) : NULL;
	kc->key_file = key_file && *key_file ? resolve(NULL, key_file) : NULL;
	kc->token = token && *token ? xstrdup(token, &rc) : NULL;
	if (rc < 0 || (ca_file && *ca_file && !kc->ca_file) ||
	    (cert_file && *cert_file && !kc->cert_file) || (key_file && *key_file && !kc->key_file)) {
		kc_kubeconfig_close(kc);
		return -ENOMEM;
	}
	return 0;
}

int kc_kubeconfig_from_flags(kc_kubeconfig *kc, const char *master, const char *kubeconfig,
			     char *errbuf, size_t errlen)
{
	memset(kc, 0, sizeof(*kc));
	int has_master = master && *master;
	if (!(kubeconfig && *kubeconfig) && has_master) {
		int rc = kc_kubeconfig_from_parts(kc, master, NULL, NULL, NULL, NULL);
		if (rc < 0)
			seterr(errbuf, errlen, rc, "--master %s: %s", master, kc_strerror(rc));
		return rc;
	}
	int rc = kc_kubeconfig_load(kc, kubeconfig, NULL, errbuf, errlen);
	if (rc < 0 || !has_master)
		return rc;
	char *server = strdup(master);
	if (!server) {
		kc_kubeconfig_close(kc);
		return -ENOMEM;
	}
	free(kc->server);
	kc->server = server;
	return 0;
}

static int dup_bytes(unsigned char **dst, const unsigned char *src, size_t len)
{
	if (!src)
		return 0;
	*dst = malloc(len + 1);
	if (!*dst)
		return -ENOMEM;
	memcpy(*dst, src, len);
	(*dst)[len] = '\0';
	return 0;
}

int kc_kubeconfig_copy(kc_kubeconfig *dst, const kc_kubeconfig *src)
{
	memset(dst, 0, sizeof(*dst));
	int rc = 0;
	dst->context = xstrdup(src->context, &rc);
	dst->cluster_name = xstrdup(src->cluster_name, &rc);
	dst->user_name = xstrdup(src->user_name, &rc);
	dst->namespace = xstrdup(src->namespace, &rc);
	dst->server = xstrdup(src->server, &rc);
	dst->tls_server_name = xstrdup(src->tls_server_name, &rc);
	dst->insecure_skip_tls_verify = src->insecure_skip_tls_verify;
	dst->ca_file = xstrdup(src->ca_file, &rc);
	dst->cert_file = xstrdup(src->cert_file, &rc);
	dst->key_file = xstrdup(src->key_file, &rc);
	dst->token = xstrdup(src->token, &rc);
	dst->ca_len = src->ca_len;
	dst->cert_len = src->cert_len;
	dst->key_len = src->key_len;
	if (rc < 0 || dup_bytes(&dst->ca_data, src->ca_data, src->ca_len) < 0 ||
	    dup_bytes(&dst->cert_data, src->cert_data, src->cert_len) < 0 ||
	    dup_bytes(&dst->key_data, src->key_data, src->key_len) < 0) {
		kc_kubeconfig_close(dst);
		return -ENOMEM;
	}
	return 0;
}

static void free_secret(void *p, size_t len)
{
	if (p) {
		explicit_bzero(p, len);
		free(p);
	}
}

void kc_kubeconfig_close(kc_kubeconfig *kc)
{
	free(kc->context);
	free(kc->cluster_name);
	free(kc->user_name);
	free(kc->namespace);
	free(kc->server);
	free(kc->tls_server_name);
	free(kc->ca_file);
	free(kc->ca_data);
	free(kc->cert_file);
	free(kc->cert_data);
	free(kc->key_file);
	free_secret(kc->key_data, kc->key_len);
	free_secret(kc->token, kc->token ? strlen(kc->token) : 0);
	memset(kc, 0, sizeof(*kc));
}
