# kube-apiserver admission: LimitRanger (container defaults, min/max with upstream's 403
# messages) and ResourceQuota (status.hard/used kept by the apiserver, 403 "exceeded
# quota", usage given back on delete), checked with curl on etcd 3.4.
KUBEC_ROOT=${KUBEC_ROOT:-$(pwd)}
KUBEC_BUILD=${KUBEC_BUILD:-$KUBEC_ROOT/build}
. "$KUBEC_ROOT/test/integration/lib/apiserver_env.sh"

for tool in curl openssl /usr/bin/etcd "$PY"; do
	command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool missing"; exit 77; }
done
[ -x "$KUBEC_BUILD/bin/kube-apiserver" ] || { echo "FAIL: kube-apiserver not built"; exit 1; }

FAILED=0
trap 'kc_cleanup' EXIT INT TERM

fail() {
	echo "FAIL: $*"
	FAILED=1
}

req() {
	m=$1; p=$2; shift 2
	CODE=$(curl -s -o "$T/out" -w '%{http_code}' --cacert "$T/ca.crt" \
		-H "Authorization: Bearer test-token" -H "Content-Type: application/json" \
		-X "$m" "$@" "$API$p")
}

expect() { # expect CODE PATH VALUE [what]
	[ "$CODE" = "$1" ] || fail "$4: HTTP $CODE, want $1: $(head -c 400 "$T/out")"
	if [ -n "$2" ]; then
		got=$(jq_get "$T/out" "$2")
		[ "$got" = "$3" ] || fail "$4: $2 = '$got', want '$3'"
	fi
}

# kget FILE 'a|b|c': like jq_get, for keys that hold dots (annotations, requests.cpu).
kget() {
	$PY - "$1" "$2" <<'PYEOF'
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("|"):
    v = v.get(k, "") if isinstance(v, dict) else ""
print(v)
PYEOF
}

kexpect() { # kexpect 'a|b' VALUE what  (after expect checked the code)
	got=$(kget "$T/out" "$1")
	[ "$got" = "$2" ] || fail "$3: $1 = '$got', want '$2'"
}

pod() { # pod NAME [resources-json]
	printf '{"metadata":{"name":"%s"},"spec":{"containers":[{"name":"c","image":"busybox","resources":%s}]}}' "$1" "${2:-{\}}"
}

