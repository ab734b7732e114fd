#include "agent/identity/identity.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>

#include "agent/identity/cgroup_attribution.h"
#include "agent/identity/cgroup_path_cache.h"
#include "agent/identity/process_info.h"
#include "agent/identity/user_directory.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

const std::string kId64 = "4f1c0b7e9a2d3c5b6e8f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d";
const std::string kPodUid = "0f3a5c2e-1b4d-4e6f-8a9b-0c1d2e3f4a5b";
const std::string kPodUidUnderscore = "0f3a5c2e_1b4d_4e6f_8a9b_0c1d2e3f4a5b";

struct CgroupCase {
    const char* name;
    std::string path;
    CgroupAttribution want;
};

class ParseCgroupPath : public ::testing::TestWithParam<CgroupCase> {};

TEST_P(ParseCgroupPath, Attributes) {
    const CgroupCase& c = GetParam();
    const CgroupAttribution got = parse_cgroup_path(c.path);
    EXPECT_EQ(got.unit, c.want.unit) << c.path;
    EXPECT_EQ(got.slice, c.want.slice) << c.path;
    EXPECT_EQ(got.container_runtime, c.want.container_runtime) << c.path;
    EXPECT_EQ(got.container_id, c.want.container_id) << c.path;
    EXPECT_EQ(got.pod_uid, c.want.pod_uid) << c.path;
}

