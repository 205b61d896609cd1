/* oc_raw (apiserver/objcache.h): a watch event's text spliced from the stored bytes must be
 * exactly what parsing them (reg_decode) and printing gives, and every text the scan does
 * not vouch for must be refused (the watch cache then parses it). Checked over objects
 * shaped like the apiserver's (pods with managedFields, events, nodes, escapes, unicode),
 * over hand-picked non-canonical texts, over random mutations of stored texts and over
 * random trees. The partial objects selectors read must match as the whole object does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../apiserver/objcache.h"
#include "../../apiserver/registry.h"
#include "../../apiserver/resource.h"
#include "fields.h"
#include "json.h"
#include "kc_test.h"
#include "labels.h"
#include "meta.h"

static const char *const objects[] = {
	/* a pod as the scheduler benchmark creates it, after defaulting and managedFields */
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"pod-17\",\"namespace\":"
	"\"default\",\"uid\":\"4a7c0d5e-9a43-4c1c-8b1e-2f7e2a9b1c11\",\"creationTimestamp\":"
	"\"2026-11-26T02:44:35Z\",\"labels\":{\"app\":\"bench\",\"shard\":\"3\"},\"managedFields\":"
	"[{\"manager\":\"podcreate\",\"operation\":\"Update\",\"apiVersion\":\"v1\",\"time\":"
	"\"2026-11-26T02:44:35Z\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:metadata\":{"
	"\"f:labels\":{\".\":{},\"f:app\":{}}},\"f:spec\":{\"f:containers\":{\"k:{\\\"name\\\":"
	"\\\"c\\\"}\":{\".\":{},\"f:image\":{},\"f:name\":{},\"f:resources\":{\".\":{},"
	"\"f:requests\":{\".\":{},\"f:cpu\":{},\"f:memory\":{}}}}}}}}]},\"spec\":{\"containers\":"
	"[{\"name\":\"c\",\"image\":\"registry.k8s.io/pause:3.9\",\"resources\":{\"requests\":"
	"{\"cpu\":\"100m\",\"memory\":\"500Mi\"}},\"terminationMessagePath\":"
	"\"/dev/termination-log\",\"terminationMessagePolicy\":\"File\",\"imagePullPolicy\":"
	"\"IfNotPresent\"}],\"restartPolicy\":\"Always\",\"terminationGracePeriodSeconds\":30,"
	"\"dnsPolicy\":\"ClusterFirst\",\"securityContext\":{},\"schedulerName\":"
	"\"default-scheduler\",\"tolerations\":[{\"key\":\"node.kubernetes.io/not-ready\","
	"\"operator\":\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":300}],"
	"\"priority\":0,\"enableServiceLinks\":true,\"preemptionPolicy\":\"PreemptLowerPriority\"},"
	"\"status\":{\"phase\":\"Pending\",\"qosClass\":\"Burstable\"}}",
	/* the same pod bound */
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"pod-17\",\"namespace\":"
	"\"default\",\"labels\":{\"app\":\"bench\"}},\"spec\":{\"nodeName\":\"hollow-node-4999\","
	"\"containers\":[{\"name\":\"c\",\"image\":\"pause\"}]},\"status\":{\"phase\":\"Pending\","
	"\"conditions\":[{\"type\":\"PodScheduled\",\"status\":\"True\",\"lastProbeTime\":null,"
	"\"lastTransitionTime\":\"2026-11-26T02:44:36Z\"}]}}",
	/* an events.k8s.io/v1 Event as the scheduler writes it */
	"{\"kind\":\"Event\",\"apiVersion\":\"events.k8s.io/v1\",\"metadata\":{\"name\":"
	"\"pod-17.187b2c3d4e5f6a7b\",\"namespace\":\"default\",\"creationTimestamp\":"
	"\"2026-11-26T02:44:36Z\"},\"eventTime\":\"2026-11-26T02:44:36.123456Z\","
	"\"reportingController\":\"default-scheduler\",\"reportingInstance\":"
	"\"default-scheduler-host\",\"action\":\"Binding\",\"reason\":\"Scheduled\",\"regarding\":"
	"{\"kind\":\"Pod\",\"namespace\":\"default\",\"name\":\"pod-17\",\"uid\":\"4a7c\","
	"\"apiVersion\":\"v1\",\"resourceVersion\":\"1234\"},\"note\":\"Successfully assigned "
	"default/pod-17 to hollow-node-4999\",\"type\":\"Normal\",\"deprecatedCount\":1}",
	/* a node: cluster-scoped, big integers, status with many members */
	"{\"kind\":\"Node\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"hollow-node-1\",\"labels\":"
	"{\"kubernetes.io/hostname\":\"hollow-node-1\",\"topology.kubernetes.io/zone\":\"z1\"},"
	"\"annotations\":{\"node.alpha.kubernetes.io/ttl\":\"0\"}},\"spec\":{\"podCIDR\":"
	"\"10.0.1.0/24\",\"taints\":[]},\"status\":{\"capacity\":{\"cpu\":\"4\",\"memory\":\"32Gi\","
	"\"pods\":\"110\"},\"daemonEndpoints\":{\"kubeletEndpoint\":{\"Port\":10250}},"
	"\"nodeInfo\":{\"bootID\":\"\",\"kernelVersion\":\"6.1\"},\"n\":-9007199254740993,"
	"\"m\":123456789012345678,\"z\":0,\"neg\":-42,\"flags\":[true,false,null,{},[]]}}",
	/* escapes, unicode, HTML-escaped characters and metadata-like keys in annotations */
	"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm\",\"namespace\":"
	"\"kube-system\",\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":"
	"\"{\\\"metadata\\\":{\\\"resourceVersion\\\":\\\"5\\\"}}\\n\",\"x\":\"a\\u003cb\\u003e"
	"\\u0026c\\t\\r\\b\\f\\\\\\\"\\u0001\\u001f\\u2028\\u2029\",\"u\":\"\xc3\xa9\xe2\x82\xac"
	"\xf0\x9f\x98\x80\x7f\",\"metadata\":{\"resourceVersion\":\"7\"}}},\"data\":{\"metadata\":"
	"\"}{\",\"resourceVersion\":\"]\",\"k\\\"}\":\"v\"}}",
	/* empty metadata: the resourceVersion is its only member */
	"{\"kind\":\"Thing\",\"metadata\":{},\"spec\":{\"metadata\":{}}}",
	/* metadata first and last member */
	"{\"metadata\":{\"name\":\"a\"}}",
	"{\"metadata\":{\"labels\":{},\"name\":\"\",\"namespace\":\"n\"},\"status\":{}}",
};

