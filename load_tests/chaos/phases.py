#!/usr/bin/env python3
"""Summarises a load.py CSV around an outage: per path and phase (before the fault, during it,
after the repair) the requests, status counts, latency p50/p99/max and how many 503s carried
Retry-After; then the recovery time (repair -> the first second from which every request
succeeded).

    phases.py LOAD.csv FAULT_UNIX_NS REPAIR_UNIX_NS
"""
import sys
from collections import Counter, defaultdict

rows = []
for line in open(sys.argv[1]):
    start, path, status, latency, retry_after = line.rstrip("\n").split(",")
    rows.append((int(start), path, int(status), float(latency), retry_after))
fault, repair = int(sys.argv[2]), int(sys.argv[3])


def pct(values, p):
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


print(f"{'path':<22} {'phase':<7} {'requests':>8}  {'statuses':<26} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  503 w/ Retry-After")
paths = sorted({r[1] for r in rows})
for path in paths:
    shown_path = path if len(path) <= 22 else path[:12] + "{id}"
    for name, lo, hi in (("before", 0, fault), ("outage", fault, repair), ("after", repair, 1 << 63)):
        phase = [r for r in rows if lo <= r[0] < hi and r[1] == path]
        statuses = Counter(r[2] for r in phase)
        lat = [r[3] for r in phase]
        s503 = [r for r in phase if r[2] == 503]
        with_ra = sum(1 for r in s503 if r[4])
        shown = " ".join(f"{k if k else 'conn-err'}:{v}" for k, v in sorted(statuses.items()))
        print(f"{shown_path:<22} {name:<7} {len(phase):>8}  {shown:<26} {pct(lat, .5):>8.1f} {pct(lat, .99):>8.1f} {max(lat, default=0):>8.1f}  {with_ra}/{len(s503)}")

# Recovery: the first 1 s bucket after the repair from which no bucket has a failure.
buckets = defaultdict(lambda: [0, 0])
for r in rows:
    if r[0] >= repair:
        b = (r[0] - repair) // 1_000_000_000
        buckets[b][0] += 1
        buckets[b][1] += r[2] < 200 or r[2] >= 300
last_bad = max((b for b, (n, bad) in buckets.items() if bad), default=-1)
first_ok = min((r[0] for r in rows if r[0] >= repair + (last_bad + 1) * 1_000_000_000 and 200 <= r[2] < 300), default=None)
if first_ok is None:
    print("recovery: not within the run")
else:
    print(f"recovery: every request succeeds from {(first_ok - repair) / 1e9:.2f} s after the repair"
          f" (failures in {sum(1 for _, (n, bad) in buckets.items() if bad)} of the 1 s buckets after it)")
