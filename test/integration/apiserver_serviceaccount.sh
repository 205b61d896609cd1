# kube-apiserver ServiceAccount admission and bound service-account tokens, on etcd 3.4:
# the default account, upstream's 403 for a missing one, the kube-api-access-<5> projected
# volume and its read-only mounts (automountServiceAccountToken on the pod / the account),
# updates keep them, mirror pods are left alone; TokenRequests bound to a Pod / Secret
# (claims, uid mismatch 409, wrong account 400, 422 under 10 minutes, the 3607 s token
# extended with warnafter) whose tokens stop authenticating once the object is gone;
# --disable-admission-plugins=ServiceAccount.
KUBEC_ROOT=${KUBEC_ROOT:-$(pwd)}
KUBEC_BUILD=${KUBEC_BUILD:-$KUBEC_ROOT/build}
. "$KUBEC_ROOT/test/integration/lib/apiserver_env.sh"

for tool in curl openssl /usr/bin/etcd "$PY"; do
	command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool missing"; exit 77; }
done
[ -x "$KUBEC_BUILD/bin/kube-apiserver" ] || { echo "FAIL: kube-apiserver not built"; exit 1; }
trap 'kc_cleanup' EXIT INT TERM
ISS=https://kubernetes.default.svc.cluster.local

kc_newdir
gen_certs "$T" || { echo "FAIL: openssl"; exit 1; }
openssl genrsa -out "$T/sa.key" 2048 2>/dev/null || { echo "FAIL: sa key"; exit 1; }
start_etcd "$T" || { echo "FAIL: etcd"; kc_dump_logs; exit 1; }
start_apiserver "$T" "$ETCD_URL" --service-account-signing-key-file "$T/sa.key" \
	--service-account-issuer "$ISS" || { echo "FAIL: apiserver"; kc_dump_logs; exit 1; }
API1=$API
# A second apiserver on the same store with the plugin switched off.
start_apiserver "$T" "$ETCD_URL" --service-account-signing-key-file "$T/sa.key" \
	--service-account-issuer "$ISS" --disable-admission-plugins=ServiceAccount ||
	{ echo "FAIL: second apiserver"; kc_dump_logs; exit 1; }
API2=$API

$PY - "$API1" "$API2" "$T/ca.crt" <<'PYEOF'
import base64, json, re, ssl, sys, time, urllib.request, urllib.error
API, API2, CA = sys.argv[1:4]
ctx = ssl.create_default_context(cafile=CA)
bad = []

def call(method, path, body=None, token="test-token", api=None):
    data = json.dumps(body).encode() if body is not None else None
    r = urllib.request.Request((api or API) + path, data=data, method=method)
    r.add_header("Authorization", "Bearer " + token)
    r.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(r, context=ctx, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except Exception:
            return e.code, {"raw": raw.decode(errors="replace")}

def check(cond, what, detail=""):
    if not cond:
        bad.append("%s %s" % (what, detail))
    else:
        print("ok", what)

def pod(name, **spec):
    s = {"containers": [{"name": "c", "image": "busybox"}]}
    s.update(spec)
    return {"metadata": {"name": name}, "spec": s}

def claims(tok):
    p = tok.split(".")[1]
    p += "=" * (-len(p) % 4)
    return json.loads(base64.urlsafe_b64decode(p))

NS = "/api/v1/namespaces/sa"
code, _ = call("POST", "/api/v1/namespaces", {"metadata": {"name": "sa"}})
check(code == 201, "namespace")

# 1. No default ServiceAccount yet: upstream's 403 (after its retries).
code, st = call("POST", NS + "/pods", pod("p0"))
check(code == 403 and st.get("reason") == "Forbidden" and st.get("message") ==
      'pods "p0" is forbidden: error looking up service account sa/default: serviceaccount "default" not found',
      "missing default account -> 403", st)
code, st = call("POST", NS + "/pods", pod("p0", serviceAccountName="builder"))
check(code == 403 and st.get("message") ==
      'pods "p0" is forbidden: error looking up service account sa/builder: serviceaccount "builder" not found',
      "missing named account -> 403", st)

call("POST", NS + "/serviceaccounts", {"metadata": {"name": "default"}})
call("POST", NS + "/serviceaccounts", {"metadata": {"name": "quiet"}, "automountServiceAccountToken": False,
                                       "imagePullSecrets": [{"name": "regcred"}]})

# 2. The projected volume and mounts, exactly as upstream.
p = pod("p1", initContainers=[{"name": "init", "image": "busybox"}])
p["spec"]["containers"].append({"name": "own", "image": "busybox", "volumeMounts": [
    {"name": "x", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]})
p["spec"]["volumes"] = [{"name": "x", "emptyDir": {}}]
code, obj = call("POST", NS + "/pods", p)
check(code == 201, "pod with default account created", obj)
spec = obj.get("spec", {})
check(spec.get("serviceAccountName") == "default" and spec.get("serviceAccount") == "default",
      "serviceAccountName defaulted", spec.get("serviceAccountName"))
vols = [v for v in spec.get("volumes", []) if v["name"].startswith("kube-api-access-")]
check(len(vols) == 1 and re.fullmatch(r"kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}", vols[0]["name"]),
      "one kube-api-access-xxxxx volume", spec.get("volumes"))
want = {"sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                    {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1",
                                                "fieldPath": "metadata.namespace"}}]}}],
        "defaultMode": 420}
