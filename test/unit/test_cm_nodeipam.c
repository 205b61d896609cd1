/* Node IPAM range allocator against the fake lister and recording API. */
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "fixtures.h"
#include "json.h"
#include "kc_test.h"
#include "meta.h"

#include "../../controller-manager/fake.h"
#include "../../controller-manager/nodeipam.h"

typedef struct fixture {
	kc_fake_clock fc;
	cm_fake f;
	nodeipam_controller nc;
} fixture;

static void fx_init(fixture *x, const char *cidr, int mask)
{
	char err[256];
	kc_fake_clock_init(&x->fc, INT64_C(1700000000) * KC_NSEC_PER_SEC, 3);
	ck_assert_int_eq(cm_fake_init(&x->f, &x->fc.base), 0);
	ck_assert_int_eq(nodeipam_init(&x->nc, &x->f.lister, &x->f.api, cidr, NULL, mask, err,
				       sizeof(err)),
			 0);
}

static void fx_close(fixture *x)
{
	nodeipam_close(&x->nc);
	cm_fake_close(&x->f);
	kc_fake_clock_close(&x->fc);
}

static cJSON *add_node(fixture *x, const char *name, const char *cidr)
{
	char buf[512];
	if (cidr)
		snprintf(buf, sizeof(buf),
			 "{\"metadata\":{\"name\":\"%s\"},\"spec\":{\"podCIDR\":\"%s\","
			 "\"podCIDRs\":[\"%s\"]}}",
			 name, cidr, cidr);
	else
		snprintf(buf, sizeof(buf), "{\"metadata\":{\"name\":\"%s\"},\"spec\":{}}", name);
	return cm_fake_add(&x->f, "nodes", fx_json(buf));
}

static const char *cidr_of(fixture *x, const char *node)
{
	return kc_json_get_string(cm_fake_find(&x->f, "nodes", "", node), "spec.podCIDR", "");
}

START_TEST(allocates_distinct_cidrs_and_rebuilds)
{
	fixture x;
	fx_init(&x, "10.244.0.0/16", 0);
	/* a node from before a restart already holds 10.244.0.0/24 */
	add_node(&x, "old", "10.244.0.0/24");
	add_node(&x, "a", NULL);
	add_node(&x, "b", NULL);
	ck_assert_int_eq(nodeipam_sync(&x.nc, "a"), 0);
	ck_assert_int_eq(nodeipam_sync(&x.nc, "b"), 0);
	ck_assert_str_eq(cidr_of(&x, "a"), "10.244.1.0/24");
	ck_assert_str_eq(cidr_of(&x, "b"), "10.244.2.0/24");
	ck_assert_str_eq(kc_json_get_string(cm_fake_find(&x.f, "nodes", "", "a"),
					    "spec.podCIDRs.0", ""),
			 "10.244.1.0/24");
	ck_assert_uint_eq(nodeipam_used(&x.nc), 3);
	/* a node that has one is not written again */
	cm_fake_clear(&x.f);
	ck_assert_int_eq(nodeipam_sync(&x.nc, "a"), 0);
	ck_assert_int_eq(cJSON_GetArraySize(x.f.actions), 0);
	/* deleting b releases its subnet once it is gone from the cache */
	cJSON_DeleteItemFromArray(cJSON_GetObjectItem(x.f.store, "nodes"), 2);
	ck_assert_ptr_null(cm_fake_find(&x.f, "nodes", "", "b"));
	ck_assert_int_eq(nodeipam_sync(&x.nc, "release/10.244.2.0/24"), 0);
	ck_assert_uint_eq(nodeipam_used(&x.nc), 2);
	/* a release of a subnet still in use is ignored */
	ck_assert_int_eq(nodeipam_sync(&x.nc, "release/10.244.1.0/24"), 0);
	ck_assert_uint_eq(nodeipam_used(&x.nc), 2);
	fx_close(&x);
}
END_TEST

START_TEST(exhausted_range_event)
{
	fixture x;
	fx_init(&x, "10.10.0.0/23", 24); /* two subnets */
	add_node(&x, "a", NULL);
	add_node(&x, "b", NULL);
	add_node(&x, "c", NULL);
	ck_assert_int_eq(nodeipam_sync(&x.nc, "a"), 0);
	ck_assert_int_eq(nodeipam_sync(&x.nc, "b"), 0);
	ck_assert_int_lt(nodeipam_sync(&x.nc, "c"), 0);
	ck_assert_str_eq(cidr_of(&x, "c"), "");
	ck_assert_int_eq(cJSON_GetArraySize(x.f.events), 1);
	const cJSON *ev = cJSON_GetArrayItem(x.f.events, 0);
	ck_assert_str_eq(kc_json_get_string(ev, "reason", ""), "CIDRNotAvailable");
	ck_assert_str_eq(kc_json_get_string(ev, "name", ""), "c");
	ck_assert_str_ne(cidr_of(&x, "a"), cidr_of(&x, "b"));
	fx_close(&x);
}
END_TEST

START_TEST(rejects_bad_flags)
{
	nodeipam_controller nc;
	char err[256];
	ck_assert_int_eq(nodeipam_init(&nc, NULL, NULL, NULL, NULL, 0, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(nodeipam_init(&nc, NULL, NULL, "fd00::/64", NULL, 0, err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(nodeipam_init(&nc, NULL, NULL, "10.0.0.0/24", NULL, 16, err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(nodeipam_init(&nc, NULL, NULL, "10.0.0.0/8", NULL, 28, err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(nodeipam_init(&nc, NULL, NULL, "10.0.0.300/16", NULL, 24, err,
				       sizeof(err)),
			 -EINVAL);
	/* the service range's subnets are never handed out */
	ck_assert_int_eq(nodeipam_init(&nc, NULL, NULL, "10.0.0.0/16", "10.0.0.0/24", 24, err,
				       sizeof(err)),
			 0);
	ck_assert_uint_eq(nodeipam_used(&nc), 1);
	nodeipam_close(&nc);
}
END_TEST

static Suite *cm_nodeipam_suite(void)
{
	Suite *s = suite_create("cm_nodeipam");
	TCase *tc = tcase_create("sync");
	tcase_add_test(tc, allocates_distinct_cidrs_and_rebuilds);
	tcase_add_test(tc, exhausted_range_event);
	tcase_add_test(tc, rejects_bad_flags);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(cm_nodeipam_suite)
