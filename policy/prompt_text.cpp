#include "policy/prompt_text.h"

#include <algorithm>

#include "policy/api_endpoint.h"

namespace sluice {

namespace {

using Index = JsonView::Index;

constexpr int64_t kBytesPerToken = 3;

class PromptTexts {
public:
    PromptTexts(const JsonView& body, std::vector<std::string>& out) : body_(body), out_(out) {}

    void add_string(Index value) {
        if (body_.is(value, JsonKind::string)) out_.push_back(body_.string(value));
    }

    // Every string in a value, recursively (for unknown shapes), members in the order of their
    // names (as a parsed object iterates them).
    void add_all_strings(Index value, bool skip_model_key) {
        if (value == JsonView::none) return;
        if (body_.kind(value) == JsonKind::string) {
            add_string(value);
        } else if (body_.kind(value) == JsonKind::array) {
            for (const Index item : body_.children(value)) add_all_strings(item, false);
        } else if (body_.kind(value) == JsonKind::object) {
            std::vector<Index> members;
            for (const Index member : body_.children(value))
                if (!(skip_model_key && body_.name(member) == "model")) members.push_back(member);
            std::stable_sort(members.begin(), members.end(),
                             [&](Index a, Index b) { return body_.name(a) < body_.name(b); });
            for (std::size_t i = 0; i < members.size(); ++i)
                // Of a name given twice (a lenient view's) only the last, as member() reads.
                if (i + 1 == members.size() || body_.name(members[i]) != body_.name(members[i + 1]))
                    add_all_strings(members[i], false);
        }
    }

    // A content part: a string, or an object whose text lives in `text` (chat "text",
    // Responses "input_text"/"output_text") or, for refusals, `refusal`.
    void add_part(Index part) {
        if (body_.is(part, JsonKind::string)) {
            add_string(part);
        } else if (body_.is(part, JsonKind::object)) {
            add_string(body_.member(part, "text"));
            add_string(body_.member(part, "refusal"));
        }
    }

    // A content value: a string, or an array of parts.
    void add_content(Index content) {
        if (body_.is(content, JsonKind::string)) {
            add_string(content);
            return;
        }
        if (!body_.is(content, JsonKind::array)) return;
        for (const Index part : body_.children(content)) add_part(part);
    }

    // `object.member.arguments`, when `member` is an object.
    void add_arguments_of(Index object, std::string_view member) {
        const Index function = body_.member(object, member);
        if (body_.is(function, JsonKind::object)) add_string(body_.member(function, "arguments"));
    }

    void add_chat_messages(Index root) {
        const Index messages = body_.member(root, "messages");
        if (!body_.is(messages, JsonKind::array)) return;
        for (const Index message : body_.children(messages)) {
            if (!body_.is(message, JsonKind::object)) continue;
            add_content(body_.member(message, "content"));
            const Index calls = body_.member(message, "tool_calls");
            if (body_.is(calls, JsonKind::array))
                for (const Index call : body_.children(calls))
                    if (body_.is(call, JsonKind::object)) add_arguments_of(call, "function");
            add_arguments_of(message, "function_call");
        }
    }

    void add_responses_input(Index root) {
        add_string(body_.member(root, "instructions"));
        const Index input = body_.member(root, "input");
        if (body_.is(input, JsonKind::string)) {
            add_string(input);
            return;
        }
        if (!body_.is(input, JsonKind::array)) return;
        for (const Index item : body_.children(input)) {
            if (body_.is(item, JsonKind::string)) {
                add_string(item);
                continue;
            }
            if (!body_.is(item, JsonKind::object)) continue;
            add_content(body_.member(item, "content"));
            // function_call_output / custom_tool_call_output / computer_call_output carry
            // `output`.
            add_content(body_.member(item, "output"));
            add_string(body_.member(item, "arguments"));
            add_string(body_.member(item, "input"));  // custom tool call
        }
    }

