"""Linearizability checker for raftkv's Jepsen-style tests.

A history is a list of Op: what a client asked (f, key, value), when it
asked (invoke, a monotonic timestamp), when the answer came (complete) and
what it was (out). Each op has a type:

  ok    the reply came and says what happened;
  fail  the operation certainly had no effect (-CLUSTERDOWN, -BUSY, a
        connection that could not be opened, any failed read);
  info  the outcome is unknown (timeout, lost connection, -UNKNOWN): the
        operation may take effect at any point after its invocation, or
        never. Its complete time is None (infinity).

The history is split by key and each key is checked on its own (a
register, a counter or an append-only string are each "local": a history
is linearizable iff each key's sub-history is, Herlihy & Wing 1990).

The search is Wing & Gong's, with Lowe's memoization ("Testing for
linearizability", 2017), as Porcupine and Knossos do it: the calls and
returns sit in a doubly linked list ordered by time; the search walks it,
linearizes a pending call whenever the model accepts it in the current
state and the pair (set of linearized ops, model state) has not been seen
before, removes ("lifts") that call and its return from the list, and
backtracks when it reaches the return of an op it has not linearized. An
op with an unknown outcome has no return entry: it may be linearized
anywhere after its call or skipped for good. Unknown ops that are
interchangeable (unknown INCRs) are tried in invocation order only,
which keeps a burst of timeouts from multiplying the states.

A search that exceeds its step or time budget answers "unknown" rather
than hang. A failing key is narrowed to its minimal failing prefix: the
earliest return after which the history stops being linearizable (a
prefix of a history cuts every later reply, turning ops still running into
unknown ones); the report shows the op whose return broke it, the ops
around it and the longest linearization the search found.

Besides the search, two direct checks explain common failures in plain
words: counters (the final value lies between the acknowledged INCRs and
those plus the unknown ones, each reply is distinct) and append-only
strings of unique tokens (every acknowledged token present exactly once at
the offset its APPEND returned, nothing never written, no duplicates, and
real-time order kept: an append that finished before another started comes
first, which also gives each client's own order).
"""

import json
import time

INF = float("inf")


# ---------------------------------------------------------------------------
# Operations
# ---------------------------------------------------------------------------

class Op:
    """One client operation. value: the argument (write value, cas pair
    (old, new), swap's new value, append token); out: the reply (read
    value, INCR result, cas success flag, swap's old value, APPEND length);
    None for nil or unknown."""

    __slots__ = ("id", "process", "key", "f", "value", "out", "type",
                 "invoke", "complete", "node", "final")

    def __init__(self, process, key, f, value=None, out=None, type="ok",
                 invoke=0.0, complete=None, node=None, final=False, id=None):
        self.id = id
        self.process = process
        self.key = key
        self.f = f
        self.value = value
        self.out = out
        self.type = type
        self.invoke = invoke
        self.complete = complete
        self.node = node
        self.final = final

    def end(self):
        return INF if self.complete is None else self.complete

    def copy(self, **kw):
        o = Op(self.process, self.key, self.f, self.value, self.out, self.type,
               self.invoke, self.complete, self.node, self.final, self.id)
        for k, v in kw.items():
            setattr(o, k, v)
        return o

    def to_dict(self):
        d = {k: getattr(self, k) for k in self.__slots__}
        if isinstance(d["value"], tuple):
            d["value"] = list(d["value"])
        return d

    @staticmethod
    def from_dict(d):
        d = dict(d)
        if isinstance(d.get("value"), list):
            d["value"] = tuple(d["value"])
        return Op(**d)


def fmt_val(v):
    if v is None:
        return "nil"
    if isinstance(v, (tuple, list)):
        items = [fmt_val(x) for x in v]
        if len(items) > 6:
            items = ["... %d more" % (len(items) - 4)] + items[-4:]
        return "(" + ", ".join(items) + ")"
    if isinstance(v, str):
        s = v if len(v) <= 48 else "..." + v[-45:]
        return repr(s)
    return repr(v)


