// connect-bench: what the redirect programs add to connect(), measured in one run with the
// programs attached and detached side by side. The process moves itself between two child
// cgroups (programs attached to one of them) between rounds, so both modes see the same machine
// state. Prints a markdown table. Needs root (cgroups, BPF).
//
//   connect-bench [--connects N] [--rounds R] [--detach sluice_sockops,...] [--namespaces N]
//
// Rows: "miss" = a non-target loopback listener (what every other connect() on the host pays);
// "redirect" = a target connect rewritten to the proxy vs. connecting to the proxy directly.
// The programs run as sluiced runs them, serving other network namespaces (the SYN hold on).
// Then, with --namespaces N (default 200): the time from a namespace's creation to its
// listener being ready (agent/netns), and what a served namespace costs in memory.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "agent/common/ip_address.h"
#include "agent/common/unique_fd.h"
#include "agent/loader/cgroup.h"
#include "agent/loader/netns_watch.h"
#include "agent/loader/pinned_state.h"
#include "agent/loader/redirect_loader.h"
#include "agent/netns/namespace_server.h"

namespace {

using sluice::UniqueFd;

constexpr const char* kTargetIp = "192.0.2.10";
constexpr uint16_t kTargetPort = 443;

sockaddr_in loopback(uint16_t port, const char* ip = "127.0.0.1") {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    inet_pton(AF_INET, ip, &addr.sin_addr);
    return addr;
}

// Accepts and closes everything on its sockets until destroyed.
class SinkListeners {
public:
    explicit SinkListeners(int count) {
        for (int i = 0; i < count; ++i) {
            UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
            sockaddr_in addr = loopback(0);
            if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
                ::listen(fd.get(), 4096) != 0) {
                throw std::runtime_error("cannot listen on 127.0.0.1");
            }
            socklen_t len = sizeof(addr);
            ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
            ports_.push_back(ntohs(addr.sin_port));
            fds_.push_back(std::move(fd));
        }
        thread_ = std::thread([this] { run(); });
    }
    ~SinkListeners() {
        stop_ = true;
        thread_.join();
    }
    uint16_t port(size_t i) const { return ports_[i]; }

private:
    void run() {
        std::vector<pollfd> pfds;
        for (auto& fd : fds_) pfds.push_back({fd.get(), POLLIN, 0});
        while (!stop_) {
            if (::poll(pfds.data(), pfds.size(), 100) <= 0) continue;
            for (auto& p : pfds) {
                while (p.revents & POLLIN) {
                    int fd = ::accept4(p.fd, nullptr, nullptr, SOCK_CLOEXEC);
                    if (fd < 0) break;
                    ::close(fd);
                }
            }
        }
    }
    std::vector<UniqueFd> fds_;
    std::vector<uint16_t> ports_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

void join_cgroup(const std::string& dir) {
    std::ofstream procs(dir + "/cgroup.procs");
    procs << ::getpid();
    procs.flush();
    if (!procs) throw std::runtime_error("cannot move into " + dir);
}

struct Samples {
    std::vector<uint32_t> wall_ns, cpu_ns;
};

uint64_t thread_cpu_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return uint64_t(ts.tv_sec) * 1'000'000'000u + uint64_t(ts.tv_nsec);
}

// Time spent in connect() alone, as wall time and as this thread's CPU time (the latter is
// immune to other processes preempting us on a shared machine; on loopback the whole handshake
// runs inside the syscall). socket() and the close (RST, so no TIME_WAIT piles up) stay outside.
void time_connects(const sockaddr_in& dst, int count, Samples& samples) {
    for (int i = 0; i < count; ++i) {
        UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        linger reset{1, 0};
        ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
        const uint64_t cpu_start = thread_cpu_ns();
        const auto start = std::chrono::steady_clock::now();
        const int rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&dst), sizeof(dst));
        const auto end = std::chrono::steady_clock::now();
        const uint64_t cpu_end = thread_cpu_ns();
        if (rc != 0) throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
        samples.wall_ns.push_back(static_cast<uint32_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count()));
        samples.cpu_ns.push_back(static_cast<uint32_t>(cpu_end - cpu_start));
    }
}

