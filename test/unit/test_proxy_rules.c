/* kube-proxy rule generation: golden iptables-restore outputs for the cases upstream's
 * proxier_test.go covers (ClusterIP with 3 endpoints, no endpoints, NodePort, ClientIP
 * affinity, Local traffic policies, terminating fallback), chain-name hashes against
 * upstream's literal values, stale chain deletion, and input validation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "kc_test.h"
#include "../../proxy/iptables_rules.h"
#include "../../proxy/model.h"

/* Render the ruleset for a JSON {"services": [...], "slices": [...]} document. */
static char *render_ex(const char *doc, const char *node, const char *cidr,
		       const px_chainset *existing)
{
	cJSON *root = NULL;
	char err[KC_JSON_ERRLEN];
	ck_assert_msg(kc_json_parse_str(doc, &root, err, sizeof(err)) == 0, "%s", err);
	px_model m;
	px_model_init(&m);
	ck_assert_int_eq(px_model_build(&m, cJSON_GetObjectItem(root, "services"),
					cJSON_GetObjectItem(root, "slices"), node),
			 0);
	px_rules_opts o = { .cluster_cidr = cidr, .masq_bit = 14 };
	px_buf b;
	px_buf_init(&b);
	ck_assert_int_eq(px_rules_build(&m, &o, existing, 0, &b, NULL, NULL, NULL, NULL), 0);
	char *s = strdup(px_buf_str(&b));
	px_buf_close(&b);
	px_model_close(&m);
	cJSON_Delete(root);
	return s;
}

static char *render(const char *doc)
{
	return render_ex(doc, "node1", "10.0.0.0/8", NULL);
}

#define FHEAD                                                                        \
	"*filter\n:KUBE-NODEPORTS - [0:0]\n:KUBE-SERVICES - [0:0]\n"                  \
	":KUBE-EXTERNAL-SERVICES - [0:0]\n:KUBE-FORWARD - [0:0]\n"
#define FTAIL                                                                        \
	"-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP\n"                    \
	"-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark " \
	"--mark 0x4000/0x4000 -j ACCEPT\n"                                            \
	"-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding conntrack rule\" " \
	"-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"                      \
	"COMMIT\n"
#define NHEAD                                                                        \
	"*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-NODEPORTS - [0:0]\n"                     \
	":KUBE-POSTROUTING - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n"
#define NPOST                                                                        \
	"-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN\n"              \
	"-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000\n"                             \
	"-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic "       \
	"requiring SNAT\" -j MASQUERADE\n"                                            \
	"-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000\n"
#define NTAIL                                                                        \
	"-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: " \
	"this must be the last rule in this chain\" -m addrtype --dst-type LOCAL "    \
	"! -d 127.0.0.0/8 -j KUBE-NODEPORTS\nCOMMIT\n"
#define GOLDEN(frules, nchains, nrules) FHEAD frules FTAIL NHEAD nchains NPOST nrules NTAIL

#define SVC1                                                                          \
	"{\"metadata\":{\"namespace\":\"ns1\",\"name\":\"svc1\"},\"spec\":{\"clusterIP\":" \
	"\"172.30.0.41\",\"ports\":[{\"name\":\"p80\",\"port\":80,\"protocol\":\"TCP\"}]}}"

START_TEST(chain_names_match_upstream)
{
	/* Literal values from kubernetes pkg/proxy/iptables/proxier_test.go. */
	char c[PX_CHAIN_LEN];
	px_chain_name(c, "KUBE-SVC-", "ns1/svc1:p80", "tcp", NULL);
	ck_assert_str_eq(c, "KUBE-SVC-XPGD46QRK7WJZT7O");
	px_chain_name(c, "KUBE-EXT-", "ns2/svc2:p80", "tcp", NULL);
	ck_assert_str_eq(c, "KUBE-EXT-GNZBNJ2PO5MGZ6GT");
	px_chain_name(c, "KUBE-SVC-", "ns4/svc4:p80", "tcp", NULL);
	ck_assert_str_eq(c, "KUBE-SVC-4SW47YFZTEDKD3PK");
	px_chain_name(c, "KUBE-SEP-", "ns1/svc1:p80", "tcp", "10.180.0.1:80");
	ck_assert_str_eq(c, "KUBE-SEP-SXIVWICOYRO3J4NJ");
	/* The protocol is part of the hash: UDP and TCP ports never share a chain. */
	px_chain_name(c, "KUBE-SVC-", "ns1/svc1:p80", "udp", NULL);
	ck_assert_str_ne(c, "KUBE-SVC-XPGD46QRK7WJZT7O");
	ck_assert_uint_eq(strlen(c), 25);
}
END_TEST

START_TEST(probability_format)
{
	char b[32];
	px_probability(3, b, sizeof(b));
	ck_assert_str_eq(b, "0.3333333333");
	px_probability(2, b, sizeof(b));
	ck_assert_str_eq(b, "0.5000000000");
	px_probability(7, b, sizeof(b));
	ck_assert_str_eq(b, "0.1428571429");
}
END_TEST