/* The watch cache's two ways to an event text. Returns 1 when the splice was used (and
 * asserts it equals the parse path), 0 when the scan refused. */
static int check_text(const char *stored, size_t n, int64_t rev)
{
	oc_raw r;
	cJSON *obj = reg_decode(stored, n, rev);
	if (oc_raw_scan(stored, n, &r) != 0) {
		cJSON_Delete(obj);
		return 0;
	}
	ck_assert_msg(obj != NULL, "scan accepted what does not parse: %.*s", (int)n, stored);
	size_t want_n = 0, got_n = 0;
	char *want = kc_json_print_len(obj, &want_n);
	char *got = oc_raw_with_rv(&r, rev, &got_n);
	ck_assert_ptr_nonnull(want);
	ck_assert_ptr_nonnull(got);
	ck_assert_msg(got_n == want_n && !memcmp(got, want, want_n),
		      "splice differs from parse+print\n stored %.*s\n splice %s\n print  %s",
		      (int)n, stored, got, want);
	ck_assert_uint_eq(strlen(got), got_n);
	/* what the watch cache reads from the scan instead of the tree */
	size_t l;
	const char *s = oc_raw_str(&r, r.ns, &l);
	ck_assert_uint_eq(l, strlen(kc_meta_namespace(obj)));
	ck_assert(!memcmp(s, kc_meta_namespace(obj), l));
	s = oc_raw_str(&r, r.name, &l);
	ck_assert_uint_eq(l, strlen(kc_meta_name(obj)));
	ck_assert(!memcmp(s, kc_meta_name(obj), l));
	cJSON *v = oc_raw_view_new();
	ck_assert_ptr_nonnull(v);
	const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	static const char *const mk[] = { "labels", "name", "namespace" };
	for (int k = 0; k < 3; k++) {
		ck_assert_int_eq(oc_raw_view_add_meta(&r, v, mk[k]), 0);
		ck_assert(kc_json_equal(cJSON_GetObjectItemCaseSensitive(md, mk[k]),
					cJSON_GetObjectItemCaseSensitive(
						cJSON_GetObjectItemCaseSensitive(v, "metadata"), mk[k])));
	}
	ck_assert_int_ne(oc_raw_view_add_meta(&r, v, "annotations"), 0);
	for (const cJSON *m = obj->child; m; m = m->next) {
		if (!strcmp(m->string, "metadata"))
			continue;
		int rc = oc_raw_view_add(&r, v, m->string);
		if (rc == 0)
			ck_assert(kc_json_equal(m, cJSON_GetObjectItemCaseSensitive(v, m->string)));
	}
	cJSON_Delete(v);
	free(want);
	free(got);
	cJSON_Delete(obj);
	return 1;
}