uint64_t percentile(std::vector<uint32_t>& samples, double p) {
    const size_t index = std::min(samples.size() - 1, static_cast<size_t>(p * samples.size()));
    std::nth_element(samples.begin(), samples.begin() + index, samples.end());
    return samples[index];
}

struct ProgRunTime {
    uint64_t run_time_ns = 0, run_cnt = 0;
};

ProgRunTime prog_run_time(uint32_t prog_id) {
    UniqueFd fd(bpf_prog_get_fd_by_id(prog_id));
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (!fd || bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0) return {};
    return {info.run_time_ns, info.run_cnt};
}

// What bpf_stats counts for a program that does nothing, at the same hooks: its own accounting
// (two clock reads per run) and the kernel's dispatch, which a host pays without bpf_stats only
// in part. Read beside the programs' figures to see what their own work costs.
struct EmptyProgramCost {
    double connect4_ns_per_run = 0, sockops_ns_per_connect = 0, sockops_runs_per_connect = 0;
};

UniqueFd load_empty_program(bpf_prog_type type, bpf_attach_type expected) {
    const bpf_insn return_one[] = {
        {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1},
        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
    };
    LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = expected);
    UniqueFd fd(bpf_prog_load(type, "bench_empty", "GPL", return_one, 2, &opts));
    if (!fd) throw std::runtime_error("loading an empty program failed");
    return fd;
}

ProgRunTime run_time_of(int fd) {
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return {};
    return {info.run_time_ns, info.run_cnt};
}

// Attaches empty connect4 and sockops programs to `cgroup` (which has no others), times `count`
// connects to `dst` from it under bpf_stats (enabled by the caller), and detaches them.
EmptyProgramCost measure_empty_programs(const std::string& cgroup, const sockaddr_in& dst,
                                        int count, Samples& scratch) {
    UniqueFd connect4 =
        load_empty_program(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_CGROUP_INET4_CONNECT);
    UniqueFd sockops = load_empty_program(BPF_PROG_TYPE_SOCK_OPS, BPF_CGROUP_SOCK_OPS);
    UniqueFd cgroup_fd(::open(cgroup.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!cgroup_fd ||
        bpf_prog_attach(connect4.get(), cgroup_fd.get(), BPF_CGROUP_INET4_CONNECT, 0) ||
        bpf_prog_attach(sockops.get(), cgroup_fd.get(), BPF_CGROUP_SOCK_OPS, 0))
        throw std::runtime_error("attaching empty programs to " + cgroup + " failed");
    join_cgroup(cgroup);
    const ProgRunTime c0 = run_time_of(connect4.get()), s0 = run_time_of(sockops.get());
    time_connects(dst, count, scratch);
    const ProgRunTime c1 = run_time_of(connect4.get()), s1 = run_time_of(sockops.get());
    bpf_prog_detach2(connect4.get(), cgroup_fd.get(), BPF_CGROUP_INET4_CONNECT);
    bpf_prog_detach2(sockops.get(), cgroup_fd.get(), BPF_CGROUP_SOCK_OPS);
    EmptyProgramCost cost;
    if (c1.run_cnt > c0.run_cnt)
        cost.connect4_ns_per_run =
            double(c1.run_time_ns - c0.run_time_ns) / double(c1.run_cnt - c0.run_cnt);
    cost.sockops_ns_per_connect = double(s1.run_time_ns - s0.run_time_ns) / count;
    cost.sockops_runs_per_connect = double(s1.run_cnt - s0.run_cnt) / count;
    return cost;
}

struct Row {
    const char* path;
    sockaddr_in detached_dst, attached_dst;
    Samples detached, attached;
};

std::string fmt_ns(double ns) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.0f", ns);
    return buf;
}

// A child in a network namespace of its own (clone with CLONE_NEWNET: the kernel announces the
// namespace as the task is born), waiting for a byte on `hold` or its end.
pid_t spawn_in_new_namespace(const int (&hold)[2]) {
    const long pid = ::syscall(SYS_clone, CLONE_NEWNET | SIGCHLD, nullptr, nullptr, nullptr, 0);
    if (pid < 0) throw std::runtime_error(std::string("clone: ") + std::strerror(errno));
    if (pid == 0) {
        ::close(hold[1]);
        char byte;
        (void)!::read(hold[0], &byte, 1);
        ::_exit(0);
    }
    return static_cast<pid_t>(pid);
}