START_TEST(cluster_ip_three_endpoints)
{
	char *got = render(
		"{\"services\":[" SVC1 "],\"slices\":[{\"metadata\":{\"namespace\":\"ns1\","
		"\"name\":\"svc1-a\",\"labels\":{\"kubernetes.io/service-name\":\"svc1\"}},"
		"\"addressType\":\"IPv4\",\"ports\":[{\"name\":\"p80\",\"port\":80,\"protocol\":"
		"\"TCP\"}],\"endpoints\":[{\"addresses\":[\"10.180.0.3\"],\"conditions\":{\"ready\":"
		"true}},{\"addresses\":[\"10.180.0.1\"],\"conditions\":{\"ready\":true}},"
		"{\"addresses\":[\"10.180.0.2\"],\"conditions\":{\"ready\":true}}]}]}");
	ck_assert_str_eq(
		got,
		GOLDEN("",
		       ":KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]\n"
		       ":KUBE-SEP-SXIVWICOYRO3J4NJ - [0:0]\n"
		       ":KUBE-SEP-LXVODXWDISEETFEF - [0:0]\n"
		       ":KUBE-SEP-ICDUIKC33SFI6ZPR - [0:0]\n",
		       "-A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp -p tcp "
		       "-d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O\n"
		       "-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment \"ns1/svc1:p80 cluster IP\" "
		       "-m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ\n"
		       "-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment \"ns1/svc1:p80 -> "
		       "10.180.0.1:80\" -m statistic --mode random --probability 0.3333333333 "
		       "-j KUBE-SEP-SXIVWICOYRO3J4NJ\n"
		       "-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment \"ns1/svc1:p80 -> "
		       "10.180.0.2:80\" -m statistic --mode random --probability 0.5000000000 "
		       "-j KUBE-SEP-LXVODXWDISEETFEF\n"
		       "-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment \"ns1/svc1:p80 -> "
		       "10.180.0.3:80\" -j KUBE-SEP-ICDUIKC33SFI6ZPR\n"
		       "-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -s 10.180.0.1 "
		       "-j KUBE-MARK-MASQ\n"
		       "-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -m tcp -p tcp "
		       "-j DNAT --to-destination 10.180.0.1:80\n"
		       "-A KUBE-SEP-LXVODXWDISEETFEF -m comment --comment ns1/svc1:p80 -s 10.180.0.2 "
		       "-j KUBE-MARK-MASQ\n"
		       "-A KUBE-SEP-LXVODXWDISEETFEF -m comment --comment ns1/svc1:p80 -m tcp -p tcp "
		       "-j DNAT --to-destination 10.180.0.2:80\n"
		       "-A KUBE-SEP-ICDUIKC33SFI6ZPR -m comment --comment ns1/svc1:p80 -s 10.180.0.3 "
		       "-j KUBE-MARK-MASQ\n"
		       "-A KUBE-SEP-ICDUIKC33SFI6ZPR -m comment --comment ns1/svc1:p80 -m tcp -p tcp "
		       "-j DNAT --to-destination 10.180.0.3:80\n"));
	free(got);
}
END_TEST

START_TEST(no_endpoints_rejects)
{
	/* A slice whose only endpoint is neither ready nor serving counts as none. */
	char *got = render(
		"{\"services\":[{\"metadata\":{\"namespace\":\"ns2\",\"name\":\"svc2\"},\"spec\":"
		"{\"type\":\"NodePort\",\"clusterIP\":\"172.30.0.42\",\"ports\":[{\"name\":\"p80\","
		"\"port\":80,\"nodePort\":3001}]}}],\"slices\":[{\"metadata\":{\"namespace\":"
		"\"ns2\",\"name\":\"s\",\"labels\":{\"kubernetes.io/service-name\":\"svc2\"}},"
		"\"ports\":[{\"name\":\"p80\",\"port\":80}],\"endpoints\":[{\"addresses\":"
		"[\"10.180.0.2\"],\"conditions\":{\"ready\":false,\"serving\":false}}]}]}");
	ck_assert_str_eq(
		got,
		GOLDEN("-A KUBE-SERVICES -m comment --comment \"ns2/svc2:p80 has no endpoints\" "
		       "-m tcp -p tcp -d 172.30.0.42 --dport 80 -j REJECT\n"
		       "-A KUBE-EXTERNAL-SERVICES -m comment --comment \"ns2/svc2:p80 has no "
		       "endpoints\" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 3001 "
		       "-j REJECT\n",
		       "", ""));
	free(got);
}
END_TEST

#define SVC2_NP_AFFINITY                                                                 \
	"{\"services\":[{\"metadata\":{\"namespace\":\"ns2\",\"name\":\"svc2\"},\"spec\":"    \
	"{\"type\":\"NodePort\",\"clusterIP\":\"172.30.0.42\",\"sessionAffinity\":"          \
	"\"ClientIP\",\"sessionAffinityConfig\":{\"clientIP\":{\"timeoutSeconds\":300}},"     \
	"\"ports\":[{\"name\":\"p80\",\"port\":80,\"nodePort\":3001,\"protocol\":\"TCP\"}]}}]," \
	"\"slices\":[{\"metadata\":{\"namespace\":\"ns2\",\"name\":\"svc2-1\",\"labels\":"     \
	"{\"kubernetes.io/service-name\":\"svc2\"}},\"addressType\":\"IPv4\",\"ports\":"       \
	"[{\"name\":\"p80\",\"port\":8080,\"protocol\":\"TCP\"}],\"endpoints\":[{\"addresses\":" \
	"[\"10.180.0.2\"],\"nodeName\":\"node1\"},{\"addresses\":[\"10.180.1.2\"],"            \
	"\"nodeName\":\"node2\"}]}]}"

START_TEST(nodeport_with_affinity)
{
	char *got = render(SVC2_NP_AFFINITY);
	ck_assert_str_eq(
		got,
		GOLDEN("",
		       ":KUBE-SVC-GNZBNJ2PO5MGZ6GT - [0:0]\n"
		       ":KUBE-EXT-GNZBNJ2PO5MGZ6GT - [0:0]\n"
		       ":KUBE-SEP-RR5ESBN2QYJ2YHXN - [0:0]\n"
		       ":KUBE-SEP-T7DTBY5YST2U2JFP - [0:0]\n",
		       "-A KUBE-SERVICES -m comment --comment \"ns2/svc2:p80 cluster IP\" -m tcp -p tcp "
		       "-d 172.30.0.42 --dport 80 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT\n"
		       "-A KUBE-NODEPORTS -m comment --comment ns2/svc2:p80 -m tcp -p tcp --dport 3001 "
		       "-j KUBE-EXT-GNZBNJ2PO5MGZ6GT\n"
		       "-A KUBE-SVC-GNZBNJ2PO5MGZ6GT -m comment --comment \"ns2/svc2:p80 cluster IP\" "
		       "-m tcp -p tcp -d 172.30.0.42 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ\n"
		       "-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment \"masquerade traffic for "
		       "ns2/svc2:p80 external destinations\" -j KUBE-MARK-MASQ\n"
		       "-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -j KUBE-SVC-GNZBNJ2PO5MGZ6GT\n"
		       "-A KUBE-SVC-GNZBNJ2PO5MGZ6GT -m comment --comment \"ns2/svc2:p80 -> "
		       "10.180.0.2:8080\" -m recent --name KUBE-SEP-RR5ESBN2QYJ2YHXN --rcheck "
		       "--seconds 300 --reap -j KUBE-SEP-RR5ESBN2QYJ2YHXN\n"
		       "-A KUBE-SVC-GNZBNJ2PO5MGZ6GT -m comment --comment \"ns2/svc2:p80 -> "
		       "10.180.1.2:8080\" -m recent --name KUBE-SEP-T7DTBY5YST2U2JFP --rcheck "
		       "--seconds 300 --reap -j KUBE-SEP-T7DTBY5YST2U2JFP\n"
		       "-A KUBE-SVC-GNZBNJ2PO5MGZ6GT -m comment --comment \"ns2/svc2:p80 -> "
		       "10.180.0.2:8080\" -m statistic --mode random --probability 0.5000000000 "
		       "-j KUBE-SEP-RR5ESBN2QYJ2YHXN\n"
		       "-A KUBE-SVC-GNZBNJ2PO5MGZ6GT -m comment --comment \"ns2/svc2:p80 -> "
		       "10.180.1.2:8080\" -j KUBE-SEP-T7DTBY5YST2U2JFP\n"
		       "-A KUBE-SEP-RR5ESBN2QYJ2YHXN -m comment --comment ns2/svc2:p80 -s 10.180.0.2 "
		       "-j KUBE-MARK-MASQ\n"
		       "-A KUBE-SEP-RR5ESBN2QYJ2YHXN -m comment --comment ns2/svc2:p80 -m recent "
		       "--name KUBE-SEP-RR5ESBN2QYJ2YHXN --set -m tcp -p tcp -j DNAT "
		       "--to-destination 10.180.0.2:8080\n"
		       "-A KUBE-SEP-T7DTBY5YST2U2JFP -m comment --comment ns2/svc2:p80 -s 10.180.1.2 "
		       "-j KUBE-MARK-MASQ\n"
		       "-A KUBE-SEP-T7DTBY5YST2U2JFP -m comment --comment ns2/svc2:p80 -m recent "
		       "--name KUBE-SEP-T7DTBY5YST2U2JFP --set -m tcp -p tcp -j DNAT "
		       "--to-destination 10.180.1.2:8080\n"));
	free(got);
}
END_TEST