def fmt_op(op, t0=0.0):
    """One readable line: process, interval, operation, outcome."""
    end = "   ?   " if op.complete is None else "%7.3f" % (op.complete - t0)
    if op.f == "read":
        what = "read %s" % op.key
    elif op.f == "cas":
        what = "cas %s %s->%s" % (op.key, fmt_val(op.value[0]), fmt_val(op.value[1]))
    elif op.f == "incr":
        what = "incr %s" % op.key
    else:
        what = "%s %s %s" % (op.f, op.key, fmt_val(op.value))
    if op.type == "ok":
        res = "ok" if op.f == "write" else "-> %s" % fmt_val(op.out)
    elif op.type == "fail":
        res = "failed"
    else:
        res = "unknown outcome"
    node = " @n%s" % op.node if op.node is not None else ""
    tag = " (final read)" if op.final else ""
    return "p%-3s [%7.3f, %s] %s %s%s%s" % (op.process, op.invoke - t0, end, what,
                                           res, node, tag)


def save_history(ops, path):
    with open(path, "w") as f:
        for op in ops:
            f.write(json.dumps(op.to_dict()) + "\n")


def load_history(path):
    with open(path) as f:
        return [Op.from_dict(json.loads(line)) for line in f if line.strip()]


# ---------------------------------------------------------------------------
# Models. step(state, op) -> (accepted, next state); states are hashable.
# prepare(ops) returns the ops the search must consider (without the ones
# that certainly had no effect) and may precompute per-history data.
# ---------------------------------------------------------------------------

def _effective(ops):
    """Drops ops that certainly had no effect and reads whose reply never
    came: neither constrains anything."""
    return [o for o in ops if o.type != "fail" and not (o.f == "read" and o.type != "ok")]


class RegisterModel:
    """A register: read, write v, cas (old, new) -> bool, swap new -> old
    (SET k new GET). The initial value is nil."""

    name = "register"

    def prepare(self, ops):
        ops = _effective(ops)
        # An unknown write (or swap) of a value nobody ever observed can be
        # dropped: placed anywhere, only a write, or the end, may follow it.
        # With failed cas ops that is no longer true, so keep everything.
        if any(o.f == "cas" and o.type == "ok" and not o.out for o in ops):
            return ops
        seen = set()
        for o in ops:
            if o.type == "ok" and o.f in ("read", "swap"):
                seen.add(o.out)
            if o.f == "cas":
                seen.add(o.value[0])
        return [o for o in ops if not (o.type == "info" and o.f in ("write", "swap")
                                       and o.value not in seen)]

    def init(self):
        return None

    def sig(self, op):
        return None

    def step(self, s, op):
        f = op.f
        if f == "read":
            return s == op.out, s
        if f == "write":
            return True, op.value
        if f == "cas":
            old, new = op.value
            if op.type == "info" or op.out:
                return s == old, new
            return s != old, s
        if f == "swap":
            if op.type == "info":
                return True, op.value
            return s == op.out, op.value
        raise ValueError("register model: unknown op %r" % f)

    def fmt_state(self, s):
        return fmt_val(s)


class CounterModel:
    """A counter: incr -> new value (INCR), read -> value (nil is 0)."""

    name = "counter"

    def prepare(self, ops):
        return _effective(ops)

    def init(self):
        return 0

    def sig(self, op):
        # Unknown INCRs are interchangeable.
        return "incr" if op.type == "info" and op.f == "incr" else None

    def step(self, s, op):
        if op.f == "incr":
            if op.type == "info":
                return True, s + 1
            return op.out == s + 1, s + 1
        if op.f == "read":
            return (op.out or 0) == s, s
        raise ValueError("counter model: unknown op %r" % op.f)

    def fmt_state(self, s):
        return str(s)


def _as_seq(v, lists):
    """A read's value in the model's form: a tuple of elements for lists
    (RPUSH/LRANGE; JSON histories load them as lists), a string for
    APPEND/GET."""
    if lists:
        return tuple(v or ())
    return v or ""


def _is_append(op):
    return op.f in ("append", "push")


