#include "agent/audit/audit_chain.h"

#include <openssl/evp.h>

#include <charconv>
#include <stdexcept>

namespace sluice {

struct Sha256::Impl {
    EVP_MD* md = nullptr;
    EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
    impl_->md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    impl_->ctx = EVP_MD_CTX_new();
    if (impl_->md == nullptr || impl_->ctx == nullptr)
        throw std::runtime_error("audit: OpenSSL has no SHA-256");
}

Sha256::~Sha256() {
    EVP_MD_CTX_free(impl_->ctx);
    EVP_MD_free(impl_->md);
}

std::array<unsigned char, kSha256Bytes> Sha256::digest(std::string_view data) {
    std::array<unsigned char, kSha256Bytes> out{};
    unsigned int size = 0;
    // Failure here is a broken OpenSSL, not input: there is nothing to fall back to.
    if (EVP_DigestInit_ex2(impl_->ctx, impl_->md, nullptr) != 1 ||
        EVP_DigestUpdate(impl_->ctx, data.data(), data.size()) != 1 ||
        EVP_DigestFinal_ex(impl_->ctx, out.data(), &size) != 1)
        throw std::runtime_error("audit: SHA-256 failed");
    return out;
}

std::string Sha256::hex(std::string_view data) {
    const auto d = digest(data);
    return to_hex(d.data(), d.size());
}

std::string to_hex(const unsigned char* data, std::size_t size) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out(size * 2, '0');
    for (std::size_t i = 0; i < size; ++i) {
        out[2 * i] = kDigits[data[i] >> 4];
        out[2 * i + 1] = kDigits[data[i] & 15];
    }
    return out;
}

namespace {

bool is_lower_hex(std::string_view text) {
    for (char c : text)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

std::string_view without_newline(std::string_view line) {
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    return line;
}

}  // namespace

std::optional<ChainLink> read_chain_link(std::string_view line) {
    line = without_newline(line);
    // ,"seq":N,"prev":"<64 hex>"}
    constexpr std::string_view kPrev = R"(,"prev":")";
    constexpr std::string_view kSeq = R"("seq":)";  // after "," or, alone, after "{"
    constexpr std::size_t kTail = kPrev.size() + kSha256HexChars + 2;  // + `"}`
    if (line.size() < kTail + kSeq.size() + 1 || line.substr(line.size() - 2) != "\"}")
        return std::nullopt;
    const std::size_t prev_at = line.size() - kTail;
    if (line.substr(prev_at, kPrev.size()) != kPrev) return std::nullopt;
    const std::string_view prev = line.substr(prev_at + kPrev.size(), kSha256HexChars);
    if (!is_lower_hex(prev)) return std::nullopt;
    std::size_t digits_at = prev_at;
    while (digits_at > 0 && line[digits_at - 1] >= '0' && line[digits_at - 1] <= '9') --digits_at;
    if (digits_at == prev_at || prev_at - digits_at > 20 || digits_at < kSeq.size() + 1 ||
        line.substr(digits_at - kSeq.size(), kSeq.size()) != kSeq ||
        (line[digits_at - kSeq.size() - 1] != ',' && line[digits_at - kSeq.size() - 1] != '{'))
        return std::nullopt;
    ChainLink link;
    const auto [end, ec] =
        std::from_chars(line.data() + digits_at, line.data() + prev_at, link.seq);
    if (ec != std::errc{} || end != line.data() + prev_at) return std::nullopt;
    link.prev = prev;
    return link;
}

void seal_line(std::string& line, ChainHead& head, Sha256& sha) {
    const bool newline = !line.empty() && line.back() == '\n';
    if (newline) line.pop_back();
    if (!line.empty() && line.back() == '}') line.pop_back();
    // An empty object gets no leading comma.
    if (line.size() > 1 || (line.size() == 1 && line[0] != '{')) line.push_back(',');
    line += R"("seq":)";
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, head.next_seq).ptr;
    line.append(digits, end);
    line += R"(,"prev":")";
    line += head.prev;
    line += "\"}";
    head.prev = sha.hex(line);
    ++head.next_seq;
    if (newline) line.push_back('\n');
}

std::string_view to_string(CheckpointReason reason) {
    switch (reason) {
        case CheckpointReason::records:
            return "records";
        case CheckpointReason::interval:
            return "interval";
        case CheckpointReason::rotate:
            return "rotate";
        case CheckpointReason::shutdown:
            return "shutdown";
        case CheckpointReason::recovery:
            return "recovery";
    }
    return "records";
}

std::string checkpoint_message(uint64_t seq, std::string_view prev, std::string_view reason,
                               std::string_view ts, uint64_t records) {
    std::string message = "sluice-audit-checkpoint/1 seq=";
    message += std::to_string(seq);
    message += " prev=";
    message += prev;
    message += " reason=";
    message += reason;
    message += " ts=";
    message += ts;
    message += " records=";
    message += std::to_string(records);
    return message;
}

ChainTail read_chain_tail(std::string_view text, Sha256& sha) {
    ChainTail tail;
    const std::size_t last_newline = text.rfind('\n');
    const std::size_t partial_from = last_newline == std::string_view::npos ? 0 : last_newline + 1;
    tail.partial_bytes = text.size() - partial_from;
    if (tail.partial_bytes > 0) tail.partial_sha256 = sha.hex(text.substr(partial_from));
    if (last_newline == std::string_view::npos) return tail;
    const std::size_t line_from = text.rfind('\n', last_newline == 0 ? 0 : last_newline - 1);
    const std::size_t begin =
        (line_from == std::string_view::npos || line_from >= last_newline) ? 0 : line_from + 1;
    const std::string_view line = text.substr(begin, last_newline - begin);
    if (line.empty()) return tail;
    tail.head.prev = sha.hex(line);
    const auto link = read_chain_link(line);
    if (!link) return tail;
    tail.chained = true;
    tail.head.next_seq = link->seq + 1;
    tail.clean_stop = tail.partial_bytes == 0 && line.starts_with(kCheckpointPrefix) &&
                      (line.find(R"("reason":"shutdown")") != std::string_view::npos ||
                       line.find(R"("reason":"rotate")") != std::string_view::npos);
    return tail;
}

}  // namespace sluice