START_TEST(external_policy_local)
{
	/* One local and one remote endpoint: NodePort traffic goes to the local one
	 * (KUBE-SVL-), ClusterIP traffic to both (KUBE-SVC-). */
	char *got = render(
		"{\"services\":[{\"metadata\":{\"namespace\":\"ns3\",\"name\":\"svc3\"},\"spec\":"
		"{\"type\":\"NodePort\",\"clusterIP\":\"172.30.0.43\",\"externalTrafficPolicy\":"
		"\"Local\",\"ports\":[{\"name\":\"p80\",\"port\":80,\"nodePort\":3003}]}}],"
		"\"slices\":[{\"metadata\":{\"namespace\":\"ns3\",\"name\":\"svc3-1\",\"labels\":"
		"{\"kubernetes.io/service-name\":\"svc3\"}},\"ports\":[{\"name\":\"p80\",\"port\":"
		"80}],\"endpoints\":[{\"addresses\":[\"10.180.0.3\"],\"nodeName\":\"node1\"},"
		"{\"addresses\":[\"10.180.1.3\"],\"nodeName\":\"node2\"}]}]}");
	ck_assert_str_eq(
		got,
		GOLDEN("",
		       ":KUBE-SVC-X27LE4BHSL4DOUIK - [0:0]\n"
		       ":KUBE-SVL-X27LE4BHSL4DOUIK - [0:0]\n"
		       ":KUBE-EXT-X27LE4BHSL4DOUIK - [0:0]\n"
		       ":KUBE-SEP-OYPFS5VJICHGATKP - [0:0]\n"
		       ":KUBE-SEP-3PCRBPAMK2XLAIHQ - [0:0]\n",
		       "-A KUBE-SERVICES -m comment --comment \"ns3/svc3:p80 cluster IP\" -m tcp -p tcp "
		       "-d 172.30.0.43 --dport 80 -j KUBE-SVC-X27LE4BHSL4DOUIK\n"
		       "-A KUBE-NODEPORTS -m comment --comment ns3/svc3:p80 -m tcp -p tcp --dport 3003 "
		       "-j KUBE-EXT-X27LE4BHSL4DOUIK\n"
		       "-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment \"ns3/svc3:p80 cluster IP\" "
		       "-m tcp -p tcp -d 172.30.0.43 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ\n"
		       "-A KUBE-EXT-X27LE4BHSL4DOUIK -m comment --comment \"pod traffic for "
		       "ns3/svc3:p80 external destinations\" -s 10.0.0.0/8 "
		       "-j KUBE-SVC-X27LE4BHSL4DOUIK\n"
		       "-A KUBE-EXT-X27LE4BHSL4DOUIK -m comment --comment \"masquerade LOCAL traffic "
		       "for ns3/svc3:p80 external destinations\" -m addrtype --src-type LOCAL "
		       "-j KUBE-MARK-MASQ\n"
		       "-A KUBE-EXT-X27LE4BHSL4DOUIK -m comment --comment \"route LOCAL traffic for "
		       "ns3/svc3:p80 external destinations\" -m addrtype --src-type LOCAL "
		       "-j KUBE-SVC-X27LE4BHSL4DOUIK\n"
		       "-A KUBE-EXT-X27LE4BHSL4DOUIK -j KUBE-SVL-X27LE4BHSL4DOUIK\n"
		       "-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment \"ns3/svc3:p80 -> "
		       "10.180.0.3:80\" -m statistic --mode random --probability 0.5000000000 "
		       "-j KUBE-SEP-OYPFS5VJICHGATKP\n"
		       "-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment \"ns3/svc3:p80 -> "
		       "10.180.1.3:80\" -j KUBE-SEP-3PCRBPAMK2XLAIHQ\n"
		       "-A KUBE-SVL-X27LE4BHSL4DOUIK -m comment --comment \"ns3/svc3:p80 -> "
		       "10.180.0.3:80\" -j KUBE-SEP-OYPFS5VJICHGATKP\n"
		       "-A KUBE-SEP-OYPFS5VJICHGATKP -m comment --comment ns3/svc3:p80 -s 10.180.0.3 "
		       "-j KUBE-MARK-MASQ\n"
		       "-A KUBE-SEP-OYPFS5VJICHGATKP -m comment --comment ns3/svc3:p80 -m tcp -p tcp "
		       "-j DNAT --to-destination 10.180.0.3:80\n"
		       "-A KUBE-SEP-3PCRBPAMK2XLAIHQ -m comment --comment ns3/svc3:p80 -s 10.180.1.3 "
		       "-j KUBE-MARK-MASQ\n"
		       "-A KUBE-SEP-3PCRBPAMK2XLAIHQ -m comment --comment ns3/svc3:p80 -m tcp -p tcp "
		       "-j DNAT --to-destination 10.180.1.3:80\n"));
	free(got);
}
END_TEST

