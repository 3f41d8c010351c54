"""Unit tests of checker.py: histories it must accept (overlapping ops with
several valid orders, unknown outcomes that did or did not happen) and
histories it must reject (stale read, lost acknowledged write, duplicated
increment, a value never written, a cas that won twice, lost or duplicated
or reordered appends). Prints TAP."""

import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from checker import (Op, check_append, check_counter, check_history, fmt_op,  # noqa: E402
                     load_history, save_history, search, RegisterModel, CounterModel)
from testlib import Tap  # noqa: E402

tap = Tap()


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def op(p, f, key, a, b, value=None, out=None, type="ok"):
    """An op of process p on key over [a, b]; b None: unknown outcome."""
    if b is None and type == "ok":
        type = "info"
    return Op(p, key, f, value, out, type, float(a), None if b is None else float(b))


def w(p, a, b, v, key="x"):
    return op(p, "write", key, a, b, value=v)


def r(p, a, b, v, key="x"):
    return op(p, "read", key, a, b, out=v)


def cas(p, a, b, old, new, won, key="x"):
    return op(p, "cas", key, a, b, value=(old, new), out=won)


def inc(p, a, b, v, key="c"):
    return op(p, "incr", key, a, b, out=v)


def app(p, a, b, tok, length, key="l"):
    return op(p, "append", key, a, b, value=tok, out=length)


def cr(p, a, b, v, key="c", final=True):
    o = op(p, "read", key, a, b, out=v)
    o.final = final
    return o


def ar(p, a, b, v, key="l", final=True):
    o = op(p, "read", key, a, b, out=v)
    o.final = final
    return o


def accepts(model, hist):
    rep = check_history(hist, model)
    assert rep.verdict == "ok", rep.summary() + "\n" + rep.text()
    return rep


def rejects(model, hist, *words):
    rep = check_history(hist, model)
    assert rep.verdict == "fail", "accepted a bad history: " + rep.summary()
    text = rep.text()
    for word in words:
        assert word in text, "%r not in the report:\n%s" % (word, text)
    return rep


def simulate(rng, model_name, procs, n, keys, p_unknown):
    """A history of a truly linearizable system: every op takes effect at
    a random point inside its interval (an unknown one anywhere later, or
    never), outputs computed in that order."""
    t = [0.0] * procs
    plans = []
    for i in range(n):
        p = rng.randrange(procs)
        a = t[p] + rng.random() * 0.5
        lp = a + rng.random()
        b = lp + rng.random()
        t[p] = b
        key = "k%d" % rng.randrange(keys)
        unknown = rng.random() < p_unknown
        if model_name == "register":
            f = rng.choice(["read", "write", "write", "cas", "swap"])
        else:
            f = rng.choice(["read", "incr", "incr"])
        if unknown and f != "read":
            lp = lp + rng.random() * 5 if rng.random() < 0.7 else None
        plans.append([p, key, f, a, b, lp, unknown, i])
    state = {}
    ops = []
    for p, key, f, a, b, lp, unknown, i in sorted(plans, key=lambda x: (x[5] is None, x[5] or 0)):
        s = state.get(key, None if model_name == "register" else 0)
        value, out = None, None
        if f == "read":
            out = s
        elif f == "write":
            value = "v%d" % i
            s = value
        elif f == "swap":
            value, out, s = "v%d" % i, s, "v%d" % i
        elif f == "cas":
            old = s if rng.random() < 0.5 else "v%d" % rng.randrange(n)
            value = (old, "v%d" % i)
            out = s == old
            if out:
                s = value[1]
        elif f == "incr":
            s += 1
            out = s
        if lp is not None:
            state[key] = s
        if unknown and f != "read":
            ops.append(Op(p, key, f, value, None, "info", a, None))
        elif lp is None:
            continue
        else:
            ops.append(Op(p, key, f, value, out, "ok", a, b))
    ops.sort(key=lambda o: o.invoke)
    return ops


# ---------------------------------------------------------------------------
# Register: must accept
# ---------------------------------------------------------------------------

def t_register_sequential():
    accepts("register", [r(1, 0, 1, None), w(1, 2, 3, "a"), r(2, 4, 5, "a"),
                         w(2, 6, 7, "b"), r(1, 8, 9, "b")])