class AppendModel:
    """An append-only sequence of unique tokens: a string grown by APPEND
    and read with GET (lengths in bytes), or a list grown by RPUSH and read
    with LRANGE 0 -1 (lengths in elements; ops "push"). The longest value
    read (F) fixes the order of everything before its end, so the state is
    just the length appended so far: an append at length s must match F at
    s (or extend past F, where no read can look), its reply must be the new
    length, and a read at s must return F[:s]."""

    name = "append"

    def __init__(self):
        self.full = ""
        self.lists = False

    def prepare(self, ops):
        ops = _effective(ops)
        self.lists = any(o.f == "push" for o in ops) or any(
            o.f == "read" and isinstance(o.out, (list, tuple)) for o in ops)
        self.full = _as_seq(None, self.lists)
        for o in ops:
            if o.f == "read" and o.out is not None:
                v = _as_seq(o.out, self.lists)
                if len(v) > len(self.full):
                    self.full = v
        return ops

    def init(self):
        return 0

    def sig(self, op):
        return None

    def step(self, s, op):
        F = self.full
        if _is_append(op):
            t = op.value
            if self.lists:
                n = s + 1
                fits = s >= len(F) or F[s] == t
            else:
                n = s + len(t)
                fits = s >= len(F) or F.startswith(t, s)
            if not fits:
                return False, s
            if op.type == "ok" and op.out != n:
                return False, s
            return True, n
        if op.f == "read":
            v = _as_seq(op.out, self.lists)
            return len(v) == s and F[:len(v)] == v, s
        raise ValueError("append model: unknown op %r" % op.f)

    def fmt_state(self, s):
        what = "elements" if self.lists else "bytes"
        return "%d %s %s" % (s, what, fmt_val(self.full[:s]) if s <= len(self.full) else "")


MODELS = {"register": RegisterModel, "counter": CounterModel, "append": AppendModel}


# ---------------------------------------------------------------------------
# The search
# ---------------------------------------------------------------------------

class SearchResult:
    def __init__(self, verdict, steps, states, depth, tail, state):
        self.verdict = verdict  # "ok", "fail" or "unknown"
        self.steps = steps
        self.states = states
        self.depth = depth      # most ops linearized at once
        self.tail = tail        # the last ops of that linearization
        self.state = state      # the model state after it


def search(ops, model, max_steps=2_000_000, deadline=None):
    """Wing-Gong-Lowe search over one key's prepared ops."""
    n = len(ops)
    # Entries: calls and returns sorted by time; at equal times calls go
    # first, so ops whose timestamps touch count as concurrent.
    ev = []
    for i, o in enumerate(ops):
        ev.append((o.invoke, 0, i))
        if o.complete is not None and o.type == "ok":
            ev.append((o.complete, 1, i))
    ev.sort()
    E = len(ev)
    head = E  # the sentinel, after the E entries in the arrays
    nxt = list(range(1, E)) + [-1] if E else []
    nxt.append(0 if E else -1)
    prv = [head] + list(range(E - 1)) if E else []
    prv.append(-1)
    is_call = [k == 0 for _, k, _ in ev]
    opi = [i for _, _, i in ev]
    match = [-1] * E
    call_of = {}
    for e in range(E):
        if is_call[e]:
            call_of[opi[e]] = e
    for e in range(E):
        if not is_call[e]:
            match[call_of[opi[e]]] = e
    sigs = [model.sig(ops[opi[e]]) if is_call[e] else None for e in range(E)]

    def lift(e):
        nxt[prv[e]] = nxt[e]
        if nxt[e] != -1:
            prv[nxt[e]] = prv[e]
        m = match[e]
        if m != -1:
            nxt[prv[m]] = nxt[m]
            if nxt[m] != -1:
                prv[nxt[m]] = prv[m]

    def unlift(e):
        m = match[e]
        if m != -1:
            nxt[prv[m]] = m
            if nxt[m] != -1:
                prv[nxt[m]] = m
        nxt[prv[e]] = e
        if nxt[e] != -1:
            prv[nxt[e]] = e

    step = model.step
    state = model.init()
    lin = 0
    cache = set()
    stack = []
    seen = set()
    steps = 0
    best_depth, best_tail, best_state = 0, [], state
    entry = nxt[head]
    while True:
        if entry == -1:
            return SearchResult("ok", steps, len(cache), n, [], state)
        steps += 1
        if steps > max_steps or (deadline is not None and steps % 4096 == 0
                                 and time.monotonic() > deadline):
            return SearchResult("unknown", steps, len(cache), best_depth,
                                best_tail, best_state)
        if is_call[entry]:
            i = opi[entry]
            sg = sigs[entry]
            if sg is not None and sg in seen:
                entry = nxt[entry]
                continue
            ok, ns = step(state, ops[i])
            if ok:
                nl = lin | (1 << i)
                k = (nl, ns)
                if k not in cache:
                    cache.add(k)
                    stack.append((entry, state))
                    state, lin = ns, nl
                    lift(entry)
                    if len(stack) > best_depth:
                        best_depth = len(stack)
                        best_tail = [ops[opi[e]] for e, _ in stack[-12:]]
                        best_state = state
                    entry = nxt[head]
                    seen = set()
                    continue
            if sg is not None:
                seen.add(sg)
            entry = nxt[entry]
        else:
            if not stack:
                return SearchResult("fail", steps, len(cache), best_depth,
                                    best_tail, best_state)
            top, state = stack.pop()
            lin &= ~(1 << opi[top])
            unlift(top)
            # The calls before top were all passed over in this state.
            seen = set()
            e = nxt[head]
            while e != top:
                if sigs[e] is not None:
                    seen.add(sigs[e])
                e = nxt[e]
            if sigs[top] is not None:
                seen.add(sigs[top])
            entry = nxt[top]


