// The recording store on a real directory: segments, compression, AES-256-GCM at rest, content
// addressing (a changed byte is caught), file modes, torn tails, the first layout and retention.
#include "agent/recording/recording_store.h"
#include "agent/recording/recording_segment_writer.h"

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

// Writes each JSON text as one batch (one commit) and returns their hashes.
std::vector<std::string> store_each(RecordingSegmentWriter& writer,
                                    const std::vector<std::string>& texts) {
    std::vector<std::string> shas;
    for (const auto& text : texts) {
        shas.push_back(writer.add(text));
        writer.commit();
    }
    return shas;
}

TEST(RecordingStore, StoresCompressedUnderItsHashWithPrivateModes) {
    testing::ScratchDir scratch;
    const std::string dir = scratch.path() + "/recordings";
    RecordingStore store(dir, "", true);
    RecordingSegmentWriter writer(dir, "", {});
    const std::string json = R"({"request":{"body":")" + std::string(4000, 'x') + R"("}})";
    uint64_t bytes = 0;
    const std::string sha = writer.add(json, &bytes);
    writer.commit();
    EXPECT_EQ(sha, sha256_hex(json));
    EXPECT_EQ(mode_of(dir), 0700u);
    EXPECT_EQ(mode_of(writer.segment()), 0600u);
    EXPECT_LT(bytes, json.size() / 10) << "zstd should shrink a repetitive body";
    EXPECT_EQ(slurp(writer.segment()).size(), bytes);
    EXPECT_EQ(store.load(sha), json);
    ASSERT_EQ(store.list().size(), 1u);
}

// Sealed at zstd's level -5: 40% fewer instructions than -1 on a small recording, for about a
// sixth more bytes (docs/benchmarks.md, "Session recording: history"). Any zstd reads it.
TEST(RecordingStore, EntriesAreZstdFramesOfTheFastLevel) {
    const std::string json = R"({"identity":{"comm":"python3","user":"alice"},"request":{"bytes":)"
                             R"(995,"method":"POST","model":"gpt-4o-mini"},"response":{"bytes":)"
                             R"(1499,"status":200},"session":"conn-1","version":1})";
    RecordingSealer sealer("");
    std::string entry;
    sealer.append_entry(entry, sha256_hex(json), json);
    std::string frame(ZSTD_compressBound(json.size()), '\0');
    frame.resize(ZSTD_compress(frame.data(), frame.size(), json.data(), json.size(), -5));
    EXPECT_EQ(entry.substr(kEntryHeaderBytes), frame);
    EXPECT_EQ(open_entry(entry, ""), json);
}

