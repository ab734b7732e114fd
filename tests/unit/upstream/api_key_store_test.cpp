#include "agent/upstream/api_key_store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

namespace sluice {
namespace {

struct TempFile {
    std::string path = std::filesystem::temp_directory_path() / ("sluice-key-" + std::to_string(::getpid()));
    ~TempFile() { std::filesystem::remove(path); }
    void write(const std::string& text) { std::ofstream(path, std::ios::trunc) << text; }
};

TEST(ApiKeyStore, ReadsAndTrimsTheKey) {
    TempFile file;
    file.write("  sk-real-123\n");
    ApiKeyStore store(file.path);
    ASSERT_TRUE(store.key());
    EXPECT_EQ(*store.key(), "sk-real-123");
}

TEST(ApiKeyStore, MissingOrMalformedFileMeansNoKeyAndTheMessageHoldsNoSecret) {
    TempFile file;
    ApiKeyStore missing(file.path);
    EXPECT_FALSE(missing.key());
    file.write("sk-one sk-two\n");
    ApiKeyStore two_keys(file.path);
    EXPECT_FALSE(two_keys.key());
    EXPECT_EQ(two_keys.reload().find("sk-one"), std::string::npos);
}

TEST(ApiKeyStore, PicksUpAChangedFile) {
    TempFile file;
    file.write("sk-first\n");
    ApiKeyStore store(file.path);
    EXPECT_FALSE(store.reload_if_changed());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    file.write("sk-second-longer\n");
    EXPECT_TRUE(store.reload_if_changed());
    EXPECT_EQ(*store.key(), "sk-second-longer");
}

TEST(CredentialFingerprint, IsShortStableAndNotTheKey) {
    const auto a = credential_fingerprint("sk-dummy");
    EXPECT_EQ(a, credential_fingerprint("sk-dummy"));
    EXPECT_NE(a, credential_fingerprint("sk-dummz"));
    EXPECT_EQ(a.rfind("sha256:", 0), 0u);
    EXPECT_EQ(a.size(), 7u + 12u);
    EXPECT_EQ(credential_fingerprint(""), "");
}

// The per-thread memo of the last credential must not hand one client's fingerprint to another.
TEST(CredentialFingerprint, IsTheDigestOfWhatWasPresentedEachTime) {
    EXPECT_EQ(credential_fingerprint("sk-dummy"), "sha256:1eaa840f0577");
    EXPECT_EQ(credential_fingerprint("sk-dummz"), "sha256:458c1a9d1378");
    EXPECT_EQ(credential_fingerprint("sk-dummy"), "sha256:1eaa840f0577");
    EXPECT_EQ(credential_fingerprint(""), "");
    EXPECT_EQ(credential_fingerprint("sk-dummy"), "sha256:1eaa840f0577");
}

}  // namespace
}  // namespace sluice
