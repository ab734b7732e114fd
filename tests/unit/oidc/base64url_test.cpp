#include "agent/oidc/base64url.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice {
namespace {

TEST(Base64Url, KnownVectors) {
    // RFC 4648 §10, in the URL-safe alphabet without padding.
    EXPECT_EQ(encode_base64url(""), "");
    EXPECT_EQ(encode_base64url("f"), "Zg");
    EXPECT_EQ(encode_base64url("fo"), "Zm8");
    EXPECT_EQ(encode_base64url("foo"), "Zm9v");
    EXPECT_EQ(encode_base64url("foobar"), "Zm9vYmFy");
    EXPECT_EQ(encode_base64url("\xfb\xff"), "-_8");
    EXPECT_EQ(decode_base64url("-_8"), std::string("\xfb\xff"));
    EXPECT_EQ(decode_base64url("eyJhbGciOiJFUzI1NiJ9"), std::string(R"({"alg":"ES256"})"));
}

TEST(Base64Url, RoundTripsEveryLengthAndByte) {
    std::string bytes;
    for (int i = 0; i < 300; ++i) {
        bytes.push_back(static_cast<char>(i * 37 + 11));
        auto decoded = decode_base64url(encode_base64url(bytes));
        ASSERT_TRUE(decoded.has_value()) << i;
        ASSERT_EQ(*decoded, bytes) << i;
    }
}

TEST(Base64Url, RefusesNonCanonicalAndForeignInput) {
    for (const char* bad : {"Zg==", "Zg=", "Z", "Zm9vY", "Zm9v+A", "Zm9v/A", "Zm 9v", "Zm9v\n",
                            "Zh", "Zm9", "Zm8!"}) {
        // "Zh" and "Zm9" carry non-zero unused bits: a second spelling of the same bytes.
        EXPECT_FALSE(decode_base64url(bad).has_value()) << bad;
    }
    EXPECT_EQ(decode_base64url(""), std::string());
}

}  // namespace
}  // namespace sluice
