/* etcd's JSON encoding of protobuf messages (grpc-gateway v1 with
 * runtime.JSONPb{OrigName: true, EmitDefaults: false}, golang/protobuf 1.3 jsonpb),
 * driven by protobuf-c descriptors so every message of store/etcdserver.proto works
 * without per-message code.
 *
 * Output (jpb_encode), as etcd 3.4's gateway writes it:
 *  - field names are the .proto names (OrigName): "create_revision", but "ID", "TTL",
 *    "grantedTTL", "dbSize" because that is how etcd's .proto spells them;
 *  - fields in descriptor (field number) order, which is etcd's declaration order;
 *  - zero values omitted (false, 0, "", empty bytes, empty repeated, enum 0, NULL
 *    message); a set oneof member and a non-NULL sub-message are always written;
 *  - 64-bit integers as JSON strings ("revision":"2"), 32-bit integers as numbers;
 *  - bytes as standard padded base64; enums by value name (number if unknown);
 *  - strings escaped as Go's json.Marshal does (<, >, & as \u003c..., invalid UTF-8
 *    as \ufffd).
 *
 * Input (jpb_decode), as jsonpb.Unmarshaler{AllowUnknownFields: true} reading from a
 * json.Decoder:
 *  - one JSON value is read; bytes after it are left for the next call (the watch and
 *    keepalive request bodies are concatenated objects);
 *  - proto names and lowerCamel names are both accepted (camel wins if both appear);
 *    unknown fields are ignored; null leaves a field unset;
 *  - integers as numbers or strings ("5" and 5); enums as names or numbers;
 *  - bytes must be standard base64 with padding: anything else fails with Go's
 *    "illegal base64 data at input byte N";
 *  - errors carry Go's texts ("unexpected EOF", "invalid character 'b' looking for
 *    beginning of object key string", "json: cannot unmarshal number into Go value of
 *    type []uint8", "unknown value \"X\" for enum etcdserverpb.RangeRequest_SortOrder").
 */
#ifndef KC_STORE_JSONPB_H
#define KC_STORE_JSONPB_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* A growable output buffer. Zero-initialise (or jpb_buf_init) before use; the
 * data is malloc'd and owned by the buffer until jpb_buf_free or jpb_buf_take. */
struct jpb_buf {
	char *data;
	size_t len, cap;
};

void jpb_buf_init(struct jpb_buf *b);
void jpb_buf_free(struct jpb_buf *b);
/* Hand the data to the caller (free() it); the buffer becomes empty. Never NULL
 * after a successful append (an empty buffer yields a malloc'd "" or NULL). */
char *jpb_buf_take(struct jpb_buf *b, size_t *len);
/* Appenders: 0 or -ENOMEM. s is copied. */
int jpb_buf_append(struct jpb_buf *b, const void *s, size_t n);
int jpb_buf_puts(struct jpb_buf *b, const char *s);
int jpb_buf_printf(struct jpb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string literal (with quotes), escaped as Go's json.Marshal. s is copied. */
int jpb_buf_json_string(struct jpb_buf *b, const char *s, size_t n);
/* Length of the valid UTF-8 sequence at s (1..4; n >= 1 bytes available), or 0 if
 * invalid (Go replaces each invalid byte with U+FFFD). */
size_t jpb_utf8_len(const unsigned char *s, size_t n);

/* Append the JSON object for msg (borrowed) to out. 0 or -ENOMEM. */
int jpb_encode(const ProtobufCMessage *msg, struct jpb_buf *out);

/* Standard padded base64 (RFC 4648), appended to out. 0 or -ENOMEM. */
int jpb_base64_encode(struct jpb_buf *out, const uint8_t *p, size_t n);
/* Go's base64.StdEncoding.Decode: returns the decoded length (>= 0) written to dst
 * (which must hold n/4*3+3 bytes), or -1 with *bad set to the offending input byte
 * offset, exactly as Go's CorruptInputError. src is borrowed. */
long jpb_base64_decode(const char *src, size_t n, uint8_t *dst, size_t *bad);

/* jpb_decode return values besides 0. */
enum {
	JPB_EOF = 1,          /* only whitespace (or nothing) was left: no message */
	JPB_ESYNTAX = -20001, /* malformed JSON or truncated input: an HTTP 400/500 */
	JPB_ETYPE = -20002,   /* well-formed JSON that does not fit the message */
	JPB_EPARTIAL = -20003, /* input ended inside the value ("unexpected EOF"): a
	                          streaming caller may wait for more bytes */
};

#define JPB_ERRLEN 256

/* Decode one JSON value from buf[0..len) (borrowed, need not be NUL-terminated) into a
 * new message of type desc. On success returns 0, sets *out (free it with
 * protobuf_c_message_free_unpacked(*out, NULL)) and *consumed = bytes used (the
 * value and the whitespace before it). Returns JPB_EOF when buf holds only
 * whitespace (*consumed = len, *out = NULL). On failure returns JPB_ESYNTAX,
 * JPB_EPARTIAL, JPB_ETYPE or -ENOMEM, *out is NULL and err receives Go's message. */
int jpb_decode(const ProtobufCMessageDescriptor *desc, const char *buf, size_t len,
	       size_t *consumed, ProtobufCMessage **out, char *err, size_t errlen);

/* The lowerCamel JSON name protoc derives from a proto field name ("range_end" ->
 * "rangeEnd"), written to out (NUL-terminated, truncated to outlen). */
void jpb_camel_name(const char *name, char *out, size_t outlen);

#endif
