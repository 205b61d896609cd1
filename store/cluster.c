/* Cluster membership metadata and etcd's id derivation (see cluster.h). */
#include "cluster.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int strcmp_p(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

uint64_t cluster_member_id(const char *const *peer_urls, size_t n, const char *token,
			   int64_t now_unix)
{
	/* etcd membership.computeMemberId: sort the URLs, join them with "", append the
	 * cluster token (and the time for runtime-added members), sha1, first 8 bytes BE. */
	const char **s = calloc(n ? n : 1, sizeof(*s));
	if (!s)
		return 0;
	for (size_t i = 0; i < n; i++)
		s[i] = peer_urls[i];
	qsort(s, n, sizeof(*s), strcmp_p);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	uint8_t h[EVP_MAX_MD_SIZE] = { 0 };
	unsigned hl = 0;
	if (c && EVP_DigestInit_ex(c, EVP_sha1(), NULL)) {
		for (size_t i = 0; i < n; i++)
			EVP_DigestUpdate(c, s[i], strlen(s[i]));
		if (token)
			EVP_DigestUpdate(c, token, strlen(token));
		if (now_unix) {
			char t[32];
			int k = snprintf(t, sizeof(t), "%" PRId64, now_unix);
			EVP_DigestUpdate(c, t, (size_t)k);
		}
		EVP_DigestFinal_ex(c, h, &hl);
	}
	EVP_MD_CTX_free(c);
	free(s);
	uint64_t id = 0;
	for (int i = 0; i < 8; i++)
		id = id << 8 | h[i];
	return id ? id : 1;
}

static int u64cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

uint64_t cluster_gen_id(const uint64_t *ids, size_t n)
{
	uint64_t *s = calloc(n ? n : 1, sizeof(*s));
	if (!s)
		return 0;
	memcpy(s, ids, n * sizeof(*s));
	qsort(s, n, sizeof(*s), u64cmp);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	uint8_t h[EVP_MAX_MD_SIZE] = { 0 };
	unsigned hl = 0;
	if (c && EVP_DigestInit_ex(c, EVP_sha1(), NULL)) {
		for (size_t i = 0; i < n; i++) {
			uint8_t b[8];
			for (int k = 0; k < 8; k++)
				b[k] = (uint8_t)(s[i] >> (56 - 8 * k));
			EVP_DigestUpdate(c, b, 8);
		}
		EVP_DigestFinal_ex(c, h, &hl);
	}
	EVP_MD_CTX_free(c);
	free(s);
	uint64_t id = 0;
	for (int i = 0; i < 8; i++)
		id = id << 8 | h[i];
	return id;
}

static void strv_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static char **strv_dup(const char *const *v, size_t n)
{
	char **o = calloc(n + 1, sizeof(*o));
	if (!o)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!(o[i] = strdup(v[i] ? v[i] : ""))) {
			strv_free(o, i);
			return NULL;
		}
	return o;
}

int cluster_set_urls(char ***v, size_t *n, const char *const *urls, size_t nurls)
{
	char **nv = strv_dup(urls, nurls);
	if (!nv)
		return -ENOMEM;
	strv_free(*v, *n);
	*v = nv;
	*n = nurls;
	return 0;
}

static void member_free(struct cluster_member *m)
{
	free(m->name);
	strv_free(m->peer_urls, m->n_peer);
	strv_free(m->client_urls, m->n_client);
	memset(m, 0, sizeof(*m));
}

void cluster_members_free(struct cluster_members *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		member_free(&m->v[i]);
	free(m->v);
	m->v = NULL;
	m->n = 0;
	free(m->removed);
	m->removed = NULL;
	m->n_removed = 0;
}