START_TEST(local_policies_without_local_endpoints_drop)
{
	/* externalTrafficPolicy Local, endpoint only on node2: NodePort traffic from
	 * outside is dropped, the ClusterIP still works. internalTrafficPolicy Local with
	 * no local endpoint: the ClusterIP drops. */
	char *got = render(
		"{\"services\":[{\"metadata\":{\"namespace\":\"ns4\",\"name\":\"svc4\"},\"spec\":"
		"{\"type\":\"NodePort\",\"clusterIP\":\"172.30.0.44\",\"externalTrafficPolicy\":"
		"\"Local\",\"ports\":[{\"name\":\"p80\",\"port\":80,\"nodePort\":3004}]}},"
		"{\"metadata\":{\"namespace\":\"ns5\",\"name\":\"svc5\"},\"spec\":{\"clusterIP\":"
		"\"172.30.0.45\",\"internalTrafficPolicy\":\"Local\",\"ports\":[{\"name\":\"p80\","
		"\"port\":80,\"protocol\":\"UDP\"}]}}],"
		"\"slices\":[{\"metadata\":{\"namespace\":\"ns4\",\"name\":\"a\",\"labels\":"
		"{\"kubernetes.io/service-name\":\"svc4\"}},\"ports\":[{\"name\":\"p80\",\"port\":"
		"80}],\"endpoints\":[{\"addresses\":[\"10.180.1.4\"],\"nodeName\":\"node2\"}]},"
		"{\"metadata\":{\"namespace\":\"ns5\",\"name\":\"b\",\"labels\":"
		"{\"kubernetes.io/service-name\":\"svc5\"}},\"ports\":[{\"name\":\"p80\",\"port\":"
		"53,\"protocol\":\"UDP\"}],\"endpoints\":[{\"addresses\":[\"10.180.1.5\"],"
		"\"nodeName\":\"node2\"}]}]}");
	ck_assert_str_eq(
		got,
		GOLDEN("-A KUBE-EXTERNAL-SERVICES -m comment --comment \"ns4/svc4:p80 has no local "
		       "endpoints\" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 3004 -j DROP\n"
		       "-A KUBE-SERVICES -m comment --comment \"ns5/svc5:p80 has no local endpoints\" "
		       "-m udp -p udp -d 172.30.0.45 --dport 80 -j DROP\n",
		       ":KUBE-SVC-4SW47YFZTEDKD3PK - [0:0]\n"
		       ":KUBE-EXT-4SW47YFZTEDKD3PK - [0:0]\n"
		       ":KUBE-SEP-64PFTDP7EAH32GBG - [0:0]\n",
		       "-A KUBE-SERVICES -m comment --comment \"ns4/svc4:p80 cluster IP\" -m tcp -p tcp "
		       "-d 172.30.0.44 --dport 80 -j KUBE-SVC-4SW47YFZTEDKD3PK\n"
		       "-A KUBE-NODEPORTS -m comment --comment ns4/svc4:p80 -m tcp -p tcp --dport 3004 "
		       "-j KUBE-EXT-4SW47YFZTEDKD3PK\n"
		       "-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment \"ns4/svc4:p80 cluster IP\" "
		       "-m tcp -p tcp -d 172.30.0.44 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ\n"
		       "-A KUBE-EXT-4SW47YFZTEDKD3PK -m comment --comment \"pod traffic for "
		       "ns4/svc4:p80 external destinations\" -s 10.0.0.0/8 "
		       "-j KUBE-SVC-4SW47YFZTEDKD3PK\n"
		       "-A KUBE-EXT-4SW47YFZTEDKD3PK -m comment --comment \"masquerade LOCAL traffic "
		       "for ns4/svc4:p80 external destinations\" -m addrtype --src-type LOCAL "
		       "-j KUBE-MARK-MASQ\n"
		       "-A KUBE-EXT-4SW47YFZTEDKD3PK -m comment --comment \"route LOCAL traffic for "
		       "ns4/svc4:p80 external destinations\" -m addrtype --src-type LOCAL "
		       "-j KUBE-SVC-4SW47YFZTEDKD3PK\n"
		       "-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment \"ns4/svc4:p80 -> "
		       "10.180.1.4:80\" -j KUBE-SEP-64PFTDP7EAH32GBG\n"
		       "-A KUBE-SEP-64PFTDP7EAH32GBG -m comment --comment ns4/svc4:p80 -s 10.180.1.4 "
		       "-j KUBE-MARK-MASQ\n"
		       "-A KUBE-SEP-64PFTDP7EAH32GBG -m comment --comment ns4/svc4:p80 -m tcp -p tcp "
		       "-j DNAT --to-destination 10.180.1.4:80\n"));
	free(got);
}
END_TEST

