/* libFuzzer harness for the etcd client's JSON tokenizer (common/etcd_scan.c), which reads
 * the store's Txn/Put/Range answers and watch messages: any bytes must either be refused
 * or give tokens whose spans lie inside the input, nest properly, and can be walked with
 * every lookup and decoded (base64, escapes) without crashing or leaking. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "etcd_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kc_etcd__scan s;
	kc_etcd__scan_init(&s);
	if (kc_etcd__scan_parse(&s, (const char *)data, size) != 0) {
		kc_etcd__scan_close(&s);
		return 0;
	}
	for (size_t i = 0; i < s.n; i++) {
		const struct kc_etcd__tok *t = &s.t[i];
		if (t->start > t->end || t->end > size || t->next <= i || t->next > s.n)
			abort();
		if (t->type == KC_ETCD__TOBJ) {
			struct kc_etcd_header h;
			int64_t v;
			kc_etcd__scan_header(&s, (int)i, &h);
			kc_etcd__scan_i64(&s, (int)i, "revision", &v);
			kc_etcd__scan_bool(&s, (int)i, "succeeded");
		}
		if (t->type == KC_ETCD__TARR && t->size > 0 &&
		    (size_t)kc_etcd__scan_child(&s, (int)i, t->size - 1) >= s.n)
			abort();
		if (t->type == KC_ETCD__TSTR) {
			size_t max, n;
			if (kc_etcd__scan_bytes_len(&s, (int)i, &max) != 0)
				abort();
			uint8_t *out = malloc(max + 1);
			if (out && kc_etcd__scan_bytes_into(&s, (int)i, out, &n) == 0 && n > max)
				abort();
			free(out);
			char *u = malloc(t->end - t->start + 1);
			if (u && kc_etcd__unescape((const char *)data + t->start, t->end - t->start, u) > t->end - t->start)
				abort();
			free(u);
		}
	}
	kc_etcd__scan_close(&s);
	return 0;
}
