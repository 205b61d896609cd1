#!/usr/bin/python3
"""wait_health.py URL SECONDS: polls URL/health until {"health":"true"} or the deadline."""
import json
import sys
import time
import urllib.request

url, limit = sys.argv[1], float(sys.argv[2])
deadline = time.monotonic() + limit
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(url + "/health", timeout=1) as r:
            if json.loads(r.read()).get("health") == "true":
                sys.exit(0)
    except (OSError, ValueError):
        pass
    time.sleep(0.05)  # polling interval of a readiness probe, not synchronisation
sys.exit(1)
