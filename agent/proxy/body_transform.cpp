#include "agent/proxy/body_transform.h"

namespace sluice {

bool StreamMasking::feed(std::string_view piece, bool last, std::string_view& out) {
    out_.clear();
    bool ok = masker_->feed(piece, out_);
    if (ok && last) ok = masker_->finish(out_);
    out = out_;
    return ok;
}

bool ToolCallFiltering::feed(std::string_view piece, bool last, std::string_view& out) {
    out_.clear();
    bool ok = filter_.feed(piece, out_);
    if (ok && last) ok = filter_.finish(out_);
    out = out_;
    // A failed filter's error event still goes through the masker: it holds no value.
    if (next_) {
        const bool next_ok = next_->feed(out_, last || !ok, out);
        return ok && next_ok;
    }
    return ok;
}

std::string ToolCallFiltering::failure() const {
    if (!filter_.failure().empty()) return "tool calls: " + filter_.failure();
    return next_ ? next_->failure() : std::string();
}

}  // namespace sluice
