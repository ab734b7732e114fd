// SPDX-License-Identifier: GPL-2.0
/* sluice: tells sluiced about network namespaces as they come and go, so a container's first
 * connection finds a listener of sluiced's in its namespace (docs/architecture.md, "Containers").
 * Loaded and attached by sluiced for its own lifetime (never pinned): nothing here redirects or
 * refuses, bpf/redirect.bpf.c does that and holds what comes too early.
 *
 * Only BTF tracepoints and an iterator: some kernels refuse BPF trampolines outright (fentry,
 * fexit and lsm programs fail to load with EPERM after the verifier passed, even
 * fentry/tcp_connect) and have no kprobe PMU (kprobes need tracefs then, which may be closed);
 * raw tracepoints load and attach wherever BPF tracing does at all.
 *
 *   task_newtask (clone with CLONE_NEWNET)   a task born in a new namespace
 *   sched_process_exec                       a program starts in a namespace sluiced does not
 *                                            serve: what unshare -n CMD, ip netns exec, nsenter
 *                                            and container runtimes do between entering a
 *                                            namespace and the first connect
 *       -> `netns_events` when the namespace has no entry in `netns_listeners`
 *   sched_process_exit                       the last task sharing a namespace set exits
 *       -> `netns_events` (released) when its namespace is served: sluiced checks whether any
 *          task is still in it (the iterator below) and closes its listeners if none is
 *   iter/task                                every task's namespace, for that check and for
 *                                            the namespaces that existed before sluiced */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "netns_maps.h"
#include "redirect_abi.h"

#define CLONE_NEWNET 0x40000000

char LICENSE[] SEC("license") = "GPL";

static __always_inline void announce_if_unserved(struct task_struct *task, struct net *net,
                                                 __u32 reason) {
    if (!net) return;
    __u64 cookie = BPF_CORE_READ(net, net_cookie);
    if (bpf_map_lookup_elem(&netns_listeners, &cookie)) return;
    announce_netns(cookie, BPF_CORE_READ(task, pid), BPF_CORE_READ(task, tgid),
                   BPF_CORE_READ(net, ns.inum), reason);
}

SEC("tp_btf/task_newtask")
int BPF_PROG(sluice_netns_clone, struct task_struct *task, u64 clone_flags) {
    if (!(clone_flags & CLONE_NEWNET)) return 0;
    announce_if_unserved(task, BPF_CORE_READ(task, nsproxy, net_ns), SLUICE_NETNS_CLONED);
    return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(sluice_netns_exec, struct task_struct *task, pid_t old_pid,
             struct linux_binprm *bprm) {
    announce_if_unserved(task, BPF_CORE_READ(task, nsproxy, net_ns), SLUICE_NETNS_SWITCHED);
    return 0;
}

/* A task's namespaces go with the last task that shares its nsproxy (threads, and forks
 * without CLONE_NEW* flags, share one): only that exit can leave a namespace without tasks. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(sluice_netns_exit, struct task_struct *task, bool group_dead) {
    struct nsproxy *namespaces = BPF_CORE_READ(task, nsproxy);
    if (!namespaces || BPF_CORE_READ(namespaces, count.refs.counter) != 1) return 0;
    struct net *net = BPF_CORE_READ(namespaces, net_ns);
    if (!net) return 0;
    __u64 cookie = BPF_CORE_READ(net, net_cookie);
    if (!bpf_map_lookup_elem(&netns_listeners, &cookie)) return 0;
    announce_netns(cookie, 0, 0, BPF_CORE_READ(net, ns.inum), SLUICE_NETNS_RELEASED);
    return 0;
}

SEC("iter/task")
int sluice_task_netns(struct bpf_iter__task *ctx) {
    struct task_struct *task = ctx->task;
    if (!task) return 0;
    struct net *net = BPF_CORE_READ(task, nsproxy, net_ns);
    if (!net) return 0; /* exiting: its namespaces are gone */
    struct sluice_task_netns line = {
        .netns_cookie = BPF_CORE_READ(net, net_cookie),
        .tid = BPF_CORE_READ(task, pid),
        .tgid = BPF_CORE_READ(task, tgid),
        .inum = BPF_CORE_READ(net, ns.inum),
    };
    bpf_seq_write(ctx->meta->seq, &line, sizeof(line));
    return 0;
}
