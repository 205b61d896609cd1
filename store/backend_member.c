/* Cluster membership: etcd's v3 Cluster API (member list/add/remove/update/promote),
 * MoveLeader, and the replicated member metadata behind them.
 *
 * Metadata (name, peer and client URLs, learner) is replicated state changed by normal
 * entries (InternalRequest member_add / member_update / member_remove) that any member
 * may propose (followers forward them like any write). The Raft configuration follows the
 * metadata level-triggered: the leader, once it has applied everything committed,
 * compares the member list with the configuration and issues the single-server change
 * that brings them closer (add voter/learner, promote, remove), one at a time. So a
 * leader change in the middle of a `member add` only delays it.
 *
 * A member added at runtime gets etcd 3.4's id: sha1 of its sorted peer URLs and the Unix
 * second of the add on the member that takes the request (v3rpc MemberAdd:
 * NewMember("", urls, "", &now); cluster_runtime_member_id). The new member cannot compute
 * it: it fetches the member list from a running member before it starts Raft
 * (backend_join.c).
 *
 * Removed ids never come back, as etcd's RaftCluster.removed: the set is part of the
 * replicated metadata (cluster.h; in snapshots and the WAL's member record), a member add
 * of a removed id is answered "etcdserver: member not found" (HTTP 404), and a removed
 * member is forgotten by the transport, which then refuses its streams. With the timestamp
 * in the id this refuses only a re-add of the same peer URLs within the same second as
 * their previous add (as etcd); a second later the same host is a new member. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "errors.h"
#include "log.h"

/* ---- building responses ---- */

static Kvpb__Member *pb_member(const struct cluster_member *m)
{
	Kvpb__Member *o = malloc(sizeof(*o));
	if (!o)
		return NULL;
	kvpb__member__init(o);
	o->id = m->id;
	o->name = strdup(m->name ? m->name : "");
	o->peerurls = backend_dup_strv((const char *const *)m->peer_urls, m->n_peer);
	o->n_peerurls = o->peerurls ? m->n_peer : 0;
	o->clienturls = backend_dup_strv((const char *const *)m->client_urls, m->n_client);
	o->n_clienturls = o->clienturls ? m->n_client : 0;
	o->islearner = m->learner;
	if (!o->name || !o->peerurls || !o->clienturls) {
		kvpb__member__free_unpacked(o, NULL);
		return NULL;
	}
	return o;
}

/* Every member (lock held by the caller). */
static int pb_members(struct kv *kv, Kvpb__Member ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!kv->members.n)
		return 0;
	Kvpb__Member **v = calloc(kv->members.n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < kv->members.n; i++) {
		v[i] = pb_member(&kv->members.v[i]);
		if (!v[i]) {
			for (size_t k = 0; k < i; k++)
				kvpb__member__free_unpacked(v[k], NULL);
			free(v);
			return -ENOMEM;
		}
	}
	*out = v;
	*n = kv->members.n;
	return 0;
}

int kv_member_list(struct kv *kv, const Kvpb__MemberListRequest *req,
		   Kvpb__MemberListResponse **out)
{
	(void)req;
	*out = NULL;
	Kvpb__MemberListResponse *r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	kvpb__member_list_response__init(r);
	pthread_rwlock_rdlock(&kv->lock);
	r->header = backend_header(kv, 0); /* etcd: member/list header has no revision */
	int rc = pb_members(kv, &r->members, &r->n_members);
	pthread_rwlock_unlock(&kv->lock);
	if (rc || !r->header) {
		kvpb__member_list_response__free_unpacked(r, NULL);
		return rc ? rc : -ENOMEM;
	}
	*out = r;
	return 0;
}

/* ---- apply (state write lock held) ---- */

