/* raftadapter on real raft_uv storage in a temporary directory: proposals,
 * group commit, restart, snapshots, the read queue's bounds, expiry, the
 * data-dir lock and refusal of a damaged log. */

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "kv/kv.h"
#include "proto/proto.h"
#include "raftadapter/radapter.h"

/* ------------------------------------------------------------------------
 * Fixture
 * ---------------------------------------------------------------------- */

struct fx
{
    uv_loop_t loop;
    char dir[64];
    char peer[32];
    struct kv_store *store;
    struct radapter *r;
    struct radapter_config cfg;
    bool closed;
};

static struct fx f;

static int free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static struct kv_store *new_store(void)
{
    uint8_t seed[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    return kv_store_new(seed);
}

static void setup(void)
{
    memset(&f, 0, sizeof f);
    cr_assert(eq(int, uv_loop_init(&f.loop), 0));
    strcpy(f.dir, "/tmp/radapter-test-XXXXXX");
    cr_assert(mkdtemp(f.dir) != NULL);
    snprintf(f.peer, sizeof f.peer, "127.0.0.1:%d", free_port());
    radapter_config_default(&f.cfg);
    f.cfg.data_dir = f.dir;
    f.cfg.peer_addr = f.peer;
    f.cfg.election_ms = 200;
    f.cfg.heartbeat_ms = 20;
}

/* Runs the loop until @cond holds or @ms pass. */
static bool run_until(bool (*cond)(void), unsigned ms)
{
    uint64_t end = uv_hrtime() + (uint64_t)ms * 1000000;
    while (!cond() && uv_hrtime() < end) {
        uv_run(&f.loop, UV_RUN_ONCE);
    }
    return cond();
}

static bool is_ready(void)
{
    return radapter_read_now(f.r);
}

static void start_node(void)
{
    f.store = new_store();
    cr_assert(f.store != NULL);
    int rv = radapter_new(&f.loop, &f.cfg, f.store, &f.r);
    cr_assert(eq(int, rv, 0), "radapter_new: %s", radapter_last_error());
    cr_assert(eq(int, radapter_start(f.r), 0), "start: %s",
              radapter_last_error());
    cr_assert(run_until(is_ready, 5000), "node never became ready");
}

static void close_cb(struct radapter *r)
{
    (void)r;
    f.closed = true;
}

static bool is_closed(void)
{
    return f.closed;
}

static void stop_node(void)
{
    f.closed = false;
    radapter_close(f.r, close_cb);
    cr_assert(run_until(is_closed, 5000));
    f.r = NULL;
    kv_store_free(f.store);
    f.store = NULL;
}

static void teardown(void)
{
    char cmd[128];
    if (f.r != NULL) {
        stop_node();
    }
    uv_run(&f.loop, UV_RUN_NOWAIT);
    uv_loop_close(&f.loop);
    snprintf(cmd, sizeof cmd, "rm -rf %s", f.dir);
    (void)system(cmd);
}

TestSuite(radapter, .init = setup, .fini = teardown, .timeout = 60);

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

struct wres
{
    int calls;
    int status;
    struct kv_reply reply;
    int order; /* global completion order */
};

static int completions;

static void write_cb(void *arg, int status, struct kv_reply *reply)
{
    struct wres *w = arg;
    w->calls++;
    w->status = status;
    w->order = completions++;
    if (reply != NULL) {
        w->reply = *reply;
    }
}

static int propose3(const char *a, const char *b, const char *c, struct wres *w)
{
    const char *argv[3] = {a, b, c};
    size_t lens[3] = {strlen(a), b ? strlen(b) : 0, c ? strlen(c) : 0};
    int argc = c ? 3 : (b ? 2 : 1);
    return radapter_propose(f.r, argc, argv, lens, write_cb, w);
}

static struct wres *pending_w;
static int pending_n;

static bool all_done(void)
{
    for (int i = 0; i < pending_n; i++) {
        if (pending_w[i].calls == 0) {
            return false;
        }
    }
    return true;
}

static void wait_writes(struct wres *w, int n)
{
    pending_w = w;
    pending_n = n;
    cr_assert(run_until(all_done, 10000), "writes did not complete");
}

static void get(const char *key, struct kv_reply *out)
{
    const char *argv[2] = {"GET", key};
    size_t lens[2] = {3, strlen(key)};
    struct kv_exec_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.now_ms = 0;
    ctx.max_bulk_len = 512 * 1024 * 1024;
    kv_exec(f.store, &ctx, 2, argv, lens, out);
}

static void assert_value(const char *key, const char *val)
{
    struct kv_reply rep;
    memset(&rep, 0, sizeof rep);
    get(key, &rep);
    if (val == NULL) {
        cr_assert(eq(int, rep.type, KV_REPLY_NIL), "%s should be absent", key);
    } else {
        cr_assert(eq(int, rep.type, KV_REPLY_BULK), "%s missing", key);
        cr_assert(eq(u64, rep.len, strlen(val)));
        cr_assert(eq(int, memcmp(rep.str, val, rep.len), 0));
    }
    kv_reply_fini(&rep);
}

/* ------------------------------------------------------------------------
 * Tests
 * ---------------------------------------------------------------------- */

Test(radapter, set_then_get_replies_ok)
{
    struct wres w;
    memset(&w, 0, sizeof w);
    start_node();
    cr_assert(eq(int, propose3("SET", "k", "v", &w), 0));
    cr_assert(eq(int, w.calls, 0), "callback ran inside propose");
    wait_writes(&w, 1);
    cr_assert(eq(int, w.status, 0));
    cr_assert(eq(int, w.reply.type, KV_REPLY_STATUS));
    kv_reply_fini(&w.reply);
    assert_value("k", "v");
}

Test(radapter, many_commands_share_few_entries_in_order)
{
    enum { N = 2000 };
    static struct wres w[N];
    struct radapter_info info;
    char key[32];
    memset(w, 0, sizeof w);
    completions = 0;
    start_node();
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "k%d", i);
        cr_assert(eq(int, propose3("INCR", "counter", NULL, &w[i]), 0));
    }
    wait_writes(w, N);
    for (int i = 0; i < N; i++) {
        cr_assert(eq(int, w[i].status, 0));
        cr_assert(eq(int, w[i].order, i), "replies out of order");
        cr_assert(eq(i64, w[i].reply.i, i + 1));
        kv_reply_fini(&w[i].reply);
    }
    radapter_get_info(f.r, &info);
    cr_assert(le(u64, info.entries_proposed, 10),
              "%llu entries for %d commands: not group-committed",
              (unsigned long long)info.entries_proposed, N);
    cr_assert(eq(u64, info.commands_proposed, N));
}