START_TEST(terminating_fallback)
{
	/* svc6: no ready endpoint; the serving-terminating one is used, the
	 * non-serving terminating one is not. svc7: a ready endpoint (nil conditions mean
	 * ready) exists, so the serving-terminating one is left out. */
	char *got = render(
		"{\"services\":[{\"metadata\":{\"namespace\":\"ns6\",\"name\":\"svc6\"},\"spec\":"
		"{\"clusterIP\":\"172.30.0.46\",\"ports\":[{\"port\":80}]}},"
		"{\"metadata\":{\"namespace\":\"ns7\",\"name\":\"svc7\"},\"spec\":"
		"{\"clusterIP\":\"172.30.0.47\",\"ports\":[{\"port\":80}]}}],"
		"\"slices\":[{\"metadata\":{\"namespace\":\"ns6\",\"name\":\"a\",\"labels\":"
		"{\"kubernetes.io/service-name\":\"svc6\"}},\"ports\":[{\"port\":80}],\"endpoints\":"
		"[{\"addresses\":[\"10.180.0.6\"],\"conditions\":{\"ready\":false,\"serving\":true,"
		"\"terminating\":true}},{\"addresses\":[\"10.180.0.7\"],\"conditions\":{\"ready\":"
		"false,\"serving\":false,\"terminating\":true}}]},"
		"{\"metadata\":{\"namespace\":\"ns7\",\"name\":\"b\",\"labels\":"
		"{\"kubernetes.io/service-name\":\"svc7\"}},\"ports\":[{\"port\":80}],\"endpoints\":"
		"[{\"addresses\":[\"10.180.0.9\"],\"conditions\":{\"ready\":false,\"serving\":true,"
		"\"terminating\":true}},{\"addresses\":[\"10.180.0.10\"]}]}]}");
	ck_assert_str_eq(
		got,
		GOLDEN("",
		       ":KUBE-SVC-TUYFSRX6E35UDORK - [0:0]\n"
		       ":KUBE-SEP-4WLXBF7RSKEXF3FV - [0:0]\n"
		       ":KUBE-SVC-R7DNFVAW7G32R2X7 - [0:0]\n"
		       ":KUBE-SEP-DDGEBGTCLKMIG7VW - [0:0]\n",
		       "-A KUBE-SERVICES -m comment --comment \"ns6/svc6 cluster IP\" -m tcp -p tcp "
		       "-d 172.30.0.46 --dport 80 -j KUBE-SVC-TUYFSRX6E35UDORK\n"
		       "-A KUBE-SVC-TUYFSRX6E35UDORK -m comment --comment \"ns6/svc6 cluster IP\" "
		       "-m tcp -p tcp -d 172.30.0.46 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ\n"
		       "-A KUBE-SVC-TUYFSRX6E35UDORK -m comment --comment \"ns6/svc6 -> "
		       "10.180.0.6:80\" -j KUBE-SEP-4WLXBF7RSKEXF3FV\n"
		       "-A KUBE-SEP-4WLXBF7RSKEXF3FV -m comment --comment ns6/svc6 -s 10.180.0.6 "
		       "-j KUBE-MARK-MASQ\n"
		       "-A KUBE-SEP-4WLXBF7RSKEXF3FV -m comment --comment ns6/svc6 -m tcp -p tcp "
		       "-j DNAT --to-destination 10.180.0.6:80\n"
		       "-A KUBE-SERVICES -m comment --comment \"ns7/svc7 cluster IP\" -m tcp -p tcp "
		       "-d 172.30.0.47 --dport 80 -j KUBE-SVC-R7DNFVAW7G32R2X7\n"
		       "-A KUBE-SVC-R7DNFVAW7G32R2X7 -m comment --comment \"ns7/svc7 cluster IP\" "
		       "-m tcp -p tcp -d 172.30.0.47 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ\n"
		       "-A KUBE-SVC-R7DNFVAW7G32R2X7 -m comment --comment \"ns7/svc7 -> "
		       "10.180.0.10:80\" -j KUBE-SEP-DDGEBGTCLKMIG7VW\n"
		       "-A KUBE-SEP-DDGEBGTCLKMIG7VW -m comment --comment ns7/svc7 -s 10.180.0.10 "
		       "-j KUBE-MARK-MASQ\n"
		       "-A KUBE-SEP-DDGEBGTCLKMIG7VW -m comment --comment ns7/svc7 -m tcp -p tcp "
		       "-j DNAT --to-destination 10.180.0.10:80\n"));
	free(got);
}
END_TEST

START_TEST(stale_chains_are_deleted)
{
	px_chainset ex;
	px_chainset_init(&ex);
	ck_assert_int_eq(px_chainset_add(&ex, "KUBE-SVC-XPGD46QRK7WJZT7O"), 0);
	ck_assert_int_eq(px_chainset_add(&ex, "KUBE-SEP-AAAAAAAAAAAAAAAA"), 0);
	ck_assert_int_eq(px_chainset_add(&ex, "KUBE-KUBELET-CANARY"), 0);
	px_chainset_sort(&ex);
	/* svc1 has no endpoints now: its SVC chain and the old SEP chain go away; a chain
	 * that is not a service chain is never touched. */
	char *got = render_ex("{\"services\":[" SVC1 "]}", "node1", "", &ex);
	ck_assert_str_eq(
		got,
		GOLDEN("-A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 has no endpoints\" "
		       "-m tcp -p tcp -d 172.30.0.41 --dport 80 -j REJECT\n",
		       ":KUBE-SEP-AAAAAAAAAAAAAAAA - [0:0]\n:KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]\n",
		       "-X KUBE-SEP-AAAAAAAAAAAAAAAA\n-X KUBE-SVC-XPGD46QRK7WJZT7O\n"));
	free(got);
	px_chainset_close(&ex);
}
END_TEST

START_TEST(no_cluster_cidr_means_no_offcluster_masquerade)
{
	char *got = render_ex(
		"{\"services\":[" SVC1 "],\"slices\":[{\"metadata\":{\"namespace\":\"ns1\","
		"\"name\":\"a\",\"labels\":{\"kubernetes.io/service-name\":\"svc1\"}},\"ports\":"
		"[{\"name\":\"p80\",\"port\":80}],\"endpoints\":[{\"addresses\":[\"10.180.0.1\"]}]}]}",
		"node1", NULL, NULL);
	ck_assert_ptr_null(strstr(got, "! -s"));
	ck_assert_ptr_nonnull(strstr(got, "-j DNAT --to-destination 10.180.0.1:80"));
	free(got);
}
END_TEST

START_TEST(hostile_input_is_skipped)
{
	/* Names and addresses end up in iptables arguments: anything outside DNS-1123 or
	 * not an IPv4 address must never reach the output. */
	char *got = render(
		"{\"services\":["
		"{\"metadata\":{\"namespace\":\"ns\",\"name\":\"x\\\" -j ACCEPT\"},\"spec\":"
		"{\"clusterIP\":\"172.30.0.50\",\"ports\":[{\"port\":80}]}},"
		"{\"metadata\":{\"namespace\":\"ns\",\"name\":\"v6\"},\"spec\":{\"clusterIP\":"
		"\"fd00::1\",\"ports\":[{\"port\":80}]}},"
		"{\"metadata\":{\"namespace\":\"ns\",\"name\":\"headless\"},\"spec\":{\"clusterIP\":"
		"\"None\",\"ports\":[{\"port\":80}]}},"
		"{\"metadata\":{\"namespace\":\"ns\",\"name\":\"ext\"},\"spec\":{\"type\":"
		"\"ExternalName\",\"externalName\":\"example.com\"}},"
		"{\"metadata\":{\"namespace\":\"ns\",\"name\":\"badport\"},\"spec\":{\"clusterIP\":"
		"\"172.30.0.51\",\"ports\":[{\"name\":\"a b\",\"port\":80},{\"port\":70000},"
		"{\"port\":81,\"protocol\":\"ICMP\"},{\"name\":\"ok\",\"port\":82}]}}],"
		"\"slices\":[{\"metadata\":{\"namespace\":\"ns\",\"name\":\"s\",\"labels\":"
		"{\"kubernetes.io/service-name\":\"badport\"}},\"ports\":[{\"name\":\"ok\","
		"\"port\":8082}],\"endpoints\":[{\"addresses\":[\"1.2.3.4 -j ACCEPT\"]},"
		"{\"addresses\":[]},{\"addresses\":[\"10.1.1.1\"]}]}]}");
	ck_assert_ptr_null(strstr(got, "ACCEPT\\\""));
	ck_assert_ptr_null(strstr(got, "x\""));
	ck_assert_ptr_null(strstr(got, "172.30.0.50"));
	ck_assert_ptr_null(strstr(got, "fd00"));
	ck_assert_ptr_null(strstr(got, "1.2.3.4"));
	ck_assert_ptr_null(strstr(got, "--dport 81 "));
	ck_assert_ptr_null(strstr(got, "a b"));
	/* Only the valid port survives, with its valid endpoint. */
	ck_assert_ptr_nonnull(strstr(got, "\"ns/badport:ok cluster IP\" -m tcp -p tcp "
					  "-d 172.30.0.51 --dport 82"));
	ck_assert_ptr_nonnull(strstr(got, "--to-destination 10.1.1.1:8082"));
	free(got);
}
END_TEST

