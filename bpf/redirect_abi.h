/* The only ABI shared by bpf/redirect.bpf.c and user space (agent/loader).
 * Fixed-width types and explicit padding only; C++ side static_asserts the sizes.
 * IPv4 addresses are always stored IPv4-mapped (::ffff:a.b.c.d) so one key type serves both
 * families. Ports are in network byte order unless the name says _host. */
#ifndef SLUICE_BPF_REDIRECT_ABI_H
#define SLUICE_BPF_REDIRECT_ABI_H

#ifdef __cplusplus
#include <cstdint>
typedef std::uint8_t sluice_u8;
typedef std::uint16_t sluice_u16;
typedef std::uint32_t sluice_u32;
typedef std::uint64_t sluice_u64;
#else
typedef __u8 sluice_u8;
typedef __u16 sluice_u16;
typedef __u32 sluice_u32;
typedef __u64 sluice_u64;
#endif

#define SLUICE_COMM_LEN 16
/* Socket mark sluiced puts on its own outbound sockets: never redirected. */
#define SLUICE_BYPASS_MARK 0x51CEu

/* A target: address (v4-mapped for IPv4) and port. Key of the `targets` hash map. */
struct sluice_target_key {
    sluice_u8 addr[16];
    sluice_u16 port; /* network byte order */
    sluice_u16 pad;
};

struct sluice_target_value {
    sluice_u64 expires_unix_s; /* informational for `sluicectl status`; 0 = fixed */
};

/* The client's end of the redirected connection as the proxy sees it via getpeername() on the
 * accepted socket. */
struct sluice_conn_key {
    sluice_u8 client_addr[16];   /* v4-mapped for IPv4 */
    sluice_u16 client_port_host; /* host byte order */
    sluice_u16 pad;
};

/* Key of `conn_by_tuple`: that end in its network namespace. Every namespace has its own
 * 127.0.0.1, so two containers' clients can share an address and port; the proxy knows the
 * namespace from the listener that accepted (SO_NETNS_COOKIE). */
struct sluice_netns_conn_key {
    sluice_u64 netns_cookie;
    struct sluice_conn_key tuple;
    sluice_u32 pad;
};

/* Who made the connection and where it was going. */
struct sluice_conn_meta {
    sluice_u8 orig_addr[16]; /* v4-mapped for IPv4 */
    sluice_u16 orig_port;    /* network byte order */
    sluice_u8 orig_family;   /* AF_INET or AF_INET6 as the socket used */
    sluice_u8 flags;
    sluice_u32 tgid;
    sluice_u32 tid; /* the connecting thread's id (what the kernel calls its pid) */
    sluice_u32 uid;
    sluice_u32 gid;
    sluice_u32 pad;
    sluice_u64 cgroup_id;
    sluice_u64 netns_cookie;
    sluice_u64 sock_cookie;
    sluice_u64 ts_ns;
    char comm[SLUICE_COMM_LEN];
};

/* Runtime configuration, one entry in the `config` array map. */
struct sluice_config {
    sluice_u8 proxy_addr4[16]; /* v4-mapped, e.g. ::ffff:127.0.0.1 */
    sluice_u8 proxy_addr6[16]; /* e.g. ::1 */
    sluice_u16 proxy_port;     /* network byte order */
    sluice_u8 fail_open;       /* 1: no proxy listener -> let the connection go direct */
    sluice_u8 enabled;
    sluice_u32 exempt_tgid;      /* sluiced's own process */
    sluice_u64 exempt_cgroup_id; /* 0 = none */
    /* 1: sluiced serves other network namespaces (a listener in each, `netns_listeners`). A
     * connect from a namespace with no entry yet is held (its SYN dropped and retried, see
     * sluice_hold_syn) and announced on `netns_events` instead of refused. */
    sluice_u8 serve_netns;
    sluice_u8 pad[7];
};

/* Where a network namespace's redirects go: sluiced's listeners inside that namespace. Value of
 * `netns_listeners`, keyed by the namespace's cookie (bpf_get_netns_cookie, SO_NETNS_COOKIE). */
#define SLUICE_NETNS_V4 1u
#define SLUICE_NETNS_V6 2u
struct sluice_netns_listener {
    sluice_u8 addr4[16]; /* v4-mapped; valid with SLUICE_NETNS_V4 */
    sluice_u8 addr6[16]; /* valid with SLUICE_NETNS_V6 */
    sluice_u16 port4;    /* network byte order */
    sluice_u16 port6;    /* network byte order */
    sluice_u8 flags;     /* SLUICE_NETNS_V4 | SLUICE_NETNS_V6: which families listen */
    sluice_u8 pad[3];
};

/* What `netns_events` (a ring buffer) tells sluiced about a namespace without an entry. */
enum sluice_netns_reason {
    SLUICE_NETNS_CLONED = 1,   /* clone(CLONE_NEWNET): a task was born in a new namespace */
    SLUICE_NETNS_SWITCHED = 2, /* a program was exec'd in a namespace (after unshare, setns) */
    SLUICE_NETNS_CONNECT = 3,  /* a target connect from a namespace with no listener (held) */
    SLUICE_NETNS_RELEASED = 4, /* the last task set of a served namespace let go of it */
};
struct sluice_netns_event {
    sluice_u64 netns_cookie;
    sluice_u32 tid; /* a task in that namespace (initial pid namespace) */
    sluice_u32 tgid;
    sluice_u32 inum;   /* the namespace's inode number (what /proc/TID/ns/net stat()s to) */
    sluice_u32 reason; /* enum sluice_netns_reason */
    sluice_u64 ts_ns;  /* bpf_ktime_get_ns() when it happened */
};

/* One record of the task iterator (bpf/netns_watch.bpf.c): a task and its network namespace. */
struct sluice_task_netns {
    sluice_u64 netns_cookie;
    sluice_u32 tid;
    sluice_u32 tgid;
    sluice_u32 inum;
    sluice_u32 pad;
};

/* Indexes into the per-CPU `stats` array. */
enum sluice_stat {
    SLUICE_STAT_CONNECT_SEEN = 0,
    SLUICE_STAT_REDIRECTED,
    SLUICE_STAT_EXEMPT,
    SLUICE_STAT_FAIL_OPEN,
    SLUICE_STAT_STORAGE_FAIL,
    SLUICE_STAT_UDP_REFUSED,
    SLUICE_STAT_TUPLE_RECORDED,
    SLUICE_STAT_TUPLE_CLOSED,
    SLUICE_STAT_GETPEERNAME_RESTORED,
    SLUICE_STAT_NETNS_HELD,    /* target connects from a namespace not served yet */
    SLUICE_STAT_SYN_HELD,      /* SYNs of those dropped until the namespace's listener is up */
    SLUICE_STAT_HOLD_RELEASED, /* held connects whose SYN then went to the listener */
    SLUICE_STAT_NETNS_REFUSED, /* a served namespace without a listener of that family */
    SLUICE_STAT_MAX,
};

#endif
