"""Multi-node raftkv with real processes and real faults: reads and writes
through every node, leader crash under load, followers paused while the
leader serves reads (bounded waiting), a paused old leader, and catch-up
by snapshot. Prints TAP."""

import os
import threading
import time

import redis

from cluster import Cluster, Tap, wait_for

tap = Tap()


def followers(c, leader):
    return [n for n in c.nodes if n is not leader]


def t_reads_and_writes_on_every_node():
    c = Cluster(3)
    try:
        c.start()
        for n in c.nodes:
            r = n.client()
            assert r.set("k%d" % n.id, "v%d" % n.id) is True
            assert r.incr("counter") >= 1
        for n in c.nodes:
            r = n.client()
            # Linearizable: every node sees every acknowledged write.
            assert r.mget("k1", "k2", "k3") == [b"v1", b"v2", b"v3"], n.id
            assert r.get("counter") == b"3", n.id
        # A retried-free INCR through a follower increments once.
        lead = c.leader()
        f = followers(c, lead)[0]
        assert f.client().incr("once") == 1
        assert lead.client().get("once") == b"1"
    finally:
        c.close()


def t_transactions_are_atomic_through_followers():
    c = Cluster(3)
    try:
        lead = c.start()
        nodes = c.nodes

        def worker(node, n):
            r = node.client()
            for _ in range(n):
                p = r.pipeline(transaction=True)
                p.incr("tx:a").incr("tx:b").get("tx:a").get("tx:b")
                a1, b1, a2, b2 = p.execute()
                # Nothing interleaves inside a transaction.
                assert a1 == int(a2) and b1 == int(b2), (a1, b1, a2, b2)

        threads = [threading.Thread(target=worker, args=(n, 200)) for n in nodes]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        for n in nodes:
            r = n.client()
            assert r.get("tx:a") == b"600" and r.get("tx:b") == b"600", n.id
    finally:
        c.close()


def t_watch_exec_through_follower_with_writer_on_leader():
    c = Cluster(3)
    try:
        lead = c.start()
        f = followers(c, lead)[0]
        fr, lr = f.client(), lead.client()
        # A write on the leader between WATCH and EXEC on a follower aborts.
        assert lr.set("w", "0") is True
        with fr.pipeline() as p:
            p.watch("w")
            assert p.get("w") == b"0"
            assert lr.set("w", "leader") is True
            p.multi()
            p.set("w", "follower")
            try:
                p.execute()
                raise AssertionError("EXEC ran although the leader wrote")
            except redis.WatchError:
                pass
        assert lr.get("w") == b"leader"
        # Untouched: it runs.
        with fr.pipeline() as p:
            p.watch("w")
            p.get("w")
            p.multi()
            p.set("w", "follower")
            assert p.execute() == [True]
        assert lr.get("w") == b"follower"

        # Check-and-set increments through both followers race INCRs on
        # the leader: no update may be lost.
        lr.set("ctr", 0)
        done = {"cas": 0, "incr": 0, "aborts": 0}
        errors = []
        lock = threading.Lock()

        def cas_worker(node, n):
            r = node.client()
            try:
                for _ in range(n):
                    while True:
                        with r.pipeline() as p:
                            try:
                                p.watch("ctr")
                                v = int(p.get("ctr"))
                                p.multi()
                                p.set("ctr", v + 1)
                                p.execute()
                                break
                            except redis.WatchError:
                                with lock:
                                    done["aborts"] += 1
                    with lock:
                        done["cas"] += 1
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))

        def incr_worker(n):
            r = lead.client()
            try:
                for _ in range(n):
                    r.incr("ctr")
                    with lock:
                        done["incr"] += 1
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))

        ts = [threading.Thread(target=cas_worker, args=(n, 30))
              for n in followers(c, lead)]
        ts.append(threading.Thread(target=incr_worker, args=(150,)))
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert not errors, errors
        want = done["cas"] + done["incr"]
        assert want == 210, done
        for n in c.nodes:
            assert n.client().get("ctr") == str(want).encode(), (n.id, done)
        print("# watch through followers: %d aborts" % done["aborts"])
    finally:
        c.close()