START_TEST(model_reads_conditions_and_dedups)
{
	cJSON *svcs = NULL, *slices = NULL;
	char err[KC_JSON_ERRLEN];
	ck_assert_int_eq(kc_json_parse_str("[" SVC1 "]", &svcs, err, sizeof(err)), 0);
	/* The same address in two slices (a pod moving between slices): one endpoint,
	 * the ready copy wins. A slice of another service or an IPv6 slice is ignored. */
	ck_assert_int_eq(
		kc_json_parse_str(
			"[{\"metadata\":{\"namespace\":\"ns1\",\"name\":\"a\",\"labels\":"
			"{\"kubernetes.io/service-name\":\"svc1\"}},\"ports\":[{\"name\":\"p80\","
			"\"port\":80}],\"endpoints\":[{\"addresses\":[\"10.0.0.1\"],\"conditions\":"
			"{\"ready\":false}}]},"
			"{\"metadata\":{\"namespace\":\"ns1\",\"name\":\"b\",\"labels\":"
			"{\"kubernetes.io/service-name\":\"svc1\"}},\"ports\":[{\"name\":\"p80\","
			"\"port\":80}],\"endpoints\":[{\"addresses\":[\"10.0.0.1\"],\"nodeName\":"
			"\"node1\"}]},"
			"{\"metadata\":{\"namespace\":\"ns1\",\"name\":\"c\",\"labels\":"
			"{\"kubernetes.io/service-name\":\"svc1\"}},\"addressType\":\"IPv6\",\"ports\":"
			"[{\"name\":\"p80\",\"port\":80}],\"endpoints\":[{\"addresses\":[\"fd00::1\"]}]},"
			"{\"metadata\":{\"namespace\":\"ns2\",\"name\":\"d\",\"labels\":"
			"{\"kubernetes.io/service-name\":\"svc1\"}},\"ports\":[{\"name\":\"p80\","
			"\"port\":80}],\"endpoints\":[{\"addresses\":[\"10.9.9.9\"]}]}]",
			&slices, err, sizeof(err)),
		0);
	px_model m;
	px_model_init(&m);
	ck_assert_int_eq(px_model_build(&m, svcs, slices, "node1"), 0);
	ck_assert_uint_eq(m.n, 1);
	const px_svcport *p = px_model_find(&m, "ns1/svc1:p80", "tcp");
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(p->neps, 1);
	ck_assert(p->eps[0].ready && p->eps[0].serving && !p->eps[0].terminating);
	ck_assert(p->eps[0].local);
	ck_assert_str_eq(p->eps[0].addr, "10.0.0.1:80");
	ck_assert_ptr_null(px_model_find(&m, "ns1/svc1:p80", "udp"));
	px_model_close(&m);
	cJSON_Delete(svcs);
	cJSON_Delete(slices);
}
END_TEST

START_TEST(comments_fit_iptables_limit)
{
	/* The longest names the apiserver admits (namespace and name 63, port name 15)
	 * with the longest comment (externalTrafficPolicy Local) stay within iptables'
	 * 256-byte comment limit; a 64-character name is refused. */
	char ns[64], name[64], doc[2048];
	memset(ns, 'n', 63);
	ns[63] = '\0';
	memset(name, 's', 63);
	name[63] = '\0';
	snprintf(doc, sizeof(doc),
		 "{\"services\":[{\"metadata\":{\"namespace\":\"%s\",\"name\":\"%s\"},"
		 "\"spec\":{\"type\":\"NodePort\",\"clusterIP\":\"10.96.0.1\","
		 "\"externalTrafficPolicy\":\"Local\",\"ports\":[{\"name\":\"abcdefghijklmno\","
		 "\"port\":80,\"nodePort\":30000}]}},{\"metadata\":{\"namespace\":\"a\","
		 "\"name\":\"%sx\"},\"spec\":{\"clusterIP\":\"10.96.0.2\",\"ports\":"
		 "[{\"port\":80}]}}],\"slices\":[{\"metadata\":{\"namespace\":\"%s\","
		 "\"name\":\"e\",\"labels\":{\"kubernetes.io/service-name\":\"%s\"}},"
		 "\"ports\":[{\"name\":\"abcdefghijklmno\",\"port\":80}],\"endpoints\":"
		 "[{\"addresses\":[\"10.0.0.1\"],\"nodeName\":\"node1\"}]}]}",
		 ns, name, name, ns, name);
	char *got = render(doc);
	ck_assert_ptr_nonnull(strstr(got, "masquerade LOCAL traffic for"));
	ck_assert_ptr_null(strstr(got, "10.96.0.2"));
	int n = 0;
	for (const char *p = got; (p = strstr(p, "--comment ")); n++) {
		p += 10;
		size_t len = *p == '"' ? (size_t)(strchr(p + 1, '"') - p - 1) : strcspn(p, " ");
		ck_assert_uint_lt(len, 256);
	}
	ck_assert_int_gt(n, 10);
	free(got);
}
END_TEST

static void build_model(const char *doc, px_model *m, cJSON **root)
{
	char err[KC_JSON_ERRLEN];
	ck_assert_msg(kc_json_parse_str(doc, root, err, sizeof(err)) == 0, "%s", err);
	px_model_init(m);
	ck_assert_int_eq(px_model_build(m, cJSON_GetObjectItem(*root, "services"),
					cJSON_GetObjectItem(*root, "slices"), "node1"),
			 0);
}

