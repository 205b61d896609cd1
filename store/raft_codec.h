/* Wire encoding of Raft messages: struct raft_msg <-> raftpb.Message (store/raftpb.proto).
 * Everything decoded from a peer is validated here (type, member counts, entry types)
 * before the core sees it; the core then checks protocol-level consistency. */
#ifndef KUBEC_STORE_RAFT_CODEC_H
#define KUBEC_STORE_RAFT_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "raft.h"
#include "store/raftpb.pb-c.h"

/* Encode m (borrowed; its entries and snap_data are read, not kept) stamped with
 * cluster_id into a malloc'd buffer the caller frees. 0 or -ENOMEM / -EINVAL. */
int raft_codec_encode(const struct raft_msg *m, uint64_t cluster_id, uint8_t **out,
		      size_t *len);

/* A decoded message: msg's entries and snap_data point into storage owned by this
 * struct, valid until raft_codec_decoded_free. */
struct raft_decoded {
	struct raft_msg msg;
	uint64_t cluster_id;
	Raftpb__Message *pb;
	struct raft_entry *ents;
};

/* Decode len bytes (borrowed). 0, or KC_EPARSE for bytes that are not a valid message
 * (bad protobuf, unknown type or entry type, too many members), -ENOMEM. */
int raft_codec_decode(const uint8_t *buf, size_t len, struct raft_decoded *out);
void raft_codec_decoded_free(struct raft_decoded *d);

#endif
