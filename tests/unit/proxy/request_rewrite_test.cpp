#include "agent/proxy/request_rewrite.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace sluice {
namespace {

namespace http = boost::beast::http;

RequestHeader header_with(std::initializer_list<std::pair<std::string, std::string>> fields) {
    RequestHeader header;
    header.method(http::verb::post);
    header.target("/v1/chat/completions");
    for (const auto& [name, value] : fields) header.insert(name, value);
    return header;
}

TEST(RequestRewrite, ReplacesTheClientsKeyWithTheRealOne) {
    auto header = header_with({{"Authorization", "Bearer sk-dummy"},
                               {"api-key", "sk-other"},
                               {"Content-Type", "application/json"}});
    prepare_upstream_request(header, "sk-real");
    EXPECT_EQ(header[http::field::authorization], "Bearer sk-real");
    EXPECT_EQ(header.count("api-key"), 0u);
    EXPECT_EQ(header.count(http::field::authorization), 1u);
    EXPECT_EQ(header[http::field::content_type], "application/json");
}

TEST(RequestRewrite, DropsHopByHopFieldsAndThoseConnectionNames) {
    auto header = header_with({{"Connection", "keep-alive, X-Secret-Hop"},
                               {"X-Secret-Hop", "1"},
                               {"Keep-Alive", "timeout=5"},
                               {"Proxy-Authorization", "Basic abc"},
                               {"Expect", "100-continue"},
                               {"Accept-Encoding", "gzip"}});
    prepare_upstream_request(header, "k");
    for (const char* name :
         {"Connection", "X-Secret-Hop", "Keep-Alive", "Proxy-Authorization", "Expect"})
        EXPECT_EQ(header.count(name), 0u) << name;
    EXPECT_EQ(header[http::field::accept_encoding], "identity");
}

TEST(RequestRewrite, EveryCopyOfAClientCredentialGoesWhateverItsCase) {
    auto header = header_with({{"authorization", "Bearer a"},
                               {"API-KEY", "b"},
                               {"Authorization", "Bearer c"},
                               {"Api-Key", "d"},
                               {"accept-encoding", "br"},
                               {"Accept-Encoding", "gzip"}});
    prepare_upstream_request(header, "sk-real");
    EXPECT_EQ(header.count("api-key"), 0u);
    EXPECT_EQ(header.count(http::field::authorization), 1u);
    EXPECT_EQ(header[http::field::authorization], "Bearer sk-real");
    EXPECT_EQ(header.count(http::field::accept_encoding), 1u);
    EXPECT_EQ(header[http::field::accept_encoding], "identity");
}

std::vector<std::string> fields_of(const RequestHeader& header) {
    std::vector<std::string> fields;
    for (const auto& field : header)
        fields.push_back(std::string(field.name_string()) + "=" + std::string(field.value()));
    return fields;
}

TEST(RequestRewrite, KeepsEveryOtherFieldInItsOrder) {
    auto header = header_with({{"Content-Type", "application/json"},
                               {"Connection", "close"},
                               {"X-Request-Id", "7"},
                               {"TE", "trailers"},
                               {"User-Agent", "OpenAI/JS 4.0"},
                               {"X-Request-Id", "8"}});
    std::vector<std::string> expected;
    for (const auto& field : fields_of(header))
        if (!field.starts_with("Connection=") && !field.starts_with("TE="))
            expected.push_back(field);
    expected.insert(expected.end(), {"Accept-Encoding=identity", "Authorization=Bearer k"});
    prepare_upstream_request(header, "k");
    EXPECT_EQ(fields_of(header), expected);
}

TEST(RequestRewrite, ClientResponseLosesHopByHopFieldsAndThoseConnectionNames) {
    ResponseHeader header;
    header.result(http::status::ok);
    for (auto [name, value] : {std::pair{"Content-Type", "text/event-stream"},
                               {"Connection", "X-Upstream-Hop, close"},
                               {"x-upstream-hop", "1"},
                               {"Transfer-Encoding", "chunked"},
                               {"Upgrade", "h2c"},
                               {"Keep-Alive", "timeout=5"},
                               {"openai-processing-ms", "12"}})
        header.insert(name, value);
    prepare_client_response(header);
    std::vector<std::string> kept;
    for (const auto& field : header) kept.emplace_back(field.name_string());
    EXPECT_EQ(kept, (std::vector<std::string>{"Content-Type", "Transfer-Encoding",
                                              "openai-processing-ms"}));
}

TEST(RequestRewrite, PresentedCredentialFromBearerOrApiKey) {
    EXPECT_EQ(presented_credential(header_with({{"Authorization", "Bearer sk-abc"}})), "sk-abc");
    EXPECT_EQ(presented_credential(header_with({{"Authorization", "bearer sk-abc"}})), "sk-abc");
    EXPECT_EQ(presented_credential(header_with({{"api-key", "azure-key"}})), "azure-key");
    EXPECT_EQ(presented_credential(header_with({})), "");
}

// A browser's Realtime API WebSocket sends its key as a subprotocol: it is the credential the
// audit fingerprints (and OIDC verifies), wherever it sits in the list.
TEST(RequestRewrite, PresentedCredentialFromRealtimeKeySubprotocol) {
    EXPECT_EQ(presented_credential(header_with(
                  {{"Sec-WebSocket-Protocol",
                    "realtime, openai-insecure-api-key.sk-browser, openai-beta.realtime-v1"}})),
              "sk-browser");
    EXPECT_EQ(presented_credential(header_with({{"Sec-WebSocket-Protocol", "realtime"}})), "");
    EXPECT_EQ(presented_credential(
                  header_with({{"Authorization", "Bearer sk-header"},
                               {"Sec-WebSocket-Protocol", "openai-insecure-api-key.sk-browser"}})),
              "sk-header");
}

TEST(RequestFraming, RejectsContentLengthWithTransferEncoding) {
    auto error = validate_request_framing(
        header_with({{"Content-Length", "5"}, {"Transfer-Encoding", "chunked"}}));
    ASSERT_TRUE(error);
    EXPECT_EQ(error->status, 400u);
}

// A coding under chunked (gzip, deflate, an unknown one) hides the body from every control.
TEST(RequestFraming, RejectsEveryTransferEncodingButExactlyChunked) {
    for (const char* value : {"gzip", "chunked, gzip", "gzip, chunked", "deflate,chunked",
                              "x-unknown, chunked", "chunked, chunked", "identity, chunked", ""})
        EXPECT_TRUE(validate_request_framing(header_with({{"Transfer-Encoding", value}}))) << value;
    for (const char* value : {"chunked", "Chunked", "CHUNKED"})
        EXPECT_FALSE(validate_request_framing(header_with({{"Transfer-Encoding", value}})))
            << value;
    EXPECT_FALSE(validate_request_framing(header_with({{"Content-Length", "5"}})));
}

}  // namespace
}  // namespace sluice
