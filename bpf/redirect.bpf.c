// SPDX-License-Identifier: GPL-2.0
/* sluice: socket-level redirect of connections to the intercepted hosts into the local proxy.
 *
 * Data flow (see docs/architecture.md):
 *   connect4/6    TCP to a (addr, port) in `targets` -> rewrite to sluiced's listener in the
 *                 socket's network namespace (`netns_listeners`) and keep the original
 *                 destination + who asked in socket storage (`orig_dst_sk`). A namespace sluiced
 *                 does not serve yet is announced (`netns_events`) and the connect is held.
 *                 UDP to a target address on 443 (QUIC) -> refuse, so clients fall back to TCP.
 *   cgroup_skb/egress  a held connect's SYN is dropped (TCP retries it, soon: TIMEOUT_INIT
 *                 below) until sluiced's listener in that namespace is up.
 *   sockops       TCP_CONNECT_CB (source port known, SYN not yet sent): publish the record under
 *                 the client's (netns, addr, port) in `conn_by_tuple` for the proxy; STATE_CB at
 *                 TCP_CLOSE removes it again so entries never outlive their socket.
 *                 TIMEOUT_INIT: a held connect's first SYN retry comes after 20 ms, not 1 s.
 *   getpeername4/6  report the original destination instead of the proxy.
 *   sendmsg4/6    unconnected UDP to a target address on 443 -> refuse.
 *
 * Byte orders: ctx->user_ip4/user_ip6/user_port are network order (the port sits in the low 16
 * bits of a u32); in sockops local_port is HOST order while remote_port is network order.
 * IPv4 is stored IPv4-mapped (::ffff:a.b.c.d) everywhere so one key type serves both families. */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "netns_maps.h"
#include "redirect_abi.h"

#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#define QUIC_PORT 443
/* A held connect's first SYN retry (then TCP doubles it: with the default 6 retries the hold
 * lasts about 2.5 s before the connect fails with ETIMEDOUT). */
#define HOLD_SYN_RTO_MS 20
/* Connects from one unserved namespace are announced at most this often. */
#define ANNOUNCE_INTERVAL_NS (50ull * 1000 * 1000)

extern unsigned int CONFIG_HZ __kconfig __weak;

/* Verdicts of cgroup sock_addr programs: 0 fails the syscall with EPERM. */
#define VERDICT_ALLOW 1
#define VERDICT_REFUSE 0

char LICENSE[] SEC("license") = "GPL";

/* Per-socket state, private to this file (user space never reads it): the record handed to the
 * proxy plus what we need later in sockops and getpeername. */
struct sk_record {
    struct sluice_conn_meta meta;
    struct sluice_conn_key tuple; /* valid while tuple_recorded */
    __u8 proxy_addr[16];          /* the address connect() was rewritten to (v4-mapped for v4) */
    __u16 proxy_port;             /* network order */
    __u8 tuple_recorded;
    __u8 held; /* redirected before its namespace had a listener: SYNs wait (sluice_hold_syn) */
    __u8 pad[4];
};

/* Every map is pinned by name under <pin_dir>/maps so a restarted sluiced re-adopts them: the
 * target set, counters and live records survive the restart. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, struct sluice_target_key);
    __type(value, struct sluice_target_value);
    __uint(pinning, LIBBPF_PIN_BY_NAME);
} targets SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct sluice_config);
    __uint(pinning, LIBBPF_PIN_BY_NAME);
} config_map SEC(".maps"); /* not `config`: vmlinux.h has a typedef of that name */

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, SLUICE_STAT_MAX);
    __type(key, __u32);
    __type(value, __u64);
    __uint(pinning, LIBBPF_PIN_BY_NAME);
} stats SEC(".maps");

/* Socket storage rather than a cookie-keyed hash: it is freed with the socket, so connect()s
 * that never reach sockops (refused, exempt later, process killed) cannot leak entries. */
struct {
    __uint(type, BPF_MAP_TYPE_SK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, int);
    __type(value, struct sk_record);
    __uint(pinning, LIBBPF_PIN_BY_NAME);
} orig_dst_sk SEC(".maps");