Test(radapter, restart_keeps_acknowledged_writes)
{
    enum { N = 300 };
    static struct wres w[N];
    char key[32], val[32];
    memset(w, 0, sizeof w);
    start_node();
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "key:%d", i);
        snprintf(val, sizeof val, "value:%d", i);
        cr_assert(eq(int, propose3("SET", key, val, &w[i]), 0));
        if (i % 50 == 0) {
            uv_run(&f.loop, UV_RUN_NOWAIT); /* spread over several entries */
        }
    }
    wait_writes(w, N);
    for (int i = 0; i < N; i++) {
        kv_reply_fini(&w[i].reply);
    }
    stop_node();
    start_node();
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "key:%d", i);
        snprintf(val, sizeof val, "value:%d", i);
        assert_value(key, val);
    }
}

Test(radapter, restart_from_snapshot_and_log_tail)
{
    enum { N = 3000 };
    static struct wres w[N];
    struct radapter_info info;
    char key[32], val[32];
    memset(w, 0, sizeof w);
    f.cfg.snapshot_threshold = 16;
    f.cfg.snapshot_trailing = 8;
    start_node();
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "key:%d", i);
        snprintf(val, sizeof val, "value:%d", i);
        cr_assert(eq(int, propose3("SET", key, val, &w[i]), 0));
        uv_run(&f.loop, UV_RUN_NOWAIT); /* many small entries */
    }
    wait_writes(w, N);
    for (int i = 0; i < N; i++) {
        kv_reply_fini(&w[i].reply);
    }
    radapter_get_info(f.r, &info);
    cr_assert(gt(u64, info.snapshots, 0), "no snapshot was taken");
    stop_node();
    start_node();
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "key:%d", i);
        snprintf(val, sizeof val, "value:%d", i);
        assert_value(key, val);
    }
}

