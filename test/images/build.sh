#!/bin/sh
# Build the test images offline (RUNTIME.md section 2), as OCI-layout tarballs:
#   $OUT/busybox-oci.tar  ref "1.35": import with base name docker.io/library/busybox
#   $OUT/pause-oci.tar    ref "3.6":  import with base name registry.k8s.io/pause
# busybox comes from Debian's busybox-static; pause is kubelet/pause/pause.c built
# static.  Idempotent: an archive newer than its inputs is kept (a re-run takes ~0 s).
# Usage: test/images/build.sh [OUT]     (default: $KUBEC_BUILD/images or build/images)
# Exit 77 when umoci / busybox-static / a C compiler is missing.
set -eu
ROOT=${KUBEC_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
OUT=${1:-${KUBEC_BUILD:-$ROOT/build}/images}
BUSYBOX=/bin/busybox
CC=${CC:-cc}
command -v umoci >/dev/null 2>&1 || { echo "build.sh: umoci missing (apt-get install umoci)"; exit 77; }
[ -x "$BUSYBOX" ] && "$BUSYBOX" --list-full >/dev/null 2>&1 || { echo "build.sh: $BUSYBOX (busybox-static) missing"; exit 77; }
command -v "$CC" >/dev/null 2>&1 || { echo "build.sh: no C compiler"; exit 77; }
mkdir -p "$OUT"
SELF="$ROOT/test/images/build.sh"
PAUSE_SRC="$ROOT/kubelet/pause/pause.c"

fresh() { # fresh TARGET INPUT...: target exists and is newer than every input
	t=$1; shift
	[ -s "$t" ] || return 1
	for i in "$@"; do [ "$t" -nt "$i" ] || return 1; done
	return 0
}

build_busybox() {
	W=$(mktemp -d "$OUT/.busybox.XXXXXX")
	L="$W/layout"
	umoci init --layout "$L"
	umoci new --image "$L:1.35"
	umoci unpack --image "$L:1.35" "$W/bundle" >/dev/null
	R="$W/bundle/rootfs"
	mkdir -p "$R/bin" "$R/sbin" "$R/usr/bin" "$R/usr/sbin" "$R/tmp" "$R/etc" "$R/root" \
		"$R/proc" "$R/sys" "$R/dev" "$R/var/www"
	chmod 1777 "$R/tmp"
	cp "$BUSYBOX" "$R/bin/busybox"
	for a in $("$BUSYBOX" --list-full); do
		[ "$a" = bin/busybox ] || ln -sf /bin/busybox "$R/$a"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$R/etc/passwd"
	printf 'root:x:0:\nnobody:x:65534:\n' >"$R/etc/group"
	echo '<h1>hello from busybox httpd</h1>' >"$R/var/www/index.html"
	umoci repack --image "$L:1.35" "$W/bundle"
	umoci config --image "$L:1.35" --os linux --architecture amd64 \
		--config.env PATH=/usr/sbin:/usr/bin:/sbin:/bin --config.cmd sh --config.workingdir /
	umoci gc --layout "$L"
	tar -C "$L" -cf "$W/busybox-oci.tar" oci-layout index.json blobs
	mv "$W/busybox-oci.tar" "$OUT/busybox-oci.tar"
	rm -rf "$W"
}

build_pause() {
	W=$(mktemp -d "$OUT/.pause.XXXXXX")
	L="$W/layout"
	"$CC" -static -O2 -o "$W/pause" "$PAUSE_SRC"
	strip "$W/pause" 2>/dev/null || true
	umoci init --layout "$L"
	umoci new --image "$L:3.6"
	umoci insert --image "$L:3.6" "$W/pause" /pause
	umoci config --image "$L:3.6" --os linux --architecture amd64 \
		--config.entrypoint /pause --config.user 65535:65535
	umoci gc --layout "$L"
	tar -C "$L" -cf "$W/pause-oci.tar" oci-layout index.json blobs
	mv "$W/pause-oci.tar" "$OUT/pause-oci.tar"
	rm -rf "$W"
}

if fresh "$OUT/busybox-oci.tar" "$SELF" "$BUSYBOX"; then :; else build_busybox; fi
if fresh "$OUT/pause-oci.tar" "$SELF" "$PAUSE_SRC"; then :; else build_pause; fi
echo "images: $OUT/busybox-oci.tar (docker.io/library/busybox:1.35) $OUT/pause-oci.tar (registry.k8s.io/pause:3.6)"
