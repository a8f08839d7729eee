# The bench's line-heavy loop (workloads/lineHeavy.mjs) in Python, timed plain and under
# line_profiler's LineProfiler in one run; prints JSON for engine.bench.ts.
import json
import sys
import time

from line_profiler import LineProfiler


def work(n):
    a = 0
    b = 1
    for i in range(n):
        a = a + i
        b = b ^ a
        a = a & 0xFFFF
    return a + b


def best_ns(fn, n, rounds=5):
    best = None
    for _ in range(rounds):
        start = time.perf_counter_ns()
        fn(n)
        elapsed = time.perf_counter_ns() - start
        best = elapsed if best is None else min(best, elapsed)
    return best


n = int(sys.argv[1])
plain_ns = best_ns(work, n)
profiler = LineProfiler(work)
profiled = profiler(work)
profiled_ns = best_ns(profiled, n, rounds=1)
events = sum(hits for entries in profiler.get_stats().timings.values() for (_, hits, _) in entries)
print(json.dumps({"plainNs": plain_ns, "profiledNs": profiled_ns, "events": events, "version": __import__("line_profiler").__version__}))