def t_leader_kill9_under_write_load_loses_nothing():
    c = Cluster(3, ["--election-ms", "1000", "--heartbeat-ms", "100"])
    stop = threading.Event()
    try:
        lead = c.start()
        via = followers(c, lead)[0]
        acked, unknown = [], []

        def writer(tid):
            r = via.client(timeout=8)
            i = 0
            while not stop.is_set():
                key = "w%d:%d" % (tid, i)
                try:
                    r.set(key, i)
                    acked.append(key)
                except redis.exceptions.ResponseError as e:
                    if str(e).startswith("UNKNOWN"):
                        unknown.append(key)
                    time.sleep(0.01)
                except redis.exceptions.ConnectionError:
                    time.sleep(0.01)
                i += 1

        # Daemon threads, stopped in finally: a failed assertion must not
        # leave writers that keep the process alive.
        threads = [threading.Thread(target=writer, args=(t,), daemon=True)
                   for t in range(4)]
        for t in threads:
            t.start()
        time.sleep(1.5)
        before = len(acked)
        t0 = time.time()
        lead.kill9()
        survivors = [n for n in c.nodes if n is not lead]
        new = c.wait_leader(timeout=10, among=survivors)
        elected = time.time() - t0
        # About two election timeouts (plus pre-vote and our polling).
        assert elected < 4.0, "new leader after %.1fs" % elected
        # Writes through the follower resume by themselves.
        wait_for(lambda: len(acked) > before + 200, 10, "writes to resume")
        stop.set()
        for t in threads:
            t.join(timeout=10)
        r = new.client()
        missing = [k for k in acked if r.get(k) is None]
        assert not missing, "%d acknowledged writes lost, e.g. %s" % (
            len(missing), missing[:5])
        print("# acked %d, unknown %d, new leader after %.2fs" % (
            len(acked), len(unknown), elected))
    finally:
        stop.set()
        c.close()


def t_paused_followers_reads_stay_bounded():
    # Reads on the leader while both followers are SIGSTOPped for 30 s
    # (issue 3): every read ends by its deadline (+100 ms), the queue never
    # passes its cap, the leader's memory grows < 20 MB and its CPU stays
    # low, and service returns within 3 s of SIGCONT.
    cap_ms = 1000
    c = Cluster(3, ["--verify-timeout-ms", str(cap_ms), "--max-pending-reads", "200"])
    try:
        lead = c.start()
        lead.client().set("x", "1")
        fs = followers(c, lead)
        rss0 = lead.rss_kb()
        for f in fs:
            f.stop()
        cpu0, wall0 = lead.cpu_seconds(), time.time()
        worst = [0.0]
        errors = {}
        max_pending = [0]
        stop = threading.Event()

        def reader():
            r = lead.client(timeout=5)
            while not stop.is_set():
                t0 = time.time()
                try:
                    r.get("x")
                except redis.exceptions.ResponseError as e:
                    key = str(e).split(" ")[0]
                    errors[key] = errors.get(key, 0) + 1
                except redis.exceptions.ConnectionError:
                    pass
                worst[0] = max(worst[0], time.time() - t0)

        def sampler():
            while not stop.is_set():
                i = lead.info()
                if "pending_reads" in i:
                    max_pending[0] = max(max_pending[0], int(i["pending_reads"]))
                time.sleep(0.1)

        threads = [threading.Thread(target=reader) for _ in range(20)]
        threads.append(threading.Thread(target=sampler))
        for t in threads:
            t.start()
        time.sleep(30)
        stop.set()
        for t in threads:
            t.join(timeout=10)
        rss1 = lead.rss_kb()
        cpu = (lead.cpu_seconds() - cpu0) / (time.time() - wall0)
        # A connection's own, shorter deadline (RAFTKV TIMEOUT) holds too.
        r = lead.client()
        assert r.execute_command("RAFTKV", "TIMEOUT", "300") == b"OK"
        assert r.execute_command("RAFTKV", "TIMEOUT") == 300
        t0 = time.time()
        try:
            r.get("x")
            raise AssertionError("a read succeeded without a majority")
        except redis.exceptions.ResponseError as e:
            assert str(e).startswith("TIMEOUT"), e
        short = time.time() - t0
        assert short <= 0.3 + 0.1 + 0.2, "RAFTKV TIMEOUT 300 read took %.3fs" % short
        for f in fs:
            f.cont()
        # The bound a user relies on (deadline + 100 ms), measured where it
        # is precise: on the server, how late past its deadline any read was
        # answered. The client-side time adds this Python client's own
        # scheduling (20 threads sharing a GIL on 2 cores) and is only a
        # sanity check.
        late = int(lead.info().get("reads_max_late_ms", "-1"))
        assert 0 <= late <= 100, "a read was answered %d ms past its deadline" % late
        assert worst[0] <= cap_ms / 1000 + 1.0, "a read took %.3fs" % worst[0]
        assert max_pending[0] <= 200, "pending reads reached %d" % max_pending[0]
        assert set(errors) <= {"TIMEOUT", "BUSY", "CLUSTERDOWN"}, errors
        assert rss1 - rss0 < 20 * 1024, "RSS grew by %d kB" % (rss1 - rss0)
        # 20 clients each waiting out a 1 s deadline cost the leader next to
        # nothing: no spinning, no walk over waiters.
        assert cpu < 0.25, "leader used %.0f%% of a core" % (cpu * 100)
        # Service back within 3 s of SIGCONT.
        t0 = time.time()

        def serving():
            try:
                n = c.leader()
                return n is not None and n.client(timeout=1).get("x") == b"1"
            except Exception:
                return False

        wait_for(serving, 3, "service after SIGCONT")
        print("# server: worst %d ms past a deadline; client: worst read %.3fs; "
              "errors %s, max pending %d, rss +%d kB, cpu %.1f%%, back in %.2fs, "
              "300 ms deadline read %.3fs" % (
                  late, worst[0], errors, max_pending[0], rss1 - rss0, cpu * 100,
                  time.time() - t0, short))
    finally:
        c.close()