Test(radapter, second_process_on_same_dir_is_refused)
{
    struct radapter *other = NULL;
    struct kv_store *s2 = new_store();
    start_node();
    int rv = radapter_new(&f.loop, &f.cfg, s2, &other);
    cr_assert(eq(int, rv, RADAPTER_ELOCKED));
    cr_assert(strstr(radapter_last_error(), "locked") != NULL);
    kv_store_free(s2);
}

struct rres
{
    int calls;
    int status;
};

static void read_cb(void *arg, int status)
{
    struct rres *q = arg;
    q->calls++;
    q->status = status;
}

static struct rres *rwait;
static bool read_done(void)
{
    return rwait->calls > 0;
}

Test(radapter, reads_wait_for_ready_and_queue_is_bounded)
{
    struct radapter_read q[3];
    struct rres res[3];
    memset(res, 0, sizeof res);
    f.cfg.max_pending_reads = 2;
    f.store = new_store();
    cr_assert(eq(int, radapter_new(&f.loop, &f.cfg, f.store, &f.r), 0));
    cr_assert(eq(int, radapter_start(f.r), 0));
    uint64_t dl = uv_now(&f.loop) + 5000;
    cr_assert(not(radapter_read_now(f.r)));
    cr_assert(eq(int, radapter_read(f.r, &q[0], dl, read_cb, &res[0]), 0));
    cr_assert(eq(int, radapter_read(f.r, &q[1], dl, read_cb, &res[1]), 0));
    cr_assert(eq(int, radapter_read(f.r, &q[2], dl, read_cb, &res[2]),
                 RADAPTER_EBUSY));
    cr_assert(eq(int, res[0].calls, 0), "callback ran inside the call");
    rwait = &res[1];
    cr_assert(run_until(read_done, 5000));
    cr_assert(eq(int, res[0].calls, 1));
    cr_assert(eq(int, res[0].status, 0));
    cr_assert(eq(int, res[1].status, 0));
    cr_assert(eq(int, res[2].calls, 0));
}

Test(radapter, read_deadline_and_cancel)
{
    struct radapter_read q[2];
    struct rres res[2];
    memset(res, 0, sizeof res);
    f.store = new_store();
    cr_assert(eq(int, radapter_new(&f.loop, &f.cfg, f.store, &f.r), 0));
    cr_assert(eq(int, radapter_start(f.r), 0));
    uint64_t now = uv_now(&f.loop);
    /* Already due: it must time out before the node can be ready (that
     * takes a disk write). */
    cr_assert(eq(int, radapter_read(f.r, &q[0], now, read_cb, &res[0]), 0));
    cr_assert(
        eq(int, radapter_read(f.r, &q[1], now + 5000, read_cb, &res[1]), 0));
    radapter_read_cancel(f.r, &q[1]);
    rwait = &res[0];
    cr_assert(run_until(read_done, 5000));
    cr_assert(eq(int, res[0].status, RADAPTER_ETIMEDOUT));
    cr_assert(run_until(is_ready, 5000));
    uv_run(&f.loop, UV_RUN_NOWAIT);
    cr_assert(eq(int, res[1].calls, 0), "a cancelled read ran");
}

static bool store_empty(void)
{
    return kv_store_size(f.store) == 0;
}

Test(radapter, active_expiry_removes_keys_through_the_log)
{
    struct wres w;
    memset(&w, 0, sizeof w);
    start_node();
    const char *argv[5] = {"SET", "tmp", "v", "PX", "50"};
    size_t lens[5] = {3, 3, 1, 2, 2};
    cr_assert(eq(int, radapter_propose(f.r, 5, argv, lens, write_cb, &w), 0));
    wait_writes(&w, 1);
    kv_reply_fini(&w.reply);
    cr_assert(eq(u64, kv_store_size(f.store), 1));
    cr_assert(run_until(store_empty, 3000), "expired key never removed");
    struct radapter_info info;
    radapter_get_info(f.r, &info);
    cr_assert(eq(u64, info.expired_keys, 1));
}

