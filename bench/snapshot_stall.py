#!/usr/bin/python3
"""How long a snapshot holds the event loop (issue 5).

libraft 0.22 calls the FSM's snapshot() synchronously on the loop thread,
so a snapshot of a big keyspace is a loop stall. This starts one
raftkv-server, loads N keys (16-byte keys, 32-byte values, pipelined
MSETs of 1000), keeps writing until several snapshots were taken, and
prints what the node itself measured: each snapshot's time on the loop
(snapshot_taken lines), the worst event-loop lag window and the
heartbeat_gap events the stall caused.

Usage: bench/snapshot_stall.py [BUILD_DIR/server/raftkv-server] [N]
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import redis

binary = sys.argv[1] if len(sys.argv) > 1 else "build/server/raftkv-server"
n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000000


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


root = tempfile.mkdtemp(prefix="raftkv-snapbench-")
rp, pp, hp = free_port(), free_port(), free_port()
log = open(os.path.join(root, "log"), "wb")
proc = subprocess.Popen([binary, "--data-dir", os.path.join(root, "d"),
                         "--redis", "127.0.0.1:%d" % rp, "--peer", "127.0.0.1:%d" % pp,
                         "--http", "127.0.0.1:%d" % hp, "--snapshot-threshold", "300",
                         "--loop-monitor-interval-ms", "1000"], stderr=log)
try:
    c = redis.Redis(port=rp, socket_timeout=60)
    for _ in range(100):
        try:
            c.ping()
            break
        except redis.exceptions.ConnectionError:
            time.sleep(0.05)
    p = c.pipeline(transaction=False)
    for b in range(n // 1000):
        p.mset({"k%015d" % (b * 1000 + i): "v" * 32 for i in range(1000)})
        if b % 50 == 49:
            p.execute()
    p.execute()
    for i in range(1000):
        c.set("x%d" % i, "y")
    time.sleep(2.5)
finally:
    proc.terminate()
    proc.wait()
    log.close()
events = []
with open(os.path.join(root, "log"), "rb") as f:
    for line in f:
        try:
            events.append(json.loads(line))
        except ValueError:
            pass
shutil.rmtree(root, ignore_errors=True)
snaps = [e["msg"] for e in events if e.get("event") == "snapshot_taken"]
for m in snaps[-3:]:
    print(m)
lag = max((e["max_ms"] for e in events if e.get("event") == "event_loop_lag"), default=0)
gaps = [(e["duty"], e["severity"], e["late_ms"]) for e in events if e.get("event") == "heartbeat_gap"]
print("worst event_loop_lag window max: %.0f ms" % lag)
print("heartbeat_gap events: %d (%s)" % (len(gaps), ", ".join("%s %s %dms" % g for g in gaps[-6:])))