const CgroupCase kCgroupCases[] = {
    {"Root", "/", {}},
    {"Empty", "", {}},
    {"SystemService",
     "/system.slice/ci-runner.service",
     {"ci-runner.service", "system.slice", "", "", ""}},
    {"Socket", "/system.slice/sshd.socket", {"sshd.socket", "system.slice", "", "", ""}},
    {"UserSession",
     "/user.slice/user-1000.slice/session-3.scope",
     {"session-3.scope", "user-1000.slice", "", "", ""}},
    {"UserManagerService",
     "/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service",
     {"foo.service", "app.slice", "", "", ""}},
    {"TrailingAndDoubleSlashes",
     "//system.slice//foo.service/",
     {"foo.service", "system.slice", "", "", ""}},
    {"ServiceSubgroup",
     "/system.slice/foo.service/worker",
     {"foo.service", "system.slice", "", "", ""}},
    {"DockerSystemd",
     "/system.slice/docker-" + kId64 + ".scope",
     {"docker-" + kId64 + ".scope", "system.slice", "docker", kId64, ""}},
    {"DockerCgroupfs", "/docker/" + kId64, {"", "", "docker", kId64, ""}},
    {"DockerComposeIsNotAContainer",
     "/system.slice/docker-compose@app.service",
     {"docker-compose@app.service", "system.slice", "", "", ""}},
    {"ContainerdScope",
     "/system.slice/cri-containerd-" + kId64 + ".scope",
     {"cri-containerd-" + kId64 + ".scope", "system.slice", "containerd", kId64, ""}},
    {"CrioScope",
     "/machine.slice/crio-" + kId64 + ".scope",
     {"crio-" + kId64 + ".scope", "machine.slice", "cri-o", kId64, ""}},
    {"CrioConmon",
     "/machine.slice/crio-conmon-" + kId64 + ".scope",
     {"crio-conmon-" + kId64 + ".scope", "machine.slice", "cri-o", kId64, ""}},
    {"PodmanNested",
     "/machine.slice/libpod-" + kId64 + ".scope/container",
     {"libpod-" + kId64 + ".scope", "machine.slice", "podman", kId64, ""}},
    {"PodmanConmon",
     "/machine.slice/libpod-conmon-" + kId64 + ".scope",
     {"libpod-conmon-" + kId64 + ".scope", "machine.slice", "podman", kId64, ""}},
    {"PodmanRootless",
     "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + kId64 + ".scope",
     {"libpod-" + kId64 + ".scope", "user.slice", "podman", kId64, ""}},
    {"KubeBurstableContainerd",
     "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + kPodUidUnderscore +
         ".slice/cri-containerd-" + kId64 + ".scope",
     {"cri-containerd-" + kId64 + ".scope", "kubepods-burstable-pod" + kPodUidUnderscore + ".slice",
      "containerd", kId64, kPodUid}},
    {"KubeGuaranteedCrio",
     "/kubepods.slice/kubepods-pod" + kPodUidUnderscore + ".slice/crio-" + kId64 + ".scope",
     {"crio-" + kId64 + ".scope", "kubepods-pod" + kPodUidUnderscore + ".slice", "cri-o", kId64,
      kPodUid}},
    {"KubeBestEffortPodOnly",
     "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + kPodUidUnderscore +
         ".slice",
     {"", "kubepods-besteffort-pod" + kPodUidUnderscore + ".slice", "", "", kPodUid}},
    {"KubeCgroupfsBurstable",
     "/kubepods/burstable/pod" + kPodUid + "/" + kId64,
     {"", "", "cri", kId64, kPodUid}},
    {"KubeCgroupfsGuaranteed",
     "/kubepods/pod" + kPodUid + "/" + kId64,
     {"", "", "cri", kId64, kPodUid}},
    {"KubeSliceBadUid",
     "/kubepods.slice/kubepods-podnotauid.slice",
     {"", "kubepods-podnotauid.slice", "", "", ""}},
    {"ShortHexIsNotAnId",
     "/system.slice/docker-abc.scope",
     {"docker-abc.scope", "system.slice", "", "", ""}},
    {"PodOutsideKubepodsIgnored", "/other/pod" + kPodUid, {"", "", "", "", ""}},
    // The cgroupfs driver (hosts without systemd as init, hybrid v1/v2 layouts): no ".scope".
    {"PodmanCgroupfs", "/libpod_parent/libpod-" + kId64, {"", "", "podman", kId64, ""}},
    {"PodmanCgroupfsConmon",
     "/libpod_parent/libpod-conmon-" + kId64,
     {"", "", "podman", kId64, ""}},
    {"PodmanCgroupParent", "/sluice-c17-ci/libpod-" + kId64, {"", "", "podman", kId64, ""}},
    {"PodmanPodSystemd",
     "/machine.slice/machine-libpod_pod_" + kId64 + ".slice/libpod-" + kId64 + ".scope",
     {"libpod-" + kId64 + ".scope", "machine-libpod_pod_" + kId64 + ".slice", "podman", kId64, ""}},
    {"PodmanCgroupfsSubgroup",
     "/libpod_parent/libpod-" + kId64 + "/container",
     {"", "", "podman", kId64, ""}},
    {"CrioCgroupfsKube",
     "/kubepods/burstable/pod" + kPodUid + "/crio-" + kId64,
     {"", "", "cri-o", kId64, kPodUid}},
    {"DockerRootlessSystemd",
     "/user.slice/user-1000.slice/user@1000.service/docker.service/docker-" + kId64 + ".scope",
     {"docker-" + kId64 + ".scope", "user-1000.slice", "docker", kId64, ""}},
    {"NerdctlSystemd",
     "/system.slice/nerdctl-" + kId64 + ".scope",
     {"nerdctl-" + kId64 + ".scope", "system.slice", "containerd", kId64, ""}},
    {"DockerInDocker",
     "/system.slice/docker-" + kId64 + ".scope/docker/" + std::string(64, 'a'),
     {"docker-" + kId64 + ".scope", "system.slice", "docker", std::string(64, 'a'), ""}},
    {"LibpodPrefixWithoutAnId", "/libpod_parent/libpod-notanid", {"", "", "", "", ""}},
};