def t_register_overlapping_writes_either_order():
    # w(a) and w(b) overlap: reads after both may see either, but all such
    # reads agree; a read overlapping both may see a, b or nil.
    for final in ("a", "b"):
        accepts("register", [w(1, 0, 10, "a"), w(2, 1, 9, "b"), r(3, 2, 3, None),
                             r(4, 4, 5, "b" if final == "a" else "a"),
                             r(3, 11, 12, final), r(4, 13, 14, final)])


def t_register_concurrent_reads_see_old_and_new():
    # Reads concurrent with a write may see the old or the new value, but a
    # read that starts after one saw the new value must see it too.
    accepts("register", [w(1, 0, 1, "a"), w(1, 2, 10, "b"), r(2, 3, 4, "a"),
                         r(3, 3, 5, "b"), r(2, 6, 7, "b"), r(4, 5.5, 9, "b")])


def t_register_unknown_write_that_happened():
    # The client lost the reply; the write took effect late.
    accepts("register", [w(1, 0, 1, "a"), w(2, 2, None, "b"), r(3, 3, 4, "a"),
                         r(3, 20, 21, "b"), r(4, 22, 23, "b")])


def t_register_unknown_write_that_never_happened():
    accepts("register", [w(1, 0, 1, "a"), w(2, 2, None, "b"), r(3, 3, 4, "a"),
                         r(3, 20, 21, "a"), r(4, 30, 31, "a")])


def t_register_failed_write_is_ignored():
    accepts("register", [w(1, 0, 1, "a"), op(2, "write", "x", 2, 3, value="b", type="fail"),
                         r(3, 4, 5, "a")])


def t_register_cas_and_swap():
    accepts("register", [w(1, 0, 1, "a"), cas(1, 2, 3, "a", "b", True),
                         cas(2, 2.5, 4, "a", "c", False), cas(3, 5, 6, "b", "c", True),
                         op(4, "swap", "x", 7, 8, value="d", out="c"), r(1, 9, 10, "d")])


def t_register_unknown_cas_may_or_may_not_apply():
    accepts("register", [w(1, 0, 1, "a"), cas(2, 2, None, "a", "b", None),
                         r(3, 3, 4, "a"), r(3, 5, 6, "b")])
    accepts("register", [w(1, 0, 1, "a"), cas(2, 2, None, "z", "b", None),
                         r(3, 3, 4, "a"), r(3, 5, 6, "a")])


def t_register_keys_are_independent():
    accepts("register", [w(1, 0, 1, "a", "x"), w(1, 2, 3, "b", "y"),
                         r(2, 4, 5, "a", "x"), r(2, 6, 7, "b", "y"), r(2, 8, 9, None, "z")])


def t_register_random_linearizable_histories():
    rng = random.Random(42)
    for _ in range(30):
        hist = simulate(rng, "register", procs=10, n=400, keys=3, p_unknown=0.1)
        accepts("register", hist)


def t_register_roundtrip_through_a_file():
    hist = [w(1, 0, 1, "a"), cas(2, 2, 3, "a", "b", True), r(3, 4, None, None)]
    path = "/tmp/raftkv-jepsen-checker-%d.jsonl" % os.getpid()
    try:
        save_history(hist, path)
        back = load_history(path)
    finally:
        os.unlink(path)
    assert [fmt_op(o) for o in back] == [fmt_op(o) for o in hist]


# ---------------------------------------------------------------------------
# Register: must reject
# ---------------------------------------------------------------------------

def t_register_stale_read_after_completed_write():
    rep = rejects("register", [w(1, 0, 1, "a"), w(1, 2, 3, "b"), r(2, 4, 5, "a")],
                  "key x: not linearizable", "read x -> 'a'")
    # The explanation names the op whose return broke it.
    assert "! p2" in rep.text(), rep.text()


def t_register_lost_acknowledged_write():
    rejects("register", [w(1, 0, 1, "a"), w(2, 2, 3, "b"), r(3, 10, 11, "a"),
                         r(3, 12, 13, "a")])
    rejects("register", [w(1, 0, 1, "a"), r(3, 10, 11, None)])


def t_register_read_of_value_never_written():
    rejects("register", [w(1, 0, 1, "a"), r(2, 2, 3, "zz")], "read x -> 'zz'")


def t_register_nonmonotonic_reads():
    # Two reads in real-time order during a long write: new then old.
    rejects("register", [w(1, 0, 1, "a"), w(1, 2, 20, "b"), r(2, 3, 4, "b"),
                         r(3, 5, 6, "a")])


