/* Rule generation. Each block below names the part of upstream's syncProxyRules it
 * mirrors; the rule texts (comments, match order) are upstream's, so iptables-save on a
 * kubec node reads like one on a kube-proxy node. */
#include "iptables_rules.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KUBE_SERVICES "KUBE-SERVICES"
#define KUBE_EXTERNAL_SERVICES "KUBE-EXTERNAL-SERVICES"
#define KUBE_NODEPORTS "KUBE-NODEPORTS"
#define KUBE_POSTROUTING "KUBE-POSTROUTING"
#define KUBE_MARK_MASQ "KUBE-MARK-MASQ"
#define KUBE_FORWARD "KUBE-FORWARD"

const px_jump px_jumps[PX_NJUMPS] = {
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

void px_jump_args(const px_jump *j, px_buf *out)
{
	px_buf_printf(out, "%s -m comment --comment \"%s\" -j %s",
		      j->ctnew ? " -m conntrack --ctstate NEW" : "", j->comment, j->chain);
}

/* "-I <from> <args>" for each requested jump of this table. -I prepends, as upstream's
 * EnsureRule(Prepend); under --noflush the built-in chain keeps its other rules. */
static void write_jumps(px_buf *b, const char *table, unsigned insert)
{
	for (unsigned i = 0; i < PX_NJUMPS; i++) {
		if (!(insert & (1u << i)) || strcmp(px_jumps[i].table, table) != 0)
			continue;
		px_buf_printf(b, "-I %s", px_jumps[i].from);
		px_jump_args(&px_jumps[i], b);
		px_buf_puts(b, "\n");
	}
}

void px_chainset_init(px_chainset *s)
{
	memset(s, 0, sizeof(*s));
}

void px_chainset_close(px_chainset *s)
{
	free(s->names);
	memset(s, 0, sizeof(*s));
}

int px_chainset_add(px_chainset *s, const char *name)
{
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 64;
		void *p = realloc(s->names, nc * sizeof(*s->names));
		if (!p)
			return -ENOMEM;
		s->names = p;
		s->cap = nc;
	}
	snprintf(s->names[s->n++], PX_CHAIN_LEN, "%s", name);
	return 0;
}

