// The transforms the one answer relay applies: bytes as they came, or the stream masker's
// output, with the last piece flushing what was held back.
#include "agent/proxy/body_transform.h"

#include <gtest/gtest.h>

#include "policy/masking/masking_session.h"
#include "tests/unit/masking/masking_test_support.h"

namespace sluice {
namespace {

using masking::testing::chat_stream;
using masking::testing::read_client_view;
using masking::testing::redact_all;

TEST(BodyTransform, PassThroughSendsEachPieceAsItCame) {
    PassThrough transform;
    std::string_view out;
    EXPECT_FALSE(transform.changes_length());
    ASSERT_TRUE(transform.feed("data: {\"a\":1}\n\n", false, out));
    EXPECT_EQ(out, "data: {\"a\":1}\n\n");
    ASSERT_TRUE(transform.feed("", true, out));
    EXPECT_TRUE(out.empty());
}

TEST(BodyTransform, StreamMaskingMasksAcrossPiecesAndFlushesOnTheLast) {
    const std::string stream = chat_stream({"mail jane.roe", "@example.com", " now"});
    // Every split point: what the client gets, joined, is the masked stream, whatever the pieces.
    for (std::size_t split = 0; split <= stream.size(); ++split) {
        masking::MaskingSession session(redact_all(), "k");
        StreamMasking transform(session.make_stream_masker("/v1/chat/completions"));
        EXPECT_TRUE(transform.changes_length());
        std::string client;
        std::string_view out;
        ASSERT_TRUE(transform.feed(std::string_view(stream).substr(0, split), false, out)) << split;
        client.append(out);
        ASSERT_TRUE(transform.feed(std::string_view(stream).substr(split), true, out)) << split;
        client.append(out);
        const auto view = read_client_view(client);
        EXPECT_TRUE(view.valid) << split;
        EXPECT_EQ(view.chat_content, "mail [EMAIL] now") << split;
        EXPECT_EQ(client.find("jane.roe"), std::string::npos) << split;
    }
}

}  // namespace
}  // namespace sluice
