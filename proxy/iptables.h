/* Applying rules: the iptables command-line tools, as upstream's pkg/util/iptables.
 *
 *  - px_ipt_restore: iptables-restore -w <wait> --noflush: only the chains named in the
 *    input are flushed/replaced, everything else in the tables is untouched;
 *  - px_ipt_save / px_ipt_parse_save: one table's iptables-save text, and what it says
 *    about us: the KUBE-* chains and which of the jumps from the built-in chains
 *    (px_jumps) exist. Upstream runs `iptables -N` + `iptables -C` per jump (18
 *    processes, each loading the whole table: seconds at 10,000 services); kubec reads
 *    the one iptables-save a full sync needs anyway and writes the missing jumps as
 *    "-I" lines into the same iptables-restore input;
 *  - px_ipt_list_chains: the chain names in one table;
 *  - px_ipt_cleanup: what `kube-proxy --cleanup` does: flush every kube-proxy chain,
 *    delete the built-in chains' jumps into them (as iptables-save shows them), delete
 *    the chains: one iptables-save and one iptables-restore per table;
 *  - px_conntrack_clear: delete stale UDP conntrack entries (conntrack -D).
 * All of them block while the tool runs: call them from the sync thread only.
 * Error text (err, errlen; may be NULL/0) quotes the tool's stderr. */
#ifndef PX_IPTABLES_H
#define PX_IPTABLES_H

#include <stdbool.h>
#include <stddef.h>

#include "iptables_rules.h"

typedef struct px_ipt {
	const char *iptables; /* default "iptables" */
	const char *restore;  /* default "iptables-restore" */
	const char *save;     /* default "iptables-save" */
	const char *conntrack; /* default "conntrack" */
	int wait_seconds;     /* the xtables lock wait (-w); default 5 */
} px_ipt;

/* Fill t with the defaults above. */
void px_ipt_defaults(px_ipt *t);

/* Feed data (borrowed) to iptables-restore --noflush. 0, or KC_ESERVER with stderr in err,
 * or -ENOENT when the tool is missing. */
int px_ipt_restore(const px_ipt *t, const char *data, size_t len, char *err, size_t errlen);

/* iptables-save -t <table> into out (borrowed; reset first). 0 or as above. */
int px_ipt_save(const px_ipt *t, const char *table, px_buf *out, char *err, size_t errlen);
/* Parse one table's iptables-save text (borrowed): append its KUBE-* chain names to
 * chains (may be NULL; not sorted) and set in *jumps (may be NULL) bit i for each
 * px_jumps[i] of this table present (same source chain, target, comment and ctstate
 * match). Pure. 0 or -ENOMEM. */
int px_ipt_parse_save(const char *text, const char *table, px_chainset *chains,
		      unsigned *jumps);

/* Add (to out) the names of all chains of table ("nat", "filter") that start with
 * "KUBE-". 0 or as above. */
int px_ipt_list_chains(const px_ipt *t, const char *table, px_chainset *out, char *err,
		       size_t errlen);

/* Remove every jump and chain kube-proxy creates. Returns 0 when nothing is left. */
int px_ipt_cleanup(const px_ipt *t, char *err, size_t errlen);

/* Does this iptables support MASQUERADE --random-fully (iptables >= 1.6.2)? */
bool px_ipt_has_random_fully(const px_ipt *t);

/* conntrack -D -p <proto> --orig-dst <orig_dst> --dst-nat <dst_nat> (orig_dst may be
 * NULL, then --dport <dport> is used instead, for NodePorts; dst_nat may be NULL to
 * match any translation, for a service that had no endpoints). All borrowed. "0 flow
 * entries" is success. 0, KC_ESERVER or -ENOENT. */
int px_conntrack_clear(const px_ipt *t, const char *proto, const char *orig_dst, int dport,
		       const char *dst_nat, char *err, size_t errlen);

#endif
