// The chain and `audit verify`: logs are generated (records, checkpoints, rotations), then
// each kind of tampering is applied at every line position and must be named where it is.
#include "agent/audit/audit_verify.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "agent/audit/audit_chain.h"
#include "agent/audit/audit_signer.h"

namespace sluice {
namespace {

std::string temp_dir() {
    char pattern[] = "/tmp/sluice-audit-verify.XXXXXX";
    return mkdtemp(pattern);
}

struct Keys {
    std::string dir = temp_dir();
    AuditSigner signer = AuditSigner::load_or_create(dir);
    AuditVerifyKey key = AuditVerifyKey::from_pem(signer.public_key_pem());
    ~Keys() { std::filesystem::remove_all(dir); }
};

const Keys& keys() {
    static Keys k;
    return k;
}
const Keys& other_keys() {
    static Keys k;
    return k;
}

// A log as the writer would leave it: `records` request lines, a checkpoint every
// `checkpoint_every`, a new file (after a rotate checkpoint) every `file_lines` lines, and a
// shutdown checkpoint at the end when `sealed`.
struct GeneratedLog {
    std::vector<std::vector<std::string>> files;  // lines, each with its '\n'
    std::vector<AuditFileText> texts() const;
    std::vector<std::string> joined;
};

std::vector<AuditFileText> GeneratedLog::texts() const {
    std::vector<AuditFileText> out;
    for (std::size_t f = 0; f < joined.size(); ++f)
        out.push_back({"audit.jsonl." + std::to_string(f + 1), joined[f]});
    return out;
}

void join(GeneratedLog& log) {
    log.joined.clear();
    for (const auto& lines : log.files) {
        std::string text;
        for (const auto& line : lines) text += line;
        log.joined.push_back(std::move(text));
    }
}

GeneratedLog generate(int records, int checkpoint_every, int file_lines, bool sealed,
                      uint64_t seed = 1) {
    GeneratedLog log;
    log.files.emplace_back();
    ChainHead head;
    Sha256 sha;
    std::mt19937_64 random(seed);
    uint64_t since = 0;
    const auto add = [&](std::string line) {
        seal_line(line, head, sha);
        log.files.back().push_back(std::move(line));
    };
    const auto checkpoint = [&](CheckpointReason reason) {
        add(checkpoint_line(head, reason, since, "2026-12-07T10:00:00.000000Z", keys().signer));
        since = 0;
    };
    for (int i = 0; i < records; ++i) {
        add(R"({"decision":{"action":"allow"},"id":"r)" + std::to_string(i) +
            R"(","kind":"request","request":{"model":"gpt-)" + std::to_string(random() % 1000) +
            R"("}})" + "\n");
        ++since;
        if (since >= static_cast<uint64_t>(checkpoint_every)) checkpoint(CheckpointReason::records);
        if (static_cast<int>(log.files.back().size()) >= file_lines && i + 1 < records) {
            checkpoint(CheckpointReason::rotate);
            log.files.emplace_back();
        }
    }
    if (sealed) checkpoint(CheckpointReason::shutdown);
    join(log);
    return log;
}

AuditVerifyReport verify(const GeneratedLog& log, const AuditVerifyKey* key = &keys().key) {
    return verify_audit(log.texts(), key);
}

TEST(AuditChain, SealedLineCarriesSeqAndPrevThatReadBack) {
    ChainHead head;
    Sha256 sha;
    std::string first = "{\"a\":1}\n", second = "{}\n";
    seal_line(first, head, sha);
    seal_line(second, head, sha);
    EXPECT_EQ(first, R"({"a":1,"seq":0,"prev":")" + std::string(kChainGenesis) + "\"}\n");
    const auto link = read_chain_link(second);
    ASSERT_TRUE(link);
    EXPECT_EQ(link->seq, 1u);
    EXPECT_EQ(link->prev, sha.hex(first.substr(0, first.size() - 1)));
    EXPECT_EQ(second.substr(0, 8), R"({"seq":1)");
    EXPECT_FALSE(read_chain_link(R"({"seq":1,"prev":"abc"})"));
    EXPECT_FALSE(read_chain_link(R"({"seq":x,"prev":")" + std::string(kChainGenesis) + "\"}"));
}

