#include "agent/audit/audit_verify.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "agent/audit/audit_chain.h"

namespace sluice {

std::string_view to_string(AuditFault fault) {
    switch (fault) {
        case AuditFault::edited:
            return "edited";
        case AuditFault::deleted:
            return "deleted";
        case AuditFault::reordered:
            return "reordered";
        case AuditFault::missing_file:
            return "missing file";
        case AuditFault::forged_checkpoint:
            return "forged checkpoint";
        case AuditFault::malformed:
            return "malformed";
    }
    return "edited";
}

int AuditVerifyReport::exit_code() const {
    if (problem) return 1;
    if (unsealed_records > 0 || unsealed_partial_bytes > 0) return 3;
    return 0;
}

namespace {

struct LineRef {
    uint32_t file;
    uint64_t number;        // 1-based in its file
    std::string_view text;  // without '\n'
    bool terminated;        // ended with '\n'
    std::optional<ChainLink> link;
};

using HexDigest = std::array<char, kSha256HexChars>;

HexDigest hex_digest(Sha256& sha, std::string_view data) {
    static constexpr char kDigits[] = "0123456789abcdef";
    const auto d = sha.digest(data);
    HexDigest out;
    for (std::size_t i = 0; i < d.size(); ++i) {
        out[2 * i] = kDigits[d[i] >> 4];
        out[2 * i + 1] = kDigits[d[i] & 15];
    }
    return out;
}

bool equals(const HexDigest& digest, std::string_view hex) {
    return hex.size() == digest.size() &&
           std::memcmp(digest.data(), hex.data(), digest.size()) == 0;
}

// The first-line seq of a file decides its place in the sequence; empty files go last.
uint64_t order_key(std::string_view text) {
    if (text.empty()) return std::numeric_limits<uint64_t>::max();
    const std::size_t end = text.find('\n');
    const auto link = read_chain_link(text.substr(0, end));
    return link ? link->seq : std::numeric_limits<uint64_t>::max() - 1;
}

std::vector<LineRef> split_lines(const std::vector<AuditFileText>& files) {
    std::vector<LineRef> lines;
    for (uint32_t f = 0; f < files.size(); ++f) {
        const std::string_view text = files[f].text;
        uint64_t number = 0;
        for (std::size_t at = 0; at < text.size();) {
            const void* found = std::memchr(text.data() + at, '\n', text.size() - at);
            const std::size_t end =
                found ? static_cast<std::size_t>(static_cast<const char*>(found) - text.data())
                      : text.size();
            LineRef line{f, ++number, text.substr(at, end - at), found != nullptr, std::nullopt};
            line.link = read_chain_link(line.text);
            lines.push_back(line);
            at = end + 1;
        }
    }
    return lines;
}

std::string json_string_member(std::string_view line, const char* name) {
    const auto record = nlohmann::json::parse(line, nullptr, false);
    if (!record.is_object() || !record.contains(name) || !record[name].is_string()) return "";
    return record[name].get<std::string>();
}

bool is_rotate_checkpoint(const LineRef& line) {
    return line.text.starts_with(kCheckpointPrefix) &&
           line.text.find(R"("reason":"rotate")") != std::string_view::npos;
}

}  // namespace

AuditVerifyReport verify_audit(std::vector<AuditFileText> files, const AuditVerifyKey* key) {
    std::stable_sort(files.begin(), files.end(),
                     [](const AuditFileText& a, const AuditFileText& b) {
                         return order_key(a.text) < order_key(b.text);
                     });
    AuditVerifyReport report;
    report.files = files.size();
    report.signatures_checked = key != nullptr;
    for (const auto& file : files) report.bytes += file.text.size();
    const std::vector<LineRef> lines = split_lines(files);
    report.lines = lines.size();

    Sha256 sha;
    const auto fail = [&](AuditFault fault, const LineRef& at, std::string detail) {
        report.problem = AuditProblem{
            fault, files[at.file].name, at.number,
            at.link ? std::optional<uint64_t>(at.link->seq) : std::nullopt, std::move(detail)};
        return report;
    };
    bool have_expected = false;
    uint64_t expected_seq = 0;
    HexDigest expected_prev{};
    uint64_t since_checkpoint = 0;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const LineRef& line = lines[i];
        const LineRef* next = i + 1 < lines.size() ? &lines[i + 1] : nullptr;
        if (!line.terminated) {
            if (next != nullptr || line.file + 1 != files.size())
                return fail(AuditFault::edited, line, "a cut line in the middle of the sequence");
            report.unsealed_partial_bytes = line.text.size();  // a writer mid-line, or a crash
            break;
        }
        if (!line.link) {
            // A line a crash cut, then terminated and sealed by the recovery record after it.
            if (next != nullptr && next->text.starts_with(kRecoveryPrefix) &&
                json_string_member(next->text, "partial_sha256") == sha.hex(line.text))
                continue;
            return fail(AuditFault::malformed, line,
                        "no chain members (\"seq\", \"prev\") at the end of the line");
        }
        const ChainLink& link = *line.link;
        if (!have_expected) {
            report.first_seq = link.seq;
        } else if (link.seq == expected_seq) {
            if (!equals(expected_prev, link.prev)) {
                const LineRef& before = lines[i - 1].link ? lines[i - 1] : lines[i - 2];
                return fail(AuditFault::edited, before,
                            "its hash does not match the \"prev\" of the record after it (" +
                                files[line.file].name + ":" + std::to_string(line.number) + ")");
            }
        } else if (next != nullptr && next->link && next->link->seq == expected_seq) {
            return fail(AuditFault::reordered, line,
                        "seq " + std::to_string(link.seq) + " comes before seq " +
                            std::to_string(expected_seq));
        } else if (next != nullptr && next->link && next->link->seq == expected_seq + 1 &&
                   link.seq != expected_seq) {
            return fail(AuditFault::edited, line,
                        "its seq is " + std::to_string(link.seq) + ", expected " +
                            std::to_string(expected_seq));
        } else if (link.seq > expected_seq) {
            const bool file_start = line.number == 1 && i > 0 && lines[i - 1].file != line.file;
            const std::string missing = expected_seq + 1 == link.seq
                                            ? "record seq " + std::to_string(expected_seq) + " is"
                                            : "records seq " + std::to_string(expected_seq) + ".." +
                                                  std::to_string(link.seq - 1) + " are";
            if (file_start && is_rotate_checkpoint(lines[i - 1]))
                return fail(AuditFault::missing_file, line,
                            "a file of the rotation sequence is missing before this one: " +
                                missing + " absent");
            return fail(AuditFault::deleted, line, missing + " missing before this line");
        } else {
            return fail(AuditFault::reordered, line,
                        "seq " + std::to_string(link.seq) + " after seq " +
                            std::to_string(expected_seq - 1));
        }
        if (line.text.starts_with(kCheckpointPrefix)) {
            ++report.checkpoints;
            const auto record = nlohmann::json::parse(line.text, nullptr, false);
            const std::string reason = record.is_object() ? record.value("reason", "") : "";
            const std::string sig = record.is_object() ? record.value("sig", "") : "";
            const std::string ts = record.is_object() ? record.value("ts", "") : "";
            const uint64_t records = record.is_object() && record.contains("records") &&
                                             record["records"].is_number_unsigned()
                                         ? record["records"].get<uint64_t>()
                                         : 0;
            if (key != nullptr &&
                !key->verify_hex(checkpoint_message(link.seq, link.prev, reason, ts, records), sig))
                return fail(AuditFault::forged_checkpoint, line,
                            "its signature does not verify with key " + key->key_id());
            report.last_checkpoint_reason = reason;
            since_checkpoint = 0;
        } else {
            if (line.text.starts_with(kRecoveryPrefix)) {
                const auto record = nlohmann::json::parse(line.text, nullptr, false);
                report.crashes.push_back(AuditCrash{
                    files[line.file].name, line.number, link.seq,
                    record.is_object() ? record.value("partial_line_bytes", uint64_t{0}) : 0});
            }
            ++since_checkpoint;
        }
        expected_prev = hex_digest(sha, line.text);
        expected_seq = link.seq + 1;
        have_expected = true;
        report.last_seq = link.seq;
    }
    report.unsealed_records = since_checkpoint;
    if (!lines.empty() && lines.back().file + 1 == files.size() &&
        is_rotate_checkpoint(lines.back()))
        return fail(AuditFault::missing_file, lines.back(),
                    "the last file ends with a rotation checkpoint: the file after it is missing");
    return report;
}

