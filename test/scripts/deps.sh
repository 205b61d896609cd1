#!/bin/sh
# Install, from Debian's packages, everything kubec needs to build, test and run.
# Idempotent: when every package is already installed it only runs dpkg-query.
set -eu

PKGS="
build-essential pkg-config clang libclang-rt-14-dev
libmicrohttpd-dev libgnutls28-dev libcurl4-openssl-dev libcjson-dev libssl-dev
libprotobuf-c-dev protobuf-c-compiler libyaml-dev libnghttp2-dev libjemalloc-dev check
openssl curl ca-certificates iproute2 procps psmisc jq python3 python3-kubernetes python3-yaml
containerd runc containernetworking-plugins iptables conntrack
umoci skopeo busybox-static docker-registry
etcd-server etcd-client
"

missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	case "$st" in
	ii*) ;;
	*) missing="$missing $p" ;;
	esac
done

if [ -z "$missing" ]; then
	echo "deps: all packages present"
	exit 0
fi

echo "deps: installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists; a stale one may point at removed versions.
if ! $SUDO apt-get install -y --no-install-recommends $missing; then
	$SUDO apt-get update
	$SUDO apt-get install -y --no-install-recommends $missing
fi
