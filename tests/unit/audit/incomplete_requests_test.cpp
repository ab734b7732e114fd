#include "agent/audit/incomplete_requests.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "agent/audit/audit_writer.h"

namespace sluice {
namespace {

std::string line(const std::string& kind, const std::string& id,
                 const std::string& path = "/v1/chat/completions") {
    return nlohmann::json{{"kind", kind},
                          {"id", id},
                          {"decision", {{"action", "allow"}, {"reason", ""}}},
                          {"request", {{"path", path}}}}
               .dump() +
           "\n";
}

TEST(IncompleteRequests, AForwardedRequestWithoutItsFinalRecordIsOwedOne) {
    const std::string audit = line("forwarded", "a") + line("request", "a") +
                              line("forwarded", "b", "/v1/responses") + line("connection", "c") +
                              line("forwarded", "d") + line("request", "d");
    const auto owed = incomplete_request_records(audit);
    ASSERT_EQ(owed.size(), 1u);
    EXPECT_EQ(owed[0]["id"], "b");
    EXPECT_EQ(owed[0]["kind"], "request");
    EXPECT_EQ(owed[0]["decision"]["action"], "error");
    EXPECT_EQ(owed[0]["decision"]["reason"], "sluiced_stopped");
    EXPECT_EQ(owed[0]["request"]["path"], "/v1/responses");
}

TEST(IncompleteRequests, AnApprovalEventNeverEndsItsRequest) {
    const std::string audit =
        line("approval", "a") + line("forwarded", "a") + line("approval", "a");
    const auto owed = incomplete_request_records(audit);
    ASSERT_EQ(owed.size(), 1u);
    EXPECT_EQ(owed[0]["id"], "a");
}

TEST(IncompleteRequests, OnceRecordedTheyAreNotOwedAgainAndBrokenLinesAreSkipped) {
    std::string audit = line("forwarded", "b") + "{\"kind\":\"forw" + "\n" + "not json\n";
    auto owed = incomplete_request_records(audit);
    ASSERT_EQ(owed.size(), 1u);
    audit += owed[0].dump() + "\n" +
             line("forwarded", "e").substr(0, 10);  // partial last line (a crash mid-write)
    EXPECT_TRUE(incomplete_request_records(audit).empty());
}

TEST(IncompleteRequests, AreWrittenToTheAuditAtStart) {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("sluice-incomplete-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string path = (dir / "audit.jsonl").string();
    std::ofstream(path) << line("forwarded", "x") << line("forwarded", "y") << line("request", "y");
    {
        AuditWriter audit(path);
        EXPECT_EQ(record_incomplete_requests(path, audit), 1u);
        audit.flush();
    }
    {
        AuditWriter audit(path);
        EXPECT_EQ(record_incomplete_requests(path, audit), 0u);  // the next start owes nothing
    }
    std::filesystem::remove_all(dir);
}

// Forwarded, then the file was rotated, then sluiced was killed before the request ended: its
// forwarded record is in the rotated file, and it is still owed its final record.
TEST(IncompleteRequests, AForwardedRecordInTheFileRotatedAwayIsFound) {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("sluice-incomplete-rotated-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string path = (dir / "audit.jsonl").string();
    std::ofstream(path + ".1") << line("forwarded", "old") << line("forwarded", "z");
    std::ofstream(path) << line("request", "old") << line("forwarded", "w");
    {
        AuditWriter audit(path);
        EXPECT_EQ(record_incomplete_requests(path, audit), 2u) << "z (rotated away) and w";
    }
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice
