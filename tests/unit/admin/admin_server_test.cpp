#include "agent/admin/admin_server.h"
#include "agent/common/limits.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>

namespace sluice {
namespace {

class AdminServerTest : public ::testing::Test {
protected:
    void SetUp() override {
        char pattern[] = "/tmp/sluice-admin-test.XXXXXX";
        dir_ = mkdtemp(pattern);
        ::chmod(dir_.c_str(), 0755);
        path_ = dir_ + "/admin.sock";
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::string dir_;
    std::string path_;
};

TEST_F(AdminServerTest, AnswersKnownCommandsAndNamesUnknownOnes) {
    AdminServer server(path_);
    server.on("status", [](const nlohmann::json&) { return nlohmann::json{{"ok", true}}; });
    server.start();
    EXPECT_EQ(admin_call(path_, {{"command", "status"}})["ok"], true);
    EXPECT_EQ(admin_call(path_, {{"command", "nope"}})["error"], "unknown command 'nope'");
}

// `approvals list` with a thousand holds answers ~0.5 MiB: the request limit is not the answer's.
TEST_F(AdminServerTest, AnswersLargerThanARequestMayBeAreRead) {
    AdminServer server(path_);
    const std::string big(limits::kAdminRequestMaxBytes * 4, 'x');
    server.on("list", [&](const nlohmann::json&) { return nlohmann::json{{"items", big}}; });
    server.start();
    EXPECT_EQ(admin_call(path_, {{"command", "list"}})["items"], big);
}

TEST_F(AdminServerTest, SocketIsOwnerAndGroupOnly) {
    AdminServer server(path_);
    struct stat st {};
    ASSERT_EQ(::stat(path_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0660u);
}

TEST_F(AdminServerTest, RefusesOtherUsersByPeerCredentials) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to act as another user";
    AdminServer server(path_);
    server.on("status", [](const nlohmann::json&) { return nlohmann::json{{"secret", "usage"}}; });
    server.start();
    ::chmod(path_.c_str(), 0666);  // even if the file mode were wrong, SO_PEERCRED refuses
    const pid_t child = ::fork();
    if (child == 0) {
        if (::setgid(65534) != 0 || ::setuid(65534) != 0) _exit(3);
        // The refusal reaches the caller as AdminAccessDenied (sluicectl: "permission denied",
        // exit 1), never as the answer and never as "not running".
        try {
            auto response = admin_call(path_, {{"command", "status"}});
            _exit(response.contains("secret") ? 1 : 2);
        } catch (const AdminAccessDenied&) {
            _exit(0);
        } catch (...) {
            _exit(4);
        }
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(AdminPeerPolicy, RootOwnUserAndOperatorGroupOnly) {
    EXPECT_TRUE(AdminServer::peer_allowed(0, 123));
    EXPECT_TRUE(AdminServer::peer_allowed(123, 123));
    EXPECT_FALSE(AdminServer::peer_allowed(1000, 0));
    // Operators: members of the service user's group, never of root's.
    EXPECT_TRUE(AdminServer::peer_allowed(1000, 123, true, 123));
    EXPECT_FALSE(AdminServer::peer_allowed(1000, 123, false, 123));
    EXPECT_FALSE(AdminServer::peer_allowed(1000, 0, true, 0));
}

}  // namespace
}  // namespace sluice