static int cmp_chain(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

void px_chainset_sort(px_chainset *s)
{
	if (s->n > 1)
		qsort(s->names, s->n, sizeof(*s->names), cmp_chain);
}

bool px_chainset_has(const px_chainset *s, const char *name)
{
	char key[PX_CHAIN_LEN];
	snprintf(key, sizeof(key), "%s", name);
	return s && s->n && bsearch(key, s->names, s->n, sizeof(*s->names), cmp_chain);
}

bool px_is_service_chain(const char *name)
{
	static const char *const pfx[] = { "KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-",
					   "KUBE-SEP-" };
	for (size_t i = 0; i < sizeof(pfx) / sizeof(pfx[0]); i++)
		if (strncmp(name, pfx[i], strlen(pfx[i])) == 0)
			return true;
	return false;
}

void px_probability(int n, char *buf, size_t len)
{
	snprintf(buf, len, "%0.10f", n > 0 ? 1.0 / (double)n : 0.0);
}

/* The four output sections, joined at the end (upstream's filterChains, filterRules,
 * natChains, natRules buffers). */
typedef struct gen {
	px_buf fc, fr, nc, nr;
	const px_rules_opts *o;
	char mark[16];      /* "0x4000" */
	char not_local[64]; /* "! -s 10.0.0.0/8" or "" */
	char local[64];     /* "-s 10.0.0.0/8" or "" */
	px_chainset *active;
	px_buf sc, sr;                /* one service port's own chains and their rules */
	const px_rules_cache *prev;   /* partial sync: skip chains whose text is unchanged */
	px_rules_cache *next;
	size_t skipped;
	bool large; /* large cluster mode: no comments on per-endpoint rules */
	int err;
} gen;

static void declare_nat(gen *g, const char *chain)
{
	px_buf_printf(&g->sc, ":%s - [0:0]\n", chain);
	if (px_chainset_add(g->active, chain) < 0)
		g->err = -ENOMEM;
}

/* writeServiceToEndpointRules: affinity checks first, then the probability cascade. */
static void endpoint_jumps(gen *g, const px_svcport *p, const char *chain,
			   const size_t *idx, size_t n)
{
	if (p->affinity) {
		for (size_t i = 0; i < n; i++) {
			const px_endpoint *e = &p->eps[idx[i]];
			px_buf_printf(&g->sr, "-A %s", chain);
			if (!g->large)
				px_buf_printf(&g->sr, " -m comment --comment \"%s -> %s\"", p->spn,
					      e->addr);
			px_buf_printf(&g->sr, " -m recent --name %s --rcheck --seconds %d --reap -j %s\n",
				      e->chain, p->affinity_seconds, e->chain);
		}
	}
	for (size_t i = 0; i < n; i++) {
		const px_endpoint *e = &p->eps[idx[i]];
		px_buf_printf(&g->sr, "-A %s", chain);
		if (!g->large)
			px_buf_printf(&g->sr, " -m comment --comment \"%s -> %s\"", p->spn,
				      e->addr);
		if (i < n - 1) {
			char prob[32];
			px_probability((int)(n - i), prob, sizeof(prob));
			px_buf_printf(&g->sr, " -m statistic --mode random --probability %s", prob);
		}
		px_buf_printf(&g->sr, " -j %s\n", e->chain);
	}
}

static bool uses_cluster_eps(const px_svcport *p)
{
	return !p->itp_local || (p->node_port && !p->etp_local);
}

static bool uses_local_eps(const px_svcport *p)
{
	return p->itp_local || (p->node_port && p->etp_local);
}

/* pkg/proxy/topology.go CategorizeEndpoints (without topology hints): cluster endpoints
 * are the ready ones, else the serving-terminating ones; local endpoints are the local
 * ready ones, else the local serving-terminating ones; `all` is their union. */
static void categorize(const px_svcport *p, size_t *cl, size_t *ncl, size_t *lo, size_t *nlo,
		       size_t *all, size_t *nall, bool *has_any)
{
	*ncl = *nlo = *nall = 0;
	*has_any = false;
	if (uses_cluster_eps(p)) {
		for (size_t i = 0; i < p->neps; i++)
			if (p->eps[i].ready)
				cl[(*ncl)++] = i;
		if (*ncl == 0)
			for (size_t i = 0; i < p->neps; i++)
				if (p->eps[i].serving && p->eps[i].terminating)
					cl[(*ncl)++] = i;
		if (*ncl > 0)
			*has_any = true;
	}
	if (!uses_local_eps(p)) {
		memcpy(all, cl, *ncl * sizeof(*cl));
		*nall = *ncl;
		return;
	}
	bool local_ready = false, local_st = false;
	for (size_t i = 0; i < p->neps; i++) {
		const px_endpoint *e = &p->eps[i];
		if (e->ready) {
			*has_any = true;
			local_ready |= e->local;
		} else if (e->serving && e->terminating) {
			*has_any = true;
			local_st |= e->local;
		}
	}
	for (size_t i = 0; i < p->neps; i++) {
		const px_endpoint *e = &p->eps[i];
		if (!e->local)
			continue;
		if ((local_ready && e->ready) ||
		    (!local_ready && local_st && e->serving && e->terminating))
			lo[(*nlo)++] = i;
	}
	if (!uses_cluster_eps(p) || *nlo == 0) {
		const size_t *src = uses_cluster_eps(p) ? cl : lo;
		size_t ns = uses_cluster_eps(p) ? *ncl : *nlo;
		memcpy(all, src, ns * sizeof(*src));
		*nall = ns;
		return;
	}
	/* Union of two index lists, both ascending: merge. */
	size_t a = 0, b = 0;
	while (a < *ncl || b < *nlo) {
		size_t v;
		if (b >= *nlo || (a < *ncl && cl[a] < lo[b]))
			v = cl[a++];
		else if (a >= *ncl || lo[b] < cl[a])
			v = lo[b++];
		else {
			v = cl[a++];
			b++;
		}
		all[(*nall)++] = v;
	}
}

/* FNV-1a over the port's own chain declarations and rules. */
static uint64_t text_hash(const px_buf *a, const px_buf *b)
{
	uint64_t h = 1469598103934665603ULL;
	const px_buf *bufs[2] = { a, b };
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < bufs[k]->len; i++) {
			h ^= (unsigned char)bufs[k]->data[i];
			h *= 1099511628211ULL;
		}
	return h;
}

