/* Prometheus text for kube-store, named as etcd 3.4 names them (see metrics.h). */
#include "metrics.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kv.h"

struct met_desc {
	const char *service, *method, *type;
};

/* go-grpc-prometheus labels: grpc_service, grpc_method, grpc_type. */
static const struct met_desc descs[MET_N] = {
	[MET_RANGE] = { "etcdserverpb.KV", "Range", "unary" },
	[MET_PUT] = { "etcdserverpb.KV", "Put", "unary" },
	[MET_DELETE_RANGE] = { "etcdserverpb.KV", "DeleteRange", "unary" },
	[MET_TXN] = { "etcdserverpb.KV", "Txn", "unary" },
	[MET_COMPACT] = { "etcdserverpb.KV", "Compact", "unary" },
	[MET_WATCH] = { "etcdserverpb.Watch", "Watch", "bidi_stream" },
	[MET_LEASE_GRANT] = { "etcdserverpb.Lease", "LeaseGrant", "unary" },
	[MET_LEASE_REVOKE] = { "etcdserverpb.Lease", "LeaseRevoke", "unary" },
	[MET_LEASE_KEEPALIVE] = { "etcdserverpb.Lease", "LeaseKeepAlive", "bidi_stream" },
	[MET_LEASE_TTL] = { "etcdserverpb.Lease", "LeaseTimeToLive", "unary" },
	[MET_LEASE_LEASES] = { "etcdserverpb.Lease", "LeaseLeases", "unary" },
	[MET_STATUS] = { "etcdserverpb.Maintenance", "Status", "unary" },
	[MET_DEFRAGMENT] = { "etcdserverpb.Maintenance", "Defragment", "unary" },
	[MET_ALARM] = { "etcdserverpb.Maintenance", "Alarm", "unary" },
	[MET_HASH] = { "etcdserverpb.Maintenance", "Hash", "unary" },
	[MET_SNAPSHOT] = { "etcdserverpb.Maintenance", "Snapshot", "server_stream" },
	[MET_MEMBER_LIST] = { "etcdserverpb.Cluster", "MemberList", "unary" },
	[MET_MEMBER_ADD] = { "etcdserverpb.Cluster", "MemberAdd", "unary" },
	[MET_MEMBER_REMOVE] = { "etcdserverpb.Cluster", "MemberRemove", "unary" },
	[MET_MEMBER_UPDATE] = { "etcdserverpb.Cluster", "MemberUpdate", "unary" },
	[MET_MEMBER_PROMOTE] = { "etcdserverpb.Cluster", "MemberPromote", "unary" },
	[MET_MOVE_LEADER] = { "etcdserverpb.Maintenance", "MoveLeader", "unary" },
};

/* gRPC code names, as the grpc_code label spells them. */
static const char *const code_names[17] = {
	"OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound",
	"AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted",
	"OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated",
};

/* Prometheus' default buckets, as go-grpc-prometheus uses them. */
static const double buckets[] = { .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10 };
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

static atomic_uint_fast64_t started[MET_N];
static atomic_uint_fast64_t handled[MET_N][17];
static atomic_uint_fast64_t hist[MET_N][NBUCKETS + 1];
static atomic_uint_fast64_t hist_sum_us[MET_N];
static atomic_int watch_streams, watchers;

void met_started(enum met_method m)
{
	if ((unsigned)m < MET_N)
		atomic_fetch_add_explicit(&started[m], 1, memory_order_relaxed);
}

void met_handled(enum met_method m, int code)
{
	if ((unsigned)m >= MET_N)
		return;
	if (code < 0 || code > 16)
		code = 2;
	atomic_fetch_add_explicit(&handled[m][code], 1, memory_order_relaxed);
}

