#!/usr/bin/python3
"""Differential compatibility test: the same command sequences run against a
reference redis-server (Debian's 7.0, started with --databases 1 because
raftkv has a single database) and against raftkv through a raw RESP client;
every reply must match exactly, reply type and error text included.

Each case starts from an empty keyspace (FLUSHALL on both). One TAP line
per case; a failing case prints every mismatching command with both
replies.

Step kinds:
  ("CMD", args...)        exact comparison
  Tol(tol, "CMD", ...)    integers within +-tol when both are >= 0 (TTLs,
                          expire times); anything else exact
  Sorted("CMD", ...)      array compared as a multiset (KEYS)
  Shape("CMD", ...)       only the reply type/shape is compared (TIME ...)
  ScanAll(args...)        SCAN iterated to cursor 0 on each side; the sets
                          of keys returned must match
  Prefix(n, "CMD", ...)   only the first n array elements are compared
  Pairs("CMD", ...)       a flat key/value array (or RESP3 map) compared as a
                          set of pairs (CONFIG GET with several names)
  Sleep(seconds)          both sides wait (expiry)

Intentional differences, NOT tested (documented here on purpose):
  - INFO contents (raftkv has its own sections, e.g. # Raft) and the
    server-info fields of HELLO (server name, version, id, mode, role).
  - COMMAND COUNT / COMMAND LIST / COMMAND DOCS details and COMMAND INFO
    past (name, arity, flags, first key, last key, step): raftkv only has the
    string/key/connection commands, and key specs/tips are not compared.
  - CONFIG GET of settings raftkv lacks, or of glob patterns matching them;
    CONFIG GET maxclients (redis lowers it to the fd limit).
  - CLIENT LIST / CLIENT INFO / CLIENT ID values (ids, addresses, ages);
    CLIENT PAUSE/UNPAUSE/TRACKING/CACHING (not implemented by raftkv) and
    CLIENT SETINFO (Redis 7.2, accepted by raftkv for redis-py 5; the 7.0
    reference rejects it).
  - OBJECT FREQ / IDLETIME / REFCOUNT / HELP, DEBUG, MEMORY, SAVE/BGSAVE,
    MULTI/EXEC, scripting, pub/sub, and all non-string data types.
  - RANDOMKEY with more than one key, TIME and SCAN cursor values.
  - Help texts (... HELP subcommands).
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Err, Map, Resp, same  # noqa: E402


class Step:
    def __init__(self, *args):
        self.args = args


class Tol(Step):
    def __init__(self, tol, *args):
        Step.__init__(self, *args)
        self.tol = tol


class Sorted(Step):
    pass


class Shape(Step):
    pass


class Pairs(Step):
    """flat [k, v, k, v] array or map compared as a set of pairs"""


class ScanAll(Step):
    pass


class Prefix(Step):
    def __init__(self, n, *args):
        Step.__init__(self, *args)
        self.n = n


class Sleep(Step):
    def __init__(self, s):
        Step.__init__(self)
        self.s = s


FAR = 4102444800        # 2100-01-01 in seconds
FARMS = FAR * 1000 + 123
I64MAX = "9223372036854775807"
I64MIN = "-9223372036854775808"
BIN = b"\x00\x01\xff\r\n$3\r\n\x00bin\x80"

CASES = []


def case(name, *steps, resp3=False):
    CASES.append((name, [s if isinstance(s, Step) else Step(*s) for s in steps], resp3))


# --------------------------------------------------------------------------
# SET and its options
# --------------------------------------------------------------------------
case("set/get", ("SET", "k", "v"), ("GET", "k"), ("GET", "missing"))
case("set overwrite", ("SET", "k", "a"), ("SET", "k", "b"), ("GET", "k"))
case("set empty key and value", ("SET", "", ""), ("GET", ""), ("STRLEN", ""), ("EXISTS", ""))
case("set binary", ("SET", BIN, BIN), ("GET", BIN), ("STRLEN", BIN), ("TYPE", BIN))
case("set lowercase", ("set", "k", "v"), ("get", "k"), ("SeT", "k", "w", "ex", "100"),
     Tol(2, "ttl", "k"))
for opts in (["EX", "100"], ["PX", "100000"], ["EXAT", str(FAR)], ["PXAT", str(FARMS)],
             ["NX"], ["XX"], ["GET"], ["KEEPTTL"], ["NX", "EX", "100"], ["XX", "PX", "100000"],
             ["NX", "GET"], ["XX", "GET"], ["GET", "EX", "100"], ["KEEPTTL", "GET"],
             ["KEEPTTL", "XX"], ["ex", "100", "nx"], ["EXAT", str(FAR), "GET"],
             ["PXAT", str(FARMS), "XX", "GET"]):
    for pre in (None, "old", "ttl"):
        steps = []
        if pre == "old":
            steps.append(("SET", "k", "old"))
        elif pre == "ttl":
            steps.append(("SET", "k", "old", "EX", "500"))
        steps += [("SET", "k", "new", *opts), ("GET", "k"), Tol(2, "TTL", "k"),
                  Tol(2000, "PTTL", "k"), Tol(2, "EXPIRETIME", "k"),
                  Tol(2000, "PEXPIRETIME", "k")]
        case("set %s on %s" % (" ".join(opts), pre or "missing"), *steps)
for bad in (["EX"], ["EX", "0"], ["EX", "-1"], ["EX", "abc"], ["EX", "1.5"], ["PX", "0"],
            ["PX", "-5"], ["EXAT", "0"], ["PXAT", "-1"], ["EX", "10", "PX", "100"],
            ["NX", "XX"], ["KEEPTTL", "EX", "10"], ["EX", "10", "KEEPTTL"], ["FOO"],
            ["EX", "10", "EX", "10"], ["EX", I64MAX], ["PX", I64MAX], ["EXAT", I64MAX],
            ["EX", "9223372036854775"], ["EX", "9223372036854776"], ["GET", "GET"],
            ["NX", "NX"], ["EXAT", "10", "PXAT", "10"], ["PX"], ["XX", "NX", "GET"]):
    case("set error %s" % " ".join(bad), ("SET", "k", "old"), ("SET", "k", "v", *bad),
         ("GET", "k"), ("TTL", "k"))
case("set EXAT past deletes", ("SET", "k", "v"), ("SET", "k", "v2", "EXAT", "1"),
     ("GET", "k"), ("EXISTS", "k"))
case("set PXAT past", ("SET", "k", "v", "PXAT", "1000"), ("GET", "k"), ("DBSIZE",))
case("set NX GET on missing/existing", ("SET", "k", "a", "NX", "GET"), ("SET", "k", "b", "NX", "GET"),
     ("GET", "k"))
case("set PX 100 expires", ("SET", "k", "v", "PX", "100"), Sleep(0.4), ("GET", "k"), ("EXISTS", "k"),
     ("TTL", "k"), ("DBSIZE",))
case("set KEEPTTL keeps", ("SET", "k", "v", "EX", "1000"), ("SET", "k", "w", "KEEPTTL"),
     Tol(2, "TTL", "k"), ("SET", "k", "x"), ("TTL", "k"))
case("set arity", ("SET",), ("SET", "k"), ("GET",), ("GET", "a", "b"))

# --------------------------------------------------------------------------
# SETNX SETEX PSETEX GETSET GETDEL GETEX
# --------------------------------------------------------------------------
case("setnx", ("SETNX", "k", "a"), ("SETNX", "k", "b"), ("GET", "k"), ("SETNX", "k"))
case("setex", ("SETEX", "k", "100", "v"), ("GET", "k"), Tol(2, "TTL", "k"))
case("setex errors", ("SETEX", "k", "0", "v"), ("SETEX", "k", "-1", "v"), ("SETEX", "k", "x", "v"),
     ("SETEX", "k", "10"), ("SETEX", "k", I64MAX, "v"), ("EXISTS", "k"))
case("psetex", ("PSETEX", "k", "100000", "v"), ("GET", "k"), Tol(2000, "PTTL", "k"),
     ("PSETEX", "k", "0", "v"), ("PSETEX", "k", "abc", "v"), ("PSETEX", "k", "-3", "v"))
case("getset", ("GETSET", "k", "a"), ("GETSET", "k", "b"), ("GET", "k"), ("GETSET", "k"))
case("getset clears ttl", ("SET", "k", "a", "EX", "100"), ("GETSET", "k", "b"), ("TTL", "k"))
case("getdel", ("SET", "k", "a"), ("GETDEL", "k"), ("GETDEL", "k"), ("EXISTS", "k"), ("GETDEL",),
     ("GETDEL", "a", "b"))
case("getex plain", ("SET", "k", "v", "EX", "100"), ("GETEX", "k"), Tol(2, "TTL", "k"),
     ("GETEX", "missing"))
for opts in (["EX", "200"], ["PX", "200000"], ["EXAT", str(FAR)], ["PXAT", str(FARMS)],
             ["PERSIST"], ["ex", "50"], ["persist"]):
    case("getex %s" % " ".join(opts), ("SET", "k", "v", "EX", "100"), ("GETEX", "k", *opts),
         Tol(2, "TTL", "k"), Tol(2000, "PEXPIRETIME", "k"), ("GETEX", "nokey", *opts))
for bad in (["EX"], ["EX", "0"], ["EX", "-1"], ["PX", "abc"], ["EX", "10", "PX", "10"],
            ["PERSIST", "EX", "10"], ["EX", "10", "PERSIST"], ["FOO"], ["KEEPTTL"],
            ["EXAT", "0"], ["EX", I64MAX], ["NX"]):
    case("getex error %s" % " ".join(bad), ("SET", "k", "v", "EX", "100"),
         ("GETEX", "k", *bad), Tol(2, "TTL", "k"), ("GETEX", "missing", *bad))
case("getex EXAT past deletes", ("SET", "k", "v"), ("GETEX", "k", "EXAT", "1"), ("EXISTS", "k"))

# --------------------------------------------------------------------------
# MGET MSET MSETNX
# --------------------------------------------------------------------------
case("mset/mget", ("MSET", "a", "1", "b", "2", "c", BIN), ("MGET", "a", "b", "c", "d", "a"),
     ("DBSIZE",))
case("mset errors", ("MSET", "a"), ("MSET", "a", "1", "b"), ("MSET",), ("MGET",), ("DBSIZE",))
case("mset clears ttl", ("SET", "a", "x", "EX", "100"), ("MSET", "a", "y"), ("TTL", "a"))
case("mset duplicate keys", ("MSET", "a", "1", "a", "2"), ("GET", "a"))
case("msetnx", ("MSETNX", "a", "1", "b", "2"), ("MSETNX", "b", "3", "c", "4"),
     ("MGET", "a", "b", "c"), ("MSETNX", "a"), ("MSETNX", "x", "1", "y"))
case("msetnx duplicate new keys", ("MSETNX", "a", "1", "a", "2"), ("GET", "a"))

# --------------------------------------------------------------------------
# APPEND STRLEN GETRANGE SUBSTR SETRANGE
# --------------------------------------------------------------------------
case("append", ("APPEND", "k", "ab"), ("APPEND", "k", "cd"), ("APPEND", "k", ""), ("GET", "k"),
     ("STRLEN", "k"), ("APPEND", "k"), ("APPEND", "e", ""), ("EXISTS", "e"))
case("append binary", ("APPEND", "k", BIN), ("APPEND", "k", BIN), ("GET", "k"))
case("append to int", ("SET", "k", "10"), ("APPEND", "k", "5"), ("INCR", "k"), ("GET", "k"))
case("append keeps ttl", ("SET", "k", "a", "EX", "100"), ("APPEND", "k", "b"), Tol(2, "TTL", "k"))
case("strlen", ("STRLEN", "missing"), ("SET", "k", "12345"), ("STRLEN", "k"), ("STRLEN",),
     ("SET", "n", "-100"), ("STRLEN", "n"))
for a, b in ((0, 3), (0, -1), (-3, -1), (5, 3), (-100, 100), (10, 20), (0, 0), (-1, -1),
             (3, -3), (-5, -6), (100, -1), (0, I64MAX), (I64MIN, I64MAX), (1, 1)):
    case("getrange %s %s" % (a, b), ("SET", "k", "Hello World"), ("GETRANGE", "k", a, b),
         ("SUBSTR", "k", a, b), ("GETRANGE", "missing", a, b))
case("getrange errors", ("SET", "k", "abc"), ("GETRANGE", "k", "a", "1"), ("GETRANGE", "k", "0"),
     ("GETRANGE", "k", "0", "1.5"), ("GETRANGE", "", "0", "-1"))
case("getrange empty value", ("SET", "k", ""), ("GETRANGE", "k", "0", "-1"),
     ("GETRANGE", "k", "-1", "0"))
case("getrange int encoded", ("SET", "k", "1234567"), ("GETRANGE", "k", "1", "3"), ("INCR", "k"),
     ("GETRANGE", "k", "-2", "-1"))
for off, val in ((0, "xy"), (3, "XY"), (11, "!"), (15, "pad"), (0, ""), (20, ""),
                 (2, BIN), (1, "a")):
    case("setrange %s" % off, ("SET", "k", "Hello World"), ("SETRANGE", "k", off, val),
         ("GET", "k"), ("SETRANGE", "new%d" % off, off, val), ("GET", "new%d" % off),
         ("EXISTS", "new%d" % off))
case("setrange errors", ("SETRANGE", "k", "-1", "x"), ("SETRANGE", "k", "abc", "x"),
     ("SETRANGE", "k", "536870912", "x"), ("SETRANGE", "k", "536870911", ""),
     ("SETRANGE", "k", "0"), ("EXISTS", "k"))
case("setrange on int", ("SET", "k", "123"), ("SETRANGE", "k", "1", "9"), ("GET", "k"),
     ("INCR", "k"))
case("setrange keeps ttl", ("SET", "k", "abc", "EX", "100"), ("SETRANGE", "k", "1", "X"),
     Tol(2, "TTL", "k"))

# --------------------------------------------------------------------------
# INCR DECR INCRBY DECRBY INCRBYFLOAT
# --------------------------------------------------------------------------
case("incr basic", ("INCR", "k"), ("INCR", "k"), ("DECR", "k"), ("DECR", "k"), ("DECR", "k"),
     ("GET", "k"), ("INCRBY", "k", "10"), ("DECRBY", "k", "3"), ("INCRBY", "k", "-100"),
     ("DECRBY", "k", "-5"), ("GET", "k"))
for v in ("10", "-10", "0", " 10", "10 ", "+10", "010", "1e3", "abc", "", "1.0", "0x10",
          I64MAX, I64MIN, "9223372036854775808", "-0", "12345678901234567890", "\t1",
          "00", "-", "+", "1 2", "99999999999999999999"):
    case("incr on %r" % v, ("SET", "k", v), ("INCR", "k"), ("GET", "k"), ("SET", "k", v),
         ("DECR", "k"), ("GET", "k"), ("SET", "k", v), ("INCRBY", "k", "5"),
         ("DECRBY", "k", "5"), ("GET", "k"))
for by in ("1", "-1", "0", I64MAX, I64MIN, "9223372036854775808", "abc", "1.5", "", " 1",
           "-9223372036854775809"):
    case("incrby %r" % by, ("SET", "k", "5"), ("INCRBY", "k", by), ("GET", "k"),
         ("DECRBY", "k", by), ("GET", "k"), ("INCRBY", "n%s" % by, by))
case("incr overflow", ("SET", "k", I64MAX), ("INCR", "k"), ("INCRBY", "k", "1"), ("GET", "k"),
     ("SET", "m", I64MIN), ("DECR", "m"), ("DECRBY", "m", "1"), ("INCRBY", "m", "-1"),
     ("SET", "z", "0"), ("DECRBY", "z", I64MIN), ("INCRBY", "z", I64MIN), ("GET", "z"))
case("incr keeps ttl", ("SET", "k", "1", "EX", "100"), ("INCR", "k"), Tol(2, "TTL", "k"),
     ("INCRBYFLOAT", "k", "1.5"), Tol(2, "TTL", "k"))
case("incr arity", ("INCR",), ("INCR", "a", "b"), ("INCRBY", "k"), ("DECRBY", "k"), ("DECR",),
     ("INCRBYFLOAT", "k"))
case("incr binary", ("SET", "k", b"1\x00"), ("INCR", "k"))
for base, by in (("10.5", "0.1"), ("10", "1"), ("3.0e3", "200"), ("5.0e3", "2.0e2"),
                 ("0", "0.1"), ("1", "-1"), ("0.1", "0.2"), ("1e300", "1e300"),
                 ("1.5", "1.5"), ("10", "-10.25"), ("-0", "0"), ("1", "1e-10"),
                 ("100", "1e17"), ("123456789012345678", "1"), ("1", "abc"), ("abc", "1"),
                 ("1", "inf"), ("1", "-inf"), ("1", "nan"), ("1", "1e309"), ("1", ""),
                 ("1", " 1"), ("1", "1 "), ("1", "0x10"), ("5", "-5"), ("1.23456789", "0"),
                 ("0.000001", "0"), ("1", "3.0000000000000000001"), (I64MAX, "1"),
                 ("1.7976931348623157e308", "1.7976931348623157e308")):
    case("incrbyfloat %s + %s" % (base, by), ("SET", "k", base), ("INCRBYFLOAT", "k", by),
         ("GET", "k"), ("INCRBYFLOAT", "new", by), ("GET", "new"))
case("incrbyfloat then incr", ("INCRBYFLOAT", "k", "2"), ("INCR", "k"), ("INCRBYFLOAT", "k", "0.5"),
     ("INCR", "k"), ("OBJECT", "ENCODING", "k"))

# --------------------------------------------------------------------------
# SETBIT GETBIT BITCOUNT BITPOS BITOP
# --------------------------------------------------------------------------
case("setbit/getbit", ("SETBIT", "k", "7", "1"), ("GET", "k"), ("SETBIT", "k", "7", "0"),
     ("SETBIT", "k", "100", "1"), ("GETBIT", "k", "100"), ("GETBIT", "k", "99"),
     ("GETBIT", "k", "100000"), ("STRLEN", "k"), ("GET", "k"), ("GETBIT", "missing", "0"))
case("setbit errors", ("SETBIT", "k", "-1", "1"), ("SETBIT", "k", "0", "2"), ("SETBIT", "k", "a", "1"),
     ("SETBIT", "k", "0", "-1"), ("SETBIT", "k", "4294967296", "1"), ("SETBIT", "k", "0"),
     ("GETBIT", "k", "-1"), ("GETBIT", "k", "4294967296"), ("GETBIT", "k", "x"), ("EXISTS", "k"))
case("setbit on string", ("SET", "k", "A"), ("SETBIT", "k", "6", "1"), ("GET", "k"),
     ("SETBIT", "k", "0", "1"), ("GET", "k"))
case("setbit on int", ("SET", "k", "1"), ("SETBIT", "k", "7", "0"), ("GET", "k"),
     ("OBJECT", "ENCODING", "k"))
for args in ((), ("0", "-1"), ("1", "1"), ("1", "3"), ("-2", "-1"), ("5", "2"), ("0", "100"),
             ("-100", "-50"), ("0", "-1", "BYTE"), ("0", "-1", "BIT"), ("5", "30", "BIT"),
             ("-5", "-1", "BIT"), ("1", "1", "bit"), ("0",), ("0", "1", "FOO"), ("a", "b"),
             ("0", "1", "BIT", "x"), (I64MIN, I64MAX), (I64MAX, I64MIN), ("0", I64MAX, "BIT")):
    case("bitcount %s" % " ".join(args), ("SET", "k", "foobar"), ("BITCOUNT", "k", *args),
         ("BITCOUNT", "missing", *args))
for args in (("1",), ("0",), ("1", "2"), ("0", "2"), ("1", "2", "-1"), ("0", "0", "-1"),
             ("1", "-2", "-1"), ("1", "7", "15", "BIT"), ("0", "7", "15", "BIT"),
             ("1", "0", "-1", "BYTE"), ("2",), ("1", "a"), ("1", "0", "-1", "FOO"),
             ("1", "100", "200"), ("0", "100"), ("1", "5", "2"), ("0", "-1", "-1", "BIT"),
             ("-1",), ("1", "0", "1", "BIT", "x")):
    for val in (b"\xff\xf0\x00", b"\x00\x00\x00", b"\xff\xff\xff", b"\x00\xff\xf0"):
        case("bitpos %s on %r" % (" ".join(args), val), ("SET", "k", val),
             ("BITPOS", "k", *args))
    case("bitpos %s on missing" % " ".join(args), ("BITPOS", "missing", *args))
case("bitpos empty string", ("SET", "k", ""), ("BITPOS", "k", "0"), ("BITPOS", "k", "1"))
for op in ("AND", "OR", "XOR", "and", "or"):
    case("bitop %s" % op, ("SET", "a", "foobar"), ("SET", "b", "abc"), ("SET", "c", BIN),
         ("BITOP", op, "d", "a", "b", "c"), ("GET", "d"), ("BITOP", op, "e", "a"), ("GET", "e"),
         ("BITOP", op, "f", "a", "missing"), ("GET", "f"), ("BITOP", op, "g", "m1", "m2"),
         ("EXISTS", "g"), ("BITOP", op, "a", "a", "b"), ("GET", "a"))
case("bitop not", ("SET", "a", "foo"), ("BITOP", "NOT", "d", "a"), ("GET", "d"),
     ("BITOP", "NOT", "d", "a", "b"), ("BITOP", "NOT", "e", "missing"), ("EXISTS", "e"),
     ("SET", "x", "v"), ("BITOP", "NOT", "x", "missing"), ("EXISTS", "x"))
case("bitop errors", ("BITOP", "FOO", "d", "a"), ("BITOP", "AND", "d"), ("BITOP", "AND"),
     ("BITOP",))
case("bitop overwrites ttl", ("SET", "a", "x"), ("SET", "d", "y", "EX", "100"),
     ("BITOP", "OR", "d", "a"), ("TTL", "d"))

# --------------------------------------------------------------------------
# BITFIELD / BITFIELD_RO
# --------------------------------------------------------------------------
for ops in (["SET", "i8", "0", "100", "GET", "i8", "0"],
            ["SET", "u8", "0", "255", "GET", "u8", "0", "GET", "i8", "0"],
            ["INCRBY", "u2", "100", "1", "OVERFLOW", "SAT", "INCRBY", "u2", "102", "1"],
            ["INCRBY", "i5", "100", "1", "GET", "u4", "0"],
            ["SET", "i16", "#1", "-1000", "GET", "i16", "#1", "GET", "u16", "16"],
            ["OVERFLOW", "WRAP", "INCRBY", "u8", "0", "300", "GET", "u8", "0"],
            ["OVERFLOW", "SAT", "INCRBY", "u8", "0", "300", "INCRBY", "i8", "8", "-300"],
            ["OVERFLOW", "FAIL", "INCRBY", "u8", "0", "300", "GET", "u8", "0"],
            ["OVERFLOW", "FAIL", "SET", "i8", "0", "200", "SET", "u8", "0", "-1"],
            ["SET", "i64", "0", I64MIN, "INCRBY", "i64", "0", "-1", "GET", "i64", "0"],
            ["SET", "u63", "0", "1", "GET", "u63", "0", "GET", "i64", "0"],
            ["SET", "u64", "0", "1"], ["GET", "i65", "0"], ["GET", "u0", "0"], ["GET", "x8", "0"],
            ["GET", "i8", "-1"], ["GET", "i8", "#-1"], ["GET", "i8"], ["FOO"],
            ["OVERFLOW", "BAD", "GET", "i8", "0"], ["SET", "i8", "0", "abc"],
            ["INCRBY", "i8", "0", "1.5"], ["GET", "i8", "4294967296"],
            ["GET", "i8", "4294967288", "SET", "u1", "3", "1"],
            ["SET", "u1", "3", "1", "SET", "u1", "3", "0", "GET", "u1", "3"],
            ["get", "u3", "1", "set", "i3", "1", "-2", "incrby", "i3", "1", "-3"],
            []):
    case("bitfield %s" % " ".join(ops), ("SET", "k", "\x12\x34\x56"), ("BITFIELD", "k", *ops),
         ("GET", "k"), ("BITFIELD", "new", *ops), ("GET", "new"))
case("bitfield_ro", ("SET", "k", "abc"), ("BITFIELD_RO", "k", "GET", "u8", "0", "GET", "i4", "#1"),
     ("BITFIELD_RO", "k", "SET", "u8", "0", "1"), ("BITFIELD_RO", "k", "INCRBY", "u8", "0", "1"),
     ("BITFIELD_RO", "missing", "GET", "u8", "0"), ("BITFIELD_RO", "k"), ("GET", "k"))

# --------------------------------------------------------------------------
# LCS
# --------------------------------------------------------------------------
for opts in ([], ["LEN"], ["IDX"], ["IDX", "MINMATCHLEN", "4"], ["IDX", "WITHMATCHLEN"],
             ["IDX", "MINMATCHLEN", "2", "WITHMATCHLEN"], ["LEN", "IDX"], ["FOO"],
             ["IDX", "MINMATCHLEN"], ["IDX", "MINMATCHLEN", "x"], ["idx", "withmatchlen"],
             ["MINMATCHLEN", "-5", "IDX"], ["WITHMATCHLEN"]):
    case("lcs %s" % " ".join(opts), ("MSET", "a", "ohmytext", "b", "mynewtext", "e", ""),
         ("LCS", "a", "b", *opts), ("LCS", "a", "missing", *opts), ("LCS", "e", "a", *opts),
         ("LCS", "a", "a", *opts))
case("lcs arity", ("LCS", "a"), ("LCS",))
case("lcs binary", ("SET", "a", BIN), ("SET", "b", b"\x01\xff$bin\x80"), ("LCS", "a", "b"),
     ("LCS", "a", "b", "IDX", "WITHMATCHLEN"))

# --------------------------------------------------------------------------
# keys: DEL UNLINK EXISTS TOUCH TYPE RENAME RENAMENX COPY
# --------------------------------------------------------------------------
case("del/unlink", ("MSET", "a", "1", "b", "2", "c", "3"), ("DEL", "a", "a", "x"),
     ("UNLINK", "b", "c", "b"), ("DEL", "a"), ("DBSIZE",), ("DEL",), ("UNLINK",))
case("exists counts duplicates", ("SET", "a", "1"), ("EXISTS", "a", "a", "b", "a"), ("EXISTS",))
case("touch", ("SET", "a", "1"), ("TOUCH", "a", "b", "a"), ("TOUCH",))
case("type", ("SET", "a", "1"), ("TYPE", "a"), ("TYPE", "b"), ("TYPE",), ("TYPE", "a", "b"))
case("rename", ("SET", "a", "1"), ("RENAME", "a", "b"), ("GET", "a"), ("GET", "b"),
     ("RENAME", "a", "c"), ("RENAME", "b", "b"), ("GET", "b"), ("RENAME", "b"))
case("rename overwrites and moves ttl", ("SET", "a", "1", "EX", "100"), ("SET", "b", "2", "EX", "500"),
     ("RENAME", "a", "b"), Tol(2, "TTL", "b"), ("EXISTS", "a"), ("SET", "c", "3"),
     ("RENAME", "c", "b"), ("TTL", "b"))
case("renamenx", ("SET", "a", "1"), ("SET", "b", "2"), ("RENAMENX", "a", "b"), ("RENAMENX", "a", "c"),
     ("MGET", "a", "b", "c"), ("RENAMENX", "x", "y"), ("RENAMENX", "c", "c"), ("RENAMENX", "c"))
case("copy", ("SET", "a", "1", "EX", "100"), ("COPY", "a", "b"), ("GET", "b"), Tol(2, "TTL", "b"),
     ("COPY", "a", "b"), ("SET", "a", "2"), ("COPY", "a", "b", "REPLACE"), ("GET", "b"),
     ("TTL", "b"), ("COPY", "x", "y"), ("COPY", "a", "a"), ("COPY", "a", "c", "DB", "0"),
     ("COPY", "a", "d", "DB", "1"), ("COPY", "a", "d", "DB", "x"), ("COPY", "a", "d", "FOO"),
     ("COPY", "a", "e", "replace", "db", "0"), ("COPY", "a"), ("MGET", "c", "d", "e"))
case("copy int encoding", ("SET", "a", "123"), ("COPY", "a", "b"), ("OBJECT", "ENCODING", "b"),
     ("INCR", "b"), ("GET", "a"))

# --------------------------------------------------------------------------
# EXPIRE family, TTL, PERSIST, EXPIRETIME
# --------------------------------------------------------------------------
for cmd, val in (("EXPIRE", "100"), ("PEXPIRE", "100000"), ("EXPIREAT", str(FAR)),
                 ("PEXPIREAT", str(FARMS))):
    for opt in ([], ["NX"], ["XX"], ["GT"], ["LT"], ["nx"], ["NX", "XX"], ["GT", "LT"],
                ["NX", "GT"], ["XX", "GT"], ["XX", "LT"], ["FOO"], ["GT", "GT"]):
        for pre in ("plain", "ttl"):
            first = ("SET", "k", "v") if pre == "plain" else ("SET", "k", "v", "EX", "1000")
            case("%s %s on %s" % (cmd.lower(), " ".join(opt), pre), first, (cmd, "k", val, *opt),
                 Tol(2, "TTL", "k"), Tol(2000, "PTTL", "k"), Tol(2, "EXPIRETIME", "k"),
                 (cmd, "missing", val, *opt))
    case("%s errors" % cmd.lower(), ("SET", "k", "v"), (cmd, "k", "abc"), (cmd, "k"),
         (cmd, "k", "1.5"), (cmd, "k", I64MAX), (cmd, "k", I64MIN),
         (cmd, "k", "9223372036854775"), (cmd, "k", "9223372036854776"), ("TTL", "k"))
for cmd, val in (("EXPIRE", "0"), ("EXPIRE", "-10"), ("PEXPIRE", "0"), ("PEXPIRE", "-1"),
                 ("EXPIREAT", "1"), ("PEXPIREAT", "1"), ("EXPIREAT", "0")):
    case("%s %s deletes" % (cmd.lower(), val), ("SET", "k", "v"), (cmd, "k", val),
         ("EXISTS", "k"), ("GET", "k"), (cmd, "k", val))
case("expire GT on persistent key", ("SET", "k", "v"), ("EXPIRE", "k", "100", "GT"), ("TTL", "k"),
     ("EXPIRE", "k", "100", "LT"), Tol(2, "TTL", "k"))
case("expire LT negative", ("SET", "k", "v", "EX", "100"), ("EXPIRE", "k", "-1", "LT"),
     ("EXISTS", "k"))
case("ttl/pttl states", ("TTL", "missing"), ("PTTL", "missing"), ("SET", "k", "v"), ("TTL", "k"),
     ("PTTL", "k"), ("EXPIRETIME", "k"), ("PEXPIRETIME", "k"), ("EXPIRETIME", "missing"),
     ("PEXPIRETIME", "missing"), ("TTL",), ("PTTL", "a", "b"))
case("expiretime exact", ("SET", "k", "v"), ("EXPIREAT", "k", str(FAR)), ("EXPIRETIME", "k"),
     ("PEXPIRETIME", "k"), ("PEXPIREAT", "k", str(FARMS)), ("EXPIRETIME", "k"),
     ("PEXPIRETIME", "k"), ("SET", "j", "v", "PXAT", str(FARMS + 499)), ("EXPIRETIME", "j"),
     ("SET", "i", "v", "PXAT", str(FARMS + 500)), ("EXPIRETIME", "i"))
case("persist", ("SET", "k", "v", "EX", "100"), ("PERSIST", "k"), ("TTL", "k"), ("PERSIST", "k"),
     ("PERSIST", "missing"), ("PERSIST",))
case("ttl rounding", ("SET", "k", "v", "PX", "100600"), Tol(1, "TTL", "k"),
     ("SET", "j", "v", "PX", "2500"), Tol(1, "TTL", "j"))
case("expire then overwrite clears", ("SET", "k", "v"), ("EXPIRE", "k", "100"), ("SET", "k", "w"),
     ("TTL", "k"), ("EXPIRE", "k", "100"), ("DEL", "k"), ("SET", "k", "x"), ("TTL", "k"))
case("pexpire short then gone", ("SET", "k", "v"), ("PEXPIRE", "k", "150"), Sleep(0.5),
     ("GET", "k"), ("TTL", "k"), ("EXISTS", "k"), ("DBSIZE",), ("KEYS", "*"))
case("expired key and NX", ("SET", "k", "v", "PX", "100"), Sleep(0.4), ("SET", "k", "w", "NX"),
     ("GET", "k"), ("TTL", "k"))
case("expired key and APPEND/INCR", ("SET", "k", "abc", "PX", "100"), ("SET", "n", "5", "PX", "100"),
     Sleep(0.4), ("APPEND", "k", "x"), ("INCR", "n"), ("MGET", "k", "n"))

# --------------------------------------------------------------------------
# KEYS SCAN RANDOMKEY DBSIZE FLUSHDB FLUSHALL OBJECT
# --------------------------------------------------------------------------
KEYSET = ("MSET", "hello", "1", "hallo", "2", "hxllo", "3", "hllo", "4", "heeeello", "5",
          "h*llo", "6", "a:1", "7", "a:2", "8", "b:1", "9", BIN, "10", "", "11")
for pat in ("*", "h?llo", "h*llo", "h[ae]llo", "h[^e]llo", "h[a-b]llo", "h\\*llo", "a:*",
            "*1", "nomatch", "h[", "[", "\\", "*:*", "?", "", "H*", "h[A-Z]llo", "*[0-9]",
            "h[!e]llo", "a:[12]", "[a-b]:[^2]"):
    case("keys %r" % pat, KEYSET, Sorted("KEYS", pat), ScanAll("MATCH", pat),
         ScanAll("MATCH", pat, "COUNT", "2"))
case("scan all", KEYSET, ScanAll(), ScanAll("COUNT", "1"), ScanAll("COUNT", "1000"),
     ScanAll("TYPE", "string"), ScanAll("TYPE", "list"), ScanAll("type", "STRING"))
case("scan errors", ("SCAN", "abc"), ("SCAN", "0", "COUNT", "0"), ("SCAN", "0", "COUNT", "x"),
     ("SCAN", "0", "FOO"), ("SCAN", "0", "MATCH"), ("SCAN",), ("SCAN", "-1"),
     ("SCAN", "0", "COUNT", "-1"), ("SCAN", "18446744073709551616"))
case("scan empty", ("SCAN", "0"), ("SCAN", "0", "MATCH", "*", "COUNT", "10"))
case("keys many", *[("SET", "key:%d" % i, str(i)) for i in range(60)], Sorted("KEYS", "key:1*"),
     ScanAll("COUNT", "7"), ScanAll("MATCH", "key:?", "COUNT", "3"), ("DBSIZE",))
case("randomkey", ("RANDOMKEY",), ("SET", "only", "1"), ("RANDOMKEY",), ("RANDOMKEY", "x"),
     ("MSET", "a", "1", "b", "2"), Shape("RANDOMKEY"))
case("dbsize/flushdb/flushall", ("DBSIZE",), ("MSET", "a", "1", "b", "2"), ("DBSIZE",),
     ("FLUSHDB",), ("DBSIZE",), ("SET", "a", "1"), ("FLUSHALL",), ("DBSIZE",), ("SET", "a", "1"),
     ("FLUSHALL", "SYNC"), ("SET", "a", "1"), ("FLUSHALL", "ASYNC"), ("SET", "a", "1"),
     ("FLUSHDB", "SYNC"), ("SET", "a", "1"), ("FLUSHDB", "async"), ("DBSIZE",),
     ("FLUSHALL", "FOO"), ("FLUSHDB", "FOO"), ("FLUSHDB", "SYNC", "ASYNC"), ("DBSIZE", "x"))
for v in ("123", "-123", "0", "hello", "x" * 44, "x" * 45, "x" * 100, I64MAX, "9223372036854775808",
          "01", " 1", "1.5", "", "-0", "+1", "10000", "10001", "-1"):
    case("object encoding %r" % v[:20], ("SET", "k", v), ("OBJECT", "ENCODING", "k"),
         ("APPEND", "k", "1"), ("OBJECT", "ENCODING", "k"))
case("object encoding misc", ("OBJECT", "ENCODING", "missing"), ("OBJECT", "ENCODING"),
     ("OBJECT",), ("OBJECT", "FOO", "k"), ("INCR", "n"), ("OBJECT", "ENCODING", "n"),
     ("INCRBY", "n", "100000"), ("OBJECT", "ENCODING", "n"), ("SETRANGE", "s", "0", "ab"),
     ("OBJECT", "ENCODING", "s"), ("GETSET", "g", "12"), ("OBJECT", "ENCODING", "g"),
     ("SETEX", "e", "100", "5"), ("OBJECT", "ENCODING", "e"), ("MSET", "m", "77"),
     ("OBJECT", "ENCODING", "m"), ("SETBIT", "b", "1", "1"), ("OBJECT", "ENCODING", "b"))

# --------------------------------------------------------------------------
# connection and server commands
# --------------------------------------------------------------------------
case("ping/echo", ("PING",), ("PING", "hi"), ("PING", BIN), ("PING", "a", "b"), ("ECHO", "x"),
     ("ECHO", BIN), ("ECHO", ""), ("ECHO",), ("ECHO", "a", "b"))
case("select", ("SELECT", "0"), ("SELECT", "1"), ("SELECT", "-1"), ("SELECT", "abc"),
     ("SELECT",), ("SELECT", "0", "1"), ("SELECT", "16"), ("SET", "k", "v"), ("GET", "k"))
case("auth without password", ("AUTH", "pw"), ("AUTH", "default", "pw"), ("AUTH",),
     ("AUTH", "a", "b", "c"))
case("hello errors", ("HELLO", "4"), ("HELLO", "0"), ("HELLO", "abc"), ("HELLO", "1"),
     ("HELLO", "3", "AUTH", "default"), ("HELLO", "2", "FOO"), ("HELLO", "2", "SETNAME"),
     Shape("HELLO", "3", "AUTH", "default", "wrong"), ("PING",))
case("hello shape", Shape("HELLO"), Shape("HELLO", "2"), Shape("HELLO", "2", "SETNAME", "n"),
     ("CLIENT", "GETNAME"))
case("time shape", Shape("TIME"), ("TIME", "x"))
case("client names", ("CLIENT", "GETNAME"), ("CLIENT", "SETNAME", "app-1"), ("CLIENT", "GETNAME"),
     ("CLIENT", "SETNAME", "has space"), ("CLIENT", "SETNAME", "new\nline"), ("CLIENT", "GETNAME"),
     ("CLIENT", "SETNAME", ""), ("CLIENT", "GETNAME"), ("CLIENT", "SETNAME"),
     ("CLIENT", "SETNAME", "a", "b"), ("CLIENT", "GETNAME", "x"), ("CLIENT",),
     ("CLIENT", "FOO"), Shape("CLIENT", "ID"), ("CLIENT", "ID", "x"))
case("client misc", ("CLIENT", "NO-EVICT", "on"),
     ("CLIENT", "NO-EVICT", "maybe"), ("CLIENT", "REPLY", "ON"), ("CLIENT", "KILL", "ID", "999999"),
     ("CLIENT", "KILL", "127.0.0.1:1"))
for name in ("proto-max-bulk-len", "databases", "maxmemory", "maxmemory-policy", "appendonly",
             "timeout", "save", "notify-keyspace-events", "hz", "cluster-enabled",
             "PROTO-MAX-BULK-LEN", "tcp-keepalive"):
    case("config get %s" % name, ("CONFIG", "GET", name))
case("config get multiple", Pairs("CONFIG", "GET", "timeout", "hz"),
     ("CONFIG", "GET", "nosuchsetting"), ("CONFIG", "GET"), ("CONFIG", "GET", "timeout", "nosuch"),
     Pairs("CONFIG", "GET", "hz", "maxmemory", "databases"))
case("config set", ("CONFIG", "SET", "timeout", "0"), ("CONFIG", "GET", "timeout"),
     ("CONFIG", "SET", "hz", "abc"), ("CONFIG", "SET", "nosuch", "1"), ("CONFIG", "SET", "hz"),
     ("CONFIG", "SET", "appendonly", "maybe"), ("CONFIG", "SET", "maxmemory", "12x"),
     ("CONFIG", "SET", "databases", "4"), ("CONFIG", "SET", "timeout", "0", "timeout", "0"),
     ("CONFIG", "SET", "timeout", "0", "hz", "10"), ("CONFIG", "GET", "hz"),
     ("CONFIG", "SET", "maxmemory", "0"), ("CONFIG", "GET", "maxmemory"),
     ("CONFIG",), ("CONFIG", "FOO"), ("CONFIG", "RESETSTAT"), ("CONFIG", "RESETSTAT", "x"))
for cmd in ("get", "set", "incr", "del", "mset", "mget", "expire", "ping", "scan", "bitfield",
            "bitfield_ro", "lcs", "copy", "getex", "object", "keys", "setrange", "unlink",
            "flushall", "exists", "select", "echo", "dbsize", "type", "rename", "msetnx",
            "bitop", "bitcount", "incrbyfloat", "getdel", "pexpiretime", "randomkey", "touch"):
    case("command info %s" % cmd, Prefix(7, "COMMAND", "INFO", cmd))
case("command misc", ("COMMAND", "INFO", "nosuchcmd"), ("COMMAND", "GETKEYS", "set", "a", "b"),
     ("COMMAND", "GETKEYS", "mset", "a", "1", "b", "2"), ("COMMAND", "GETKEYS", "get"),
     ("COMMAND", "GETKEYS", "nosuch", "a"), ("COMMAND", "FOO"), Shape("COMMAND", "COUNT"))

# --------------------------------------------------------------------------
# unknown commands and arity errors for every command
# --------------------------------------------------------------------------
case("unknown commands", ("FOOBAR",), ("FOOBAR", "a", "b"), ("foobar", "x" * 200),
     ("FOOBAR", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n"),
     ("FOOBAR", BIN), ("", "a"), ("GET\x00", "x"))
ALL = ("GET SET SETNX SETEX PSETEX GETSET GETDEL GETEX MGET MSET MSETNX APPEND STRLEN GETRANGE "
       "SETRANGE INCR DECR INCRBY DECRBY INCRBYFLOAT SETBIT GETBIT BITCOUNT BITPOS BITOP "
       "BITFIELD BITFIELD_RO LCS SUBSTR DEL UNLINK EXISTS TOUCH TYPE RENAME RENAMENX COPY EXPIRE "
       "PEXPIRE EXPIREAT PEXPIREAT TTL PTTL PERSIST EXPIRETIME PEXPIRETIME KEYS SCAN RANDOMKEY "
       "OBJECT ECHO AUTH SELECT DBSIZE CLIENT CONFIG").split()
for cmd in ALL:
    case("arity %s" % cmd, (cmd,), (cmd.lower(), "a", "b", "c", "d", "e", "f", "g"))

# --------------------------------------------------------------------------
# RESP3
# --------------------------------------------------------------------------
case("resp3 basic", ("GET", "missing"), ("RANDOMKEY",), ("SET", "k", "v"), ("GET", "k"),
     ("RANDOMKEY",), ("MGET", "k", "missing"),
     ("SET", "k", "w", "NX"), ("SET", "k", "x", "XX", "GET"), ("GETEX", "missing"),
     ("GETDEL", "missing"), ("PING",), ("ECHO", "e"), ("EXISTS", "k"), ("TTL", "k"),
     ("INCRBYFLOAT", "f", "1.5"), ("TYPE", "k"), ("CLIENT", "GETNAME"),
     ("OBJECT", "ENCODING", "missing"), ("GETSET", "nn", "1"), resp3=True)
case("resp3 lcs/bitfield/config", ("MSET", "a", "ohmytext", "b", "mynewtext"),
     ("LCS", "a", "b", "IDX", "WITHMATCHLEN"), ("LCS", "a", "b", "LEN"),
     ("BITFIELD", "c", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "5", "GET", "u2", "0"),
     ("CONFIG", "GET", "timeout"), Pairs("CONFIG", "GET", "hz", "databases"), ("CONFIG", "GET", "nosuch"),
     Sorted("KEYS", "*"), ScanAll(), ("EXPIRETIME", "a"), ("SET", "a", "1", "EXAT", str(FAR)),
     ("EXPIRETIME", "a"), ("COMMAND", "GETKEYS", "set", "a", "b"), Shape("TIME"),
     ("FOOBAR",), ("INCR", "a"), ("HELLO", "4"), resp3=True)
case("resp3 reply types", Shape("INFO", "server"), Shape("INFO"), Shape("CLIENT", "INFO"),
     Shape("CLIENT", "LIST"), Shape("CONFIG", "GET", "timeout"), Shape("COMMAND", "DOCS", "get"),
     Shape("HELLO"), resp3=True)
case("resp2 reply types", Shape("INFO", "server"), Shape("CLIENT", "INFO"), Shape("CLIENT", "LIST"),
     Shape("COMMAND", "DOCS", "get"))
case("resp3 hello back to 2", Shape("HELLO", "2"), ("GET", "missing"), ("MGET", "missing"),
     ("CONFIG", "GET", "timeout"), resp3=True)


# --------------------------------------------------------------------------
# runner
# --------------------------------------------------------------------------

def normalize(step, reply):
    if isinstance(step, Sorted) and isinstance(reply, list):
        return sorted(reply, key=repr)
    if isinstance(step, Pairs) and isinstance(reply, Map):
        return Map(sorted(reply, key=repr))
    if isinstance(step, Pairs) and isinstance(reply, list) and len(reply) % 2 == 0:
        pairs = sorted(zip(reply[0::2], reply[1::2]), key=repr)
        return [x for kv in pairs for x in kv]
    return reply


def shape(v):
    if isinstance(v, (list, tuple)):
        return (type(v).__name__, len(v) if not isinstance(v, Map) else None)
    return type(v).__name__


def run_step(conn, step):
    if isinstance(step, Sleep):
        return None
    if isinstance(step, ScanAll):
        cursor, keys, rounds = b"0", [], 0
        while True:
            r = conn.call("SCAN", cursor, *step.args)
            if not isinstance(r, list) or len(r) != 2:
                return ("error", r)
            cursor, batch = r
            keys.extend(batch)
            rounds += 1
            if cursor == b"0" or rounds > 10000:
                break
        return ("keys", sorted(set(keys)))
    return conn.call(*step.args)


def compare(step, a, b):
    if isinstance(step, Shape):
        return shape(a) == shape(b)
    if isinstance(step, Prefix):
        if isinstance(a, list) and isinstance(b, list) and len(a) == 1 and len(b) == 1 \
                and isinstance(a[0], list) and isinstance(b[0], list):
            return same(a[0][:step.n], b[0][:step.n])
        return same(a, b)
    if isinstance(step, Tol) and type(a) is int and type(b) is int and a >= 0 and b >= 0:
        return abs(a - b) <= step.tol
    return same(normalize(step, a), normalize(step, b))


def fmt_args(args):
    out = []
    for a in args:
        if isinstance(a, bytes):
            out.append(repr(a))
        else:
            out.append(str(a) if " " not in str(a) and str(a) else repr(a))
    return " ".join(out)


class Side:
    def __init__(self, port):
        self.port = port
        self.conn = None
        self.resp3 = False

    def get(self, resp3):
        if self.conn is None or self.resp3 != resp3:
            if self.conn is not None:
                self.conn.close()
            self.conn = Resp(self.port, timeout=30)
            self.resp3 = resp3
            if resp3:
                r = self.conn.call("HELLO", "3")
                assert isinstance(r, Map), r
        return self.conn

    def reset(self):
        if self.conn is not None:
            self.conn.close()
        self.conn = None


def main():
    tap = harness.Tap()
    ref = harness.RedisServer(extra=["--databases", "1"]).start()
    kv = harness.RaftkvServer(extra=["--log-level", "warn"]).start()
    sides = [Side(ref.port), Side(kv.port)]
    try:
        for name, steps, resp3 in CASES:
            diags = []
            try:
                conns = []
                for s in sides:
                    s.reset()  # fresh connection: no name, RESP2/3 as asked
                    c = s.get(resp3)
                    r = c.call("FLUSHALL")
                    assert r == "OK", r
                    conns.append(c)
                for step in steps:
                    if isinstance(step, Sleep):
                        time.sleep(step.s)
                        continue
                    replies = []
                    for c in conns:
                        try:
                            replies.append(run_step(c, step))
                        except harness.Closed as e:
                            replies.append(("closed", str(e)))
                    a, b = replies
                    if not compare(step, a, b):
                        diags.append("command: %s\n  redis:  %r\n  raftkv: %r"
                                     % (fmt_args(step.args), a, b))
                    if any(isinstance(r, tuple) and r[0] == "closed" for r in replies):
                        for s in sides:
                            s.reset()
                        conns = [s.get(resp3) for s in sides]
            except Exception as e:
                import traceback
                diags.append("exception: %r\n%s" % (e, traceback.format_exc()))
                for s in sides:
                    s.reset()
            tap.check(("resp3 " if resp3 and not name.startswith("resp3") else "") + name,
                      not diags, "\n".join(diags))
            if not kv.alive():
                tap.check("raftkv still running", False, kv.log_tail())
                break
    finally:
        for s in sides:
            s.reset()
        ref.close()
        kv.close()
    tap.finish()


if __name__ == "__main__":
    main()
