#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kc_test.h"
#include "websocket.h"

static const uint8_t MASK[4] = { 0x37, 0xfa, 0x21, 0x3d };

START_TEST(accept_key_matches_rfc6455_example)
{
	char out[KC_WS_ACCEPT_LEN];
	/* RFC 6455 section 1.3 */
	ck_assert_int_eq(kc_ws_accept("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
	ck_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	ck_assert_int_eq(kc_ws_accept(NULL, out), -EINVAL);
	ck_assert_int_eq(kc_ws_accept("", out), -EINVAL);
	ck_assert_int_eq(kc_ws_accept("dGhlIHNhbXBsZSBub25jZQ", out), -EINVAL);     /* no padding */
	ck_assert_int_eq(kc_ws_accept("dGhlIHNhbXBsZSBub25j!Q==", out), -EINVAL);   /* not base64 */
	ck_assert_int_eq(kc_ws_accept("dGhlIHNhbXBsZSBub25jZQ==x", out), -EINVAL);  /* too long */
	char key[25];
	ck_assert_int_eq(kc_ws_client_key(key), 0);
	ck_assert_uint_eq(strlen(key), 24);
	ck_assert_int_eq(kc_ws_accept(key, out), 0);
}
END_TEST

START_TEST(header_tokens_and_protocol_choice)
{
	ck_assert(kc_ws_header_has_token("keep-alive, Upgrade", "upgrade"));
	ck_assert(kc_ws_header_has_token("websocket", "websocket"));
	ck_assert(!kc_ws_header_has_token("keep-alive", "upgrade"));
	ck_assert(!kc_ws_header_has_token("upgrades", "upgrade"));
	ck_assert(!kc_ws_header_has_token(NULL, "upgrade"));
	static const char *const sup[] = { "v5.channel.k8s.io", "v4.channel.k8s.io" };
	char p[64];
	/* the client's order of preference wins, as wsstream's handshake */
	ck_assert_int_eq(kc_ws_pick_protocol("v4.channel.k8s.io, v5.channel.k8s.io", sup, 2, p, sizeof(p)), 0);
	ck_assert_str_eq(p, "v4.channel.k8s.io");
	ck_assert_int_eq(kc_ws_pick_protocol("base64.channel.k8s.io,v5.channel.k8s.io", sup, 2, p, sizeof(p)), 0);
	ck_assert_str_eq(p, "v5.channel.k8s.io");
	ck_assert_int_eq(kc_ws_pick_protocol("channel.k8s.io", sup, 2, p, sizeof(p)), -ENOENT);
	ck_assert_int_eq(kc_ws_pick_protocol("", sup, 2, p, sizeof(p)), -ENOENT);
	ck_assert_int_eq(kc_ws_pick_protocol(NULL, sup, 2, p, sizeof(p)), -ENOENT);
	ck_assert_int_eq(kc_ws_pick_protocol("v5.channel.k8s.io", sup, 2, p, 5), -ENOSPC);
}
END_TEST

START_TEST(decodes_rfc6455_masked_hello)
{
	/* RFC 6455 section 5.7: a single-frame masked text message "Hello" */
	static const uint8_t f[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	kc_ws_decoder d;
	kc_ws_decoder_init(&d, 1, 1024);
	kc_ws_message m;
	/* byte by byte: nothing until the last byte */
	for (size_t i = 0; i < sizeof(f); i++) {
		ck_assert_int_eq(kc_ws_decoder_next(&d, &m), 0);
		ck_assert_int_eq(kc_ws_decoder_feed(&d, f + i, 1), 0);
	}
	ck_assert_int_eq(kc_ws_decoder_next(&d, &m), 1);
	ck_assert_int_eq(m.opcode, KC_WS_TEXT);
	ck_assert_uint_eq(m.len, 5);
	ck_assert(!memcmp(m.data, "Hello", 5));
	ck_assert_int_eq(kc_ws_decoder_next(&d, &m), 0);
	kc_ws_decoder_close(&d);
	/* and our encoder produces exactly those bytes */
	uint8_t out[32];
	ck_assert_uint_eq(kc_ws_frame_encode(out, sizeof(out), 1, KC_WS_TEXT, MASK, "Hello", 5), sizeof(f));
	ck_assert(!memcmp(out, f, sizeof(f)));
}
END_TEST

/* every length class (7-bit, 16-bit, 64-bit) round-trips, both directions */
START_TEST(round_trips_every_length_class)
{
	static const size_t lens[] = { 0, 1, 125, 126, 127, 65535, 65536, 200000 };
	uint8_t *payload = malloc(200000), *frame = malloc(200000 + KC_WS_MAX_HEADER);
	ck_assert_ptr_nonnull(payload);
	ck_assert_ptr_nonnull(frame);
	for (size_t i = 0; i < 200000; i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	for (int masked = 0; masked < 2; masked++) {
		for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
			size_t n = kc_ws_frame_encode(frame, 200000 + KC_WS_MAX_HEADER, 1, KC_WS_BINARY,
						      masked ? MASK : NULL, payload, lens[k]);
			ck_assert_uint_eq(n, kc_ws_frame_size(lens[k], masked));
			kc_ws_decoder d;
			kc_ws_decoder_init(&d, masked, 1 << 20);
			/* split in two uneven feeds */
			ck_assert_int_eq(kc_ws_decoder_feed(&d, frame, n / 3), 0);
			kc_ws_message m;
			if (n / 3 < n)
				ck_assert_int_eq(kc_ws_decoder_next(&d, &m), 0);
			ck_assert_int_eq(kc_ws_decoder_feed(&d, frame + n / 3, n - n / 3), 0);
			ck_assert_int_eq(kc_ws_decoder_next(&d, &m), 1);
			ck_assert_int_eq(m.opcode, KC_WS_BINARY);
			ck_assert_uint_eq(m.len, lens[k]);
			ck_assert(!memcmp(m.data, payload, lens[k]));
			kc_ws_decoder_close(&d);
		}
	}
	ck_assert_uint_eq(kc_ws_frame_encode(frame, 10, 1, KC_WS_BINARY, NULL, payload, 126), 0); /* no room */
	free(payload);
	free(frame);
}
END_TEST

START_TEST(reassembles_fragments_around_a_ping)
{
	uint8_t buf[256];
	size_t o = 0;
	o += kc_ws_frame_encode(buf + o, sizeof(buf) - o, 0, KC_WS_BINARY, MASK, "\x01" "ab", 3);
	o += kc_ws_frame_encode(buf + o, sizeof(buf) - o, 1, KC_WS_PING, MASK, "hb", 2);
	o += kc_ws_frame_encode(buf + o, sizeof(buf) - o, 0, KC_WS_CONT, MASK, "cd", 2);
	o += kc_ws_frame_encode(buf + o, sizeof(buf) - o, 1, KC_WS_CONT, MASK, "e", 1);
	uint8_t cp[KC_WS_MAX_CONTROL];
	size_t cl = kc_ws_close_payload(cp, KC_WS_CLOSE_NORMAL, "bye");
	o += kc_ws_frame_encode(buf + o, sizeof(buf) - o, 1, KC_WS_CLOSE, MASK, cp, cl);
	o += kc_ws_frame_encode(buf + o, sizeof(buf) - o, 1, KC_WS_BINARY, MASK, "x", 1);
	kc_ws_decoder d;
	kc_ws_decoder_init(&d, 1, 1024);
	ck_assert_int_eq(kc_ws_decoder_feed(&d, buf, o), 0);
	kc_ws_message m;
	ck_assert_int_eq(kc_ws_decoder_next(&d, &m), 1);
	ck_assert_int_eq(m.opcode, KC_WS_PING);
	ck_assert_uint_eq(m.len, 2);
	ck_assert(!memcmp(m.data, "hb", 2));
	ck_assert_int_eq(kc_ws_decoder_next(&d, &m), 1);
	ck_assert_int_eq(m.opcode, KC_WS_BINARY);
	ck_assert_uint_eq(m.len, 6);
	ck_assert(!memcmp(m.data, "\x01" "abcde", 6));
	ck_assert_int_eq(kc_ws_decoder_next(&d, &m), 1);
	ck_assert_int_eq(m.opcode, KC_WS_CLOSE);
	ck_assert_uint_eq(m.close_code, 1000);
	ck_assert_uint_eq(m.len, 5);
	/* nothing is parsed after a close frame */
	ck_assert_int_eq(kc_ws_decoder_next(&d, &m), 0);
	kc_ws_decoder_close(&d);
}
END_TEST

static int decode_one(int server, const uint8_t *f, size_t n, size_t max)
{
	kc_ws_decoder d;
	kc_ws_decoder_init(&d, server, max);
	kc_ws_decoder_feed(&d, f, n);
	kc_ws_message m;
	int rc = kc_ws_decoder_next(&d, &m);
	/* errors are sticky */
	if (rc < 0)
		ck_assert_int_eq(kc_ws_decoder_next(&d, &m), rc);
	kc_ws_decoder_close(&d);
	return rc;
}

START_TEST(rejects_protocol_violations)
{
	uint8_t f[64];
	size_t n;
	/* a server must receive masked frames, a client unmasked ones (RFC 6455 5.1) */
	n = kc_ws_frame_encode(f, sizeof(f), 1, KC_WS_BINARY, NULL, "a", 1);
	ck_assert_int_eq(decode_one(1, f, n, 100), -EPROTO);
	ck_assert_int_eq(decode_one(0, f, n, 100), 1);
	n = kc_ws_frame_encode(f, sizeof(f), 1, KC_WS_BINARY, MASK, "a", 1);
	ck_assert_int_eq(decode_one(0, f, n, 100), -EPROTO);
	/* reserved bits without an extension */
	f[0] |= 0x40;
	ck_assert_int_eq(decode_one(1, f, n, 100), -EPROTO);
	/* unknown opcodes */
	static const uint8_t op3[] = { 0x83, 0x80, 1, 2, 3, 4 }, opb[] = { 0x8b, 0x80, 1, 2, 3, 4 };
	ck_assert_int_eq(decode_one(1, op3, sizeof(op3), 100), -EPROTO);
	ck_assert_int_eq(decode_one(1, opb, sizeof(opb), 100), -EPROTO);
	/* a fragmented ping, a 126-byte ping */
	static const uint8_t fping[] = { 0x09, 0x80, 1, 2, 3, 4 };
	ck_assert_int_eq(decode_one(1, fping, sizeof(fping), 100), -EPROTO);
	static const uint8_t bigping[] = { 0x89, 0xfe, 0x00, 126 };
	ck_assert_int_eq(decode_one(1, bigping, sizeof(bigping), 1000), -EPROTO);
	/* a continuation with nothing open; a new message inside a fragmented one */
	n = kc_ws_frame_encode(f, sizeof(f), 1, KC_WS_CONT, MASK, "a", 1);
	ck_assert_int_eq(decode_one(1, f, n, 100), -EPROTO);
	n = kc_ws_frame_encode(f, sizeof(f), 0, KC_WS_TEXT, MASK, "a", 1);
	n += kc_ws_frame_encode(f + n, sizeof(f) - n, 1, KC_WS_TEXT, MASK, "b", 1);
	ck_assert_int_eq(decode_one(1, f, n, 100), -EPROTO);
	/* a close frame with a 1-byte payload */
	static const uint8_t close1[] = { 0x88, 0x81, 0, 0, 0, 0, 0x03 };
	ck_assert_int_eq(decode_one(1, close1, sizeof(close1), 100), -EPROTO);
	/* a 64-bit length with the top bit set */
	static const uint8_t huge[] = { 0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4 };
	ck_assert_int_eq(decode_one(1, huge, sizeof(huge), 100), -EPROTO);
	/* the encoder refuses control frames it must not send */
	uint8_t big[200];
	memset(big, 'x', sizeof(big));
	ck_assert_uint_eq(kc_ws_frame_encode(f, sizeof(f), 1, KC_WS_PING, NULL, big, 126), 0);
	ck_assert_uint_eq(kc_ws_frame_encode(f, sizeof(f), 0, KC_WS_CLOSE, NULL, NULL, 0), 0);
}
END_TEST

START_TEST(message_size_limit_is_enforced_before_buffering)
{
	/* declares 1 GiB: refused from the header alone, nothing waits for the payload */
	static const uint8_t f[] = { 0x82, 0xff, 0, 0, 0, 0, 0x40, 0, 0, 0, 1, 2, 3, 4 };
	ck_assert_int_eq(decode_one(1, f, sizeof(f), 1 << 20), -EMSGSIZE);
	/* fragments that add up past the limit */
	uint8_t buf[64];
	size_t n = kc_ws_frame_encode(buf, sizeof(buf), 0, KC_WS_BINARY, MASK, "abcdef", 6);
	n += kc_ws_frame_encode(buf + n, sizeof(buf) - n, 1, KC_WS_CONT, MASK, "ghijkl", 6);
	ck_assert_int_eq(decode_one(1, buf, n, 10), -EMSGSIZE);
	ck_assert_int_eq(decode_one(1, buf, n, 12), 1);
}
END_TEST

START_TEST(scanner_notices_the_close_frame_across_chunks)
{
	uint8_t buf[400000];
	size_t o = 0;
	static uint8_t big[300000];
	o += kc_ws_frame_encode(buf + o, sizeof(buf) - o, 1, KC_WS_BINARY, NULL, big, sizeof(big)); /* 64-bit length */
	o += kc_ws_frame_encode(buf + o, sizeof(buf) - o, 1, KC_WS_BINARY, NULL, big, 300);         /* 16-bit */
	/* a binary payload that looks like a close frame must not count */
	o += kc_ws_frame_encode(buf + o, sizeof(buf) - o, 1, KC_WS_BINARY, MASK, "\x88\x00", 2);
	o += kc_ws_frame_encode(buf + o, sizeof(buf) - o, 1, KC_WS_PING, NULL, "p", 1);
	size_t before_close = o;
	uint8_t cp[KC_WS_MAX_CONTROL];
	size_t cl = kc_ws_close_payload(cp, KC_WS_CLOSE_NORMAL, "");
	o += kc_ws_frame_encode(buf + o, sizeof(buf) - o, 1, KC_WS_CLOSE, NULL, cp, cl);
	for (size_t step = 1; step <= 4097; step += 512) {
		kc_ws_scanner sc = { 0 };
		size_t off = 0;
		int r = 0;
		while (off < o) {
			size_t n = o - off < step ? o - off : step;
			r = kc_ws_scan(&sc, buf + off, n);
			off += n;
			/* not before the last byte of the close frame */
			if (off < o)
				ck_assert_int_eq(r, 0);
		}
		ck_assert_int_eq(r, 1);
		ck_assert_int_eq(kc_ws_scan(&sc, buf, 1), 1); /* stays closed */
	}
	kc_ws_scanner sc = { 0 };
	ck_assert_int_eq(kc_ws_scan(&sc, buf, before_close), 0);
	/* an empty close frame, and a malformed length */
	static const uint8_t empty_close[] = { 0x88, 0x00 };
	kc_ws_scanner s2 = { 0 };
	ck_assert_int_eq(kc_ws_scan(&s2, empty_close, 2), 1);
	static const uint8_t bad[] = { 0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0 };
	kc_ws_scanner s3 = { 0 };
	ck_assert_int_eq(kc_ws_scan(&s3, bad, sizeof(bad)), -EPROTO);
}
END_TEST

static Suite *websocket_suite(void)
{
	Suite *s = suite_create("websocket");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, accept_key_matches_rfc6455_example);
	tcase_add_test(tc, header_tokens_and_protocol_choice);
	tcase_add_test(tc, decodes_rfc6455_masked_hello);
	tcase_add_test(tc, round_trips_every_length_class);
	tcase_add_test(tc, reassembles_fragments_around_a_ping);
	tcase_add_test(tc, rejects_protocol_violations);
	tcase_add_test(tc, message_size_limit_is_enforced_before_buffering);
	tcase_add_test(tc, scanner_notices_the_close_frame_across_chunks);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(websocket_suite)
