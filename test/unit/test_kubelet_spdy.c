#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "kc_test.h"
#include "../../kubelet/spdy.h"

static uint32_t be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Read one stored deflate block at p: returns its payload length and sets *data. */
static size_t stored_block(const uint8_t *p, const uint8_t **data)
{
	ck_assert_int_eq(p[0], 0x00); /* BFINAL 0, BTYPE 00 */
	size_t len = p[1] | (size_t)p[2] << 8;
	size_t nlen = p[3] | (size_t)p[4] << 8;
	ck_assert_uint_eq(len ^ 0xffff, nlen);
	*data = p + 5;
	return len;
}

START_TEST(syn_stream_carries_an_uncompressed_zlib_header_block)
{
	spdy_enc e = { 0 };
	uint8_t f[512];
	const char *kv[] = { "streamtype", "stdin" };
	size_t n = spdy_syn_stream(&e, f, sizeof(f), 3, kv, 1, 0);
	ck_assert_uint_gt(n, 18);
	/* control bit, version 3, type 1; length covers the rest */
	ck_assert_int_eq(f[0], 0x80);
	ck_assert_int_eq(f[1], 3);
	ck_assert_int_eq(f[3], SPDY_SYN_STREAM);
	ck_assert_int_eq(f[4], 0);
	ck_assert_uint_eq(((size_t)f[5] << 16 | (size_t)f[6] << 8 | f[7]) + 8, n);
	ck_assert_uint_eq(be32(f + 8), 3);
	/* the first block opens the zlib stream (no preset dictionary, valid check bits) */
	ck_assert_int_eq(f[18], 0x78);
	ck_assert_int_eq(f[19], 0x01);
	ck_assert_int_eq((f[18] * 256 + f[19]) % 31, 0);
	const uint8_t *blk;
	size_t bl = stored_block(f + 20, &blk);
	/* count, then (len, name, len, value) */
	ck_assert_uint_eq(be32(blk), 1);
	ck_assert_uint_eq(be32(blk + 4), 10);
	ck_assert(!memcmp(blk + 8, "streamtype", 10));
	ck_assert_uint_eq(be32(blk + 18), 5);
	ck_assert(!memcmp(blk + 22, "stdin", 5));
	ck_assert_uint_eq(bl, 27);
	/* ends with the empty stored block of a sync flush, so an inflater hands the bytes out */
	const uint8_t *empty;
	ck_assert_uint_eq(stored_block(blk + bl, &empty), 0);
	ck_assert_uint_eq((size_t)(empty - f), n);
	/* the next stream continues the same zlib stream: no second header */
	size_t n2 = spdy_syn_stream(&e, f, sizeof(f), 5, kv, 1, 1);
	ck_assert_uint_eq(n2, n - 2);
	ck_assert_int_eq(f[4], SPDY_FLAG_FIN);
	stored_block(f + 18, &blk);
	ck_assert_uint_eq(be32(blk), 1);
	/* no room: nothing written */
	ck_assert_uint_eq(spdy_syn_stream(&e, f, 20, 7, kv, 1, 0), 0);
}
END_TEST

START_TEST(parses_frames_and_waits_for_whole_ones)
{
	uint8_t buf[64];
	spdy_data_header(buf, 5, 1, 3);
	memcpy(buf + 8, "abc", 3);
	spdy_frame f;
	for (size_t i = 0; i < 11; i++)
		ck_assert_int_eq(spdy_parse(buf, i, &f), 0);
	ck_assert_int_eq(spdy_parse(buf, 11, &f), 11);
	ck_assert_int_eq(f.type, SPDY_DATA);
	ck_assert_uint_eq(f.stream_id, 5);
	ck_assert_int_eq(f.flags, SPDY_FLAG_FIN);
	ck_assert_uint_eq(f.len, 3);
	ck_assert(!memcmp(f.data, "abc", 3));
	spdy_ping(buf, 7);
	ck_assert_int_eq(spdy_parse(buf, 12, &f), 12);
	ck_assert_int_eq(f.type, SPDY_PING);
	ck_assert_uint_eq(f.stream_id, 7);
	spdy_goaway(buf);
	ck_assert_int_eq(spdy_parse(buf, 16, &f), 16);
	ck_assert_int_eq(f.type, SPDY_GOAWAY);
	/* another SPDY version, and a stream frame too short for its stream id */
	static const uint8_t v2[] = { 0x80, 2, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1 };
	ck_assert_int_eq(spdy_parse(v2, sizeof(v2), &f), -EPROTO);
	static const uint8_t shortrst[] = { 0x80, 3, 0, 3, 0, 0, 0, 2, 0, 0 };
	ck_assert_int_eq(spdy_parse(shortrst, sizeof(shortrst), &f), -EPROTO);
}
END_TEST

static Suite *kubelet_spdy_suite(void)
{
	Suite *s = suite_create("kubelet_spdy");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, syn_stream_carries_an_uncompressed_zlib_header_block);
	tcase_add_test(tc, parses_frames_and_waits_for_whole_ones);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(kubelet_spdy_suite)
