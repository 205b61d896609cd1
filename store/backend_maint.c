/* Maintenance and cluster calls of kv.h: status, alarms, member list, defragment, hash,
 * stats, and snapshots streamed out / restored into a data dir. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "log.h"

/* ---- maintenance ---- */

static const char *alarm_name(uint32_t t)
{
	return t == KVPB__ALARM_TYPE__NOSPACE ? "NOSPACE" : t == KVPB__ALARM_TYPE__CORRUPT ? "CORRUPT" : "NONE";
}

int kv_status(struct kv *kv, const Kvpb__StatusRequest *req, Kvpb__StatusResponse **out)
{
	(void)req;
	*out = NULL;
	Kvpb__StatusResponse *r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	kvpb__status_response__init(r);
	int rc = 0;
	pthread_rwlock_rdlock(&kv->lock);
	r->header = backend_header(kv, kv->mvcc.rev);
	r->version = strdup("3.4.23"); /* the etcd API level kube-store emulates */
	r->dbsize = kv->db_size;
	r->dbsizeinuse = kv->mvcc.bytes;
	r->leader = atomic_load(&kv->r_lead);
	r->raftindex = atomic_load(&kv->r_last);
	r->raftappliedindex = atomic_load(&kv->applied_index);
	r->raftterm = atomic_load(&kv->raft_term);
	struct cluster_member *me = cluster_find(&kv->members, kv->member_id);
	r->islearner = me && me->learner;
	if (kv->nalarms) {
		r->errors = calloc(kv->nalarms, sizeof(*r->errors));
		if (!r->errors)
			rc = -ENOMEM;
		for (size_t i = 0; !rc && i < kv->nalarms; i++) {
			/* etcd formats the AlarmMember with %v: "memberID:<id> alarm:NOSPACE " */
			if (asprintf(&r->errors[i], "memberID:%" PRIu64 " alarm:%s ",
				     kv->alarms[i].member, alarm_name(kv->alarms[i].type)) < 0) {
				rc = -ENOMEM;
				break;
			}
			r->n_errors++;
		}
	}
	pthread_rwlock_unlock(&kv->lock);
	if (rc || !r->header || !r->version) {
		kvpb__status_response__free_unpacked(r, NULL);
		return rc ? rc : -ENOMEM;
	}
	*out = r;
	return 0;
}

int kv_alarm(struct kv *kv, const Kvpb__AlarmRequest *req, Kvpb__AlarmResponse **out)
{
	*out = NULL;
	if (!req)
		return -EINVAL;
	if (req->action == KVPB__ALARM_REQUEST__ALARM_ACTION__ACTIVATE ||
	    req->action == KVPB__ALARM_REQUEST__ALARM_ACTION__DEACTIVATE) {
		Kvpb__InternalRequest ir = KVPB__INTERNAL_REQUEST__INIT;
		ir.request_case = KVPB__INTERNAL_REQUEST__REQUEST_ALARM;
		ir.alarm = (Kvpb__AlarmRequest *)req;
		return backend_propose(kv, &ir, (void **)out);
	}
	if (req->action != KVPB__ALARM_REQUEST__ALARM_ACTION__GET)
		return -EINVAL;
	Kvpb__AlarmResponse *r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	kvpb__alarm_response__init(r);
	int rc = 0;
	pthread_rwlock_rdlock(&kv->lock);
	if (kv->nalarms && !(r->alarms = calloc(kv->nalarms, sizeof(*r->alarms))))
		rc = -ENOMEM;
	for (size_t i = 0; !rc && i < kv->nalarms; i++) {
		/* etcd's GET filters by alarm type unless NONE. */
		if (req->alarm != KVPB__ALARM_TYPE__NONE && req->alarm != kv->alarms[i].type)
			continue;
		Kvpb__AlarmMember *m = malloc(sizeof(*m));
		if (!m) {
			rc = -ENOMEM;
			break;
		}
		kvpb__alarm_member__init(m);
		m->memberid = kv->alarms[i].member;
		m->alarm = (Kvpb__AlarmType)kv->alarms[i].type;
		r->alarms[r->n_alarms++] = m;
	}
	pthread_rwlock_unlock(&kv->lock);
	if (rc) {
		kvpb__alarm_response__free_unpacked(r, NULL);
		return rc;
	}
	*out = r;
	return 0;
}

int kv_defragment(struct kv *kv, const Kvpb__DefragmentRequest *req,
		  Kvpb__DefragmentResponse **out)
{
	(void)req;
	*out = NULL;
	Kvpb__DefragmentResponse *r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	kvpb__defragment_response__init(r);
	pthread_rwlock_wrlock(&kv->lock);
	kv->db_size = kv->mvcc.bytes;
	pthread_rwlock_unlock(&kv->lock);
	/* Give freed pages back, the in-memory analogue of bbolt's defrag. The release
	 * build links jemalloc, which returns them as they are freed (dirty_decay_ms:0,
	 * common/malloc_conf.c) and leaves glibc's heap empty; sanitizer builds use glibc's. */
	malloc_trim(0);
	*out = r;
	return 0;
}

static int hash_key(void *arg, struct mvcc_key *k)
{
	uint32_t *h = arg;
	*h = wal_crc32c(*h, mvcc_key_bytes(k), k->klen);
	for (const struct mvcc_rev *r = k->head; r; r = r->older) {
		int64_t f[5] = { r->main, r->sub, r->create, r->version, r->lease };
		*h = wal_crc32c(*h, f, sizeof(f));
		*h = wal_crc32c(*h, &r->tomb, 1);
		*h = wal_crc32c(*h, r->value, r->vlen);
	}
	return 0;
}

