# kube-apiserver reads served from memory must not change what clients see: admission
# plugins read namespaces, service accounts, priority classes, limit ranges and quotas from
# the watch cache (never older than this server's own writes; a miss asks the store, so a
# second apiserver on the same store sees objects the first one created), pods/binding
# starts from the cached pod (a stale copy only costs a conflict and a re-read), and
# verified client certificates are cached (an untrusted one is still refused).
# Two kube-apiservers on one kube-store, driven with curl.
KUBEC_ROOT=${KUBEC_ROOT:-$(pwd)}
KUBEC_BUILD=${KUBEC_BUILD:-$KUBEC_ROOT/build}
. "$KUBEC_ROOT/test/integration/lib/apiserver_env.sh"

for tool in curl openssl "$PY"; do
	command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool missing"; exit 77; }
done
for b in kube-apiserver kube-store; do
	[ -x "$KUBEC_BUILD/bin/$b" ] || { echo "FAIL: $b not built"; exit 1; }
done

FAILED=0
trap 'kc_cleanup' EXIT INT TERM
fail() {
	echo "FAIL: $*"
	FAILED=1
}

# req A|B METHOD PATH [curl args]: token auth against apiserver A or B; CODE, $T/out.
req() {
	srv=$1; m=$2; p=$3; shift 3
	if [ "$srv" = A ]; then u=$API_A; else u=$API_B; fi
	CODE=$(curl -s -o "$T/out" -w '%{http_code}' --cacert "$T/ca.crt" \
		-H "Authorization: Bearer test-token" -H "Content-Type: ${CT:-application/json}" \
		-X "$m" "$@" "$u$p")
}

expect() { # expect CODE PATH VALUE what
	[ "$CODE" = "$1" ] || fail "$4: HTTP $CODE, want $1: $(head -c 400 "$T/out")"
	if [ -n "$2" ]; then
		got=$(jq_get "$T/out" "$2")
		[ "$got" = "$3" ] || fail "$4: $2 = '$got', want '$3'"
	fi
}

pod() { # pod NAME [extra spec members]
	printf '{"metadata":{"name":"%s"},"spec":{%s"containers":[{"name":"c","image":"busybox"}]}}' "$1" "${2:-}"
}

bind() { # bind A|B NS POD NODE
	req "$1" POST "/api/v1/namespaces/$2/pods/$3/binding" \
		-d "{\"apiVersion\":\"v1\",\"kind\":\"Binding\",\"metadata\":{\"name\":\"$3\"},\"target\":{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"name\":\"$4\"}}"
}

