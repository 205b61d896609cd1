# pods/log through kube-apiserver to a fake kubelet (python https server with client-cert
# auth): kubectl logs, --tail, --timestamps, -f (and the kubelet side closed when kubectl goes
# away), upstream's errors (ambiguous container, kubelet 400 passed through, node without an
# address), an unscheduled pod's empty log, and exec refused honestly.
KUBEC_ROOT=${KUBEC_ROOT:-$(pwd)}
KUBEC_BUILD=${KUBEC_BUILD:-$KUBEC_ROOT/build}
. "$KUBEC_ROOT/test/integration/lib/apiserver_env.sh"

for tool in curl openssl /usr/bin/etcd /usr/bin/kubectl "$PY"; do
	command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool missing"; exit 77; }
done
[ -x "$KUBEC_BUILD/bin/kube-apiserver" ] || { echo "FAIL: kube-apiserver not built"; exit 1; }

FAILED=0
trap 'kc_cleanup' EXIT INT TERM
fail() { echo "FAIL: $*"; FAILED=1; }

kc_newdir
gen_certs "$T" || { echo "FAIL: certificates"; exit 1; }
# The kubelet's serving certificate (IP SAN 127.0.0.1) and the apiserver's kubelet client
# certificate, both from the cluster CA.
openssl req -newkey rsa:2048 -nodes -subj /CN=node-1 -keyout "$T/kubelet.key" \
	-out "$T/kubelet.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$T/kubelet.ext"
openssl x509 -req -in "$T/kubelet.csr" -CA "$T/ca.crt" -CAkey "$T/ca.key" -CAcreateserial \
	-days 1 -extfile "$T/kubelet.ext" -out "$T/kubelet.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver-kubelet-client/O=system:masters" \
	-keyout "$T/apikc.key" -out "$T/apikc.csr" 2>/dev/null
openssl x509 -req -in "$T/apikc.csr" -CA "$T/ca.crt" -CAkey "$T/ca.key" -CAcreateserial \
	-days 1 -extfile "$T/client.ext" -out "$T/apikc.crt" 2>/dev/null

cat > "$T/fake_kubelet.py" <<'PYEOF'
# A kubelet's /containerLogs endpoint: 5 lines, tailLines, timestamps, follow; pod "waiting"
# answers 400 as the kubelet does for a container that has not started. Every request line
# is appended to requests.log, and "closed <path>" once a follower's client is gone.
import http.server, ssl, sys, time, urllib.parse, os
port_file, cert, key, ca, logdir = sys.argv[1:6]
def note(s):
    with open(os.path.join(logdir, "requests.log"), "a") as f:
        f.write(s + "\n")
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def log_message(self, *a):
        pass
    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        note("GET " + self.path)
        parts = u.path.split("/")
        if len(parts) != 5 or parts[1] != "containerLogs":
            self.send_response(404); self.end_headers(); self.wfile.write(b"404 page not found\n"); return
        ns, pod, ctr = parts[2:5]
        if pod == "waiting":
            msg = 'container "%s" in pod "%s" is waiting to start: ContainerCreating' % (ctr, pod)
            self.send_response(400); self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.end_headers(); self.wfile.write(msg.encode()); return
        lines = ["%s/%s line %d" % (pod, ctr, i) for i in range(1, 6)]
        ts = q.get("timestamps") == ["true"]
        def fmt(i, l):
            return ("2026-01-01T00:00:0%dZ %s" % (i % 10, l)) if ts else l
        out = [fmt(i, l) for i, l in enumerate(lines, 1)]
        if "tailLines" in q:
            n = int(q["tailLines"][0]); out = out[len(out) - n:] if n else []
        self.send_response(200); self.send_header("Content-Type", "text/plain"); self.end_headers()
        self.wfile.write(("".join(l + "\n" for l in out)).encode()); self.wfile.flush()
        if q.get("follow") == ["true"]:
            i = 0
            try:
                while i < 600:
                    i += 1
                    time.sleep(0.2)
                    self.wfile.write(("follow %d\n" % i).encode()); self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
                note("closed " + u.path)
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ctx.load_verify_locations(ca)
ctx.verify_mode = ssl.CERT_REQUIRED
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
PYEOF
# start_fake_kubelet NAME CERT KEY: serves with CERT/KEY, sets FKPORT.
start_fake_kubelet() {
	$PY "$T/fake_kubelet.py" "$T/$1.port" "$2" "$3" "$T/ca.crt" "$T" > "$T/$1.log" 2>&1 &
	KC_PIDS="$KC_PIDS $!"
	KC_LOGS="$KC_LOGS $T/$1.log"
	end=$(($(date +%s) + 20))
	while [ ! -s "$T/$1.port" ] && [ "$(date +%s)" -lt "$end" ]; do sleep 0.1; done
	[ -s "$T/$1.port" ] || { kc_dump_logs; echo "FAIL: fake kubelet $1 did not start"; exit 1; }
	FKPORT=$(cat "$T/$1.port")
}
start_fake_kubelet kubelet "$T/kubelet.crt" "$T/kubelet.key"
KPORT=$FKPORT
# A second kubelet whose serving certificate the cluster CA did not sign.
start_fake_kubelet rogue "$T/rogue.crt" "$T/rogue.key"
RPORT=$FKPORT