int kv_hash(struct kv *kv, const Kvpb__HashRequest *req, Kvpb__HashResponse **out)
{
	(void)req;
	*out = NULL;
	Kvpb__HashResponse *r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	kvpb__hash_response__init(r);
	uint32_t h = 0;
	pthread_rwlock_rdlock(&kv->lock);
	mvcc_each_key(&kv->mvcc, hash_key, &h);
	r->header = backend_header(kv, kv->mvcc.rev);
	pthread_rwlock_unlock(&kv->lock);
	r->hash = h;
	if (!r->header) {
		free(r);
		return -ENOMEM;
	}
	*out = r;
	return 0;
}

void kv_stats(struct kv *kv, struct kv_stats *o)
{
	memset(o, 0, sizeof(*o));
	pthread_rwlock_rdlock(&kv->lock);
	o->revision = kv->mvcc.rev;
	o->compact_revision = kv->mvcc.compact_rev;
	o->db_size = kv->db_size;
	o->db_size_in_use = kv->mvcc.bytes;
	o->keys = kv->mvcc.nkeys;
	o->leases = (int64_t)kv->lessor.n;
	pthread_rwlock_unlock(&kv->lock);
	o->applied_index = atomic_load(&kv->applied_index);
	o->wal_fsyncs = atomic_load(&kv->n_fsyncs);
	o->wal_fsync_ns = atomic_load(&kv->fsync_ns);
	o->proposals = atomic_load(&kv->n_proposals);
	o->snapshots = atomic_load(&kv->n_snapshots);
	o->watchers = watchhub_count(&kv->hub);
	o->commit_index = atomic_load(&kv->r_commit);
	o->proposals_pending = atomic_load(&kv->proposals_pending);
	o->proposals_failed = atomic_load(&kv->proposals_failed);
	o->leader_changes = atomic_load(&kv->leader_changes);
}

/* ---- snapshots ---- */

static int copy_fd(int from, int to, int64_t *total)
{
	char buf[1 << 16];
	*total = 0;
	if (lseek(from, 0, SEEK_SET) < 0)
		return -errno;
	for (;;) {
		ssize_t n = read(from, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(to, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return w < 0 ? -errno : -EIO;
			off += w;
		}
		*total += n;
	}
}

int64_t kv_snapshot_write(struct kv *kv, int fd)
{
	/* Serialise to an unlinked temp file under the read lock (fast, local), then
	 * stream it out without the lock so a slow reader never stalls writes. */
	int tfd = open(kv->data_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (tfd < 0) {
		char *tmpl = NULL;
		if (asprintf(&tmpl, "%s/snapshot.XXXXXX", kv->data_dir) < 0)
			return -ENOMEM;
		tfd = mkstemp(tmpl);
		if (tfd >= 0)
			unlink(tmpl);
		free(tmpl);
		if (tfd < 0)
			return -errno;
	}
	pthread_rwlock_rdlock(&kv->lock);
	struct snap_meta m = { atomic_load(&kv->applied_index), kv->alarms, kv->nalarms, 0, NULL, 0 };
	int64_t n = snapshot_write_fd(tfd, &kv->mvcc, &kv->lessor, &m);
	pthread_rwlock_unlock(&kv->lock);
	if (n >= 0) {
		int64_t total;
		int rc = copy_fd(tfd, fd, &total);
		n = rc ? rc : total;
	}
	close(tfd);
	return n;
}

int kv_snapshot_restore(const char *snap_path, const char *data_dir)
{
	if (!snap_path || !data_dir)
		return -EINVAL;
	/* Validate fully before touching the target. */
	struct mvcc s;
	struct lessor l;
	struct snap_meta m;
	int rc = mvcc_init(&s);
	if (rc)
		return rc;
	if ((rc = lessor_init(&l))) {
		mvcc_close(&s);
		return rc;
	}
	rc = snapshot_load(snap_path, &s, &l, &m, 0);
	mvcc_close(&s);
	lessor_close(&l);
	free(m.alarms);
	if (rc)
		return rc;
	char *member = NULL, *snapdir = NULL, *dst = NULL;
	struct stat st;
	if (asprintf(&member, "%s/member", data_dir) < 0)
		return -ENOMEM;
	if (stat(member, &st) == 0) {
		kc_error("snapshot restore: %s already exists", member);
		free(member);
		return -EEXIST;
	}
	if (asprintf(&snapdir, "%s/snap", member) < 0 ||
	    asprintf(&dst, "%s/%016" PRIx64 ".snap", snapdir, m.index) < 0) {
		free(member);
		free(snapdir);
		return -ENOMEM;
	}
	rc = backend_mkdir_p(snapdir);
	int in = -1, outfd = -1;
	if (!rc && (in = open(snap_path, O_RDONLY | O_CLOEXEC)) < 0)
		rc = -errno;
	if (!rc && (outfd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		rc = -errno;
	int64_t total;
	if (!rc)
		rc = copy_fd(in, outfd, &total);
	if (!rc && fsync(outfd) != 0)
		rc = -errno;
	if (in >= 0)
		close(in);
	if (outfd >= 0)
		close(outfd);
	free(member);
	free(snapdir);
	free(dst);
	return rc;
}

