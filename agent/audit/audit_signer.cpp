#include "agent/audit/audit_signer.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "agent/audit/audit_chain.h"

namespace sluice {

void AuditKeyDeleter::operator()(void* key) const { EVP_PKEY_free(static_cast<EVP_PKEY*>(key)); }

namespace {

EVP_PKEY* raw(const AuditKeyHandle& key) { return static_cast<EVP_PKEY*>(key.get()); }

std::string public_pem_of(EVP_PKEY* key) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    if (!bio || PEM_write_bio_PUBKEY(bio.get(), key) != 1)
        throw std::runtime_error("audit: cannot encode the public key");
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(size));
}

std::string key_id_of(EVP_PKEY* key) {
    unsigned char raw_key[32];
    std::size_t size = sizeof raw_key;
    if (EVP_PKEY_get_raw_public_key(key, raw_key, &size) != 1)
        throw std::runtime_error("audit: not an Ed25519 key");
    Sha256 sha;
    return sha.hex(std::string_view(reinterpret_cast<const char*>(raw_key), size)).substr(0, 16);
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("audit: cannot read " + path + ": " + std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

void write_file(const std::string& path, const std::string& text, mode_t mode) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        throw std::runtime_error("audit: cannot create " + path + ": " + std::strerror(errno));
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                    ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) throw std::runtime_error("audit: cannot write " + path);
}

bool from_hex(std::string_view hex, std::vector<unsigned char>& out) {
    if (hex.size() % 2 != 0) return false;
    out.resize(hex.size() / 2);
    for (std::size_t i = 0; i < out.size(); ++i) {
        auto nibble = [](char c) -> int {
            if (c >= '0' && c <= '9') return c - '0';
            if (c >= 'a' && c <= 'f') return c - 'a' + 10;
            return -1;
        };
        const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = static_cast<unsigned char>(hi << 4 | lo);
    }
    return true;
}

}  // namespace

AuditSigner::AuditSigner(AuditKeyHandle key, std::string public_pem)
    : key_(std::move(key)), public_pem_(std::move(public_pem)), key_id_(key_id_of(raw(key_))) {}

AuditSigner AuditSigner::load_or_create(const std::string& state_dir) {
    const std::string key_path = state_dir + "/" + std::string(kAuditSigningKeyFile);
    const std::string pub_path = state_dir + "/" + std::string(kAuditPublicKeyFile);
    std::error_code ec;
    if (!std::filesystem::exists(key_path, ec)) {
        std::filesystem::create_directories(state_dir, ec);
        EVP_PKEY* generated = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
        if (generated == nullptr) throw std::runtime_error("audit: cannot generate an Ed25519 key");
        AuditKeyHandle key(generated);
        std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
        if (!bio || PEM_write_bio_PrivateKey(bio.get(), generated, nullptr, nullptr, 0, nullptr,
                                             nullptr) != 1)
            throw std::runtime_error("audit: cannot encode the signing key");
        char* data = nullptr;
        const long size = BIO_get_mem_data(bio.get(), &data);
        write_file(key_path, std::string(data, static_cast<std::size_t>(size)), 0600);
    }
    struct stat st {};
    if (::stat(key_path.c_str(), &st) == 0 && (st.st_mode & 077) != 0)
        throw std::runtime_error("audit: " + key_path + " is readable by others (chmod 600 it)");
    const std::string pem = read_file(key_path);
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(
        BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
    AuditKeyHandle key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    if (!key || EVP_PKEY_get_base_id(raw(key)) != EVP_PKEY_ED25519)
        throw std::runtime_error("audit: " + key_path + " is not an Ed25519 private key");
    std::string public_pem = public_pem_of(raw(key));
    if (!std::filesystem::exists(pub_path, ec)) write_file(pub_path, public_pem, 0644);
    return AuditSigner(std::move(key), std::move(public_pem));
}

std::string AuditSigner::sign_hex(std::string_view message) const {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    unsigned char signature[64];
    std::size_t size = sizeof signature;
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, raw(key_)) != 1 ||
        EVP_DigestSign(ctx.get(), signature, &size,
                       reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1)
        throw std::runtime_error("audit: Ed25519 signing failed");
    return to_hex(signature, size);
}

AuditVerifyKey::AuditVerifyKey(AuditKeyHandle key)
    : key_(std::move(key)), key_id_(key_id_of(raw(key_))) {}

AuditVerifyKey AuditVerifyKey::from_pem(std::string_view pem) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(
        BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
    AuditKeyHandle key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
    if (!key || EVP_PKEY_get_base_id(raw(key)) != EVP_PKEY_ED25519)
        throw std::runtime_error("not an Ed25519 public key (PEM)");
    return AuditVerifyKey(std::move(key));
}

bool AuditVerifyKey::verify_hex(std::string_view message, std::string_view signature_hex) const {
    std::vector<unsigned char> signature;
    if (!from_hex(signature_hex, signature)) return false;
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, raw(key_)) == 1 &&
           EVP_DigestVerify(ctx.get(), signature.data(), signature.size(),
                            reinterpret_cast<const unsigned char*>(message.data()),
                            message.size()) == 1;
}

}  // namespace sluice

namespace sluice {

std::string checkpoint_line(const ChainHead& head, CheckpointReason reason,
                            uint64_t records_since_last, std::string_view ts,
                            const AuditSigner& signer) {
    const std::string_view reason_text = to_string(reason);
    std::string line(kCheckpointPrefix);
    line += R"(,"key":")" + signer.key_id() + R"(","reason":")";
    line += reason_text;
    line += R"(","records":)" + std::to_string(records_since_last) + R"(,"sig":")";
    line += signer.sign_hex(
        checkpoint_message(head.next_seq, head.prev, reason_text, ts, records_since_last));
    line += R"(","ts":")";
    line += ts;
    line += "\"}\n";
    return line;
}

}  // namespace sluice
