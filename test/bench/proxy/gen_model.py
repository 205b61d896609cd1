#!/usr/bin/python3
"""Write a v1 List of N ClusterIP Services with E endpoints each (hollow endpoints:
addresses nobody answers on) for kube-proxy's benchmark. Usage: gen_model.py N E [drop]
With `drop`, service 0 loses its last endpoint (the "endpoint change" model)."""
import json
import sys

n, e = int(sys.argv[1]), int(sys.argv[2])
drop = len(sys.argv) > 3
items = []
for i in range(n):
    ip = "10.%d.%d.%d" % (96 + (i >> 16), (i >> 8) & 255, i & 255)
    items.append({"kind": "Service", "apiVersion": "v1",
                  "metadata": {"namespace": "bench", "name": "svc-%d" % i},
                  "spec": {"clusterIP": ip,
                           "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}})
    k = e - 1 if (drop and i == 0) else e
    eps = [{"addresses": ["172.%d.%d.%d" % (16 + j, (i >> 8) & 255, i & 255)],
            "conditions": {"ready": True}, "nodeName": "node1"} for j in range(k)]
    items.append({"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
                  "metadata": {"namespace": "bench", "name": "svc-%d-x" % i,
                               "labels": {"kubernetes.io/service-name": "svc-%d" % i}},
                  "addressType": "IPv4",
                  "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                  "endpoints": eps})
json.dump({"kind": "List", "apiVersion": "v1", "items": items}, sys.stdout)
