/* kube-store's Prometheus /metrics: the subset of etcd 3.4's metric names that
 * dashboards and the benchmark read (etcd_server_has_leader, etcd_mvcc_db_total_size_in_bytes,
 * etcd_debugging_mvcc_keys_total, grpc_server_started_total/handled_total per method...).
 * Counters are lock-free atomics; rendering asks the engine for sizes and counts. */
#ifndef KC_STORE_METRICS_H
#define KC_STORE_METRICS_H

#include "jsonpb.h"

struct kv;

/* The gRPC methods the gateway forwards to; labels as etcd's go-grpc-prometheus. */
enum met_method {
	MET_RANGE,
	MET_PUT,
	MET_DELETE_RANGE,
	MET_TXN,
	MET_COMPACT,
	MET_WATCH,
	MET_LEASE_GRANT,
	MET_LEASE_REVOKE,
	MET_LEASE_KEEPALIVE,
	MET_LEASE_TTL,
	MET_LEASE_LEASES,
	MET_STATUS,
	MET_DEFRAGMENT,
	MET_ALARM,
	MET_HASH,
	MET_SNAPSHOT,
	MET_MEMBER_LIST,
	MET_MEMBER_ADD,
	MET_MEMBER_REMOVE,
	MET_MEMBER_UPDATE,
	MET_MEMBER_PROMOTE,
	MET_MOVE_LEADER,
	MET_N
};

/* A request for m arrived (grpc_server_started_total). */
void met_started(enum met_method m);
/* It finished with gRPC status code (0 OK .. 16) (grpc_server_handled_total). */
void met_handled(enum met_method m, int grpc_code);
/* Wall time a unary request spent in the engine, for
 * grpc_server_handling_seconds-like histogram etcd_kubec_request_duration_seconds. */
void met_observe(enum met_method m, double seconds);
/* Watch streams currently open (etcd_debugging_mvcc_watch_stream_total) and watchers
 * (etcd_debugging_mvcc_watcher_total). */
void met_watch_streams_add(int delta);
void met_watchers_add(int delta);

/* Append the Prometheus text exposition for everything, querying kv (borrowed) for
 * sizes, revisions, key count and WAL fsync totals (kv_stats). 0 or -ENOMEM. */
int met_render(struct kv *kv, struct jpb_buf *out);

#endif