/* Flips a byte in the middle of the first closed segment. */
static bool damage_closed_segment(const char *dir)
{
    char path[512];
    struct dirent *e;
    DIR *d = opendir(dir);
    bool done = false;
    while (d != NULL && (e = readdir(d)) != NULL && !done) {
        if (strchr(e->d_name, '-') == NULL ||
            strncmp(e->d_name, "open", 4) == 0 ||
            strncmp(e->d_name, "snapshot", 8) == 0 || e->d_name[0] < '0' ||
            e->d_name[0] > '9') {
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        int fd = open(path, O_RDWR);
        struct stat st;
        fstat(fd, &st);
        off_t at = st.st_size / 2;
        unsigned char c;
        pread(fd, &c, 1, at);
        c ^= 0xff;
        pwrite(fd, &c, 1, at);
        close(fd);
        done = true;
    }
    if (d != NULL) {
        closedir(d);
    }
    return done;
}

Test(radapter, damaged_closed_segment_refuses_to_start)
{
    enum { N = 400 };
    static struct wres w[N];
    char key[32], raftdir[128];
    memset(w, 0, sizeof w);
    f.cfg.snapshot_threshold = 100000; /* keep the log */
    start_node();
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "key:%d", i);
        cr_assert(eq(int, propose3("SET", key, "some value here", &w[i]), 0));
        uv_run(&f.loop, UV_RUN_NOWAIT);
    }
    wait_writes(w, N);
    for (int i = 0; i < N; i++) {
        kv_reply_fini(&w[i].reply);
    }
    stop_node();
    /* A clean shutdown closes the open segment, so a closed one exists. */
    snprintf(raftdir, sizeof raftdir, "%s/raft", f.dir);
    cr_assert(damage_closed_segment(raftdir), "no closed segment found");
    f.store = new_store();
    int rv = radapter_new(&f.loop, &f.cfg, f.store, &f.r);
    if (rv == 0) {
        rv = radapter_start(f.r);
    }
    cr_assert(ne(int, rv, 0), "started on a damaged log");
    cr_assert(strstr(radapter_last_error(), raftdir) != NULL,
              "message does not name the dir: %s", radapter_last_error());
    if (f.r != NULL) {
        stop_node();
    } else {
        kv_store_free(f.store);
        f.store = NULL;
    }
}

/* ------------------------------------------------------------------------
 * Open-segment damage after a crash. A child process writes and exits
 * without closing anything, as kill -9 would leave the dir.
 * ---------------------------------------------------------------------- */

enum { CRASH_N = 200 };

static void write_then_die(void)
{
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        static struct wres w[CRASH_N];
        char key[32];
        start_node();
        /* One command at a time, each acknowledged before the next: one
         * entry per command and one disk batch per entry, so only the
         * last command can sit in the batch the parent tears. */
        for (int i = 0; i < CRASH_N; i++) {
            snprintf(key, sizeof key, "key:%d", i);
            propose3("SET", key, "v", &w[i]);
            pending_w = &w[i];
            pending_n = 1;
            if (!run_until(all_done, 10000)) {
                _exit(3);
            }
        }
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    cr_assert(ok, "child failed");
}

/* Path of the open segment holding entries, and its size. */
static bool find_open_segment(char *path, size_t cap, off_t *size)
{
    char raftdir[128];
    struct dirent *e;
    struct stat st;
    bool found = false;
    snprintf(raftdir, sizeof raftdir, "%s/raft", f.dir);
    DIR *d = opendir(raftdir);
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "open-", 5) != 0) {
            continue;
        }
        char p[512];
        unsigned char ver[8] = {0};
        snprintf(p, sizeof p, "%s/%s", raftdir, e->d_name);
        int fd = open(p, O_RDONLY);
        pread(fd, ver, 8, 0);
        fstat(fd, &st);
        close(fd);
        if (ver[0] == 1) {
            snprintf(path, cap, "%s", p);
            *size = st.st_size;
            found = true;
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    return found;
}

/* Offset just past the last non-zero byte. */
static off_t data_end(const char *path, off_t size)
{
    int fd = open(path, O_RDONLY);
    unsigned char c = 0;
    off_t p = size;
    while (p > 0) {
        pread(fd, &c, 1, p - 1);
        if (c != 0) {
            break;
        }
        p--;
    }
    close(fd);
    return p;
}

