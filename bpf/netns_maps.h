/* Maps both BPF objects use (bpf/redirect.bpf.c and bpf/netns_watch.bpf.c), pinned by name
 * under <pin_dir>/maps so the two objects, and a restarted sluiced, share one copy. */
#ifndef SLUICE_BPF_NETNS_MAPS_H
#define SLUICE_BPF_NETNS_MAPS_H

#include "redirect_abi.h"

/* Network namespace cookie -> sluiced's listeners in that namespace. sluiced writes an entry
 * once the listeners accept (the host's at load) and deletes it before closing them. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536);
    __type(key, __u64);
    __type(value, struct sluice_netns_listener);
    __uint(pinning, LIBBPF_PIN_BY_NAME);
} netns_listeners SEC(".maps");

/* Namespaces sluiced should know about (struct sluice_netns_event). */
struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 256 * 1024);
    __uint(pinning, LIBBPF_PIN_BY_NAME);
} netns_events SEC(".maps");

static __always_inline void announce_netns(__u64 cookie, __u32 tid, __u32 tgid, __u32 inum,
                                           __u32 reason) {
    struct sluice_netns_event event = {
        .netns_cookie = cookie,
        .tid = tid,
        .tgid = tgid,
        .inum = inum,
        .reason = reason,
        .ts_ns = bpf_ktime_get_ns(),
    };
    bpf_ringbuf_output(&netns_events, &event, sizeof(event), 0);
}

#endif