TEST(AuditVerify, AnUntouchedSealedLogIsIntact) {
    for (int files : {1, 3}) {
        const GeneratedLog log = generate(200, 17, files == 1 ? 100000 : 80, true);
        const AuditVerifyReport report = verify(log);
        EXPECT_FALSE(report.problem) << describe(report);
        EXPECT_EQ(report.exit_code(), 0) << describe(report);
        EXPECT_EQ(report.files, log.files.size());
        EXPECT_TRUE(report.signatures_checked);
        EXPECT_NE(describe(report).find("result: intact"), std::string::npos);
    }
}

TEST(AuditVerify, FilesAreOrderedByTheirChainNotByTheirNames) {
    GeneratedLog log = generate(300, 20, 70, true);
    std::vector<AuditFileText> texts = log.texts();
    std::reverse(texts.begin(), texts.end());
    EXPECT_EQ(verify_audit(texts, &keys().key).exit_code(), 0);
}

// Every line position, every file layout: an edited byte names that line.
TEST(AuditVerify, AnEditedFieldIsNamedAtEveryPosition) {
    const GeneratedLog original = generate(120, 13, 50, true);
    for (std::size_t f = 0; f < original.files.size(); ++f) {
        for (std::size_t l = 0; l < original.files[f].size(); ++l) {
            GeneratedLog log = original;
            std::string& line = log.files[f][l];
            // Change one character of a value near the start (the id or the signature).
            const std::size_t at =
                line.find(line.starts_with(kCheckpointPrefix) ? "\"sig\":\"" : "\"id\":\"r") + 8;
            line[at] = line[at] == '0' ? '1' : '0';
            join(log);
            const AuditVerifyReport report = verify(log);
            ASSERT_TRUE(report.problem) << "file " << f << " line " << l + 1;
            EXPECT_EQ(report.problem->file, "audit.jsonl." + std::to_string(f + 1));
            EXPECT_EQ(report.problem->line, l + 1) << describe(report);
            const bool checkpoint = line.starts_with(kCheckpointPrefix);
            EXPECT_EQ(report.problem->fault,
                      checkpoint ? AuditFault::forged_checkpoint : AuditFault::edited)
                << describe(report);
            EXPECT_EQ(report.exit_code(), 1);
        }
    }
}

TEST(AuditVerify, AnEditedSeqIsNamedAsAnEdit) {
    for (std::size_t l = 1; l < 40; l += 3) {
        GeneratedLog log = generate(50, 1000, 1000, true);
        std::string& line = log.files[0][l];
        const std::size_t at = line.find("\"seq\":") + 6;
        line.insert(at, "9");
        join(log);
        const AuditVerifyReport report = verify(log);
        ASSERT_TRUE(report.problem);
        EXPECT_EQ(report.problem->line, l + 1);
        EXPECT_EQ(report.problem->fault, AuditFault::edited) << describe(report);
    }
}

TEST(AuditVerify, ADeletedLineIsNamedAtEveryPosition) {
    const GeneratedLog original = generate(120, 13, 50, true);
    for (std::size_t f = 0; f < original.files.size(); ++f) {
        for (std::size_t l = 0; l < original.files[f].size(); ++l) {
            const bool very_first = f == 0 && l == 0;
            const bool very_last =
                f + 1 == original.files.size() && l + 1 == original.files[f].size();
            if (very_first || very_last)
                continue;  // tested apart: a chain's start, an unsealed tail
            for (int count : {1, 3}) {
                GeneratedLog log = original;
                auto& lines = log.files[f];
                const std::size_t n = std::min<std::size_t>(
                    count, lines.size() - l - (f + 1 == log.files.size() ? 1 : 0));
                if (n == 0) continue;
                lines.erase(lines.begin() + static_cast<long>(l),
                            lines.begin() + static_cast<long>(l + n));
                join(log);
                const AuditVerifyReport report = verify(log);
                ASSERT_TRUE(report.problem) << "file " << f << " line " << l + 1;
                if (l < lines.size()) {
                    EXPECT_EQ(report.problem->file, "audit.jsonl." + std::to_string(f + 1));
                    EXPECT_EQ(report.problem->line, l + 1) << describe(report);
                    if (l > 0) {
                        EXPECT_EQ(report.problem->fault, AuditFault::deleted) << describe(report);
                    }
                } else {  // the file's last lines: named at the first line of the next file
                    EXPECT_EQ(report.problem->file, "audit.jsonl." + std::to_string(f + 2));
                    EXPECT_EQ(report.problem->line, 1u) << describe(report);
                    EXPECT_EQ(report.problem->fault, AuditFault::deleted) << describe(report);
                }
            }
        }
    }
}