#define TWO_SVCS(eps1)                                                                    \
	"{\"services\":[" SVC1 ",{\"metadata\":{\"namespace\":\"ns2\",\"name\":\"svc2\"}," \
	"\"spec\":{\"clusterIP\":\"172.30.0.42\",\"ports\":[{\"name\":\"p80\",\"port\":80}]}}]," \
	"\"slices\":[{\"metadata\":{\"namespace\":\"ns1\",\"name\":\"a\",\"labels\":"        \
	"{\"kubernetes.io/service-name\":\"svc1\"}},\"ports\":[{\"name\":\"p80\",\"port\":80}]," \
	"\"endpoints\":[" eps1 "]},{\"metadata\":{\"namespace\":\"ns2\",\"name\":\"b\","     \
	"\"labels\":{\"kubernetes.io/service-name\":\"svc2\"}},\"ports\":[{\"name\":\"p80\","  \
	"\"port\":80}],\"endpoints\":[{\"addresses\":[\"10.2.0.1\"]}]}]}"

START_TEST(partial_sync_skips_unchanged_ports)
{
	px_rules_opts o = { .cluster_cidr = "10.0.0.0/8", .masq_bit = 14 };
	px_model m1, m2;
	cJSON *r1, *r2;
	build_model(TWO_SVCS("{\"addresses\":[\"10.1.0.1\"]}"), &m1, &r1);
	build_model(TWO_SVCS("{\"addresses\":[\"10.1.0.1\"]},{\"addresses\":[\"10.1.0.2\"]}"), &m2,
		    &r2);
	px_rules_cache c1, c2, c3;
	px_rules_cache_init(&c1);
	px_rules_cache_init(&c2);
	px_rules_cache_init(&c3);
	px_chainset a1, a2, a3;
	px_chainset_init(&a1);
	px_chainset_init(&a2);
	px_chainset_init(&a3);
	px_buf full, same, changed;
	px_buf_init(&full);
	px_buf_init(&same);
	px_buf_init(&changed);
	size_t skipped = 99;

	/* A full sync writes both ports and records them. */
	ck_assert_int_eq(px_rules_build(&m1, &o, NULL, 0, &full, &a1, NULL, &c1, &skipped), 0);
	ck_assert_uint_eq(skipped, 0);
	ck_assert_uint_eq(c1.n, 2);
	ck_assert_ptr_nonnull(strstr(px_buf_str(&full), ":KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]\n"));

	/* Nothing changed: no per-service chain is written, KUBE-SERVICES still is in
	 * full, and no chain is deleted as stale. */
	ck_assert_int_eq(px_rules_build(&m1, &o, &a1, 0, &same, &a2, &c1, &c2, &skipped), 0);
	ck_assert_uint_eq(skipped, 2);
	const char *s = px_buf_str(&same);
	ck_assert_ptr_null(strstr(s, ":KUBE-SVC-"));
	ck_assert_ptr_null(strstr(s, "-A KUBE-SVC-"));
	ck_assert_ptr_null(strstr(s, "-A KUBE-SEP-"));
	ck_assert_ptr_null(strstr(s, "-X "));
	ck_assert_ptr_nonnull(strstr(s, "-A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 cluster "
					"IP\" -m tcp -p tcp -d 172.30.0.41 --dport 80 "
					"-j KUBE-SVC-XPGD46QRK7WJZT7O\n"));
	ck_assert_ptr_nonnull(strstr(s, "\"ns2/svc2:p80 cluster IP\""));
	ck_assert_uint_eq(a2.n, a1.n);

	/* svc1 gains an endpoint: only svc1's chains are rewritten. */
	ck_assert_int_eq(px_rules_build(&m2, &o, &a2, 0, &changed, &a3, &c2, &c3, &skipped), 0);
	ck_assert_uint_eq(skipped, 1);
	s = px_buf_str(&changed);
	ck_assert_ptr_nonnull(strstr(s, ":KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]\n"));
	ck_assert_ptr_nonnull(strstr(s, "--to-destination 10.1.0.2:80"));
	ck_assert_ptr_nonnull(strstr(s, "--to-destination 10.1.0.1:80"));
	ck_assert_ptr_null(strstr(s, "--to-destination 10.2.0.1:80"));
	ck_assert_ptr_null(strstr(s, "-X "));

	px_buf_close(&full);
	px_buf_close(&same);
	px_buf_close(&changed);
	px_chainset_close(&a1);
	px_chainset_close(&a2);
	px_chainset_close(&a3);
	px_rules_cache_close(&c1);
	px_rules_cache_close(&c2);
	px_rules_cache_close(&c3);
	px_model_close(&m1);
	px_model_close(&m2);
	cJSON_Delete(r1);
	cJSON_Delete(r2);
}
END_TEST


/* {"services": [...], "slices": [...]} with n services of 3 ready endpoints each. */
static char *many_services(int n)
{
	px_buf b;
	px_buf_init(&b);
	px_buf_puts(&b, "{\"services\":[");
	for (int i = 0; i < n; i++)
		px_buf_printf(&b, "%s{\"metadata\":{\"namespace\":\"ns\",\"name\":\"s%d\"},"
				  "\"spec\":{\"clusterIP\":\"10.96.%d.%d\",\"ports\":[{\"port\":80}]}}",
			      i ? "," : "", i, i / 250, i % 250 + 1);
	px_buf_puts(&b, "],\"slices\":[");
	for (int i = 0; i < n; i++)
		px_buf_printf(&b, "%s{\"metadata\":{\"namespace\":\"ns\",\"name\":\"s%d-x\","
				  "\"labels\":{\"kubernetes.io/service-name\":\"s%d\"}},"
				  "\"ports\":[{\"port\":8080}],\"endpoints\":["
				  "{\"addresses\":[\"10.1.%d.%d\"]},{\"addresses\":[\"10.2.%d.%d\"]},"
				  "{\"addresses\":[\"10.3.%d.%d\"]}]}",
			      i ? "," : "", i, i, i / 250, i % 250, i / 250, i % 250, i / 250,
			      i % 250);
	px_buf_puts(&b, "]}");
	ck_assert_int_eq(px_buf_status(&b), 0);
	char *s = strdup(px_buf_str(&b));
	px_buf_close(&b);
	return s;
}

/* Upstream's large cluster mode (largeClusterEndpointsThreshold = 1000): above 1,000
 * endpoints in total the KUBE-SVC -> KUBE-SEP jumps and the KUBE-SEP rules are written
 * without comments; at or below it they keep them. The service-level rules keep theirs
 * either way. */
