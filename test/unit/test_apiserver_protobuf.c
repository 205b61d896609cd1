/* Kubernetes protobuf request bodies, as kubectl create <kind> sends them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "kc_test.h"
#include "../../apiserver/protobuf.h"

static size_t unhex(const char *hex, unsigned char *out)
{
	size_t n = 0;
	for (; hex[0] && hex[1]; hex += 2) {
		unsigned v;
		sscanf(hex, "%2x", &v);
		out[n++] = (unsigned char)v;
	}
	return n;
}

/* The verbatim `kubectl create namespace team-a` body from KUBECTL_CONTRACT.md §1.4. */
static const char NS_BODY[] = "6b3873000a0f0a02763112094e616d657370616365121e0a160a067465616d2d"
			      "6112001a0022002a0032003800420012001a020a001a002200";

START_TEST(namespace_body_from_kubectl)
{
	unsigned char buf[128];
	size_t n = unhex(NS_BODY, buf);
	ck_assert_int_eq(n, 57);
	cJSON *obj = NULL;
	char err[256];
	ck_assert_int_eq(pb_decode_object(buf, n, &obj, err, sizeof(err)), 0);
	ck_assert_str_eq(kc_json_get_string(obj, "kind", ""), "Namespace");
	ck_assert_str_eq(kc_json_get_string(obj, "apiVersion", ""), "v1");
	ck_assert_str_eq(kc_json_get_string(obj, "metadata.name", ""), "team-a");
	/* Empty strings and the zero creationTimestamp are omitted, as JSON omitempty. */
	ck_assert_ptr_null(kc_json_get(obj, "metadata.generateName"));
	ck_assert_ptr_null(kc_json_get(obj, "metadata.creationTimestamp"));
	ck_assert_ptr_null(kc_json_get(obj, "metadata.generation"));
	cJSON_Delete(obj);
}
END_TEST

START_TEST(bad_bodies_are_rejected)
{
	unsigned char buf[128];
	size_t n = unhex(NS_BODY, buf);
	cJSON *obj = NULL;
	char err[256];
	/* Wrong magic. */
	buf[0] = 'x';
	ck_assert_int_eq(pb_decode_object(buf, n, &obj, err, sizeof(err)), KC_EPARSE);
	ck_assert_ptr_null(obj);
	buf[0] = 0x6b;
	/* Truncated anywhere: never a crash, an error or a (partial) object. */
	for (size_t cut = 0; cut < n; cut++) {
		int rc = pb_decode_object(buf, cut, &obj, err, sizeof(err));
		ck_assert(rc == 0 || rc == KC_EPARSE);
		if (rc == 0)
			cJSON_Delete(obj);
		obj = NULL;
	}
	ck_assert_int_eq(pb_decode_object(buf, 3, &obj, err, sizeof(err)), KC_EPARSE);
	/* A kind without a decoder -> -ENOTSUP (the apiserver answers 415 UnsupportedMediaType). */
	unsigned char job[] = { 'k', '8', 's', 0, 0x0a, 0x0c, 0x0a, 0x07, 'b', 'a', 't', 'c', 'h',
				'/', 'v', 0x12, 0x01, 'J', 0x12, 0x00 };
	/* typeMeta{apiVersion:"batch/v", kind:"J"}, raw: empty */
	ck_assert_int_eq(pb_decode_object(job, sizeof(job), &obj, err, sizeof(err)), -ENOTSUP);
	ck_assert(strstr(err, "not supported") != NULL);
}
END_TEST

static Suite *apiserver_protobuf_suite(void)
{
	Suite *s = suite_create("apiserver_protobuf");
	TCase *tc = tcase_create("protobuf");
	tcase_add_test(tc, namespace_body_from_kubectl);
	tcase_add_test(tc, bad_bodies_are_rejected);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(apiserver_protobuf_suite)
