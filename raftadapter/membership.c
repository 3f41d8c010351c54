/* Membership: adding, removing and promoting nodes, leadership transfer,
 * and joining a running cluster.
 *
 * Adding a node (Raft dissertation chapter 4, one server at a time): the
 * leader adds it as a non-voter (raft_add gives RAFT_SPARE... then
 * raft_assign to RAFT_VOTER, which libraft performs only after the new node
 * has caught up with the log), so a slow newcomer never costs the cluster
 * its quorum. Each operation reports through a radapter_write_cb with an
 * "OK" status reply, so the server treats it like any other write.
 *
 * Joining: a node started with an empty data dir and cfg.join_addr does not
 * bootstrap. Until it finds itself in a configuration it sends
 * JOIN{id, peer address} every JOIN_RETRY_MS to the address it knows; a
 * member that leads starts the addition and answers at once, one that does
 * not answers with the leader's address, which the joiner tries next. The
 * leader then replicates the log (or a snapshot) to the newcomer like to
 * any follower. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "raftadapter/radapter_internal.h"

#define JOIN_RETRY_MS 1000

struct admin_req
{
    union {
        struct raft_change change;
        struct raft_transfer transfer;
    } u;
    struct radapter *r;   /* weak: owner */
    radapter_write_cb cb; /* the caller's, or NULL for a join */
    void *arg;            /* borrowed: passed to cb */
    uint64_t id;          /* the node concerned */
};

static int from_raft_change(int rv)
{
    switch (rv) {
        case 0:
            return 0;
        case RAFT_NOTLEADER:
        case RAFT_LEADERSHIPLOST:
            return RADAPTER_ENOTLEADER;
        case RAFT_CANTCHANGE:
            return RADAPTER_EBUSY;
        case RAFT_DUPLICATEID:
        case RAFT_DUPLICATEADDRESS:
            return -EEXIST;
        case RAFT_BADID:
        case RAFT_NOTFOUND:
            return -ENOENT;
        case RAFT_NOMEM:
            return -ENOMEM;
        case RAFT_SHUTDOWN:
            return RADAPTER_ESHUTDOWN;
        default:
            return -EINVAL;
    }
}

/* Completes @q: "OK" on success, the code otherwise. */
static void admin_done(struct admin_req *q, int status)
{
    if (q->cb != NULL) {
        struct kv_reply ok;
        memset(&ok, 0, sizeof ok);
        if (status == 0) {
            ok.type = KV_REPLY_STATUS;
            ok.str = malloc(2);
            if (ok.str != NULL) {
                memcpy(ok.str, "OK", 2);
                ok.len = 2;
            }
        }
        q->cb(q->arg, status, status == 0 ? &ok : NULL);
    }
    free(q);
}

static void assign_cb(struct raft_change *req, int status)
{
    struct admin_req *q = req->data;
    if (status == 0) {
        radapter__log("info", "member_added", "node %llu is now a voter",
                      (unsigned long long)q->id);
    }
    admin_done(q, from_raft_change(status));
}

static void add_cb(struct raft_change *req, int status)
{
    struct admin_req *q = req->data;
    struct radapter *r = q->r;
    int rv;
    if (status != 0 || r->closing) {
        admin_done(q,
                   status != 0 ? from_raft_change(status) : RADAPTER_ESHUTDOWN);
        return;
    }
    /* Promote: libraft first lets the newcomer catch up. */
    memset(&q->u, 0, sizeof q->u);
    q->u.change.data = q;
    rv = raft_assign(&r->raft, &q->u.change, q->id, RAFT_VOTER, assign_cb);
    if (rv != 0) {
        admin_done(q, from_raft_change(rv));
    }
}

static struct admin_req *admin_new(struct radapter *r,
                                   uint64_t id,
                                   radapter_write_cb cb,
                                   void *arg)
{
    struct admin_req *q = calloc(1, sizeof *q);
    if (q != NULL) {
        q->r = r;
        q->id = id;
        q->cb = cb;
        q->arg = arg;
        q->u.change.data = q;
    }
    return q;
}

static bool in_configuration(struct radapter *r, uint64_t id, int *role)
{
    for (unsigned i = 0; i < r->raft.configuration.n; i++) {
        if (r->raft.configuration.servers[i].id == id) {
            if (role != NULL) {
                *role = r->raft.configuration.servers[i].role;
            }
            return true;
        }
    }
    return false;
}

