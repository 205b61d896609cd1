/* The Raft wire codec: round trips and hostile input (the peer port is a boundary). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../store/raft_codec.h"
#include "errors.h"
#include "kc_test.h"

START_TEST(append_round_trip)
{
	struct raft_entry e[3] = {
		{ .term = 4, .index = 11, .type = RAFT_ENTRY_NORMAL, .data = (uint8_t *)"put a", .len = 5 },
		{ .term = 4, .index = 12, .type = RAFT_ENTRY_NOOP },
		{ .term = 5, .index = 13, .type = RAFT_ENTRY_CONF, .data = (uint8_t *)"\0\0\0\0", .len = 4 },
	};
	struct raft_msg m = { .type = RAFT_MSG_APPEND, .from = 1, .to = 2, .term = 5,
			      .log_term = 3, .index = 10, .commit = 9, .entries = e,
			      .n_entries = 3 };
	uint8_t *buf;
	size_t len;
	ck_assert_int_eq(raft_codec_encode(&m, 77, &buf, &len), 0);
	struct raft_decoded d;
	ck_assert_int_eq(raft_codec_decode(buf, len, &d), 0);
	ck_assert_uint_eq(d.cluster_id, 77);
	ck_assert_uint_eq(d.msg.type, RAFT_MSG_APPEND);
	ck_assert_uint_eq(d.msg.from, 1);
	ck_assert_uint_eq(d.msg.to, 2);
	ck_assert_uint_eq(d.msg.term, 5);
	ck_assert_uint_eq(d.msg.log_term, 3);
	ck_assert_uint_eq(d.msg.index, 10);
	ck_assert_uint_eq(d.msg.commit, 9);
	ck_assert_uint_eq(d.msg.n_entries, 3);
	ck_assert_uint_eq(d.msg.entries[0].len, 5);
	ck_assert_mem_eq(d.msg.entries[0].data, "put a", 5);
	ck_assert_uint_eq(d.msg.entries[1].type, RAFT_ENTRY_NOOP);
	ck_assert_uint_eq(d.msg.entries[2].index, 13);
	ck_assert_uint_eq(d.msg.entries[2].term, 5);
	raft_codec_decoded_free(&d);
	free(buf);
}
END_TEST

START_TEST(snapshot_and_flags_round_trip)
{
	struct raft_msg m = { .type = RAFT_MSG_SNAPSHOT, .from = 3, .to = 1, .term = 9,
			      .snap = { .index = 100, .term = 8,
					.conf = { .n = 2, .ids = { 3, 5 }, .learner = { false, true } } },
			      .snap_data = (const uint8_t *)"STATE", .snap_len = 5 };
	uint8_t *buf;
	size_t len;
	ck_assert_int_eq(raft_codec_encode(&m, 1, &buf, &len), 0);
	struct raft_decoded d;
	ck_assert_int_eq(raft_codec_decode(buf, len, &d), 0);
	ck_assert_uint_eq(d.msg.snap.index, 100);
	ck_assert_uint_eq(d.msg.snap.term, 8);
	ck_assert_uint_eq(d.msg.snap.conf.n, 2);
	ck_assert(d.msg.snap.conf.learner[1]);
	ck_assert_uint_eq(d.msg.snap_len, 5);
	ck_assert_mem_eq(d.msg.snap_data, "STATE", 5);
	raft_codec_decoded_free(&d);
	free(buf);

	struct raft_msg v = { .type = RAFT_MSG_VOTE_RESP, .from = 2, .to = 1, .term = 3,
			      .reject = true, .transfer = true, .ctx = 42, .reject_hint = 7 };
	ck_assert_int_eq(raft_codec_encode(&v, 1, &buf, &len), 0);
	ck_assert_int_eq(raft_codec_decode(buf, len, &d), 0);
	ck_assert(d.msg.reject && d.msg.transfer);
	ck_assert_uint_eq(d.msg.ctx, 42);
	ck_assert_uint_eq(d.msg.reject_hint, 7);
	ck_assert_uint_eq(d.msg.n_entries, 0);
	raft_codec_decoded_free(&d);
	free(buf);
}
END_TEST

START_TEST(hostile_input_is_rejected)
{
	struct raft_decoded d;
	uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0x0f };
	ck_assert_int_eq(raft_codec_decode(junk, sizeof(junk), &d), KC_EPARSE);
	ck_assert_int_eq(raft_codec_decode(NULL, 3, &d), KC_EPARSE);
	/* An empty frame is a message of type 0: unknown. */
	ck_assert_int_eq(raft_codec_decode((const uint8_t *)"", 0, &d), KC_EPARSE);
	/* Unknown message type 40. */
	uint8_t t40[] = { 0x08, 40 };
	ck_assert_int_eq(raft_codec_decode(t40, sizeof(t40), &d), KC_EPARSE);
	/* Entry of unknown type 9 inside an APPEND. */
	Raftpb__Entry e = RAFTPB__ENTRY__INIT;
	e.type = 9;
	Raftpb__Entry *ep = &e;
	Raftpb__Message pb = RAFTPB__MESSAGE__INIT;
	pb.type = RAFTPB__MESSAGE_TYPE__MSG_APPEND;
	pb.entries = &ep;
	pb.n_entries = 1;
	uint8_t buf[256];
	size_t n = raftpb__message__pack(&pb, buf);
	ck_assert_int_eq(raft_codec_decode(buf, n, &d), KC_EPARSE);
	/* Snapshot configuration naming the same member twice. */
	Raftpb__Member m1 = RAFTPB__MEMBER__INIT, *mp[2] = { &m1, &m1 };
	m1.id = 4;
	Raftpb__ConfState cs = RAFTPB__CONF_STATE__INIT;
	cs.members = mp;
	cs.n_members = 2;
	Raftpb__SnapshotMetadata sm = RAFTPB__SNAPSHOT_METADATA__INIT;
	sm.conf = &cs;
	Raftpb__Message sp = RAFTPB__MESSAGE__INIT;
	sp.type = RAFTPB__MESSAGE_TYPE__MSG_SNAPSHOT;
	sp.snapshot = &sm;
	n = raftpb__message__pack(&sp, buf);
	ck_assert_int_eq(raft_codec_decode(buf, n, &d), KC_EPARSE);
	/* Random bytes never crash the decoder (and anything it accepts is sane). */
	uint64_t x = 12345;
	for (int i = 0; i < 20000; i++) {
		uint8_t r[64];
		size_t len = (size_t)(x % 64);
		for (size_t k = 0; k < len; k++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			r[k] = (uint8_t)(x >> 56);
		}
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		if (raft_codec_decode(r, len, &d) == 0) {
			ck_assert(d.msg.type >= RAFT_MSG_PREVOTE && d.msg.type <= RAFT_MSG_TYPE_MAX);
			ck_assert_uint_le(d.msg.snap.conf.n, RAFT_MAX_MEMBERS);
			raft_codec_decoded_free(&d);
		}
	}
	/* Encoding refuses what the core could never produce. */
	struct raft_msg bad = { .type = 0 };
	uint8_t *out;
	size_t len;
	ck_assert_int_eq(raft_codec_encode(&bad, 1, &out, &len), -EINVAL);
}
END_TEST

static Suite *raft_codec_suite(void)
{
	Suite *s = suite_create("raft_codec");
	TCase *tc = tcase_create("codec");
	tcase_add_test(tc, append_round_trip);
	tcase_add_test(tc, snapshot_and_flags_round_trip);
	tcase_add_test(tc, hostile_input_is_rejected);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(raft_codec_suite)
