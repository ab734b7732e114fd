// Splices a connection whose SNI is not intercepted to its original destination, byte for byte
// (the peeked ClientHello included, since peeking consumed nothing).
#pragma once

#include <cstdint>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace sluice {

struct SpliceResult {
    uint64_t client_to_server_bytes = 0;
    uint64_t server_to_client_bytes = 0;
    std::string error;  // empty when both directions ended cleanly
};

// Connects (with sluiced's bypass mark) and relays until both directions close.
boost::asio::awaitable<SpliceResult> splice_to_destination(
    boost::asio::ip::tcp::socket& client, const boost::asio::ip::tcp::endpoint& destination,
    std::chrono::milliseconds connect_timeout);

}  // namespace sluice