bool cluster_is_removed(const struct cluster_members *m, uint64_t id)
{
	size_t lo = 0, hi = m->n_removed;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->removed[mid] == id)
			return true;
		if (m->removed[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* Insert id into the sorted removed set. 0 or -ENOMEM. */
static int removed_add(struct cluster_members *m, uint64_t id)
{
	if (cluster_is_removed(m, id))
		return 0;
	uint64_t *nv = realloc(m->removed, (m->n_removed + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	m->removed = nv;
	size_t pos = 0;
	while (pos < m->n_removed && m->removed[pos] < id)
		pos++;
	memmove(&m->removed[pos + 1], &m->removed[pos], (m->n_removed - pos) * sizeof(*nv));
	m->removed[pos] = id;
	m->n_removed++;
	return 0;
}

struct cluster_member *cluster_find(const struct cluster_members *m, uint64_t id)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].id == id)
			return &m->v[i];
	return NULL;
}

int cluster_add(struct cluster_members *m, uint64_t id, const char *name,
		const char *const *peer, size_t n_peer, const char *const *client,
		size_t n_client, bool learner)
{
	if (cluster_find(m, id))
		return -EEXIST;
	struct cluster_member nm = { .id = id, .learner = learner };
	nm.name = strdup(name ? name : "");
	nm.peer_urls = strv_dup(peer, n_peer);
	nm.client_urls = strv_dup(client, n_client);
	nm.n_peer = n_peer;
	nm.n_client = n_client;
	struct cluster_member *nv = realloc(m->v, (m->n + 1) * sizeof(*nv));
	if (!nm.name || !nm.peer_urls || !nm.client_urls || !nv) {
		if (nv)
			m->v = nv;
		member_free(&nm);
		return -ENOMEM;
	}
	m->v = nv;
	size_t pos = 0;
	while (pos < m->n && m->v[pos].id < id)
		pos++;
	memmove(&m->v[pos + 1], &m->v[pos], (m->n - pos) * sizeof(*m->v));
	m->v[pos] = nm;
	m->n++;
	return 0;
}

int cluster_remove(struct cluster_members *m, uint64_t id)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].id == id) {
			if (removed_add(m, id))
				return -ENOMEM;
			member_free(&m->v[i]);
			memmove(&m->v[i], &m->v[i + 1], (m->n - i - 1) * sizeof(*m->v));
			m->n--;
			return 0;
		}
	return -ENOENT;
}

bool cluster_peer_url_used(const struct cluster_members *m, const char *url, uint64_t except)
{
	for (size_t i = 0; i < m->n; i++) {
		if (m->v[i].id == except)
			continue;
		for (size_t k = 0; k < m->v[i].n_peer; k++)
			if (strcmp(m->v[i].peer_urls[k], url) == 0)
				return true;
	}
	return false;
}

int cluster_members_copy(struct cluster_members *dst, const struct cluster_members *src)
{
	memset(dst, 0, sizeof(*dst));
	for (size_t i = 0; i < src->n; i++) {
		const struct cluster_member *s = &src->v[i];
		int rc = cluster_add(dst, s->id, s->name, (const char *const *)s->peer_urls,
				     s->n_peer, (const char *const *)s->client_urls, s->n_client,
				     s->learner);
		if (rc) {
			cluster_members_free(dst);
			return rc;
		}
	}
	if (src->n_removed) {
		dst->removed = malloc(src->n_removed * sizeof(*dst->removed));
		if (!dst->removed) {
			cluster_members_free(dst);
			return -ENOMEM;
		}
		memcpy(dst->removed, src->removed, src->n_removed * sizeof(*dst->removed));
		dst->n_removed = src->n_removed;
	}
	return 0;
}

int cluster_parse_initial(const char *initial, const char *token, struct cluster_members *out,
			  char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	char *s = strdup(initial ? initial : "");
	if (!s)
		return -ENOMEM;
	/* Group URLs by name, in the order names first appear. */
	struct { char *name; const char *urls[16]; size_t n; } g[32];
	size_t ng = 0;
	int rc = 0;
	char *save = NULL;
	for (char *tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		char *eq = strchr(tok, '=');
		if (!eq || eq == tok || !eq[1]) {
			snprintf(err, errlen, "--initial-cluster: %s is not in name=url form", tok);
			rc = -EINVAL;
			goto out;
		}
		*eq = 0;
		size_t k = 0;
		while (k < ng && strcmp(g[k].name, tok) != 0)
			k++;
		if (k == ng) {
			if (ng == 32) {
				snprintf(err, errlen, "--initial-cluster: too many members");
				rc = -EINVAL;
				goto out;
			}
			g[ng].name = tok;
			g[ng].n = 0;
			ng++;
		}
		if (g[k].n == 16) {
			snprintf(err, errlen, "--initial-cluster: too many URLs for %s", tok);
			rc = -EINVAL;
			goto out;
		}
		g[k].urls[g[k].n++] = eq + 1;
	}
	if (ng == 0) {
		snprintf(err, errlen, "--initial-cluster is empty");
		rc = -EINVAL;
		goto out;
	}
	for (size_t k = 0; k < ng; k++) {
		uint64_t id = cluster_member_id(g[k].urls, g[k].n, token, 0);
		for (size_t u = 0; u < g[k].n; u++)
			if (cluster_peer_url_used(out, g[k].urls[u], 0)) {
				/* etcd: "duplicate URL %v" in NewClusterFromURLsMap */
				snprintf(err, errlen, "duplicate URL %s in --initial-cluster",
					 g[k].urls[u]);
				rc = -EINVAL;
				goto out;
			}
		rc = cluster_add(out, id, g[k].name, g[k].urls, g[k].n, NULL, 0, false);
		if (rc == -EEXIST) {
			snprintf(err, errlen, "member exists with identical ID %016" PRIx64, id);
			rc = -EINVAL;
		}
		if (rc)
			goto out;
	}
out:
	if (rc)
		cluster_members_free(out);
	free(s);
	return rc;
}

