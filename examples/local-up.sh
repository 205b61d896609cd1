#!/bin/sh
# Start (or stop) a local one-node kubec cluster from build/bin, all state in .run/:
#   examples/local-up.sh up     build the images, start containerd (CNI bridge kubec0 on
#                               10.244.0.0/24), kube-store, kube-apiserver,
#                               kube-controller-manager, kube-scheduler, kubelet and
#                               kube-proxy; apply examples/web.yaml, wait until it serves,
#                               curl the Service; print how to use it.  A second `up` stops
#                               the running cluster and starts a fresh one (the PKI and the
#                               kubeconfig are kept, so KUBECONFIG stays valid).
#   examples/local-up.sh down   stop everything `up` started (kubelet first), run
#                               `kube-proxy --cleanup`, remove the bridge, veths, netns,
#                               mounts and cgroups.
# Run as root from the repository root after `make` (make up / make down do that).
set -eu
cd "$(dirname "$0")/.."
KUBEC_ROOT=$(pwd)
KUBEC_BUILD=${KUBEC_BUILD:-$KUBEC_ROOT/build}
export KUBEC_ROOT KUBEC_BUILD
RUN=$KUBEC_ROOT/.run

# The helper is written for `set -u` shells that test return codes themselves.
set +e
. "$KUBEC_ROOT/test/e2e/lib/flow_cluster.sh"

die() {
	echo "make up: $*" >&2
	echo "logs: $RUN/logs (make down stops what was started)" >&2
	exit 1
}

# poll SECONDS CMD...: until CMD succeeds
poll() {
	end=$(($(date +%s) + $1)); shift
	while [ "$(date +%s)" -lt "$end" ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	return 1
}

web_ready() {
	n=$(kubectl get pods -l app=web -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -cx True)
	[ "$n" = 3 ]
}

web_endpoints() {
	kubectl get endpointslices -l kubernetes.io/service-name=web \
		-o jsonpath='{.items[*].endpoints[*].addresses[*]}' | grep -q .
}

down() {
	if [ ! -f "$RUN/cluster.env" ]; then
		# pid files of the earlier local-up.sh (control plane only, no containerd)
		FLOW_DIR=$RUN
		for pf in "$RUN"/*.pid; do
			[ -f "$pf" ] && _flow_stop "$(basename "$pf" .pid)"
		done
		echo "no kubec cluster recorded in $RUN/cluster.env: nothing else to stop"
		return 0
	fi
	flow_down "$RUN"
	# the daemons' state goes; the PKI and kubeconfig stay for the next `make up`.  Nothing
	# may still be mounted under it (rm -rf would follow into a mount).
	awk -v d="$RUN/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m"
	done
	rm -rf "$RUN/store" "$RUN/kubelet" "$RUN/pod-logs"
	echo "kubec local cluster stopped"
}

up() {
	[ "$(id -u)" = 0 ] || die "must run as root (containerd, iptables, cgroups)"
	flow_require
	if [ -f "$RUN/cluster.env" ]; then
		echo "a kubec cluster is recorded in $RUN: stopping it first"
		down
	fi
	if flow_proxy_running; then
		die "another kube-proxy runs on this host (an e2e test?); its iptables chains would clash"
	fi
	ip link show kubec0 >/dev/null 2>&1 && die "bridge kubec0 exists but no cluster is recorded in $RUN; remove it (ip link del kubec0)"
	echo "building the images (test/images/build.sh)"
	sh "$KUBEC_ROOT/test/images/build.sh" "$KUBEC_BUILD/images" >/dev/null || die "test/images/build.sh failed"
	mkdir -p "$RUN"
	echo "starting containerd, kube-store, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy"
	flow_up "$RUN" local || { flow_dump_logs "$RUN" >&2; die "the cluster did not start"; }
	export KUBECONFIG="$RUN/admin.kubeconfig"
	kubectl apply -f "$KUBEC_ROOT/examples/web.yaml" || die "kubectl apply -f examples/web.yaml failed"
	echo "waiting for 3 Ready web pods and the Service's endpoints"
	poll 120 web_ready || { kubectl get pods -o wide; die "the web pods did not become Ready in 120 s"; }
	poll 60 web_endpoints || die "Service web has no endpoints after 60 s"
	CIP=$(kubectl get svc web -o jsonpath='{.spec.clusterIP}')
	poll 30 curl -sf --max-time 2 "http://$CIP/" || die "curl http://$CIP/ failed"
	echo
	kubectl get pods,svc -o wide
	echo
	echo "curl http://$CIP/ (Service web):"
	for i in 1 2 3 4 5 6; do
		printf '  %s\n' "$(curl -s --max-time 3 "http://$CIP/" || echo FAILED)"
	done
	NP=$(kubectl get svc web-nodeport -o jsonpath='{.spec.ports[0].nodePort}')
	. "$RUN/cluster.env"
	echo "curl http://$FLOW_NODE_IP:$NP/ (Service web-nodeport): $(curl -s --max-time 3 "http://$FLOW_NODE_IP:$NP/" || echo FAILED)"
	echo
	echo "logs and state: $RUN"
	echo "Use it with:"
	echo "  export KUBECONFIG=$RUN/admin.kubeconfig"
	echo "Stop it with: make down"
}

case "${1:-up}" in
up) up ;;
down) down ;;
*) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
