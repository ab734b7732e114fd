#include "policy/sse_writer.h"

namespace sluice {

void append_sse_event(std::string& out, std::string_view event, std::string_view id,
                      std::string_view data) {
    if (!event.empty()) out.append("event: ").append(event).append("\n");
    if (!id.empty()) out.append("id: ").append(id).append("\n");
    while (true) {
        const auto newline = data.find('\n');
        out.append("data: ").append(data.substr(0, newline)).append("\n");
        if (newline == std::string_view::npos) break;
        data.remove_prefix(newline + 1);
    }
    out.append("\n");
}

}  // namespace sluice