def t_paused_old_leader_never_serves_stale_data():
    c = Cluster(3, ["--verify-timeout-ms", "1000"])
    try:
        old = c.start()
        old.client().set("k", "old")
        old.stop()
        rest = followers(c, old)
        new = c.wait_leader(timeout=10, among=rest)
        new.client().set("k", "new")
        old.cont()
        # The resumed node must never answer "old": either the new value
        # (after it learns the new term and catches up) or an error.
        seen = set()
        r = old.client(timeout=3)
        end = time.time() + 3
        while time.time() < end:
            try:
                seen.add(r.get("k"))
            except redis.exceptions.ResponseError as e:
                seen.add(str(e).split(" ")[0])
        assert b"old" not in seen, seen
        assert b"new" in seen, seen
        # A write sent to the resumed old leader is never lost.
        try:
            r.set("after", "1")
            acked = True
        except redis.exceptions.ResponseError:
            acked = False
        if acked:
            assert new.client().get("after") == b"1"
    finally:
        c.close()


def t_restarted_node_catches_up_by_snapshot():
    c = Cluster(3, ["--snapshot-threshold", "64", "--snapshot-trailing", "16"])
    try:
        lead = c.start()
        lag = followers(c, lead)[0]
        lag.kill9()
        r = lead.client()
        for i in range(3000):
            r.set("s:%d" % i, i)
        wait_for(lambda: int(lead.info().get("snapshots", "0")) > 0, 10,
                 "a snapshot on the leader")
        lag.start()
        wait_for(lambda: lag.info().get("applied_index") == lead.info().get("applied_index"),
                 20, "the restarted node to catch up")
        lr = lag.client()
        assert lr.get("s:0") == b"0" and lr.get("s:2999") == b"2999"
        assert lr.dbsize() == r.dbsize()
    finally:
        c.close()