static int cmp_cache_key(const void *a, const void *b)
{
	const px_rules_cache_entry *x = a, *y = b;
	int c = strcmp(x->spn, y->spn);
	return c ? c : strcmp(x->proto, y->proto);
}

/* Upstream's partial sync: a service port whose own chains (SVC/SVL/EXT/SEP) would be
 * written exactly as in the last successful restore is left out; under --noflush the
 * kernel keeps those chains as they are. Top-level chains are always rewritten. */
static void flush_service(gen *g, const px_svcport *p)
{
	uint64_t h = text_hash(&g->sc, &g->sr);
	if (g->next) {
		px_rules_cache *c = g->next;
		if (c->n == c->cap) {
			size_t nc = c->cap ? c->cap * 2 : 256;
			void *ne = realloc(c->e, nc * sizeof(*c->e));
			if (!ne) {
				g->err = -ENOMEM;
				return;
			}
			c->e = ne;
			c->cap = nc;
		}
		px_rules_cache_entry *e = &c->e[c->n++];
		snprintf(e->spn, sizeof(e->spn), "%s", p->spn);
		snprintf(e->proto, sizeof(e->proto), "%s", p->proto);
		e->hash = h;
	}
	if (g->prev && g->prev->n && (g->sc.len || g->sr.len)) {
		px_rules_cache_entry key;
		snprintf(key.spn, sizeof(key.spn), "%s", p->spn);
		snprintf(key.proto, sizeof(key.proto), "%s", p->proto);
		const px_rules_cache_entry *old =
			bsearch(&key, g->prev->e, g->prev->n, sizeof(key), cmp_cache_key);
		if (old && old->hash == h) {
			g->skipped++;
			return;
		}
	}
	px_buf_add(&g->nc, px_buf_str(&g->sc), g->sc.len);
	px_buf_add(&g->nr, px_buf_str(&g->sr), g->sr.len);
}

void px_rules_cache_init(px_rules_cache *c)
{
	memset(c, 0, sizeof(*c));
}

void px_rules_cache_close(px_rules_cache *c)
{
	free(c->e);
	memset(c, 0, sizeof(*c));
}

