// Shared rate limits and budgets against a real redis-server this test starts on loopback
// (skipped where Debian's redis-server is not installed). Two RedisAccounting objects, each
// with its own local PolicyState, stand for two hosts.
#include "agent/state_store/redis_accounting.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "agent/state_store/redis_scripts.h"
#include "policy/policy_engine.h"
#include "policy/policy_loader.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;
constexpr const char* kRedisServer = "/usr/bin/redis-server";

// The loopback address the test's redis-server listens on (SLUICE_TEST_REDIS_IP, so parallel
// runs and benchmarks can keep to addresses of their own).
std::string redis_ip() {
    const char* ip = std::getenv("SLUICE_TEST_REDIS_IP");
    return ip && *ip ? ip : "127.0.0.1";
}

sockaddr_in redis_address(uint16_t port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    ::inet_pton(AF_INET, redis_ip().c_str(), &addr.sin_addr);
    return addr;
}

uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = redis_address(0);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

// A redis-server of the test's own: its own port, directory and append-only file (so a
// restart keeps what was written, as a production server with persistence would).
class RedisServer {
public:
    RedisServer() : port_(free_port()) {
        dir_ = std::filesystem::temp_directory_path() /
               ("sluice-redis-test-" + std::to_string(::getpid()) + "-" + std::to_string(port_));
        std::filesystem::create_directories(dir_);
    }
    ~RedisServer() {
        stop();
        std::filesystem::remove_all(dir_);
    }
    // Extra arguments (TLS, a password) for the next start.
    void set_extra(std::vector<std::string> extra) { extra_ = std::move(extra); }
    // How often the append-only file is synced: "always" (tests: nothing is lost on kill -9),
    // or Redis's own default "everysec" (benchmarks: not a disk write per command).
    void set_fsync(std::string policy) { fsync_ = std::move(policy); }
    const std::filesystem::path& dir() const { return dir_; }

    void start() {
        const std::string port = std::to_string(port_);
        const std::string log = (dir_ / "redis.log").string();
        std::vector<std::string> args{kRedisServer,
                                      "--bind",
                                      redis_ip(),
                                      "--dir",
                                      dir_.string(),
                                      "--save",
                                      "",
                                      "--appendonly",
                                      "yes",
                                      "--appendfsync",
                                      fsync_,
                                      "--daemonize",
                                      "no",
                                      "--loglevel",
                                      "warning",
                                      "--logfile",
                                      log};
        if (extra_.empty()) {
            args.insert(args.end(), {"--port", port});
        } else {
            args.insert(args.end(), {"--port", "0", "--tls-port", port});
            args.insert(args.end(), extra_.begin(), extra_.end());
        }
        pid_ = ::fork();
        if (pid_ == 0) {
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execv(kRedisServer, argv.data());
            ::_exit(127);
        }
        for (int i = 0; i < 200; ++i) {
            if (accepts()) return;
            std::this_thread::sleep_for(10ms);
        }
        FAIL() << "redis-server did not start on port " << port_;
    }
    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }
    void pause() { ::kill(pid_, SIGSTOP); }
    void resume() { ::kill(pid_, SIGCONT); }
    uint16_t port() const { return port_; }

private:
    bool accepts() const {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr = redis_address(port_);
        const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
        ::close(fd);
        return ok;
    }
    uint16_t port_;
    std::filesystem::path dir_;
    std::vector<std::string> extra_;
    std::string fsync_ = "always";
    pid_t pid_ = -1;
};

// The wait is long by default: on a loaded machine (and with fsync on every write) a short one
// turns shared admissions into fail_mode answers. Tests of the wait itself name theirs.
StateStoreConfig store_config(uint16_t port, uint32_t timeout_ms = 1000) {
    StateStoreConfig c;
    c.redis = "redis://" + redis_ip() + ":" + std::to_string(port);
    c.endpoint = {redis_ip(), port};
    c.prefix = "test:";
    c.timeout_ms = timeout_ms;
    return c;
}

Admission budget(int64_t limit, int64_t amount, bool fail_open = false, int64_t today = 19800) {
    Admission a;
    Admission::AccountCharge charge;
    charge.key = "budget|team";
    charge.today = today;
    charge.seconds_to_midnight = 3600;
    charge.limit = {limit, 0};
    charge.amount = {amount, 0};
    charge.fail_open = fail_open;
    a.accounts.push_back(charge);
    return a;
}

Admission requests_per_minute(int64_t rate, bool fail_open = false) {
    Admission a;
    a.buckets.push_back({"rpm|team", "requests_per_minute", rate, 1, false, fail_open});
    return a;
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds limit = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(10ms);
    }
    return condition();
}

