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

/* Key of `conn_by_tuple`: the client's end of the redirected connection as the proxy sees it
 * via getpeername() on the accepted socket. */
struct sluice_conn_key {
    sluice_u8 client_addr[16];   /* v4-mapped for IPv4 */
    sluice_u16 client_port_host; /* host byte order */
    sluice_u16 pad;
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
    SLUICE_STAT_MAX,
};

#endif
