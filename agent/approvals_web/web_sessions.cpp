#include "agent/approvals_web/web_sessions.h"

#include <algorithm>

#include "agent/approvals_web/web_tokens.h"

namespace sluice {

namespace {

// Drops the entry that expires first, to make room.
template <typename Map>
void drop_oldest(Map& entries) {
    auto oldest = std::min_element(
        entries.begin(), entries.end(),
        [](const auto& a, const auto& b) { return a.second.expires < b.second.expires; });
    if (oldest != entries.end()) entries.erase(oldest);
}

}  // namespace

WebSessions::WebSessions(std::chrono::seconds session_lifetime,
                         std::function<Clock::time_point()> now)
    : session_lifetime_(session_lifetime), now_(std::move(now)) {}

void WebSessions::forget_expired(Clock::time_point now) {
    std::erase_if(logins_, [&](const auto& item) { return item.second.expires <= now; });
    std::erase_if(sessions_, [&](const auto& item) { return item.second.expires <= now; });
}

std::string WebSessions::begin_login(PendingLogin login) {
    const std::lock_guard lock(mutex_);
    const auto now = now_();
    forget_expired(now);
    if (logins_.size() >= kMaxLogins) drop_oldest(logins_);
    login.expires = now + kLoginLifetime;
    std::string state = random_token();
    logins_.emplace(state, std::move(login));
    return state;
}

std::optional<PendingLogin> WebSessions::take_login(const std::string& state) {
    const std::lock_guard lock(mutex_);
    forget_expired(now_());
    auto it = logins_.find(state);
    if (it == logins_.end()) return std::nullopt;
    PendingLogin login = std::move(it->second);
    logins_.erase(it);
    return login;
}

std::string WebSessions::create_session(Approver approver) {
    const std::lock_guard lock(mutex_);
    const auto now = now_();
    forget_expired(now);
    if (sessions_.size() >= kMaxSessions) drop_oldest(sessions_);
    std::string id = random_token();
    sessions_.emplace(id, WebSession{std::move(approver), random_token(), now + session_lifetime_});
    return id;
}

std::optional<WebSession> WebSessions::session(const std::string& id) {
    const std::lock_guard lock(mutex_);
    forget_expired(now_());
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return std::nullopt;
    return it->second;
}

void WebSessions::end_session(const std::string& id) {
    const std::lock_guard lock(mutex_);
    sessions_.erase(id);
}

}  // namespace sluice