static int restart_rv(void)
{
    f.store = new_store();
    int rv = radapter_new(&f.loop, &f.cfg, f.store, &f.r);
    if (rv == 0) {
        rv = radapter_start(f.r);
        if (rv != 0) {
            stop_node();
            return rv;
        }
    }
    return rv;
}

Test(radapter, torn_tail_of_open_segment_is_dropped_and_node_starts)
{
    char path[512];
    off_t size;
    write_then_die();
    cr_assert(find_open_segment(path, sizeof path, &size));
    off_t end = data_end(path, size);
    /* Cut the file inside its last batch, like a write torn by a crash
     * (libraft alone would double free here). */
    cr_assert(eq(int, truncate(path, end - 5), 0));
    cr_assert(eq(int, restart_rv(), 0), "%s", radapter_last_error());
    cr_assert(run_until(is_ready, 5000));
    /* Everything before the torn batch is there. */
    for (int i = 0; i < CRASH_N - 1; i++) {
        char key[32];
        snprintf(key, sizeof key, "key:%d", i);
        assert_value(key, "v");
    }
}

Test(radapter, bit_flip_inside_open_segment_refuses_to_start)
{
    char path[512];
    off_t size;
    write_then_die();
    cr_assert(find_open_segment(path, sizeof path, &size));
    /* Damage an early batch: valid batches follow it. */
    int fd = open(path, O_RDWR);
    unsigned char c;
    pread(fd, &c, 1, 64);
    c ^= 0x10;
    pwrite(fd, &c, 1, 64);
    close(fd);
    f.store = new_store();
    int rv = radapter_new(&f.loop, &f.cfg, f.store, &f.r);
    cr_assert(eq(int, rv, RADAPTER_ECORRUPT), "rv %d", rv);
    cr_assert(strstr(radapter_last_error(), path) != NULL, "%s",
              radapter_last_error());
    kv_store_free(f.store);
    f.store = NULL;
    f.r = NULL;
}

/* ------------------------------------------------------------------------
 * Request ids: a retried write applies once (dedup.c).
 * ---------------------------------------------------------------------- */

#include "raftadapter/radapter_internal.h"

static void propose_incr_id(uint64_t id, struct wres *w)
{
    const char *argv[2] = {"INCR", "c"};
    size_t lens[2] = {4, 1};
    cr_assert(
        eq(int, radapter__propose_id(f.r, id, 2, argv, lens, write_cb, w), 0));
}

Test(radapter, same_request_id_applies_once)
{
    struct wres w[3];
    memset(w, 0, sizeof w);
    start_node();
    propose_incr_id(42, &w[0]);
    propose_incr_id(42, &w[1]); /* a retry of the same request */
    propose_incr_id(43, &w[2]);
    wait_writes(w, 3);
    cr_assert(eq(i64, w[0].reply.i, 1));
    cr_assert(eq(i64, w[1].reply.i, 1), "the retry applied again");
    cr_assert(eq(i64, w[2].reply.i, 2));
    assert_value("c", "2");
    struct radapter_info info;
    radapter_get_info(f.r, &info);
    cr_assert(eq(u64, info.dedup_hits, 1));
}

Test(radapter, request_ids_survive_snapshot_and_restart)
{
    enum { N = 500 };
    static struct wres w[N];
    struct wres again;
    char key[32];
    memset(w, 0, sizeof w);
    memset(&again, 0, sizeof again);
    f.cfg.snapshot_threshold = 16;
    f.cfg.snapshot_trailing = 4;
    start_node();
    propose_incr_id(7, &w[0]);
    wait_writes(w, 1);
    for (int i = 1; i < N; i++) {
        snprintf(key, sizeof key, "k%d", i);
        cr_assert(eq(int, propose3("SET", key, "v", &w[i]), 0));
        uv_run(&f.loop, UV_RUN_NOWAIT);
    }
    wait_writes(w, N);
    for (int i = 0; i < N; i++) {
        kv_reply_fini(&w[i].reply);
    }
    struct radapter_info info;
    radapter_get_info(f.r, &info);
    cr_assert(gt(u64, info.snapshots, 0));
    stop_node();
    start_node(); /* restores the snapshot, then the log tail */
    propose_incr_id(7, &again);
    wait_writes(&again, 1);
    cr_assert(eq(i64, again.reply.i, 1), "a retry after restart applied");
    assert_value("c", "1");
}

