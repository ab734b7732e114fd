#include "agent/proxy/body_transform.h"

namespace sluice {

bool StreamMasking::feed(std::string_view piece, bool last, std::string_view& out) {
    out_.clear();
    bool ok = masker_->feed(piece, out_);
    if (ok && last) ok = masker_->finish(out_);
    out = out_;
    return ok;
}

}  // namespace sluice