int backend_apply_member(struct kv *kv, const Kvpb__InternalRequest *req)
{
	if (req->request_case == KVPB__INTERNAL_REQUEST__REQUEST_MEMBER_REMOVE) {
		uint64_t id = req->member_remove->id;
		int rrc = cluster_remove(&kv->members, id);
		if (rrc)
			return rrc == -ENOENT ? KV_EMEMBERNOTFOUND : rrc;
		kc_info("removed member %016" PRIx64 " from cluster %016" PRIx64, id,
			kv->cluster_id);
		if (id == kv->member_id && kv->was_member) {
			/* etcd: "the member has been permanently removed from the cluster" */
			kc_warn("the member has been permanently removed from the cluster");
			atomic_store(&kv->removed, true);
		}
		return 0;
	}
	const Kvpb__Member *m = req->request_case == KVPB__INTERNAL_REQUEST__REQUEST_MEMBER_ADD
					? req->member_add
					: req->member_update;
	if (!m || m->id == 0)
		return -EINVAL;
	struct cluster_member *cur = cluster_find(&kv->members, m->id);
	if (req->request_case == KVPB__INTERNAL_REQUEST__REQUEST_MEMBER_ADD) {
		/* etcd's ValidateConfigurationChange: a removed id never comes back
		 * (ErrIDRemoved, answered as "etcdserver: member not found"). Decided at
		 * apply, from replicated state, so every member agrees even when two adds
		 * race with a remove. */
		if (cluster_is_removed(&kv->members, m->id))
			return KV_EMEMBERNOTFOUND;
		if (cur) {
			/* promote: the same id added again as a voter */
			if (cur->learner && !m->islearner) {
				cur->learner = false;
				kc_info("promoted member %016" PRIx64 " to voter", m->id);
				return 0;
			}
			return KV_EPEERURLEXIST;
		}
		for (size_t i = 0; i < m->n_peerurls; i++)
			if (cluster_peer_url_used(&kv->members, m->peerurls[i], 0))
				return KV_EPEERURLEXIST;
		int rc = cluster_add(&kv->members, m->id, m->name,
				     (const char *const *)m->peerurls, m->n_peerurls,
				     (const char *const *)m->clienturls, m->n_clienturls,
				     m->islearner);
		if (!rc)
			kc_info("added member %016" PRIx64 " %s to cluster %016" PRIx64, m->id,
				m->n_peerurls ? m->peerurls[0] : "", kv->cluster_id);
		return rc;
	}
	if (!cur)
		return KV_EMEMBERNOTFOUND;
	int rc = 0;
	if (m->name && *m->name) {
		char *n = strdup(m->name);
		if (!n)
			return -ENOMEM;
		free(cur->name);
		cur->name = n;
	}
	if (m->n_clienturls)
		rc = cluster_set_urls(&cur->client_urls, &cur->n_client,
				      (const char *const *)m->clienturls, m->n_clienturls);
	if (!rc && m->n_peerurls) {
		for (size_t i = 0; i < m->n_peerurls; i++)
			if (cluster_peer_url_used(&kv->members, m->peerurls[i], m->id))
				return KV_EPEERURLEXIST;
		rc = cluster_set_urls(&cur->peer_urls, &cur->n_peer,
				      (const char *const *)m->peerurls, m->n_peerurls);
		if (!rc && kv->peers && m->id != kv->member_id) {
			/* Re-dial at the new address. */
			peer_remove(kv->peers, m->id);
			peer_add(kv->peers, m->id, cur->peer_urls[0]);
		}
	}
	return rc;
}

int backend_apply_renew(struct kv *kv, const Kvpb__LeaseKeepAliveRequest *r,
			Kvpb__LeaseKeepAliveResponse **resp)
{
	Kvpb__LeaseKeepAliveResponse *o = malloc(sizeof(*o));
	if (!o)
		return -ENOMEM;
	kvpb__lease_keep_alive_response__init(o);
	o->id = r->id;
	struct lease *ls = lessor_get(&kv->lessor, r->id);
	if (ls) {
		atomic_store(&ls->expiry_ns, kc_now_mono(kv->clock) + ls->ttl * KC_NSEC_PER_SEC);
		o->ttl = ls->ttl;
	}
	o->header = backend_header(kv, kv->mvcc.rev);
	if (!o->header) {
		kvpb__lease_keep_alive_response__free_unpacked(o, NULL);
		return -ENOMEM;
	}
	*resp = o;
	return 0;
}

/* ---- the leader's reconciliation of configuration with metadata (raft thread) ---- */