// Reads one hash field through a connection of the test's own.
int64_t hash_field(uint16_t port, const std::string& key, const std::string& field) {
    RedisEndpoint endpoint;
    endpoint.host = redis_ip();
    endpoint.port = port;
    auto c = RedisConnection::on_own_thread(endpoint);
    c->start();
    EXPECT_TRUE(wait_until([&] { return c->connected(); }));
    std::promise<RedisReply> reply;
    c->send({"HGET", key, field}, [&](bool, const RedisReply& r) { reply.set_value(r); });
    RedisReply r = reply.get_future().get();
    c->stop();
    return r.type == RedisReply::Type::string ? std::stoll(r.text) : 0;
}

// A proxy worker's event loop, on a thread of its own.
class WorkerLoop {
public:
    WorkerLoop() : work_(io_.get_executor()), thread_([this] { io_.run(); }) {}
    ~WorkerLoop() { stop(); }
    void stop() {
        if (!thread_.joinable()) return;
        work_.reset();
        io_.stop();
        thread_.join();
    }
    boost::asio::io_context& io() { return io_; }
    std::thread::id thread_id() const { return thread_.get_id(); }
    // admit_later from this loop, as a session does; waits for the answer.
    struct Answer {
        AdmissionResult result;
        std::thread::id answered_on;
        std::chrono::steady_clock::duration took{};
    };
    Answer admit_later(PolicyAccounting& accounting, const Admission& admission) {
        std::promise<Answer> answer;
        boost::asio::post(io_, [&] {
            const auto started = std::chrono::steady_clock::now();
            accounting.admit_later(
                admission, std::chrono::system_clock::now(), [&answer, started](AdmissionResult r) {
                    answer.set_value({std::move(r), std::this_thread::get_id(),
                                      std::chrono::steady_clock::now() - started});
                });
        });
        return answer.get_future().get();
    }

private:
    boost::asio::io_context io_{1};
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
    std::thread thread_;
};

// Waits until `worker`'s own connection answers (it comes up on the loop after start).
bool worker_connected(WorkerLoop& worker, RedisAccounting& host) {
    return wait_until([&] {
        Admission probe = budget(1'000'000, 1);
        probe.accounts[0].key = "budget|probe";
        const WorkerLoop::Answer a = worker.admit_later(host, probe);
        host.release(a.result.reservation_id, std::chrono::system_clock::now());
        return a.result.outcome == AdmissionResult::Outcome::admitted;
    });
}

class SharedState : public ::testing::Test {
protected:
    void SetUp() override {
        if (::access(kRedisServer, X_OK) != 0) GTEST_SKIP() << "redis-server not installed";
        redis_.start();
    }
    RedisServer redis_;
};

TEST(RedisScripts, AdmitCommandNamesPrefixedKeysAndCarriesEveryCharge) {
    Admission a = budget(1000, 40);
    a.buckets.push_back({"rpm|r|user=alice", "requests_per_minute", 10, 1, false, false});
    const auto argv = admit_command("fleet:", a, "host:7", 60000);
    ASSERT_GE(argv.size(), 7u);
    EXPECT_EQ(argv[0], "EVALSHA");
    EXPECT_EQ(argv[1], admit_script().sha1);
    EXPECT_EQ(argv[2], "4");  // one bucket, three keys per account
    EXPECT_EQ(argv[3], "fleet:rpm|r|user=alice");
    EXPECT_EQ(argv[4], "fleet:budget|team");
    EXPECT_EQ(argv[5], "fleet:budget|team|res");
    EXPECT_EQ(argv[6], "fleet:budget|team|exp");
    EXPECT_EQ(argv.size(), 3u + 4 + 4 + 2 + 5);
    EXPECT_EQ(argv.back(), "0");  // cost amount
    EXPECT_EQ(as_eval(argv)[0], "EVAL");
    EXPECT_NE(as_eval(argv)[1].find("ZRANGEBYSCORE"), std::string::npos);
}

RedisReply integer_reply(int64_t value) {
    RedisReply r;
    r.type = RedisReply::Type::integer;
    r.integer = value;
    return r;
}

RedisReply array_reply(std::vector<RedisReply> elements) {
    RedisReply r;
    r.type = RedisReply::Type::array;
    r.elements = std::move(elements);
    return r;
}

TEST(RedisScripts, AReplyThatIsNotTheScriptsIsUnavailableNeverAdmitted) {
    const Admission a = budget(10, 1);
    RedisReply error;
    error.type = RedisReply::Type::error;
    error.text = "ERR something";
    EXPECT_EQ(read_admit_reply(error, a).outcome, AdmissionResult::Outcome::unavailable);
    EXPECT_EQ(read_admit_reply(array_reply({integer_reply(7)}), a).outcome,
              AdmissionResult::Outcome::unavailable);
    const RedisReply out_of_range =
        array_reply({integer_reply(2), integer_reply(5), integer_reply(1), integer_reply(0)});
    EXPECT_EQ(read_admit_reply(out_of_range, a).outcome, AdmissionResult::Outcome::unavailable);
}