INSTANTIATE_TEST_SUITE_P(Table, ParseCgroupPath, ::testing::ValuesIn(kCgroupCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ParseCgroupPath, NeverCrashesOnAnyPrefix) {
    // Every prefix of every table path parses (grind over byte positions).
    for (const auto& c : kCgroupCases) {
        for (size_t n = 0; n <= c.path.size(); ++n) parse_cgroup_path(c.path.substr(0, n));
    }
    SUCCEED();
}

TEST(FindCgroup2Mount, Table) {
    EXPECT_EQ(find_cgroup2_mount("sysfs /sys sysfs rw 0 0\n"
                                 "cgroup2 /sys/fs/cgroup cgroup2 rw,nsdelegate 0 0\n"),
              "/sys/fs/cgroup");
    EXPECT_EQ(find_cgroup2_mount("none /run/my\\040cg cgroup2 rw 0 0"), "/run/my cg");
    EXPECT_EQ(find_cgroup2_mount("cgroup /sys/fs/cgroup/cpu cgroup rw 0 0\n"), "");
    EXPECT_EQ(find_cgroup2_mount(""), "");
    EXPECT_EQ(find_cgroup2_mount("garbage\n\n x\n"), "");
}

TEST(FormatCmdline, Table) {
    EXPECT_EQ(format_cmdline(std::string("curl\0-s\0https://x\0", 19)), "curl -s https://x");
    EXPECT_EQ(format_cmdline(""), "");
    EXPECT_EQ(format_cmdline(std::string("a\0\0b\0\0", 6)), "a  b");
    EXPECT_EQ(format_cmdline("abcdef", 3), "abc");
}

TEST(ParseProcCgroup, Table) {
    EXPECT_EQ(parse_proc_cgroup("0::/system.slice/x.service\n"), "/system.slice/x.service");
    EXPECT_EQ(parse_proc_cgroup("12:cpu:/a\n0::/b\n"), "/b");
    EXPECT_EQ(parse_proc_cgroup("12:cpu:/a\n"), "");
}

TEST(SanitizeUtf8, Table) {
    EXPECT_EQ(sanitize_utf8("plain"), "plain");
    EXPECT_EQ(sanitize_utf8("caf\xc3\xa9"), "caf\xc3\xa9");
    EXPECT_EQ(sanitize_utf8("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");
    EXPECT_EQ(sanitize_utf8("a\xff"
                            "b"),
              "a\xef\xbf\xbd"
              "b");
    EXPECT_EQ(sanitize_utf8("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");  // overlong '/'
    EXPECT_EQ(sanitize_utf8("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // surrogate
    EXPECT_EQ(sanitize_utf8("\xe2\x82"), "\xef\xbf\xbd\xef\xbf\xbd");                  // truncated
}

// A temporary directory tree removed at the end of the test.
class TempTree : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/sluice-identity-test-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        root_ = tmpl;
    }
    void TearDown() override { fs::remove_all(root_); }
    uint64_t inode_of(const std::string& rel) {
        struct stat st {};
        EXPECT_EQ(::stat((root_ + rel).c_str(), &st), 0) << rel;
        return st.st_ino;
    }
    void make_dir(const std::string& rel) { fs::create_directories(root_ + rel); }
    void write_file(const std::string& rel, const std::string& content) {
        std::ofstream(root_ + rel, std::ios::binary) << content;
    }
    std::string root_;
};

using CgroupPathCacheTest = TempTree;

TEST_F(CgroupPathCacheTest, MapsInodesToRelativePaths) {
    make_dir("/system.slice/foo.service");
    make_dir("/user.slice/user-1000.slice/session-3.scope");
    write_file("/system.slice/cgroup.procs", "");  // files are not cgroups
    CgroupPathCache cache(root_ + "/");            // a trailing slash on the root is tolerated
    EXPECT_EQ(cache.lookup(inode_of("/system.slice/foo.service")), "/system.slice/foo.service");
    EXPECT_EQ(cache.lookup(inode_of("/user.slice/user-1000.slice/session-3.scope")),
              "/user.slice/user-1000.slice/session-3.scope");
    EXPECT_EQ(cache.lookup(inode_of("")), "/");
    EXPECT_EQ(cache.lookup(inode_of("/system.slice/cgroup.procs")), std::nullopt);
    EXPECT_EQ(cache.size(), 6u);  // root + 5 directories
}

TEST_F(CgroupPathCacheTest, RescansOnMissButRateLimited) {
    auto now = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
    CgroupPathCache cache(root_, std::chrono::seconds(1), [&] { return now; });
    make_dir("/a.slice");
    EXPECT_EQ(cache.lookup(inode_of("/a.slice")), "/a.slice");
    EXPECT_EQ(cache.scans(), 1u);

    make_dir("/b.slice");
    const uint64_t b = inode_of("/b.slice");
    // Within the interval the miss does not walk the tree again.
    now += std::chrono::milliseconds(500);
    EXPECT_EQ(cache.lookup(b), std::nullopt);
    EXPECT_EQ(cache.scans(), 1u);
    // After it, one walk finds the new cgroup.
    now += std::chrono::milliseconds(600);
    EXPECT_EQ(cache.lookup(b), "/b.slice");
    EXPECT_EQ(cache.scans(), 2u);
    // Hits never walk.
    EXPECT_EQ(cache.lookup(b), "/b.slice");
    EXPECT_EQ(cache.scans(), 2u);
}

TEST_F(CgroupPathCacheTest, VerifiedHintAvoidsWalk) {
    auto now = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
    CgroupPathCache cache(root_, std::chrono::seconds(10), [&] { return now; });
    cache.rescan();
    make_dir("/new.slice/x.service");
    const uint64_t id = inode_of("/new.slice/x.service");
    // A hint whose inode does not match is ignored (and the rate limit blocks a walk).
    EXPECT_EQ(cache.lookup(id, "/new.slice"), std::nullopt);
    EXPECT_EQ(cache.lookup(id, "/new.slice/x.service"), "/new.slice/x.service");
    EXPECT_EQ(cache.scans(), 1u);
}

TEST_F(CgroupPathCacheTest, RemovedCgroupsDropOutOnRescan) {
    make_dir("/gone.scope");
    const uint64_t id = inode_of("/gone.scope");
    CgroupPathCache cache(root_, std::chrono::milliseconds(0));
    EXPECT_EQ(cache.lookup(id), "/gone.scope");
    fs::remove(root_ + "/gone.scope");
    cache.rescan();
    EXPECT_EQ(cache.lookup(id), std::nullopt);
}

TEST_F(CgroupPathCacheTest, MissingRootFindsNothing) {
    CgroupPathCache cache(root_ + "/does-not-exist", std::chrono::milliseconds(0));
    EXPECT_EQ(cache.lookup(1), std::nullopt);
    EXPECT_EQ(cache.size(), 0u);
}

TEST(CgroupPathCacheReal, FindsOwnCgroupOnCgroup2Mount) {
    std::ifstream mounts("/proc/mounts");
    const std::string text((std::istreambuf_iterator<char>(mounts)), {});
    const std::string mount = find_cgroup2_mount(text);
    if (mount.empty()) GTEST_SKIP() << "no cgroup2 mount";
    const auto self = read_process(static_cast<uint32_t>(::getpid()));
    ASSERT_TRUE(self.has_value());
    struct stat st {};
    ASSERT_EQ(::stat((mount + self->cgroup_path).c_str(), &st), 0);
    // No hint: the id must be found by walking the real hierarchy (cgroup id == inode).
    CgroupPathCache cache(mount);
    const std::string want = self->cgroup_path == "/" ? "/" : self->cgroup_path;
    EXPECT_EQ(cache.lookup(st.st_ino), want);
}

TEST(ReadProcess, OwnProcess) {
    const auto info = read_process(static_cast<uint32_t>(::getpid()));
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->exe, fs::read_symlink("/proc/self/exe").string());
    EXPECT_NE(info->cmdline.find("unit_identity"), std::string::npos) << info->cmdline;
    EXPECT_FALSE(info->comm.empty());
    EXPECT_EQ(info->comm.find('\n'), std::string::npos);
    EXPECT_EQ(info->cgroup_path.rfind("/", 0), 0u) << info->cgroup_path;
}

TEST(ReadProcess, DeadProcessIsNullopt) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) ::_exit(0);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_EQ(read_process(static_cast<uint32_t>(child)), std::nullopt);
}

