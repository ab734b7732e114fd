#include "agent/common/sha256_hex.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>

namespace sluice {

namespace {

std::string hex(const unsigned char* digest, std::size_t n) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out(2 * n, '0');
    for (std::size_t i = 0; i < n; ++i) {
        out[2 * i] = kHex[digest[i] >> 4];
        out[2 * i + 1] = kHex[digest[i] & 0xf];
    }
    return out;
}

}  // namespace

std::string sha256_hex(std::string_view data, std::size_t digest_bytes) {
    // Fetched once: SHA256() looks the algorithm up in OpenSSL 3's provider store on every call,
    // about 0.4 µs, a third of hashing a 1.3 KB recording (docs/benchmarks.md, "Session
    // recording: history").
    static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    unsigned char digest[SHA256_DIGEST_LENGTH];
    if (sha256 == nullptr ||
        EVP_Digest(data.data(), data.size(), digest, nullptr, sha256, nullptr) != 1)
        SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
    return hex(digest, std::min<std::size_t>(digest_bytes, SHA256_DIGEST_LENGTH));
}

struct Sha256Stream::Context {
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestInit_ex(md, EVP_sha256(), nullptr) == 1;
    ~Context() { EVP_MD_CTX_free(md); }
};

Sha256Stream::Sha256Stream() : context_(std::make_unique<Context>()) {}
Sha256Stream::~Sha256Stream() = default;
Sha256Stream::Sha256Stream(Sha256Stream&&) noexcept = default;
Sha256Stream& Sha256Stream::operator=(Sha256Stream&&) noexcept = default;

void Sha256Stream::update(std::string_view piece) {
    if (context_ && context_->ok && !piece.empty())
        context_->ok = EVP_DigestUpdate(context_->md, piece.data(), piece.size()) == 1;
}

std::string Sha256Stream::finish_hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    const bool ok =
        context_ && context_->ok && EVP_DigestFinal_ex(context_->md, digest, &size) == 1;
    context_.reset();
    return ok ? hex(digest, size) : std::string();
}

}  // namespace sluice
