#include "agent/common/openai_error.h"

#include <nlohmann/json.hpp>

namespace sluice {

std::string openai_error_body(const ClientError& error) {
    nlohmann::json body = {{"error",
                            {{"message", error.message},
                             {"type", error.type},
                             {"param", nullptr},
                             {"code", error.code}}}};
    return body.dump();
}

}  // namespace sluice