using FakeProc = TempTree;

TEST_F(FakeProc, CmdlineIsJoinedAndCapped) {
    make_dir("/42");
    write_file("/42/comm", "python3\n");
    write_file("/42/cmdline", std::string("python3\0-c\0", 11) + std::string(10000, 'x') + '\0');
    write_file("/42/cgroup", "0::/system.slice/app.service\n");
    fs::create_symlink("/usr/bin/python3.11", root_ + "/42/exe");
    const auto info = read_process(42, root_);
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->exe, "/usr/bin/python3.11");
    EXPECT_EQ(info->comm, "python3");
    EXPECT_EQ(info->cmdline.size(), kMaxCmdlineBytes);
    EXPECT_EQ(info->cmdline.rfind("python3 -c xxx", 0), 0u);
    EXPECT_EQ(info->cgroup_path, "/system.slice/app.service");
}

TEST_F(FakeProc, ResolverJoinsProcCgroupAndUser) {
    make_dir("/proc/77");
    make_dir("/cg/system.slice/ci-runner.service");
    write_file("/proc/77/cmdline", std::string("runner\0--once\0", 14));
    write_file("/proc/77/cgroup", "0::/system.slice/ci-runner.service\n");
    fs::create_symlink("/opt/ci/runner", root_ + "/proc/77/exe");
    std::atomic<int> lookups{0};
    IdentityResolver resolver({root_ + "/cg", root_ + "/proc"}, [&](uint32_t uid, uint32_t) {
        ++lookups;
        return UserRecord{uid == 1001 ? "ci" : "", {"ci", "docker"}};
    });
    const uint64_t cg = inode_of("/cg/system.slice/ci-runner.service");
    const Identity id = resolver.resolve(77, 1001, 1001, std::string("runner\0\0\0", 9), cg);
    EXPECT_EQ(id.pid, 77u);
    EXPECT_EQ(id.uid, 1001u);
    EXPECT_EQ(id.user, "ci");
    EXPECT_EQ(id.groups, (std::vector<std::string>{"ci", "docker"}));
    EXPECT_EQ(id.comm, "runner");
    EXPECT_EQ(id.exe, "/opt/ci/runner");
    EXPECT_EQ(id.cmdline, "runner --once");
    EXPECT_EQ(id.cgroup, "/system.slice/ci-runner.service");
    EXPECT_EQ(id.unit, "ci-runner.service");
    EXPECT_EQ(id.slice, "system.slice");

    // Gone process: kernel comm stands alone, exe empty; user lookups are cached.
    const Identity gone = resolver.resolve(78, 1001, 1001, "curl", cg);
    EXPECT_EQ(gone.comm, "curl");
    EXPECT_EQ(gone.exe, "");
    EXPECT_EQ(gone.cmdline, "");
    EXPECT_EQ(gone.unit, "ci-runner.service");
    EXPECT_EQ(lookups.load(), 1);

    const nlohmann::json j = id.to_json();
    for (const char* key : {"uid", "user", "pid", "exe", "comm", "cgroup", "unit"}) {
        EXPECT_TRUE(j.contains(key)) << key;
    }
    EXPECT_EQ(j["user"], "ci");
    EXPECT_EQ(j["unit"], "ci-runner.service");
    EXPECT_FALSE(j.contains("container_id"));
}