int radapter_add_voter(struct radapter *r,
                       uint64_t id,
                       const char *peer_addr,
                       radapter_write_cb cb,
                       void *arg)
{
    struct admin_req *q;
    int role = 0;
    int rv;
    if (r->closing) {
        return RADAPTER_ESHUTDOWN;
    }
    if (!radapter__is_leader(r)) {
        return RADAPTER_ENOTLEADER;
    }
    if (id == 0 || peer_addr == NULL || peer_addr[0] == '\0') {
        return -EINVAL;
    }
    q = admin_new(r, id, cb, arg);
    if (q == NULL) {
        return -ENOMEM;
    }
    if (in_configuration(r, id, &role)) {
        /* Already a member (a repeated join): make sure it votes. */
        if (role == RAFT_VOTER) {
            free(q);
            return -EEXIST;
        }
        rv = raft_assign(&r->raft, &q->u.change, id, RAFT_VOTER, assign_cb);
    } else {
        rv = raft_add(&r->raft, &q->u.change, id, peer_addr, add_cb);
    }
    if (rv != 0) {
        free(q);
        return from_raft_change(rv);
    }
    radapter__log("info", "member_adding", "adding node %llu at %s",
                  (unsigned long long)id, peer_addr);
    return 0;
}

static void remove_cb(struct raft_change *req, int status)
{
    struct admin_req *q = req->data;
    if (status == 0) {
        radapter__log("info", "member_removed", "node %llu removed",
                      (unsigned long long)q->id);
    }
    admin_done(q, from_raft_change(status));
}

int radapter_remove_node(struct radapter *r,
                         uint64_t id,
                         radapter_write_cb cb,
                         void *arg)
{
    struct admin_req *q;
    int rv;
    if (r->closing) {
        return RADAPTER_ESHUTDOWN;
    }
    if (!radapter__is_leader(r)) {
        return RADAPTER_ENOTLEADER;
    }
    if (!in_configuration(r, id, NULL)) {
        return -ENOENT;
    }
    q = admin_new(r, id, cb, arg);
    if (q == NULL) {
        return -ENOMEM;
    }
    rv = raft_remove(&r->raft, &q->u.change, id, remove_cb);
    if (rv != 0) {
        free(q);
        return from_raft_change(rv);
    }
    return 0;
}

static void transfer_cb(struct raft_transfer *req)
{
    struct admin_req *q = req->data;
    struct radapter *r = q->r;
    raft_id leader = 0;
    const char *addr = NULL;
    raft_leader(&r->raft, &leader, &addr);
    /* Success means another node leads now (the requested one if given). */
    if (leader != 0 && leader != r->cfg.id && (q->id == 0 || leader == q->id)) {
        admin_done(q, 0);
    } else {
        admin_done(q, RADAPTER_ETIMEDOUT);
    }
}

int radapter_transfer(struct radapter *r,
                      uint64_t id,
                      radapter_write_cb cb,
                      void *arg)
{
    struct admin_req *q;
    int rv;
    if (r->closing) {
        return RADAPTER_ESHUTDOWN;
    }
    if (!radapter__is_leader(r)) {
        return RADAPTER_ENOTLEADER;
    }
    q = admin_new(r, id, cb, arg);
    if (q == NULL) {
        return -ENOMEM;
    }
    q->u.transfer.data = q;
    rv = raft_transfer(&r->raft, &q->u.transfer, id, transfer_cb);
    if (rv != 0) {
        free(q);
        return from_raft_change(rv);
    }
    return 0;
}

static struct radapter__peer_info *peer_info(struct radapter *r,
                                             uint64_t id,
                                             bool create)
{
    for (size_t i = 0; i < r->n_peers; i++) {
        if (r->peers[i].id == id) {
            return &r->peers[i];
        }
    }
    if (!create || r->n_peers == RADAPTER_MAX_VOTERS || id == 0) {
        return NULL;
    }
    struct radapter__peer_info *p = &r->peers[r->n_peers++];
    memset(p, 0, sizeof *p);
    p->id = id;
    return p;
}

void radapter__peer_seen(struct radapter *r, uint64_t id)
{
    struct radapter__peer_info *p = peer_info(r, id, true);
    if (p != NULL) {
        p->last_contact = uv_now(r->loop);
    }
}

void radapter__on_addrs(struct radapter *r, const struct proto_peer_msg *m)
{
    struct radapter__peer_info *p = peer_info(r, m->a, true);
    const char *nl;
    size_t n1;
    size_t n2;
    if (p == NULL || m->payload == NULL) {
        return;
    }
    nl = memchr(m->payload, '\n', m->payload_len);
    if (nl == NULL) {
        return;
    }
    n1 = (size_t)(nl - (const char *)m->payload);
    n2 = m->payload_len - n1 - 1;
    if (n1 >= sizeof p->redis_addr || n2 >= sizeof p->http_addr) {
        return;
    }
    memcpy(p->redis_addr, m->payload, n1);
    p->redis_addr[n1] = '\0';
    memcpy(p->http_addr, nl + 1, n2);
    p->http_addr[n2] = '\0';
}

