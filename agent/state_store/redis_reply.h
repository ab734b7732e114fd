// A Redis reply, copied out of hiredis's reply object so no hiredis type leaves the connection.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sluice {

struct RedisReply {
    enum class Type { nil, status, error, integer, string, array } type = Type::nil;
    int64_t integer = 0;
    std::string text;  // status, error or string
    std::vector<RedisReply> elements;

    bool is_error() const { return type == Type::error; }
};

}  // namespace sluice