TEST(RedisScripts, ChargeIsUsageWhenKnownTheEstimateWhenNotNothingWhenReleased) {
    const BudgetAmount reserved{100, 5000};
    const std::optional<std::pair<int64_t, int64_t>> price{{10, 30}};
    EXPECT_EQ(charge_for(reserved, price, TokenUsage{3, 4}, false).tokens, 7);
    EXPECT_EQ(charge_for(reserved, price, TokenUsage{3, 4}, false).cost_pico, 3 * 10 + 4 * 30);
    EXPECT_EQ(charge_for(reserved, price, std::nullopt, false).tokens, 100);
    EXPECT_EQ(charge_for(reserved, price, TokenUsage{3, 4}, true).tokens, 0);
}

TEST_F(SharedState, TwoHostsBurstingAtOnceNeverOvershootTheSharedBudget) {
    PolicyState local_a, local_b;
    RedisAccounting a(store_config(redis_.port()), local_a);
    RedisAccounting b(store_config(redis_.port()), local_b);
    a.start();
    b.start();
    ASSERT_TRUE(wait_until([&] { return a.connected() && b.connected(); }));

    constexpr int kThreadsPerHost = 4, kTries = 25;
    std::atomic<int64_t> admitted{0}, settled_tokens{0};
    auto burst = [&](RedisAccounting& host) {
        for (int i = 0; i < kTries; ++i) {
            auto r = host.admit(budget(1000, 30), std::chrono::system_clock::now());
            ASSERT_NE(r.outcome, AdmissionResult::Outcome::unavailable) << r.reason;
            if (r.outcome != AdmissionResult::Outcome::admitted) continue;
            admitted += 1;
            settled_tokens += 25;
            host.settle(r.reservation_id, TokenUsage{10, 15}, std::chrono::system_clock::now());
        }
    };
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreadsPerHost; ++t) {
        threads.emplace_back(burst, std::ref(a));
        threads.emplace_back(burst, std::ref(b));
    }
    for (auto& t : threads) t.join();
    // 1000 tokens, 30 held per request: used + held never passes 1000.
    EXPECT_GT(admitted.load(), 0);
    EXPECT_TRUE(wait_until([&] {
        return hash_field(redis_.port(), "test:budget|team", "used_t") == settled_tokens.load() &&
               hash_field(redis_.port(), "test:budget|team", "res_t") == 0;
    })) << "Redis holds "
        << hash_field(redis_.port(), "test:budget|team", "used_t");
    EXPECT_LE(settled_tokens.load(), 1000);
    EXPECT_LE(admitted.load() * 25, 1000);
    // The last request that could fit was taken: less than one request's estimate is left.
    EXPECT_GT(settled_tokens.load() + 30, 1000 - 30);
}

TEST_F(SharedState, ARateLimitIsOneBucketAcrossHosts) {
    PolicyState local_a, local_b;
    RedisAccounting a(store_config(redis_.port()), local_a);
    RedisAccounting b(store_config(redis_.port()), local_b);
    a.start();
    b.start();
    ASSERT_TRUE(wait_until([&] { return a.connected() && b.connected(); }));
    int admitted = 0;
    int64_t retry_after = 0;
    for (int i = 0; i < 10; ++i) {
        auto r = (i % 2 ? a : b).admit(requests_per_minute(6), std::chrono::system_clock::now());
        if (r.outcome == AdmissionResult::Outcome::admitted) ++admitted;
        if (r.outcome == AdmissionResult::Outcome::rate_limited) retry_after = r.retry_after_s;
    }
    EXPECT_EQ(admitted, 6);
    EXPECT_GE(retry_after, 1);
    EXPECT_LE(retry_after, 10);
}

TEST_F(SharedState, ANewBudgetDayStartsAfreshWhileHeldReservationsStayHeld) {
    PolicyState local;
    RedisAccounting host(store_config(redis_.port()), local);
    host.start();
    ASSERT_TRUE(wait_until([&] { return host.connected(); }));
    const auto now = std::chrono::system_clock::now();
    auto first = host.admit(budget(100, 60, false, 19800), now);
    ASSERT_EQ(first.outcome, AdmissionResult::Outcome::admitted);
    host.settle(first.reservation_id, TokenUsage{30, 30}, now);
    auto held = host.admit(budget(100, 30, false, 19800), now);
    ASSERT_EQ(held.outcome, AdmissionResult::Outcome::admitted);
    EXPECT_EQ(host.admit(budget(100, 30, false, 19800), now).outcome,
              AdmissionResult::Outcome::budget_exceeded);
    // Next local day: the 60 used are forgotten, the 30 still in flight are not.
    EXPECT_EQ(host.admit(budget(100, 71, false, 19801), now).outcome,
              AdmissionResult::Outcome::budget_exceeded);
    auto next_day = host.admit(budget(100, 70, false, 19801), now);
    EXPECT_EQ(next_day.outcome, AdmissionResult::Outcome::admitted);
}