start_etcd "$T" || { kc_dump_logs; echo "FAIL: etcd"; exit 1; }
start_apiserver "$T" "$ETCD_URL" --kubelet-client-certificate "$T/apikc.crt" \
	--kubelet-client-key "$T/apikc.key" --kubelet-certificate-authority "$T/ca.crt" \
	--kubelet-preferred-address-types InternalIP,Hostname ||
	{ kc_dump_logs; echo "FAIL: apiserver not ready"; exit 1; }
write_kubeconfig "$T" "$API"
export KUBECONFIG="$T/kubeconfig" KUBECACHEDIR="$T/kcache" HOME="$T"
C="curl -s --cacert $T/ca.crt --cert $T/admin.crt --key $T/admin.key"

# Nodes: node-1 at the fake kubelet; ghost without addresses.
$C -X POST -H 'Content-Type: application/json' "$API/api/v1/nodes" \
	-d '{"apiVersion":"v1","kind":"Node","metadata":{"name":"node-1"}}' > /dev/null
$C -X PATCH -H 'Content-Type: application/merge-patch+json' "$API/api/v1/nodes/node-1/status" \
	-d "{\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"127.0.0.1\"},{\"type\":\"Hostname\",\"address\":\"no-such-host.invalid\"}],\"daemonEndpoints\":{\"kubeletEndpoint\":{\"Port\":$KPORT}}}}" > "$T/node.json"
grep -q "\"Port\": *$KPORT" "$T/node.json" || fail "node status patch: $(cat "$T/node.json")"
$C -X POST -H 'Content-Type: application/json' "$API/api/v1/nodes" \
	-d '{"apiVersion":"v1","kind":"Node","metadata":{"name":"ghost"}}' > /dev/null

$C -X POST -H 'Content-Type: application/json' "$API/api/v1/nodes" \
	-d '{"apiVersion":"v1","kind":"Node","metadata":{"name":"node-2"}}' > /dev/null
$C -X PATCH -H 'Content-Type: application/merge-patch+json' "$API/api/v1/nodes/node-2/status" \
	-d "{\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"127.0.0.1\"}],\"daemonEndpoints\":{\"kubeletEndpoint\":{\"Port\":$RPORT}}}}" > /dev/null

# node-3 has no addresses, only the kubernetes.io/hostname label Hostname falls back to.
$C -X POST -H 'Content-Type: application/json' "$API/api/v1/nodes" \
	-d '{"apiVersion":"v1","kind":"Node","metadata":{"name":"node-3","labels":{"kubernetes.io/hostname":"127.0.0.1"}}}' > /dev/null
$C -X PATCH -H 'Content-Type: application/merge-patch+json' "$API/api/v1/nodes/node-3/status" \
	-d "{\"status\":{\"daemonEndpoints\":{\"kubeletEndpoint\":{\"Port\":$KPORT}}}}" > /dev/null

pod() { # name node containers...
	n=$1; node=$2; shift 2
	cs=""
	for c in "$@"; do cs="$cs${cs:+,}{\"name\":\"$c\",\"image\":\"busybox\"}"; done
	nn=""
	[ -n "$node" ] && nn="\"nodeName\":\"$node\","
	$C -X POST -H 'Content-Type: application/json' "$API/api/v1/namespaces/default/pods" \
		-d "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"$n\"},\"spec\":{$nn\"containers\":[$cs]}}" > /dev/null
}
pod web node-1 web
pod multi node-1 a b
pod waiting node-1 w
pod lost ghost c
pod pending "" p
pod rogue node-2 r
pod bylabel node-3 l

out=$(kubectl logs web 2>&1)
[ "$out" = "$(printf 'web/web line 1\nweb/web line 2\nweb/web line 3\nweb/web line 4\nweb/web line 5')" ] ||
	fail "kubectl logs web: $out"
grep -q "GET /containerLogs/default/web/web$" "$T/requests.log" || fail "kubelet path: $(cat "$T/requests.log")"

out=$(kubectl logs web --tail=2 2>&1)
[ "$out" = "$(printf 'web/web line 4\nweb/web line 5')" ] || fail "logs --tail=2: $out"
grep -q "GET /containerLogs/default/web/web?tailLines=2$" "$T/requests.log" || fail "tail query: $(cat "$T/requests.log")"

out=$(kubectl logs web --timestamps --tail=1 2>&1)
[ "$out" = "2026-01-01T00:00:05Z web/web line 5" ] || fail "logs --timestamps: $out"
grep -q "tailLines=1&timestamps=true" "$T/requests.log" || fail "timestamps query: $(cat "$T/requests.log")"

