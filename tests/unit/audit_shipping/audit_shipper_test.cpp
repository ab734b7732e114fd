// The shipper between the audit writer and a collector, with the collector replaced at its
// seam (CollectorSender) by one the test can take down and bring back.
#include "agent/audit_shipping/audit_shipper.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "agent/audit_shipping/collector_format.h"

#include "agent/audit/audit_writer.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;

struct Collector {
    std::mutex mutex;
    std::string received;
    bool up = true;
};

class TestSender final : public CollectorSender {
public:
    explicit TestSender(std::shared_ptr<Collector> c) : collector_(std::move(c)) {}
    bool send(const std::vector<std::string>& lines, std::string& error) override {
        std::lock_guard lock(collector_->mutex);
        if (!collector_->up) {
            error = "connection refused";
            return false;
        }
        for (const auto& line : lines) collector_->received += line;
        return true;
    }

private:
    std::shared_ptr<Collector> collector_;
};

std::string dir_for(const char* what) {
    auto dir = std::filesystem::temp_directory_path() /
               (std::string("sluice-ship-") + what + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir.string();
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

bool eventually(const std::function<bool()>& condition) {
    for (int i = 0; i < 500; ++i) {
        if (condition()) return true;
        std::this_thread::sleep_for(10ms);
    }
    return condition();
}

std::vector<ShipDestination> to(const std::shared_ptr<Collector>& collector) {
    std::vector<ShipDestination> out;
    out.push_back({"syslog", "test://", std::make_unique<TestSender>(collector)});
    return out;
}

TEST(AuditShipper, TheCollectorGetsTheFilesBytesExactlyOnceInOrderAcrossAnOutage) {
    const std::string dir = dir_for("outage");
    auto collector = std::make_shared<Collector>();
    AuditShipperOptions options;
    options.spool_dir = dir + "/spool";
    AuditShipper shipper(options, to(collector));
    shipper.start();
    AuditWriterOptions writer_options;
    writer_options.path = dir + "/audit.jsonl";
    writer_options.on_written = [&](std::string_view lines) { shipper.ship(lines); };
    AuditWriter writer(writer_options);
    AuditRecord record;
    for (int i = 0; i < 5; ++i) {
        record.id = "before-" + std::to_string(i);
        writer.write_record(record);
    }
    writer.flush();
    {
        std::lock_guard lock(collector->mutex);
        collector->up = false;
    }
    for (int i = 0; i < 5; ++i) {
        record.id = "during-" + std::to_string(i);
        writer.write_record(record);
    }
    writer.flush();
    std::this_thread::sleep_for(300ms);
    EXPECT_GT(shipper.pending_bytes(), 0u);
    {
        std::lock_guard lock(collector->mutex);
        collector->up = true;
    }
    EXPECT_TRUE(eventually([&] {
        std::lock_guard lock(collector->mutex);
        return collector->received == read_file(writer_options.path);
    }));
    EXPECT_TRUE(shipper.healthy());
    shipper.stop();
    std::filesystem::remove_all(dir);
}

TEST(AuditShipper, PastTheBoundClosedStopsServingOpenDropsTheOldestAndCountsThem) {
    for (const bool fail_closed : {true, false}) {
        const std::string dir = dir_for(fail_closed ? "closed" : "open");
        auto collector = std::make_shared<Collector>();
        collector->up = false;
        AuditShipperOptions options;
        options.spool_dir = dir + "/spool";
        options.spool_max_bytes = 100;
        options.fail_closed = fail_closed;
        AuditShipper shipper(options, to(collector));
        shipper.start();
        shipper.ship("first line, the oldest\n");
        EXPECT_TRUE(shipper.healthy());
        for (int i = 0; i < 10; ++i) shipper.ship("another line of about thirty b\n");
        if (fail_closed) {
            EXPECT_FALSE(shipper.healthy());
            EXPECT_TRUE(shipper.take_dropped().empty());
        } else {
            EXPECT_TRUE(shipper.healthy());
            const auto dropped = shipper.take_dropped();
            ASSERT_EQ(dropped.size(), 1u);
            EXPECT_EQ(dropped[0].first, "syslog");
            EXPECT_GE(dropped[0].second, 7u);
            EXPECT_TRUE(shipper.take_dropped().empty());  // reported once
        }
        {
            std::lock_guard lock(collector->mutex);
            collector->up = true;
        }
        EXPECT_TRUE(eventually([&] { return shipper.pending_bytes() == 0; }));
        EXPECT_TRUE(shipper.healthy());
        std::lock_guard lock(collector->mutex);
        EXPECT_EQ(collector->received.starts_with("first line"), fail_closed)
            << "closed keeps the oldest; open dropped it";
        shipper.stop();
        std::filesystem::remove_all(dir);
    }
}

}  // namespace
}  // namespace sluice