TEST(AuditVerify, AReorderedPairIsNamedAtEveryPosition) {
    const GeneratedLog original = generate(120, 13, 50, true);
    for (std::size_t f = 0; f < original.files.size(); ++f) {
        for (std::size_t l = 0; l + 1 < original.files[f].size(); ++l) {
            GeneratedLog log = original;
            std::swap(log.files[f][l], log.files[f][l + 1]);
            join(log);
            const AuditVerifyReport report = verify(log);
            ASSERT_TRUE(report.problem) << "file " << f << " line " << l + 1;
            // The first file's first line anchors the chain: a swap there shows one line later.
            const std::size_t named = (f == 0 && l == 0) ? 2 : l + 1;
            EXPECT_EQ(report.problem->file, "audit.jsonl." + std::to_string(f + 1));
            EXPECT_EQ(report.problem->line, named) << describe(report);
            if (!(f == 0 && l == 0)) {
                EXPECT_EQ(report.problem->fault, AuditFault::reordered) << describe(report);
            }
        }
    }
}

TEST(AuditVerify, ATruncatedTailIsAnUnsealedTailNotTampering) {
    // A log that was running (no shutdown checkpoint), cut at every byte after its last checkpoint.
    const GeneratedLog original = generate(60, 25, 1000, false);
    const std::string& text = original.joined[0];
    const std::size_t last_checkpoint = text.rfind(kCheckpointPrefix);
    const std::size_t sealed_end = text.find('\n', last_checkpoint) + 1;
    for (std::size_t cut = sealed_end + 1; cut <= text.size(); cut += 7) {
        const AuditVerifyReport report =
            verify_audit({{"audit.jsonl", std::string_view(text).substr(0, cut)}}, &keys().key);
        EXPECT_FALSE(report.problem) << cut << "\n" << describe(report);
        EXPECT_EQ(report.exit_code(), 3) << describe(report);
        EXPECT_NE(describe(report).find("unsealed tail"), std::string::npos);
    }
    // Cut right after the checkpoint: intact, and the report says it is not a shutdown.
    const AuditVerifyReport at_checkpoint =
        verify_audit({{"audit.jsonl", std::string_view(text).substr(0, sealed_end)}}, &keys().key);
    EXPECT_EQ(at_checkpoint.exit_code(), 0);
    EXPECT_NE(describe(at_checkpoint).find("periodic checkpoint"), std::string::npos);
}

TEST(AuditVerify, AMissingFileOfTheRotationIsNamed) {
    const GeneratedLog original = generate(300, 11, 40, true);
    ASSERT_GE(original.files.size(), 5u);
    for (std::size_t missing = 1; missing < original.files.size(); ++missing) {
        std::vector<AuditFileText> texts = original.texts();
        texts.erase(texts.begin() + static_cast<long>(missing));
        const AuditVerifyReport report = verify_audit(texts, &keys().key);
        ASSERT_TRUE(report.problem) << missing;
        EXPECT_EQ(report.problem->fault, AuditFault::missing_file) << describe(report);
        if (missing + 1 < original.files.size()) {
            EXPECT_EQ(report.problem->file, "audit.jsonl." + std::to_string(missing + 2));
            EXPECT_EQ(report.problem->line, 1u);
        }
    }
    // The oldest files gone (retention): the chain starts later, and that is said.
    std::vector<AuditFileText> texts = original.texts();
    texts.erase(texts.begin(), texts.begin() + 2);
    const AuditVerifyReport report = verify_audit(texts, &keys().key);
    EXPECT_EQ(report.exit_code(), 0) << describe(report);
    EXPECT_NE(describe(report).find("chain starts at seq"), std::string::npos);
}

