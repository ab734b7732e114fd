// Answer bodies are masked by a scan and splice (response_masker.h) instead of a parse into a
// tree, an edit and a dump. The client must read exactly what the tree path gave it: generated
// answers (every shape, structural and escaped member names, duplicates, logprobs, tool
// arguments with escapes, deep nesting) and broken ones (cut, flipped bytes, invalid UTF-8,
// byte order mark) go through both, and the status and the value the client parses must agree.
#include <gtest/gtest.h>

#include <random>

#include "masking_test_support.h"
#include "policy/request_reading.h"

namespace sluice::masking {
namespace {

using namespace testing;
using nlohmann::json;

// The tree path the splice replaced, kept here as the reference.
BodyStatus mask_as_tree(std::string& body, std::string_view path, TextMasker& masker,
                        bool restore) {
    if (!json_depth_within(body)) return BodyStatus::not_json;
    json parsed = json::parse(body, nullptr, false);
    if (parsed.is_discarded()) return BodyStatus::not_json;
    JsonEdit edit{masker, Direction::response, restore};
    edit_response_value(parsed, api_shape(path), edit);
    if (edit.failed) return BodyStatus::failed;
    if (!edit.changed) return BodyStatus::unchanged;
    body = parsed.dump(-1, ' ', false, json::error_handler_t::replace);
    return BodyStatus::masked;
}

const std::vector<std::string> kPaths = {"/v1/chat/completions", "/v1/responses",
                                         "/v1/completions",      "/v1/embeddings",
                                         "/v1/moderations",      "/v1/files/x"};

// Member names: ones every rule treats alike, structural ones, the specially handled ones, and
// escaped spellings of some (a tree decodes them; the splice must too).
const std::vector<std::string> kKeys = {"content",        "text",
                                        "title",          "x",
                                        "model",          "id",
                                        "role",           "type",
                                        "data",           "status",
                                        "logprobs",       "arguments",
                                        "mod\\u0065l",    "\\u0063ontent",
                                        "log\\u0070robs", "\\u0061rguments",
                                        "finish_reason",  "embedding",
                                        "output",         "summary"};

// String literals: personal data in several spellings, escapes, non-ASCII, JSON text.
const std::vector<std::string> kStrings = {R"("hello")",
                                           R"("mail jane.roe@example.com now")",
                                           R"("jane.roe\u0040example.com")",
                                           R"("card 4111 1111 1111 1111")",
                                           R"("call +1 (415) 555-0132")",
                                           R"("caf\u00e9 \ud83d\ude00 \n\t\"q\"")",
                                           R"("{\"to\":\"a\u0040b.com\",\"n\":1}")",
                                           R"("{\"to\":\"jane.roe@example.com\"}")",
                                           R"("{\"x\":\"\\u0040\\u0040\"}")",
                                           R"("")",
                                           "\"\xc3\xa9t\xc3\xa9 4111111111111111\"",
                                           R"("ssn 123-45-6789")"};

const std::vector<std::string> kScalars = {"1",     "-0.5e3", "true",
                                           "false", "null",   "12345678901234567890"};

class Generator {
public:
    explicit Generator(uint32_t seed) : rng_(seed) {}

    std::string value(int depth) {
        const int pick = next(depth > 6 ? 4 : 10);
        if (pick < 2) return kScalars[next(kScalars.size())];
        if (pick < 4) return kStrings[next(kStrings.size())];
        if (pick < 7) return object(depth);
        return array(depth);
    }

    std::string object(int depth) {
        std::string out = "{";
        const int n = next(5);
        for (int i = 0; i < n; ++i) {
            if (i) out += next(3) ? "," : " , ";
            out += "\"" + kKeys[next(kKeys.size())] + "\":" + value(depth + 1);
        }
        return out + "}";
    }

    std::string array(int depth) {
        std::string out = "[";
        const int n = next(4);
        for (int i = 0; i < n; ++i) out += (i ? "," : "") + value(depth + 1);
        return out + "]";
    }

    std::size_t next(std::size_t n) {
        return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_);
    }

private:
    std::mt19937 rng_;
};

struct Outcome {
    BodyStatus status;
    std::string body;
    MaskStats stats;
};

Outcome run(bool splice, std::string body, std::string_view path, const MaskingControl& control,
            bool restore) {
    TokenVault vault;
    MaskStats stats;
    TextMasker masker(control, "k", vault, stats);
    const BodyStatus status = splice ? mask_response_body(body, path, masker, restore)
                                     : mask_as_tree(body, path, masker, restore);
    return {status, std::move(body), std::move(stats)};
}

