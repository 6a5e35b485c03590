#!/usr/bin/env python3
"""Closed-loop HTTP load for the chaos suite: THREADS keep-alive connections GET the PATHS in
turn for SECS seconds with a bearer token; writes one CSV line per request:
`start_unix_ns,path,status,latency_ms,retry_after` (status 0 = connection error or timeout).

    load.py URL TOKEN SECS THREADS OUT.csv PATH [PATH...]
"""
import http.client
import sys
import threading
import time
from urllib.parse import urlparse

url, token, secs, threads, out = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
paths = sys.argv[6:]
host = urlparse(url)
deadline = time.time() + secs
results = []
lock = threading.Lock()


def worker(n):
    conn = None
    mine = []
    i = n
    while time.time() < deadline:
        path = paths[i % len(paths)]
        i += 1
        start = time.time_ns()
        status, retry_after = 0, ""
        try:
            if conn is None:
                conn = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
            conn.request("GET", path, headers={"authorization": f"Bearer {token}"})
            resp = conn.getresponse()
            resp.read()
            status = resp.status
            retry_after = resp.getheader("retry-after") or ""
        except Exception:
            if conn is not None:
                conn.close()
            conn = None
            time.sleep(0.01)  # a refused connection fails at once: do not spin
        mine.append((start, path, status, (time.time_ns() - start) / 1e6, retry_after))
    with lock:
        results.extend(mine)


ts = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
for t in ts:
    t.start()
for t in ts:
    t.join()
with open(out, "w") as f:
    for r in sorted(results):
        f.write(f"{r[0]},{r[1]},{r[2]},{r[3]:.2f},{r[4]}\n")