TEST_F(SharedState, RedisDownFailClosedRefusesFailOpenCountsLocallyAndReconcilesWhenBack) {
    PolicyState local;
    RedisAccounting host(store_config(redis_.port()), local);
    host.start();
    ASSERT_TRUE(wait_until([&] { return host.connected(); }));
    const auto now = std::chrono::system_clock::now();
    auto before = host.admit(budget(1000, 100, true), now);
    ASSERT_EQ(before.outcome, AdmissionResult::Outcome::admitted);
    host.settle(before.reservation_id, TokenUsage{20, 20}, now);
    ASSERT_TRUE(
        wait_until([&] { return hash_field(redis_.port(), "test:budget|team", "used_t") == 40; }));

    redis_.stop();
    ASSERT_TRUE(wait_until([&] { return !host.connected(); }));
    auto closed = host.admit(budget(1000, 100, false), now);
    EXPECT_EQ(closed.outcome, AdmissionResult::Outcome::unavailable);
    EXPECT_NE(closed.reason.find("unreachable"), std::string::npos) << closed.reason;

    auto open = host.admit(budget(1000, 100, true), now);
    ASSERT_EQ(open.outcome, AdmissionResult::Outcome::admitted);
    EXPECT_NE(open.degraded.find("accounted on this host"), std::string::npos);
    host.settle(open.reservation_id, TokenUsage{50, 50}, now);
    EXPECT_EQ(host.status_json()["waiting_for_redis"], 1);

    redis_.start();
    ASSERT_TRUE(wait_until([&] { return host.connected(); }));
    // What was used while Redis was away is now in the shared account, on top of what it had.
    EXPECT_TRUE(
        wait_until([&] { return hash_field(redis_.port(), "test:budget|team", "used_t") == 140; }));
    EXPECT_EQ(host.status_json()["waiting_for_redis"], 0);
}

TEST_F(SharedState, ASettlementMadeWhileRedisIsDownIsSentWhenItIsBack) {
    PolicyState local;
    RedisAccounting host(store_config(redis_.port()), local);
    host.start();
    ASSERT_TRUE(wait_until([&] { return host.connected(); }));
    const auto now = std::chrono::system_clock::now();
    auto r = host.admit(budget(1000, 100), now);
    ASSERT_EQ(r.outcome, AdmissionResult::Outcome::admitted);
    redis_.stop();
    ASSERT_TRUE(wait_until([&] { return !host.connected(); }));
    host.settle(r.reservation_id, TokenUsage{5, 7}, now);
    redis_.start();
    EXPECT_TRUE(wait_until([&] {
        return hash_field(redis_.port(), "test:budget|team", "used_t") == 12 &&
               hash_field(redis_.port(), "test:budget|team", "res_t") == 0;
    }));
}

TEST_F(SharedState, ASlowRedisCostsARequestAtMostTheConfiguredWait) {
    PolicyState local;
    RedisAccounting host(store_config(redis_.port(), 20), local);
    host.start();
    ASSERT_TRUE(wait_until([&] { return host.connected(); }));
    redis_.pause();
    const auto started = std::chrono::steady_clock::now();
    auto r = host.admit(budget(1000, 10), std::chrono::system_clock::now());
    const auto waited = std::chrono::steady_clock::now() - started;
    redis_.resume();
    EXPECT_EQ(r.outcome, AdmissionResult::Outcome::unavailable);
    EXPECT_NE(r.reason.find("did not answer within 20 ms"), std::string::npos) << r.reason;
    EXPECT_LT(waited, 200ms);
    // The late answer's reservation is given back, so nothing stays held for the refused request.
    EXPECT_TRUE(
        wait_until([&] { return hash_field(redis_.port(), "test:budget|team", "res_t") == 0; }));
}

TEST_F(SharedState, TheEngineRefusesWith503PolicyUnavailableOrMarksTheAuditWhenOpen) {
    auto loaded = load_policy(R"(
default: deny
rules:
  - name: closed
    match: {users: [alice]}
    budget: {tokens_per_day: 1000, per: user}
  - name: open
    match: {users: [bob]}
    budget: {tokens_per_day: 1000, per: user, fail_mode: open}
)",
                              "p.yaml", {});
    ASSERT_TRUE(loaded.ok()) << loaded.error;
    PolicyState local;
    RedisAccounting host(store_config(redis_.port()), local);
    host.start();
    ASSERT_TRUE(wait_until([&] { return host.connected(); }));
    redis_.stop();
    ASSERT_TRUE(wait_until([&] { return !host.connected(); }));
    PolicyRequest request;
    request.method = "POST";
    request.path = "/v1/chat/completions";
    request.model = "gpt-4o-mini";
    request.max_output_tokens = 10;
    request.estimated_prompt_tokens = 5;
    PolicyIdentity alice, bob;
    alice.user = "alice";
    bob.user = "bob";
    const auto now = std::chrono::system_clock::now();
    auto refused = evaluate(*loaded.policy, alice, request, host, now);
    EXPECT_EQ(refused.http_status, 503);
    EXPECT_EQ(refused.code, "policy_unavailable");
    auto allowed = evaluate(*loaded.policy, bob, request, host, now);
    EXPECT_TRUE(allowed.allowed());
    ASSERT_EQ(allowed.skipped_controls.size(), 1u);
    EXPECT_NE(allowed.skipped_controls[0].find("budget (redis"), std::string::npos)
        << allowed.skipped_controls[0];
    host.release(allowed.reservation_id, now);
}