TEST(IdentityResolver, ResolvesOwnProcessOnRealSystem) {
    IdentityResolver resolver;
    const Identity id =
        resolver.resolve(static_cast<uint32_t>(::getpid()), ::getuid(), ::getgid(), "", 0);
    EXPECT_EQ(id.exe, fs::read_symlink("/proc/self/exe").string());
    EXPECT_FALSE(id.comm.empty());  // taken from /proc when the kernel gave none
    if (::getuid() == 0) {
        EXPECT_EQ(id.user, "root");
    }
}

TEST(IdentityJson, ContainerFieldsAndBadBytes) {
    Identity id;
    id.uid = 0;
    id.user = "root";
    id.exe = "/tmp/\xff";
    id.container_runtime = "docker";
    id.container_id = kId64;
    id.pod_uid = kPodUid;
    const nlohmann::json j = id.to_json();
    EXPECT_EQ(j["exe"], "/tmp/\xef\xbf\xbd");
    EXPECT_EQ(j["container_runtime"], "docker");
    EXPECT_EQ(j["container_id"], kId64);
    EXPECT_EQ(j["pod_uid"], kPodUid);
    EXPECT_NO_THROW((void)j.dump());
}

TEST(UserDirectory, CachesAndRefreshesAfterTtl) {
    auto now = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
    int calls = 0;
    UserDirectory users(
        std::chrono::seconds(60),
        [&](uint32_t uid, uint32_t) {
            ++calls;
            return UserRecord{"u" + std::to_string(uid) + "-" + std::to_string(calls), {}};
        },
        [&] { return now; });
    EXPECT_EQ(users.find(5, 5).name, "u5-1");
    EXPECT_EQ(users.find(5, 5).name, "u5-1");
    now += std::chrono::seconds(61);
    EXPECT_EQ(users.find(5, 5).name, "u5-2");
    EXPECT_EQ(calls, 2);
}