suite() {
	# ---- NamespaceLifecycle: read-your-writes on one server, live lookup on the other
	req A POST /api/v1/namespaces -d '{"metadata":{"name":"c1"}}'
	expect 201 "" "" "namespace via A"
	req B POST /api/v1/namespaces/c1/serviceaccounts -d '{"metadata":{"name":"default"}}'
	expect 201 "" "" "service account via B right after the namespace was created via A"
	req A POST /api/v1/namespaces/c1/pods -d "$(pod p1)"
	expect 201 spec.serviceAccountName default "pod via A (account created via B)"
	req B POST /api/v1/namespaces/nope/pods -d "$(pod p1)"
	expect 404 reason NotFound "pod in a missing namespace"
	i=0
	while [ $i -lt 5 ]; do # each namespace is used the moment it exists
		req A POST /api/v1/namespaces -d "{\"metadata\":{\"name\":\"r$i\"}}"
		expect 201 "" "" "namespace r$i"
		req A POST /api/v1/namespaces/r$i/pods -d "$(pod x)"
		expect 201 "" "" "pod right after its namespace (same server)"
		req A DELETE /api/v1/namespaces/r$i
		expect 200 "" "" "delete namespace r$i"
		req A POST /api/v1/namespaces/r$i/pods -d "$(pod y)"
		expect 403 reason Forbidden "pod right after its namespace began terminating"
		i=$((i + 1))
	done

	# The same back to back on one keep-alive connection, where the write's watch event
	# may not have reached the cache yet when the next request arrives.
	$PY - "$API_A" "$T/ca.crt" > "$T/rapid.txt" 2>&1 <<'PYEOF'
import http.client, json, ssl, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
c = http.client.HTTPSConnection(u.hostname, u.port,
                                context=ssl.create_default_context(cafile=sys.argv[2]))
H = {"Authorization": "Bearer test-token", "Content-Type": "application/json"}
def call(m, p, body=None):
    c.request(m, p, body=json.dumps(body) if body is not None else None, headers=H)
    r = c.getresponse()
    return r.status, json.loads(r.read() or b"{}")
def pod(name):
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
bad = 0
for i in range(20):
    ns = "q%d" % i
    st, _ = call("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})
    st2, _ = call("POST", "/api/v1/namespaces/%s/pods" % ns, pod("a"))
    st3, _ = call("POST", "/api/v1/namespaces/%s/limitranges" % ns, {"metadata": {"name": "lr"},
                  "spec": {"limits": [{"type": "Container", "default": {"memory": "64Mi"}}]}})
    st4, o4 = call("POST", "/api/v1/namespaces/%s/pods" % ns, pod("b"))
    lim = o4.get("spec", {}).get("containers", [{}])[0].get("resources", {}).get("limits", {})
    st5, _ = call("POST", "/api/v1/namespaces/%s/resourcequotas" % ns,
                  {"metadata": {"name": "q"}, "spec": {"hard": {"pods": "3"}}})
    st6, _ = call("POST", "/api/v1/namespaces/%s/pods" % ns, pod("c"))
    st7, _ = call("POST", "/api/v1/namespaces/%s/pods" % ns, pod("d"))
    st8, _ = call("DELETE", "/api/v1/namespaces/%s" % ns)
    st9, _ = call("POST", "/api/v1/namespaces/%s/pods" % ns, pod("e"))
    got = (st, st2, st3, st4, lim.get("memory"), st5, st6, st7, st8, st9)
    want = (201, 201, 201, 201, "64Mi", 201, 201, 403, 200, 403)
    if got != want:
        bad += 1
        print("round %d: got %s want %s" % (i, got, want))
print("rapid rounds failed: %d" % bad)
sys.exit(1 if bad else 0)
PYEOF
	[ $? = 0 ] || fail "back-to-back writes and admission: $(tail -5 "$T/rapid.txt")"

	# ---- Priority: a new default class applies to the next pod; unknown names refused
	req A POST /apis/scheduling.k8s.io/v1/priorityclasses -d '{"metadata":{"name":"hi"},"value":1000,"globalDefault":true}'
	expect 201 "" "" "default priority class"
	req A POST /api/v1/namespaces/c1/pods -d "$(pod p2)"
	expect 201 spec.priority 1000 "default class applied at once"
	expect 201 spec.priorityClassName hi "default class name"
	req A POST /apis/scheduling.k8s.io/v1/priorityclasses -d '{"metadata":{"name":"lo"},"value":5}'
	expect 201 "" "" "class lo via A"
	req B POST /api/v1/namespaces/c1/pods -d "$(pod p3 '"priorityClassName":"lo",')"
	expect 201 spec.priority 5 "class created via A used via B"
	req A POST /api/v1/namespaces/c1/pods -d "$(pod p4 '"priorityClassName":"absent",')"
	expect 403 message 'pods "p4" is forbidden: no PriorityClass with name absent was found' "unknown class"
	req A DELETE /apis/scheduling.k8s.io/v1/priorityclasses/hi
	expect 200 "" "" "delete default class"
	req A POST /api/v1/namespaces/c1/pods -d "$(pod p5)"
	expect 201 spec.priority 0 "no default class after its deletion"

	# ---- LimitRanger: defaults from a range created just before
	req A POST /api/v1/namespaces/c1/limitranges -d '{"metadata":{"name":"lr"},"spec":{"limits":[{"type":"Container","default":{"cpu":"300m"}}]}}'
	expect 201 "" "" "limit range"
	req A POST /api/v1/namespaces/c1/pods -d "$(pod p6)"
	expect 201 spec.containers.0.resources.limits.cpu 300m "range applied at once"
	req A DELETE /api/v1/namespaces/c1/limitranges/lr
	expect 200 "" "" "delete limit range"
	req A POST /api/v1/namespaces/c1/pods -d "$(pod p7)"
	expect 201 spec.containers.0.resources "{}" "no defaults after the range is gone"
	# Several ranges apply in name order, as listed from the store: the first default wins.
	for nm in m-lr:13 z-lr:26 b-lr:2 a-lr:1 k-lr:11; do
		n=${nm%%:*}; v=${nm#*:}
		req A POST /api/v1/namespaces/c1/limitranges -d "{\"metadata\":{\"name\":\"$n\"},\"spec\":{\"limits\":[{\"type\":\"Container\",\"default\":{\"memory\":\"${v}Mi\"}}]}}"
		expect 201 "" "" "limit range $n"
	done
	req A POST /api/v1/namespaces/c1/pods -d "$(pod p8)"
	expect 201 spec.containers.0.resources.limits.memory 1Mi "first range by name"

	# ---- pods/binding from the cached pod
	bind A c1 p1 node-a
	expect 201 "" "" "bind p1"
	req B GET /api/v1/namespaces/c1/pods/p1
	expect 200 spec.nodeName node-a "p1 bound"
	expect 200 spec.containers.0.image busybox "the bound pod keeps its spec"
	bind B c1 p1 node-b
	expect 409 message 'Operation cannot be fulfilled on pods/binding "p1": pod p1 is already assigned to node "node-a"' "second binding"
	i=0
	while [ $i -lt 5 ]; do # delete, re-create and bind at once, on either server
		req A DELETE "/api/v1/namespaces/c1/pods/p1?gracePeriodSeconds=0"
		expect 200 "" "" "delete p1 ($i)"
		req A POST /api/v1/namespaces/c1/pods -d "$(pod p1)"
		expect 201 "" "" "re-create p1 ($i)"
		if [ $((i % 2)) = 0 ]; then s=A; else s=B; fi
		bind $s c1 p1 node-$i
		expect 201 "" "" "bind the re-created p1 via $s ($i)"
		req A GET /api/v1/namespaces/c1/pods/p1
		expect 200 spec.nodeName node-$i "re-created p1 bound to node-$i"
		i=$((i + 1))
	done
	CT=application/merge-patch+json
	req A PATCH /api/v1/namespaces/c1/pods/p2 -d '{"metadata":{"labels":{"moved":"yes"}}}'
	CT=
	expect 200 "" "" "label p2"
	bind B c1 p2 node-z
	expect 201 "" "" "bind p2 after a change"
	req A GET /api/v1/namespaces/c1/pods/p2
	expect 200 metadata.labels.moved yes "binding kept the later change"
	expect 200 spec.nodeName node-z "p2 bound"

	# ---- client certificates: the same one repeatedly, an untrusted one never
	n=0
	while [ $n -lt 5 ]; do
		c=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/ca.crt" --cert "$T/admin.crt" \
			--key "$T/admin.key" "$API_A/api/v1/namespaces/c1/pods/p2")
		[ "$c" = 200 ] || fail "admin certificate, request $n: HTTP $c"
		c=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/ca.crt" --cert "$T/rogue.crt" \
			--key "$T/rogue.key" "$API_A/api/v1/namespaces/c1/pods/p2")
		[ "$c" = 401 ] || fail "untrusted certificate, request $n: HTTP $c, want 401"
		n=$((n + 1))
	done
}

kc_newdir
gen_certs "$T" || { echo "FAIL: openssl"; exit 1; }
if start_kube_store "$T" && start_apiserver "$T" "$ETCD_URL"; then
	API_A=$API
	if start_apiserver "$T" "$ETCD_URL"; then
		API_B=$API
		suite
	else
		fail "could not start the second apiserver"
	fi
else
	fail "could not start kube-store + apiserver"
fi
[ $FAILED = 0 ] || kc_dump_logs
if [ $FAILED = 0 ]; then echo "PASS: apiserver_caches"; exit 0; fi
exit 1