std::string describe(const AuditVerifyReport& report) {
    std::string out = "audit: " + std::to_string(report.lines) + " lines in " +
                      std::to_string(report.files) + " file(s), " + std::to_string(report.bytes) +
                      " bytes";
    if (report.first_seq)
        out += ", seq " + std::to_string(*report.first_seq) + ".." +
               std::to_string(report.last_seq.value_or(0));
    out += ", " + std::to_string(report.checkpoints) + " checkpoint(s) ";
    out += report.signatures_checked ? "with verified signatures\n"
                                     : "NOT signature-checked (no public key: give --pubkey)\n";
    if (report.first_seq && *report.first_seq > 0)
        out += "note: the chain starts at seq " + std::to_string(*report.first_seq) +
               " (earlier files were removed by retention or not given)\n";
    for (const auto& crash : report.crashes)
        out += "crash: sluiced stopped without sealing the chain; recovered at " + crash.file +
               ":" + std::to_string(crash.line) + " (seq " + std::to_string(crash.seq) + ")" +
               (crash.partial_bytes > 0
                    ? ", a cut line of " + std::to_string(crash.partial_bytes) + " bytes sealed"
                    : "") +
               "\n";
    if (report.problem) {
        const AuditProblem& p = *report.problem;
        out += "BAD " + p.file + ":" + std::to_string(p.line) +
               (p.seq ? " (seq " + std::to_string(*p.seq) + ")" : "") + ": " +
               std::string(to_string(p.fault)) + ": " + p.detail + "\n";
        out += "result: TAMPERED\n";
        return out;
    }
    if (report.unsealed_records > 0 || report.unsealed_partial_bytes > 0) {
        out += "unsealed tail: " + std::to_string(report.unsealed_records) +
               " record(s) after the last checkpoint" +
               (report.unsealed_partial_bytes > 0
                    ? " and a cut last line of " + std::to_string(report.unsealed_partial_bytes) +
                          " bytes"
                    : "") +
               "; no signature covers them (sluiced is running, stopped uncleanly, or the tail was "
               "cut)\n";
        out += "result: intact chain, unsealed tail\n";
        return out;
    }
    out += "result: intact";
    if (!report.last_checkpoint_reason.empty() && report.last_checkpoint_reason != "shutdown")
        out += " (ends at a periodic checkpoint: sluiced is running or stopped uncleanly)";
    out += "\n";
    return out;
}

}  // namespace sluice
