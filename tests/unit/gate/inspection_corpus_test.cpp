// A generated corpus against the request path as the proxy runs it (gate, then request
// masking on the gate's reading): every string-carrying field of Chat Completions, Responses
// and Embeddings requests, key names included, holds a blocked marker, a secret or an email,
// written plainly, with JSON escapes, in fullwidth forms, with format characters between its
// characters, inside a data: URI, inside JSON in a string, and split across parts or messages.
// Whatever reaches the upstream is read again as the provider would read it: no marker, no
// secret, no email, every masked value masked, every refusal free of the value.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/gate/request_gate.h"
#include "policy/masking/masking_session.h"
#include "policy/request_reading.h"
#include "policy/text_fold.h"
#include "tests/unit/gate/gate_test_support.h"

namespace sluice {
namespace {

const char* kPolicy = R"(version: 1
default: deny
pattern_sets:
  markers:
    - name: marker
      regex: 'SLUICE-MARKER-[0-9]{4}'
block_prompts:
  sets: [markers]
rules:
  - name: everyone
    match: {}
    masking:
      - entities: [all]
        action: redact
)";

struct Value {
    std::string text;
    bool blocked;            // refused, never forwarded
    std::string mask_label;  // what masking writes in its place
};

const Value kValues[] = {
    {"SLUICE-MARKER-4242", true, ""},
    {"AKIAIOSFODNN7EXAMPLE", false, "[AWS_ACCESS_KEY]"},
    {"sk-proj-Ab3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI3kM5", false, "[OPENAI_KEY]"},
    {"jane.roe@example.com", false, "[EMAIL]"},
};

// Request templates: $V is a JSON string literal holding the value; $K a member name holding
// it; $A and $B the two halves of a split value, in adjacent parts or messages.
struct Template {
    const char* path;
    const char* body;
};

const Template kFields[] = {
    // Chat Completions
    {"/v1/chat/completions", R"({"model":"gpt-4o","messages":[{"role":"user","content":$V}]})"},
    {"/v1/chat/completions",
     R"({"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":$V}]}]})"},
    {"/v1/chat/completions",
     R"({"model":"gpt-4o","messages":[{"role":"system","content":"x"},{"role":"user","name":$V,"content":"hi"}]})"},
    {"/v1/chat/completions",
     R"({"model":"gpt-4o","messages":[{"role":"assistant","content":null,"refusal":$V}]})"},
    {"/v1/chat/completions",
     R"({"model":"gpt-4o","messages":[{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":$V}}]},{"role":"tool","tool_call_id":"c1","content":"ok"}]})"},
    {"/v1/chat/completions",
     R"({"model":"gpt-4o","messages":[{"role":"tool","tool_call_id":$V,"content":"ok"}]})"},
    {"/v1/chat/completions",
     R"({"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":$V,"detail":"low"}}]}]})"},
    {"/v1/chat/completions",
     R"({"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"file","file":{"filename":$V,"file_data":"data:application/pdf;base64,JVBERi0x"}}]}]})"},
    {"/v1/chat/completions",
     R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","description":$V,"parameters":{"type":"object","properties":{"p":{"type":"string","description":$V,"enum":[$V]}}}}}]})"},
    {"/v1/chat/completions",
     R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{$K:{"type":"string"}}}}}]})"},
    {"/v1/chat/completions",
     R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"s","description":$V,"schema":{"type":"object","title":$V}}}})"},
    {"/v1/chat/completions",
     R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"prediction":{"type":"content","content":$V}})"},
    {"/v1/chat/completions",
     R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"user":$V,"safety_identifier":$V,"prompt_cache_key":$V})"},
    {"/v1/chat/completions",
     R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"metadata":{"k":$V}})"},
    {"/v1/chat/completions",
     R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"metadata":{$K:"v"}})"},
    {"/v1/chat/completions",
     R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stop":[$V]})"},
    {"/v1/chat/completions",
     R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"web_search_options":{"user_location":{"type":"approximate","approximate":{"city":$V}}}})"},
    {"/v1/chat/completions", R"({"model":$V,"messages":[{"role":"user","content":"hi"}]})"},
    {"/v1/chat/completions",
     R"({"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":$A},{"type":"text","text":$B}]}]})"},
    {"/v1/chat/completions",
     R"({"model":"gpt-4o","messages":[{"role":"user","content":$A},{"role":"user","content":$B}]})"},
    // Responses
    {"/v1/responses", R"({"model":"gpt-4.1","input":$V})"},
    {"/v1/responses", R"({"model":"gpt-4.1","instructions":$V,"input":"hi"})"},
    {"/v1/responses",
     R"({"model":"gpt-4.1","input":[{"role":"user","content":[{"type":"input_text","text":$V}]}]})"},
    {"/v1/responses",
     R"({"model":"gpt-4.1","input":[{"role":"user","content":[{"type":"input_image","image_url":$V}]}]})"},
    {"/v1/responses",
     R"({"model":"gpt-4.1","input":[{"role":"user","content":[{"type":"input_file","filename":"a.txt","file_data":$V}]}]})"},
    {"/v1/responses",
     R"({"model":"gpt-4.1","input":[{"type":"function_call","call_id":"c","name":"f","arguments":$V},{"type":"function_call_output","call_id":"c","output":$V}]})"},
    {"/v1/responses",
     R"({"model":"gpt-4.1","input":[{"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":$V}]}]})"},
    {"/v1/responses", R"({"model":"gpt-4.1","prompt":{"id":"pmpt_1","variables":{"name":$V}}})"},
    {"/v1/responses", R"({"model":"gpt-4.1","prompt":{"id":"pmpt_1","variables":{$K:"x"}}})"},
    {"/v1/responses",
     R"({"model":"gpt-4.1","input":"hi","text":{"format":{"type":"json_schema","name":"s","schema":{"description":$V}}}})"},
    {"/v1/responses",
     R"({"model":"gpt-4.1","input":"hi","tools":[{"type":"function","name":"f","description":$V,"parameters":{}}]})"},
    {"/v1/responses", R"({"model":"gpt-4.1","input":"hi","metadata":{"a":$V},"user":$V})"},
    {"/v1/responses",
     R"({"model":"gpt-4.1","input":[{"role":"user","content":[{"type":"input_text","text":$A},{"type":"input_text","text":$B}]}]})"},
    {"/v1/responses", R"({"model":"gpt-4.1","instructions":$A,"input":$B})"},
    // Embeddings
    {"/v1/embeddings", R"({"model":"text-embedding-3-small","input":$V})"},
    {"/v1/embeddings", R"({"model":"text-embedding-3-small","input":["x",$V],"user":$V})"},
};