if vols:
    vn = vols[0]["name"]
    check(vols[0].get("projected") == want, "projected sources as upstream", vols[0])
    m = {"name": vn, "readOnly": True, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}
    check(m in spec["initContainers"][0].get("volumeMounts", []), "init container mount", spec["initContainers"])
    check(m in spec["containers"][0].get("volumeMounts", []), "container mount", spec["containers"][0])
    check(spec["containers"][1]["volumeMounts"] == [{"name": "x", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
          "own mount at the path left alone", spec["containers"][1])
    # 3. An update keeps them and adds nothing (the plugin acts on create only).
    obj["metadata"].setdefault("labels", {})["touched"] = "yes"
    code, upd = call("PUT", NS + "/pods/p1", obj)
    uv = [v["name"] for v in upd.get("spec", {}).get("volumes", []) if v["name"].startswith("kube-api-access-")]
    check(code == 200 and uv == [vn] and len(upd["spec"]["containers"][0]["volumeMounts"]) == 1,
          "update keeps the one volume and mount", upd)

# 4. automountServiceAccountToken: the pod's false, the account's false, the pod overriding it.
code, obj = call("POST", NS + "/pods", pod("p2", automountServiceAccountToken=False))
check(code == 201 and not obj["spec"].get("volumes") and not obj["spec"]["containers"][0].get("volumeMounts"),
      "pod automount false: no volume", obj.get("spec"))
code, obj = call("POST", NS + "/pods", pod("p3", serviceAccountName="quiet"))
check(code == 201 and not obj["spec"].get("volumes"), "account automount false: no volume", obj.get("spec"))
check(obj.get("spec", {}).get("imagePullSecrets") == [{"name": "regcred"}], "imagePullSecrets from the account", obj.get("spec"))
code, obj = call("POST", NS + "/pods", pod("p4", serviceAccountName="quiet", automountServiceAccountToken=True))
check(code == 201 and len(obj["spec"].get("volumes", [])) == 1, "pod automount true wins", obj.get("spec"))

# 5. Mirror pods: untouched; referencing an account is forbidden.
mp = pod("static-node1")
mp["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "abc"}
code, obj = call("POST", NS + "/pods", mp)
check(code == 201 and not obj["spec"].get("serviceAccountName") and not obj["spec"].get("volumes"),
      "mirror pod not mutated", obj.get("spec"))
mp = pod("static-node2", serviceAccountName="default")
mp["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "abc"}
code, st = call("POST", NS + "/pods", mp)
check(code == 403 and st.get("message") == 'pods "static-node2" is forbidden: a mirror pod may not reference service accounts',
      "mirror pod with an account -> 403", st)

# 6. TokenRequests bound to a pod.
code, p1 = call("GET", NS + "/pods/p1")
code, sa = call("GET", NS + "/serviceaccounts/default")
def tr(ref=None, exp=None, auds=None, sa_name="default"):
    spec = {}
    if ref: spec["boundObjectRef"] = ref
    if exp: spec["expirationSeconds"] = exp
    if auds: spec["audiences"] = auds
    return call("POST", NS + "/serviceaccounts/%s/token" % sa_name,
                {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec})
ref = {"kind": "Pod", "apiVersion": "v1", "name": "p1", "uid": p1["metadata"]["uid"]}
code, out = tr(ref)
check(code == 201, "bound TokenRequest", out)
tok = out.get("status", {}).get("token", "")
c = claims(tok) if tok else {}
k = c.get("kubernetes.io", {})
check(k.get("namespace") == "sa" and k.get("pod") == {"name": "p1", "uid": p1["metadata"]["uid"]} and
      k.get("serviceaccount") == {"name": "default", "uid": sa["metadata"]["uid"]} and "secret" not in k,
      "pod claims", k)
check(c.get("exp", 0) - c.get("iat", 0) == 3600 and "warnafter" not in k, "default 3600 s, no warnafter", c)
check(out.get("spec", {}).get("boundObjectRef") == ref, "boundObjectRef echoed", out.get("spec"))
code, who = call("GET", NS + "/pods/p1", token=tok)
check(code == 200, "bound token authenticates while the pod exists", who)
# The admission-made 3607 s pod token: a year in exp, warnafter at 3607 s, the status says 3607 s.
code, out = tr(ref, exp=3607)
c = claims(out["status"]["token"]) if code == 201 else {}
ct = time.strptime(out.get("metadata", {}).get("creationTimestamp", "1970-01-01T00:00:00Z"), "%Y-%m-%dT%H:%M:%SZ")
et = time.strptime(out.get("status", {}).get("expirationTimestamp", "1970-01-01T00:00:00Z"), "%Y-%m-%dT%H:%M:%SZ")
import calendar
check(code == 201 and c["exp"] - c["iat"] == 365 * 24 * 3600 and
      c["kubernetes.io"].get("warnafter") == c["iat"] + 3607 and
      calendar.timegm(et) - calendar.timegm(ct) == 3607,
      "3607 s token extended with warnafter", (code, c, out.get("status", {}).get("expirationTimestamp")))
code, st = tr(dict(ref, uid="00000000-0000-0000-0000-000000000000"))
check(code == 409 and st.get("message") == 'Operation cannot be fulfilled on Pod "p1": the UID in the bound object '
      'reference (00000000-0000-0000-0000-000000000000) does not match the UID in record. The object might have been '
      'deleted and then recreated', "uid mismatch -> 409", st)
code, st = tr({"kind": "Pod", "apiVersion": "v1", "name": "nope"})
check(code == 404 and st.get("message") == 'pods "nope" not found', "missing pod -> 404", st)
code, st = tr(ref, sa_name="quiet")
check(code == 400 and st.get("message") == 'cannot bind token for serviceaccount "quiet" to pod running with different serviceaccount name.',
      "other account's pod -> 400", st)
code, st = tr({"kind": "ConfigMap", "apiVersion": "v1", "name": "x"})
check(code == 400 and st.get("message") == 'cannot bind token for serviceaccount "default" to object of type "/v1, Kind=ConfigMap"',
      "unsupported kind -> 400", st)
code, st = tr(exp=599)
check(code == 422 and "may not specify a duration less than 10 minutes" in st.get("message", ""), "599 s -> 422", st)
# Delete the pod (unscheduled: gone at once); its token stops working, an unbound one does not.
code, plain = tr()
code, _ = call("DELETE", NS + "/pods/p1")
check(code == 200, "delete p1")
code, _ = call("GET", NS + "/pods", token=tok)
check(code == 401, "bound token rejected once the pod is gone", code)
code, _ = call("GET", NS + "/pods", token=plain["status"]["token"])
check(code == 200, "unbound token still accepted", code)
# Recreated under the same name: another uid, still rejected.
code, _ = call("POST", NS + "/pods", pod("p1"))
code, _ = call("GET", NS + "/pods", token=tok)
check(code == 401, "bound token rejected for a recreated pod (other uid)", code)

# 7. Bound to a Secret.
code, sec = call("POST", NS + "/secrets", {"metadata": {"name": "s1"}, "stringData": {"a": "b"}})
code, out = tr({"kind": "Secret", "apiVersion": "v1", "name": "s1", "uid": sec["metadata"]["uid"]})
stok = out.get("status", {}).get("token", "")
check(code == 201 and claims(stok)["kubernetes.io"].get("secret") == {"name": "s1", "uid": sec["metadata"]["uid"]},
      "secret claims", out)
code, _ = call("GET", NS + "/pods", token=stok)
check(code == 200, "secret-bound token accepted")
call("DELETE", NS + "/secrets/s1")
code, _ = call("GET", NS + "/pods", token=stok)
check(code == 401, "secret-bound token rejected once the secret is gone", code)

# 8. --disable-admission-plugins=ServiceAccount: no lookup, no volume (name still defaulted).
code, _ = call("POST", "/api/v1/namespaces", {"metadata": {"name": "nosa"}})
code, obj = call("POST", "/api/v1/namespaces/nosa/pods", pod("q"), api=API2)
check(code == 201 and obj["spec"].get("serviceAccountName") == "default" and not obj["spec"].get("volumes"),
      "plugin disabled: created without an account or volume", obj)

if bad:
    print("FAIL:\n  " + "\n  ".join(bad))
    sys.exit(1)
PYEOF
rc=$?
if [ $rc = 0 ]; then echo "PASS: apiserver_serviceaccount"; exit 0; fi
kc_dump_logs
exit 1