/* What the proxy looks up after accept(): keyed by the client's end of the connection, which is
 * exactly what getpeername() on the accepted socket returns, so the proxy needs nothing but the
 * peer address. The server's end is always the proxy listener and adds nothing to the key.
 * LRU_HASH, not HASH: entries are removed at TCP_CLOSE and on lookup, but if something still
 * slips through (a program swapped mid-connection, a socket whose STATE_CB never fired) the map
 * recycles the oldest entry instead of refusing new ones - a full map would otherwise break
 * attribution for every later connection. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);
    __type(key, struct sluice_netns_conn_key);
    __type(value, struct sluice_conn_meta);
    __uint(pinning, LIBBPF_PIN_BY_NAME);
} conn_by_tuple SEC(".maps");

/* When each unserved namespace was last announced from a connect (rate limit). */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 1024);
    __type(key, __u64);
    __type(value, __u64);
} netns_announced SEC(".maps");

static __always_inline void count(__u32 stat) {
    __u64 *value = bpf_map_lookup_elem(&stats, &stat);
    if (value) *value += 1; /* per-CPU slot: no atomics needed */
}

static __always_inline const struct sluice_config *current_config(void) {
    __u32 zero = 0;
    return bpf_map_lookup_elem(&config_map, &zero);
}

static __always_inline __u32 load_u32(const __u8 *bytes) {
    __u32 word;
    __builtin_memcpy(&word, bytes, sizeof(word));
    return word;
}

static __always_inline void set_v4_mapped(__u8 addr[16], __u32 ip4_net) {
    __builtin_memset(addr, 0, 10);
    addr[10] = 0xff;
    addr[11] = 0xff;
    __builtin_memcpy(&addr[12], &ip4_net, sizeof(ip4_net));
}

static __always_inline bool is_v4_mapped(const __u8 addr[16]) {
    return load_u32(&addr[0]) == 0 && load_u32(&addr[4]) == 0 &&
           load_u32(&addr[8]) == bpf_htonl(0x0000ffff);
}

/* IPv6 addresses in the context are four 32-bit words, read and written one word at a time (the
 * verifier allows only 4-byte access to them). */
static __always_inline void load_user_ip6(const struct bpf_sock_addr *ctx, __u8 addr[16]) {
    __u32 w0 = ctx->user_ip6[0], w1 = ctx->user_ip6[1], w2 = ctx->user_ip6[2],
          w3 = ctx->user_ip6[3];
    __builtin_memcpy(&addr[0], &w0, 4);
    __builtin_memcpy(&addr[4], &w1, 4);
    __builtin_memcpy(&addr[8], &w2, 4);
    __builtin_memcpy(&addr[12], &w3, 4);
}

static __always_inline void store_user_ip6(struct bpf_sock_addr *ctx, const __u8 addr[16]) {
    ctx->user_ip6[0] = load_u32(&addr[0]);
    ctx->user_ip6[1] = load_u32(&addr[4]);
    ctx->user_ip6[2] = load_u32(&addr[8]);
    ctx->user_ip6[3] = load_u32(&addr[12]);
}

static __always_inline bool user_ip6_equals(const struct bpf_sock_addr *ctx, const __u8 addr[16]) {
    return ctx->user_ip6[0] == load_u32(&addr[0]) && ctx->user_ip6[1] == load_u32(&addr[4]) &&
           ctx->user_ip6[2] == load_u32(&addr[8]) && ctx->user_ip6[3] == load_u32(&addr[12]);
}

static __always_inline void load_local_ip6(const struct bpf_sock_ops *skops, __u8 addr[16]) {
    __u32 w0 = skops->local_ip6[0], w1 = skops->local_ip6[1], w2 = skops->local_ip6[2],
          w3 = skops->local_ip6[3];
    __builtin_memcpy(&addr[0], &w0, 4);
    __builtin_memcpy(&addr[4], &w1, 4);
    __builtin_memcpy(&addr[8], &w2, 4);
    __builtin_memcpy(&addr[12], &w3, 4);
}