void radapter__addrs_tick(struct radapter *r)
{
    uint64_t now = uv_now(r->loop);
    const void *parts[3] = {r->redis_addr, "\n", r->http_addr};
    size_t lens[3] = {strlen(r->redis_addr), 1, strlen(r->http_addr)};
    if (now < r->addrs_next) {
        return;
    }
    r->addrs_next = now + 2000;
    for (unsigned i = 0; i < r->raft.configuration.n; i++) {
        const struct raft_server *s = &r->raft.configuration.servers[i];
        if (s->id != r->cfg.id) {
            radapter__rpc_send_payload(r, s->id, PROTO_PEER_ADDRS, r->cfg.id, 0,
                                       parts, lens, 3);
        }
    }
}

size_t radapter_get_members(struct radapter *r,
                            struct radapter_member_info *out,
                            size_t cap)
{
    size_t n = 0;
    bool leader = radapter__is_leader(r);
    for (unsigned i = 0; i < r->raft.configuration.n && n < cap; i++) {
        const struct raft_server *s = &r->raft.configuration.servers[i];
        struct radapter_member_info *m = &out[n++];
        raft_index match = 0;
        memset(m, 0, sizeof *m);
        m->id = s->id;
        m->peer_addr = s->address;
        m->role = s->role == RAFT_VOTER     ? "voter"
                  : s->role == RAFT_STANDBY ? "standby"
                                            : "spare";
        if (leader && s->id != r->cfg.id &&
            raft_match_index(&r->raft, s->id, &match) == 0) {
            m->match_index = match;
        } else if (s->id == r->cfg.id) {
            m->match_index = raft_last_index(&r->raft);
        }
        if (s->id == r->cfg.id) {
            m->redis_addr = r->redis_addr;
            m->http_addr = r->http_addr;
            m->last_contact_ms = 0;
        } else {
            const struct radapter__peer_info *p = peer_info(r, s->id, false);
            m->redis_addr = p != NULL ? p->redis_addr : "";
            m->http_addr = p != NULL ? p->http_addr : "";
            m->last_contact_ms =
                p != NULL && p->last_contact != 0
                    ? (int64_t)(uv_now(r->loop) - p->last_contact)
                    : -1;
        }
    }
    return n;
}

/* ------------------------------------------------------------------------
 * Joining
 * ---------------------------------------------------------------------- */

/* A member's side: answers on the connection the JOIN came on. */
void radapter__on_join(struct radapter *r,
                       struct radapter__rpc_conn *conn,
                       const struct proto_peer_msg *m)
{
    char addr[256];
    int status;
    raft_id leader = 0;
    const char *leader_addr = NULL;
    const void *parts[1] = {""};
    size_t lens[1] = {0};

    if (m->payload_len == 0 || m->payload_len >= sizeof addr) {
        return;
    }
    memcpy(addr, m->payload, m->payload_len);
    addr[m->payload_len] = '\0';
    if (radapter__is_leader(r)) {
        int role = 0;
        if (in_configuration(r, m->a, &role) && role == RAFT_VOTER) {
            status = 0;
        } else {
            status = radapter_add_voter(r, m->a, addr, NULL, NULL);
            if (status == -EEXIST) {
                status = 0;
            }
        }
    } else {
        status = RADAPTER_ENOTLEADER;
        raft_leader(&r->raft, &leader, &leader_addr);
        if (leader != 0 && leader_addr != NULL) {
            parts[0] = leader_addr;
            lens[0] = strlen(leader_addr);
        }
    }
    radapter__rpc_reply_payload(conn, PROTO_PEER_JOIN_RESP,
                                (uint64_t)(int64_t)status, 0, parts, lens, 1);
}

/* The joiner's side. */
void radapter__on_join_resp(struct radapter *r, const struct proto_peer_msg *m)
{
    int status = (int)(int64_t)m->a;
    if (status == RADAPTER_ENOTLEADER && m->payload_len > 0 &&
        m->payload_len < sizeof r->join_addr) {
        memcpy(r->join_addr, m->payload, m->payload_len);
        r->join_addr[m->payload_len] = '\0';
        r->join_next = 0; /* ask the leader right away */
    }
}

void radapter__join_tick(struct radapter *r)
{
    const void *parts[1];
    size_t lens[1];
    uint64_t now = uv_now(r->loop);
    if (r->join_addr[0] == '\0' || now < r->join_next) {
        return;
    }
    if (in_configuration(r, r->cfg.id, NULL)) {
        radapter__log("info", "joined", "this node is in the configuration");
        r->join_addr[0] = '\0';
        return;
    }
    r->join_next = now + JOIN_RETRY_MS;
    parts[0] = r->peer_addr;
    lens[0] = strlen(r->peer_addr);
    radapter__rpc_send_addr(r, r->join_addr, PROTO_PEER_JOIN, r->cfg.id, 0,
                            parts, lens, 1);
}
