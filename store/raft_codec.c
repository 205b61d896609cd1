/* raft_msg <-> raftpb.Message; see raft_codec.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "raft_codec.h"

_Static_assert((int)RAFTPB__MESSAGE_TYPE__MSG_PREVOTE == (int)RAFT_MSG_PREVOTE &&
		       (int)RAFTPB__MESSAGE_TYPE__MSG_APPEND == (int)RAFT_MSG_APPEND &&
		       (int)RAFTPB__MESSAGE_TYPE__MSG_READ_INDEX_RESP == (int)RAFT_MSG_READ_INDEX_RESP &&
		       (int)RAFTPB__MESSAGE_TYPE__MSG_PROPOSE == (int)RAFT_MSG_PROPOSE,
	       "raftpb.proto MessageType must number like enum raft_msg_type");
_Static_assert((int)RAFTPB__ENTRY_TYPE__ENTRY_CONF == (int)RAFT_ENTRY_CONF &&
		       (int)RAFTPB__ENTRY_TYPE__ENTRY_NOOP == (int)RAFT_ENTRY_NOOP,
	       "raftpb.proto EntryType must number like enum raft_entry_type");

int raft_codec_encode(const struct raft_msg *m, uint64_t cluster_id, uint8_t **out,
		      size_t *len)
{
	*out = NULL;
	*len = 0;
	if (!m || m->type < RAFT_MSG_PREVOTE || m->type > RAFT_MSG_TYPE_MAX ||
	    m->snap.conf.n > RAFT_MAX_MEMBERS || (m->n_entries && !m->entries))
		return -EINVAL;
	Raftpb__Message pb = RAFTPB__MESSAGE__INIT;
	/* MessageType numbers equal enum raft_msg_type values (raftpb.proto). */
	pb.type = (Raftpb__MessageType)m->type;
	pb.from = m->from;
	pb.to = m->to;
	pb.term = m->term;
	pb.log_term = m->log_term;
	pb.index = m->index;
	pb.commit = m->commit;
	pb.reject = m->reject;
	pb.reject_hint = m->reject_hint;
	pb.transfer = m->transfer;
	pb.ctx = m->ctx;
	pb.cluster_id = cluster_id;
	Raftpb__Entry *ents = NULL;
	Raftpb__Entry **ptrs = NULL;
	if (m->n_entries) {
		ents = calloc(m->n_entries, sizeof(*ents));
		ptrs = calloc(m->n_entries, sizeof(*ptrs));
		if (!ents || !ptrs) {
			free(ents);
			free(ptrs);
			return -ENOMEM;
		}
		for (size_t i = 0; i < m->n_entries; i++) {
			const struct raft_entry *e = &m->entries[i];
			raftpb__entry__init(&ents[i]);
			ents[i].term = e->term;
			ents[i].index = e->index;
			ents[i].type = (Raftpb__EntryType)e->type;
			ents[i].data.data = e->data;
			ents[i].data.len = e->len;
			ptrs[i] = &ents[i];
		}
		pb.entries = ptrs;
		pb.n_entries = m->n_entries;
	}
	Raftpb__SnapshotMetadata meta = RAFTPB__SNAPSHOT_METADATA__INIT;
	Raftpb__ConfState conf = RAFTPB__CONF_STATE__INIT;
	Raftpb__Member members[RAFT_MAX_MEMBERS];
	Raftpb__Member *mptrs[RAFT_MAX_MEMBERS];
	if (m->type == RAFT_MSG_SNAPSHOT) {
		meta.index = m->snap.index;
		meta.term = m->snap.term;
		for (size_t i = 0; i < m->snap.conf.n; i++) {
			raftpb__member__init(&members[i]);
			members[i].id = m->snap.conf.ids[i];
			members[i].learner = m->snap.conf.learner[i];
			mptrs[i] = &members[i];
		}
		conf.members = mptrs;
		conf.n_members = m->snap.conf.n;
		meta.conf = &conf;
		pb.snapshot = &meta;
		pb.snapshot_data.data = (uint8_t *)m->snap_data;
		pb.snapshot_data.len = m->snap_len;
	}
	size_t n = raftpb__message__get_packed_size(&pb);
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf) {
		free(ents);
		free(ptrs);
		return -ENOMEM;
	}
	raftpb__message__pack(&pb, buf);
	free(ents);
	free(ptrs);
	*out = buf;
	*len = n;
	return 0;
}

int raft_codec_decode(const uint8_t *buf, size_t len, struct raft_decoded *d)
{
	memset(d, 0, sizeof(*d));
	if (!buf && len)
		return KC_EPARSE;
	Raftpb__Message *pb = raftpb__message__unpack(NULL, len, buf);
	if (!pb)
		return KC_EPARSE;
	d->pb = pb;
	struct raft_msg *m = &d->msg;
	if ((int)pb->type < (int)RAFT_MSG_PREVOTE || (int)pb->type > (int)RAFT_MSG_TYPE_MAX)
		goto bad;
	m->type = (uint8_t)pb->type;
	m->from = pb->from;
	m->to = pb->to;
	m->term = pb->term;
	m->log_term = pb->log_term;
	m->index = pb->index;
	m->commit = pb->commit;
	m->reject = pb->reject;
	m->reject_hint = pb->reject_hint;
	m->transfer = pb->transfer;
	m->ctx = pb->ctx;
	m->pool_off = UINT32_MAX;
	d->cluster_id = pb->cluster_id;
	if (pb->n_entries) {
		d->ents = calloc(pb->n_entries, sizeof(*d->ents));
		if (!d->ents) {
			raft_codec_decoded_free(d);
			return -ENOMEM;
		}
		for (size_t i = 0; i < pb->n_entries; i++) {
			const Raftpb__Entry *e = pb->entries[i];
			if ((unsigned)e->type > RAFT_ENTRY_NOOP)
				goto bad;
			d->ents[i].term = e->term;
			d->ents[i].index = e->index;
			d->ents[i].type = (uint8_t)e->type;
			d->ents[i].data = e->data.data;
			d->ents[i].len = e->data.len;
		}
		m->entries = d->ents;
		m->n_entries = pb->n_entries;
	}
	if (pb->snapshot) {
		m->snap.index = pb->snapshot->index;
		m->snap.term = pb->snapshot->term;
		if (pb->snapshot->conf) {
			const Raftpb__ConfState *c = pb->snapshot->conf;
			if (c->n_members > RAFT_MAX_MEMBERS)
				goto bad;
			for (size_t i = 0; i < c->n_members; i++) {
				if (c->members[i]->id == RAFT_NONE ||
				    raft_conf_find(&m->snap.conf, c->members[i]->id) >= 0)
					goto bad;
				m->snap.conf.ids[i] = c->members[i]->id;
				m->snap.conf.learner[i] = c->members[i]->learner;
				m->snap.conf.n = i + 1;
			}
		}
		m->snap_data = pb->snapshot_data.data;
		m->snap_len = pb->snapshot_data.len;
	}
	return 0;
bad:
	raft_codec_decoded_free(d);
	return KC_EPARSE;
}

void raft_codec_decoded_free(struct raft_decoded *d)
{
	if (d->pb)
		raftpb__message__free_unpacked(d->pb, NULL);
	free(d->ents);
	memset(d, 0, sizeof(*d));
}
