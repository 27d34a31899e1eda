#!/usr/bin/env python3
"""CPU seconds per thread of one command, natively: where a CPU ratio comes from.

    bench/thread-cpu.py [--every S] COMMAND [ARGS...]

Runs COMMAND (its standard output discarded) and polls /proc/PID/task/*/stat every S seconds
(default 0.05), keeping each thread's last user and system time; prints the wall time and, per
thread name (`sipscope` the pipeline and the rules, `sqlite-writer`, `analysis`), user+system
seconds. With --every 0.25 --series it prints the running totals at each poll instead, which
shows what a thread does after the pipeline ends (ingest's tail: the analysis' hand-over, the
alerts of a file). A thread that ends between two polls loses at most one interval. Linux only.
"""
import os
import subprocess
import sys
import time

args = sys.argv[1:]
every, series = 0.05, False
while args and args[0].startswith("--"):
    flag = args.pop(0)
    if flag == "--every":
        every = float(args.pop(0))
    elif flag == "--series":
        series = True
    else:
        sys.exit(__doc__)
if not args:
    sys.exit(__doc__)
tick = os.sysconf("SC_CLK_TCK")
proc = subprocess.Popen(args, stdout=subprocess.DEVNULL)
seen = {}
start = time.time()
while proc.poll() is None:
    try:
        tids = os.listdir(f"/proc/{proc.pid}/task")
    except OSError:
        tids = []
    for tid in tids:
        try:
            stat = open(f"/proc/{proc.pid}/task/{tid}/stat").read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        seen[tid] = (name, int(fields[11]) / tick, int(fields[12]) / tick)
    if series:
        totals = {}
        for name, user, system in seen.values():
            totals[name] = totals.get(name, 0) + user + system
        print(f"{time.time() - start:7.2f} " + " ".join(f"{n}={v:.2f}" for n, v in sorted(totals.items())))
    time.sleep(every)
totals = {}
for name, user, system in seen.values():
    u, s = totals.get(name, (0, 0))
    totals[name] = (u + user, s + system)
print(f"wall {time.time() - start:.2f} s; exit {proc.returncode}")
for name, (user, system) in sorted(totals.items()):
    print(f"  {name:<16} {user:7.2f} user {system:6.2f} system {user + system:7.2f} s")
