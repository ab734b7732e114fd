// The key that signs audit checkpoints: Ed25519, generated on first start in state_dir
// (audit-signing.key, 0600; audit-signing.pub beside it, 0644, for `sluicectl audit pubkey`).
// Verification needs only the public key, so an auditor holding a copy of it can tell a real
// checkpoint from one written by someone who rewrote the log.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace sluice {

inline constexpr std::string_view kAuditSigningKeyFile = "audit-signing.key";
inline constexpr std::string_view kAuditPublicKeyFile = "audit-signing.pub";

struct AuditKeyDeleter {
    void operator()(void* key) const;
};
using AuditKeyHandle = std::unique_ptr<void, AuditKeyDeleter>;  // EVP_PKEY, kept out of the header

class AuditSigner {
public:
    // Loads state_dir/audit-signing.key or creates it (and the .pub). Throws std::runtime_error
    // with one line naming the file when it cannot.
    static AuditSigner load_or_create(const std::string& state_dir);
    std::string sign_hex(std::string_view message) const;  // 128 hex digits
    const std::string& public_key_pem() const { return public_pem_; }
    const std::string& key_id() const { return key_id_; }  // 16 hex digits of the key's hash

private:
    AuditSigner(AuditKeyHandle key, std::string public_pem);
    AuditKeyHandle key_;
    std::string public_pem_;
    std::string key_id_;
};

class AuditVerifyKey {
public:
    // From the PEM text of an Ed25519 public key; throws std::runtime_error when it is not one.
    static AuditVerifyKey from_pem(std::string_view pem);
    bool verify_hex(std::string_view message, std::string_view signature_hex) const;
    const std::string& key_id() const { return key_id_; }

private:
    explicit AuditVerifyKey(AuditKeyHandle key);
    AuditKeyHandle key_;
    std::string key_id_;
};

}  // namespace sluice

namespace sluice {

struct ChainHead;
enum class CheckpointReason;

// The checkpoint line to seal next (audit_chain.h seal_line), signing the head it follows:
// {"kind":"checkpoint","key":…,"reason":…,"records":…,"sig":…,"ts":…}
std::string checkpoint_line(const ChainHead& head, CheckpointReason reason,
                            uint64_t records_since_last, std::string_view ts,
                            const AuditSigner& signer);

}  // namespace sluice