START_TEST(large_cluster_mode_drops_endpoint_comments)
{
	char *doc = many_services(333); /* 999 endpoints */
	char *r = render(doc);
	ck_assert_ptr_nonnull(strstr(r, " -m comment --comment \"ns/s0 -> 10.1.0.0:8080\""));
	ck_assert_ptr_nonnull(strstr(r, " -m comment --comment ns/s0 -s 10.1.0.0 -j KUBE-MARK-MASQ\n"));
	free(r);
	free(doc);

	doc = many_services(334); /* 1,002 endpoints */
	r = render(doc);
	ck_assert_ptr_null(strstr(r, " -> 10.1.0.0:8080"));
	ck_assert_ptr_null(strstr(r, "--comment ns/s0 "));
	char sep[PX_CHAIN_LEN], svc[PX_CHAIN_LEN], line[256];
	px_chain_name(svc, "KUBE-SVC-", "ns/s0", "tcp", NULL);
	px_chain_name(sep, "KUBE-SEP-", "ns/s0", "tcp", "10.1.0.0:8080");
	snprintf(line, sizeof(line), "-A %s -s 10.1.0.0 -j KUBE-MARK-MASQ\n", sep);
	ck_assert_ptr_nonnull(strstr(r, line));
	snprintf(line, sizeof(line), "-A %s -m tcp -p tcp -j DNAT --to-destination 10.1.0.0:8080\n",
		 sep);
	ck_assert_ptr_nonnull(strstr(r, line));
	snprintf(line, sizeof(line), "-A %s -m statistic --mode random --probability 0.3333333333 "
		 "-j %s\n", svc, sep);
	ck_assert_ptr_nonnull(strstr(r, line));
	ck_assert_ptr_nonnull(strstr(r, "-A KUBE-SERVICES -m comment --comment \"ns/s0 cluster IP\" "
					"-m tcp -p tcp -d 10.96.0.1 --dport 80 -j "));
	free(r);
	free(doc);
}
END_TEST

/* Missing jumps from the built-in chains are "-I" lines of the same restore, each in its
 * own table after that table's chain lines, with upstream's match order. */
START_TEST(missing_jumps_are_inserted_by_the_restore)
{
	cJSON *root = NULL;
	char err[KC_JSON_ERRLEN];
	ck_assert_int_eq(kc_json_parse_str("{\"services\":[" SVC1 "]}", &root, err, sizeof(err)), 0);
	px_model m;
	px_model_init(&m);
	ck_assert_int_eq(px_model_build(&m, cJSON_GetObjectItem(root, "services"), NULL, "n"), 0);
	px_rules_opts o = { .masq_bit = 14 };
	px_buf none, all, two;
	px_buf_init(&none);
	px_buf_init(&all);
	px_buf_init(&two);
	ck_assert_int_eq(px_rules_build(&m, &o, NULL, 0, &none, NULL, NULL, NULL, NULL), 0);
	ck_assert_ptr_null(strstr(px_buf_str(&none), "-I "));
	ck_assert_int_eq(px_rules_build(&m, &o, NULL, PX_ALL_JUMPS, &all, NULL, NULL, NULL, NULL), 0);
	const char *a = px_buf_str(&all), *nat = strstr(a, "*nat\n");
	ck_assert_ptr_nonnull(nat);
	ck_assert_ptr_nonnull(strstr(a, ":KUBE-FORWARD - [0:0]\n"
					"-I INPUT -m conntrack --ctstate NEW -m comment --comment "
					"\"kubernetes externally-visible service portals\" "
					"-j KUBE-EXTERNAL-SERVICES\n"
					"-I FORWARD -m conntrack --ctstate NEW -m comment --comment "
					"\"kubernetes externally-visible service portals\" "
					"-j KUBE-EXTERNAL-SERVICES\n"
					"-I INPUT -m comment --comment \"kubernetes health check service "
					"ports\" -j KUBE-NODEPORTS\n"
					"-I FORWARD -m conntrack --ctstate NEW -m comment --comment "
					"\"kubernetes service portals\" -j KUBE-SERVICES\n"
					"-I OUTPUT -m conntrack --ctstate NEW -m comment --comment "
					"\"kubernetes service portals\" -j KUBE-SERVICES\n"
					"-I FORWARD -m comment --comment \"kubernetes forwarding rules\" "
					"-j KUBE-FORWARD\n"));
	ck_assert_ptr_nonnull(strstr(nat, ":KUBE-MARK-MASQ - [0:0]\n"
					  "-I OUTPUT -m comment --comment \"kubernetes service portals\" "
					  "-j KUBE-SERVICES\n"
					  "-I PREROUTING -m comment --comment \"kubernetes service "
					  "portals\" -j KUBE-SERVICES\n"
					  "-I POSTROUTING -m comment --comment \"kubernetes postrouting "
					  "rules\" -j KUBE-POSTROUTING\n"));
	/* only the requested ones */
	ck_assert_int_eq(px_rules_build(&m, &o, NULL, (1u << 2) | (1u << 8), &two, NULL, NULL,
					NULL, NULL), 0);
	const char *t = px_buf_str(&two);
	ck_assert_ptr_nonnull(strstr(t, "\n-I INPUT -m comment --comment \"kubernetes health"));
	ck_assert_ptr_nonnull(strstr(t, "\n-I POSTROUTING "));
	ck_assert_ptr_null(strstr(t, "-I FORWARD"));
	ck_assert_ptr_null(strstr(t, "-I PREROUTING"));
	px_buf_close(&none);
	px_buf_close(&all);
	px_buf_close(&two);
	px_model_close(&m);
	cJSON_Delete(root);
}
END_TEST

static Suite *proxy_rules_suite(void)
{
	Suite *s = suite_create("proxy_rules");
	TCase *tc = tcase_create("rules");
	tcase_add_test(tc, chain_names_match_upstream);
	tcase_add_test(tc, probability_format);
	tcase_add_test(tc, cluster_ip_three_endpoints);
	tcase_add_test(tc, no_endpoints_rejects);
	tcase_add_test(tc, nodeport_with_affinity);
	tcase_add_test(tc, external_policy_local);
	tcase_add_test(tc, local_policies_without_local_endpoints_drop);
	tcase_add_test(tc, terminating_fallback);
	tcase_add_test(tc, stale_chains_are_deleted);
	tcase_add_test(tc, no_cluster_cidr_means_no_offcluster_masquerade);
	tcase_add_test(tc, hostile_input_is_skipped);
	tcase_add_test(tc, model_reads_conditions_and_dedups);
	tcase_add_test(tc, comments_fit_iptables_limit);
	tcase_add_test(tc, partial_sync_skips_unchanged_ports);
	tcase_add_test(tc, large_cluster_mode_drops_endpoint_comments);
	tcase_add_test(tc, missing_jumps_are_inserted_by_the_restore);
	suite_add_tcase(s, tc);
	return s;
}

KC_TEST_MAIN(proxy_rules_suite)