def t_register_cas_won_twice_from_same_value():
    rejects("register", [w(1, 0, 1, "a"), cas(2, 2, 5, "a", "b", True),
                         cas(3, 2, 5, "a", "c", True)])


def t_register_failed_write_that_took_effect():
    rejects("register", [w(1, 0, 1, "a"), op(2, "write", "x", 2, 3, value="b", type="fail"),
                         r(3, 4, 5, "b")])


def t_register_minimal_prefix_is_reported():
    # A long valid history, then one stale read: the report shows that read
    # and not the whole history.
    hist = []
    t = 0
    for i in range(200):
        hist.append(w(1, t, t + 1, "v%d" % i))
        hist.append(r(2, t + 1.5, t + 2, "v%d" % i))
        t += 3
    hist.append(r(3, t, t + 1, "v150"))
    rep = rejects("register", hist, "read x -> 'v150'")
    assert rep.text().count("\n") < 40, rep.text()


# ---------------------------------------------------------------------------
# Counter
# ---------------------------------------------------------------------------

def t_counter_concurrent_incrs_any_order():
    accepts("counter", [inc(1, 0, 10, 2), inc(2, 1, 9, 3), inc(3, 2, 8, 1),
                        cr(1, 11, 12, 3)])


def t_counter_unknown_incrs_some_applied():
    hist = [inc(1, 0, 1, 1), inc(2, 2, None, None), inc(3, 3, None, None),
            inc(1, 4, 5, 3), cr(1, 6, 7, 3, final=False), cr(2, 20, 21, 4)]
    accepts("counter", hist)
    assert check_counter(hist) == []


def t_counter_many_unknown_incrs_stay_cheap():
    # 40 timed-out INCRs, 17 of which applied: symmetric unknowns are tried
    # in order, so the search does not branch on which 17.
    hist = [inc(p, p, None, None) for p in range(40)]
    hist.append(cr(99, 100, 101, 17))
    t0 = time.monotonic()
    accepts("counter", hist)
    assert time.monotonic() - t0 < 5


def t_counter_random_linearizable_histories():
    rng = random.Random(7)
    for _ in range(30):
        accepts("counter", simulate(rng, "counter", procs=10, n=400, keys=2, p_unknown=0.1))


def t_counter_duplicated_apply():
    # Two acknowledged INCRs, no unknown one, yet the counter reads 3: one
    # was applied twice (a retried forward applied again).
    rep = rejects("counter", [inc(1, 0, 1, 1), inc(2, 2, 3, 2), cr(3, 4, 5, 3)],
                  "final value 3 outside [2 acknowledged, 2 acknowledged + unknown]")
    assert "not linearizable" in rep.text()


def t_counter_same_reply_twice():
    rejects("counter", [inc(1, 0, 2, 1), inc(2, 0, 2, 1), cr(3, 4, 5, 2)],
            "returned the same value 1")


def t_counter_lost_increment():
    rejects("counter", [inc(1, 0, 1, 1), inc(2, 2, 3, 2), cr(3, 4, 5, 1)],
            "final value 1 outside")


def t_counter_stale_read():
    rejects("counter", [inc(1, 0, 1, 1), inc(1, 2, 3, 2), cr(2, 4, 5, 1, final=False),
                        cr(2, 6, 7, 2)],
            "not linearizable")


# ---------------------------------------------------------------------------
# Append-only strings (the list workload)
# ---------------------------------------------------------------------------

def t_append_concurrent_and_unknown():
    hist = [app(1, 0, 1, "c1:0;", 5), app(2, 2, 6, "c2:0;", 15), app(3, 3, 5, "c3:0;", 10),
            app(4, 3, None, "c4:0;", None), app(5, 3, None, "c5:0;", None),
            ar(6, 3.5, 4, "c1:0;", final=False),
            ar(1, 7, 8, "c1:0;c3:0;c2:0;c5:0;", final=False),
            ar(2, 20, 21, "c1:0;c3:0;c2:0;c5:0;")]
    rep = accepts("append", hist)
    assert rep.problems == []


def t_append_lost_acknowledged():
    rejects("append", [app(1, 0, 1, "c1:0;", 5), app(2, 2, 3, "c2:0;", 10),
                       ar(3, 4, 5, "c1:0;")], "acknowledged append lost", "not linearizable")


