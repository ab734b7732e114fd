// The policy in force: an immutable snapshot swapped whole on reload (SIGHUP or the file
// changing). A policy that fails to load is refused as a whole and the old one stays in force.
// No file at start-up means "no policy": every request is allowed and still audited.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "agent/common/file_stamp.h"
#include "policy/policy_model.h"

namespace sluice {

struct PolicyReloadOutcome {
    bool ok = true;       // false: refused, the old policy stays in force
    std::string message;  // one line for the log
};

class PolicyStore {
public:
    explicit PolicyStore(std::string path);

    // First load at start-up. A present but invalid file throws std::runtime_error with the
    // loader's one line, so sluiced refuses to start rather than run without the intended policy.
    std::string load_initial();
    // Re-reads the file. On any error the policy in
    // force is kept (a deleted file included: removing policy is an explicit act, not an accident).
    PolicyReloadOutcome reload();
    // Reloads when the file's stamp changed since the last attempt; returns the outcome then.
    std::optional<PolicyReloadOutcome> reload_if_changed();

    // nullptr: no policy file (allow all).
    std::shared_ptr<const Policy> current() const {
        std::lock_guard lock(policy_mutex_);
        return policy_;
    }
    const std::string& path() const { return path_; }
    // The last reload error, "" when the file in force is the file on disk.
    std::string last_error() const;

private:
    void set_policy(std::shared_ptr<const Policy> policy);

    const std::string path_;
    // A mutex, not std::atomic<shared_ptr>: GCC 12's implementation double-frees (api_key_store.h).
    mutable std::mutex policy_mutex_;
    std::shared_ptr<const Policy> policy_;
    mutable std::mutex reload_mutex_;
    std::optional<FileStamp> last_stamp_;
    std::string last_error_;
};

}  // namespace sluice