void backend_member_reconcile(struct kv *kv)
{
	struct raft *r = kv->raft;
	if (raft_role(r) != RAFT_LEADER || raft_applied_index(r) < raft_commit_index(r))
		return;
	const struct raft_conf *c = raft_configuration(r);
	enum raft_conf_change type = 0;
	uint64_t id = 0;
	pthread_rwlock_rdlock(&kv->lock);
	if (!kv->members.n) {
		pthread_rwlock_unlock(&kv->lock);
		return;
	}
	for (size_t i = 0; i < kv->members.n && !id; i++) {
		const struct cluster_member *m = &kv->members.v[i];
		int k = raft_conf_find(c, m->id);
		if (k < 0) {
			type = m->learner ? RAFT_CC_ADD_LEARNER : RAFT_CC_ADD_VOTER;
			id = m->id;
		} else if (c->learner[k] && !m->learner) {
			type = RAFT_CC_ADD_VOTER;
			id = m->id;
		}
	}
	for (size_t k = 0; k < c->n && !id; k++)
		if (!cluster_find(&kv->members, c->ids[k])) {
			type = RAFT_CC_REMOVE;
			id = c->ids[k];
		}
	pthread_rwlock_unlock(&kv->lock);
	if (!id)
		return;
	uint64_t index = 0;
	int rc = raft_change_membership(r, type, id, &index);
	if (rc == 0)
		kc_info("raft: proposed configuration change (%s %016" PRIx64 ") at index %" PRIu64,
			type == RAFT_CC_REMOVE ? "remove" : type == RAFT_CC_ADD_LEARNER
								? "add learner"
								: "add voter",
			id, index);
	else if (rc != -EBUSY)
		kc_warn("raft: configuration change for %016" PRIx64 " refused: %s", id,
			kc_strerror(rc));
}

/* ---- the API ---- */

/* Members whose process has started (published a name), as etcd counts them. */
static size_t started_voters(struct kv *kv)
{
	size_t n = 0;
	for (size_t i = 0; i < kv->members.n; i++) {
		const struct cluster_member *m = &kv->members.v[i];
		if (m->learner || !m->name || !*m->name)
			continue;
		if (m->id == kv->member_id) {
			n++;
			continue;
		}
		struct peer_remote_stats st;
		if (kv->peers && peer_remote_stats_get(kv->peers, m->id, &st) == 0 && st.connected)
			n++;
	}
	return n;
}

static size_t voters(struct kv *kv)
{
	size_t n = 0;
	for (size_t i = 0; i < kv->members.n; i++)
		n += !kv->members.v[i].learner;
	return n;
}

