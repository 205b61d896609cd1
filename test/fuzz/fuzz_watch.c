/* libFuzzer harness for the watch stream decoder (common/watch.c): the input's first
 * bytes seed how the rest is cut into chunks, which line limit applies and when the
 * callback asks to stop; the decoder must never crash, leak or deliver a malformed
 * event, however the stream is split. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz {
	uint32_t rng;
	unsigned long events;
};

static uint32_t next(struct fz *f)
{
	/* xorshift32: deterministic per input, so crashes reproduce. */
	f->rng ^= f->rng << 13;
	f->rng ^= f->rng >> 17;
	f->rng ^= f->rng << 5;
	return f->rng;
}

static int on_event(kc_watch_event *ev, void *arg)
{
	struct fz *f = arg;
	if (!ev->object || !cJSON_IsObject(ev->object))
		abort();
	if ((unsigned)ev->type > KC_WATCH_ERROR)
		abort();
	if (ev->type == KC_WATCH_ERROR && ev->err >= 0)
		abort();
	if (ev->type != KC_WATCH_ERROR && ev->err != 0)
		abort();
	f->events++;
	/* Sometimes take the object, sometimes stop the decoder. */
	uint32_t r = next(f);
	if (r % 7 == 0) {
		cJSON_Delete(ev->object);
		ev->object = NULL;
	}
	return r % 11 == 0 ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 5)
		return 0;
	struct fz f = { 0, 0 };
	memcpy(&f.rng, data, 4);
	f.rng |= 1;
	size_t limits[] = { 0, 8, 64, 300, 4096 };
	size_t max_line = limits[data[4] % 5];
	data += 5;
	size -= 5;
	kc_watch_decoder d;
	kc_watch_decoder_init(&d, max_line);
	size_t pos = 0;
	int rc = 0;
	while (pos < size) {
		size_t n = 1 + next(&f) % 64;
		if (n > size - pos)
			n = size - pos;
		rc = kc_watch_decoder_feed(&d, data + pos, n, on_event, &f);
		pos += n;
		/* After a callback stop, drain what is buffered before feeding more. */
		for (int i = 0; rc == -1 && i < 1000; i++)
			rc = kc_watch_decoder_feed(&d, "", 0, on_event, &f);
		if (rc == KC_EPARSE || rc == KC_ETOOLARGE) {
			/* Sticky. */
			if (kc_watch_decoder_feed(&d, "{}\n", 3, on_event, &f) != rc)
				abort();
			break;
		}
		if (rc != 0 && rc != -1)
			abort();
	}
	if (rc == 0) {
		rc = kc_watch_decoder_finish(&d, on_event, &f);
		while (rc == -1)
			rc = kc_watch_decoder_finish(&d, on_event, &f);
	}
	kc_watch_decoder_close(&d);
	return 0;
}
