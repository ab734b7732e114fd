// The facade over bpf/netns_watch.bpf.c: tracing programs that announce network namespaces on
// the ring buffer `netns_events` as tasks enter them (clone, unshare, setns) and as the last
// tasks of a served one leave, plus a task iterator that lists every task's namespace. Loaded
// against the redirect's pinned maps (so RedirectLoader::load must have run) and attached for
// the lifetime of this object only: nothing here is pinned.
#pragma once

#include <bpf/libbpf.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bpf/redirect_abi.h"

struct netns_watch_bpf;

namespace sluice {

class NetnsWatch {
public:
    // Throws std::runtime_error (e.g. a kernel without BTF or fentry).
    explicit NetnsWatch(const std::string& pin_dir);
    ~NetnsWatch();
    NetnsWatch(const NetnsWatch&) = delete;
    NetnsWatch& operator=(const NetnsWatch&) = delete;

    // Every task and its network namespace, now (one pass of the task iterator). Throws.
    [[nodiscard]] std::vector<sluice_task_netns> tasks() const;

private:
    struct Deleter {
        void operator()(netns_watch_bpf* skel) const noexcept;
    };
    std::unique_ptr<netns_watch_bpf, Deleter> skel_;
    std::vector<bpf_link*> links_;
    bpf_link* iterator_ = nullptr;
};

// Reads `netns_events` (the ring buffer's map descriptor): poll() hands each event to `on_event`.
class NetnsEvents {
public:
    using Handler = std::function<void(const sluice_netns_event&)>;
    // Throws std::runtime_error.
    NetnsEvents(int ring_map_fd, Handler on_event);
    ~NetnsEvents();
    NetnsEvents(const NetnsEvents&) = delete;
    NetnsEvents& operator=(const NetnsEvents&) = delete;

    // A descriptor that polls readable when events wait (for the caller's own epoll).
    [[nodiscard]] int fd() const;
    // Consumes every waiting event without blocking; the number consumed.
    int drain();

private:
    static int on_sample(void* self, void* data, size_t size);
    ring_buffer* ring_ = nullptr;
    Handler on_event_;
};

}  // namespace sluice