// Both paths on one body: same status; a masked body parses to the same value; an unchanged
// or refused one is byte for byte what came in.
void expect_same(const std::string& body, std::string_view path, const MaskingControl& control) {
    SCOPED_TRACE(std::string(path) + " " + body);
    const Outcome tree = run(false, body, path, control, false);
    const Outcome splice = run(true, body, path, control, false);
    json expected;
    if (splice.status != tree.status) {
        // A member named twice: the tree kept the last copy only, the splice masks every copy,
        // so it may mask what the tree dropped. The client parsing the last copy reads the same.
        const std::string_view value =
            std::string_view(body).substr(body.starts_with("\xEF\xBB\xBF") ? 3 : 0);
        ASSERT_NE(read_request_body(value, "/v1/files", false).problem.find("twice"),
                  std::string::npos);
        ASSERT_EQ(splice.status, BodyStatus::masked);
        ASSERT_EQ(tree.status, BodyStatus::unchanged);
        expected = json::parse(body);
    } else if (splice.status != BodyStatus::masked) {
        EXPECT_EQ(splice.body, body);
        return;
    } else {
        expected = json::parse(tree.body);
    }
    const json got = json::parse(splice.body, nullptr, false);
    ASSERT_FALSE(got.is_discarded()) << splice.body;
    EXPECT_EQ(got, expected) << splice.body;
}

TEST(ResponseSplice, GeneratedAnswersReadAsTheTreePathGaveThem) {
    const auto control = redact_all();
    for (uint32_t seed = 0; seed < 3000; ++seed) {
        Generator gen(seed);
        const std::string body = gen.object(0);
        expect_same(body, kPaths[seed % kPaths.size()], *control);
    }
}

TEST(ResponseSplice, HashedAndPartialMasksAgreeToo) {
    const auto control = control_from_yaml(R"([
        {entities: [email], action: hash},
        {entities: [credit_card], action: partial},
        {entities: [all], action: redact}])");
    for (uint32_t seed = 0; seed < 1000; ++seed) {
        Generator gen(seed + 100000);
        expect_same(gen.object(0), kPaths[seed % 3], *control);
    }
}

TEST(ResponseSplice, BrokenAnswersAreRefusedAlike) {
    const auto control = redact_all();
    for (uint32_t seed = 0; seed < 1500; ++seed) {
        Generator gen(seed + 200000);
        std::string body = gen.object(0);
        switch (seed % 5) {
            case 0:
                body.resize(gen.next(body.size()));  // cut
                break;
            case 1:
                body[gen.next(body.size())] = "\"{}[],:\\x\x01\xff"[gen.next(12)];  // flipped
                break;
            case 2:
                body = "\xEF\xBB\xBF" + body;  // byte order mark
                break;
            case 3:
                body += gen.next(2) ? " {}" : " ";  // trailing data / space
                break;
            case 4:
                body.insert(body.size() - 1, body.size() > 2 ? ",\"x\":\"\xc3\"" : "");
                break;
        }
        expect_same(body, kPaths[seed % kPaths.size()], *control);
    }
}

TEST(ResponseSplice, DeepAnswersAgreeBelowTheLimitAndAreRefusedPastIt) {
    const auto control = redact_all();
    for (int depth : {1, 8, 9, 64, 127, 200, 5000}) {
        std::string body;
        for (int i = 0; i < depth; ++i) body += R"({"content":[)";
        body += R"("jane.roe@example.com")";
        for (int i = 0; i < depth; ++i) body += "]}";
        expect_same(body, "/v1/chat/completions", *control);
    }
}

TEST(ResponseSplice, UnchangedBytesStayAsTheUpstreamSentThem) {
    const auto control = redact_all();
    std::string body =
        R"({ "id" : "chatcmpl-1", "created":1e2, "choices":[{"message":{"role":"assistant",)"
        R"("content":"write to jane.roe@example.com"}}],"usage":{"total_tokens":12} })";
    TokenVault vault;
    MaskStats stats;
    TextMasker masker(*control, "k", vault, stats);
    ASSERT_EQ(mask_response_body(body, "/v1/chat/completions", masker, false), BodyStatus::masked);
    EXPECT_EQ(body.find("jane.roe"), std::string::npos);
    // Only the masked string changed: spacing, number spelling and member order are kept.
    EXPECT_EQ(body.substr(0, 43), R"({ "id" : "chatcmpl-1", "created":1e2, "choi)");
    EXPECT_NE(body.find(R"("usage":{"total_tokens":12} })"), std::string::npos);
}

TEST(ResponseSplice, EveryCopyOfADuplicateMemberIsMasked) {
    // A client reading the first copy of a duplicate (not every parser keeps the last) must not
    // find the value either.
    const auto control = redact_all();
    std::string body =
        R"({"choices":[{"message":{"content":"jane.roe@example.com","content":"ok"}}]})";
    TokenVault vault;
    MaskStats stats;
    TextMasker masker(*control, "k", vault, stats);
    ASSERT_EQ(mask_response_body(body, "/v1/chat/completions", masker, false), BodyStatus::masked);
    EXPECT_EQ(body.find("jane.roe"), std::string::npos) << body;
}

}  // namespace
}  // namespace sluice::masking