suite() {
	NS=/api/v1/namespaces/adm
	req POST /api/v1/namespaces -d '{"metadata":{"name":"adm"}}'
	expect 201 "" "" "namespace"

	# ---- LimitRanger ----
	req POST $NS/limitranges -d '{"metadata":{"name":"lr"},"spec":{"limits":[{"type":"Container","default":{"cpu":"500m","memory":"256Mi"},"defaultRequest":{"cpu":"100m"},"min":{"cpu":"50m"},"max":{"cpu":"1","memory":"1Gi"}}]}}'
	expect 201 "" "" "create limitrange"
	req POST $NS/pods -d "$(pod d1)"
	expect 201 spec.containers.0.resources.limits.cpu 500m "default limit"
	expect 201 spec.containers.0.resources.requests.cpu 100m "default request"
	expect 201 spec.containers.0.resources.requests.memory 256Mi "default request from default limit"
	expect 201 status.qosClass Burstable "QoS computed over LimitRanger defaults"
	kexpect 'metadata|annotations|kubernetes.io/limit-ranger' \
		"LimitRanger plugin set: cpu, memory request for container c; cpu, memory limit for container c" \
		"limit-ranger annotation"
	req POST $NS/pods -d "$(pod d2 '{"limits":{"cpu":"2"}}')"
	expect 403 message 'pods "d2" is forbidden: maximum cpu usage per Container is 1, but limit is 2' "max"
	expect 403 reason Forbidden "max reason"
	req POST $NS/pods -d "$(pod d3 '{"requests":{"cpu":"10m"},"limits":{"cpu":"20m"}}')"
	expect 403 message 'pods "d3" is forbidden: minimum cpu usage per Container is 50m, but request is 10m' "min"
	req POST $NS/pods -d "$(pod d4 '{"requests":{"cpu":"10m"},"limits":{"cpu":"2"}}')"
	expect 403 message 'pods "d4" is forbidden: [minimum cpu usage per Container is 50m, but request is 10m, maximum cpu usage per Container is 1, but limit is 2]' "several violations"
	req GET $NS/pods/d2
	expect 404 "" "" "refused pod not stored"
	req DELETE $NS/limitranges/lr
	expect 200 "" "" "delete limitrange"

	# ---- ResourceQuota ----
	req POST $NS/resourcequotas -d '{"metadata":{"name":"q"},"spec":{"hard":{"pods":"2","configmaps":"1","requests.cpu":"1"}}}'
	expect 201 status.used.pods 1 "quota counts the existing pod"
	expect 201 status.hard.pods 2 "status.hard from spec.hard"
	kexpect 'status|used|requests.cpu' 100m "existing requests counted"
	req POST $NS/pods -d "$(pod p2 '{"requests":{"cpu":"200m"}}')"
	expect 201 "" "" "second pod within quota"
	req GET $NS/resourcequotas/q
	expect 200 status.used.pods 2 "usage after create"
	kexpect 'status|used|requests.cpu' 300m "cpu usage after create"
	req POST $NS/pods -d "$(pod p3 '{"requests":{"cpu":"100m"}}')"
	expect 403 message 'pods "p3" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2' "pods quota exceeded"
	req POST $NS/pods -d "$(pod p4)"
	expect 403 message 'pods "p4" is forbidden: failed quota: q: must specify requests.cpu for: c' "must specify"
	req POST $NS/configmaps -d '{"metadata":{"name":"c1"}}'
	expect 201 "" "" "configmap within quota"
	req POST $NS/configmaps -d '{"metadata":{"name":"c2"}}'
	expect 403 message 'configmaps "c2" is forbidden: exceeded quota: q, requested: configmaps=1, used: configmaps=1, limited: configmaps=1' "configmaps quota"
	req DELETE "$NS/pods/d1?gracePeriodSeconds=0"
	expect 200 "" "" "delete pod"
	req GET $NS/resourcequotas/q
	expect 200 status.used.pods 1 "usage given back on delete"
	kexpect 'status|used|requests.cpu' 200m "cpu given back on delete"
	req POST $NS/pods -d "$(pod p5 '{"requests":{"cpu":"900m"}}')"
	expect 403 message 'pods "p5" is forbidden: exceeded quota: q, requested: requests.cpu=900m, used: requests.cpu=200m, limited: requests.cpu=1' "cpu quota exceeded"
	req POST $NS/pods -d "$(pod p6 '{"requests":{"cpu":"800m"}}')"
	expect 201 "" "" "pod fitting the cpu quota exactly"
	req PUT $NS/resourcequotas/q -d '{"metadata":{"name":"q"},"spec":{"hard":{"pods":"5"}}}'
	expect 200 status.hard.pods 5 "quota raised"
	expect 200 status.used.pods 2 "usage recounted on spec change"
	req GET $NS/resourcequotas/q
	[ -z "$(jq_get "$T/out" status.used.configmaps)" ] || fail "dropped hard key still used: $(cat "$T/out")"
	# Concurrent creates never overshoot: 6 parallel creates against 3 free slots.
	i=0; cpids=""
	while [ $i -lt 6 ]; do
		curl -s -o /dev/null --cacert "$T/ca.crt" -H "Authorization: Bearer test-token" \
			-H "Content-Type: application/json" -X POST -d "$(pod r$i)" "$API$NS/pods" &
		cpids="$cpids $!"
		i=$((i + 1))
	done
	for p in $cpids; do wait "$p"; done
	req GET $NS/pods
	n=$($PY -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["items"]))' "$T/out")
	[ "$n" = 5 ] || fail "parallel creates: $n pods, want 5"
	req GET $NS/resourcequotas/q
	expect 200 status.used.pods 5 "usage after parallel creates"
}

kc_newdir
gen_certs "$T" || { echo "FAIL: openssl"; exit 1; }
if start_etcd "$T" && start_apiserver "$T" "$ETCD_URL"; then
	suite
else
	fail "could not start etcd + apiserver"
fi
[ $FAILED = 0 ] || kc_dump_logs
if [ $FAILED = 0 ]; then echo "PASS: apiserver_admission"; exit 0; fi
exit 1
