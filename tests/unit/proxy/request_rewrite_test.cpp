#include "agent/proxy/request_rewrite.h"

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
    auto header = header_with({{"Authorization", "Bearer sk-dummy"}, {"api-key", "sk-other"}, {"Content-Type", "application/json"}});
    prepare_upstream_request(header, "sk-real");
    EXPECT_EQ(header[http::field::authorization], "Bearer sk-real");
    EXPECT_EQ(header.count("api-key"), 0u);
    EXPECT_EQ(header.count(http::field::authorization), 1u);
    EXPECT_EQ(header[http::field::content_type], "application/json");
}

TEST(RequestRewrite, DropsHopByHopFieldsAndThoseConnectionNames) {
    auto header = header_with({{"Connection", "keep-alive, X-Secret-Hop"}, {"X-Secret-Hop", "1"}, {"Keep-Alive", "timeout=5"},
                               {"Proxy-Authorization", "Basic abc"}, {"Expect", "100-continue"}, {"Accept-Encoding", "gzip"}});
    prepare_upstream_request(header, "k");
    for (const char* name : {"Connection", "X-Secret-Hop", "Keep-Alive", "Proxy-Authorization", "Expect"})
        EXPECT_EQ(header.count(name), 0u) << name;
    EXPECT_EQ(header[http::field::accept_encoding], "identity");
}

TEST(RequestRewrite, PresentedCredentialFromBearerOrApiKey) {
    EXPECT_EQ(presented_credential(header_with({{"Authorization", "Bearer sk-abc"}})), "sk-abc");
    EXPECT_EQ(presented_credential(header_with({{"Authorization", "bearer sk-abc"}})), "sk-abc");
    EXPECT_EQ(presented_credential(header_with({{"api-key", "azure-key"}})), "azure-key");
    EXPECT_EQ(presented_credential(header_with({})), "");
}

TEST(RequestFraming, RejectsContentLengthWithTransferEncoding) {
    auto error = validate_request_framing(header_with({{"Content-Length", "5"}, {"Transfer-Encoding", "chunked"}}));
    ASSERT_TRUE(error);
    EXPECT_EQ(error->status, 400u);
}

TEST(RequestFraming, RejectsTransferEncodingNotEndingInChunked) {
    EXPECT_TRUE(validate_request_framing(header_with({{"Transfer-Encoding", "gzip"}})));
    EXPECT_TRUE(validate_request_framing(header_with({{"Transfer-Encoding", "chunked, gzip"}})));
    EXPECT_FALSE(validate_request_framing(header_with({{"Transfer-Encoding", "gzip, chunked"}})));
    EXPECT_FALSE(validate_request_framing(header_with({{"Content-Length", "5"}})));
}

}  // namespace
}  // namespace sluice