TEST_F(SharedState, AWorkerLoopAsksRedisOverItsOwnConnectionAndIsAnsweredOnItsThread) {
    PolicyState local;
    WorkerLoop worker;
    RedisAccounting host(store_config(redis_.port()), local);
    host.serve_on({&worker.io()});
    host.start();
    EXPECT_TRUE(host.answers_later());
    ASSERT_TRUE(wait_until([&] { return host.connected(); }));
    ASSERT_TRUE(worker_connected(worker, host));
    const WorkerLoop::Answer first = worker.admit_later(host, budget(100, 60));
    EXPECT_EQ(first.result.outcome, AdmissionResult::Outcome::admitted);
    EXPECT_EQ(first.answered_on, worker.thread_id());
    // Shared, not local: the reservation is held in Redis and this host's store has nothing.
    EXPECT_EQ(hash_field(redis_.port(), "test:budget|team", "res_t"), 60);
    EXPECT_TRUE(local.to_json()["budgets"].empty()) << local.to_json().dump();
    EXPECT_EQ(worker.admit_later(host, budget(100, 60)).result.outcome,
              AdmissionResult::Outcome::budget_exceeded);
    host.settle(first.result.reservation_id, TokenUsage{20, 20}, std::chrono::system_clock::now());
    EXPECT_TRUE(wait_until([&] {
        return hash_field(redis_.port(), "test:budget|team", "used_t") == 40 &&
               hash_field(redis_.port(), "test:budget|team", "res_t") == 0;
    }));
    worker.stop();
}

TEST_F(SharedState, ASlowRedisAnswersAWorkerByItsFailModeAndTheLoopKeepsServing) {
    PolicyState local;
    WorkerLoop worker;
    RedisAccounting host(store_config(redis_.port(), 20), local);
    host.serve_on({&worker.io()});
    host.start();
    ASSERT_TRUE(worker_connected(worker, host));
    redis_.pause();
    // While this request waits for Redis, the loop runs other connections' work.
    std::atomic<int> ran_meanwhile{0};
    std::promise<WorkerLoop::Answer> answer;
    boost::asio::post(worker.io(), [&] {
        const auto started = std::chrono::steady_clock::now();
        host.admit_later(budget(1000, 10), std::chrono::system_clock::now(),
                         [&, started](AdmissionResult r) {
                             answer.set_value({std::move(r), std::this_thread::get_id(),
                                               std::chrono::steady_clock::now() - started});
                         });
        boost::asio::post(worker.io(), [&] { ++ran_meanwhile; });
    });
    const WorkerLoop::Answer slow = answer.get_future().get();
    redis_.resume();
    EXPECT_EQ(slow.result.outcome, AdmissionResult::Outcome::unavailable);
    EXPECT_NE(slow.result.reason.find("did not answer within 20 ms"), std::string::npos)
        << slow.result.reason;
    EXPECT_GE(slow.took, 20ms);
    EXPECT_LT(slow.took, 200ms);
    EXPECT_EQ(ran_meanwhile.load(), 1);
    // The late answer's reservation is given back.
    EXPECT_TRUE(wait_until([&] {
        return hash_field(redis_.port(), "test:budget|team", "res_t") == 0 &&
               hash_field(redis_.port(), "test:budget|team", "used_t") == 0;
    }));
    // A requests bucket too: what the late answer took for a refused request is given back.
    redis_.pause();
    EXPECT_EQ(worker.admit_later(host, requests_per_minute(6)).result.outcome,
              AdmissionResult::Outcome::unavailable);
    redis_.resume();
    EXPECT_TRUE(wait_until([&] {
        return hash_field(redis_.port(), "test:rpm|team", "l") >= 6 * 60000 - 60000 / 10;
    })) << "level "
        << hash_field(redis_.port(), "test:rpm|team", "l");
    // Fail open, the same wait ends in local accounting, marked.
    redis_.pause();
    const WorkerLoop::Answer open = worker.admit_later(host, budget(1000, 10, true));
    redis_.resume();
    EXPECT_EQ(open.result.outcome, AdmissionResult::Outcome::admitted);
    EXPECT_NE(open.result.degraded.find("accounted on this host"), std::string::npos);
    host.release(open.result.reservation_id, std::chrono::system_clock::now());
    worker.stop();
}