#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

namespace sluice {
namespace {

double cpu_seconds() {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// Not a test: audit shipping's throughput and CPU per record over syslog/TCP to a loopback
// sink that discards (run with --gtest_also_run_disabled_tests --gtest_filter='*Throughput*';
// docs/benchmarks.md).
TEST(AuditShipper, DISABLED_SyslogThroughput) {
    // The sink's loopback address: SLUICE_TEST_COLLECTOR_IP (scripts/bench shared), 127.0.0.1.
    const char* env_ip = std::getenv("SLUICE_TEST_COLLECTOR_IP");
    const std::string sink_ip = env_ip && *env_ip ? env_ip : "127.0.0.1";
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    ::inet_pton(AF_INET, sink_ip.c_str(), &addr.sin_addr);
    ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
    ::listen(listener, 1);
    std::atomic<uint64_t> received{0};
    std::thread sink([&] {
        const int fd = ::accept(listener, nullptr, nullptr);
        char buffer[65536];
        for (;;) {
            const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
            if (n <= 0) break;
            received += static_cast<uint64_t>(n);
        }
        ::close(fd);
    });
    const std::string dir = dir_for("throughput");
    AuditShipperOptions options;
    options.spool_dir = dir + "/spool";
    std::vector<ShipDestination> destinations;
    destinations.push_back(
        {"syslog", "tcp://",
         make_syslog_sender(
             *parse_collector_url("tcp://" + sink_ip + ":" + std::to_string(ntohs(addr.sin_port))),
             {})});
    auto shipper = std::make_unique<AuditShipper>(options, std::move(destinations));
    shipper->start();
    AuditRecord record;
    record.method = "POST";
    record.path = "/v1/chat/completions";
    record.model = "gpt-4o-mini";
    record.status = 200;
    constexpr int kRecords = 100'000;
    auto run = [&](bool ship) {
        AuditWriterOptions writer_options;
        writer_options.path = dir + (ship ? "/shipped.jsonl" : "/local.jsonl");
        if (ship) writer_options.on_written = [&](std::string_view lines) { shipper->ship(lines); };
        const double cpu_before = cpu_seconds();
        const auto started = std::chrono::steady_clock::now();
        {
            AuditWriter writer(writer_options);
            for (int i = 0; i < kRecords; ++i) {
                record.id = std::to_string(i);
                writer.write_record(record);
            }
            writer.flush();
        }
        if (ship) {
            EXPECT_TRUE(eventually([&] { return shipper->pending_bytes() == 0; }));
        }
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        return std::pair{seconds, cpu_seconds() - cpu_before};
    };
    const auto [local_s, local_cpu] = run(false);
    const auto [ship_s, ship_cpu] = run(true);
    std::printf(
        "audit %d records: local file %.2f s (%.2f CPU s); shipped too %.2f s (%.2f CPU s): "
        "%.0f records/s end to end, shipping adds %.1f us CPU per record\n",
        kRecords, local_s, local_cpu, ship_s, ship_cpu, kRecords / ship_s,
        (ship_cpu - local_cpu) / kRecords * 1e6);
    shipper.reset();  // closes the connection, so the sink ends
    ::shutdown(listener, SHUT_RDWR);
    ::close(listener);
    sink.join();
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice
