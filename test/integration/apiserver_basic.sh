# kube-apiserver over a real store: TLS, authentication, Status errors, CRUD, patch,
# pagination and watch, checked with curl. Runs on etcd 3.4 and on kube-store when built.
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

# req METHOD PATH [curl args...]: body in $T/out, code in $CODE (token auth).
# Content type from $CT (default application/json; curl's -d default would be a form).
req() {
	m=$1; p=$2; shift 2
	CODE=$(curl -s -o "$T/out" -w '%{http_code}' --cacert "$T/ca.crt" \
		-H "Authorization: Bearer test-token" -H "Content-Type: ${CT:-application/json}" \
		-X "$m" "$@" "$API$p")
}

expect() { # expect CODE PATH VALUE [what]
	[ "$CODE" = "$1" ] || fail "$4: HTTP $CODE, want $1: $(head -c 400 "$T/out")"
	if [ -n "$2" ]; then
		got=$(jq_get "$T/out" "$2")
		[ "$got" = "$3" ] || fail "$4: $2 = '$got', want '$3'"
	fi
}

suite() {
	store=$1
	echo "--- suite on $store"
	# Anonymous: only health and version.
	CODE=$(curl -s -o "$T/out" -w '%{http_code}' --cacert "$T/ca.crt" "$API/version")
	expect 200 minor 32 "anonymous /version"
	CODE=$(curl -s -o "$T/out" -w '%{http_code}' --cacert "$T/ca.crt" "$API/api/v1/pods")
	expect 401 reason Unauthorized "anonymous list"
	CODE=$(curl -s -o "$T/out" -w '%{http_code}' --cacert "$T/ca.crt" \
		--cert "$T/rogue.crt" --key "$T/rogue.key" "$API/api/v1/pods")
	expect 401 reason Unauthorized "untrusted client certificate"
	CODE=$(curl -s -o "$T/out" -w '%{http_code}' --cacert "$T/ca.crt" \
		--cert "$T/admin.crt" --key "$T/admin.key" "$API/api/v1/namespaces/kube-system")
	expect 200 metadata.name kube-system "client certificate"
	req GET /api/v1/namespaces -H "Authorization: Bearer wrong"
	# curl sends both headers; the last wins in MHD lookups, so use a clean request.
	CODE=$(curl -s -o "$T/out" -w '%{http_code}' --cacert "$T/ca.crt" \
		-H "Authorization: Bearer wrong" "$API/api/v1/namespaces")
	expect 401 code 401 "bad token"

	# Aggregated discovery answers with its own content type.
	ct=$(curl -s -o "$T/out" -w '%{content_type}' --cacert "$T/ca.crt" -H "Authorization: Bearer test-token" \
		-H 'Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json' "$API/apis")
	[ "$ct" = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList" ] || fail "aggregated content type '$ct'"
	CODE=200
	expect 200 items.0.metadata.name apps "aggregated /apis"
	req GET /api/v1
	expect 200 kind APIResourceList "legacy /api/v1"
	req GET /nope
	[ "$CODE" = 404 ] && grep -q "404 page not found" "$T/out" || fail "unknown path: $CODE"
	req GET /api/v1/namespaces/default/widgets
	expect 404 message "the server could not find the requested resource" "unknown resource"

	# Create, AlreadyExists, NotFound, NamespaceLifecycle.
	CT=application/json req POST /api/v1/namespaces/default/configmaps \
		-d '{"metadata":{"name":"cm1","labels":{"app":"a"}},"data":{"k":"v"}}'
	expect 201 metadata.namespace default "create configmap"
	[ -n "$(jq_get "$T/out" metadata.uid)" ] || fail "create: no uid"
	[ "$(jq_get "$T/out" kind)" = ConfigMap ] || fail "create: kind not filled"
	rv1=$(jq_get "$T/out" metadata.resourceVersion)
	req POST /api/v1/namespaces/default/configmaps -d '{"metadata":{"name":"cm1"}}'
	expect 409 message 'configmaps "cm1" already exists' "AlreadyExists"
	req GET /api/v1/namespaces/default/configmaps/nope
	expect 404 message 'configmaps "nope" not found' "NotFound"
	req GET /apis/apps/v1/namespaces/default/deployments/nope
	expect 404 message 'deployments.apps "nope" not found' "NotFound group"
	req POST /api/v1/namespaces/ghost/configmaps -d '{"metadata":{"name":"x"}}'
	expect 404 message 'namespaces "ghost" not found' "NamespaceLifecycle"
	req POST /api/v1/namespaces/default/configmaps -d '{"metadata":{"name":"x","namespace":"other"}}'
	expect 400 message "the namespace of the provided object does not match the namespace sent on the request" "namespace mismatch"
	req POST /api/v1/namespaces/default/configmaps -d '{"metadata":{"generateName":"gen-"}}'
	expect 201 "" "" "generateName"
	case "$(jq_get "$T/out" metadata.name)" in gen-?????) ;; *) fail "generateName gave '$(jq_get "$T/out" metadata.name)'";; esac

	# 422 Invalid with causes, 400 for malformed JSON, 413, 415.
	req POST /api/v1/namespaces/default/pods -d '{"metadata":{"name":"Bad_Name"},"spec":{"restartPolicy":"Sometimes","containers":[{"name":"c"}]}}'
	expect 422 details.kind Pod "invalid pod"
	grep -q '"field":"spec.containers\[0\].image"' "$T/out" || fail "422 causes: $(cat "$T/out")"
	grep -q 'Unsupported value: \\"Sometimes\\": supported values: \\"Always\\", \\"OnFailure\\", \\"Never\\"' "$T/out" || fail "422 restartPolicy message"
	req POST /api/v1/namespaces/default/configmaps -d '{"metadata":'
	expect 400 reason BadRequest "malformed JSON"
	head -c 3200000 /dev/zero | tr '\0' 'a' > "$T/big"
	req POST /api/v1/namespaces/default/configmaps --data-binary @"$T/big"
	expect 413 code 413 "body limit"
	CT=text/plain req POST /api/v1/namespaces/default/configmaps -d 'a: b'
	expect 415 reason UnsupportedMediaType "unknown media type"
	# YAML bodies (application/yaml) as upstream's serializer: quoted scalars stay strings.
	CT=application/yaml req POST /api/v1/namespaces/default/configmaps --data-binary "$(printf 'metadata:\n  name: fromyaml\ndata:\n  n: "42"\n  b: "true"\n')"
	expect 201 data.n 42 "YAML create"
	CT=application/yaml req POST /api/v1/namespaces/default/configmaps --data-binary "$(printf 'metadata:\n  name: [unclosed\n')"
	expect 400 reason BadRequest "malformed YAML"
	req GET /api/v1/namespaces/default/configmaps/cm1
	[ "$(jq_get "$T/out" data.k)" = v ] || fail "nothing stored changed by bad input"

	# Update: conflict on a stale resourceVersion, no-op keeps the RV.
	req PUT /api/v1/namespaces/default/configmaps/cm1 -d "{\"metadata\":{\"name\":\"cm1\",\"resourceVersion\":\"$rv1\"},\"data\":{\"k\":\"v2\"}}"
	expect 200 data.k v2 "update"
	rv2=$(jq_get "$T/out" metadata.resourceVersion)
	[ "$rv2" -gt "$rv1" ] || fail "update RV $rv2 <= $rv1"
	req PUT /api/v1/namespaces/default/configmaps/cm1 -d "{\"metadata\":{\"name\":\"cm1\",\"resourceVersion\":\"$rv1\"},\"data\":{\"k\":\"v3\"}}"
	expect 409 message 'Operation cannot be fulfilled on configmaps "cm1": the object has been modified; please apply your changes to the latest version and try again' "Conflict"
	CT=application/merge-patch+json req PATCH /api/v1/namespaces/default/configmaps/cm1 -d '{"data":{"k":"v2"}}'
	expect 200 metadata.resourceVersion "$rv2" "no-op patch keeps RV"
	CT=application/json-patch+json req PATCH /api/v1/namespaces/default/configmaps/cm1 -d '[{"op":"test","path":"/data/k","value":"zzz"}]'
	expect 422 code 422 "json patch test failure"
	CT=text/plain req PATCH /api/v1/namespaces/default/configmaps/cm1 -d '{}'
	expect 415 reason UnsupportedMediaType "unknown patch type"

	# Deployments: defaults, generation, scale, status subresource.
	req POST /apis/apps/v1/namespaces/default/deployments -d '{"metadata":{"name":"web"},"spec":{"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"nginx:1.25"}]}}}}'
	expect 201 spec.replicas 1 "create deployment"
	[ "$(jq_get "$T/out" metadata.generation)" = 1 ] || fail "generation on create"
	[ "$(jq_get "$T/out" spec.strategy.rollingUpdate.maxSurge)" = "25%" ] || fail "strategy default"
	CT=application/merge-patch+json req PATCH /apis/apps/v1/namespaces/default/deployments/web/scale -d '{"spec":{"replicas":3}}'
	expect 200 kind Scale "scale"
	[ "$(jq_get "$T/out" status.selector)" = "app=web" ] || fail "scale selector"
	req PUT /apis/apps/v1/namespaces/default/deployments/web/status -d '{"metadata":{"name":"web"},"spec":{"replicas":9},"status":{"readyReplicas":2}}'
	expect 200 status.readyReplicas 2 "status update"
	[ "$(jq_get "$T/out" spec.replicas)" = 3 ] || fail "status update changed spec"
	[ "$(jq_get "$T/out" metadata.generation)" = 2 ] || fail "generation after scale: $(jq_get "$T/out" metadata.generation)"
	CT=application/strategic-merge-patch+json req PATCH /apis/apps/v1/namespaces/default/deployments/web -d '{"metadata":{"labels":{"x":"y"}}}'
	[ "$(jq_get "$T/out" metadata.generation)" = 2 ] || fail "label change bumped generation"
	expect 200 status.readyReplicas 2 "main endpoint keeps status"

	# Tables.
	req GET /apis/apps/v1/namespaces/default/deployments -H 'Accept: application/json;as=Table;v=v1;g=meta.k8s.io,application/json'
	expect 200 kind Table "table"
	[ "$(jq_get "$T/out" rows.0.cells.1)" = "2/3" ] || fail "table READY cell $(jq_get "$T/out" rows.0.cells)"

	# Pagination and selectors.
	for i in 1 2 3; do req POST /api/v1/namespaces/default/configmaps -d "{\"metadata\":{\"name\":\"page-$i\",\"labels\":{\"page\":\"yes\"}}}"; done
	req GET "/api/v1/namespaces/default/configmaps?limit=2&labelSelector=page%3Dyes"
	expect 200 items.1.metadata.name page-2 "first page"
	cont=$(jq_get "$T/out" metadata.continue)
	[ -n "$cont" ] || fail "no continue token"
	req GET "/api/v1/namespaces/default/configmaps?limit=2&labelSelector=page%3Dyes&continue=$cont"
	expect 200 items.0.metadata.name page-3 "second page"
	[ -z "$(jq_get "$T/out" metadata.continue)" ] || fail "continue on last page"
	# resourceVersionMatch=Exact lists the collection as it was at that revision.
	req GET "/api/v1/namespaces/default/configmaps?resourceVersion=$rv1&resourceVersionMatch=Exact&labelSelector=page%3Dyes"
	expect 200 metadata.resourceVersion "$rv1" "exact list"
	[ -z "$(jq_get "$T/out" items.0)" ] || fail "exact list at $rv1 saw later objects"
	req GET "/api/v1/namespaces/default/configmaps?resourceVersionMatch=Exact"
	expect 400 reason BadRequest "resourceVersionMatch without resourceVersion"
	req GET "/api/v1/namespaces/default/configmaps?fieldSelector=metadata.name%3Dpage-2"
	[ "$(jq_get "$T/out" items.0.metadata.name)" = page-2 ] && [ -z "$(jq_get "$T/out" items.1)" ] || fail "field selector"
	req GET "/api/v1/namespaces/default/configmaps?fieldSelector=spec.bogus%3D1"
	expect 400 message "field label not supported: spec.bogus" "unsupported field"
	req GET "/api/v1/pods?labelSelector=a%20in%20(b"
	expect 400 reason BadRequest "bad label selector"

	# Watch: ADDED from rv 0, then a MODIFIED; ends after timeoutSeconds.
	curl -s -N --cacert "$T/ca.crt" -H "Authorization: Bearer test-token" \
		"$API/api/v1/namespaces/default/configmaps?watch=True&timeoutSeconds=3&labelSelector=page%3Dyes" > "$T/watch" &
	wpid=$!
	sleep 1
	CT=application/merge-patch+json req PATCH /api/v1/namespaces/default/configmaps/page-1 -d '{"data":{"a":"b"}}'
	wait $wpid
	[ "$(grep -c '"type":"ADDED"' "$T/watch")" = 3 ] || fail "watch ADDED count: $(cat "$T/watch")"
	grep -q '"type":"MODIFIED".*"name":"page-1"' "$T/watch" || fail "watch MODIFIED: $(cat "$T/watch")"

	# Delete returns the object; a second delete is NotFound.
	req DELETE /api/v1/namespaces/default/configmaps/page-1 -d '{"propagationPolicy":"Background"}'
	expect 200 details.name page-1 "delete"
	[ "$(jq_get "$T/out" status)" = Success ] || fail "delete: not a Success Status"
	req DELETE /api/v1/namespaces/default/configmaps/page-1
	expect 404 message 'configmaps "page-1" not found' "delete twice"
	# Finalizers: deletionTimestamp set, removal on finalizer clear.
	req POST /api/v1/namespaces/default/configmaps -d '{"metadata":{"name":"fin","finalizers":["example.com/x"]}}'
	req DELETE /api/v1/namespaces/default/configmaps/fin
	expect 200 metadata.name fin "delete with finalizer"
	[ -n "$(jq_get "$T/out" metadata.deletionTimestamp)" ] || fail "no deletionTimestamp"
	CT=application/merge-patch+json req PATCH /api/v1/namespaces/default/configmaps/fin -d '{"metadata":{"finalizers":null}}'
	req GET /api/v1/namespaces/default/configmaps/fin
	expect 404 "" "" "finalizer removal deletes"

	# Services: ClusterIP allocation from --service-cluster-ip-range, the kubernetes Service.
	req GET /api/v1/namespaces/default/services/kubernetes
	expect 200 spec.clusterIP 10.0.0.1 "kubernetes service"
	req GET /api/v1/namespaces/default/endpoints/kubernetes
	expect 200 subsets.0.ports.0.name https "kubernetes endpoints"
	req POST /api/v1/namespaces/default/services -d '{"metadata":{"name":"s1"},"spec":{"selector":{"app":"a"},"ports":[{"port":80}]}}'
	expect 201 spec.ports.0.targetPort 80 "service defaults"
	ip=$(jq_get "$T/out" spec.clusterIP)
	case "$ip" in 10.0.0.*) ;; *) fail "allocated clusterIP '$ip'";; esac
	req POST /api/v1/namespaces/default/services -d "{\"metadata\":{\"name\":\"s2\"},\"spec\":{\"clusterIP\":\"$ip\",\"ports\":[{\"port\":80}]}}"
	expect 422 details.causes.0.message "Invalid value: []string{\"$ip\"}: failed to allocate IP $ip: provided IP is already allocated" "taken clusterIP"
	req POST /api/v1/namespaces/default/services -d '{"metadata":{"name":"s3"},"spec":{"clusterIP":"192.168.9.9","ports":[{"port":80}]}}'
	expect 422 reason Invalid "clusterIP out of range"
	req DELETE /api/v1/namespaces/default/services/s1
	req POST /api/v1/namespaces/default/services -d "{\"metadata\":{\"name\":\"s2\"},\"spec\":{\"clusterIP\":\"$ip\",\"ports\":[{\"port\":80}]}}"
	expect 201 spec.clusterIP "$ip" "clusterIP released on delete"

	# NodePorts from --service-node-port-range: allocated, kept on update, released.
	req POST /api/v1/namespaces/default/services -d '{"metadata":{"name":"np"},"spec":{"type":"NodePort","ports":[{"port":80}]}}'
	expect 201 spec.type NodePort "create NodePort service"
	np=$(jq_get "$T/out" spec.ports.0.nodePort)
	[ "$np" -ge 30000 ] 2>/dev/null && [ "$np" -le 32767 ] || fail "nodePort '$np' not in 30000-32767"
	req POST /api/v1/namespaces/default/services -d "{\"metadata\":{\"name\":\"np2\"},\"spec\":{\"type\":\"NodePort\",\"ports\":[{\"port\":80,\"nodePort\":$np}]}}"
	expect 422 details.causes.0.message "Invalid value: $np: provided port is already allocated" "taken nodePort"
	req PUT /api/v1/namespaces/default/services/np -d '{"metadata":{"name":"np"},"spec":{"type":"NodePort","ports":[{"port":80}],"selector":{"a":"b"}}}'
	expect 200 spec.ports.0.nodePort "$np" "nodePort kept on update"
	CT=application/merge-patch+json req PATCH /api/v1/namespaces/default/services/np -d '{"spec":{"type":"ClusterIP"}}'
	expect 200 spec.ports.0.nodePort "" "nodePort dropped with type ClusterIP"
	req POST /api/v1/namespaces/default/services -d "{\"metadata\":{\"name\":\"np3\"},\"spec\":{\"type\":\"NodePort\",\"ports\":[{\"port\":80,\"nodePort\":$np}]}}"
	expect 201 spec.ports.0.nodePort "$np" "released nodePort reusable"

	# Pods: binding (once), graceful deletion of a bound pod, eviction, dryRun.
	req POST /api/v1/namespaces/default/pods -d '{"metadata":{"name":"p1"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}'
	expect 201 spec.containers.0.imagePullPolicy Always "create pod"
	req POST /api/v1/namespaces/default/pods/p1/binding -d '{"metadata":{"name":"p1"},"target":{"kind":"Node","name":"n1"}}'
	expect 201 status Success "binding"
	req POST /api/v1/namespaces/default/pods/p1/binding -d '{"metadata":{"name":"p1"},"target":{"kind":"Node","name":"n2"}}'
	expect 409 message 'Operation cannot be fulfilled on pods/binding "p1": pod p1 is already assigned to node "n1"' "second binding"
	req GET "/api/v1/pods?fieldSelector=spec.nodeName%3Dn1"
	expect 200 items.0.metadata.name p1 "spec.nodeName field selector"
	req DELETE /api/v1/namespaces/default/pods/p1
	expect 200 metadata.deletionGracePeriodSeconds 30 "graceful delete of a bound pod"
	req GET /api/v1/namespaces/default/pods/p1
	expect 200 metadata.name p1 "pod still there while terminating"
	req DELETE "/api/v1/namespaces/default/pods/p1?gracePeriodSeconds=0"
	req GET /api/v1/namespaces/default/pods/p1
	expect 404 "" "" "grace 0 removes"
	req POST /api/v1/namespaces/default/pods -d '{"metadata":{"name":"p2"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}'
	req POST /api/v1/namespaces/default/pods/p2/eviction -d '{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"p2","namespace":"default"},"deleteOptions":{}}'
	expect 201 status Success "eviction"
	req GET /api/v1/namespaces/default/pods/p2
	expect 404 "" "" "evicted pod gone"
	req POST "/api/v1/namespaces/default/configmaps?dryRun=All" -d '{"metadata":{"name":"dry"}}'
	expect 201 metadata.name dry "dry-run create"
	req GET /api/v1/namespaces/default/configmaps/dry
	expect 404 "" "" "dry-run stored nothing"

	# Namespace deletion as upstream: DELETE marks it Terminating, creates inside are
	# refused, the namespace controller (absent here) empties it and finalizes; we play
	# the controller with PUT namespaces/tmp/finalize.
	req POST /api/v1/namespaces -d '{"metadata":{"name":"tmp"}}'
	expect 201 spec.finalizers.0 kubernetes "namespace finalizer defaulted"
	req POST /api/v1/namespaces/tmp/configmaps -d '{"metadata":{"name":"inside"}}'
	expect 201 "" "" "create in tmp"
	req DELETE /api/v1/namespaces/tmp
	expect 200 status.phase Terminating "delete namespace"
	[ -n "$(jq_get "$T/out" metadata.deletionTimestamp)" ] || fail "no deletionTimestamp"
	req DELETE /api/v1/namespaces/tmp
	expect 200 status.phase Terminating "delete terminating namespace again"
	req GET /api/v1/namespaces/tmp/configmaps/inside
	expect 200 metadata.name inside "content stays until the controller removes it"
	req POST /api/v1/namespaces/tmp/configmaps -d '{"metadata":{"name":"late"}}'
	expect 403 message "unable to create new content in namespace tmp because it is being terminated" "create in terminating namespace"
	[ "$(jq_get "$T/out" details.causes.0.reason)" = NamespaceTerminating ] || fail "cause: $(cat "$T/out")"
	req DELETE /api/v1/namespaces/default
	expect 403 message 'namespaces "default" is forbidden: this namespace may not be deleted' "delete default"
	req DELETE /api/v1/namespaces/kube-system
	expect 403 reason Forbidden "delete kube-system"
	req PUT /api/v1/namespaces/tmp/finalize -d '{"metadata":{"name":"tmp","labels":{"x":"y"}},"spec":{"finalizers":["kubernetes","other"]}}'
	expect 200 spec.finalizers.1 other "finalize keeps named finalizers"
	[ -z "$(jq_get "$T/out" metadata.labels.x)" ] || fail "finalize changed labels"
	req PUT /api/v1/namespaces/tmp/finalize -d '{"metadata":{"name":"tmp"},"spec":{"finalizers":[]}}'
	expect 200 metadata.name tmp "finalize"
	req GET /api/v1/namespaces/tmp
	expect 404 "" "" "finalized namespace removed"

	# Restart: data persists; a watch from before the restart gets 410 Expired.
	kill "$APIPID"; wait "$APIPID" 2>/dev/null
	start_apiserver "$T" "$ETCD_URL" --event-ttl=2s || { fail "restart"; return; }
	req GET /api/v1/namespaces/default/configmaps/cm1
	expect 200 data.k v2 "persisted"
	curl -s -N --cacert "$T/ca.crt" -H "Authorization: Bearer test-token" \
		"$API/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=2" > "$T/watch410"
	grep -q '"type":"ERROR".*"code":410' "$T/watch410" && grep -q '"reason":"Expired"' "$T/watch410" || fail "410: $(cat "$T/watch410")"

	# A watch from an older resourceVersion replays the cache's history with upstream's
	# selector transitions: an object whose labels leave the selector arrives as DELETED.
	req POST /api/v1/namespaces/default/configmaps -d '{"metadata":{"name":"sel","labels":{"tier":"a"}}}'
	expect 201 metadata.name sel "create sel"
	rvsel=$(jq_get "$T/out" metadata.resourceVersion)
	CT=application/merge-patch+json req PATCH /api/v1/namespaces/default/configmaps/sel -d '{"metadata":{"labels":{"tier":"b"}}}'
	expect 200 metadata.labels.tier b "relabel sel"
	curl -s -N --cacert "$T/ca.crt" -H "Authorization: Bearer test-token" \
		"$API/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=$rvsel&labelSelector=tier%3Da&timeoutSeconds=1" > "$T/watchsel"
	grep -q '"type":"DELETED".*"name":"sel"' "$T/watchsel" || fail "replayed selector transition: $(cat "$T/watchsel")"
	curl -s -N --cacert "$T/ca.crt" -H "Authorization: Bearer test-token" \
		"$API/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=$rvsel&labelSelector=tier%3Db&timeoutSeconds=1" > "$T/watchsel2"
	grep -q '"type":"ADDED".*"name":"sel"' "$T/watchsel2" || fail "replayed selector entry: $(cat "$T/watchsel2")"

	# Events live on a lease of --event-ttl (2s here): gone a few seconds later.
	req POST /api/v1/namespaces/default/events -d '{"metadata":{"name":"e1"},"involvedObject":{"kind":"Pod","name":"p","namespace":"default"},"reason":"Test","message":"m","type":"Normal"}'
	expect 201 reason Test "create event"
	end=$(($(date +%s) + 20))
	while [ "$(date +%s)" -lt "$end" ]; do
		req GET /api/v1/namespaces/default/events/e1
		[ "$CODE" = 404 ] && break
		sleep 0.5
	done
	[ "$CODE" = 404 ] || fail "event did not expire with --event-ttl=2s"
}

kc_newdir
gen_certs "$T" || { echo "FAIL: openssl"; exit 1; }
if start_etcd "$T" && start_apiserver "$T" "$ETCD_URL"; then
	suite "etcd 3.4"
else
	fail "could not start etcd + apiserver"
fi
[ $FAILED = 0 ] || kc_dump_logs
kc_cleanup
KC_PIDS=""; KC_LOGS=""

if [ -x "$KUBEC_BUILD/bin/kube-store" ]; then
	kc_newdir
	gen_certs "$T"
	if start_kube_store "$T"; then
		if start_apiserver "$T" "$ETCD_URL"; then
			suite "kube-store"
		else
			fail "apiserver on kube-store did not become ready"
		fi
	else
		echo "NOTE: kube-store is built but does not answer /v3/kv/range; its suite is skipped"
	fi
	[ $FAILED = 0 ] || kc_dump_logs
fi
if [ $FAILED = 0 ]; then echo "PASS: apiserver_basic"; exit 0; fi
exit 1
