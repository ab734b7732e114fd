#include "agent/upstream/api_key_store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

namespace sluice {
namespace {

struct TempFile {
    std::string path =
        std::filesystem::temp_directory_path() / ("sluice-key-" + std::to_string(::getpid()));
    ~TempFile() { std::filesystem::remove(path); }
    void write(const std::string& text,
               std::filesystem::perms mode = std::filesystem::perms::owner_read |
                                             std::filesystem::perms::owner_write) {
        std::ofstream(path, std::ios::trunc) << text;
        std::filesystem::permissions(path, mode);
    }
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

// As OpenSSH refuses a loose private key: any permission for group or others, whatever the
// rest of the mode, means no key, a message naming the mode, and the problem kept for status.
TEST(ApiKeyStore, RefusesAFileGroupOrOthersMayAccess) {
    TempFile file;
    for (unsigned mode = 0; mode <= 0777; ++mode) {
        if ((mode & 0400) == 0) continue;  // the owner (root here) must be able to read it
        file.write("sk-real-123\n", static_cast<std::filesystem::perms>(mode));
        ApiKeyStore store(file.path);
        const bool loose = (mode & 077) != 0;
        EXPECT_EQ(static_cast<bool>(store.key()), !loose) << std::oct << mode;
        EXPECT_EQ(store.problem().empty(), !loose) << std::oct << mode;
        if (loose) {
            char text[8];
            std::snprintf(text, sizeof text, "%04o", mode);
            EXPECT_NE(store.problem().find(text), std::string::npos) << store.problem();
            EXPECT_EQ(store.problem().find("sk-real"), std::string::npos);
        }
    }
}

TEST(ApiKeyStore, ARefusedFileIsUsedOnceItsModeIsFixed) {
    TempFile file;
    file.write("sk-real-123\n",
               std::filesystem::perms::owner_read | std::filesystem::perms::group_read);
    ApiKeyStore store(file.path);
    EXPECT_FALSE(store.key());
    std::filesystem::permissions(file.path, std::filesystem::perms::owner_read);
    store.reload();
    ASSERT_TRUE(store.key());
    EXPECT_EQ(*store.key(), "sk-real-123");
    EXPECT_EQ(store.problem(), "");
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
