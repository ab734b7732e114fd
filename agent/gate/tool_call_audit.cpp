#include "agent/gate/tool_call_audit.h"

namespace sluice {

namespace {

// At most `limit` bytes of `text`, cut at a character boundary.
std::string_view excerpt(std::string_view text, std::size_t limit) {
    if (text.size() <= limit) return text;
    std::size_t cut = limit;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    return text.substr(0, cut);
}

}  // namespace

nlohmann::json tool_call_audit(const std::vector<ToolCallRecord>& calls, const RequestGate& gate) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& call : calls) {
        nlohmann::json entry = {
            {"name", gate.audit_safe(call.name)},
            {"arguments", gate.audit_safe(excerpt(call.arguments, kToolCallExcerptBytes))},
            {"decision", to_string(call.action)}};
        if (call.arguments.size() > kToolCallExcerptBytes)
            entry["arguments_bytes"] = call.arguments.size();
        if (!call.reason.empty()) entry["reason"] = gate.audit_safe(call.reason);
        out.push_back(std::move(entry));
    }
    return out;
}

}  // namespace sluice
