#include "agent/gate/policy_store.h"

#include <stdexcept>

#include "agent/gate/policy_file.h"

namespace sluice {

namespace {
std::string rule_count(const Policy& policy) {
    return std::to_string(policy.rules.size()) + (policy.rules.size() == 1 ? " rule" : " rules") +
           ", default " + (policy.default_allow ? "allow" : "deny");
}
}  // namespace

PolicyStore::PolicyStore(std::string path) : path_(std::move(path)) {}

void PolicyStore::set_policy(std::shared_ptr<const Policy> policy) {
    std::lock_guard lock(policy_mutex_);
    policy_ = std::move(policy);
}

std::string PolicyStore::load_initial() {
    std::lock_guard lock(reload_mutex_);
    last_stamp_ = stamp_file(path_);
    if (!last_stamp_)
        return "no policy file at " + path_ + ": every request is allowed and audited";
    PolicyLoadResult result = load_policy_file(path_);
    if (!result.ok()) throw std::runtime_error(result.error);
    const std::string outcome =
        "policy loaded from " + path_ + " (" + rule_count(*result.policy) + ")";
    set_policy(std::move(result.policy));
    return outcome;
}

PolicyReloadOutcome PolicyStore::reload() {
    std::lock_guard lock(reload_mutex_);
    last_stamp_ = stamp_file(path_);
    if (!last_stamp_) {
        if (!current())
            return {true, "no policy file at " + path_ + ": every request is allowed and audited"};
        last_error_ = path_ + ": policy file is gone; keeping the policy in force";
        return {false, last_error_};
    }
    PolicyLoadResult result = load_policy_file(path_);
    if (!result.ok()) {
        last_error_ = result.error;
        return {false, "policy refused, keeping the one in force: " + result.error};
    }
    last_error_.clear();
    PolicyReloadOutcome outcome{
        true, "policy reloaded from " + path_ + " (" + rule_count(*result.policy) + ")"};
    set_policy(std::move(result.policy));
    return outcome;
}

std::optional<PolicyReloadOutcome> PolicyStore::reload_if_changed() {
    {
        std::lock_guard lock(reload_mutex_);
        if (stamp_file(path_) == last_stamp_) return std::nullopt;
    }
    return reload();
}

std::string PolicyStore::last_error() const {
    std::lock_guard lock(reload_mutex_);
    return last_error_;
}

}  // namespace sluice
