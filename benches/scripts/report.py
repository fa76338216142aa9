#!/usr/bin/env python3
"""Summarizes criterion results as a table of medians: time, throughput, % of the measured peak.

Usage: python3 benches/scripts/report.py [CRITERION_DIR] [FILTER]
CRITERION_DIR defaults to $CARGO_TARGET_DIR/criterion or target/criterion. Throughput is
elements/s as declared by the bench (FLOP/s for the matmul group, samples/s for tutorial); the
"% peak" column divides by the median of `peak/fma_ymm_1core` of the same directory.
"""
import json, os, sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "criterion")
filt = sys.argv[2] if len(sys.argv) > 2 else ""
rows = []
for dirpath, dirnames, filenames in os.walk(root):
    if os.path.basename(dirpath) != "new" or "estimates.json" not in filenames:
        continue
    bench = json.load(open(os.path.join(dirpath, "benchmark.json")))
    est = json.load(open(os.path.join(dirpath, "estimates.json")))
    median_ns = est["median"]["point_estimate"]
    thr = bench.get("throughput") or {}
    elems = thr.get("Elements") or thr.get("elements")
    rate = elems / median_ns if elems else None  # elements per ns = G elements/s
    rows.append((bench["full_id"], median_ns, rate))
rows.sort()
peak = next((r for (i, _, r) in rows if i.startswith("peak/")), None)
print(f"{'benchmark':<62} {'median':>11} {'G/s':>8} {'% peak':>7}")
for (i, ns, rate) in rows:
    if filt not in i:
        continue
    t = f"{ns/1000:.2f} us" if ns < 1e6 else f"{ns/1e6:.3f} ms"
    r = f"{rate:.2f}" if rate else ""
    p = f"{100*rate/peak:.1f}" if (rate and peak and i.startswith("matmul/")) else ""
    print(f"{i:<62} {t:>11} {r:>8} {p:>7}")
if peak:
    print(f"peak (measured, same run): {peak:.1f} GFLOP/s")