out=$(kubectl logs multi -c b --limit-bytes=100 --since=1h 2>&1)
echo "$out" | grep -q "multi/b line 1" || fail "logs -c b: $out"
grep -q "/containerLogs/default/multi/b?limitBytes=100&sinceSeconds=3600" "$T/requests.log" ||
	fail "limitBytes/sinceSeconds query: $(cat "$T/requests.log")"

# Several containers and none named: upstream's 400 (kubectl itself picks the first one, so
# ask directly).
$C "$API/api/v1/namespaces/default/pods/multi/log" > "$T/multi.json"
grep -q '"message": *"a container name must be specified for pod multi, choose one of: \[a b\]"' "$T/multi.json" ||
	fail "multi without container: $(cat "$T/multi.json")"
grep -q '"code": *400' "$T/multi.json" || fail "multi code: $(cat "$T/multi.json")"
out=$(kubectl logs multi -c nope 2>&1)
echo "$out" | grep -q "container nope is not valid for pod multi" || fail "unknown container: $out"

out=$(kubectl logs waiting 2>&1); rc=$?
[ $rc -ne 0 ] || fail "logs waiting: rc 0"
echo "$out" | grep -q 'Error from server (BadRequest): container "w" in pod "waiting" is waiting to start: ContainerCreating' ||
	fail "logs waiting: $out"

out=$(kubectl logs lost 2>&1)
echo "$out" | grep -q "no preferred addresses found; known addresses: \[\]" || fail "logs lost: $out"

out=$(kubectl logs bylabel --tail=1 2>&1)
[ "$out" = "bylabel/l line 5" ] || fail "logs through the hostname label: $out"

out=$(kubectl logs pending 2>&1); rc=$?
[ $rc = 0 ] && [ -z "$out" ] || fail "logs of an unscheduled pod: rc=$rc $out"

out=$(kubectl logs nope 2>&1)
echo "$out" | grep -q 'pods "nope" not found' || fail "logs nope: $out"

# Follow: lines keep coming; when kubectl goes away the apiserver drops the kubelet stream.
kubectl logs -f web > "$T/follow.out" 2>&1 &
FPID=$!
end=$(($(date +%s) + 20))
while ! grep -q "follow 3" "$T/follow.out" && [ "$(date +%s)" -lt "$end" ]; do sleep 0.1; done
grep -q "follow 3" "$T/follow.out" || fail "logs -f: $(cat "$T/follow.out")"
head -1 "$T/follow.out" | grep -q "web/web line 1" || fail "logs -f head: $(cat "$T/follow.out")"
kill "$FPID" 2>/dev/null; wait "$FPID" 2>/dev/null
end=$(($(date +%s) + 20))
while ! grep -q "closed /containerLogs/default/web/web" "$T/requests.log" && [ "$(date +%s)" -lt "$end" ]; do sleep 0.2; done
grep -q "closed /containerLogs/default/web/web" "$T/requests.log" || fail "kubelet stream not closed after the client left"

# --kubelet-certificate-authority is enforced; insecureSkipTLSVerifyBackend=true skips it.
out=$(kubectl logs rogue 2>&1); rc=$?
[ $rc -ne 0 ] || fail "logs from a kubelet with an unverifiable certificate: $out"
printf '%s\n' "$out" | grep -qF "Get \"https://127.0.0.1:$RPORT/containerLogs/default/rogue/r\"" ||
	fail "unverifiable kubelet message: $out"
out=$($C "$API/api/v1/namespaces/default/pods/rogue/log?insecureSkipTLSVerifyBackend=true")
[ "$(printf '%s\n' "$out" | head -1)" = "rogue/r line 1" ] || fail "insecureSkipTLSVerifyBackend on node-2: $out"
$C "$API/api/v1/namespaces/default/pods/web/log?tailLines=1&insecureSkipTLSVerifyBackend=true" > "$T/insecure.txt"
grep -q "web/web line 5" "$T/insecure.txt" || fail "insecureSkipTLSVerifyBackend: $(cat "$T/insecure.txt")"

# pods/exec is proxied to the pod's kubelet as pods/log is (this fake kubelet cannot
# upgrade, so kubectl fails; the request it received is what is checked)
out=$(kubectl exec web -- ls 2>&1); rc=$?
[ $rc -ne 0 ] || fail "exec against a kubelet that cannot upgrade: rc 0: $out"
grep -q "GET /exec/default/web/web?command=ls&stderr=1&stdout=1$" "$T/requests.log" ||
	fail "exec was not proxied to the kubelet: $(tail -3 "$T/requests.log")"
$C -X POST "$API/api/v1/namespaces/default/pods/web/exec?command=ls" > "$T/exec.json"
grep -q '"message": *"Upgrade request required"' "$T/exec.json" || fail "exec without upgrade: $(cat "$T/exec.json")"

# The apiserver still serves after all of that.
wait_url "$API/readyz" 5 --cacert "$T/ca.crt" || fail "apiserver not ready afterwards"

if [ "$FAILED" != 0 ]; then
	kc_dump_logs
	echo "===== requests"; cat "$T/requests.log"
	exit 1
fi
echo "PASS: apiserver_logs"