TEST_F(SharedState, RateLimitUseWhileRedisWasDownIsTakenFromTheSharedBucketWhenItIsBack) {
    PolicyState local_a, local_b;
    RedisAccounting a(store_config(redis_.port()), local_a);
    RedisAccounting b(store_config(redis_.port()), local_b);
    a.start();
    b.start();
    ASSERT_TRUE(wait_until([&] { return a.connected() && b.connected(); }));
    const auto now = std::chrono::system_clock::now();
    const auto shared = a.admit(requests_per_minute(6, true), now);
    ASSERT_EQ(shared.outcome, AdmissionResult::Outcome::admitted);
    ASSERT_TRUE(shared.degraded.empty()) << shared.degraded;

    redis_.stop();
    ASSERT_TRUE(wait_until([&] { return !a.connected(); }));
    // Fail open: host A serves from its own bucket meanwhile.
    for (int i = 0; i < 3; ++i) {
        auto r = a.admit(requests_per_minute(6, true), now);
        ASSERT_EQ(r.outcome, AdmissionResult::Outcome::admitted);
        EXPECT_NE(r.degraded.find("rate_limit (redis"), std::string::npos) << r.degraded;
    }
    EXPECT_EQ(a.status_json()["waiting_for_redis"], 3);

    redis_.start();
    ASSERT_TRUE(wait_until([&] { return a.connected() && b.connected(); }));
    ASSERT_TRUE(wait_until([&] { return a.status_json()["rate_limit_reconciled"] == 3; }))
        << a.status_json().dump();
    EXPECT_EQ(a.status_json()["waiting_for_redis"], 0);
    // The shared bucket of 6 had 1 taken through Redis and 3 on host A: host B gets 2 more.
    int admitted = 0;
    for (int i = 0; i < 5; ++i)
        if (b.admit(requests_per_minute(6), now).outcome == AdmissionResult::Outcome::admitted)
            ++admitted;
    EXPECT_EQ(admitted, 2);
}

TEST_F(SharedState, TokensUsedWhileRedisWasDownAreTakenFromTheSharedTokenBucketAsBilled) {
    PolicyState local;
    RedisAccounting host(store_config(redis_.port()), local);
    host.start();
    ASSERT_TRUE(wait_until([&] { return host.connected(); }));
    Admission tokens;
    tokens.buckets.push_back({"tpm|team", "tokens_per_minute", 6000, 500, true, true});
    redis_.stop();
    ASSERT_TRUE(wait_until([&] { return !host.connected(); }));
    const auto now = std::chrono::system_clock::now();
    auto r = host.admit(tokens, now);
    ASSERT_EQ(r.outcome, AdmissionResult::Outcome::admitted);
    // Upstream billed 3000 of the 500 estimated (as a long answer can).
    host.settle(r.reservation_id, TokenUsage{1000, 2000}, now);
    redis_.start();
    ASSERT_TRUE(wait_until([&] { return host.status_json()["rate_limit_reconciled"] == 1; }));
    // About 3000 of the bucket's 6000 are gone (less the little that refilled since).
    const int64_t level = hash_field(redis_.port(), "test:tpm|team", "l") / 60000;
    EXPECT_GE(level, 3000);
    EXPECT_LT(level, 3300);
}

TEST(RedisScripts, ARateWindowThatHasPassedOwesNothingOneInsideItOwesWhatHasNotRefilled) {
    using std::chrono::steady_clock;
    const steady_clock::time_point t0{};
    constexpr int64_t kToken = 60000;  // units per token
    // 60 per minute: one token refills every second.
    EXPECT_EQ(outstanding_bucket_units({{2 * kToken, t0}}, 60, t0 + 2s), 0);
    EXPECT_EQ(outstanding_bucket_units({{2 * kToken, t0}}, 60, t0 + 60s), 0);
    EXPECT_EQ(outstanding_bucket_units({{2 * kToken, t0}}, 60, t0 + 1s), kToken);
    EXPECT_EQ(outstanding_bucket_units({{2 * kToken, t0}}, 60, t0), 2 * kToken);
    // The bucket refills once for all its uses: four taken at once, 1 s later three are owed,
    // not none (as four separate one-token debts would each have refilled).
    EXPECT_EQ(outstanding_bucket_units({{kToken, t0}, {kToken, t0}, {kToken, t0}, {kToken, t0}}, 60,
                                       t0 + 1s),
              3 * kToken);
    // Uses spread out: what refilled between them is not owed twice, in any order given.
    EXPECT_EQ(outstanding_bucket_units({{kToken, t0 + 3s}, {kToken, t0}}, 60, t0 + 3s), kToken);
    EXPECT_FALSE(take_from_bucket_command("k", 60, 0));
    const auto command = take_from_bucket_command("k", 60, kToken);
    ASSERT_TRUE(command);
    EXPECT_EQ((*command)[3], "k");
    EXPECT_EQ(command->back(), "60000");
}