def prefix_at(ops, t):
    """The history as it stood at time t: ops invoked by t; replies after
    t are cut (the op becomes one of unknown outcome)."""
    out = []
    for o in ops:
        if o.invoke > t:
            continue
        if o.complete is not None and o.complete > t:
            o = o.copy(type="info" if o.f != "read" else "fail", complete=None, out=None)
        out.append(o)
    return out


# ---------------------------------------------------------------------------
# Direct checks with plain-words explanations
# ---------------------------------------------------------------------------

def final_read(ops):
    """The last of the ok reads marked final (made after the faults healed
    and every worker stopped), or None."""
    best = None
    for o in ops:
        if o.f == "read" and o.type == "ok" and o.final and (
                best is None or o.invoke > best.invoke):
            best = o
    return best


def check_counter(ops, t0=0.0):
    """Problems (strings) with one counter key's history."""
    problems = []
    acked = [o for o in ops if o.f == "incr" and o.type == "ok"]
    unknown = [o for o in ops if o.f == "incr" and o.type == "info"]
    fin = final_read(ops)
    byval = {}
    for o in acked:
        byval.setdefault(o.out, []).append(o)
    for v, os_ in sorted(byval.items()):
        if len(os_) > 1:
            problems.append("%d acknowledged INCRs returned the same value %s: %s" % (
                len(os_), v, "; ".join(fmt_op(o, t0) for o in os_)))
    hi = len(acked) + len(unknown)
    for o in acked:
        if not (1 <= o.out <= hi):
            problems.append("INCR returned %s, outside 1..%d (acknowledged %d, unknown %d): %s"
                            % (o.out, hi, len(acked), len(unknown), fmt_op(o, t0)))
    if fin is not None:
        v = fin.out or 0
        if not (len(acked) <= v <= hi):
            problems.append(
                "final value %d outside [%d acknowledged, %d acknowledged + unknown]: %s"
                % (v, len(acked), hi, fmt_op(fin, t0)))
        top = max((o.out for o in acked), default=0)
        if v < top:
            problems.append("final value %d below an acknowledged INCR's reply %d" % (v, top))
    return problems


def split_tokens(s):
    """'c1:0;c2:5;' -> ['c1:0;', 'c2:5;'] (a trailing piece without ';'
    is kept, so a torn token shows up as never written)."""
    toks, i = [], 0
    while i < len(s):
        j = s.find(";", i)
        j = len(s) if j == -1 else j + 1
        toks.append(s[i:j])
        i = j
    return toks


