/* kube-proxy: KubeProxyConfiguration parsing/validation, the sync rate limit, and the
 * metrics and healthz a sync produces (dry-run proxier, fake clock). */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "errors.h"
#include "json.h"
#include "kc_test.h"
#include "../../proxy/config.h"
#include "../../proxy/proxier.h"

#define S(x) ((int64_t)(x) * KC_NSEC_PER_SEC)

START_TEST(config_yaml_fields)
{
	const char *y = "apiVersion: kubeproxy.config.k8s.io/v1alpha1\n"
			"kind: KubeProxyConfiguration\n"
			"mode: iptables\n"
			"clusterCIDR: 10.244.0.0/16\n"
			"clientConnection:\n  kubeconfig: /etc/kubernetes/proxy.conf\n  qps: 5\n"
			"iptables:\n  syncPeriod: 1m30s\n  minSyncPeriod: 250ms\n  masqueradeBit: 15\n"
			"healthzBindAddress: 127.0.0.1:20256\n"
			"metricsBindAddress: \"0.0.0.0:20249\"\n"
			"nodePortAddresses: []\n"
			"conntrack:\n  maxPerCore: 32768\n";
	px_config c;
	char err[512];
	px_config_defaults(&c);
	ck_assert_int_eq(px_config_parse(&c, y, strlen(y), err, sizeof(err)), 0);
	ck_assert_str_eq(c.mode, "iptables");
	ck_assert_str_eq(c.cluster_cidr, "10.244.0.0/16");
	ck_assert_str_eq(c.kubeconfig, "/etc/kubernetes/proxy.conf");
	ck_assert_int_eq(c.sync_period_ns, S(90));
	ck_assert_int_eq(c.min_sync_period_ns, 250 * KC_NSEC_PER_MSEC);
	ck_assert_int_eq(c.masq_bit, 15);
	ck_assert_str_eq(c.healthz_bind, "127.0.0.1:20256");
	ck_assert_str_eq(c.metrics_bind, "0.0.0.0:20249");
	ck_assert_int_eq(px_config_validate(&c, err, sizeof(err)), 0);
}
END_TEST

START_TEST(config_defaults_are_upstreams)
{
	px_config c;
	char err[512];
	px_config_defaults(&c);
	const char *y = "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n";
	ck_assert_int_eq(px_config_parse(&c, y, strlen(y), err, sizeof(err)), 0);
	ck_assert_int_eq(c.sync_period_ns, S(30));
	ck_assert_int_eq(c.min_sync_period_ns, S(1));
	ck_assert_int_eq(c.masq_bit, 14);
	ck_assert_str_eq(c.healthz_bind, "0.0.0.0:10256");
	ck_assert_str_eq(c.metrics_bind, "127.0.0.1:10249");
	ck_assert_int_eq(px_config_validate(&c, err, sizeof(err)), 0);
}
END_TEST

static int parse_validate(const char *y, char *err, size_t errlen)
{
	px_config c;
	px_config_defaults(&c);
	int rc = px_config_parse(&c, y, strlen(y), err, errlen);
	return rc ? rc : px_config_validate(&c, err, errlen);
}

#define HDR "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"