// The point of segments: recordings are appended to one open file, not a file each.
TEST(RecordingStore, RecordingsShareASegmentAndEachIsFoundByItsHash) {
    testing::ScratchDir scratch;
    RecordingStore store(scratch.path(), "", true);
    RecordingSegmentWriter writer(scratch.path(), "", {});
    std::vector<std::string> texts;
    for (int i = 0; i < 300; ++i) texts.push_back("{\"n\":" + std::to_string(i) + "}");
    std::vector<std::string> shas;
    for (std::size_t i = 0; i < texts.size(); ++i) {
        shas.push_back(writer.add(texts[i]));
        if (i % 100 == 99) writer.commit();  // three batches
    }
    ASSERT_EQ(store.files().size(), 1u);
    const auto index = store.index();
    ASSERT_EQ(index.size(), texts.size());
    for (std::size_t i = 0; i < texts.size(); ++i)
        EXPECT_EQ(store.load(index.at(shas[i])), texts[i]);
    const auto listed = store.list();
    for (std::size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(listed[i].sha256, shas[i]);
}

TEST(RecordingStore, EncryptedRecordingsNeedTheKeyAndHideTheText) {
    testing::ScratchDir scratch;
    RecordingStore store(scratch.path() + "/r", kKey, true);
    RecordingSegmentWriter writer(scratch.path() + "/r", kKey, {});
    const std::string json = R"({"secret":"placeholder <EMAIL_1> and more text"})";
    const std::string sha = store_each(writer, {json})[0];
    EXPECT_EQ(slurp(writer.segment()).find("placeholder"), std::string::npos);
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

// Every byte of a segment, flipped, is caught: the recording it belongs to fails to load (GCM's
// tag when sealed, zstd's frame or the content hash when not) or is no longer found under its
// hash (which `audit verify` reports as missing); never read back as if unchanged.
TEST(RecordingStore, EveryChangedByteIsCaught) {
    for (const std::string& key : {std::string(), kKey}) {
        testing::ScratchDir scratch;
        RecordingStore store(scratch.path(), key, true);
        RecordingSegmentWriter writer(scratch.path(), key, {});
        const std::vector<std::string> texts = {R"({"id":"r1","answer":"sunny-and-21C"})",
                                                R"({"id":"r2","answer":"rain-and-12C"})"};
        const auto shas = store_each(writer, texts);
        const std::string path = writer.segment();
        const std::string original = slurp(path);
        for (std::size_t i = 0; i < original.size(); ++i) {
            std::string changed = original;
            changed[i] = static_cast<char>(changed[i] ^ 0x01);
            std::ofstream(path, std::ios::binary | std::ios::trunc) << changed;
            int intact = 0;
            const auto index = store.index();
            for (std::size_t r = 0; r < texts.size(); ++r) {
                const auto found = index.find(shas[r]);
                if (found == index.end()) continue;
                try {
                    if (store.load(found->second) == texts[r]) ++intact;
                } catch (const std::runtime_error&) {
                }
            }
            EXPECT_LT(intact, 2) << "byte " << i << " key " << key.size();
        }
    }
}

TEST(RecordingStore, AnEntryMovedToAnotherOffsetDoesNotPassForTheOneThere) {
    testing::ScratchDir scratch;
    RecordingStore store(scratch.path(), "", true);
    RecordingSegmentWriter writer(scratch.path(), "", {});
    const auto shas = store_each(writer, {R"({"a":1})", R"({"b":2})"});
    auto a = store.index().at(shas[0]);
    a.sha256 = shas[1];  // an index pointing one hash at another's entry
    EXPECT_THROW(store.load(a), std::runtime_error);
}

// kill -9 in the middle of a write leaves a torn entry at the segment's end: it is not listed
// (no audit line named it), and the next start writes a new segment.
TEST(RecordingStore, ATornLastEntryIsSkippedAndTheNextWriterStartsANewSegment) {
    testing::ScratchDir scratch;
    RecordingStore store(scratch.path(), "", true);
    std::string first_segment;
    {
        RecordingSegmentWriter writer(scratch.path(), "", {});
        store_each(writer, {R"({"a":1})", R"({"b":2})"});
        first_segment = writer.segment();
    }
    std::string torn;
    RecordingSealer(std::string()).append_entry(torn, sha256_hex("{}"), "{}");
    for (std::size_t cut : {std::size_t{5}, kEntryHeaderBytes, torn.size() - 1}) {
        const std::string before = slurp(first_segment);
        std::ofstream(first_segment, std::ios::binary | std::ios::app) << torn.substr(0, cut);
        EXPECT_EQ(store.list().size(), 2u) << "cut at " << cut;
        std::ofstream(first_segment, std::ios::binary | std::ios::trunc) << before;
    }
    std::ofstream(first_segment, std::ios::binary | std::ios::app) << torn.substr(0, 20);
    RecordingSegmentWriter next(scratch.path(), "", {});
    const std::string sha = store_each(next, {R"({"c":3})"})[0];
    EXPECT_NE(next.segment(), first_segment);
    EXPECT_EQ(store.list().size(), 3u);
    EXPECT_EQ(store.load(sha), R"({"c":3})");
}

TEST(RecordingStore, SegmentsRollBySizeAndRetentionRemovesTheOldThenTheOldest) {
    testing::ScratchDir scratch;
    RecordingStore store(scratch.path(), "", true);
    RecordingSegmentWriter writer(scratch.path(), "", {1, std::chrono::seconds(600)});
    std::vector<std::string> segments;
    std::vector<std::string> shas;
    for (int i = 0; i < 5; ++i) {
        shas.push_back(store_each(writer, {"{\"n\":" + std::to_string(i) + "}"})[0]);
        segments.push_back(writer.segment());
    }
    ASSERT_EQ(store.files().size(), 5u) << "a full segment is rolled before the next write";
    // Ages 50, 40, 30, 20, 10 hours.
    for (int i = 0; i < 5; ++i) set_age(segments[i], std::chrono::hours(50 - 10 * i));
    const auto now = std::chrono::system_clock::now();
    EXPECT_EQ(store.enforce({std::chrono::hours(45), 0}, now), 1u);
    EXPECT_EQ(store.list().size(), 4u);
    const uint64_t one = store.files().front().bytes;
    EXPECT_EQ(store.enforce({std::chrono::seconds(0), 2 * one}, now), 2u);
    const auto left = store.list();
    ASSERT_EQ(left.size(), 2u);
    EXPECT_EQ(left[0].sha256, shas[3]);  // the youngest two stay
    EXPECT_EQ(left[1].sha256, shas[4]);
    EXPECT_EQ(store.enforce({}, now), 0u);  // no limits: nothing removed
    // The segment being written is never removed, however old or large.
    set_age(segments[4], std::chrono::hours(100));
    EXPECT_EQ(store.enforce({std::chrono::hours(1), 1}, now, segments[4]), 1u);
    EXPECT_EQ(store.list().size(), 1u);
}

TEST(RecordingStore, SegmentLimitsFollowRetention) {
    EXPECT_EQ(segment_limits_for({}).max_bytes, 64u * 1024 * 1024);
    EXPECT_EQ(segment_limits_for({std::chrono::seconds(0), 8u << 20}).max_bytes, 1u << 20);
    EXPECT_EQ(segment_limits_for({std::chrono::seconds(0), 1000}).max_bytes, 64u * 1024);
    EXPECT_EQ(segment_limits_for({std::chrono::seconds(80), 0}).max_age, std::chrono::seconds(10));
}

// Recordings of the first layout (a file each) are still listed, read and checked.
TEST(RecordingStore, RecordingsOfTheFirstLayoutAreStillRead) {
    testing::ScratchDir scratch;
    RecordingStore store(scratch.path(), "", true);
    const std::string json = R"({"old":"layout"})";
    std::string frame(ZSTD_compressBound(json.size()), '\0');
    frame.resize(ZSTD_compress(frame.data(), frame.size(), json.data(), json.size(), 1));
    const std::string sha = sha256_hex(json);
    std::ofstream(scratch.path() + "/" + sha + ".rec", std::ios::binary)
        << "SLUICEREC1" << '\0' << frame;
    ASSERT_EQ(store.list().size(), 1u);
    EXPECT_EQ(store.load(sha), json);
    std::filesystem::rename(scratch.path() + "/" + sha + ".rec",
                            scratch.path() + "/" + sha256_hex("other") + ".rec");
    EXPECT_THROW(store.load(sha256_hex("other")), std::runtime_error);
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