/* The stored form of src: compact print without resourceVersion (encode_for_store). */
static char *stored_of(const char *src, size_t *n)
{
	cJSON *o = NULL;
	ck_assert_int_eq(kc_json_parse(src, strlen(src), 0, &o, NULL, 0), 0);
	cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "metadata"),
						"resourceVersion");
	char *s = kc_json_print_len(o, n);
	cJSON_Delete(o);
	return s;
}

START_TEST(splice_equals_parse_and_print_on_stored_objects)
{
	for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++) {
		size_t n;
		char *st = stored_of(objects[i], &n);
		/* every stored object of the apiserver's shape takes the fast path */
		ck_assert_msg(check_text(st, n, 1 + (int64_t)i * 987654321), "refused: %s", st);
		free(st);
	}
}
END_TEST

START_TEST(non_canonical_texts_are_refused)
{
	static const char *const bad[] = {
		"{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"3\"}}", /* replaced in place */
		"{\"metadata\": {\"name\":\"a\"}}",                        /* whitespace */
		"{\"metadata\":{\"name\":\"a\"}}\n",
		" {\"metadata\":{}}",
		"{\"metadata\":{\"name\":\"a\"},\"x\":1.0}",  /* printed 1 */
		"{\"metadata\":{\"name\":\"a\"},\"x\":1e3}",  /* printed 1000 */
		"{\"metadata\":{\"name\":\"a\"},\"x\":-0}",   /* printed 0 */
		"{\"metadata\":{\"name\":\"a\"},\"x\":12345678901234567890}", /* beyond int64 */
		"{\"metadata\":{\"name\":\"a\"},\"x\":1,\"x\":2}",             /* duplicate */
		"{\"metadata\":{\"name\":\"a\"},\"metadata\":{\"name\":\"b\"}}",
		"{\"metadata\":{\"name\":\"a\",\"labels\":{\"k\":\"1\",\"k\":\"2\"}}}",
		"{\"metadata\":{\"name\":\"a\\/b\"}}",     /* printed a/b */
		"{\"metadata\":{\"name\":\"\\u00e9\"}}",   /* printed raw */
		"{\"metadata\":{\"name\":\"\\u003C\"}}",   /* upper-case hex */
		"{\"metadata\":{\"name\":\"<\"}}",         /* printed \u003c */
		"{\"metadata\":{\"name\":\"\\u0008\"}}",   /* printed \b */
		"{\"metadata\":{\"name\":\"\xc3\"}}",      /* invalid UTF-8 */
		"{\"metadata\":{\"name\":\"\xed\xa0\x80\"}}", /* surrogate */
		"{\"metadata\":{\"name\":\"\xe2\x80\xa8\"}}", /* U+2028, printed escaped */
		"{\"metadata\":{\"name\":\"a\\nb\"}}",     /* a name with escapes */
		"{\"metadata\":[]}", "{\"metadata\":\"x\"}", "{\"metadata\":null}",
		"{\"kind\":\"X\"}", "{}", "[]", "\"x\"", "1", "",
		"{\"metadata\":{\"name\":\"a\"}", "{\"metadata\":{\"name\":\"a\"}}}",
		"{\"metadata\":{\"name\":\"a\"},}", "{\"metadata\":{\"name\":\"a\",}}",
		"{\"metadata\":{\"name\":\"a\"},\"x\":[1,]}", "{\"metadata\":{\"name\":\"a\"},\"x\":tru}",
		"{\"metadata\":{\"name\":\"a\"},\"x\":\"\\u0000\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		oc_raw r;
		ck_assert_msg(oc_raw_scan(bad[i], strlen(bad[i]), &r) != 0, "accepted: %s", bad[i]);
	}
	/* deeper than the scan follows: refused, although it parses */
	char deep[700];
	size_t o = (size_t)snprintf(deep, sizeof(deep), "{\"metadata\":{},\"x\":");
	for (int i = 0; i < 200; i++)
		deep[o++] = '[';
	for (int i = 0; i < 200; i++)
		deep[o++] = ']';
	deep[o++] = '}';
	oc_raw r;
	ck_assert_int_ne(oc_raw_scan(deep, o, &r), 0);
}
END_TEST