long meminfo_kb(const std::string& field) {
    std::ifstream in("/proc/meminfo");
    std::string name;
    long value = 0;
    std::string unit;
    while (in >> name >> value) {
        std::getline(in, unit);
        if (name == field + ":") return value;
    }
    return 0;
}

long self_rss_kb() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return 0;
}

// Namespaces: creation -> listener ready, and the memory of a served namespace (the listeners,
// the probe socket and sluiced's bookkeeping; the namespace's own memory is there either way).
void measure_namespaces(sluice::RedirectLoader& loader, const std::string& pin_dir, uint16_t port,
                        int count) {
    std::mutex mu;
    std::map<uint64_t, std::vector<sluice::UniqueFd>> adopted;
    sluice::NetnsWatch watch(pin_dir);
    sluice::NamespaceServerOptions options;
    options.port = port;
    sluice::NamespaceServer server(
        options, loader.netns_table(), loader.host_netns_cookie(), loader.netns_events_fd(), watch,
        [&](sluice::NamespaceListeners listeners) {
            std::lock_guard lock(mu);
            adopted[listeners.netns_cookie] = std::move(listeners.fds);
        },
        [&](uint64_t cookie) {
            std::lock_guard lock(mu);
            adopted.erase(cookie);
        });
    auto wait_served = [&](size_t n) {
        for (int i = 0; i < 2000 && server.stats().served < n; ++i) ::usleep(5000);
        return server.stats().served;
    };

    // Memory: `count` namespaces made first, then served all at once at start.
    int hold[2];
    if (::pipe2(hold, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    std::vector<pid_t> children;
    for (int i = 0; i < count; ++i) children.push_back(spawn_in_new_namespace(hold));
    ::usleep(300'000);
    const long slab0 = meminfo_kb("Slab"), rss0 = self_rss_kb();
    server.start();
    const size_t served = wait_served(static_cast<size_t>(count));
    ::usleep(300'000);
    const long slab1 = meminfo_kb("Slab"), rss1 = self_rss_kb();
    ::close(hold[1]);
    for (pid_t child : children) ::waitpid(child, nullptr, 0);
    ::close(hold[0]);
    for (int i = 0; i < 400 && server.stats().served > 0; ++i) ::usleep(5000);

    // Creation to ready: one namespace at a time, as containers start.
    const size_t before = server.stats().ready_latency_us.size();
    for (int i = 0; i < count; ++i) {
        int one[2];
        if (::pipe2(one, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
        const pid_t child = spawn_in_new_namespace(one);
        wait_served(1);
        ::close(one[1]);
        ::waitpid(child, nullptr, 0);
        ::close(one[0]);
        for (int j = 0; j < 400 && server.stats().served > 0; ++j) ::usleep(1000);
    }
    std::vector<double> latencies = server.stats().ready_latency_us;
    latencies.erase(latencies.begin(),
                    latencies.begin() + static_cast<long>(std::min(before, latencies.size())));
    std::sort(latencies.begin(), latencies.end());
    const auto& stats = server.stats();
    server.stop();

    std::cout << "\nNetwork namespaces (agent/netns), " << count << " of them:\n\n"
              << "| measure | value |\n|---|---:|\n";
    if (!latencies.empty()) {
        std::cout << "| creation (clone with CLONE_NEWNET) to listener ready, median us | "
                  << fmt_ns(latencies[latencies.size() / 2]) << " |\n"
                  << "| creation to listener ready, p99 us | "
                  << fmt_ns(latencies[std::min(latencies.size() - 1, latencies.size() * 99 / 100)])
                  << " |\n"
                  << "| creation to listener ready, max us | " << fmt_ns(latencies.back())
                  << " |\n";
    }
    std::cout << "| namespaces timed | " << latencies.size() << " |\n"
              << "| served at once (existing at start) | " << served << " |\n"
              << "| kernel memory (Slab) per served namespace, KiB | "
              << fmt_ns(double(slab1 - slab0) / double(std::max<size_t>(served, 1))) << " |\n"
              << "| sluiced memory (RSS) per served namespace, KiB | "
              << fmt_ns(double(rss1 - rss0) / double(std::max<size_t>(served, 1))) << " |\n"
              << "| descriptors per served namespace | 3 (IPv4 and IPv6 listeners, route probe) |\n"
              << "| failed | " << stats.failed_total << " |\n";
}

}  // namespace

int main(int argc, char** argv) {
    int connects = 100'000;
    int rounds = 20;
    std::string detach;  // comma-separated program names to detach after loading
    int namespaces = 200;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        if (flag == "--connects")
            connects = std::stoi(argv[i + 1]);
        else if (flag == "--rounds")
            rounds = std::stoi(argv[i + 1]);
        else if (flag == "--detach")
            detach = argv[i + 1];
        else if (flag == "--namespaces")
            namespaces = std::stoi(argv[i + 1]);
    }
    const int per_round = std::max(1, connects / rounds);

    const std::string root = sluice::find_cgroup2_root();
    const std::string base = root + "/sluice-bench-" + std::to_string(::getpid());
    const std::string on = base + "/attached", off = base + "/detached";
    const std::string pin_dir = "/sys/fs/bpf/sluice-bench-" + std::to_string(::getpid());
    int exit_code = 0;
    try {
        for (const auto& dir : {base, on, off}) {
            if (::mkdir(dir.c_str(), 0755) != 0) throw std::runtime_error("mkdir " + dir);
        }
        SinkListeners sinks(2);  // 0: non-target service, 1: the "proxy"
        sluice::LoaderOptions options;
        options.cgroup_path = on;
        options.pin_dir = pin_dir;
        options.proxy_port = sinks.port(1);
        options.serve_netns = true;
        auto loader = sluice::RedirectLoader::load(options);
        sluice::TargetEntry target;
        target.addr = *sluice::parse_ip_address(kTargetIp);
        target.port = kTargetPort;
        loader->replace_targets({target});
        if (!detach.empty()) {  // ablation: which program costs what
            for (const auto& program : loader->status().programs) {
                if (detach.find(program.name) != std::string::npos) {
                    sluice::detach_pinned_link(pin_dir + "/links/" + program.name);
                }
            }
        }

        std::vector<Row> rows = {
            {"miss (non-target loopback)",
             loopback(sinks.port(0)),
             loopback(sinks.port(0)),
             {},
             {}},
            {"redirect (target -> proxy)",
             loopback(sinks.port(1)),
             loopback(kTargetPort, kTargetIp),
             {},
             {}},
        };
        // Warm-up (discarded), then interleaved rounds; the order flips every round.
        Samples scratch;
        join_cgroup(on);
        for (auto& row : rows) time_connects(row.attached_dst, 2000, scratch);
        join_cgroup(off);
        for (auto& row : rows) time_connects(row.detached_dst, 2000, scratch);
        for (int round = 0; round < rounds; ++round) {
            for (int half = 0; half < 2; ++half) {
                const bool attached = (half == 0) == (round % 2 == 0);
                join_cgroup(attached ? on : off);
                for (auto& row : rows) {
                    time_connects(attached ? row.attached_dst : row.detached_dst, per_round,
                                  attached ? row.attached : row.detached);
                }
            }
        }

        // Program run time from the kernel's own accounting, in a separate pass because
        // bpf_stats itself adds a little to every run.
        uint32_t connect4_id = 0, sockops_id = 0, hold_id = 0;
        for (const auto& program : loader->status().programs) {
            if (program.name == "sluice_connect4") connect4_id = program.prog_id;
            if (program.name == "sluice_sockops") sockops_id = program.prog_id;
            if (program.name == "sluice_hold_syn") hold_id = program.prog_id;
        }
        UniqueFd stats(bpf_enable_stats(BPF_STATS_RUN_TIME));
        join_cgroup(on);
        std::vector<std::string> prog_lines;
        for (auto& row : rows) {
            const ProgRunTime c0 = prog_run_time(connect4_id), s0 = prog_run_time(sockops_id),
                              h0 = prog_run_time(hold_id);
            time_connects(row.attached_dst, 20'000, scratch);
            const ProgRunTime c1 = prog_run_time(connect4_id), s1 = prog_run_time(sockops_id),
                              h1 = prog_run_time(hold_id);
            auto per_call = [](const ProgRunTime& a, const ProgRunTime& b) {
                return b.run_cnt > a.run_cnt
                           ? double(b.run_time_ns - a.run_time_ns) / double(b.run_cnt - a.run_cnt)
                           : 0.0;
            };
            auto per_connect = [](const ProgRunTime& a, const ProgRunTime& b) {
                return double(b.run_time_ns - a.run_time_ns) / 20'000.0;
            };
            prog_lines.push_back(std::string("| ") + row.path + " | " + fmt_ns(per_call(c0, c1)) +
                                 " | " + fmt_ns(per_connect(s0, s1)) + " | " +
                                 fmt_ns(per_connect(h0, h1)) + " | " +
                                 fmt_ns(double(h1.run_cnt - h0.run_cnt) / 20'000.0) + " |");
        }
        const EmptyProgramCost empty =
            measure_empty_programs(off, rows[0].detached_dst, 20'000, scratch);
        join_cgroup(root);

        utsname uts{};
        ::uname(&uts);
        std::cout << "Kernel " << uts.release << ", " << std::thread::hardware_concurrency()
                  << " CPUs; " << per_round * rounds << " connects per mode and path, in " << rounds
                  << " interleaved rounds; time of the connect() syscall only (loopback, "
                     "blocking, handshake included).\n\n";
        std::cout << "| path | clock | detached median ns | attached median ns | added median ns "
                     "| ratio | detached p99 ns | attached p99 ns | added p99 ns |\n";
        std::cout << "|---|---|---:|---:|---:|---:|---:|---:|---:|\n";
        for (auto& row : rows) {
            for (int clock = 0; clock < 2; ++clock) {
                auto& detached = clock == 0 ? row.detached.cpu_ns : row.detached.wall_ns;
                auto& attached = clock == 0 ? row.attached.cpu_ns : row.attached.wall_ns;
                const double dm = double(percentile(detached, 0.5));
                const double am = double(percentile(attached, 0.5));
                const double dp = double(percentile(detached, 0.99));
                const double ap = double(percentile(attached, 0.99));
                char ratio[16];
                std::snprintf(ratio, sizeof(ratio), "%.3f", am / dm);
                std::cout << "| " << row.path << " | " << (clock == 0 ? "thread CPU" : "wall")
                          << " | " << fmt_ns(dm) << " | " << fmt_ns(am) << " | " << fmt_ns(am - dm)
                          << " | " << ratio << " | " << fmt_ns(dp) << " | " << fmt_ns(ap) << " | "
                          << fmt_ns(ap - dp) << " |\n";
            }
        }
        std::cout << "\nIn-kernel program run time (bpf_stats, 20000 connects per path):\n\n"
                  << "| path | connect4 ns per run | sockops ns per connect (all callbacks) | "
                     "SYN hold (cgroup_skb/egress) ns per connect | packets it saw per connect "
                     "|\n"
                  << "|---|---:|---:|---:|---:|\n";
        for (const auto& line : prog_lines) std::cout << line << "\n";
        char runs[16];
        std::snprintf(runs, sizeof(runs), "%.1f", empty.sockops_runs_per_connect);
        std::cout << "| empty programs at the same hooks (miss path) | "
                  << fmt_ns(empty.connect4_ns_per_run) << " | "
                  << fmt_ns(empty.sockops_ns_per_connect) << " (" << runs
                  << " runs per connect) | — | — |\n";
        std::cout << "\nThe redirect row's attached column connects to the target and lands on "
                     "the proxy; its detached column connects to the proxy directly.\n";
        if (namespaces > 0) measure_namespaces(*loader, pin_dir, sinks.port(1), namespaces);
    } catch (const std::exception& e) {
        std::cerr << "connect-bench: " << e.what() << "\n";
        exit_code = 1;
    }
    try {
        join_cgroup(root);
        sluice::RedirectLoader::unload(pin_dir);
    } catch (const std::exception& e) {
        std::cerr << "connect-bench: cleanup: " << e.what() << "\n";
        exit_code = 1;
    }
    for (const auto& dir : {on, off, base}) ::rmdir(dir.c_str());
    return exit_code;
}
