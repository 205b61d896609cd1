/* libFuzzer harness for the Raft peer wire (store/raft_codec.c) and the core behind it:
 * every frame a peer sends is decoded by raft_codec_decode and then stepped into the core.
 * A decoded message must re-encode and decode to the same message, and stepping it into a
 * 3-member core (as follower, and after some messages as candidate/leader) must never
 * crash: the core answers malformed input with -EINVAL. The input is a sequence of
 * frames (u16 length + bytes), so multi-message interleavings are explored too. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "../../store/raft.h"
#include "../../store/raft_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rand_seq(void *arg)
{
	uint64_t *s = arg;
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return *s >> 11;
}

static void same_msg(const struct raft_msg *a, const struct raft_msg *b)
{
	if (a->type != b->type || a->from != b->from || a->to != b->to || a->term != b->term ||
	    a->log_term != b->log_term || a->index != b->index || a->commit != b->commit ||
	    a->reject != b->reject || a->transfer != b->transfer ||
	    a->reject_hint != b->reject_hint || a->ctx != b->ctx || a->n_entries != b->n_entries)
		abort();
	/* Snapshot metadata travels only on Snapshot messages (elsewhere it is ignored). */
	if (a->type == RAFT_MSG_SNAPSHOT &&
	    (a->snap.index != b->snap.index || a->snap.term != b->snap.term ||
	     a->snap.conf.n != b->snap.conf.n || a->snap_len != b->snap_len ||
	     (a->snap_len && memcmp(a->snap_data, b->snap_data, a->snap_len))))
		abort();
	for (size_t i = 0; i < a->n_entries; i++) {
		const struct raft_entry *x = &a->entries[i], *y = &b->entries[i];
		if (x->term != y->term || x->index != y->index || x->type != y->type ||
		    x->len != y->len || (x->len && memcmp(x->data, y->data, x->len)))
			abort();
	}
}

static void drain(struct raft *r)
{
	for (int i = 0; i < 4 && raft_has_ready(r); i++) {
		struct raft_ready rd;
		raft_ready(r, &rd);
		raft_advance(r, &rd);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t seed = 1;
	struct raft_config cfg = { .id = 1, .rand = rand_seq, .rand_arg = &seed };
	cfg.initial.n = 3;
	cfg.initial.ids[0] = 1;
	cfg.initial.ids[1] = 2;
	cfg.initial.ids[2] = 3;
	struct raft *r;
	if (raft_new(&cfg, &r) != 0)
		abort();
	size_t off = 0;
	for (int n = 0; n < 16 && off + 2 <= size; n++) {
		size_t len = (size_t)data[off] << 8 | data[off + 1];
		off += 2;
		if (len > size - off)
			len = size - off;
		struct raft_decoded d;
		int rc = raft_codec_decode(data + off, len, &d);
		off += len;
		if (rc != 0) {
			if (rc != KC_EPARSE && rc != -ENOMEM)
				abort();
			/* Control bytes between frames: ticks move the node through elections. */
			for (int t = 0; t < 12; t++)
				raft_tick(r);
			drain(r);
			continue;
		}
		uint8_t *enc = NULL;
		size_t elen = 0;
		if (raft_codec_encode(&d.msg, d.cluster_id, &enc, &elen) != 0)
			abort(); /* whatever we accept we can send */
		struct raft_decoded d2;
		if (raft_codec_decode(enc, elen, &d2) != 0)
			abort();
		same_msg(&d.msg, &d2.msg);
		if (d2.cluster_id != d.cluster_id)
			abort();
		raft_codec_decoded_free(&d2);
		free(enc);
		struct raft_msg m = d.msg;
		m.to = 1;
		(void)raft_step(r, &m);
		drain(r);
		raft_codec_decoded_free(&d);
	}
	raft_free(r);
	return 0;
}