static void service_rules(gen *g, const px_svcport *p, size_t *cl, size_t *lo, size_t *all)
{
	px_buf_reset(&g->sc);
	px_buf_reset(&g->sr);
	size_t ncl, nlo, nall;
	bool has_eps;
	categorize(p, cl, &ncl, lo, &nlo, all, &nall, &has_eps);
	const char *spn = p->spn, *pr = p->proto;
	bool ext_access = p->node_port != 0;

	bool uses_cluster_chain = ncl > 0 && uses_cluster_eps(p);
	bool uses_local_chain = nlo > 0 && uses_local_eps(p);

	const char *internal_chain = p->itp_local ? p->svl_chain : p->svc_chain;
	bool has_internal = has_eps && !(p->itp_local && nlo == 0);
	const char *external_policy_chain = p->etp_local ? p->svl_chain : p->svc_chain;
	bool has_external = has_eps && !(p->etp_local && nlo == 0);
	/* The EXT chain depends on hasEndpoints, not hasExternalEndpoints: the
	 * short-circuit rules for local traffic are needed either way. */
	bool uses_ext_chain = has_eps && ext_access;

	const char *int_target = NULL, *ext_target = NULL;
	char int_comment[PX_SPN_LEN + 32], ext_comment[PX_SPN_LEN + 32];
	if (!has_eps) {
		int_target = ext_target = "REJECT";
		snprintf(int_comment, sizeof(int_comment), "\"%s has no endpoints\"", spn);
		snprintf(ext_comment, sizeof(ext_comment), "\"%s has no endpoints\"", spn);
	} else {
		if (!has_internal) {
			int_target = "DROP";
			snprintf(int_comment, sizeof(int_comment), "\"%s has no local endpoints\"",
				 spn);
		}
		if (!has_external) {
			ext_target = "DROP";
			snprintf(ext_comment, sizeof(ext_comment), "\"%s has no local endpoints\"",
				 spn);
		}
	}

	if (uses_cluster_chain)
		declare_nat(g, p->svc_chain);
	if (uses_local_chain)
		declare_nat(g, p->svl_chain);
	if (uses_ext_chain)
		declare_nat(g, p->ext_chain);

	/* Capture the clusterIP. */
	if (has_internal)
		px_buf_printf(&g->nr,
			      "-A " KUBE_SERVICES " -m comment --comment \"%s cluster IP\" -m %s -p %s "
			      "-d %s --dport %d -j %s\n",
			      spn, pr, pr, p->cluster_ip, p->port, internal_chain);
	else
		px_buf_printf(&g->fr,
			      "-A " KUBE_SERVICES " -m comment --comment %s -m %s -p %s -d %s "
			      "--dport %d -j %s\n",
			      int_comment, pr, pr, p->cluster_ip, p->port, int_target);

	/* Capture nodeports. */
	if (p->node_port) {
		if (has_eps)
			px_buf_printf(&g->nr,
				      "-A " KUBE_NODEPORTS " -m comment --comment %s -m %s -p %s "
				      "--dport %d -j %s\n",
				      spn, pr, pr, p->node_port, p->ext_chain);
		if (!has_external)
			px_buf_printf(&g->fr,
				      "-A " KUBE_EXTERNAL_SERVICES " -m comment --comment %s "
				      "-m addrtype --dst-type LOCAL -m %s -p %s --dport %d -j %s\n",
				      ext_comment, pr, pr, p->node_port, ext_target);
	}

	/* Internal traffic: masquerade what comes from outside the cluster CIDR (it may
	 * have been routed here by a static route to the service range). */
	if (has_internal && g->not_local[0])
		px_buf_printf(&g->sr,
			      "-A %s -m comment --comment \"%s cluster IP\" -m %s -p %s -d %s "
			      "--dport %d %s -j " KUBE_MARK_MASQ "\n",
			      internal_chain, spn, pr, pr, p->cluster_ip, p->port, g->not_local);

	/* External traffic chain. */
	if (uses_ext_chain) {
		if (!p->etp_local) {
			px_buf_printf(&g->sr,
				      "-A %s -m comment --comment \"masquerade traffic for %s "
				      "external destinations\" -j " KUBE_MARK_MASQ "\n",
				      p->ext_chain, spn);
		} else if (uses_cluster_chain) {
			/* Pod and host traffic to an external destination is not subject to
			 * the Local policy (it simulates going out to a load balancer and
			 * back in); host traffic still needs masquerade. */
			if (g->local[0])
				px_buf_printf(&g->sr,
					      "-A %s -m comment --comment \"pod traffic for %s "
					      "external destinations\" %s -j %s\n",
					      p->ext_chain, spn, g->local, p->svc_chain);
			px_buf_printf(&g->sr,
				      "-A %s -m comment --comment \"masquerade LOCAL traffic for %s "
				      "external destinations\" -m addrtype --src-type LOCAL "
				      "-j " KUBE_MARK_MASQ "\n",
				      p->ext_chain, spn);
			px_buf_printf(&g->sr,
				      "-A %s -m comment --comment \"route LOCAL traffic for %s "
				      "external destinations\" -m addrtype --src-type LOCAL -j %s\n",
				      p->ext_chain, spn, p->svc_chain);
		}
		if (has_external)
			px_buf_printf(&g->sr, "-A %s -j %s\n", p->ext_chain, external_policy_chain);
	}

	if (uses_cluster_chain)
		endpoint_jumps(g, p, p->svc_chain, cl, ncl);
	if (uses_local_chain)
		endpoint_jumps(g, p, p->svl_chain, lo, nlo);

	/* Per-endpoint chains: hairpin masquerade, affinity bookkeeping, DNAT. */
	for (size_t i = 0; i < nall; i++) {
		const px_endpoint *e = &p->eps[all[i]];
		declare_nat(g, e->chain);
		char cm[PX_SPN_LEN + 32] = "";
		if (!g->large)
			snprintf(cm, sizeof(cm), " -m comment --comment %s", spn);
		px_buf_printf(&g->sr, "-A %s%s -s %s -j " KUBE_MARK_MASQ "\n", e->chain, cm,
			      e->ip);
		px_buf_printf(&g->sr, "-A %s%s", e->chain, cm);
		if (p->affinity)
			px_buf_printf(&g->sr, " -m recent --name %s --set", e->chain);
		px_buf_printf(&g->sr, " -m %s -p %s -j DNAT --to-destination %s\n", pr, pr,
			      e->addr);
	}
	flush_service(g, p);
}

