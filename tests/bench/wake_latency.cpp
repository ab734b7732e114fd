// wake-latency: how long this machine takes to wake a sleeping thread, on the same CPU and on
// another one (not a test; scripts/bench proxy prints it beside the open-loop latencies).
//
// A proxied request on the pinned bench layout wakes a thread on the other CPU four times
// (client -> proxy -> upstream -> proxy -> client), a direct one not at all, so this round
// trip is the floor under every "added latency" the bench reports. On bare metal it is a few
// µs; in a VM whose idle vCPUs halt, each wake is a trip through the hypervisor.
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

void pin_to(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

void signal(int fd) {
    const uint64_t one = 1;
    if (::write(fd, &one, sizeof one) != sizeof one) std::abort();
}

void await(int fd) {
    uint64_t value;
    if (::read(fd, &value, sizeof value) != sizeof value) std::abort();
}

// Round trips between a thread on `cpu_a` and one on `cpu_b`, each side asleep in read()
// when woken; a pause between trips (as between open-loop requests) lets the CPUs go idle.
std::vector<double> round_trips_us(int cpu_a, int cpu_b, int trips,
                                   std::chrono::microseconds pause) {
    const int ping = eventfd(0, 0), pong = eventfd(0, 0);
    std::thread echo([&] {
        pin_to(cpu_b);
        for (int i = 0; i < trips; ++i) {
            await(ping);
            signal(pong);
        }
    });
    pin_to(cpu_a);
    std::vector<double> samples;
    samples.reserve(static_cast<std::size_t>(trips));
    for (int i = 0; i < trips; ++i) {
        std::this_thread::sleep_for(pause);
        const auto start = std::chrono::steady_clock::now();
        signal(ping);
        await(pong);
        samples.push_back(
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                .count());
    }
    echo.join();
    ::close(ping);
    ::close(pong);
    std::sort(samples.begin(), samples.end());
    return samples;
}

double percentile(const std::vector<double>& sorted, double p) {
    return sorted[std::min(sorted.size() - 1,
                           static_cast<std::size_t>(p * static_cast<double>(sorted.size())))];
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3 || std::string(argv[1]) == "--help") {
        std::fprintf(
            stderr,
            "usage: wake-latency CPU_A CPU_B\n"
            "  prints one JSON line: wake-up round trips within CPU_A and between the two\n");
        return 2;
    }
    const int a = std::atoi(argv[1]), b = std::atoi(argv[2]);
    constexpr int kTrips = 4000;
    constexpr std::chrono::microseconds kPause{200};
    const auto same = round_trips_us(a, a, kTrips, kPause);
    const auto cross = round_trips_us(a, b, kTrips, kPause);
    std::printf(
        "{\"mode\":\"wake\",\"trips\":%d,\"same_cpu\":{\"p50_us\":%.1f,\"p99_us\":%.1f},"
        "\"cross_cpu\":{\"p50_us\":%.1f,\"p99_us\":%.1f}}\n",
        kTrips, percentile(same, 0.5), percentile(same, 0.99), percentile(cross, 0.5),
        percentile(cross, 0.99));
    return 0;
}