    // `input` of embeddings and moderations, `prompt` of completions: a string or strings
    // (token arrays are numbers and carry no scannable text).
    void add_string_or_strings(Index root, std::string_view key) {
        const Index value = body_.member(root, key);
        if (body_.is(value, JsonKind::string)) {
            add_string(value);
        } else if (body_.is(value, JsonKind::array)) {
            for (const Index item : body_.children(value))
                add_part(item);  // moderations multi-modal: {"type":"text","text":...}
        }
    }

private:
    const JsonView& body_;
    std::vector<std::string>& out_;
};

}  // namespace

std::vector<std::string> extract_prompt_texts(const JsonView& body, std::string_view path) {
    std::vector<std::string> out;
    const Index root = body.root();
    if (!body.is(root, JsonKind::object)) return out;
    PromptTexts texts(body, out);
    const auto endpoint = api_endpoint(path);
    if (endpoint == "/v1/chat/completions") {
        texts.add_chat_messages(root);
    } else if (endpoint == "/v1/responses") {
        texts.add_responses_input(root);
    } else if (endpoint == "/v1/embeddings" || endpoint == "/v1/moderations") {
        texts.add_string_or_strings(root, "input");
    } else if (endpoint == "/v1/completions") {
        texts.add_string_or_strings(root, "prompt");
        texts.add_string_or_strings(root, "suffix");
    } else {
        texts.add_all_strings(root, true);
    }
    return out;
}

int64_t estimate_prompt_tokens(const std::vector<std::string>& texts) {
    constexpr int64_t kTokensPerText = 4;
    int64_t tokens = 0;
    for (const auto& text : texts)
        tokens += (static_cast<int64_t>(text.size()) + kBytesPerToken - 1) / kBytesPerToken +
                  kTokensPerText;
    return tokens;
}

namespace {

constexpr int64_t kImageTokensLow = 85;
constexpr int64_t kImageTokensHigh = 1536;
constexpr int64_t kMiniImageMultiplier = 33;

int64_t json_text_tokens(const JsonView& body, Index value) {
    if (value == JsonView::none) return 0;
    return (static_cast<int64_t>(body.dump_size(value)) + kBytesPerToken - 1) / kBytesPerToken;
}

// Image parts anywhere in the conversation: chat `image_url` parts, Responses `input_image`.
int64_t image_tokens(const JsonView& body, Index value, int64_t multiplier) {
    if (body.is(value, JsonKind::object)) {
        const Index type = body.member(value, "type");
        if (body.string_is(type, "image_url") || body.string_is(type, "input_image")) {
            Index detail_holder = value;
            if (const Index inner = body.member(value, "image_url");
                body.is(inner, JsonKind::object))
                detail_holder = inner;
            const bool low = body.string_is(body.member(detail_holder, "detail"), "low");
            return (low ? kImageTokensLow : kImageTokensHigh) * multiplier;
        }
    } else if (!body.is(value, JsonKind::array)) {
        return 0;
    }
    int64_t tokens = 0;
    for (const Index item : body.children(value)) tokens += image_tokens(body, item, multiplier);
    return tokens;
}

}  // namespace

int64_t estimate_attachment_tokens(const JsonView& body, std::string_view path) {
    const Index root = body.root();
    if (!body.is(root, JsonKind::object)) return 0;
    const auto endpoint = api_endpoint(path);
    const bool chat = endpoint == "/v1/chat/completions";
    if (!chat && endpoint != "/v1/responses") return 0;
    int64_t tokens = 0;
    for (const std::string_view key : {"tools", "functions"})
        tokens += json_text_tokens(body, body.member(root, key));
    if (chat) tokens += json_text_tokens(body, body.member(root, "response_format"));
    if (const Index text = body.member(root, "text"); !chat && body.is(text, JsonKind::object))
        tokens += json_text_tokens(body, body.member(text, "format"));
    const Index model = body.member(root, "model");
    const bool mini =
        body.is(model, JsonKind::string) && body.string(model).starts_with("gpt-4o-mini");
    tokens += image_tokens(body, body.member(root, chat ? "messages" : "input"),
                           mini ? kMiniImageMultiplier : 1);
    return tokens;
}

}  // namespace sluice