TEST_F(SharedState, BudgetDaysFollowEachRulesTimeZoneAndRollOverAtItsMidnight) {
    auto loaded = load_policy(R"(
default: deny
rules:
  - name: east
    match: {users: [alice]}
    budget: {tokens_per_day: 100, per: user, timezone: "+10:00"}
  - name: west
    match: {users: [bob]}
    budget: {tokens_per_day: 100, per: user, timezone: "-10:00"}
)",
                              "p.yaml", {});
    ASSERT_TRUE(loaded.ok()) << loaded.error;
    PolicyState local;
    RedisAccounting host(store_config(redis_.port()), local);
    host.start();
    ASSERT_TRUE(wait_until([&] { return host.connected(); }));
    PolicyRequest request;
    request.method = "POST";
    request.path = "/v1/chat/completions";
    request.model = "gpt-4o-mini";
    request.max_output_tokens = 10;
    request.estimated_prompt_tokens = 40;
    PolicyIdentity alice, bob;
    alice.user = "alice";
    bob.user = "bob";
    // 2026-12-07 20:00 UTC: 06:00 on Dec 8 at +10:00, 10:00 on Dec 7 at -10:00.
    const std::chrono::sys_seconds evening{std::chrono::seconds(1796673600)};
    const int64_t dec7 = 1796673600 / 86400;
    auto spend_the_day = [&](const PolicyIdentity& who, std::chrono::sys_seconds at) {
        int admitted = 0;
        for (int i = 0; i < 3; ++i) {
            auto d = evaluate(*loaded.policy, who, request, host, at);
            if (!d.allowed()) {
                EXPECT_EQ(d.code, "budget_exceeded") << d.reason;
                continue;
            }
            ++admitted;
            host.settle(d.reservation_id, TokenUsage{25, 25}, at);
        }
        return admitted;
    };
    EXPECT_EQ(spend_the_day(alice, evening), 2);
    EXPECT_EQ(spend_the_day(bob, evening), 2);
    EXPECT_TRUE(wait_until([&] {
        return hash_field(redis_.port(), "test:budget|east|user=alice", "day") == dec7 + 1 &&
               hash_field(redis_.port(), "test:budget|west|user=bob", "day") == dec7 &&
               hash_field(redis_.port(), "test:budget|west|user=bob", "used_t") == 100;
    }));
    // 09:59 UTC on Dec 8 is still Dec 7 at -10:00: bob's day is spent. At 10:00 it is a new day.
    EXPECT_EQ(spend_the_day(bob, evening + std::chrono::seconds(13 * 3600 + 59 * 60)), 0);
    EXPECT_EQ(spend_the_day(bob, evening + std::chrono::seconds(14 * 3600)), 2);
    EXPECT_TRUE(wait_until([&] {
        return hash_field(redis_.port(), "test:budget|west|user=bob", "day") == dec7 + 1 &&
               hash_field(redis_.port(), "test:budget|west|user=bob", "used_t") == 100;
    }));
    // alice's Dec 8 (+10:00) is not over until 14:00 UTC on Dec 8.
    EXPECT_EQ(spend_the_day(alice, evening + std::chrono::seconds(17 * 3600)), 0);
}