// Spellings of a value: the decoded text the field holds, and whether its literal escapes
// every character.
struct Spelling {
    const char* name;
    std::string text;
    bool escape_all = false;
    bool encoded = false;  // a data: URI or JSON: decoded only whole, never split across parts
};

std::string fullwidth(std::string_view ascii) {
    std::string out;
    for (char c : ascii) {
        if (c > ' ' && c < 0x7f) {
            const unsigned code = 0xFEE0u + static_cast<unsigned char>(c);  // U+FF01..FF5E
            out.push_back(static_cast<char>(0xE0 | (code >> 12)));
            out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
        } else {
            out.push_back(c);
        }
    }
    return out;
}

std::string interleave(std::string_view ascii, std::string_view between) {
    std::string out;
    for (char c : ascii) {
        if (!out.empty()) out.append(between);
        out.push_back(c);
    }
    return out;
}

std::vector<Spelling> spellings(const std::string& value) {
    std::string b64;
    append_base64(b64, "note: " + value + " end");
    std::string percent;
    for (char c : value) {
        char hex[4];
        std::snprintf(hex, sizeof hex, "%%%02X", static_cast<unsigned char>(c));
        percent += hex;
    }
    return {
        {"plain", value},
        {"in prose", "please use " + value + " today"},
        {"json escapes", value, true},
        {"fullwidth", fullwidth(value)},
        {"zero-width", interleave(value, "\u200b")},
        {"word joiner and soft hyphen", interleave(value, "\u2060\u00ad")},
        {"text data uri", "data:text/plain;base64," + b64, false, true},
        {"labelled image data uri", "data:image/png;base64," + b64, false, true},
        {"percent data uri", "data:," + percent, false, true},
        {"json in a string", "{\"v\":\"" + value + "\"}", false, true},
        {"escaped json in a string", "{\"v\":[\"" + interleave(value, "\\u200b") + "\"]}", false,
         true},
    };
}

std::string literal(const std::string& text, bool escape_all) {
    if (!escape_all) return nlohmann::json(text).dump();
    std::string out = "\"";
    for (char c : text) {
        char hex[8];
        std::snprintf(hex, sizeof hex, "\\u%04x", static_cast<unsigned char>(c));
        out += hex;
    }
    return out + "\"";
}

std::string fill(std::string body, std::string_view placeholder, const std::string& with) {
    for (std::size_t at; (at = body.find(placeholder)) != std::string::npos;)
        body.replace(at, placeholder.size(), with);
    return body;
}