/* Wait (bounded) until the configuration matches the metadata for id. */
static int wait_conf(struct kv *kv, uint64_t id, bool present)
{
	int64_t deadline = kc_now_mono(kc_clock_real()) + kv->req_timeout_ns;
	for (;;) {
		pthread_rwlock_rdlock(&kv->lock);
		bool in_meta = cluster_find(&kv->members, id) != NULL;
		bool in_conf = raft_conf_find(&kv->pub_conf, id) >= 0;
		pthread_rwlock_unlock(&kv->lock);
		if (in_meta == present && in_conf == present)
			return 0;
		if (kc_now_mono(kc_clock_real()) >= deadline)
			return KV_ETIMEOUT;
		/* A lightweight poll: the change needs at least one round trip. */
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

static int members_reply(struct kv *kv, Kvpb__ResponseHeader **hdr, Kvpb__Member ***ms,
			 size_t *n)
{
	pthread_rwlock_rdlock(&kv->lock);
	*hdr = backend_header(kv, 0);
	int rc = pb_members(kv, ms, n);
	pthread_rwlock_unlock(&kv->lock);
	return rc ? rc : *hdr ? 0 : -ENOMEM;
}

int kv_member_add(struct kv *kv, const Kvpb__MemberAddRequest *req,
		  Kvpb__MemberAddResponse **out)
{
	*out = NULL;
	if (!req || req->n_peerurls == 0 || req->n_peerurls > 16)
		return -EINVAL;
	for (size_t i = 0; i < req->n_peerurls; i++) {
		char host[256];
		uint16_t port;
		if (!req->peerurls[i] || peer_parse_url(req->peerurls[i], host, sizeof(host), &port, NULL))
			return -EINVAL;
	}
	/* etcd: now := time.Now(); membership.NewMember("", urls, "", &now). The engine's
	 * clock, so tests can put two adds in the same second or in different ones. */
	int64_t now_unix = kc_now_wall(kv->clock) / KC_NSEC_PER_SEC;
	uint64_t id = cluster_runtime_member_id((const char *const *)req->peerurls,
						req->n_peerurls, now_unix);
	pthread_rwlock_rdlock(&kv->lock);
	bool used = false, removed = cluster_is_removed(&kv->members, id);
	for (size_t i = 0; i < req->n_peerurls; i++)
		used |= cluster_peer_url_used(&kv->members, req->peerurls[i], 0);
	/* etcd's isReadyToAddVotingMember: the started voters must still be a quorum of
	 * the grown cluster (adding a second member to a single one is allowed). */
	size_t started = started_voters(kv), nv = voters(kv) + !req->islearner;
	pthread_rwlock_unlock(&kv->lock);
	if (used)
		return KV_EPEERURLEXIST;
	if (!req->islearner && started < nv / 2 + 1 && !(started == 1 && nv == 2))
		return KV_ENOTENOUGHSTARTED;
	/* etcd checks readiness first, then (applying the change) that the id was not
	 * removed before: ErrIDRemoved -> ErrGRPCMemberNotFound, HTTP 404 on the gateway.
	 * That happens when the same peer URLs are added again within the second of their
	 * previous add. */
	if (removed)
		return KV_EMEMBERNOTFOUND;
	Kvpb__Member m = KVPB__MEMBER__INIT;
	m.id = id;
	m.name = "";
	m.peerurls = req->peerurls;
	m.n_peerurls = req->n_peerurls;
	m.islearner = req->islearner;
	Kvpb__InternalRequest ir = KVPB__INTERNAL_REQUEST__INIT;
	ir.request_case = KVPB__INTERNAL_REQUEST__REQUEST_MEMBER_ADD;
	ir.member_add = &m;
	int rc = backend_propose(kv, &ir, NULL);
	if (rc)
		return rc;
	if ((rc = wait_conf(kv, id, true)))
		return rc;
	Kvpb__MemberAddResponse *r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	kvpb__member_add_response__init(r);
	rc = members_reply(kv, &r->header, &r->members, &r->n_members);
	pthread_rwlock_rdlock(&kv->lock);
	const struct cluster_member *cm = cluster_find(&kv->members, id);
	if (!rc && cm && !(r->member = pb_member(cm)))
		rc = -ENOMEM;
	pthread_rwlock_unlock(&kv->lock);
	if (rc) {
		kvpb__member_add_response__free_unpacked(r, NULL);
		return rc;
	}
	*out = r;
	return 0;
}

int kv_member_remove(struct kv *kv, const Kvpb__MemberRemoveRequest *req,
		     Kvpb__MemberRemoveResponse **out)
{
	*out = NULL;
	if (!req)
		return -EINVAL;
	pthread_rwlock_rdlock(&kv->lock);
	const struct cluster_member *m = cluster_find(&kv->members, req->id);
	bool found = m != NULL, learner = m && m->learner;
	/* etcd's isReadyToRemoveVotingMember: the remaining started voters must be a
	 * quorum of the shrunk cluster. */
	size_t started = started_voters(kv), nv = voters(kv);
	bool target_started = false;
	if (m && !learner) {
		struct peer_remote_stats st;
		target_started = m->id == kv->member_id ||
				 (kv->peers && peer_remote_stats_get(kv->peers, m->id, &st) == 0 &&
				  st.connected && m->name && *m->name);
	}
	pthread_rwlock_unlock(&kv->lock);
	if (!found)
		return KV_EMEMBERNOTFOUND;
	if (!learner) {
		size_t remaining = started - (target_started ? 1 : 0);
		if (nv <= 1 || remaining < (nv - 1) / 2 + 1)
			return KV_ENOTENOUGHSTARTED;
	}
	Kvpb__MemberRemoveRequest rr = *req;
	Kvpb__InternalRequest ir = KVPB__INTERNAL_REQUEST__INIT;
	ir.request_case = KVPB__INTERNAL_REQUEST__REQUEST_MEMBER_REMOVE;
	ir.member_remove = &rr;
	int rc = backend_propose(kv, &ir, NULL);
	if (rc)
		return rc;
	if (req->id != kv->member_id && (rc = wait_conf(kv, req->id, false)))
		return rc;
	Kvpb__MemberRemoveResponse *r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	kvpb__member_remove_response__init(r);
	if ((rc = members_reply(kv, &r->header, &r->members, &r->n_members))) {
		kvpb__member_remove_response__free_unpacked(r, NULL);
		return rc;
	}
	*out = r;
	return 0;
}

int kv_member_update(struct kv *kv, const Kvpb__MemberUpdateRequest *req,
		     Kvpb__MemberUpdateResponse **out)
{
	*out = NULL;
	if (!req || req->n_peerurls == 0 || req->n_peerurls > 16)
		return -EINVAL;
	for (size_t i = 0; i < req->n_peerurls; i++) {
		char host[256];
		uint16_t port;
		if (!req->peerurls[i] || peer_parse_url(req->peerurls[i], host, sizeof(host), &port, NULL))
			return -EINVAL;
	}
	pthread_rwlock_rdlock(&kv->lock);
	bool found = cluster_find(&kv->members, req->id) != NULL, used = false;
	for (size_t i = 0; i < req->n_peerurls; i++)
		used |= cluster_peer_url_used(&kv->members, req->peerurls[i], req->id);
	pthread_rwlock_unlock(&kv->lock);
	if (!found)
		return KV_EMEMBERNOTFOUND;
	if (used)
		return KV_EPEERURLEXIST;
	Kvpb__Member m = KVPB__MEMBER__INIT;
	m.id = req->id;
	m.name = "";
	m.peerurls = req->peerurls;
	m.n_peerurls = req->n_peerurls;
	Kvpb__InternalRequest ir = KVPB__INTERNAL_REQUEST__INIT;
	ir.request_case = KVPB__INTERNAL_REQUEST__REQUEST_MEMBER_UPDATE;
	ir.member_update = &m;
	int rc = backend_propose(kv, &ir, NULL);
	if (rc)
		return rc;
	Kvpb__MemberUpdateResponse *r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	kvpb__member_update_response__init(r);
	if ((rc = members_reply(kv, &r->header, &r->members, &r->n_members))) {
		kvpb__member_update_response__free_unpacked(r, NULL);
		return rc;
	}
	*out = r;
	return 0;
}

int kv_member_promote(struct kv *kv, const Kvpb__MemberPromoteRequest *req,
		      Kvpb__MemberPromoteResponse **out)
{
	*out = NULL;
	if (!req)
		return -EINVAL;
	pthread_rwlock_rdlock(&kv->lock);
	const struct cluster_member *cm = cluster_find(&kv->members, req->id);
	bool found = cm != NULL, learner = cm && cm->learner, started = cm && cm->name[0];
	Kvpb__Member m = KVPB__MEMBER__INIT;
	m.id = req->id;
	m.name = "";
	pthread_rwlock_unlock(&kv->lock);
	if (!found)
		return KV_EMEMBERNOTFOUND;
	/* etcd checks readiness before learner-ness (mayPromoteMember, then the conf
	 * change's validation). The leader knows each member's match index; a follower
	 * (etcd forwards the request to the leader) judges by whether the member has
	 * started and published itself: one that never did cannot be in sync. */
	int rc;
	if (atomic_load(&kv->r_leader))
		rc = backend_raft_cmd(kv, KV_CMD_LEARNER_READY, 0, req->id);
	else
		rc = started ? 0 : KV_ELEARNERNOTREADY;
	if (rc)
		return rc;
	if (!learner)
		return KV_EMEMBERNOTLEARNER;
	Kvpb__InternalRequest ir = KVPB__INTERNAL_REQUEST__INIT;
	ir.request_case = KVPB__INTERNAL_REQUEST__REQUEST_MEMBER_ADD;
	ir.member_add = &m; /* the same id added again as a voter: promote */
	rc = backend_propose(kv, &ir, NULL);
	if (rc)
		return rc;
	Kvpb__MemberPromoteResponse *r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	kvpb__member_promote_response__init(r);
	if ((rc = members_reply(kv, &r->header, &r->members, &r->n_members))) {
		kvpb__member_promote_response__free_unpacked(r, NULL);
		return rc;
	}
	*out = r;
	return 0;
}

int kv_move_leader(struct kv *kv, const Kvpb__MoveLeaderRequest *req,
		   Kvpb__MoveLeaderResponse **out)
{
	*out = NULL;
	if (!req)
		return -EINVAL;
	/* etcd: only the leader moves leadership ("etcdserver: not leader"). */
	if (!atomic_load(&kv->r_leader))
		return KV_ENOTLEADER;
	pthread_rwlock_rdlock(&kv->lock);
	const struct cluster_member *cm = cluster_find(&kv->members, req->targetid);
	bool ok = cm && !cm->learner;
	pthread_rwlock_unlock(&kv->lock);
	if (!ok)
		return KV_EBADLEADERTRANSFEREE;
	/* etcd's MoveLeader to the current leader is a successful no-op (the transfer
	 * loop finds the lead already equal to the transferee). */
	int rc = req->targetid == kv->member_id ? 0
						 : backend_raft_cmd(kv, KV_CMD_TRANSFER, 0, req->targetid);
	if (rc)
		return rc;
	Kvpb__MoveLeaderResponse *r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	kvpb__move_leader_response__init(r);
	pthread_rwlock_rdlock(&kv->lock);
	r->header = backend_header(kv, kv->mvcc.rev);
	pthread_rwlock_unlock(&kv->lock);
	if (!r->header) {
		free(r);
		return -ENOMEM;
	}
	*out = r;
	return 0;
}
