#include "policy/output_bound.h"

#include <array>
#include <cmath>
#include <limits>

#include "policy/api_endpoint.h"
#include "policy/ascii_case.h"

namespace sluice {

namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

enum class Endpoint { chat, completions, responses, other };

// Query and trailing '/' ignored, case too: an upstream may route "/V1/Chat/Completions" as
// the lower-case path, so its caps must be read the same way.
Endpoint endpoint_of(std::string_view path) {
    const std::string lower = ascii_lower(api_endpoint(path));
    if (lower == "/v1/chat/completions") return Endpoint::chat;
    if (lower == "/v1/completions") return Endpoint::completions;
    if (lower == "/v1/responses") return Endpoint::responses;
    return Endpoint::other;
}

// A whole number as a provider reads it: an integer, or a float with no fraction (10.0).
// nullopt for anything else; `absent` when the member is missing or null (the default).
struct WholeNumber {
    bool absent = true;
    std::optional<int64_t> value;
};

WholeNumber whole_number(const JsonView& body, std::string_view key) {
    const JsonView::Index value = body.member(body.root(), key);
    if (value == JsonView::none || body.kind(value) == JsonKind::null) return {};
    if (body.kind(value) != JsonKind::number) return {false, std::nullopt};
    const JsonNumber number = body.number(value);
    switch (number.type) {
        case JsonNumber::Type::unsigned_integer: {
            const uint64_t v = number.unsigned_integer;
            return {false, v > static_cast<uint64_t>(kMax) ? kMax : static_cast<int64_t>(v)};
        }
        case JsonNumber::Type::signed_integer:
            return {false, number.integer};
        case JsonNumber::Type::floating: {
            const double v = number.floating;
            if (!std::isfinite(v) || v != std::floor(v)) return {false, std::nullopt};
            if (v >= 9.2e18) return {false, kMax};
            if (v <= -9.2e18) return {false, -kMax};
            return {false, static_cast<int64_t>(v)};
        }
    }
    return {false, std::nullopt};
}

bool asks_for_audio(const JsonView& body) {
    const JsonView::Index root = body.root();
    if (const JsonView::Index audio = body.member(root, "audio");
        audio != JsonView::none && body.kind(audio) != JsonKind::null)
        return true;
    const JsonView::Index modalities = body.member(root, "modalities");
    if (!body.is(modalities, JsonKind::array)) return false;
    for (const JsonView::Index m : body.children(modalities))
        if (body.string_is(m, "audio")) return true;
    return false;
}

}  // namespace

int64_t saturating_multiply(int64_t a, int64_t b) {
    if (a <= 0 || b <= 0) return 0;
    return a > kMax / b ? kMax : a * b;
}

int64_t saturating_add(int64_t a, int64_t b) {
    a = std::max<int64_t>(0, a);
    b = std::max<int64_t>(0, b);
    return a > kMax - b ? kMax : a + b;
}

OutputBound read_output_bound(const JsonView& body, std::string_view path) {
    OutputBound bound;
    if (!body.is(body.root(), JsonKind::object)) return bound;
    const Endpoint endpoint = endpoint_of(path);
    std::array<const char*, 2> caps{};
    switch (endpoint) {
        case Endpoint::chat:
            caps = {"max_completion_tokens", "max_tokens"};
            break;
        case Endpoint::completions:
            caps = {"max_tokens", nullptr};
            break;
        case Endpoint::responses:
            caps = {"max_output_tokens", nullptr};
            break;
        case Endpoint::other:
            break;
    }
    bound.cap_writable = endpoint != Endpoint::other;
    for (const char* key : caps) {
        if (!key) continue;
        const WholeNumber cap = whole_number(body, key);
        if (cap.absent) continue;
        if (!cap.value) {
            bound.unbounded = std::string(key) + " is not a whole number";
            continue;
        }
        // A negative cap is refused upstream; it must not lower a reservation meanwhile.
        const int64_t tokens = std::max<int64_t>(0, *cap.value);
        bound.cap = bound.cap ? std::max(*bound.cap, tokens) : tokens;
    }
    const JsonView::Index reasoning = body.member(body.root(), "reasoning_effort");
    if (endpoint == Endpoint::chat && reasoning != JsonView::none &&
        body.kind(reasoning) != JsonKind::null && bound.cap &&
        whole_number(body, "max_completion_tokens").absent)
        bound.unbounded = "max_tokens does not bound reasoning tokens (max_completion_tokens does)";

    for (const char* key : {"n", "best_of"}) {
        if (key == std::string_view("best_of") && endpoint != Endpoint::completions) continue;
        const WholeNumber count = whole_number(body, key);
        if (count.absent) continue;
        if (!count.value) {
            bound.unbounded = std::string(key) + " is not a whole number";
            continue;
        }
        bound.outputs = std::max(bound.outputs, *count.value);
    }
    if (endpoint == Endpoint::chat && asks_for_audio(body))
        bound.outputs = saturating_multiply(bound.outputs, 2);
    return bound;
}

}  // namespace sluice
