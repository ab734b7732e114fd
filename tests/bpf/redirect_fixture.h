// One loaded redirect per test: its own child cgroup, pin dir, stub proxy on 127.0.0.1:P and
// [::1]:P, and a "direct" listener on a loopback target (if it ever tags a connection meant for
// the proxy, that connection bypassed the redirect). Everything is removed even on failure.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>

#include "agent/loader/abi_codec.h"
#include "agent/loader/redirect_loader.h"
#include "tests/bpf/bpf_test_support.h"

namespace sluice::test {

inline const std::string kTarget4 = "192.0.2.10";
inline const std::string kTarget6 = "2001:db8::10";
inline const std::string kTargetMapped = "::ffff:192.0.2.10";

class RedirectFixture : public ::testing::Test {
protected:
    struct PinDirGuard {
        std::string dir;
        ~PinDirGuard() {
            try {
                RedirectLoader::unload(dir);
            } catch (const std::exception& e) {
                ADD_FAILURE() << "unload " << dir << ": " << e.what();
            }
        }
    };

    // Names the test's cgroup and pin dir.
    virtual std::string name_prefix() const { return "sluice-test"; }

    void SetUp() override {
        static int sequence = 0;
        const std::string name =
            name_prefix() + "-" + std::to_string(::getpid()) + "-" + std::to_string(sequence++);
        cgroup_root_ = find_cgroup2_root();
        cgroup_.emplace(cgroup_root_ + "/" + name);
        pins_.emplace();
        pins_->dir = "/sys/fs/bpf/" + name;
        proxy_.emplace(std::vector<std::string>{"127.0.0.1", "::1"}, 0, kTagProxy);
        direct_ip_ = unique_loopback_ip();
        direct_.emplace(std::vector<std::string>{direct_ip_}, 443, kTagDirect);
        loader_ = RedirectLoader::load(options());
        loader_->replace_targets(default_targets());
        proxy_->set_table(ConnectionTable::open_pinned(pin_dir()));
    }

    void TearDown() override {
        loader_.reset();
        direct_.reset();
        proxy_.reset();
        pins_.reset();
        cgroup_.reset();
    }

    virtual LoaderOptions options() const {
        LoaderOptions options;
        options.cgroup_path = cgroup_->path();
        options.pin_dir = pin_dir();
        options.proxy_port = proxy_->port();
        return options;
    }

    std::vector<TargetEntry> default_targets() const {
        return {
            TargetEntry{*parse_ip_address(kTarget4), 443, 0},
            TargetEntry{*parse_ip_address(kTarget6), 443, 0},
            TargetEntry{*parse_ip_address(direct_ip_), 443, 0},
        };
    }

    const std::string& pin_dir() const { return pins_->dir; }

    ClientReport connect_in_cgroup(const ConnectSpec& spec,
                                   const std::function<void(pid_t)>& before_go = {}) {
        return run_in_cgroup<ClientReport>(
            cgroup_->path(), [spec] { return client_connect(spec); }, before_go);
    }

    uint64_t counter(const std::string& name) const { return loader_->status().counters.at(name); }

    std::string cgroup_root_;
    std::optional<TestCgroup> cgroup_;
    std::optional<PinDirGuard> pins_;
    std::optional<TagListener> proxy_;
    std::string direct_ip_;
    std::optional<TagListener> direct_;
    std::unique_ptr<RedirectLoader> loader_;
};

inline std::string describe(const ClientReport& report) {
    return std::string("step=") + report.step + " errno=" + std::to_string(report.error) + " (" +
           std::strerror(report.error) + ") landed=" + (report.landed ? report.landed : '-') +
           " peer=" + to_string(report.peer);
}

inline Address16 addr16(const uint8_t (&bytes)[16]) {
    Address16 out;
    std::memcpy(out.data(), bytes, 16);
    return out;
}

}  // namespace sluice::test