START_TEST(config_errors_name_the_field)
{
	char err[512];
	ck_assert_int_eq(parse_validate(HDR "mode: ipvs\n", err, sizeof(err)), KC_EINVALID);
	ck_assert_ptr_nonnull(strstr(err, "mode: Unsupported value: \"ipvs\""));
	ck_assert_int_eq(parse_validate(HDR "iptables:\n  masqueradeBit: 40\n", err, sizeof(err)),
			 KC_EINVALID);
	ck_assert_ptr_nonnull(strstr(err, "iptables.masqueradeBit: Invalid value: 40"));
	ck_assert_int_eq(parse_validate(HDR "iptables:\n  syncPeriod: 10\n", err, sizeof(err)),
			 KC_EINVALID);
	ck_assert_ptr_nonnull(strstr(err, "iptables.syncPeriod"));
	ck_assert_ptr_nonnull(strstr(err, "missing unit"));
	ck_assert_int_eq(parse_validate(HDR "iptables:\n  syncPeriod: 1s\n  minSyncPeriod: 5s\n",
					err, sizeof(err)),
			 KC_EINVALID);
	ck_assert_ptr_nonnull(strstr(err, "iptables.minSyncPeriod"));
	ck_assert_int_eq(parse_validate(HDR "clusterCIDR: 10.0.0.0/33\n", err, sizeof(err)),
			 KC_EINVALID);
	ck_assert_ptr_nonnull(strstr(err, "clusterCIDR"));
	ck_assert_int_eq(parse_validate(HDR "healthzBindAddress: nope\n", err, sizeof(err)),
			 KC_EINVALID);
	ck_assert_ptr_nonnull(strstr(err, "healthzBindAddress"));
	ck_assert_int_eq(parse_validate(HDR "nodePortAddresses: [10.0.0.0/8]\n", err, sizeof(err)),
			 KC_EINVALID);
	ck_assert_ptr_nonnull(strstr(err, "nodePortAddresses"));
	/* Wrong kind, malformed YAML, not a mapping. */
	ck_assert_int_eq(parse_validate("apiVersion: v1\nkind: Pod\n", err, sizeof(err)), KC_EPARSE);
	ck_assert_ptr_nonnull(strstr(err, "KubeProxyConfiguration"));
	ck_assert_int_eq(parse_validate(HDR "iptables: [\n", err, sizeof(err)), KC_EPARSE);
	ck_assert_ptr_nonnull(strstr(err, "yaml: line"));
	ck_assert_int_eq(parse_validate("- a\n- b\n", err, sizeof(err)), KC_EPARSE);
	ck_assert_int_eq(parse_validate(HDR "x: &a 1\ny: *a\n", err, sizeof(err)), KC_EPARSE);
}
END_TEST

START_TEST(cidr_and_hostport_checks)
{
	ck_assert(px_valid_ipv4_cidr("10.0.0.0/8"));
	ck_assert(px_valid_ipv4_cidr("0.0.0.0/0"));
	ck_assert(!px_valid_ipv4_cidr("10.0.0.0"));
	ck_assert(!px_valid_ipv4_cidr("10.0.0.0/"));
	ck_assert(!px_valid_ipv4_cidr("10.0.0.0/8 -j ACCEPT"));
	ck_assert(!px_valid_ipv4_cidr("fd00::/8"));
	char h[64];
	int port = -1;
	ck_assert_int_eq(px_split_hostport("0.0.0.0:10256", h, sizeof(h), &port), 0);
	ck_assert_str_eq(h, "0.0.0.0");
	ck_assert_int_eq(port, 10256);
	ck_assert_int_eq(px_split_hostport(":0", h, sizeof(h), &port), 0);
	ck_assert_int_eq(port, 0);
	ck_assert_int_eq(px_split_hostport("127.0.0.1:99999", h, sizeof(h), &port), -EINVAL);
	ck_assert_int_eq(px_split_hostport("localhost:80", h, sizeof(h), &port), -EINVAL);
}
END_TEST

START_TEST(sync_delay_rate_limit)
{
	int64_t min = S(1), period = S(30);
	/* Never synced: now. */
	ck_assert_int_eq(px_next_sync_delay(S(100), -1, false, min, period), 0);
	/* A change right after a sync waits for minSyncPeriod... */
	ck_assert_int_eq(px_next_sync_delay(S(100) + 200 * KC_NSEC_PER_MSEC, S(100), true, min,
					 period),
			 800 * KC_NSEC_PER_MSEC);
	/* ...and goes at once when minSyncPeriod has passed. */
	ck_assert_int_eq(px_next_sync_delay(S(102), S(100), true, min, period), 0);
	/* Without changes, the periodic sync. */
	ck_assert_int_eq(px_next_sync_delay(S(110), S(100), false, min, period), S(20));
	ck_assert_int_eq(px_next_sync_delay(S(131), S(100), false, min, period), 0);
	/* minSyncPeriod 0: changes apply immediately. */
	ck_assert_int_eq(px_next_sync_delay(S(100), S(100), true, 0, period), 0);
}
END_TEST