TEST(LookupUser, RootAndUnknownUid) {
    const UserRecord root = lookup_user(0, 0);
    EXPECT_EQ(root.name, "root");
    ASSERT_FALSE(root.groups.empty());
    EXPECT_EQ(root.groups[0], "root");
    const UserRecord nobody = lookup_user(3'999'999'000u, 3'999'999'000u);
    EXPECT_EQ(nobody.name, "");
    EXPECT_EQ(nobody.groups, (std::vector<std::string>{"3999999000"}));
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

TEST(RedactCredentials, HidesKeysTypedOnTheCommandLine) {
    EXPECT_EQ(redact_credentials("curl -H Authorization: Bearer sk-dummy-1 https://x"),
              "curl -H Authorization: Bearer [REDACTED] https://x");
    EXPECT_EQ(redact_credentials("tool --api-key sk-abcdef --model m"),
              "tool --api-key [REDACTED] --model m");
    EXPECT_EQ(redact_credentials("env OPENAI=sk-proj-XYZ123 run"), "env OPENAI=[REDACTED] run");
    EXPECT_EQ(redact_credentials("python3 agent.py --task summarize"),
              "python3 agent.py --task summarize");
    // Other secrets the masking recognizers know, wherever they stand on the line.
    EXPECT_EQ(redact_credentials("aws s3 ls --access AKIAIOSFODNN7EXAMPLE"),
              "aws s3 ls --access [AWS_ACCESS_KEY]");
    EXPECT_EQ(redact_credentials("gh --token ghp_abcdefghijklmnopqrstuvwxyz0123456789 pr"),
              "gh --token [GITHUB_TOKEN] pr");
    EXPECT_EQ(redact_credentials("bot xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"),
              "bot [SLACK_TOKEN]");
    EXPECT_EQ(redact_credentials("mail jane@example.com 10.1.2.3"),
              "mail jane@example.com 10.1.2.3");
}

TEST(RedactCredentials, AppliesToProcCmdline) {
    static const char kRaw[] = "curl\0-H\0Authorization: Bearer secret-token\0";
    EXPECT_EQ(format_cmdline(std::string(kRaw, sizeof kRaw - 1)),
              "curl -H Authorization: Bearer [REDACTED]");
}

}  // namespace
}  // namespace sluice
