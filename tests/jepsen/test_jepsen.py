"""The short Jepsen-style run for the regular suite: three scenarios of
about 40 s on a real 3-node cluster, one TAP line each. Each prints its
seed, the operations checked (ok / failed / unknown outcome) and the
faults injected; a failure prints the minimal failing history and keeps
the history and server logs. The seed is the first argument, or
$RAFTKV_JEPSEN_SEED, or random:

  RAFTKV_SERVER=build/server/raftkv-server python3 tests/jepsen/test_jepsen.py 1234
"""

import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import harness  # noqa: E402
from testlib import Tap  # noqa: E402

LOAD_SECONDS = float(os.environ.get("RAFTKV_JEPSEN_TIME", "30"))

# (TAP name, scenario in harness.SCENARIOS)
SUITE = [
    ("registers (WATCH cas): kill -9 of leader and follower, leadership transfer, "
     "a follower removed and joining again",
     "register-kill-transfer"),
    ("counters: SIGSTOP of the leader and of a minority", "counter-stop"),
    ("appends (RPUSH, LRANGE): partition of the leader from the majority, heal",
     "append-partition"),
]


def scenario(tap, name, seed):
    workload, faults = harness.SCENARIOS[name]
    res = harness.Run(harness.default_server(), workload, faults, seed,
                      duration=LOAD_SECONDS, name=name).run()
    if res.verdict == "fail":
        raise AssertionError("\n".join(res.lines()))
    tap.comment("\n".join(res.lines()))
    if res.verdict == "unknown":
        tap.comment("the checker gave up on a key (search bound); not a failure")


def main():
    if len(sys.argv) > 1:
        seed = int(sys.argv[1])
    elif os.environ.get("RAFTKV_JEPSEN_SEED"):
        seed = int(os.environ["RAFTKV_JEPSEN_SEED"])
    else:
        seed = random.randrange(1 << 31)
    tap = Tap()
    tap.comment("seed %d (rerun: RAFTKV_JEPSEN_SEED=%d)" % (seed, seed))
    for title, name in SUITE:
        tap.run(title, scenario, tap, name, seed)
    tap.finish()


if __name__ == "__main__":
    main()
