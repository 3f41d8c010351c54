#!/usr/bin/python3
"""Command line, environment and config file; exit codes; JSON logs."""

import json
import os
import signal
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import RaftkvServer  # noqa: E402

OPTIONS = ["--config", "--id", "--data-dir", "--redis", "--peer", "--http", "--log-level",
           "--maxclients", "--proto-max-bulk-len", "--snapshot-threshold",
           "--snapshot-trailing", "--max-inflight-entries", "--help"]


def run(args, env=None, timeout=15):
    e = dict(os.environ)
    for k in list(e):
        if k.startswith("RAFTKV_") and k != "RAFTKV_SERVER":
            del e[k]
    if env:
        e.update(env)
    return subprocess.run([harness.SERVER] + args, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, env=e, cwd=harness.tmpdir())


def clean_env():
    return {k: "" for k in os.environ if k.startswith("RAFTKV_") and k != "RAFTKV_SERVER"}


def main():
    tap = harness.Tap()

    def t_help():
        p = run(["--help"])
        assert p.returncode == 0, p
        out = (p.stdout + p.stderr).decode()
        missing = [o for o in OPTIONS if o not in out]
        assert not missing, "--help does not list %s:\n%s" % (missing, out)
        assert "RAFTKV_DATA_DIR" in out, out

    def t_version():
        p = run(["--version"])
        assert p.returncode == 0, p
        assert p.stdout.strip(), p

    def t_bad_options():
        for args in (["--no-such-option", "1"], ["--id"], ["--id", "abc"], ["--id", "0"],
                     ["--log-level", "loud"], ["--redis", "not-an-address"],
                     ["--maxclients", "-3"], ["--snapshot-threshold", "x"],
                     ["--config", "/nonexistent/raftkv.conf"], ["positional"]):
            d = harness.tmpdir()
            p = run(args + ["--data-dir", os.path.join(d, "data")] if args[0] != "--id"
                    or len(args) > 1 else args)
            err = p.stderr.decode().strip()
            assert p.returncode == 1, "%s: exit %r, stderr %r" % (args, p.returncode, err)
            assert err and len(err.splitlines()) == 1, "%s: want a one-line error, got %r" % (
                args, err)

    def t_port_in_use():
        srv = RaftkvServer(extra=["--log-level", "warn"]).start()
        try:
            other = RaftkvServer(extra=["--log-level", "warn"])
            other.port = srv.port
            other.spawn()
            rc = other.proc.wait(timeout=15)
            assert rc == 1, (rc, other.log_tail())
            assert str(srv.port) in other.log_text(), other.log_text()
        finally:
            srv.close()

    def t_peer_port_in_use():
        """The peer port taken on a fresh data dir: exit 1 saying so, not that
        the data dir is damaged."""
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        try:
            other = RaftkvServer(extra=["--log-level", "warn"])
            other.peer_port = blocker.getsockname()[1]
            other.spawn()
            rc = other.proc.wait(timeout=15)
            text = other.log_text()
            assert rc == 1, (rc, text)
            assert "peer port" in text and str(other.peer_port) in text, text
            assert "address already in use" in text, text
            assert "damaged" not in text, text
        finally:
            blocker.close()

    def t_env_redis():
        srv = RaftkvServer(extra=["--log-level", "warn"])
        port = harness.free_ports(1)[0]
        args = [a for a in srv.args()]
        i = args.index("--redis")
        del args[i:i + 2]
        env = clean_env()
        env["RAFTKV_REDIS"] = "127.0.0.1:%d" % port
        srv.spawn(args=args, env=env)
        try:
            harness.wait_for(lambda: harness.ping_ok(port), 10, "PING on RAFTKV_REDIS port\n"
                             + srv.log_tail())
        finally:
            srv.stop()

    def t_config_file_and_precedence():
        srv = RaftkvServer()
        d = srv.root
        p_file, p_env, p_cli = harness.free_ports(3)
        conf = os.path.join(d, "raftkv.conf")
        with open(conf, "w") as f:
            f.write("# a comment\n\n")
            f.write("data-dir %s\n" % os.path.join(d, "data"))
            f.write("redis 127.0.0.1:%d\n" % p_file)
            f.write("peer 127.0.0.1:%d\n" % srv.peer_port)
            f.write("http 127.0.0.1:%d\n" % srv.http_port)
            f.write("log-level debug\n")
            f.write("maxclients 77\n")
        base = [srv.binary, "--config", conf]
        # file only
        srv.spawn(args=base, env=clean_env())
        try:
            harness.wait_for(lambda: harness.ping_ok(p_file), 10, "PING on the file's port\n"
                             + srv.log_tail())
            with harness.Resp(p_file) as c:
                cfg = c.call("CONFIG", "GET", "maxclients")
                assert cfg == [b"maxclients", b"77"], cfg
                lv = c.call("CONFIG", "GET", "loglevel")
                assert lv == [b"loglevel", b"debug"], lv
        finally:
            assert srv.stop() == 0
        # env beats file
        env = clean_env()
        env["RAFTKV_REDIS"] = "127.0.0.1:%d" % p_env
        env["RAFTKV_MAXCLIENTS"] = "88"
        srv.spawn(args=base, env=env)
        try:
            harness.wait_for(lambda: harness.ping_ok(p_env), 10, "PING on the env port\n"
                             + srv.log_tail())
            assert not harness.ping_ok(p_file)
            with harness.Resp(p_env) as c:
                assert c.call("CONFIG", "GET", "maxclients") == [b"maxclients", b"88"]
        finally:
            assert srv.stop() == 0
        # command line beats env
        srv.spawn(args=base + ["--redis", "127.0.0.1:%d" % p_cli, "--maxclients", "99"], env=env)
        try:
            harness.wait_for(lambda: harness.ping_ok(p_cli), 10, "PING on the cli port\n"
                             + srv.log_tail())
            assert not harness.ping_ok(p_env)
            with harness.Resp(p_cli) as c:
                assert c.call("CONFIG", "GET", "maxclients") == [b"maxclients", b"99"]
                # the data dir from the file was kept across all three runs
                c.call("SET", "k", "v")
        finally:
            assert srv.stop() == 0
        assert os.path.isdir(os.path.join(d, "data", "raft"))

    def t_bad_config_line():
        d = harness.tmpdir()
        conf = os.path.join(d, "bad.conf")
        with open(conf, "w") as f:
            f.write("no-such-setting 5\n")
        p = run(["--config", conf, "--data-dir", os.path.join(d, "data")])
        err = p.stderr.decode().strip()
        assert p.returncode == 1, (p.returncode, err)
        assert "no-such-setting" in err, err

    def t_json_logs():
        srv = RaftkvServer(extra=["--log-level", "debug"]).start()
        try:
            with srv.resp() as c:
                c.call("SET", "a", "b")
            assert srv.stop(signal.SIGTERM) == 0
        finally:
            srv.close()
        lines = [ln for ln in srv.log_text().splitlines() if ln and not ln.startswith("---")]
        assert lines, "no log lines"
        bad = []
        for ln in lines:
            try:
                o = json.loads(ln)
                if not all(k in o for k in ("ts", "level", "event")):
                    bad.append(ln)
                elif o["level"] not in ("debug", "info", "warn", "error"):
                    bad.append(ln)
            except ValueError:
                bad.append(ln)
        assert not bad, "non-JSON or incomplete log lines:\n" + "\n".join(bad[:10])
        assert any(json.loads(ln)["level"] == "debug" for ln in lines), "no debug line"

    def t_log_level_filters():
        srv = RaftkvServer(extra=["--log-level", "warn"]).start()
        try:
            with srv.resp() as c:
                c.call("SET", "a", "b")
            assert srv.stop() == 0
        finally:
            srv.close()
        levels = {json.loads(ln)["level"] for ln in srv.log_text().splitlines()
                  if ln.startswith("{")}
        assert levels <= {"warn", "error"}, levels

    def t_sigint():
        srv = RaftkvServer(extra=["--log-level", "info"]).start()
        try:
            with srv.resp() as c:
                c.call("SET", "a", "b")
            rc = srv.stop(signal.SIGINT)
            assert rc == 0, (rc, srv.log_tail())
            srv.start()
            assert srv.resp().call_close("GET", "a") == b"b"
            assert srv.stop(signal.SIGTERM) == 0
        finally:
            srv.close()

    tap.run("--help exits 0 and lists the options", t_help)
    tap.run("--version", t_version)
    tap.run("bad options exit 1 with a one-line error", t_bad_options)
    tap.run("port in use: exit 1 naming the port", t_port_in_use)
    tap.run("peer port in use: exit 1 naming it, not a damaged data dir",
            t_peer_port_in_use)
    tap.run("RAFTKV_REDIS is used", t_env_redis)
    tap.run("config file; command line beats env beats file", t_config_file_and_precedence)
    tap.run("unknown config file setting: exit 1 naming it", t_bad_config_line)
    tap.run("logs are JSON lines with ts/level/event", t_json_logs)
    tap.run("--log-level warn filters info", t_log_level_filters)
    tap.run("SIGINT exits 0 and restart keeps data", t_sigint)
    tap.finish()


if __name__ == "__main__":
    main()
