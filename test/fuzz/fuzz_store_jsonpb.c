/* libFuzzer harness for kube-store's etcd JSON decoder (store/jsonpb.c): every request
 * body a client sends goes through it. The first byte picks the request message; the rest
 * is decoded as a stream of JSON objects (as the watch endpoint reads them). Whatever is
 * decoded must re-encode, and the encoding must decode again to an equal encoding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../store/jsonpb.h"
#include "store/etcdserver.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const ProtobufCMessageDescriptor *const descs[] = {
	&kvpb__range_request__descriptor,  &kvpb__put_request__descriptor,
	&kvpb__delete_range_request__descriptor, &kvpb__txn_request__descriptor,
	&kvpb__compaction_request__descriptor, &kvpb__watch_request__descriptor,
	&kvpb__lease_grant_request__descriptor, &kvpb__alarm_request__descriptor,
};

static void round_trip(const ProtobufCMessageDescriptor *d, ProtobufCMessage *m)
{
	struct jpb_buf a, b;
	jpb_buf_init(&a);
	jpb_buf_init(&b);
	if (jpb_encode(m, &a) == 0) {
		ProtobufCMessage *m2 = NULL;
		size_t used = 0;
		char err[JPB_ERRLEN];
		if (jpb_decode(d, a.data, a.len, &used, &m2, err, sizeof(err)) != 0 || !m2)
			abort(); /* our own output must decode */
		if (jpb_encode(m2, &b) != 0 || b.len != a.len || memcmp(a.data, b.data, a.len))
			abort(); /* and re-encode identically */
		protobuf_c_message_free_unpacked(m2, NULL);
	}
	jpb_buf_free(&a);
	jpb_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const ProtobufCMessageDescriptor *d = descs[data[0] % (sizeof(descs) / sizeof(descs[0]))];
	const char *p = (const char *)data + 1;
	size_t left = size - 1;
	for (int i = 0; i < 8 && left > 0; i++) {
		ProtobufCMessage *m = NULL;
		size_t used = 0;
		char err[JPB_ERRLEN];
		int rc = jpb_decode(d, p, left, &used, &m, err, sizeof(err));
		if (rc != 0) {
			if (m)
				abort(); /* failure leaves nothing behind */
			break;
		}
		if (!m || used == 0 || used > left)
			abort();
		round_trip(d, m);
		protobuf_c_message_free_unpacked(m, NULL);
		p += used;
		left -= used;
	}
	return 0;
}
