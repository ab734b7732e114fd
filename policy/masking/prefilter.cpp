#include "policy/masking/prefilter.h"

#include <hs/hs.h>

#include <memory>

namespace sluice::masking {

// Literal-anchored triggers only: they keep Hyperscan on its fast literal path. Numbers are
// found by the digit scanner (digit_scanner.h).
const std::vector<Trigger>& builtin_triggers() {
    static const std::vector<Trigger> kTriggers = {
        {R"([A-Za-z0-9._%+\-]@[A-Za-z0-9])", 0, Entity::email, extract_email},
        {R"(\+[1-9])", 0, Entity::phone, extract_phone},
        {R"([0-9A-Fa-f]:[0-9A-Fa-f]{0,4}:)", 0, Entity::ipv6, extract_ipv6},
        {R"(::[0-9A-Fa-f])", 0, Entity::ipv6, extract_ipv6},
        {R"(sk-[A-Za-z0-9_\-]{20})", 0, Entity::openai_key, extract_openai_key},
        {R"((?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16})", 0,
         Entity::aws_access_key, extract_aws_access_key},
        {R"(secret)", HS_FLAG_CASELESS, Entity::aws_secret_key, extract_aws_secret_key},
        {R"(gh[pousr]_[A-Za-z0-9]{36})", 0, Entity::github_token, extract_github_classic},
        {R"(github_pat_[A-Za-z0-9_]{22})", 0, Entity::github_token, extract_github_pat},
        {R"(xox[abposr]-[A-Za-z0-9\-]{10})", 0, Entity::slack_token, extract_slack_token},
        {R"(xapp-\d-[A-Za-z0-9\-]{10})", 0, Entity::slack_token, extract_slack_app_token},
        {R"(eyJ[A-Za-z0-9_\-]*\.eyJ)", 0, Entity::jwt, extract_jwt},
        {R"(-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----)", 0, Entity::private_key, extract_private_key},
    };
    return kTriggers;
}

namespace {

struct DatabaseDeleter {
    void operator()(hs_database_t* db) const { hs_free_database(db); }
};

struct Prefilter {
    std::unique_ptr<hs_database_t, DatabaseDeleter> db;
    std::string error;
};

const Prefilter& prefilter() {
    static const Prefilter kPrefilter = [] {
        Prefilter p;
        const auto& triggers = builtin_triggers();
        std::vector<const char*> regexes;
        std::vector<unsigned> flags;
        std::vector<unsigned> ids;
        for (std::size_t i = 0; i < triggers.size(); ++i) {
            regexes.push_back(triggers[i].regex);
            flags.push_back(triggers[i].flags);
            ids.push_back(static_cast<unsigned>(i));
        }
        hs_database_t* db = nullptr;
        hs_compile_error_t* error = nullptr;
        if (hs_compile_multi(regexes.data(), flags.data(), ids.data(),
                             static_cast<unsigned>(regexes.size()), HS_MODE_BLOCK, nullptr, &db,
                             &error) != HS_SUCCESS) {
            p.error = std::string("hyperscan: ") +
                      (error && error->message ? error->message : "compile failed");
            hs_free_compile_error(error);
            return p;
        }
        p.db.reset(db);
        return p;
    }();
    return kPrefilter;
}

// One scratch per thread: each proxy thread scans on its own, and scratch may not be shared.
struct ThreadScratch {
    hs_scratch_t* scratch = nullptr;
    ~ThreadScratch() {
        if (scratch) hs_free_scratch(scratch);
    }
};

hs_scratch_t* thread_scratch(const hs_database_t* db) {
    thread_local ThreadScratch local;
    if (!local.scratch && hs_alloc_scratch(db, &local.scratch) != HS_SUCCESS) {
        local.scratch = nullptr;
        return nullptr;
    }
    return local.scratch;
}

int on_match(unsigned int id, unsigned long long /*from*/, unsigned long long to,
             unsigned int /*flags*/, void* context) {
    static_cast<std::vector<TriggerHit>*>(context)->push_back({id, static_cast<std::size_t>(to)});
    return 0;
}

}  // namespace

std::optional<std::string> prepare_prefilter() {
    const auto& p = prefilter();
    if (!p.db) return p.error;
    if (!thread_scratch(p.db.get())) return std::string("hyperscan: cannot allocate scratch");
    return std::nullopt;
}

bool scan_triggers(std::string_view text, std::vector<TriggerHit>& hits) {
    const auto& p = prefilter();
    if (!p.db) return false;
    if (text.empty()) return true;
    hs_scratch_t* scratch = thread_scratch(p.db.get());
    if (!scratch) return false;
    // Hyperscan takes a 32-bit length; bodies above 4 GiB never reach here (body limits).
    if (text.size() > 0xffffffffu) return false;
    return hs_scan(p.db.get(), text.data(), static_cast<unsigned>(text.size()), 0, scratch,
                   on_match, &hits) == HS_SUCCESS;
}

}  // namespace sluice::masking
