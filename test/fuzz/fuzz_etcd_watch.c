/* libFuzzer harness for the etcd /v3/watch stream decoder (common/etcd.c), the bytes the
 * apiserver reads from the store: the first input bytes choose how the rest is cut into
 * chunks; the decoder must never crash or leak, every response it hands over must be
 * well-formed, and once it reports a final result it must keep reporting the same one. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "etcd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_resp(void *arg, const struct kc_etcd_watch_resp *r)
{
	unsigned long *n = arg;
	if (r->n_events && !r->events)
		abort();
	for (size_t i = 0; i < r->n_events; i++) {
		const struct kc_etcd_event *ev = &r->events[i];
		if (ev->kv.key_len && !ev->kv.key)
			abort();
	}
	(*n)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4)
		return 0;
	uint32_t rng;
	memcpy(&rng, data, 4);
	rng |= 1;
	data += 4;
	size -= 4;

	unsigned long n = 0;
	struct kc_etcd_error err;
	kc_etcd_watch_decoder *d;
	memset(&err, 0, sizeof(err));
	if (kc_etcd_watch_decoder_new(on_resp, &n, &err, &d) != 0)
		return 0;
	int final = 0;
	size_t off = 0;
	while (off < size) {
		rng ^= rng << 13;
		rng ^= rng >> 17;
		rng ^= rng << 5;
		size_t chunk = 1 + rng % 64;
		if (chunk > size - off)
			chunk = size - off;
		int rc = kc_etcd_watch_decoder_feed(d, (const char *)data + off, chunk);
		if (final != 0 && rc != final)
			abort(); /* a finished decoder must stay finished */
		if (rc != 0)
			final = rc;
		off += chunk;
	}
	kc_etcd_watch_decoder_free(d);
	return 0;
}