static uint64_t rng_state = 88172645463325252ULL;
static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

START_TEST(random_mutations_never_give_a_different_text)
{
	static const char alphabet[] = "{}[]\":,\\/u0aAeE.-+ \n\t<>&\x01\x7f\xc3\xa9\xe2\x80\xa8"
				       "metadataresourceVersion";
	size_t nobj = sizeof(objects) / sizeof(objects[0]);
	int spliced = 0;
	for (int it = 0; it < 60000; it++) {
		size_t n;
		char *st = stored_of(objects[rnd() % nobj], &n);
		char *buf = malloc(n + 64);
		memcpy(buf, st, n);
		int edits = 1 + (int)(rnd() % 3);
		for (int k = 0; k < edits; k++) {
			size_t at = rnd() % n;
			char ch = alphabet[rnd() % (sizeof(alphabet) - 1)];
			switch (rnd() % 3) {
			case 0: buf[at] = ch; break;
			case 1: memmove(buf + at + 1, buf + at, n - at); buf[at] = ch; n++; break;
			default: if (n > 2) { memmove(buf + at, buf + at + 1, n - at - 1); n--; }
			}
		}
		spliced += check_text(buf, n, 1 + rnd() % 100000);
		free(buf);
		free(st);
	}
	/* the property was exercised on accepted texts, not only on refusals */
	ck_assert_int_gt(spliced, 1000);
}
END_TEST

/* A random tree: strings of bytes the printer escapes or copies, integers, doubles. */
static cJSON *rand_tree(int depth)
{
	static const char *const strs[] = { "a", "", "<&>", "\"\\", "\n\t\r\b\f\x01\x1f", "\xc3\xa9",
					    "\xe2\x80\xa8", "\xff", "metadata", "resourceVersion",
					    "}{][,:", "\xf0\x9f\x98\x80", "/" };
	int k = depth > 4 ? (int)(rnd() % 4) : (int)(rnd() % 6);
	switch (k) {
	case 0: return cJSON_CreateString(strs[rnd() % 13]);
	case 1: return kc_json_new_int64((int64_t)rnd() * (rnd() % 2 ? 1 : -1) * (int64_t)(rnd() % 1000000000));
	case 2: return rnd() % 2 ? cJSON_CreateNumber((double)rnd() / 7.0) : cJSON_CreateBool(rnd() % 2);
	case 3: return cJSON_CreateNull();
	case 4: {
		cJSON *a = cJSON_CreateArray();
		for (int i = (int)(rnd() % 4); i > 0; i--)
			cJSON_AddItemToArray(a, rand_tree(depth + 1));
		return a;
	}
	default: {
		cJSON *o = cJSON_CreateObject();
		for (int i = (int)(rnd() % 5); i > 0; i--) {
			char key[16];
			snprintf(key, sizeof(key), "%s%u", strs[rnd() % 13], rnd() % 3);
			if (!cJSON_GetObjectItemCaseSensitive(o, key))
				cJSON_AddItemToObject(o, key, rand_tree(depth + 1));
		}
		return o;
	}
	}
}

START_TEST(random_trees_splice_as_they_print)
{
	int spliced = 0;
	for (int it = 0; it < 20000; it++) {
		cJSON *o = cJSON_CreateObject();
		cJSON *md = cJSON_AddObjectToObject(o, "metadata");
		if (rnd() % 2)
			cJSON_AddStringToObject(md, "name", "n");
		if (rnd() % 2)
			cJSON_AddItemToObject(md, "labels", rand_tree(3));
		if (rnd() % 2)
			cJSON_AddItemToObject(md, "annotations", rand_tree(1));
		for (int i = (int)(rnd() % 4); i > 0; i--) {
			char key[16];
			snprintf(key, sizeof(key), "k%u", rnd() % 10);
			if (!cJSON_GetObjectItemCaseSensitive(o, key))
				cJSON_AddItemToObject(o, key, rand_tree(1));
		}
		size_t n;
		char *st = kc_json_print_len(o, &n);
		spliced += check_text(st, n, rnd());
		free(st);
		cJSON_Delete(o);
	}
	ck_assert_int_gt(spliced, 1000);
}
END_TEST