/* ---- binary form ---- */

struct cbuf {
	uint8_t *b;
	size_t n, cap;
	bool oom;
};

static void cput(struct cbuf *c, const void *p, size_t n)
{
	if (c->oom)
		return;
	if (c->n + n > c->cap) {
		size_t nc = c->cap ? c->cap * 2 : 256;
		while (nc < c->n + n)
			nc *= 2;
		uint8_t *nb = realloc(c->b, nc);
		if (!nb) {
			c->oom = true;
			return;
		}
		c->b = nb;
		c->cap = nc;
	}
	memcpy(c->b + c->n, p, n);
	c->n += n;
}

static void cput_u32(struct cbuf *c, uint32_t v)
{
	uint8_t b[4];
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	cput(c, b, 4);
}

static void cput_u64(struct cbuf *c, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	cput(c, b, 8);
}

static void cput_str(struct cbuf *c, const char *s)
{
	size_t n = strlen(s ? s : "");
	cput_u32(c, (uint32_t)n);
	cput(c, s ? s : "", n);
}

int cluster_encode(const struct cluster_members *m, uint8_t **out, size_t *len)
{
	struct cbuf c = { 0 };
	cput_u32(&c, (uint32_t)m->n);
	for (size_t i = 0; i < m->n; i++) {
		const struct cluster_member *x = &m->v[i];
		cput_u64(&c, x->id);
		uint8_t l = x->learner;
		cput(&c, &l, 1);
		cput_str(&c, x->name);
		cput_u32(&c, (uint32_t)x->n_peer);
		for (size_t k = 0; k < x->n_peer; k++)
			cput_str(&c, x->peer_urls[k]);
		cput_u32(&c, (uint32_t)x->n_client);
		for (size_t k = 0; k < x->n_client; k++)
			cput_str(&c, x->client_urls[k]);
	}
	cput_u32(&c, (uint32_t)m->n_removed);
	for (size_t i = 0; i < m->n_removed; i++)
		cput_u64(&c, m->removed[i]);
	if (c.oom) {
		free(c.b);
		return -ENOMEM;
	}
	*out = c.b;
	*len = c.n;
	return 0;
}

struct crd {
	const uint8_t *b;
	size_t n, off;
	bool bad;
};

static uint64_t cget(struct crd *r, int bytes)
{
	if (r->bad || r->n - r->off < (size_t)bytes) {
		r->bad = true;
		return 0;
	}
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)r->b[r->off + (size_t)i] << (8 * i);
	r->off += (size_t)bytes;
	return v;
}

static char *cget_str(struct crd *r)
{
	uint32_t n = (uint32_t)cget(r, 4);
	if (r->bad || n > 4096 || r->n - r->off < n) {
		r->bad = true;
		return NULL;
	}
	char *s = malloc(n + 1);
	if (!s) {
		r->bad = true;
		return NULL;
	}
	memcpy(s, r->b + r->off, n);
	s[n] = 0;
	r->off += n;
	return s;
}

static char **cget_strv(struct crd *r, size_t *n)
{
	uint32_t k = (uint32_t)cget(r, 4);
	if (r->bad || k > 64) {
		r->bad = true;
		return NULL;
	}
	char **v = calloc(k + 1, sizeof(*v));
	if (!v) {
		r->bad = true;
		return NULL;
	}
	for (uint32_t i = 0; i < k; i++)
		if (!(v[i] = cget_str(r))) {
			strv_free(v, i);
			return NULL;
		}
	*n = k;
	return v;
}

