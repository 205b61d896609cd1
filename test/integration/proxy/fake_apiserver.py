#!/usr/bin/python3
"""A minimal stand-in for kube-apiserver, for kube-proxy's integration test.

Serves list and watch for /api/v1/services and /apis/discovery.k8s.io/v1/endpointslices
from a directory:
  <dir>/model.json               a v1 List of Services and EndpointSlices (the lists)
  <dir>/events-services.jsonl    watch events, one JSON per line, appended by the test
  <dir>/events-endpointslices.jsonl
A watch streams (chunked) every line appended to the events file after it started.
Listens on 127.0.0.1:<port from bind(0)> and writes the port to <dir>/port.
"""
import json
import os
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs

DIR = sys.argv[1]
KINDS = {
    "/api/v1/services": ("Service", "ServiceList", "v1", "services"),
    "/apis/discovery.k8s.io/v1/endpointslices":
        ("EndpointSlice", "EndpointSliceList", "discovery.k8s.io/v1", "endpointslices"),
}


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("fake-apiserver: " + (fmt % args) + "\n")

    def do_GET(self):
        u = urlparse(self.path)
        q = parse_qs(u.query)
        if u.path not in KINDS:
            body = b'{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}'
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        kind, list_kind, api_version, res = KINDS[u.path]
        if q.get("watch", [""])[0] in ("1", "true"):
            self.watch(res, int(q.get("timeoutSeconds", ["300"])[0]))
            return
        with open(os.path.join(DIR, "model.json")) as f:
            model = json.load(f)
        items = [i for i in model.get("items", []) if i.get("kind") == kind]
        body = json.dumps({"kind": list_kind, "apiVersion": api_version,
                           "metadata": {"resourceVersion": "1"}, "items": items}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def watch(self, res, timeout):
        path = os.path.join(DIR, "events-%s.jsonl" % res)
        try:
            off = os.path.getsize(path)
        except OSError:
            off = 0
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        deadline = time.time() + min(timeout, 300)
        try:
            while time.time() < deadline:
                data = b""
                try:
                    with open(path, "rb") as f:
                        f.seek(off)
                        data = f.read()
                except OSError:
                    pass
                cut = data.rfind(b"\n") + 1
                if cut:
                    off += cut
                    chunk = data[:cut]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
                time.sleep(0.02)
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
with open(os.path.join(DIR, "port.tmp"), "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(os.path.join(DIR, "port.tmp"), os.path.join(DIR, "port"))
srv.serve_forever()
