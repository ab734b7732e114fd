#include "agent/gate/policy_reservation.h"

#include <chrono>

namespace sluice {

PolicyReservation& PolicyReservation::operator=(PolicyReservation&& other) noexcept {
    if (this != &other) {
        release();
        state_ = other.state_;
        id_ = other.id_;
        other.state_ = nullptr;
        other.id_ = 0;
    }
    return *this;
}

void PolicyReservation::settle(const std::optional<UsageObject>& usage) {
    if (!held()) return;
    std::optional<TokenUsage> used = usage ? token_usage_from_text(usage->json) : std::nullopt;
    state_->settle(id_, used, std::chrono::system_clock::now());
    state_ = nullptr;
    id_ = 0;
}

void PolicyReservation::release() {
    if (!held()) return;
    state_->release(id_, std::chrono::system_clock::now());
    state_ = nullptr;
    id_ = 0;
}

void PolicyReservation::finish(unsigned upstream_status, const std::optional<UsageObject>& usage) {
    if (upstream_status == 0 || upstream_status >= 400)
        release();
    else
        settle(usage);
}

}  // namespace sluice