def check_append(ops, t0=0.0):
    """Problems with one append-only key (a string grown by APPEND or a
    list grown by RPUSH): presence, uniqueness, offsets and real-time order
    of tokens in the final value, and every read a prefix of it. Offsets
    are bytes for strings, elements for lists (each reply's new length)."""
    problems = []
    fin = final_read(ops)
    appends = [o for o in ops if _is_append(o) and o.type != "fail"]
    failed = {o.value for o in ops if _is_append(o) and o.type == "fail"}
    lists = any(o.f == "push" for o in ops) or any(
        o.f == "read" and isinstance(o.out, (list, tuple)) for o in ops)
    if fin is None:
        if any(o.type == "ok" for o in appends):
            problems.append("no final read")
        return problems
    F = _as_seq(fin.out, lists)
    by_tok = {o.value: o for o in appends}
    pos = {}
    off = 0
    for t in (F if lists else split_tokens(F)):
        off += 1 if lists else len(t)
        if t in pos:
            problems.append("token %r appears more than once (at offsets %d and %d)"
                            % (t, pos[t], off))
            continue
        pos[t] = off
        if t not in by_tok:
            what = "a failed APPEND" if t in failed else "never appended"
            problems.append("token %r in the final value was %s" % (t, what))
    for o in appends:
        if o.type == "ok":
            if o.value not in pos:
                problems.append("acknowledged append lost: %s" % fmt_op(o, t0))
            elif pos[o.value] != o.out:
                problems.append("token %r ends at offset %d but its APPEND returned %d: %s"
                                % (o.value, pos[o.value], o.out, fmt_op(o, t0)))
    # Real-time order: if a finished before b started, a comes first.
    present = sorted((pos[o.value], o) for o in appends if o.value in pos)
    min_end, min_op = INF, None
    for p, o in reversed(present):
        if min_end < o.invoke:
            problems.append("order: %s finished before %s started, yet comes after it"
                            % (fmt_op(min_op, t0), fmt_op(o, t0)))
        if o.end() < min_end:
            min_end, min_op = o.end(), o
    for o in ops:
        if o.f != "read" or o.type != "ok":
            continue
        v = _as_seq(o.out, lists)
        if F[:len(v)] != v:
            problems.append("read is not a prefix of the final value: %s" % fmt_op(o, t0))
    return problems


# ---------------------------------------------------------------------------
# Per-key and whole-history checks
# ---------------------------------------------------------------------------

class KeyResult:
    def __init__(self, key, verdict, n_ops, text="", steps=0, states=0):
        self.key = key
        self.verdict = verdict
        self.n_ops = n_ops
        self.text = text
        self.steps = steps
        self.states = states


def explain(key, ops, model, max_steps, t0, deadline):
    """Finds the minimal failing prefix of a non-linearizable key history
    and describes it."""
    times = sorted({o.complete for o in ops if o.type == "ok" and o.complete is not None})
    lo, hi = 0, len(times) - 1
    fail_t = None
    while lo <= hi:
        mid = (lo + hi) // 2
        pre = model.prepare(prefix_at(ops, times[mid]))
        r = search(pre, model, max_steps, deadline)
        if r.verdict == "fail":
            fail_t, hi = times[mid], mid - 1
        elif r.verdict == "ok":
            lo = mid + 1
        else:
            break
    if fail_t is None:
        pre = model.prepare(ops)
        r = search(pre, model, max_steps, deadline)
        culprit = None
    else:
        pre = model.prepare(prefix_at(ops, fail_t))
        r = search(pre, model, max_steps, deadline)
        culprit = next((o for o in pre if o.complete == fail_t and o.type == "ok"), None)
    lines = ["key %s: not linearizable" % key]
    if culprit is not None:
        lines.append("the history is linearizable until this op returns; with it, no order fits:")
        lines.append("  ! " + fmt_op(culprit, t0))
        if culprit.f in ("read", "swap") and culprit.out is not None and model.name == "register":
            src = [o for o in ops if o.f in ("write", "swap") and o.value == culprit.out
                   or o.f == "cas" and o.value[1] == culprit.out]
            lines.append("  the value it returned was written by: %s" % (
                "; ".join(fmt_op(o, t0) for o in src) if src else "no op (never written)"))
        lo_t = culprit.invoke
        around = [o for o in pre if o.end() >= lo_t and o is not culprit]
        before = [o for o in pre if o.end() < lo_t]
        ctx = before[-8:] + around
        ctx.sort(key=lambda o: o.invoke)
        lines.append("ops around it (the 8 that finished just before it started, and every"
                     " op still running then or after):")
        lines += ["    " + fmt_op(o, t0) for o in ctx[-40:]]
        if len(ctx) > 40:
            lines.append("    ... %d more" % (len(ctx) - 40))
    lines.append("longest linearization found: %d of %d ops; it ends with:" % (r.depth, len(pre)))
    lines += ["    " + fmt_op(o, t0) for o in r.tail[-8:]]
    lines.append("  model state there: %s" % model.fmt_state(r.state))
    return "\n".join(lines)