/* ------------------------------------------------------------------------
 * WATCH: "raftkv.exec <commands> <watches>" runs only if every watched key
 * still has the recorded version when the entry applies.
 * ---------------------------------------------------------------------- */

static void propose_exec(const char *const *cmd,
                         int cmd_argc,
                         const struct proto_buf *watches,
                         struct wres *w)
{
    struct proto_buf blob;
    size_t lens[8];
    proto_buf_init(&blob);
    for (int i = 0; i < cmd_argc; i++) {
        lens[i] = strlen(cmd[i]);
    }
    cr_assert(eq(int, proto_peer_encode_args(&blob, cmd_argc, cmd, lens), 0));
    const char *argv[3] = {"raftkv.exec", blob.data,
                           watches != NULL ? watches->data : NULL};
    size_t alens[3] = {11, blob.len, watches != NULL ? watches->len : 0};
    memset(w, 0, sizeof *w);
    cr_assert(eq(int,
                 radapter_propose(f.r, watches != NULL ? 3 : 2, argv, alens,
                                  write_cb, w),
                 0));
    proto_buf_fini(&blob);
    wait_writes(w, 1);
    cr_assert(eq(int, w->status, 0));
}

Test(radapter, watched_transaction_is_checked_at_apply)
{
    struct wres w;
    struct radapter_info info;
    struct proto_buf wl;
    const char *set_w[3] = {"SET", "k", "w"};
    const char *unwatch[1] = {"UNWATCH"};
    start_node();
    memset(&w, 0, sizeof w);
    cr_assert(eq(int, propose3("SET", "k", "v", &w), 0));
    wait_writes(&w, 1);
    kv_reply_fini(&w.reply);
    /* The key's version is the index of the entry that wrote it. */
    radapter_get_info(f.r, &info);
    uint64_t v1 = kv_store_version(f.store, "k", 1, 0);
    cr_assert(eq(u64, v1, info.applied_index));

    /* Unchanged: the transaction runs. */
    proto_buf_init(&wl);
    cr_assert(eq(int, proto_watch_add(&wl, "k", 1, v1), 0));
    cr_assert(eq(int, proto_watch_add(&wl, "absent", 6, 0), 0));
    propose_exec(set_w, 3, &wl, &w);
    cr_assert(eq(int, w.reply.type, KV_REPLY_ARRAY));
    cr_assert(eq(sz, w.reply.n, 1));
    cr_assert(eq(int, w.reply.elems[0].type, KV_REPLY_STATUS));
    kv_reply_fini(&w.reply);
    assert_value("k", "w");
    uint64_t v2 = kv_store_version(f.store, "k", 1, 0);
    cr_assert(gt(u64, v2, v1));

    /* The same (now stale) watch list: nothing runs, null array. */
    const char *set_x[3] = {"SET", "k", "x"};
    propose_exec(set_x, 3, &wl, &w);
    cr_assert(eq(int, w.reply.type, KV_REPLY_NIL_ARRAY));
    kv_reply_fini(&w.reply);
    assert_value("k", "w");
    cr_assert(eq(u64, kv_store_version(f.store, "k", 1, 0), v2));

    /* A queued UNWATCH answers +OK and changes nothing. */
    propose_exec(unwatch, 1, NULL, &w);
    cr_assert(eq(int, w.reply.type, KV_REPLY_ARRAY));
    cr_assert(eq(int, w.reply.elems[0].type, KV_REPLY_STATUS));
    cr_assert(eq(sz, w.reply.elems[0].len, 2));
    kv_reply_fini(&w.reply);

    /* A malformed watch list is an error on every replica, not a crash. */
    wl.len = 5;
    propose_exec(set_x, 3, &wl, &w);
    cr_assert(eq(int, w.reply.type, KV_REPLY_ERROR));
    kv_reply_fini(&w.reply);
    assert_value("k", "w");
    proto_buf_fini(&wl);
}