START_TEST(metrics_and_healthz_follow_syncs)
{
	kc_fake_clock fc;
	kc_fake_clock_init(&fc, S(1700000000), 1);
	px_proxier_opts o = { .rules = { .masq_bit = 14 }, .node_name = "node1",
			      .sync_period_ns = S(30), .min_sync_period_ns = S(1),
			      .clock = &fc.base, .dry_run = true };
	px_ipt_defaults(&o.ipt);
	px_proxier *p = NULL;
	ck_assert_int_eq(px_proxier_new(&o, &p), 0);
	cJSON *svcs = NULL;
	char err[KC_JSON_ERRLEN];
	ck_assert_int_eq(
		kc_json_parse_str("[{\"metadata\":{\"namespace\":\"default\",\"name\":\"web\"},"
				  "\"spec\":{\"clusterIP\":\"10.96.0.10\",\"ports\":[{\"port\":80}]}}]",
				  &svcs, err, sizeof(err)),
		0);
	px_buf b;
	px_buf_init(&b);
	px_proxier_metrics(p, &b);
	ck_assert_ptr_nonnull(strstr(px_buf_str(&b), "kubeproxy_sync_proxy_rules_duration_seconds_count 0\n"));
	ck_assert_ptr_nonnull(strstr(px_buf_str(&b), "kubeproxy_sync_proxy_rules_last_timestamp_seconds 0.000000\n"));

	ck_assert_int_eq(px_proxier_sync(p, svcs, NULL, true), 0);
	char *rules = px_proxier_rules_copy(p);
	ck_assert_ptr_nonnull(strstr(rules, "\"default/web has no endpoints\""));
	free(rules);
	px_buf_reset(&b);
	px_proxier_metrics(p, &b);
	const char *m = px_buf_str(&b);
	ck_assert_ptr_nonnull(strstr(m, "# TYPE kubeproxy_sync_proxy_rules_duration_seconds histogram\n"));
	ck_assert_ptr_nonnull(strstr(m, "kubeproxy_sync_proxy_rules_duration_seconds_bucket{le=\"0.001\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(m, "kubeproxy_sync_proxy_rules_duration_seconds_bucket{le=\"16.384\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(m, "kubeproxy_sync_proxy_rules_duration_seconds_bucket{le=\"+Inf\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(m, "kubeproxy_sync_proxy_rules_duration_seconds_count 1\n"));
	ck_assert_ptr_nonnull(strstr(m, "kubeproxy_sync_proxy_rules_last_timestamp_seconds 1700000000.000000\n"));

	/* healthz: healthy with nothing pending; a change pending for more than
	 * 2 x syncPeriod makes it unhealthy; a sync makes it healthy again. */
	px_buf_reset(&b);
	ck_assert(px_proxier_healthz(p, &b));
	ck_assert_ptr_nonnull(strstr(px_buf_str(&b), "\"lastUpdated\": \"2023-11-14T22:13:20Z\""));
	px_proxier_queued(p);
	kc_fake_clock_advance(&fc, S(59));
	ck_assert(px_proxier_healthz(p, &b));
	kc_fake_clock_advance(&fc, S(2));
	ck_assert(!px_proxier_healthz(p, &b));
	ck_assert_int_eq(px_proxier_sync(p, svcs, NULL, false), 0);
	ck_assert(px_proxier_healthz(p, &b));
	ck_assert_uint_eq(px_proxier_sync_count(p), 2);

	px_buf_close(&b);
	cJSON_Delete(svcs);
	px_proxier_free(p);
	kc_fake_clock_close(&fc);
}
END_TEST

static Suite *proxy_config_suite(void)
{
	Suite *s = suite_create("proxy_config");
	TCase *tc = tcase_create("config");
	tcase_add_test(tc, config_yaml_fields);
	tcase_add_test(tc, config_defaults_are_upstreams);
	tcase_add_test(tc, config_errors_name_the_field);
	tcase_add_test(tc, cidr_and_hostport_checks);
	tcase_add_test(tc, sync_delay_rate_limit);
	tcase_add_test(tc, metrics_and_healthz_follow_syncs);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(proxy_config_suite)