int cluster_decode(const uint8_t *b, size_t len, struct cluster_members *out)
{
	memset(out, 0, sizeof(*out));
	struct crd r = { b, len, 0, false };
	uint32_t n = (uint32_t)cget(&r, 4);
	if (r.bad || n > 64)
		return -EINVAL;
	for (uint32_t i = 0; i < n && !r.bad; i++) {
		struct cluster_member m = { 0 };
		m.id = cget(&r, 8);
		m.learner = cget(&r, 1) != 0;
		m.name = cget_str(&r);
		if (m.name)
			m.peer_urls = cget_strv(&r, &m.n_peer);
		if (m.peer_urls)
			m.client_urls = cget_strv(&r, &m.n_client);
		if (r.bad || !m.client_urls || m.id == 0 || cluster_find(out, m.id)) {
			member_free(&m);
			r.bad = true;
			break;
		}
		struct cluster_member *nv = realloc(out->v, (out->n + 1) * sizeof(*nv));
		if (!nv) {
			member_free(&m);
			cluster_members_free(out);
			return -ENOMEM;
		}
		out->v = nv;
		out->v[out->n++] = m;
	}
	if (!r.bad && r.off < r.n) {
		/* The removed ids (absent in older blobs). */
		uint32_t k = (uint32_t)cget(&r, 4);
		if (r.bad || k > (1u << 20) || (r.n - r.off) != (size_t)k * 8) {
			r.bad = true;
		} else if (k) {
			out->removed = malloc((size_t)k * sizeof(*out->removed));
			if (!out->removed) {
				cluster_members_free(out);
				return -ENOMEM;
			}
			for (uint32_t i = 0; i < k && !r.bad; i++) {
				uint64_t id = cget(&r, 8);
				/* sorted and unique, as cluster_is_removed's search needs */
				if (id == 0 || (i && id <= out->removed[i - 1]))
					r.bad = true;
				out->removed[i] = id;
			}
			out->n_removed = k;
		}
	}
	if (r.bad || r.off != r.n) {
		cluster_members_free(out);
		return -EINVAL;
	}
	return 0;
}

uint64_t cluster_runtime_member_id(const char *const *peer_urls, size_t n, int64_t now_unix)
{
	/* etcd 3.4 v3rpc MemberAdd: membership.NewMember("", urls, "", &now): the cluster
	 * name part is empty, the time is now.Unix() in decimal. */
	return cluster_member_id(peer_urls, n, "", now_unix);
}

/* ---- joining: etcd's ValidateClusterAndAssignIDs ---- */

/* A member's peer URLs, sorted (etcd sorts them in NewMember and compares sorted lists). */
static const char **sorted_urls(const struct cluster_member *m)
{
	const char **s = calloc(m->n_peer ? m->n_peer : 1, sizeof(*s));
	if (!s)
		return NULL;
	for (size_t i = 0; i < m->n_peer; i++)
		s[i] = m->peer_urls[i];
	qsort(s, m->n_peer, sizeof(*s), strcmp_p);
	return s;
}

/* Order of etcd's MembersByPeerURLs: by the (smallest) first peer URL. */
static const char *first_url(const struct cluster_member *m)
{
	const char *f = NULL;
	for (size_t i = 0; i < m->n_peer; i++)
		if (!f || strcmp(m->peer_urls[i], f) < 0)
			f = m->peer_urls[i];
	return f ? f : "";
}

static int by_first_url(const void *a, const void *b, void *arg)
{
	const struct cluster_members *m = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return strcmp(first_url(&m->v[x]), first_url(&m->v[y]));
}

/* Indexes of m's members in MembersByPeerURLs order (caller frees); NULL on -ENOMEM. */
static size_t *order_by_url(const struct cluster_members *m)
{
	size_t *o = calloc(m->n ? m->n : 1, sizeof(*o));
	if (!o)
		return NULL;
	for (size_t i = 0; i < m->n; i++)
		o[i] = i;
	qsort_r(o, m->n, sizeof(*o), by_first_url, (void *)m);
	return o;
}

/* Go's %q of a []string: ["a" "b"]. */
static size_t quote_list(char *buf, size_t cap, const char *const *v, size_t n)
{
	size_t off = 0;
	off += (size_t)snprintf(buf + off, off < cap ? cap - off : 0, "[");
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(buf + off, off < cap ? cap - off : 0, "%s\"%s\"",
					i ? " " : "", v[i]);
	off += (size_t)snprintf(buf + off, off < cap ? cap - off : 0, "]");
	return off;
}

