/* Rule generation: px_model -> the iptables-restore input for the filter and nat tables,
 * as kube-proxy's iptables proxier writes it (kubernetes pkg/proxy/iptables/proxier.go,
 * syncProxyRules / writeServiceToEndpointRules). Pure: no I/O, no clock, so it is tested
 * with golden outputs (test/unit/test_proxy_rules.c).
 *
 * Output layout, as upstream:
 *   *filter  :KUBE-NODEPORTS :KUBE-SERVICES :KUBE-EXTERNAL-SERVICES :KUBE-FORWARD
 *            REJECT/DROP rules for service ports without (local) endpoints,
 *            KUBE-FORWARD accept rules for marked and established traffic
 *   COMMIT
 *   *nat     :KUBE-SERVICES :KUBE-NODEPORTS :KUBE-POSTROUTING :KUBE-MARK-MASQ, then per
 *            service port KUBE-SVC-/KUBE-SVL-/KUBE-EXT-/KUBE-SEP- chains and rules,
 *            stale chains flushed and deleted (-X), the KUBE-NODEPORTS tail rule
 *   COMMIT
 * Every chain line (":X - [0:0]") flushes X under iptables-restore --noflush, so the
 * output is a complete replacement of the kube-owned chains and touches nothing else.
 *
 * Not generated (not modelled yet): LoadBalancer ingress IPs and KUBE-FW- chains,
 * externalIPs, healthCheckNodePort, topology hints, IPv6. */
#ifndef PX_IPTABLES_RULES_H
#define PX_IPTABLES_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "model.h"

typedef struct px_rules_opts {
	/* clusterCIDR (validated IPv4 CIDR) for the local-traffic detector: traffic to a
	 * ClusterIP from outside it is masqueraded. NULL or "" disables those rules, as
	 * upstream's no-op detector does. */
	const char *cluster_cidr;
	int masq_bit;             /* iptables.masqueradeBit, 0..31; upstream default 14 */
	bool random_fully;        /* append --random-fully to MASQUERADE */
	bool localhost_nodeports; /* false: NodePorts are not served on 127.0.0.0/8 */
} px_rules_opts;

/* The jumps from the built-in chains into the top-level kube chains, as upstream's
 * iptablesJumpChains (minus KUBE-PROXY-FIREWALL, which kubec does not generate), in
 * upstream's order; extra matches (ctstate NEW) come before the comment, as upstream
 * builds the rule. Each is inserted (prepended) when missing. */
typedef struct px_jump {
	const char *table, *chain, *from, *comment;
	bool ctnew; /* -m conntrack --ctstate NEW */
} px_jump;

#define PX_NJUMPS 9
#define PX_ALL_JUMPS ((1u << PX_NJUMPS) - 1)
extern const px_jump px_jumps[PX_NJUMPS];

/* Write px_jumps[i]'s rule arguments after the chain name (" -m ... -j CHAIN"). */
void px_jump_args(const px_jump *j, px_buf *out);

/* Upstream's largeClusterEndpointsThreshold: with more endpoints than this in total,
 * the per-endpoint rules (KUBE-SVC -> KUBE-SEP jumps and the KUBE-SEP rules) are
 * written without their "-m comment" match, which makes the ruleset ~30% smaller and
 * iptables-restore correspondingly faster (appendServiceCommentLocked). */
#define PX_LARGE_CLUSTER_ENDPOINTS 1000

/* A sorted set of chain names. */
typedef struct px_chainset {
	char (*names)[PX_CHAIN_LEN];
	size_t n, cap;
} px_chainset;

void px_chainset_init(px_chainset *s);
void px_chainset_close(px_chainset *s);
/* Add name (copied; truncated to 28 characters). 0 or -ENOMEM. Call px_chainset_sort
 * before px_chainset_has. */
int px_chainset_add(px_chainset *s, const char *name);
void px_chainset_sort(px_chainset *s);
bool px_chainset_has(const px_chainset *s, const char *name);

/* True for the per-service chain names kube-proxy owns (KUBE-SVC-, KUBE-SVL-, KUBE-EXT-,
 * KUBE-FW-, KUBE-SEP-), as upstream's isServiceChainName. */
bool px_is_service_chain(const char *name);

/* What each service port's own chains (KUBE-SVC/SVL/EXT/SEP) looked like in a sync:
 * a hash of their text, sorted by (spn, proto). For partial syncs. */
typedef struct px_rules_cache_entry {
	char spn[PX_SPN_LEN];
	char proto[8];
	unsigned long long hash;
} px_rules_cache_entry;

typedef struct px_rules_cache {
	px_rules_cache_entry *e;
	size_t n, cap;
} px_rules_cache;

void px_rules_cache_init(px_rules_cache *c);
void px_rules_cache_close(px_rules_cache *c);

/* Append the ruleset for m to out (borrowed; appended to, not reset).
 * existing (borrowed, sorted, may be NULL): per-service nat chains that exist in the
 * kernel now; those not used any more are flushed and deleted. insert_jumps: bit i set
 * inserts px_jumps[i] (an "-I <built-in chain> ..." line in its table's section; the
 * caller found it missing in iptables-save), so the whole sync is one restore. active (may be NULL):
 * reset and filled with every per-service nat chain in use (written or skipped), sorted.
 * prev (borrowed, may be NULL): the cache of the last successfully applied ruleset; a
 * service port whose own chains are unchanged since then is left out of the output
 * (upstream's partial sync; the top-level chains are always complete). NULL writes
 * everything (a full sync). next (may be NULL) is reset and filled for the next call;
 * *skipped (may be NULL) receives the number of service ports left out.
 * Returns 0 or -ENOMEM. */
int px_rules_build(const px_model *m, const px_rules_opts *o, const px_chainset *existing,
		   unsigned insert_jumps, px_buf *out, px_chainset *active, const px_rules_cache *prev,
		   px_rules_cache *next, size_t *skipped);

/* The statistic-match probability text for the i-th of n remaining endpoints: 1/n with
 * ten decimals, as upstream's computeProbability ("%0.10f": 3 -> "0.3333333333";
 * iptables-save later prints the kernel's 32-bit value back as 0.33333333349). */
void px_probability(int n, char *buf, size_t len);

#endif
