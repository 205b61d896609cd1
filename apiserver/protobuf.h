/* Kubernetes protobuf request bodies (application/vnd.kubernetes.protobuf): the 4-byte
 * "k8s\0" magic, a runtime.Unknown envelope {typeMeta, raw}, raw = the object's message
 * (k8s.proto). Decoded with protobuf-c and turned into the JSON object the registry takes,
 * so the rest of the apiserver sees no difference. */
#ifndef APISERVER_PROTOBUF_H
#define APISERVER_PROTOBUF_H

#include <stddef.h>
#include <cjson/cJSON.h>

/* body borrowed. Returns 0 and *out (caller owns), KC_EPARSE (not a valid envelope or
 * message) or -ENOTSUP (a kind this server cannot decode yet), with a message in err. */
int pb_decode_object(const void *body, size_t len, cJSON **out, char *err, size_t errlen);

#endif