/* netutil.URLStringsEqual without DNS: true, or false with its message in err. */
static bool urls_equal(const struct cluster_member *e, const struct cluster_member *l,
		       char *err, size_t errlen)
{
	const char **a = sorted_urls(e), **b = sorted_urls(l);
	bool ok = a && b;
	if (!ok) {
		snprintf(err, errlen, "out of memory");
	} else if (e->n_peer != l->n_peer) {
		char qa[512], qb[512];
		quote_list(qa, sizeof(qa), a, e->n_peer);
		quote_list(qb, sizeof(qb), b, l->n_peer);
		snprintf(err, errlen, "len(%s) != len(%s)", qa, qb);
		ok = false;
	} else {
		for (size_t i = 0; i < e->n_peer && ok; i++)
			if (strcmp(a[i], b[i]) != 0) {
				snprintf(err, errlen, "\"%s\"(resolved from \"%s\") != "
					 "\"%s\"(resolved from \"%s\")", a[i], a[i], b[i], b[i]);
				ok = false;
			}
	}
	free(a);
	free(b);
	return ok;
}

static int member_cmp_id(const void *a, const void *b)
{
	uint64_t x = ((const struct cluster_member *)a)->id;
	uint64_t y = ((const struct cluster_member *)b)->id;
	return x < y ? -1 : x > y;
}

int cluster_assign_ids(struct cluster_members *local, const struct cluster_members *existing,
		       char *err, size_t errlen)
{
	if (local->n != existing->n) {
		/* etcd: fmt.Errorf("member count is unequal") */
		snprintf(err, errlen, "member count is unequal");
		return -EINVAL;
	}
	size_t *eo = order_by_url(existing), *lo = order_by_url(local);
	uint64_t *ids = calloc(local->n ? local->n : 1, sizeof(*ids));
	int rc = 0;
	if (!eo || !lo || !ids) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < existing->n; i++) {
		char why[1200];
		if (!urls_equal(&existing->v[eo[i]], &local->v[lo[i]], why, sizeof(why))) {
			/* etcd 3.4: "unmatched member while checking PeerURLs (%v)" */
			snprintf(err, errlen, "unmatched member while checking PeerURLs (%s)", why);
			rc = -EINVAL;
			goto out;
		}
		ids[lo[i]] = existing->v[eo[i]].id;
	}
	/* Only now change local: a refusal above leaves it as it was. */
	for (size_t i = 0; i < local->n; i++)
		local->v[i].id = ids[i];
	qsort(local->v, local->n, sizeof(*local->v), member_cmp_id);
out:
	free(eo);
	free(lo);
	free(ids);
	return rc;
}

static void strf(char *buf, size_t cap, size_t *off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void strf(char *buf, size_t cap, size_t *off, const char *fmt, ...)
{
	if (*off >= cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(buf + *off, cap - *off, fmt, ap);
	va_end(ap);
	if (k > 0)
		*off += (size_t)k < cap - *off ? (size_t)k : cap - *off - 1;
}

static void strv_go(char *buf, size_t cap, size_t *off, char *const *v, size_t n)
{
	strf(buf, cap, off, "[");
	for (size_t i = 0; i < n; i++)
		strf(buf, cap, off, "%s%s", i ? " " : "", v[i]);
	strf(buf, cap, off, "]");
}

void cluster_string(const struct cluster_members *m, uint64_t cluster_id, char *buf, size_t cap)
{
	if (!cap)
		return;
	buf[0] = 0;
	size_t off = 0;
	/* etcd: "{ClusterID:%s " + "Members:[%s] " (each member as %+v of *Member) +
	 * "RemovedMemberIDs:[%s]}"; types.ID prints as unpadded hex. */
	strf(buf, cap, &off, "{ClusterID:%" PRIx64 " Members:[", cluster_id);
	for (size_t i = 0; i < m->n; i++) {
		const struct cluster_member *x = &m->v[i];
		strf(buf, cap, &off, "%s&{ID:%" PRIx64 " RaftAttributes:{PeerURLs:", i ? " " : "",
		     x->id);
		strv_go(buf, cap, &off, x->peer_urls, x->n_peer);
		strf(buf, cap, &off, " IsLearner:%s} Attributes:{Name:%s ClientURLs:",
		     x->learner ? "true" : "false", x->name ? x->name : "");
		strv_go(buf, cap, &off, x->client_urls, x->n_client);
		strf(buf, cap, &off, "}}");
	}
	strf(buf, cap, &off, "] RemovedMemberIDs:[");
	for (size_t i = 0; i < m->n_removed; i++)
		strf(buf, cap, &off, "%s%" PRIx64, i ? " " : "", m->removed[i]);
	strf(buf, cap, &off, "]}");
}
