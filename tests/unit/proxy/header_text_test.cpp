// The header text must be what Beast's serializer would have sent, byte for byte.
#include "agent/proxy/header_text.h"

#include <sstream>

#include <gtest/gtest.h>
#include <boost/beast/http/write.hpp>

namespace sluice {
namespace {

namespace http = boost::beast::http;

template <class Header>
std::string beast_text(const Header& header) {
    std::ostringstream out;
    out << header;
    return out.str();
}

template <class Header>
std::string our_text(const Header& header) {
    std::string out = "kept|";  // appends, never overwrites
    append_header_text(out, header);
    EXPECT_TRUE(out.starts_with("kept|"));
    return out.substr(5);
}

TEST(HeaderText, RequestsMatchBeast) {
    RequestHeader post;
    post.method(http::verb::post);
    post.target("/v1/chat/completions?x=1");
    post.set(http::field::host, "api.openai.com");
    post.set(http::field::content_type, "application/json");
    post.insert("X-Stainless-Lang", "js");
    post.insert("x-stainless-lang", "again");  // a repeat: Beast keeps them together
    post.set(http::field::content_length, "1002");
    EXPECT_EQ(our_text(post), beast_text(post));

    RequestHeader custom;  // a method Beast has no enum for, HTTP/1.0, no fields
    custom.method_string("PURGE");
    custom.target("/");
    custom.version(10);
    EXPECT_EQ(our_text(custom), beast_text(custom));
    EXPECT_EQ(our_text(custom), "PURGE / HTTP/1.0\r\n\r\n");
}

TEST(HeaderText, ResponsesMatchBeast) {
    ResponseHeader ok;
    ok.result(http::status::ok);
    ok.set(http::field::content_type, "application/json");
    ok.insert("openai-processing-ms", "12");
    ok.set(http::field::content_length, "1499");
    EXPECT_EQ(our_text(ok), beast_text(ok));
    EXPECT_TRUE(our_text(ok).starts_with("HTTP/1.1 200 OK\r\n"));

    ResponseHeader custom_reason;  // an upstream's own reason phrase is kept
    custom_reason.result(429);
    custom_reason.reason("Slow Down");
    EXPECT_EQ(our_text(custom_reason), beast_text(custom_reason));

    for (unsigned code : {100u, 204u, 301u, 404u, 499u, 502u, 504u, 599u}) {
        ResponseHeader header;
        header.result(code);
        header.set(http::field::connection, "close");
        EXPECT_EQ(our_text(header), beast_text(header)) << code;
    }
}

}  // namespace
}  // namespace sluice
