// Custody of the real OpenAI key: read from api_key_file, swapped atomically on reload
// (SIGHUP or the file changing), never logged. Clients only ever hold a dummy.
#pragma once

#include <atomic>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "agent/common/file_stamp.h"

namespace sluice {

class ApiKeyStore {
public:
    explicit ApiKeyStore(std::string path);

    // The current key, or nullptr when the file is missing, unreadable or empty.
    std::shared_ptr<const std::string> key() const {
        std::lock_guard lock(key_mutex_);
        return key_;
    }
    // Re-reads the file. Returns a one-line description of the outcome for the log (no key
    // material). A file that group or others may access is refused, as OpenSSH refuses loose
    // private keys.
    std::string reload();
    // Why there is no key ("" when there is one): for status and the 503's message.
    std::string problem() const;
    // Re-reads if the file's mtime/size/inode changed since the last read; cheap to call often.
    bool reload_if_changed();
    const std::string& path() const { return path_; }

private:
    static constexpr std::size_t kMaxKeyFileBytes = 64 * 1024;
    const std::string path_;
    void set_key(std::shared_ptr<const std::string> key);
    void set_problem(std::string problem);

    // A mutex, not std::atomic<shared_ptr>: GCC 12's implementation of the latter double-frees
    // under a concurrent store (seen here as "free(): double free" on key reload).
    mutable std::mutex key_mutex_;
    std::shared_ptr<const std::string> key_;
    std::string problem_;
    std::mutex reload_mutex_;
    std::optional<FileStamp> last_stamp_;
};

// A short, non-reversible fingerprint of what a client presented as its key, for the audit:
// "sha256:" + first 12 hex digits of SHA-256. Empty input gives "".
std::string credential_fingerprint(std::string_view presented);

}  // namespace sluice
