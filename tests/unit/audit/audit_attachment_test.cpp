// Deferred lines with attachments (session recordings): the writer makes them on its thread, has
// a batch's attachments stored before it writes the lines that name them, rewrites the lines
// when they cannot be stored, and refuses deferred lines past the store's bounds rather than
// hold the caller.
#include "agent/audit/audit_attachment.h"

#include <gtest/gtest.h>

#include <fstream>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "agent/audit/audit_record.h"
#include "agent/audit/audit_writer.h"
#include "tests/unit/gate/gate_test_support.h"

namespace sluice {
namespace {

std::vector<nlohmann::json> request_lines(const std::string& path) {
    std::vector<nlohmann::json> lines;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
        auto json = nlohmann::json::parse(line);
        if (json.value("kind", "") == "request") lines.push_back(std::move(json));
    }
    return lines;
}

// Each attachment is the id of its record followed by ';'.
AuditRecord record_named(const std::string& id) {
    AuditRecord record;
    record.id = id;
    record.recording =
        RecordingReference{.error = "", .mode = "full", .session = "conn-" + id, .sha256 = id};
    return record;
}

// A line made from its record, with its id and ';' as its attachment.
class IdLine final : public AuditDeferredLine {
public:
    explicit IdLine(std::string id) : id_(std::move(id)) {}
    void make(std::string& line, std::string& attachment) override {
        record_named(id_).append_line(line);
        attachment = id_ + ";";
    }

private:
    std::string id_;
};

uint64_t write_deferred(AuditWriter& writer, const std::string& id) {
    return writer.write_deferred(record_named(id), std::make_unique<IdLine>(id), id.size() + 1);
}

class IdStore : public AuditAttachmentStore {
public:
    std::string store(std::string_view attachments, std::size_t count) override {
        std::lock_guard lock(mutex);
        ++calls;
        std::size_t seen = 0;
        for (std::size_t at = 0, end; (end = attachments.find(';', at)) != std::string_view::npos;
             at = end + 1, ++seen)
            stored.insert(std::string(attachments.substr(at, end - at)));
        EXPECT_EQ(seen, count);
        return error;
    }
    std::mutex mutex;
    std::set<std::string> stored;
    std::string error;
    int calls = 0;
};

TEST(AuditAttachment, EveryAttachmentIsStoredBeforeTheLineNamingIt) {
    testing::ScratchDir scratch;
    IdStore store;
    int written_before_stored = 0, written = 0;
    AuditWriterOptions options;
    options.path = scratch.file("audit.jsonl");
    options.on_written = [&](std::string_view bytes) {
        std::lock_guard lock(store.mutex);
        for (std::size_t at = 0; (at = bytes.find("\"sha256\":\"", at)) != std::string::npos;) {
            at += 10;
            const std::string id(bytes.substr(at, bytes.find('"', at) - at));
            ++written;
            if (store.stored.count(id) == 0) ++written_before_stored;
        }
    };
    AuditWriter writer(options);
    writer.set_attachment_store(&store, 1000, 1 << 20);
    for (int i = 0; i < 300; ++i) {
        const std::string id = "r" + std::to_string(i);
        ASSERT_NE(write_deferred(writer, id), 0u);
        if (i % 7 == 0) writer.write_record(AuditRecord{});  // a line without one, between
    }
    writer.flush();
    writer.set_attachment_store(nullptr, 0, 0);
    EXPECT_EQ(written, 300);
    EXPECT_EQ(written_before_stored, 0);
    EXPECT_LT(store.calls, 300) << "a batch's attachments go to the store together";
    const auto lines = request_lines(options.path);
    ASSERT_EQ(lines.size(), 300u + 43u);
    EXPECT_EQ(lines.front()["recording"]["sha256"], "r0");
}

TEST(AuditAttachment, LinesWhoseAttachmentsFailedToBeStoredSayWhy) {
    testing::ScratchDir scratch;
    IdStore store;
    store.error = "cannot write segment: No space left on device";
    AuditWriter writer(scratch.file("audit.jsonl"));
    writer.set_attachment_store(&store, 1000, 1 << 20);
    for (int i = 0; i < 3; ++i) {
        const std::string id = "f" + std::to_string(i);
        ASSERT_NE(write_deferred(writer, id), 0u);
    }
    writer.flush();
    writer.set_attachment_store(nullptr, 0, 0);
    const auto lines = request_lines(scratch.file("audit.jsonl"));
    ASSERT_EQ(lines.size(), 3u);
    for (const auto& line : lines) {
        EXPECT_EQ(line["recording"]["error"], store.error) << line.dump();
        EXPECT_EQ(line["recording"]["session"], "conn-" + line["id"].get<std::string>());
        EXPECT_FALSE(line["recording"].contains("sha256"));
    }
}

// While the store is busy the attachments wait in the queue; past its bound the next one is
// refused at once (the caller audits its request as not recorded).
TEST(AuditAttachment, AttachmentsPastTheBoundAreRefusedNotWaitedFor) {
    testing::ScratchDir scratch;
    std::promise<void> entered, release;
    auto released = release.get_future().share();
    class BlockingStore : public AuditAttachmentStore {
    public:
        BlockingStore(std::promise<void>& entered, std::shared_future<void> released)
            : entered_(entered), released_(std::move(released)) {}
        std::string store(std::string_view, std::size_t) override {
            if (!signalled_) entered_.set_value();
            signalled_ = true;
            released_.wait();
            return "";
        }

    private:
        std::promise<void>& entered_;
        std::shared_future<void> released_;
        bool signalled_ = false;
    } store(entered, released);
    AuditWriter writer(scratch.file("audit.jsonl"));
    writer.set_attachment_store(&store, 2, 1 << 20);
    ASSERT_NE(write_deferred(writer, "a"), 0u);
    entered.get_future().wait();  // the writer holds "a" in the store
    EXPECT_NE(write_deferred(writer, "b"), 0u);
    EXPECT_NE(write_deferred(writer, "c"), 0u);
    EXPECT_EQ(write_deferred(writer, "d"), 0u);
    release.set_value();
    writer.flush();
    writer.set_attachment_store(nullptr, 0, 0);
    EXPECT_EQ(write_deferred(writer, "e"), 0u) << "no store: refused";
    EXPECT_EQ(request_lines(scratch.file("audit.jsonl")).size(), 3u);
}

}  // namespace
}  // namespace sluice
