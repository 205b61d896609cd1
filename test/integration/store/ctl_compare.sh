#!/bin/sh
# ctl_compare.sh STORECTL REF_URL CAND_URL: kube-storectl vs etcdctl (see ctl_compare.py).
[ -x /usr/bin/etcdctl ] || { echo "SKIP: etcdctl missing"; exit 77; }
DIR=$(dirname "$0")
exec /usr/bin/python3 "$DIR/ctl_compare.py" "$@"