int px_rules_build(const px_model *m, const px_rules_opts *o, const px_chainset *existing,
		   unsigned insert_jumps, px_buf *out, px_chainset *active, const px_rules_cache *prev,
		   px_rules_cache *next, size_t *skipped)
{
	gen g;
	memset(&g, 0, sizeof(g));
	px_buf_init(&g.fc);
	px_buf_init(&g.fr);
	px_buf_init(&g.nc);
	px_buf_init(&g.nr);
	px_buf_init(&g.sc);
	px_buf_init(&g.sr);
	g.prev = prev;
	g.next = next;
	if (next)
		next->n = 0;
	px_chainset local_active;
	px_chainset_init(&local_active);
	if (!active)
		active = &local_active;
	g.o = o;
	g.active = active;
	active->n = 0;
	int bit = (o->masq_bit >= 0 && o->masq_bit <= 31) ? o->masq_bit : 14;
	snprintf(g.mark, sizeof(g.mark), "0x%x", 1u << bit);
	if (o->cluster_cidr && *o->cluster_cidr) {
		snprintf(g.not_local, sizeof(g.not_local), "! -s %s", o->cluster_cidr);
		snprintf(g.local, sizeof(g.local), "-s %s", o->cluster_cidr);
	}

	size_t maxeps = 1, total_eps = 0;
	for (size_t i = 0; i < m->n; i++) {
		if (m->ports[i].neps > maxeps)
			maxeps = m->ports[i].neps;
		total_eps += m->ports[i].neps;
	}
	/* Upstream counts every endpoint of every service port, ready or not. */
	g.large = total_eps > PX_LARGE_CLUSTER_ENDPOINTS;
	size_t *cl = calloc(maxeps, sizeof(size_t));
	size_t *lo = calloc(maxeps, sizeof(size_t));
	size_t *all = calloc(maxeps, sizeof(size_t));
	if (!cl || !lo || !all) {
		g.err = -ENOMEM;
		goto out;
	}

	static const char *const fchains[] = { KUBE_NODEPORTS, KUBE_SERVICES,
					       KUBE_EXTERNAL_SERVICES, KUBE_FORWARD };
	for (size_t i = 0; i < sizeof(fchains) / sizeof(fchains[0]); i++)
		px_buf_printf(&g.fc, ":%s - [0:0]\n", fchains[i]);
	static const char *const nchains[] = { KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING,
					       KUBE_MARK_MASQ };
	for (size_t i = 0; i < sizeof(nchains) / sizeof(nchains[0]); i++)
		px_buf_printf(&g.nc, ":%s - [0:0]\n", nchains[i]);
	/* Missing jumps go first: they only need the chain lines above. */
	write_jumps(&g.fr, "filter", insert_jumps);
	write_jumps(&g.nr, "nat", insert_jumps);

	/* KUBE-POSTROUTING: masquerade only marked packets, clearing the mark so a packet
	 * that re-traverses the stack is not masqueraded twice. */
	px_buf_printf(&g.nr, "-A " KUBE_POSTROUTING " -m mark ! --mark %s/%s -j RETURN\n", g.mark,
		      g.mark);
	px_buf_printf(&g.nr, "-A " KUBE_POSTROUTING " -j MARK --xor-mark %s\n", g.mark);
	px_buf_printf(&g.nr,
		      "-A " KUBE_POSTROUTING " -m comment --comment \"kubernetes service traffic "
		      "requiring SNAT\" -j MASQUERADE%s\n",
		      o->random_fully ? " --random-fully" : "");
	px_buf_printf(&g.nr, "-A " KUBE_MARK_MASQ " -j MARK --or-mark %s\n", g.mark);

	for (size_t i = 0; i < m->n; i++)
		service_rules(&g, &m->ports[i], cl, lo, all);

	px_chainset_sort(active);

	/* Chains no longer in use: a chain line flushes, -X deletes. */
	for (size_t i = 0; existing && i < existing->n; i++) {
		const char *c = existing->names[i];
		if (!px_is_service_chain(c) || px_chainset_has(active, c))
			continue;
		px_buf_printf(&g.nc, ":%s - [0:0]\n", c);
		px_buf_printf(&g.nr, "-X %s\n", c);
	}

	/* Tail call to the nodeports chain; must stay the last rule of KUBE-SERVICES. */
	px_buf_printf(&g.nr,
		      "-A " KUBE_SERVICES " -m comment --comment \"kubernetes service nodeports; "
		      "NOTE: this must be the last rule in this chain\" -m addrtype --dst-type "
		      "LOCAL%s -j " KUBE_NODEPORTS "\n",
		      o->localhost_nodeports ? "" : " ! -d 127.0.0.0/8");

	/* KUBE-FORWARD: drop INVALID (conntrack may otherwise reset the connection,
	 * kubernetes#74839), accept marked service traffic and its replies. */
	px_buf_puts(&g.fr, "-A " KUBE_FORWARD " -m conntrack --ctstate INVALID -j DROP\n");
	px_buf_printf(&g.fr,
		      "-A " KUBE_FORWARD " -m comment --comment \"kubernetes forwarding rules\" "
		      "-m mark --mark %s/%s -j ACCEPT\n",
		      g.mark, g.mark);
	px_buf_puts(&g.fr, "-A " KUBE_FORWARD " -m comment --comment \"kubernetes forwarding "
			   "conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n");

	px_buf_puts(out, "*filter\n");
	px_buf_add(out, px_buf_str(&g.fc), g.fc.len);
	px_buf_add(out, px_buf_str(&g.fr), g.fr.len);
	px_buf_puts(out, "COMMIT\n*nat\n");
	px_buf_add(out, px_buf_str(&g.nc), g.nc.len);
	px_buf_add(out, px_buf_str(&g.nr), g.nr.len);
	px_buf_puts(out, "COMMIT\n");
	if (!g.err && (px_buf_status(&g.fc) || px_buf_status(&g.fr) || px_buf_status(&g.nc) ||
		       px_buf_status(&g.nr) || px_buf_status(&g.sc) || px_buf_status(&g.sr) ||
		       px_buf_status(out)))
		g.err = -ENOMEM;
out:
	free(cl);
	free(lo);
	free(all);
	px_chainset_close(&local_active);
	px_buf_close(&g.fc);
	px_buf_close(&g.fr);
	px_buf_close(&g.nc);
	px_buf_close(&g.nr);
	px_buf_close(&g.sc);
	px_buf_close(&g.sr);
	if (skipped)
		*skipped = g.skipped;
	return g.err;
}