def t_incr_through_follower_applies_once_across_failover():
    # INCRs forwarded by a follower while the leader is paused long enough
    # for a new election: retries carry the same request id, so each
    # acknowledged INCR is applied exactly once (distinct replies, final
    # value between the acknowledged count and that plus the unknowns).
    c = Cluster(3, ["--election-ms", "500", "--heartbeat-ms", "50"])
    try:
        lead = c.start()
        via = followers(c, lead)[0]
        acked, unknown, stop = [], [], threading.Event()

        def incr():
            r = via.client(timeout=10)
            while not stop.is_set():
                try:
                    acked.append(r.incr("ctr"))
                except redis.exceptions.ResponseError as e:
                    if str(e).startswith("UNKNOWN"):
                        unknown.append(1)
                    time.sleep(0.01)
                except redis.exceptions.ConnectionError:
                    time.sleep(0.01)

        threads = [threading.Thread(target=incr) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        lead.stop()
        time.sleep(2.5)
        lead.cont()
        time.sleep(1.5)
        stop.set()
        for t in threads:
            t.join(timeout=15)
        final = int(c.wait_leader(timeout=10).client().get("ctr"))
        assert len(set(acked)) == len(acked), "an INCR reply repeated: applied twice?"
        assert len(acked) <= final <= len(acked) + len(unknown), (
            "final %d, acked %d, unknown %d" % (final, len(acked), len(unknown)))
        hits = sum(int(n.info().get("dedup_hits", "0")) for n in c.nodes)
        print("# acked %d, unknown %d, final %d, dedup hits %d" % (
            len(acked), len(unknown), final, hits))
    finally:
        c.close()


def t_join_transfer_remove():
    from cluster import Node, free_ports
    c = Cluster(3)
    try:
        lead = c.start()
        lead.client().set("before", "join")
        rp, pp, hp = free_ports(3)
        n4 = Node(c, 4, rp, pp, hp)
        c.nodes.append(n4)
        n4.cluster_args = ["--join", "127.0.0.1:%d" % c.nodes[0].peer_port]
        n4.start()

        def is_voter():
            st = n4.client().execute_command("RAFTKV", "STATUS")
            return b"127.0.0.1:%d" % pp in repr(st).encode() and n4.info().get("voters") == "4"

        wait_for(lambda: _safe(is_voter), 15, "node 4 to join as a voter")
        assert n4.client().get("before") == b"join"
        assert n4.client().set("via4", "x") is True
        lead = c.wait_leader()
        assert lead.client().execute_command("RAFTKV", "TRANSFER", "4") == b"OK"
        wait_for(lambda: n4.info().get("role") == "leader", 5, "node 4 to lead")
        r4 = n4.client()
        assert r4.execute_command("RAFTKV", "NODE", "REMOVE", "1") == b"OK"
        wait_for(lambda: n4.info().get("voters") == "3", 5, "node 1 to leave")
        assert r4.set("after", "remove") is True
        for n in c.nodes[1:]:
            assert n.client().get("after") == b"remove"
        try:
            c.nodes[1].client().execute_command("RAFTKV", "NODE", "ADD", "9", "127.0.0.1:1")
            raise AssertionError("a follower accepted NODE ADD")
        except redis.exceptions.ResponseError as e:
            assert str(e).startswith("CLUSTERDOWN"), e
    finally:
        c.close()


def t_memory_watch_on_the_leader_hands_over():
    """Issue 5: a leader crossing memory-shutdown-threshold-mb transfers
    leadership, exits 2, and loses no acknowledged write."""
    c = Cluster(3)
    try:
        lead = c.start()
        lead.proc.terminate()
        assert lead.proc.wait(timeout=15) == 0, lead.log_tail()
        others = [n for n in c.nodes if n is not lead]
        new = c.wait_leader(among=others)
        base_mb = max(n.rss_kb() for n in others) // 1024
        lead.extra = ["--memory-shutdown-threshold-mb", str(base_mb + 40),
                      "--memory-poll-interval-ms", "20"]
        lead.start()
        wait_for(lambda: _safe(lambda: lead.info().get("role") == "follower"), 10,
                 "the restarted node to follow")
        wait_for(lambda: _safe(lambda: new.client().execute_command(
            "RAFTKV", "TRANSFER", str(lead.id)) == b"OK") and
            lead.info().get("role") == "leader", 10, "leadership to move back")
        r = lead.client(timeout=10)
        val = b"w" * (256 * 1024)
        acked = []
        try:
            for i in range(2000):
                r.set("mw%d" % i, val)
                acked.append(i)
        except Exception:
            pass
        assert lead.proc.wait(timeout=20) == 2, lead.log_tail()
        t_exit = time.time()
        with open(lead.log, "rb") as f:
            log = f.read().decode(errors="replace")
        assert log.count('"event":"memory_threshold_exceeded"') == 1, log[-2000:]
        assert '"event":"shutdown_transfer","outcome":"another node leads"' in log, log[-2000:]
        successor = c.wait_leader(among=others, timeout=5)
        harness_note = "new leader %d %.2fs after the exit" % (successor.id, time.time() - t_exit)
        print("# " + harness_note)
        rs = successor.client()
        missing = [i for i in acked if rs.strlen("mw%d" % i) != len(val)]
        assert acked and not missing, (len(acked), missing[:10])
    finally:
        c.close()


def _safe(fn):
    try:
        return fn()
    except Exception:
        return False


def t_five_nodes_survive_two_failures():
    c = Cluster(5)
    try:
        lead = c.start()
        lead.client().set("a", "1")
        down = followers(c, lead)[:2]
        for n in down:
            n.kill9()
        for n in c.nodes:
            if n in down:
                continue
            assert n.client().get("a") == b"1"
            assert n.client().set("b%d" % n.id, "x") is True
    finally:
        c.close()


tap.run("reads and writes work on every node of 3", t_reads_and_writes_on_every_node)
tap.run("MULTI/EXEC through every node is atomic",
        t_transactions_are_atomic_through_followers)
tap.run("WATCH/EXEC through followers against a writer on the leader",
        t_watch_exec_through_follower_with_writer_on_leader)
tap.run("kill -9 of the leader under write load loses no acknowledged write",
        t_leader_kill9_under_write_load_loses_nothing)
tap.run("reads stay bounded while both followers are paused",
        t_paused_followers_reads_stay_bounded)
tap.run("a paused old leader never serves stale data", t_paused_old_leader_never_serves_stale_data)
tap.run("a restarted node catches up by snapshot", t_restarted_node_catches_up_by_snapshot)
tap.run("INCR through a follower applies once across a failover",
        t_incr_through_follower_applies_once_across_failover)
tap.run("a node joins, leadership moves to it, another node is removed",
        t_join_transfer_remove)
tap.run("5 nodes keep serving with 2 down", t_five_nodes_survive_two_failures)
tap.run("memory watch on the leader: hand over, exit 2, nothing lost",
        t_memory_watch_on_the_leader_hands_over)
tap.finish()
