// A scratch directory per test for policy and state files; a store that answers later.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "policy/policy_accounting.h"
#include "policy/policy_state.h"

namespace sluice::testing {

class ScratchDir {
public:
    ScratchDir() {
        char pattern[] = "/tmp/sluice-gate-XXXXXX";
        path_ = ::mkdtemp(pattern);
    }
    ~ScratchDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    std::string file(const std::string& name) const { return path_ + "/" + name; }
    std::string write(const std::string& name, const std::string& text) const {
        std::ofstream(file(name), std::ios::trunc) << text;
        return file(name);
    }
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

// A store that answers later (as Redis does): this host's PolicyState behind a queue of
// answers the test releases, as an event loop would run them.
class AnswersLater final : public PolicyAccounting {
public:
    explicit AnswersLater(PolicyState& state) : state_(state) {}
    AdmissionResult admit(const Admission& a, TimePoint now) override {
        return state_.admit(a, now);
    }
    bool answers_later() const override { return true; }
    void admit_later(const Admission& a, TimePoint now, AdmitCallback done) override {
        queued_.push_back([this, a, now, done = std::move(done)] { done(state_.admit(a, now)); });
    }
    void settle(uint64_t id, const std::optional<TokenUsage>& usage, TimePoint now) override {
        state_.settle(id, usage, now);
    }
    void release(uint64_t id, TimePoint now) override { state_.release(id, now); }
    void answer_all() {
        auto queued = std::move(queued_);
        queued_.clear();
        for (auto& answer : queued) answer();
    }
    std::size_t asked() const { return queued_.size(); }

private:
    PolicyState& state_;
    std::vector<std::function<void()>> queued_;
};

}  // namespace sluice::testing