// A forger who rewrites a record and recomputes the chain from there must sign checkpoints
// with a key that is not the host's.
TEST(AuditVerify, AForgedCheckpointIsNamed) {
    const GeneratedLog original = generate(100, 10, 1000, true);
    for (std::size_t l = 0; l + 1 < original.files[0].size(); l += 5) {
        GeneratedLog log = original;
        auto& lines = log.files[0];
        ChainHead head;
        Sha256 sha;
        std::size_t first_checkpoint_after = 0;
        for (std::size_t i = 0; i < lines.size(); ++i) {
            std::string line = lines[i];
            if (line.starts_with(kCheckpointPrefix)) {
                line = checkpoint_line(head, CheckpointReason::records, 10,
                                       "2026-12-07T10:00:00.000000Z", other_keys().signer);
                if (i >= l && first_checkpoint_after == 0) first_checkpoint_after = i + 1;
            } else {
                line.erase(line.find(",\"seq\":"));
                line += "}\n";
                if (i == l) line.replace(line.find("\"allow\""), 7, "\"deny\"");
            }
            seal_line(line, head, sha);
            lines[i] = line;
        }
        join(log);
        const AuditVerifyReport report = verify(log);
        ASSERT_TRUE(report.problem) << l;
        EXPECT_EQ(report.problem->fault, AuditFault::forged_checkpoint);
        EXPECT_LE(report.problem->line, first_checkpoint_after) << describe(report);
        // Without the public key the chain itself is consistent: said, not hidden.
        const AuditVerifyReport unchecked = verify(log, nullptr);
        EXPECT_FALSE(unchecked.problem);
        EXPECT_NE(describe(unchecked).find("NOT signature-checked"), std::string::npos);
    }
}

TEST(AuditVerify, ACutLineSealedByARecoveryRecordPassesAndIsReportedAsACrash) {
    GeneratedLog log = generate(30, 7, 1000, false);
    ChainHead head;
    Sha256 sha;
    // Rebuild the head from the last line, as the writer does at start.
    head = read_chain_tail(log.joined[0], sha).head;
    const std::string cut = R"({"decision":{"action":"al)";
    std::string recovery = R"({"kind":"audit_recovery","partial_line_bytes":)" +
                           std::to_string(cut.size()) + R"(,"partial_sha256":")" + sha.hex(cut) +
                           R"(","reason":"unclean_stop"})" + "\n";
    seal_line(recovery, head, sha);
    std::string tail_record = R"({"id":"after"})"
                              "\n";
    seal_line(tail_record, head, sha);
    std::string shutdown = checkpoint_line(head, CheckpointReason::shutdown, 2,
                                           "2026-12-07T10:00:01.000000Z", keys().signer);
    seal_line(shutdown, head, sha);
    const std::string text = log.joined[0] + cut + "\n" + recovery + tail_record + shutdown;
    const AuditVerifyReport report = verify_audit({{"audit.jsonl", text}}, &keys().key);
    EXPECT_EQ(report.exit_code(), 0) << describe(report);
    ASSERT_EQ(report.crashes.size(), 1u);
    EXPECT_EQ(report.crashes[0].partial_bytes, cut.size());
    EXPECT_NE(describe(report).find("crash:"), std::string::npos);
    // A cut line that no recovery record names is an edit.
    const std::string unexplained = log.joined[0] + cut + "\n" + tail_record;
    const AuditVerifyReport bad = verify_audit({{"audit.jsonl", unexplained}}, &keys().key);
    ASSERT_TRUE(bad.problem);
    EXPECT_EQ(bad.problem->fault, AuditFault::malformed);
}

TEST(AuditSigner, KeyIsCreatedOnce0600AndSignaturesVerify) {
    const std::string dir = temp_dir();
    const AuditSigner first = AuditSigner::load_or_create(dir);
    const AuditSigner again = AuditSigner::load_or_create(dir);
    EXPECT_EQ(first.key_id(), again.key_id());
    EXPECT_EQ(std::filesystem::status(dir + "/audit-signing.key").permissions() &
                  std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    const AuditVerifyKey key = AuditVerifyKey::from_pem(first.public_key_pem());
    const std::string signature = first.sign_hex("message");
    EXPECT_TRUE(key.verify_hex("message", signature));
    EXPECT_FALSE(key.verify_hex("messagE", signature));
    EXPECT_FALSE(key.verify_hex("message", "zz"));
    EXPECT_THROW(AuditVerifyKey::from_pem("not a key"), std::runtime_error);
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice
