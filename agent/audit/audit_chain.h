// The audit's hash chain (docs/audit.md). Every line ends with two members the writer thread
// adds: `"seq":N` (one more than the line before, across rotations) and `"prev":"<hex>"`, the
// SHA-256 of the previous line's bytes (without its newline). Editing, deleting or reordering
// a line breaks the link after it; a signed checkpoint line (audit_signer.h) fixes the chain head
// so a rewritten chain needs the signing key. Pure: no files, no clocks.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace sluice {

inline constexpr std::size_t kSha256Bytes = 32;
inline constexpr std::size_t kSha256HexChars = 64;
// The "prev" of the first line of a new chain.
inline constexpr std::string_view kChainGenesis =
    "0000000000000000000000000000000000000000000000000000000000000000";

// Record kinds the chain itself writes; they start with `{"kind":"<kind>"` so a reader finds
// them without parsing every line.
inline constexpr std::string_view kCheckpointPrefix = R"({"kind":"checkpoint")";
inline constexpr std::string_view kRecoveryPrefix = R"({"kind":"audit_recovery")";

// SHA-256 with one OpenSSL context kept for reuse (a fetch per line would cost more than the
// hash of a short line). One per thread.
class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    std::array<unsigned char, kSha256Bytes> digest(std::string_view data);
    std::string hex(std::string_view data);  // lower-case hex of digest(data)

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

std::string to_hex(const unsigned char* data, std::size_t size);

struct ChainHead {
    uint64_t next_seq = 0;
    std::string prev = std::string(kChainGenesis);  // hash of the last line written
};

// The chain members of one line, read from its end without parsing the JSON.
struct ChainLink {
    uint64_t seq = 0;
    std::string_view prev;  // 64 hex digits, a view into the line
};

// `line` is one JSON object, with or without its '\n'. nullopt when it does not end with
// `,"seq":N,"prev":"<64 hex>"}`.
std::optional<ChainLink> read_chain_link(std::string_view line);

// Appends the chain members to `line` (one JSON object, ending "}\n" or "}") and advances
// `head` past it.
void seal_line(std::string& line, ChainHead& head, Sha256& sha);

// Why a checkpoint was written; "shutdown" marks a clean stop, "rotate" the end of a file.
enum class CheckpointReason { records, interval, rotate, shutdown, recovery };
std::string_view to_string(CheckpointReason reason);

// What a checkpoint signs: the position and hash of the chain head it follows, and its own
// members (so none of the checkpoint line can be edited either).
std::string checkpoint_message(uint64_t seq, std::string_view prev, std::string_view reason,
                               std::string_view ts, uint64_t records);

// Reading the end of an existing audit file at start: where the chain stands and whether the
// last writer stopped cleanly.
struct ChainTail {
    bool chained = false;           // the last complete line carries chain members
    bool clean_stop = false;        // ... and is a shutdown or rotate checkpoint
    ChainHead head;                 // continue from here
    std::size_t partial_bytes = 0;  // bytes after the last '\n' (a line cut by a crash)
    std::string partial_sha256;     // their hash, when partial_bytes > 0
};
// `text` is the end of the file (it may start mid-line when it is not the whole file).
ChainTail read_chain_tail(std::string_view text, Sha256& sha);

}  // namespace sluice