/* sluiced's own sockets never go to the proxy: by socket mark (set on its upstream sockets), by
 * process (tgid, never the thread id or comm) and optionally by cgroup. Never by destination. */
static __always_inline bool is_exempt(struct bpf_sock_addr *ctx, const struct sluice_config *cfg) {
    struct bpf_sock *sk = ctx->sk;
    if (sk && sk->mark == SLUICE_BYPASS_MARK) return true;
    if (cfg->exempt_tgid && (__u32)(bpf_get_current_pid_tgid() >> 32) == cfg->exempt_tgid)
        return true;
    if (cfg->exempt_cgroup_id && bpf_get_current_cgroup_id() == cfg->exempt_cgroup_id) return true;
    return false;
}

/* Where a target connect goes: sluiced's listener in the socket's network namespace. */
struct proxy_route {
    __u8 addr[16]; /* v4-mapped for a v4 route */
    __u16 port;    /* network order */
    bool held;     /* the namespace has no listener yet: hold the SYN (sluice_hold_syn) */
    bool refuse;   /* the namespace is served, but not for this family (IPv6 off there) */
};

/* fail_open only: is anything listening on the proxy address in this socket's netns? */
static __always_inline bool proxy_listening(struct bpf_sock_addr *ctx,
                                            const struct proxy_route *route, bool v4) {
    struct bpf_sock_tuple tuple = {};
    struct bpf_sock *listener;

    if (v4) {
        tuple.ipv4.daddr = load_u32(&route->addr[12]);
        tuple.ipv4.dport = route->port;
        listener = bpf_sk_lookup_tcp(ctx, &tuple, sizeof(tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
    } else {
        __builtin_memcpy(tuple.ipv6.daddr, route->addr, 16);
        tuple.ipv6.dport = route->port;
        listener = bpf_sk_lookup_tcp(ctx, &tuple, sizeof(tuple.ipv6), BPF_F_CURRENT_NETNS, 0);
    }
    if (!listener) return false;
    bpf_sk_release(listener);
    return true;
}

/* QUIC to an intercepted address would skip the proxy entirely: refuse it, clients then retry
 * over TCP (which we redirect). Only port 443 of addresses that are targets on port 443. */
static __always_inline int udp_verdict(struct bpf_sock_addr *ctx, const struct sluice_config *cfg,
                                       const struct sluice_target_key *key) {
    if (key->port != bpf_htons(QUIC_PORT)) return VERDICT_ALLOW;
    if (!bpf_map_lookup_elem(&targets, key)) return VERDICT_ALLOW;
    if (is_exempt(ctx, cfg)) {
        count(SLUICE_STAT_EXEMPT);
        return VERDICT_ALLOW;
    }
    count(SLUICE_STAT_UDP_REFUSED);
    return VERDICT_REFUSE;
}

/* Keeps the original destination and the caller's identity with the socket. */
static __always_inline bool remember(struct bpf_sock_addr *ctx, const struct sluice_target_key *dst,
                                     const struct proxy_route *route, __u64 netns_cookie) {
    struct sk_record *rec =
        bpf_sk_storage_get(&orig_dst_sk, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
    if (!rec) return false;

    __u64 pid_tgid = bpf_get_current_pid_tgid();
    __u64 uid_gid = bpf_get_current_uid_gid();

    __builtin_memcpy(rec->meta.orig_addr, dst->addr, 16);
    rec->meta.orig_port = dst->port;
    rec->meta.orig_family = (__u8)ctx->user_family;
    rec->meta.flags = 0;
    rec->meta.tgid = pid_tgid >> 32;
    rec->meta.tid = (__u32)pid_tgid;
    rec->meta.uid = (__u32)uid_gid;
    rec->meta.gid = uid_gid >> 32;
    rec->meta.pad = 0;
    rec->meta.cgroup_id = bpf_get_current_cgroup_id();
    rec->meta.netns_cookie = netns_cookie;
    rec->meta.sock_cookie = bpf_get_socket_cookie(ctx);
    rec->meta.ts_ns = bpf_ktime_get_ns();
    bpf_get_current_comm(rec->meta.comm, sizeof(rec->meta.comm));
    __builtin_memcpy(rec->proxy_addr, route->addr, 16);
    rec->proxy_port = route->port;
    rec->tuple_recorded = 0;
    rec->held = route->held;
    return true;
}

/* A connect from a namespace sluiced does not serve yet: tell it (at most every 50 ms per
 * namespace, the connect path must stay cheap) so it opens a listener there. */
static __always_inline void announce_connect(__u64 cookie) {
    __u64 now = bpf_ktime_get_ns();
    __u64 *last = bpf_map_lookup_elem(&netns_announced, &cookie);
    if (last && now - *last < ANNOUNCE_INTERVAL_NS) return;
    bpf_map_update_elem(&netns_announced, &cookie, &now, BPF_ANY);
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    announce_netns(cookie, (__u32)pid_tgid, pid_tgid >> 32, 0, SLUICE_NETNS_CONNECT);
}

/* sluiced's listener in this socket's namespace: the namespace's entry when it has one; else
 * the configured address, held (and announced) when sluiced serves namespaces - it will listen
 * there, on that port when it is free - or, when it does not, refused for want of a listener
 * (fail closed, never direct). */
static __always_inline void route_to_proxy(const struct sluice_config *cfg, __u64 cookie, bool v4,
                                           struct proxy_route *route) {
    const struct sluice_netns_listener *listener = bpf_map_lookup_elem(&netns_listeners, &cookie);
    if (listener) {
        if (!(listener->flags & (v4 ? SLUICE_NETNS_V4 : SLUICE_NETNS_V6))) {
            route->refuse = true;
            return;
        }
        __builtin_memcpy(route->addr, v4 ? listener->addr4 : listener->addr6, 16);
        route->port = v4 ? listener->port4 : listener->port6;
        return;
    }
    __builtin_memcpy(route->addr, v4 ? cfg->proxy_addr4 : cfg->proxy_addr6, 16);
    route->port = cfg->proxy_port;
    if (cfg->serve_netns && !cfg->fail_open) {
        route->held = true;
        count(SLUICE_STAT_NETNS_HELD);
        announce_connect(cookie);
    }
}

/* The tail both connect programs share once they have the destination: UDP gets the QUIC
 * verdict, a stream socket to a target is recorded and redirected to `route` (the caller
 * rewrites the address, which connect4 and connect6 hold in different fields). The namespace
 * is looked up only for targets, so other connects pay nothing for it. */
enum connect_outcome { CONNECT_ALLOW, CONNECT_REFUSE, CONNECT_REDIRECT };

static __always_inline enum connect_outcome decide_connect(struct bpf_sock_addr *ctx,
                                                           const struct sluice_config *cfg,
                                                           const struct sluice_target_key *key,
                                                           bool v4_proxy,
                                                           struct proxy_route *route) {
    if (ctx->type == SOCK_DGRAM)
        return udp_verdict(ctx, cfg, key) == VERDICT_REFUSE ? CONNECT_REFUSE : CONNECT_ALLOW;
    /* By type, not protocol: MPTCP stream sockets are IPPROTO_MPTCP. */
    if (ctx->type != SOCK_STREAM) return CONNECT_ALLOW;
    if (!bpf_map_lookup_elem(&targets, key)) return CONNECT_ALLOW;
    if (is_exempt(ctx, cfg)) {
        count(SLUICE_STAT_EXEMPT);
        return CONNECT_ALLOW;
    }
    const __u64 cookie = bpf_get_netns_cookie(ctx);
    route_to_proxy(cfg, cookie, v4_proxy, route);
    /* Fail closed (default) skips this check on purpose: with sluiced gone the rewritten
     * connection hits a closed port and gets ECONNREFUSED instead of going out direct. */
    if (cfg->fail_open && (route->refuse || !proxy_listening(ctx, route, v4_proxy))) {
        count(SLUICE_STAT_FAIL_OPEN);
        return CONNECT_ALLOW;
    }
    if (route->refuse) {
        count(SLUICE_STAT_NETNS_REFUSED);
        return CONNECT_REFUSE;
    }
    if (!remember(ctx, key, route, cookie)) {
        /* No record means no identity for the proxy. Fail open lets it go direct; fail closed
         * still redirects and the proxy treats the connection as unattributed. */
        count(SLUICE_STAT_STORAGE_FAIL);
        if (cfg->fail_open) return CONNECT_ALLOW;
    }
    count(SLUICE_STAT_REDIRECTED);
    return CONNECT_REDIRECT;
}

SEC("cgroup/connect4")
int sluice_connect4(struct bpf_sock_addr *ctx) {
    const struct sluice_config *cfg = current_config();
    if (!cfg || !cfg->enabled) return VERDICT_ALLOW;
    count(SLUICE_STAT_CONNECT_SEEN);

    struct sluice_target_key key = {};
    set_v4_mapped(key.addr, ctx->user_ip4);
    key.port = (__u16)ctx->user_port;

    struct proxy_route route = {};
    enum connect_outcome outcome = decide_connect(ctx, cfg, &key, true, &route);
    if (outcome == CONNECT_REDIRECT) {
        ctx->user_ip4 = load_u32(&route.addr[12]);
        ctx->user_port = route.port;
    }
    return outcome == CONNECT_REFUSE ? VERDICT_REFUSE : VERDICT_ALLOW;
}

SEC("cgroup/connect6")
int sluice_connect6(struct bpf_sock_addr *ctx) {
    const struct sluice_config *cfg = current_config();
    if (!cfg || !cfg->enabled) return VERDICT_ALLOW;
    count(SLUICE_STAT_CONNECT_SEEN);

    struct sluice_target_key key = {};
    load_user_ip6(ctx, key.addr);
    key.port = (__u16)ctx->user_port;

    /* A dual-stack socket connecting to ::ffff:a.b.c.d only fires connect6 (tcp_v6_connect hands
     * it to tcp_v4_connect without connect4), and must stay v4-mapped: rewrite it to the v4
     * proxy, mapped. */
    bool v4_mapped = is_v4_mapped(key.addr);
    struct proxy_route route = {};
    enum connect_outcome outcome = decide_connect(ctx, cfg, &key, v4_mapped, &route);
    if (outcome == CONNECT_REDIRECT) {
        store_user_ip6(ctx, route.addr);
        ctx->user_port = route.port;
    }
    return outcome == CONNECT_REFUSE ? VERDICT_REFUSE : VERDICT_ALLOW;
}

SEC("cgroup/sendmsg4")
int sluice_sendmsg4(struct bpf_sock_addr *ctx) {
    const struct sluice_config *cfg = current_config();
    if (!cfg || !cfg->enabled) return VERDICT_ALLOW;
    struct sluice_target_key key = {};
    set_v4_mapped(key.addr, ctx->user_ip4);
    key.port = (__u16)ctx->user_port;
    return udp_verdict(ctx, cfg, &key);
}

SEC("cgroup/sendmsg6")
int sluice_sendmsg6(struct bpf_sock_addr *ctx) {
    const struct sluice_config *cfg = current_config();
    if (!cfg || !cfg->enabled) return VERDICT_ALLOW;
    struct sluice_target_key key = {};
    load_user_ip6(ctx, key.addr);
    key.port = (__u16)ctx->user_port;
    return udp_verdict(ctx, cfg, &key);
}

/* getpeername: translate only while the peer is still the proxy address we wrote (a socket can
 * be reconnected elsewhere after a failed attempt). Not gated on config.enabled: a connection
 * that was redirected stays redirected. */
SEC("cgroup/getpeername4")
int sluice_getpeer4(struct bpf_sock_addr *ctx) {
    struct sk_record *rec = bpf_sk_storage_get(&orig_dst_sk, ctx->sk, 0, 0);
    if (!rec) return VERDICT_ALLOW;
    if (ctx->user_ip4 != load_u32(&rec->proxy_addr[12]) || (__u16)ctx->user_port != rec->proxy_port)
        return VERDICT_ALLOW;
    ctx->user_ip4 = load_u32(&rec->meta.orig_addr[12]);
    ctx->user_port = rec->meta.orig_port;
    count(SLUICE_STAT_GETPEERNAME_RESTORED);
    return VERDICT_ALLOW;
}

SEC("cgroup/getpeername6")
int sluice_getpeer6(struct bpf_sock_addr *ctx) {
    struct sk_record *rec = bpf_sk_storage_get(&orig_dst_sk, ctx->sk, 0, 0);
    if (!rec) return VERDICT_ALLOW;
    if (!user_ip6_equals(ctx, rec->proxy_addr) || (__u16)ctx->user_port != rec->proxy_port)
        return VERDICT_ALLOW;
    store_user_ip6(ctx, rec->meta.orig_addr);
    ctx->user_port = rec->meta.orig_port;
    count(SLUICE_STAT_GETPEERNAME_RESTORED);
    return VERDICT_ALLOW;
}

/* TCP_CONNECT_CB runs in tcp_connect(): the source address and port are assigned and the SYN is
 * not out yet, so the entry exists before the proxy can possibly accept() the connection. */
static __always_inline void publish_tuple(struct bpf_sock_ops *skops) {
    struct bpf_sock *sk = skops->sk;
    if (!sk) return;
    struct sk_record *rec = bpf_sk_storage_get(&orig_dst_sk, sk, 0, 0);
    if (!rec) return;

    if (skops->family == AF_INET) {
        set_v4_mapped(rec->tuple.client_addr, skops->local_ip4);
    } else {
        /* For a v4-mapped connection on an AF_INET6 socket this is already ::ffff:a.b.c.d. */
        load_local_ip6(skops, rec->tuple.client_addr);
    }
    rec->tuple.client_port_host = (__u16)skops->local_port; /* host order already */
    rec->tuple.pad = 0;

    struct sluice_netns_conn_key key = {};
    key.netns_cookie = rec->meta.netns_cookie;
    key.tuple = rec->tuple;
    if (bpf_map_update_elem(&conn_by_tuple, &key, &rec->meta, BPF_ANY) != 0) return;
    rec->tuple_recorded = 1;
    count(SLUICE_STAT_TUPLE_RECORDED);
    /* Ask for state changes on this socket only, to drop the entry at TCP_CLOSE. */
    bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
}

/* The proxy deletes on lookup; this covers connections it never looked up (refused, reset,
 * closed before accept). The cookie check keeps a reused tuple's newer entry alive. */
static __always_inline void retire_tuple(struct bpf_sock_ops *skops) {
    struct bpf_sock *sk = skops->sk;
    if (!sk) return;
    struct sk_record *rec = bpf_sk_storage_get(&orig_dst_sk, sk, 0, 0);
    if (!rec || !rec->tuple_recorded) return;
    rec->tuple_recorded = 0;
    struct sluice_netns_conn_key key = {};
    key.netns_cookie = rec->meta.netns_cookie;
    key.tuple = rec->tuple;
    struct sluice_conn_meta *meta = bpf_map_lookup_elem(&conn_by_tuple, &key);
    if (meta && meta->sock_cookie == rec->meta.sock_cookie) {
        bpf_map_delete_elem(&conn_by_tuple, &key);
        count(SLUICE_STAT_TUPLE_CLOSED);
    }
}

/* Whether a socket is connected to `port` (network order) by its ctx field remote_port: the
 * kernel hands the 16-bit port shifted into the upper half on little-endian hosts. */
static __always_inline bool remote_port_is(__u32 remote_port, __u16 port) {
    return remote_port == port || remote_port == ((__u32)port << 16);
}

/* A held connect was rewritten to the configured proxy port: every other socket leaves after
 * two loads, without a helper call. */
static __always_inline bool may_be_held(__u32 remote_port) {
    const struct sluice_config *cfg = current_config();
    return cfg && cfg->serve_netns && remote_port_is(remote_port, cfg->proxy_port);
}

/* A held connect retries its SYN after HOLD_SYN_RTO_MS instead of the default second, so it
 * gets through soon after sluiced's listener in its namespace is up. */
static __always_inline void hold_timeout(struct bpf_sock_ops *skops) {
    if (!may_be_held(skops->remote_port)) return;
    struct bpf_sock *sk = skops->sk;
    if (!sk) return;
    struct sk_record *rec = bpf_sk_storage_get(&orig_dst_sk, sk, 0, 0);
    if (!rec || !rec->held) return;
    const unsigned int hz = CONFIG_HZ ? CONFIG_HZ : 250;
    const unsigned int jiffies = hz * HOLD_SYN_RTO_MS / 1000;
    skops->reply = jiffies ? jiffies : 1;
}

SEC("sockops")
int sluice_sockops(struct bpf_sock_ops *skops) {
    switch (skops->op) {
        case BPF_SOCK_OPS_TIMEOUT_INIT:
            hold_timeout(skops);
            break;
        case BPF_SOCK_OPS_TCP_CONNECT_CB:
            publish_tuple(skops);
            break;
        case BPF_SOCK_OPS_STATE_CB:
            if (skops->args[1] == BPF_TCP_CLOSE) retire_tuple(skops);
            break;
        default:
            break;
    }
    return 1;
}

/* Whether `rec`'s redirect (address and port written at connect) is the listener `listener`
 * has in its namespace now. */
static __always_inline bool route_is_listener(const struct sk_record *rec,
                                              const struct sluice_netns_listener *listener) {
    if (is_v4_mapped(rec->proxy_addr))
        return (listener->flags & SLUICE_NETNS_V4) && rec->proxy_port == listener->port4 &&
               load_u32(&rec->proxy_addr[12]) == load_u32(&listener->addr4[12]);
    return (listener->flags & SLUICE_NETNS_V6) && rec->proxy_port == listener->port6 &&
           load_u32(&rec->proxy_addr[0]) == load_u32(&listener->addr6[0]) &&
           load_u32(&rec->proxy_addr[4]) == load_u32(&listener->addr6[4]) &&
           load_u32(&rec->proxy_addr[8]) == load_u32(&listener->addr6[8]) &&
           load_u32(&rec->proxy_addr[12]) == load_u32(&listener->addr6[12]);
}

/* The hold: a connect redirected before its namespace had a listener sends no SYN until the
 * listener is there (TCP retries it; TIMEOUT_INIT above makes the retries come soon), so the
 * first connection of a new container waits a few milliseconds instead of being refused. A SYN
 * is only let through to the listener sluiced registered: if another process took the port in
 * that namespace first, sluiced listens elsewhere and the held connect times out (closed). Every
 * packet of every socket passes here; all but those to the configured proxy port leave at the
 * first check, all but SYN_SENT sockets at the second. */
SEC("cgroup_skb/egress")
int sluice_hold_syn(struct __sk_buff *skb) {
    if (!may_be_held(skb->remote_port)) return 1;
    struct bpf_sock *sk = skb->sk;
    if (!sk) return 1;
    sk = bpf_sk_fullsock(sk);
    if (!sk || sk->state != BPF_TCP_SYN_SENT) return 1;
    struct sk_record *rec = bpf_sk_storage_get(&orig_dst_sk, sk, 0, 0);
    if (!rec || !rec->held) return 1;
    const struct sluice_netns_listener *listener =
        bpf_map_lookup_elem(&netns_listeners, &rec->meta.netns_cookie);
    if (listener && route_is_listener(rec, listener)) {
        rec->held = 0;
        count(SLUICE_STAT_HOLD_RELEASED);
        return 1;
    }
    count(SLUICE_STAT_SYN_HELD);
    return 0;
}