/* The partial object a selector reads matches exactly when the whole object does. */
START_TEST(partial_view_matches_as_the_object)
{
	static const char *const sels[][2] = {
		{ "", "status.phase!=Succeeded,status.phase!=Failed" },
		{ "", "status.phase=Pending" },
		{ "", "spec.nodeName=" },
		{ "", "spec.nodeName=hollow-node-4999,metadata.namespace=default" },
		{ "app=bench", "" },
		{ "shard=3", "metadata.name=pod-17" },
		{ "app in (x,bench),!missing", "spec.schedulerName=default-scheduler" },
		{ "app=other", "status.phase!=Failed" },
	};
	int matched = 0, differed = 0;
	for (size_t i = 0; i < 2; i++) {
		size_t n;
		char *st = stored_of(objects[i], &n);
		oc_raw r;
		ck_assert_int_eq(oc_raw_scan(st, n, &r), 0);
		cJSON *obj = reg_decode(st, n, 5);
		for (size_t k = 0; k < sizeof(sels) / sizeof(sels[0]); k++) {
			kc_label_selector ls;
			kc_field_selector fs;
			cJSON *err = NULL;
			ck_assert_int_eq(reg_parse_selectors(&res_pods, sels[k][0], sels[k][1], &ls, &fs, &err), 0);
			/* what the watch cache's ref_view adds for these selectors */
			cJSON *v = oc_raw_view_new();
			if (ls.nreqs)
				ck_assert_int_eq(oc_raw_view_add_meta(&r, v, "labels"), 0);
			for (size_t q = 0; q < fs.nreqs; q++) {
				const char *f = fs.reqs[q].field;
				if (!strncmp(f, "metadata.", 9)) {
					ck_assert_int_eq(oc_raw_view_add_meta(&r, v, f + 9), 0);
					continue;
				}
				char seg[64];
				snprintf(seg, sizeof(seg), "%.*s", (int)strcspn(f, "."), f);
				ck_assert_int_eq(oc_raw_view_add(&r, v, seg), 0);
			}
			int whole = reg_matches(&res_pods, obj, &ls, &fs);
			ck_assert_int_eq(reg_matches(&res_pods, v, &ls, &fs), whole);
			matched += whole;
			differed += !whole;
			cJSON_Delete(v);
			kc_selector_close(&ls);
			kc_fields_close(&fs);
		}
		cJSON_Delete(obj);
		free(st);
	}
	ck_assert_int_gt(matched, 0);
	ck_assert_int_gt(differed, 0);
}
END_TEST

/* A ConfigMap with many similar keys: spliced when they are distinct, refused with one
 * duplicate among them, and refused (parsed instead) past the keys the scan tracks. */
START_TEST(many_keys)
{
	size_t cap = 64 * 1024, o;
	char *b = malloc(cap);
	for (int dup = 0; dup < 2; dup++) {
		o = (size_t)snprintf(b, cap, "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"m\"},\"data\":{");
		for (int i = 0; i < 1000; i++)
			o += (size_t)snprintf(b + o, cap - o, "%s\"key-%04d\":\"v\"", i ? "," : "",
					      dup && i == 999 ? 500 : i);
		o += (size_t)snprintf(b + o, cap - o, "}}");
		oc_raw r;
		if (dup)
			ck_assert_int_ne(oc_raw_scan(b, o, &r), 0);
		else
			ck_assert(check_text(b, o, 42));
	}
	o = (size_t)snprintf(b, cap, "{\"metadata\":{\"name\":\"m\"},\"data\":{");
	for (int i = 0; i < 1100; i++)
		o += (size_t)snprintf(b + o, cap - o, "%s\"k%d\":%d", i ? "," : "", i, i);
	o += (size_t)snprintf(b + o, cap - o, "}}");
	ck_assert_int_eq(check_text(b, o, 7), 0);
	cJSON *parsed = reg_decode(b, o, 7);
	ck_assert_ptr_nonnull(parsed); /* the parse path still takes it */
	cJSON_Delete(parsed);
	free(b);
}
END_TEST

static Suite *objcache_raw_suite(void)
{
	Suite *s = suite_create("objcache_raw");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, splice_equals_parse_and_print_on_stored_objects);
	tcase_add_test(tc, non_canonical_texts_are_refused);
	tcase_add_test(tc, random_mutations_never_give_a_different_text);
	tcase_add_test(tc, random_trees_splice_as_they_print);
	tcase_add_test(tc, partial_view_matches_as_the_object);
	tcase_add_test(tc, many_keys);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(objcache_raw_suite)