def check_key(key, ops, model, max_steps=2_000_000, time_limit=60.0, t0=0.0):
    deadline = time.monotonic() + time_limit
    pre = model.prepare(ops)
    r = search(pre, model, max_steps, deadline)
    if r.verdict == "fail":
        text = explain(key, ops, model, max_steps, t0, deadline + time_limit)
        return KeyResult(key, "fail", len(pre), text, r.steps, r.states)
    if r.verdict == "unknown":
        return KeyResult(key, "unknown", len(pre),
                         "key %s: gave up after %d steps, %d states (search bound)"
                         % (key, r.steps, r.states), r.steps, r.states)
    return KeyResult(key, "ok", len(pre), "", r.steps, r.states)


class Report:
    def __init__(self):
        self.verdict = "ok"
        self.keys = []
        self.problems = []  # from the direct checks
        self.counts = {"ok": 0, "fail": 0, "info": 0}

    def summary(self):
        return "%s: %d ops (%d ok, %d failed, %d unknown outcome) on %d keys" % (
            self.verdict, sum(self.counts.values()), self.counts["ok"],
            self.counts["fail"], self.counts["info"], len(self.keys))

    def text(self):
        out = [k.text for k in self.keys if k.verdict != "ok"]
        out += self.problems
        return "\n".join(out)


def check_history(history, model_name, max_steps=2_000_000, time_limit=60.0):
    """Checks a whole history against one model, key by key, plus the
    model's direct checks. Returns a Report with verdict "ok", "fail"
    (a violation was found) or "unknown" (a search gave up)."""
    rep = Report()
    t0 = min((o.invoke for o in history), default=0.0)
    bykey = {}
    for i, o in enumerate(history):
        if o.id is None:
            o.id = i
        rep.counts[o.type] = rep.counts.get(o.type, 0) + 1
        bykey.setdefault(o.key, []).append(o)
    unknown = False
    for key in sorted(bykey, key=str):
        ops = sorted(bykey[key], key=lambda o: o.invoke)
        model = MODELS[model_name]()
        kr = check_key(key, ops, model, max_steps, time_limit, t0)
        rep.keys.append(kr)
        if kr.verdict == "fail":
            rep.verdict = "fail"
        elif kr.verdict == "unknown":
            unknown = True
        if model_name == "counter":
            probs = check_counter(ops, t0)
        elif model_name == "append":
            probs = check_append(ops, t0)
        else:
            probs = []
        if probs:
            rep.verdict = "fail"
            rep.problems += ["key %s: %s" % (key, p) for p in probs]
    if unknown and rep.verdict == "ok":
        rep.verdict = "unknown"
    return rep


if __name__ == "__main__":
    import sys
    if len(sys.argv) != 3 or sys.argv[2] not in MODELS:
        sys.exit("usage: checker.py HISTORY.jsonl register|counter|append")
    rep = check_history(load_history(sys.argv[1]), sys.argv[2])
    print(rep.summary())
    if rep.verdict != "ok":
        print(rep.text())
    sys.exit(0 if rep.verdict == "ok" else 1)
