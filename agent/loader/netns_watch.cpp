#include "agent/loader/netns_watch.h"

#include <bpf/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "agent/common/unique_fd.h"
#include "agent/loader/bpffs.h"
#include "agent/loader/redirect_skeleton.h"
#include "netns_watch.skel.h"

namespace sluice {

void NetnsWatch::Deleter::operator()(netns_watch_bpf* skel) const noexcept {
    netns_watch_bpf__destroy(skel);
}

NetnsWatch::NetnsWatch(const std::string& pin_dir) {
    const std::string maps_dir = maps_pin_dir(pin_dir);
    LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = maps_dir.c_str());
    skel_.reset(netns_watch_bpf__open_opts(&opts));
    if (!skel_)
        throw std::runtime_error(std::string("cannot open the namespace watch BPF object: ") +
                                 std::strerror(errno));
    unpin_incompatible_maps(skel_->obj);
    if (const int err = netns_watch_bpf__load(skel_.get()); err != 0)
        throw std::runtime_error(
            std::string("cannot load the namespace watch BPF programs (tracing needs BTF, "
                        "fentry and CAP_PERFMON): ") +
            std::strerror(-err));
    bpf_program* prog = nullptr;
    bpf_object__for_each_program(prog, skel_->obj) {
        if (prog == skel_->progs.sluice_task_netns) continue;
        bpf_link* link = bpf_program__attach(prog);
        if (!link) {
            const int error = errno;
            for (bpf_link* attached : links_) bpf_link__destroy(attached);
            throw std::runtime_error(std::string("cannot attach ") + bpf_program__name(prog) +
                                     ": " + std::strerror(error));
        }
        links_.push_back(link);
    }
    iterator_ = bpf_program__attach_iter(skel_->progs.sluice_task_netns, nullptr);
    if (!iterator_) {
        const int error = errno;
        for (bpf_link* attached : links_) bpf_link__destroy(attached);
        throw std::runtime_error(std::string("cannot attach the task iterator: ") +
                                 std::strerror(error));
    }
}

NetnsWatch::~NetnsWatch() {
    bpf_link__destroy(iterator_);
    for (bpf_link* link : links_) bpf_link__destroy(link);
}

std::vector<sluice_task_netns> NetnsWatch::tasks() const {
    UniqueFd iter(bpf_iter_create(bpf_link__fd(iterator_)));
    if (!iter)
        throw std::runtime_error(std::string("cannot start the task iterator: ") +
                                 std::strerror(errno));
    std::vector<sluice_task_netns> out;
    std::vector<char> buffer(64 * 1024);
    std::string pending;
    for (;;) {
        const ssize_t n = ::read(iter.get(), buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw std::runtime_error(std::string("task iterator: ") + std::strerror(errno));
        if (n == 0) break;
        pending.append(buffer.data(), static_cast<size_t>(n));
        size_t used = 0;
        for (; pending.size() - used >= sizeof(sluice_task_netns);
             used += sizeof(sluice_task_netns)) {
            sluice_task_netns line{};
            std::memcpy(&line, pending.data() + used, sizeof(line));
            out.push_back(line);
        }
        pending.erase(0, used);
    }
    return out;
}

NetnsEvents::NetnsEvents(int ring_map_fd, Handler on_event) : on_event_(std::move(on_event)) {
    ring_ = ring_buffer__new(ring_map_fd, &NetnsEvents::on_sample, this, nullptr);
    if (!ring_)
        throw std::runtime_error(std::string("cannot read the namespace events: ") +
                                 std::strerror(errno));
}

NetnsEvents::~NetnsEvents() { ring_buffer__free(ring_); }

int NetnsEvents::fd() const { return ring_buffer__epoll_fd(ring_); }

int NetnsEvents::drain() { return ring_buffer__consume(ring_); }

int NetnsEvents::on_sample(void* self, void* data, size_t size) {
    if (size < sizeof(sluice_netns_event)) return 0;
    sluice_netns_event event{};
    std::memcpy(&event, data, sizeof(event));
    static_cast<NetnsEvents*>(self)->on_event_(event);
    return 0;
}

}  // namespace sluice
