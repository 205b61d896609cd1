/* libFuzzer harness for the WebSocket frame decoder (common/websocket.c), which reads what
 * kubectl (through the apiserver) sends to the kubelet's exec/attach streams: the first
 * input byte picks the side (server: frames must be masked) and how the rest is cut into
 * feeds.  The decoder must never crash, hang or leak; every message it returns must be
 * well-formed (a known opcode, data present, control payloads within 125 bytes, data
 * within the limit); an error must be sticky; and each data message, re-encoded and
 * decoded again by a fresh decoder, must come back identical.  The frame scanner (what the
 * apiserver's exec splice runs over the kubelet's bytes) sees the same input in the same
 * pieces: when the decoder returned a close frame, the scanner must have seen it too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "websocket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MSG 4096

static void check_roundtrip(const kc_ws_message *m, int server)
{
	static const uint8_t mask[4] = { 1, 2, 3, 4 };
	size_t cap = kc_ws_frame_size(m->len, server);
	uint8_t *f = malloc(cap);
	if (!f)
		return;
	size_t n = kc_ws_frame_encode(f, cap, 1, m->opcode, server ? mask : NULL, m->data, m->len);
	if (n != cap)
		abort();
	kc_ws_decoder d;
	kc_ws_decoder_init(&d, server, MAX_MSG);
	kc_ws_message back;
	if (kc_ws_decoder_feed(&d, f, n) != 0 || kc_ws_decoder_next(&d, &back) != 1 || back.opcode != m->opcode ||
	    back.len != m->len || memcmp(back.data, m->data, m->len))
		abort();
	kc_ws_decoder_close(&d);
	free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int server = data[0] & 1;
	size_t chunk = (size_t)(data[0] >> 1) + 1;
	data++;
	size--;
	kc_ws_decoder d;
	kc_ws_decoder_init(&d, server, MAX_MSG);
	kc_ws_scanner sc = { 0 };
	int scanned = 0, err = 0;
	for (size_t off = 0; off < size && !err;) {
		size_t n = size - off < chunk ? size - off : chunk;
		if (kc_ws_decoder_feed(&d, data + off, n) < 0)
			break;
		if (scanned >= 0)
			scanned = kc_ws_scan(&sc, data + off, n);
		off += n;
		for (;;) {
			kc_ws_message m;
			int r = kc_ws_decoder_next(&d, &m);
			if (r < 0) {
				kc_ws_message again;
				if (kc_ws_decoder_next(&d, &again) != r)
					abort();
				err = r;
				break;
			}
			if (r == 0)
				break;
			if (!m.data && m.len)
				abort();
			if (m.opcode & 0x8) {
				if (m.len > KC_WS_MAX_CONTROL)
					abort();
				if (m.opcode != KC_WS_CLOSE && m.opcode != KC_WS_PING && m.opcode != KC_WS_PONG)
					abort();
			} else {
				if (m.opcode != KC_WS_TEXT && m.opcode != KC_WS_BINARY)
					abort();
				if (m.len > MAX_MSG)
					abort();
			}
			if (m.opcode != KC_WS_CLOSE)
				check_roundtrip(&m, server);
			else if (scanned != 1)
				abort();
		}
	}
	kc_ws_decoder_close(&d);
	return 0;
}
