#include "policy/masking/masking_session.h"

namespace sluice::masking {

MaskingSession::MaskingSession(std::shared_ptr<const MaskingControl> control, std::string hash_key)
    : control_(std::move(control)),
      hash_key_(std::move(hash_key)),
      masker_(*control_, hash_key_, vault_, stats_) {}

BodyStatus MaskingSession::mask_request(std::string& body, std::string_view path,
                                        const RequestReading* reading) {
    if (!masks_requests() || body.empty()) return BodyStatus::unchanged;
    const auto status = reading && reading->readable()
                            ? mask_request_reading(body, path, *reading, masker_)
                            : mask_request_body(body, path, masker_);
    if (status == BodyStatus::not_json) stats_.skipped.emplace_back("request: not strict JSON");
    if (status == BodyStatus::failed && stats_.failure.empty())
        stats_.failure = "request body: scan failed";
    return status;
}

BodyStatus MaskingSession::mask_response(std::string& body, std::string_view path) {
    if (!masks_responses() || body.empty()) return BodyStatus::unchanged;
    const auto status = mask_response_body(body, path, masker_, control_->restores_tokens());
    if (status == BodyStatus::not_json) stats_.skipped.emplace_back("response: not JSON");
    if (status == BodyStatus::failed && stats_.failure.empty())
        stats_.failure = "response body: scan failed";
    return status;
}

std::unique_ptr<SseStreamMasker> MaskingSession::make_stream_masker(std::string_view path,
                                                                    SseMaskerLimits limits) {
    return std::make_unique<SseStreamMasker>(masker_, api_shape(path), control_->restores_tokens(),
                                             limits);
}

std::unique_ptr<RealtimeEventMasker> MaskingSession::make_realtime_masker() {
    return std::make_unique<RealtimeEventMasker>(masker_, masks_requests(),
                                                 control_->restores_tokens());
}

nlohmann::json MaskingSession::summary() const {
    nlohmann::json out = nlohmann::json::object();
    const char* names[2] = {"request", "response"};
    for (int d = 0; d < 2; ++d) {
        nlohmann::json counts = nlohmann::json::object();
        for (std::size_t id = 0; id < control_->recognizers().entity_count(); ++id)
            if (auto n = stats_.counts[d][id])
                counts[control_->recognizers().config_name(static_cast<EntityId>(id))] = n;
        if (!counts.empty()) out[names[d]] = std::move(counts);
    }
    if (stats_.restored) out["restored"] = stats_.restored;
    if (!stats_.skipped.empty()) out["skipped"] = stats_.skipped;
    if (!stats_.failure.empty()) out["failure"] = stats_.failure;
    return out;
}

}  // namespace sluice::masking
