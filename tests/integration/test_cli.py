#!/usr/bin/python3
"""redis-cli (Debian's 7.0) against raftkv."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import encode  # noqa: E402


def main():
    tap = harness.Tap()
    srv = harness.RaftkvServer(extra=["--log-level", "warn"]).start()

    def cli(*args, stdin=None, timeout=120):
        p = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(srv.port)] + list(args),
                           input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
        return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")

    def t_set_get():
        assert cli("SET", "a", "b") == (0, "OK\n", ""), cli("SET", "a", "b")
        rc, out, _ = cli("GET", "a")
        assert (rc, out) == (0, "b\n"), out
        rc, out, _ = cli("GET", "nope")
        assert out == "\n", repr(out)  # nil prints as an empty line when not a tty
        rc, out, _ = cli("INCR", "n")
        assert out == "1\n", repr(out)
        rc, out, _ = cli("INCR", "a")
        assert out.startswith("ERR value is not an integer"), repr(out)
        rc, out, _ = cli("MGET", "a", "nope", "n")
        assert out == "b\n\n1\n", repr(out)

    def t_pipe():
        n = 100000
        data = b"".join(encode("SET", "pipe:%06d" % i, "value-%d" % i) for i in range(n))
        rc, out, err = cli("--pipe", stdin=data, timeout=180)
        assert rc == 0, (rc, out, err)
        assert "errors: 0, replies: %d" % n in out, out
        rc, out, _ = cli("DBSIZE")
        assert out.strip() == str(n + 2), out  # + "a" and "n" from the first test
        rc, out, _ = cli("FLUSHALL")
        rc, out, _ = cli("--pipe", stdin=data, timeout=180)
        rc, out, _ = cli("DBSIZE")
        assert out.strip() == str(n), out
        rc, out, _ = cli("GET", "pipe:099999")
        assert out == "value-99999\n", out

    def t_info_raft():
        rc, out, _ = cli("INFO", "raft")
        assert rc == 0
        assert "# Raft" in out, out
        info = harness.parse_info(out)
        assert info.get("role") == "leader", out

    def t_raw():
        cli("SET", "multi", "line1\nline2")
        rc, out, _ = cli("--raw", "GET", "multi")
        assert out == "line1\nline2\n", repr(out)
        rc, out, _ = cli("--no-raw", "GET", "multi")
        assert out == '"line1\\nline2"\n', repr(out)
        cli("SET", "bin", "\x01\x02")
        rc, out, _ = cli("--no-raw", "GET", "bin")
        assert out == '"\\x01\\x02"\n', repr(out)
        rc, out, _ = cli("--no-raw", "TTL", "bin")
        assert out == "(integer) -1\n", repr(out)
        rc, out, _ = cli("--no-raw", "GET", "nope")
        assert out == "(nil)\n", repr(out)

    def t_resp3():
        rc, out, err = cli("-3", "PING")
        if "Unrecognized option" in err or "unknown" in err.lower():
            return  # this redis-cli has no RESP3 switch
        assert (rc, out) == (0, "PONG\n"), (rc, out, err)
        rc, out, _ = cli("-3", "--no-raw", "GET", "nope")
        assert out == "(nil)\n", repr(out)
        rc, out, _ = cli("-3", "--no-raw", "CONFIG", "GET", "maxmemory")
        assert out == '1# "maxmemory" => "0"\n', repr(out)
        rc, out, _ = cli("-3", "--no-raw", "HELLO", "3")
        assert '"proto" => (integer) 3' in out, out

    def t_stdin_args():
        rc, out, _ = cli("-x", "SET", "fromstdin", stdin=b"payload\x00bytes")
        assert out == "OK\n", out
        rc, out, _ = cli("STRLEN", "fromstdin")
        assert out == "13\n", out

    def t_eval_script_file():
        # a typical ops session: several commands on one connection
        cmds = b"SET s1 1\nINCR s1\nGET s1\nDEL s1\nEXISTS s1\n"
        rc, out, _ = cli(stdin=cmds)
        assert out == "OK\n2\n2\n1\n0\n", repr(out)

    try:
        tap.run("SET a b / GET a", t_set_get)
        tap.run("--pipe mass insertion of 100k SETs", t_pipe)
        tap.run("INFO raft has role:leader", t_info_raft)
        tap.run("--raw / --no-raw output", t_raw)
        tap.run("-3 (RESP3)", t_resp3)
        tap.run("-x reads the last argument from stdin", t_stdin_args)
        tap.run("commands from stdin", t_eval_script_file)
        tap.check("server still running", srv.alive(), srv.log_tail())
    finally:
        srv.close()
    tap.finish()


if __name__ == "__main__":
    main()