TEST(SharedStateTls, ConnectsOverTlsWithAuthAndRefusesAWrongPasswordOrName) {
    if (::access(kRedisServer, X_OK) != 0) GTEST_SKIP() << "redis-server not installed";
    RedisServer redis;
    const std::string cert = (redis.dir() / "redis.crt").string();
    const std::string key = (redis.dir() / "redis.key").string();
    const std::string make_cert =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + key +
        " -out " + cert +
        " -subj /CN=redis.test -addext subjectAltName=DNS:redis.test -days 1 2>/dev/null";
    ASSERT_EQ(std::system(make_cert.c_str()), 0);
    redis.set_extra({"--tls-cert-file", cert, "--tls-key-file", key, "--tls-ca-cert-file", cert,
                     "--tls-auth-clients", "no", "--requirepass", "s3cret-pw"});
    redis.start();
    auto password_file = [&](const std::string& password) {
        const auto path = redis.dir() / ("pw-" + password);
        std::ofstream(path) << password << "\n";
        std::filesystem::permissions(
            path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
        return path.string();
    };
    auto config = [&](const std::string& password, const std::string& name) {
        StateStoreConfig c = store_config(redis.port());
        c.redis = "rediss://" + redis_ip() + ":" + std::to_string(redis.port());
        c.tls = true;
        c.tls_ca_file = cert;
        c.tls_server_name = name;
        c.auth_password_file = password_file(password);
        return c;
    };
    PolicyState local;
    RedisAccounting good(config("s3cret-pw", "redis.test"), local);
    good.start();
    ASSERT_TRUE(wait_until([&] { return good.connected(); })) << good.status_json().dump();
    EXPECT_EQ(good.admit(budget(100, 10), std::chrono::system_clock::now()).outcome,
              AdmissionResult::Outcome::admitted);

    RedisAccounting wrong_password(config("not-it", "redis.test"), local);
    wrong_password.start();
    std::this_thread::sleep_for(500ms);
    EXPECT_FALSE(wrong_password.connected());
    const std::string why = wrong_password.status_json()["last_error"];
    EXPECT_NE(why.find("AUTH/SELECT refused"), std::string::npos) << why;
    EXPECT_EQ(why.find("not-it"), std::string::npos) << "the password must never be shown";

    RedisAccounting wrong_name(config("s3cret-pw", "other.test"), local);
    wrong_name.start();
    std::this_thread::sleep_for(500ms);
    EXPECT_FALSE(wrong_name.connected());
    EXPECT_NE(wrong_name.status_json()["last_error"].get<std::string>().find("TLS"),
              std::string::npos);
}

TEST(RedisPassword, AFileOthersMayReadIsRefused) {
    const auto path =
        std::filesystem::temp_directory_path() / ("sluice-redis-pw-" + std::to_string(::getpid()));
    std::ofstream(path) << "secret\n";
    std::filesystem::permissions(path, std::filesystem::perms::owner_read |
                                           std::filesystem::perms::owner_write |
                                           std::filesystem::perms::others_read);
    EXPECT_THROW(read_redis_password(path), std::runtime_error);
    std::filesystem::permissions(
        path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    EXPECT_EQ(read_redis_password(path), "secret");
    std::filesystem::remove(path);
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

// Not a test: what Redis accounting adds to a request against this host's store (run with
// --gtest_also_run_disabled_tests --gtest_filter='*AdmitLatency*'; scripts/bench shared writes
// it to docs/benchmarks.md). Every admission is asked from a worker loop, as a session does;
// the three stores take turns in rounds, so a noisy stretch of the shared machine hits each.
TEST_F(SharedState, DISABLED_AdmitLatency) {
    redis_.stop();
    redis_.set_fsync("everysec");
    redis_.start();
    PolicyState local, alone;
    WorkerLoop worker;
    RedisAccounting host(store_config(redis_.port(), 50), local);
    host.serve_on({&worker.io()});
    host.start();
    ASSERT_TRUE(wait_until([&] { return host.connected(); }));
    ASSERT_TRUE(worker_connected(worker, host));
    // blocking: admit() through the connection's own thread, the path before the worker loops
    // had connections of their own (proxy thread -> Redis thread -> proxy thread).
    enum Path { on_this_host, redis_blocking, redis_worker_loop };
    auto once = [&](Path path) {
        const auto now = std::chrono::system_clock::now();
        const Admission admission = budget(1'000'000'000, 10);
        std::promise<std::pair<AdmissionResult, double>> out;
        boost::asio::post(worker.io(), [&] {
            const auto started = std::chrono::steady_clock::now();
            auto finish = [&, started](AdmissionResult r) {
                out.set_value({std::move(r), std::chrono::duration<double, std::micro>(
                                                 std::chrono::steady_clock::now() - started)
                                                 .count()});
            };
            if (path == on_this_host)
                finish(alone.admit(admission, now));
            else if (path == redis_blocking)
                finish(host.admit(admission, now));
            else
                host.admit_later(admission, now, finish);
        });
        auto [result, us] = out.get_future().get();
        EXPECT_TRUE(result.degraded.empty()) << result.degraded;
        (path == on_this_host ? static_cast<PolicyAccounting&>(alone) : host)
            .settle(result.reservation_id, TokenUsage{5, 5}, now);
        return us;
    };
    const int rounds = 10, per_round = 500;
    std::vector<double> us[3];
    for (int r = 0; r < rounds; ++r)
        for (Path path : {on_this_host, redis_blocking, redis_worker_loop})
            for (int i = 0; i < per_round; ++i) us[path].push_back(once(path));
    const char* names[] = {"this host (PolicyState)", "Redis, blocking through its own thread",
                           "Redis, on the worker's loop"};
    std::printf("| store | p50 µs | p99 µs |\n|---|---:|---:|\n");
    for (int p = 0; p < 3; ++p) {
        std::sort(us[p].begin(), us[p].end());
        std::printf("| %s | %.1f | %.1f |\n", names[p], us[p][us[p].size() / 2],
                    us[p][us[p].size() * 99 / 100]);
    }
    worker.stop();
}

}  // namespace
}  // namespace sluice
