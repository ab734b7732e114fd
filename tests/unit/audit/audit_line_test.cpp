// The audit line is written as text without a JSON tree; these check it against what
// nlohmann writes for the same values, so the file's contents did not change.
#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/audit/audit_record.h"
#include "agent/common/time_format.h"
#include "policy/json_append.h"

namespace sluice {
namespace {

std::string nlohmann_text(const std::string& value) {
    return nlohmann::json(value).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string appended(std::string_view value) {
    std::string out;
    append_json_string(out, value);
    return out;
}

TEST(JsonAppend, EscapesLikeNlohmann) {
    for (const std::string& value :
         {std::string(""), std::string("plain /v1/chat/completions"),
          std::string("quote \" and \\ back"), std::string("\b\f\n\r\t"),
          std::string("\x01\x1f\x7f", 3), std::string("nul \0 inside", 12),
          std::string("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80")})
        EXPECT_EQ(appended(value), nlohmann_text(value)) << value;
}

TEST(JsonAppend, ReplacesInvalidUtf8LikeNlohmann) {
    for (const std::string& value :
         {std::string("\xC3"), std::string("a\xC3(b"), std::string("\xC0\xAF"),
          std::string("\xED\xA0\x80"), std::string("\xF4\x90\x80\x80"), std::string("\xE2\x82"),
          std::string("\xF0\x9F\x98"), std::string("\xFF\xFE"), std::string("\x80\x80x"),
          std::string("\xE0\x80\xAF"), std::string("\xF0\x8F\xBF\xBF")})
        EXPECT_EQ(appended(value), nlohmann_text(value))
            << nlohmann::json(value).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
}

TEST(JsonAppend, MatchesNlohmannOnRandomBytes) {
    std::mt19937 random(42);
    // Bytes drawn mostly from the interesting ranges: ASCII, controls, lead and continuation bytes.
    const std::string alphabet =
        std::string("a\"\\\n\x01\x7f", 6) +
        "\xC2\xC3\xDF\xE0\xE2\xED\xEF\xF0\xF4\xF5\xFF\x80\x8F\x90\x9F\xA0\xBF";
    for (int round = 0; round < 20000; ++round) {
        std::string value(random() % 9, ' ');
        for (char& c : value) c = alphabet[random() % alphabet.size()];
        ASSERT_EQ(appended(value), nlohmann_text(value)) << round;
    }
}

// Plain runs are skipped 16 bytes at a time: a byte that needs attention must stop the skip
// wherever it sits in a block, including the last byte and the first of the next block.
TEST(JsonAppend, EveryByteNeedingAttentionAtEveryOffsetAroundBlocks) {
    const std::vector<std::string> specials = {"\"",   "\\",   "\n",       std::string("\x00", 1),
                                               "\x1f", "\x7f", "\xC3\xA9", "\xE2\x82\xAC",
                                               "\xFF", "\x80"};
    for (std::size_t length = 1; length <= 48; ++length) {
        for (std::size_t at = 0; at < length; ++at) {
            for (const auto& special : specials) {
                std::string value(length, 'x');
                value.replace(at, 1, special);
                ASSERT_EQ(appended(value), nlohmann_text(value)) << length << " " << at;
            }
        }
    }
}

TEST(JsonAppend, DoublesReadBackTheSameAndStayFloatingPoint) {
    for (const double value : {0.0, 1.0, 3.25, 0.123456789, 1e-7, 12345678.5, 1e21}) {
        std::string out;
        append_json_double(out, value);
        const auto parsed = nlohmann::json::parse(out);
        EXPECT_TRUE(parsed.is_number_float()) << out;
        EXPECT_EQ(parsed.get<double>(), value) << out;
    }
    std::string out;
    append_json_double(out, std::numeric_limits<double>::quiet_NaN());
    EXPECT_EQ(out, "null");
}

AuditRecord full_record() {
    AuditRecord record;
    record.id = "0123456789abcdef-7";
    record.started =
        std::chrono::system_clock::time_point(std::chrono::microseconds(1'795'000'000'123'456));
    record.identity = R"({"comm":"python3","uid":1000,"user":"alice"})";
    record.sni = "api.openai.com";
    record.original_destination = "127.10.0.1:443";
    record.method = "POST";
    record.path = "/v1/chat/completions?x=\"1\"";
    record.model = "gpt-4o";
    record.stream = true;
    record.request_bytes = 901;
    record.client_key_fingerprint = "sha256:abcd";
    record.status = 429;
    record.upstream_status = 200;
    record.usage = UsageObject{R"({"prompt_tokens":3,"total_tokens":9})"};
    record.response_bytes = 1234;
    record.upstream_connection_reused = true;
    record.action = "deny";
    record.rule = "team-a";
    record.reason = "rate limit";
    record.code = "rate_limited";
    record.skipped_controls = {"budget", "rate"};
    record.error = "line\nbreak";
    record.masking = nlohmann::json{{"request", {{"EMAIL", 2}}}};
    record.latency_ms = 1.5;
    record.upstream_ttfb_ms = 0.25;
    return record;
}

// What to_json() produced when the record was built as an nlohmann tree.
nlohmann::json tree_of(const AuditRecord& r) {
    nlohmann::json request = {{"method", r.method},
                              {"path", r.path},
                              {"model", r.model},
                              {"stream", r.stream},
                              {"bytes", r.request_bytes}};
    if (!r.client_key_fingerprint.empty()) request["client_key"] = r.client_key_fingerprint;
    nlohmann::json decision = {{"action", r.action}, {"rule", r.rule}, {"reason", r.reason}};
    if (!r.code.empty()) decision["code"] = r.code;
    if (!r.skipped_controls.empty()) decision["skipped_controls"] = r.skipped_controls;
    nlohmann::json identity = nlohmann::json::parse(r.identity);
    if (r.oidc) identity["oidc"] = *r.oidc;
    nlohmann::json out = {{"ts", "2026-11-18T11:06:40.123456Z"},
                          {"id", r.id},
                          {"kind", r.kind},
                          {"identity", identity},
                          {"connection",
                           {{"sni", r.sni},
                            {"original_destination", r.original_destination},
                            {"upstream_reused", r.upstream_connection_reused}}},
                          {"request", request},
                          {"response",
                           {{"status", r.status},
                            {"upstream_status", r.upstream_status},
                            {"usage", r.usage ? r.usage->parsed() : nlohmann::json()},
                            {"bytes", r.response_bytes}}},
                          {"decision", decision},
                          {"latency_ms", r.latency_ms}};
    if (r.upstream_ttfb_ms > 0) out["upstream_ttfb_ms"] = r.upstream_ttfb_ms;
    if (!r.error.empty()) out["error"] = r.error;
    if (r.masking && !r.masking->empty()) out["masking"] = *r.masking;
    return out;
}

TEST(AuditLine, IsTheSameTextNlohmannWrote) {
    const AuditRecord record = full_record();
    const std::string line = record.to_line();
    ASSERT_EQ(line.back(), '\n');
    EXPECT_EQ(line, tree_of(record).dump() + "\n");
}

TEST(AuditLine, OptionalMembersAreLeftOutWhenEmpty) {
    AuditRecord record;
    record.id = "x";
    record.started = full_record().started;
    const std::string line = record.to_line();
    EXPECT_EQ(line, tree_of(record).dump() + "\n");
    const auto json = nlohmann::json::parse(line);
    EXPECT_TRUE(json["response"]["usage"].is_null());
    for (const char* key : {"error", "masking", "upstream_ttfb_ms"})
        EXPECT_FALSE(json.contains(key)) << key;
    EXPECT_FALSE(json["decision"].contains("code"));
    EXPECT_FALSE(json["request"].contains("client_key"));
}

TEST(AuditLine, RecordingNamesItsHashOrWhyItWasNotStored) {
    AuditRecord record = full_record();
    const std::string sha(64, 'a');
    record.recording =
        RecordingReference{.error = "", .mode = "full", .session = "conn-1", .sha256 = sha};
    nlohmann::json tree = tree_of(record);
    tree["recording"] = {{"mode", "full"}, {"session", "conn-1"}, {"sha256", sha}};
    EXPECT_EQ(record.to_line(), tree.dump() + "\n");

    record.recording =
        RecordingReference{.error = "disk \"full\"", .mode = "", .session = "run-x", .sha256 = ""};
    tree["recording"] = {{"error", "disk \"full\""}, {"session", "run-x"}};
    EXPECT_EQ(record.to_line(), tree.dump() + "\n");

    record.recording = RecordingReference{
        .error = "recorder queue full: not recorded", .mode = "", .session = "", .sha256 = ""};
    tree["recording"] = {{"error", "recorder queue full: not recorded"}};
    EXPECT_EQ(record.to_line(), tree.dump() + "\n");
}

TEST(AuditLine, OidcJoinsTheIdentityObject) {
    AuditRecord record = full_record();
    record.oidc = nlohmann::json{{"outcome", "ok"}, {"subject", "ada"}};
    const auto json = nlohmann::json::parse(record.to_line());
    EXPECT_EQ(json, tree_of(record));
    EXPECT_EQ(json["identity"]["user"], "alice");
    EXPECT_EQ(json["identity"]["oidc"]["subject"], "ada");

    record.identity = "{}";
    EXPECT_EQ(nlohmann::json::parse(record.to_line())["identity"],
              (nlohmann::json{{"oidc", *record.oidc}}));
}

TEST(AuditLine, TimestampsAndIdsKeepTheirFormat) {
    using std::chrono::microseconds;
    using std::chrono::system_clock;
    EXPECT_EQ(format_utc(system_clock::time_point(microseconds(0))), "1970-01-01T00:00:00.000000Z");
    EXPECT_EQ(format_utc(system_clock::time_point(microseconds(4'102'444'799'999'999))),
              "2099-12-31T23:59:59.999999Z");
    EXPECT_EQ(format_utc(system_clock::time_point(microseconds(1'795'000'000'000'007))),
              "2026-11-18T11:06:40.000007Z");
    const std::string id = new_audit_id();
    EXPECT_TRUE(std::regex_match(id, std::regex("[0-9a-f]{16}-[1-9][0-9]*"))) << id;
    const std::string next = new_audit_id();
    EXPECT_EQ(next.substr(0, 17), id.substr(0, 17));
    EXPECT_EQ(std::stoull(next.substr(17)), std::stoull(id.substr(17)) + 1);
}

TEST(AuditLine, UntrustedTextStaysValidUtf8) {
    AuditRecord record = full_record();
    record.path = "/v1/\xFF\xC3(";
    record.model = std::string("m\0odel", 6);
    const auto json = nlohmann::json::parse(record.to_line());  // throws on invalid UTF-8
    EXPECT_EQ(json["request"]["path"], "/v1/\xEF\xBF\xBD\xEF\xBF\xBD(");
    EXPECT_EQ(json["request"]["model"], std::string("m\0odel", 6));
}

}  // namespace
}  // namespace sluice
