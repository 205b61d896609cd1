/* kube-storectl: etcdctl 3.4's everyday commands against kube-store or etcd.
 * Shared declarations between the command files. */
#ifndef STORECTL_H
#define STORECTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "etcd.h"

/* Exit codes as etcdctl's: ExitError 1, ExitBadArgs 128. */
enum { CTL_EXIT_ERROR = 1, CTL_EXIT_BADARGS = 128 };

enum ctl_output { CTL_OUT_SIMPLE, CTL_OUT_JSON, CTL_OUT_TABLE };

/* Parsed command line: positional args and --name[=value] flags. */
struct ctl_args {
	char **pos;
	size_t n_pos;
	char **names;  /* flag names without dashes */
	char **values; /* NULL for a boolean flag given without value */
	size_t n_flags;
};

/* Global state of one invocation. */
struct ctl {
	kc_etcd *cli;                /* client over all endpoints */
	char **endpoints;            /* as the user wrote them (for printing) */
	size_t n_endpoints;
	struct kc_etcd_config cfg;   /* for per-endpoint clients */
	enum ctl_output out;
	bool hex;
	struct ctl_args *args;
};

/* Flag lookup: returns the value (or "true" for a bare boolean), or NULL when absent. */
const char *ctl_flag(const struct ctl *c, const char *name);
bool ctl_flag_bool(const struct ctl *c, const char *name);
/* Parses an integer flag; exits with a bad-args error when malformed. */
int64_t ctl_flag_int(const struct ctl *c, const char *name, int64_t def);

/* Prints "Error: <msg>" to stderr and exits with code. */
void ctl_die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
/* Exits with etcdctl's message for a failed client call. */
void ctl_die_err(int rc, const struct kc_etcd_error *err) __attribute__((noreturn));

/* Parses etcdctl's hex lease ID. */
int ctl_parse_lease(const char *s, int64_t *out);

/* ---- printing (print.c) ---- */
void ctl_print_kv(const struct ctl *c, const struct kc_etcd_kv *kv, bool value_only);
void ctl_json_header(FILE *f, const struct kc_etcd_header *h);
void ctl_json_kv(FILE *f, const struct kc_etcd_kv *kv);
void ctl_json_range(FILE *f, const struct kc_etcd_range_resp *r);
void ctl_json_put(FILE *f, const struct kc_etcd_put_resp *r);
void ctl_json_delete(FILE *f, const struct kc_etcd_delete_resp *r);
void ctl_json_txn(FILE *f, const struct kc_etcd_txn_resp *r);
void ctl_print_get(const struct ctl *c, const struct kc_etcd_range_resp *r, bool value_only);
void ctl_print_put(const struct ctl *c, const struct kc_etcd_put_resp *r);
void ctl_print_del(const struct ctl *c, const struct kc_etcd_delete_resp *r);
void ctl_print_txn(const struct ctl *c, const struct kc_etcd_txn_resp *r);

/* An etcdctl (tablewriter) table: headers centred, cells right-aligned. */
struct ctl_table {
	size_t cols, rows;
	char **cells; /* (rows + 1) * cols, row 0 = headers */
};
void ctl_table_init(struct ctl_table *t, size_t cols, const char *const *headers);
void ctl_table_row(struct ctl_table *t, const char *const *cells);
void ctl_table_print(FILE *f, struct ctl_table *t); /* and frees */

/* Joins v[0..n) with sep into out (truncated to len). */
void ctl_join(char *out, size_t len, char **v, size_t n, const char *sep);
/* s (borrowed) as a JSON string; v (borrowed) as a JSON array of strings. */
void ctl_json_str(FILE *f, const char *s);
void ctl_json_strs(FILE *f, char **v, size_t n);

/* humanize.Bytes (SI units, as etcdctl's DB SIZE). */
void ctl_human_bytes(uint64_t n, char *out, size_t len);
/* Go's time.Duration.String() for nanoseconds. */
void ctl_go_duration(int64_t ns, char *out, size_t len);

/* Build a request from c->args (pos[0] is the command name) as the get/put/del commands
 * do; exit on bad arguments. *endbuf / *stdin_val are heap buffers the request points
 * into: free them after the call. Used by txn for its op lines. */
void ctl_build_get(struct ctl *c, struct kc_etcd_range_req *req, uint8_t **endbuf);
void ctl_build_put(struct ctl *c, struct kc_etcd_put_req *req, char **stdin_val);
void ctl_build_del(struct ctl *c, struct kc_etcd_delete_req *req, uint8_t **endbuf);

/* ---- commands ---- */
int ctl_cmd_get(struct ctl *c);
int ctl_cmd_put(struct ctl *c);
int ctl_cmd_del(struct ctl *c);
int ctl_cmd_watch(struct ctl *c);
int ctl_cmd_txn(struct ctl *c);
int ctl_cmd_lease(struct ctl *c);
int ctl_cmd_compaction(struct ctl *c);
int ctl_cmd_defrag(struct ctl *c);
int ctl_cmd_alarm(struct ctl *c);
int ctl_cmd_snapshot(struct ctl *c);
int ctl_cmd_member(struct ctl *c);
int ctl_cmd_endpoint(struct ctl *c);
int ctl_cmd_move_leader(struct ctl *c);

/* A client for one endpoint (as the user wrote it, scheme optional) with c's TLS and
 * timeouts; exits on a malformed endpoint. Free with kc_etcd_free. (maint.c) */
kc_etcd *ctl_endpoint_client(struct ctl *c, const char *ep);

/* Splits a txn op line like etcdctl's argify (quotes group words) and runs the same
 * flag parser as the command line. Used by txn.c. */
int ctl_parse_argv(int argc, char **argv, struct ctl_args *out);
void ctl_args_free(struct ctl_args *a);

#endif