def t_append_duplicated_token():
    rejects("append", [app(1, 0, 1, "c1:0;", 5), app(2, 0, None, "c2:0;", None),
                       ar(3, 4, 5, "c1:0;c2:0;c2:0;")], "appears more than once")


def t_append_client_order():
    # c1 appended 0 and then 1, yet 1 comes first.
    rejects("append", [app(1, 0, 1, "c1:0;", 10), app(1, 2, 3, "c1:1;", 5),
                       ar(2, 4, 5, "c1:1;c1:0;")], "order:")


def t_append_never_written_and_wrong_offset():
    rejects("append", [app(1, 0, 1, "c1:0;", 5), ar(2, 4, 5, "c1:0;c9:9;")],
            "never appended")
    rejects("append", [app(1, 0, 1, "c1:0;", 7), ar(2, 4, 5, "c1:0;")],
            "returned 7")


def t_append_direct_checks_agree_with_search():
    hist = [app(1, 0, 1, "c1:0;", 5), ar(2, 2, 3, "c1:0;")]
    assert check_append(hist) == []


# ---------------------------------------------------------------------------
# Lists (RPUSH / LRANGE): the same model, lengths in elements
# ---------------------------------------------------------------------------

def push(p, a, b, tok, length, key="l"):
    return op(p, "push", key, a, b, value=tok, out=length)


def lr(p, a, b, toks, final=True):
    return ar(p, a, b, tuple(toks), final=final)


def t_list_concurrent_and_unknown():
    hist = [push(1, 0, 1, "c1:0;", 1), push(2, 2, 6, "c2:0;", 3), push(3, 3, 5, "c3:0;", 2),
            push(4, 3, None, "c4:0;", None), push(5, 3, None, "c5:0;", None),
            lr(6, 3.5, 4, ["c1:0;"], final=False),
            lr(1, 7, 8, ["c1:0;", "c3:0;", "c2:0;", "c5:0;"], final=False),
            lr(2, 20, 21, ["c1:0;", "c3:0;", "c2:0;", "c5:0;"])]
    rep = accepts("append", hist)
    assert rep.problems == []
    # A history saved as JSON loads the reads as lists: same verdict.
    for o in hist:
        if o.f == "read":
            o.out = list(o.out)
    accepts("append", hist)


def t_list_lost_duplicated_reordered():
    rejects("append", [push(1, 0, 1, "c1:0;", 1), push(2, 2, 3, "c2:0;", 2),
                       lr(3, 4, 5, ["c1:0;"])], "acknowledged append lost",
            "not linearizable")
    rejects("append", [push(1, 0, 1, "c1:0;", 1), push(2, 0, None, "c2:0;", None),
                       lr(3, 4, 5, ["c1:0;", "c2:0;", "c2:0;"])], "appears more than once")
    rejects("append", [push(1, 0, 1, "c1:0;", 2), push(1, 2, 3, "c1:1;", 1),
                       lr(2, 4, 5, ["c1:1;", "c1:0;"])], "order:")
    rejects("append", [push(1, 0, 1, "c1:0;", 2), lr(2, 4, 5, ["c1:0;"])], "returned 2")


# ---------------------------------------------------------------------------
# Bounds
# ---------------------------------------------------------------------------

def t_search_gives_up_instead_of_hanging():
    # Many overlapping writes of distinct values that are all read later in
    # an impossible order: with a tiny step budget the answer is "unknown".
    hist = [w(p, 0, 100, "v%d" % p) for p in range(14)]
    hist += [r(20 + p, 101 + 2 * p, 102 + 2 * p, "v%d" % p) for p in range(14)]
    m = RegisterModel()
    res = search(m.prepare(sorted(hist, key=lambda o: o.invoke)), m, max_steps=500)
    assert res.verdict == "unknown", res.verdict
    rep = check_history(hist, "register", max_steps=500)
    assert rep.verdict in ("unknown", "fail"), rep.verdict


def t_counter_model_prepare_drops_failed():
    m = CounterModel()
    assert len(m.prepare([inc(1, 0, 1, 1), op(2, "incr", "c", 0, 1, type="fail"),
                          r(3, 0, None, None)])) == 1


for name, fn in list(globals().items()):
    if name.startswith("t_") and callable(fn):
        tap.run(name[2:], fn)
tap.finish()