void met_observe(enum met_method m, double s)
{
	if ((unsigned)m >= MET_N || s < 0)
		return;
	size_t b = 0;
	while (b < NBUCKETS && s > buckets[b])
		b++;
	atomic_fetch_add_explicit(&hist[m][b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&hist_sum_us[m], (uint_fast64_t)(s * 1e6), memory_order_relaxed);
}

void met_watch_streams_add(int d)
{
	atomic_fetch_add(&watch_streams, d);
}

void met_watchers_add(int d)
{
	atomic_fetch_add(&watchers, d);
}

static int gauge(struct jpb_buf *o, const char *name, const char *help, const char *type,
		 double v)
{
	return jpb_buf_printf(o, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type,
			      name, v);
}

int met_render(struct kv *kv, struct jpb_buf *o)
{
	int rc = 0;
	Kvpb__StatusRequest sq = KVPB__STATUS_REQUEST__INIT;
	Kvpb__StatusResponse *st = NULL;
	if (kv_status(kv, &sq, &st) != 0)
		st = NULL;
	rc |= gauge(o, "etcd_server_has_leader", "Whether or not a leader exists. 1 is existence, 0 is not.",
		    "gauge", st && st->leader ? 1 : 0);
	rc |= gauge(o, "etcd_server_is_leader", "Whether or not this member is a leader. 1 if is, 0 otherwise.",
		    "gauge", st && st->leader == kv_member_id(kv) ? 1 : 0);
	if (st) {
		rc |= gauge(o, "etcd_mvcc_db_total_size_in_bytes",
			    "Total size of the underlying database physically allocated in bytes.",
			    "gauge", (double)st->dbsize);
		rc |= gauge(o, "etcd_mvcc_db_total_size_in_use_in_bytes",
			    "Total size of the underlying database logically in use in bytes.",
			    "gauge", (double)st->dbsizeinuse);
		rc |= gauge(o, "etcd_server_proposals_applied_total",
			    "The total number of consensus proposals applied.", "gauge",
			    (double)st->raftappliedindex);
		kvpb__status_response__free_unpacked(st, NULL);
	}
	struct kv_stats ks;
	memset(&ks, 0, sizeof(ks));
	kv_stats(kv, &ks);
	rc |= gauge(o, "etcd_server_proposals_committed_total",
		    "The total number of consensus proposals committed.", "gauge",
		    (double)ks.commit_index);
	rc |= gauge(o, "etcd_server_proposals_pending",
		    "The current number of pending proposals to commit.", "gauge",
		    (double)ks.proposals_pending);
	rc |= gauge(o, "etcd_server_proposals_failed_total",
		    "The total number of failed proposals seen.", "counter",
		    (double)ks.proposals_failed);
	rc |= gauge(o, "etcd_server_leader_changes_seen_total",
		    "The number of leader changes seen.", "counter", (double)ks.leader_changes);
	rc |= gauge(o, "etcd_debugging_mvcc_keys_total", "Total number of keys.", "gauge",
		    (double)ks.keys);
	rc |= gauge(o, "etcd_debugging_mvcc_current_revision", "The current revision of store.",
		    "gauge", (double)ks.revision);
	rc |= gauge(o, "etcd_debugging_mvcc_compact_revision",
		    "The revision of the last compaction in store.", "gauge",
		    (double)ks.compact_revision);
	/* kubec's own (etcd has no direct equivalents). */
	rc |= gauge(o, "kubec_store_leases", "Leases currently granted.", "gauge",
		    (double)ks.leases);
	rc |= gauge(o, "kubec_store_snapshots_total", "Snapshots saved since start.", "counter",
		    (double)ks.snapshots);
	/* The engine keeps a count and a total, not per-sync buckets: a histogram with
	 * only the +Inf bucket is still a valid one (rate(sum)/rate(count) works). */
	rc |= jpb_buf_printf(o,
			     "# HELP etcd_disk_wal_fsync_duration_seconds The latency distributions of fsync called by WAL.\n"
			     "# TYPE etcd_disk_wal_fsync_duration_seconds histogram\n"
			     "etcd_disk_wal_fsync_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
			     "etcd_disk_wal_fsync_duration_seconds_sum %.9f\n"
			     "etcd_disk_wal_fsync_duration_seconds_count %llu\n",
			     (unsigned long long)ks.wal_fsyncs, (double)ks.wal_fsync_ns / 1e9,
			     (unsigned long long)ks.wal_fsyncs);
	rc |= gauge(o, "etcd_debugging_mvcc_watch_stream_total",
		    "Total number of watch streams.", "gauge", atomic_load(&watch_streams));
	rc |= gauge(o, "etcd_debugging_mvcc_watcher_total", "Total number of watchers.", "gauge",
		    atomic_load(&watchers));

	rc |= jpb_buf_puts(o, "# HELP grpc_server_started_total Total number of RPCs started on the server.\n"
			      "# TYPE grpc_server_started_total counter\n");
	for (int m = 0; m < MET_N; m++)
		rc |= jpb_buf_printf(o,
				     "grpc_server_started_total{grpc_method=\"%s\",grpc_service=\"%s\",grpc_type=\"%s\"} %lu\n",
				     descs[m].method, descs[m].service, descs[m].type,
				     (unsigned long)atomic_load(&started[m]));
	rc |= jpb_buf_puts(o, "# HELP grpc_server_handled_total Total number of RPCs completed on the server, regardless of success or failure.\n"
			      "# TYPE grpc_server_handled_total counter\n");
	for (int m = 0; m < MET_N; m++)
		for (int c = 0; c < 17; c++) {
			unsigned long v = (unsigned long)atomic_load(&handled[m][c]);
			if (!v && c != 0)
				continue;
			rc |= jpb_buf_printf(o,
					     "grpc_server_handled_total{grpc_code=\"%s\",grpc_method=\"%s\",grpc_service=\"%s\",grpc_type=\"%s\"} %lu\n",
					     code_names[c], descs[m].method, descs[m].service,
					     descs[m].type, v);
		}
	rc |= jpb_buf_puts(o, "# HELP grpc_server_handling_seconds Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.\n"
			      "# TYPE grpc_server_handling_seconds histogram\n");
	for (int m = 0; m < MET_N; m++) {
		if (strcmp(descs[m].type, "unary") != 0)
			continue;
		uint64_t cum = 0;
		char lbl[160];
		snprintf(lbl, sizeof(lbl), "grpc_method=\"%s\",grpc_service=\"%s\",grpc_type=\"unary\"",
			 descs[m].method, descs[m].service);
		for (size_t b = 0; b <= NBUCKETS; b++) {
			cum += atomic_load(&hist[m][b]);
			if (b < NBUCKETS)
				rc |= jpb_buf_printf(o, "grpc_server_handling_seconds_bucket{%s,le=\"%g\"} %lu\n",
						     lbl, buckets[b], (unsigned long)cum);
			else
				rc |= jpb_buf_printf(o, "grpc_server_handling_seconds_bucket{%s,le=\"+Inf\"} %lu\n",
						     lbl, (unsigned long)cum);
		}
		rc |= jpb_buf_printf(o, "grpc_server_handling_seconds_sum{%s} %.6f\n", lbl,
				     (double)atomic_load(&hist_sum_us[m]) / 1e6);
		rc |= jpb_buf_printf(o, "grpc_server_handling_seconds_count{%s} %lu\n", lbl,
				     (unsigned long)cum);
	}
	return rc ? -ENOMEM : 0;
}
