// The recording store on a real directory: compression, AES-256-GCM at rest, content
// addressing (a changed byte is caught), file modes, crash leftovers and retention.
#include "agent/recording/recording_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <zstd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "agent/common/sha256_hex.h"
#include "tests/unit/gate/gate_test_support.h"

namespace sluice {
namespace {

const std::string kKey(32, 'k');

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

void set_age(const std::string& path, std::chrono::seconds age) {
    const auto when = std::chrono::system_clock::now() - age;
    const auto since_epoch = when.time_since_epoch();
    timespec times[2];
    times[0].tv_sec = times[1].tv_sec =
        std::chrono::duration_cast<std::chrono::seconds>(since_epoch).count();
    times[0].tv_nsec = times[1].tv_nsec = 0;
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
}

mode_t mode_of(const std::string& path) {
    struct stat st {};
    ::stat(path.c_str(), &st);
    return st.st_mode & 0777;
}

TEST(RecordingStore, StoresCompressedUnderItsHashWithPrivateModes) {
    testing::ScratchDir scratch;
    const std::string dir = scratch.path() + "/recordings";
    RecordingStore store(dir, "", true);
    const std::string json = R"({"request":{"body":")" + std::string(4000, 'x') + R"("}})";
    uint64_t bytes = 0;
    const std::string sha = store.store(json, &bytes);
    EXPECT_EQ(sha, sha256_hex(json));
    const std::string path = dir + "/" + sha + ".rec";
    EXPECT_EQ(mode_of(dir), 0700u);
    EXPECT_EQ(mode_of(path), 0600u);
    EXPECT_LT(bytes, json.size() / 10) << "zstd should shrink a repetitive body";
    EXPECT_EQ(slurp(path).size(), bytes);
    EXPECT_EQ(store.load(sha), json);
    ASSERT_EQ(store.list().size(), 1u);
}

TEST(RecordingStore, EncryptedRecordingsNeedTheKeyAndHideTheText) {
    testing::ScratchDir scratch;
    RecordingStore store(scratch.path() + "/r", kKey, true);
    const std::string json = R"({"secret":"placeholder <EMAIL_1> and more text"})";
    const std::string sha = store.store(json);
    const std::string file = slurp(scratch.path() + "/r/" + sha + ".rec");
    EXPECT_EQ(file.find("placeholder"), std::string::npos);
    EXPECT_EQ(store.load(sha), json);
    RecordingStore wrong_key(scratch.path() + "/r", std::string(32, 'w'), false);
    EXPECT_THROW(wrong_key.load(sha), std::runtime_error);
    RecordingStore no_key(scratch.path() + "/r", "", false);
    try {
        no_key.load(sha);
        FAIL() << "read without a key";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("no recording.key_file"), std::string::npos);
    }
}

// Every byte of a stored file, flipped, is caught on load: by GCM's tag when sealed, by zstd's
// frame or the content hash when not.
TEST(RecordingStore, EveryChangedByteIsCaught) {
    for (const std::string& key : {std::string(), kKey}) {
        testing::ScratchDir scratch;
        RecordingStore store(scratch.path(), key, true);
        const std::string json = R"({"id":"r1","answer":"sunny-and-21C"})";
        const std::string sha = store.store(json);
        const std::string path = scratch.path() + "/" + sha + ".rec";
        const std::string original = slurp(path);
        for (std::size_t i = 0; i < original.size(); ++i) {
            std::string changed = original;
            changed[i] = static_cast<char>(changed[i] ^ 0x01);
            std::ofstream(path, std::ios::binary | std::ios::trunc) << changed;
            EXPECT_THROW(store.load(sha), std::runtime_error)
                << "byte " << i << " key " << key.size();
        }
    }
}

TEST(RecordingStore, ARenamedRecordingDoesNotMatchItsNewName) {
    testing::ScratchDir scratch;
    RecordingStore store(scratch.path(), "", true);
    const std::string a = store.store(R"({"a":1})");
    const std::string b = store.store(R"({"b":2})");
    std::filesystem::rename(scratch.path() + "/" + a + ".rec", scratch.path() + "/" + b + ".rec");
    EXPECT_THROW(store.load(b), std::runtime_error);
}

TEST(RecordingStore, RetentionRemovesTheOldAndThenTheOldestPastTheCap) {
    testing::ScratchDir scratch;
    RecordingStore store(scratch.path(), "", true);
    std::vector<std::string> shas;
    for (int i = 0; i < 5; ++i) shas.push_back(store.store("{\"n\":" + std::to_string(i) + "}"));
    // Ages 50, 40, 30, 20, 10 hours.
    for (int i = 0; i < 5; ++i)
        set_age(scratch.path() + "/" + shas[i] + ".rec", std::chrono::hours(50 - 10 * i));
    const auto now = std::chrono::system_clock::now();
    EXPECT_EQ(store.enforce({std::chrono::hours(45), 0}, now), 1u);
    EXPECT_EQ(store.list().size(), 4u);
    uint64_t one = store.list().front().bytes;
    EXPECT_EQ(store.enforce({std::chrono::seconds(0), 2 * one}, now), 2u);
    const auto left = store.list();
    ASSERT_EQ(left.size(), 2u);
    EXPECT_EQ(left[0].sha256, shas[3]);  // the youngest two stay
    EXPECT_EQ(left[1].sha256, shas[4]);
    EXPECT_EQ(store.enforce({}, now), 0u);  // no limits: nothing removed
}

TEST(RecordingStore, TemporariesACrashLeftAreRemovedAndNeverListed) {
    testing::ScratchDir scratch;
    RecordingStore store(scratch.path(), "", true);
    std::ofstream(scratch.path() + "/.tmp-abc") << "half";
    EXPECT_TRUE(store.list().empty());
    store.remove_temporaries();
    EXPECT_FALSE(std::filesystem::exists(scratch.path() + "/.tmp-abc"));
}

TEST(RecordingKey, ReadsHexOrRawAndRefusesAKeyOthersCanRead) {
    testing::ScratchDir scratch;
    const std::string hex = scratch.write("hex.key", std::string(64, 'a') + "\n");
    ::chmod(hex.c_str(), 0600);
    EXPECT_EQ(load_recording_key(hex), std::string(32, '\xaa'));
    const std::string raw = scratch.write("raw.key", kKey);
    ::chmod(raw.c_str(), 0600);
    EXPECT_EQ(load_recording_key(raw), kKey);
    ::chmod(raw.c_str(), 0644);
    try {
        load_recording_key(raw);
        FAIL() << "a world-readable key was accepted";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("chmod 0600"), std::string::npos);
    }
    const std::string short_key = scratch.write("short.key", "abcd\n");
    ::chmod(short_key.c_str(), 0600);
    EXPECT_THROW(load_recording_key(short_key), std::runtime_error);
}

}  // namespace
}  // namespace sluice
