// Executable trust from the kernel's view of a running process: a binary a user could have put
// in place (their own file, a writable directory on its path, /tmp, a deleted file) is never
// trusted, and an `exes` rule does not match it; the same binary installed by root is.
#include "agent/identity/exe_trust.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "agent/identity/identity.h"
#include "agent/identity/policy_identity.h"
#include "policy/policy_engine.h"
#include "policy/policy_loader.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;
constexpr uint32_t kNobody = 65534;

// A child running `exe` (a copy of sleep), killed and reaped at the end.
class RunningCopy {
public:
    explicit RunningCopy(const std::string& exe) {
        pid_ = ::fork();
        if (pid_ == 0) {
            ::execl(exe.c_str(), "ci-runner", "30", static_cast<char*>(nullptr));
            ::_exit(127);
        }
        // Until the exec happened, /proc/<pid>/exe names this test binary.
        for (int i = 0;
             i < 200 && fs::read_symlink("/proc/" + std::to_string(pid_) + "/exe") != exe; ++i)
            ::usleep(5000);
    }
    ~RunningCopy() {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
    uint32_t pid() const { return static_cast<uint32_t>(pid_); }

private:
    pid_t pid_ = -1;
};

class ExeTrust : public ::testing::Test {
protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown";
        if (!fs::exists(kSleep)) GTEST_SKIP() << "no " << kSleep;
        char run_tmpl[] = "/run/sluice-exe-test-XXXXXX";  // root's alone, like /usr/local
        char tmp_tmpl[] = "/tmp/sluice-exe-test-XXXXXX";  // everyone may write /tmp
        if (::mkdtemp(run_tmpl) == nullptr || ::mkdtemp(tmp_tmpl) == nullptr) GTEST_SKIP();
        root_dir_ = run_tmpl;
        tmp_dir_ = tmp_tmpl;
        ::chmod(root_dir_.c_str(), 0755);
        ::chmod(tmp_dir_.c_str(), 0755);
    }
    void TearDown() override {
        if (!root_dir_.empty()) fs::remove_all(root_dir_);
        if (!tmp_dir_.empty()) fs::remove_all(tmp_dir_);
    }
    std::string install(const std::string& dir, const std::string& name) {
        fs::create_directories(dir);
        const std::string path = dir + "/" + name;
        fs::copy_file(kSleep, path, fs::copy_options::overwrite_existing);
        ::chmod(path.c_str(), 0755);
        return path;
    }
    static constexpr const char* kSleep = "/usr/bin/sleep";
    std::string root_dir_, tmp_dir_;
};

TEST_F(ExeTrust, RootInstalledBinaryIsTrusted) {
    RunningCopy run(install(root_dir_ + "/bin", "ci-runner"));
    EXPECT_TRUE(exe_is_system_only(run.pid()));
}

TEST_F(ExeTrust, EveryWayAUserCouldHavePlacedItIsUntrusted) {
    struct Case {
        const char* name;
        std::function<std::string()> place;  // returns the binary's path
    };
    const Case cases[] = {
        {"file owned by the user",
         [&] {
             auto p = install(root_dir_ + "/own", "ci-runner");
             ::chown(p.c_str(), kNobody, kNobody);
             return p;
         }},
        {"file writable by everyone",
         [&] {
             auto p = install(root_dir_ + "/ow", "ci-runner");
             ::chmod(p.c_str(), 0757);
             return p;
         }},
        {"file writable by the user's group",
         [&] {
             auto p = install(root_dir_ + "/gw", "ci-runner");
             ::chown(p.c_str(), 0, kNobody);
             ::chmod(p.c_str(), 0775);
             return p;
         }},
        {"directory owned by the user",
         [&] {
             auto p = install(root_dir_ + "/home/nobody/bin", "ci-runner");
             ::chown((root_dir_ + "/home/nobody").c_str(), kNobody, kNobody);
             return p;
         }},
        {"directory writable by everyone",
         [&] {
             auto p = install(root_dir_ + "/shared/bin", "ci-runner");
             ::chmod((root_dir_ + "/shared").c_str(), 01777);
             return p;
         }},
        {"under /tmp", [&] { return install(tmp_dir_ + "/bin", "ci-runner"); }},
    };
    for (const Case& c : cases) {
        RunningCopy run(c.place());
        EXPECT_FALSE(exe_is_system_only(run.pid())) << c.name;
    }
}

TEST_F(ExeTrust, DeletedOrReplacedBinaryIsUntrusted) {
    const std::string path = install(root_dir_ + "/del", "ci-runner");
    {
        RunningCopy run(path);
        fs::remove(path);
        EXPECT_FALSE(exe_is_system_only(run.pid()));
    }
    install(root_dir_ + "/del", "ci-runner");
    RunningCopy run(path);
    // Another file now at the same path: the process still runs the old inode.
    fs::remove(path);
    install(root_dir_ + "/del", "ci-runner");
    EXPECT_FALSE(exe_is_system_only(run.pid()));
}

TEST(ExeTrustMissing, GoneProcessIsUntrusted) {
    const pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    ::waitpid(child, nullptr, 0);
    EXPECT_FALSE(exe_is_system_only(static_cast<uint32_t>(child)));
}

// An `exes` rule and a binary a user copied to a matching, writable path: not matched; root's
// own copy is.
TEST_F(ExeTrust, ExesRuleMatchesOnlyTheRootInstalledCopy) {
    auto policy = load_policy(R"(
version: 1
default: deny
rules:
  - {name: ci-runner, match: {exes: ["*/ci-runner"]}}
  - {name: nobody-own, match: {uids: [65534], user_exes: ["*/ci-runner"]}}
)",
                              "test.yaml");
    ASSERT_TRUE(policy.ok()) << policy.error;
    IdentityResolver resolver({"/nonexistent-cgroup-root", "/proc"}, [](uint32_t, uint32_t) {
        return UserRecord{"nobody", {}};
    });
    PolicyRequest request;
    request.method = "POST";
    request.path = "/v1/chat/completions";
    PolicyState state;

    const std::string users_copy = install(tmp_dir_ + "/home/nobody", "ci-runner");
    ::chown((tmp_dir_ + "/home/nobody").c_str(), kNobody, kNobody);
    ::chown(users_copy.c_str(), kNobody, kNobody);
    RunningCopy user_run(users_copy);
    const Identity user_id = resolver.resolve(user_run.pid(), kNobody, kNobody, "ci-runner", 0);
    EXPECT_EQ(user_id.exe, users_copy);
    EXPECT_FALSE(user_id.exe_trusted);
    EXPECT_EQ(user_id.to_json()["exe_trusted"], false);
    EXPECT_EQ(evaluate(*policy.policy, to_policy_identity(user_id), request, state, {}).rule,
              "nobody-own");
    // Another uid running the same copy matches neither.
    const Identity other = resolver.resolve(user_run.pid(), 1000, 1000, "ci-runner", 0);
    EXPECT_EQ(evaluate(*policy.policy, to_policy_identity(other), request, state, {}).rule,
              "default");

    RunningCopy root_run(install(root_dir_ + "/opt/ci", "ci-runner"));
    const Identity root_id = resolver.resolve(root_run.pid(), 1000, 1000, "ci-runner", 0);
    EXPECT_TRUE(root_id.exe_trusted);
    EXPECT_EQ(evaluate(*policy.policy, to_policy_identity(root_id), request, state, {}).rule,
              "ci-runner");
}

}  // namespace
}  // namespace sluice