// Every way the provider could read `body`: each text decoded, joined, folded; and the bytes.
bool reaches(const std::string& body, std::string_view path, const std::string& value) {
    if (body.find(value) != std::string::npos) return true;
    const RequestReading reading = read_request_body(body, path);
    EXPECT_TRUE(reading.readable()) << "forwarded a body that does not read strictly: " << body;
    for (const auto& text : prompt_scan_texts(reading))
        if (text.find(value) != std::string::npos) return true;
    return false;
}

class InspectionCorpus : public ::testing::Test {
protected:
    void SetUp() override {
        store_ = std::make_unique<PolicyStore>(dir_.write("policy.yaml", kPolicy));
        store_->load_initial();
        gate_ = std::make_unique<RequestGate>(*store_, state_);
    }

    // The request path of the proxy: gate, then request masking; nullopt if refused (the
    // refusal checked), else what goes upstream.
    std::optional<std::string> send(std::string body, std::string_view path, const Value& value,
                                    const std::string& what) {
        PolicyIdentity who;
        who.user = "alice";
        who.uid = 1000;
        GateRequest request{"POST", path, &body, true};
        GateResult result = gate_->admit(who, request);
        if (result.refusal) {
            const std::string said = result.refusal->message + result.decision.reason;
            EXPECT_EQ(said.find(value.text), std::string::npos) << what;
            FoldedText folded;
            if (fold_for_matching(said, folded)) {
                EXPECT_EQ(folded.text.find(value.text), std::string::npos) << what;
            }
            EXPECT_EQ(result.refusal->code, value.blocked ? "prompt_blocked" : "")
                << what << ": " << said;
            return std::nullopt;
        }
        EXPECT_TRUE(result.masking) << what;
        if (!result.masking) return body;
        masking::MaskingSession masking(result.masking, "k");
        const auto status = masking.mask_request(
            body, path, result.body_rewritten ? nullptr : result.reading.get());
        EXPECT_NE(status, masking::BodyStatus::failed) << what;
        EXPECT_NE(status, masking::BodyStatus::not_json) << what;
        return body;
    }

    testing::ScratchDir dir_;
    std::unique_ptr<PolicyStore> store_;
    PolicyState state_;
    std::unique_ptr<RequestGate> gate_;
};

TEST_F(InspectionCorpus, NoMarkerSecretOrEmailReachesUpstreamInAnyFieldOrSpelling) {
    int cases = 0, refused = 0, masked = 0;
    for (const Template& field : kFields) {
        const std::string body(field.body);
        const bool split = body.find("$A") != std::string::npos;
        for (const Value& value : kValues) {
            for (const Spelling& spelling : spellings(value.text)) {
                std::vector<std::string> bodies;
                if (split && spelling.encoded) continue;
                if (split) {
                    // Every cut of the spelled value into two adjacent parts.
                    const std::string& text = spelling.text;
                    for (std::size_t cut = 1; cut < text.size(); ++cut) {
                        if ((text[cut] & 0xC0) == 0x80) continue;  // inside a character
                        bodies.push_back(fill(
                            fill(body, "$A", literal(text.substr(0, cut), spelling.escape_all)),
                            "$B", literal(text.substr(cut), spelling.escape_all)));
                    }
                } else {
                    const std::string lit = literal(spelling.text, spelling.escape_all);
                    bodies.push_back(fill(fill(body, "$V", lit), "$K", lit));
                }
                for (const std::string& request : bodies) {
                    const std::string what =
                        std::string(field.path) + " " + spelling.name + ": " + request;
                    ASSERT_TRUE(read_request_body(request, field.path).readable()) << what;
                    ++cases;
                    const auto forwarded = send(request, field.path, value, what);
                    if (!forwarded) {
                        ++refused;
                        EXPECT_TRUE(value.blocked) << "refused: " << what;
                        continue;
                    }
                    EXPECT_FALSE(value.blocked)
                        << "marker forwarded: " << what << "\n -> " << *forwarded;
                    EXPECT_FALSE(reaches(*forwarded, field.path, value.text))
                        << what << "\n -> " << *forwarded;
                    EXPECT_TRUE(reaches(*forwarded, field.path, value.mask_label))
                        << "not masked: " << what << "\n -> " << *forwarded;
                    ++masked;
                }
            }
        }
    }
    EXPECT_GT(cases, 1000);
    EXPECT_GT(refused, 100);
    EXPECT_GT(masked, 500);
}

}  // namespace
}  // namespace sluice
