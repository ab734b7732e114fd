// The trust boundary in a cgroup path: names a user made (in a subtree delegated to them) are
// never attributed as the system's. Pure rule tests, a generated test over random paths, tests
// on real directory trees, and tests on the real cgroup2 hierarchy with a subtree delegated to
// uid 65534 the way systemd does it (directory and cgroup.procs chowned).
#include "agent/identity/cgroup_trust.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "agent/identity/cgroup_attribution.h"
#include "agent/identity/cgroup_ownership.h"
#include "agent/identity/identity.h"
#include "agent/identity/policy_identity.h"
#include "policy/policy_engine.h"
#include "policy/policy_loader.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

constexpr uint32_t kNobody = 65534;
const std::string kId64 = "4f1c0b7e9a2d3c5b6e8f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d";
const std::string kPodUid = "0f3a5c2e_1b4d_4e6f_8a9b_0c1d2e3f4a5b";

// Every layout the parser knows, as names a user could make with mkdir.
std::vector<std::vector<std::string>> look_alike_suffixes() {
    return {
        {"app.slice", "ci-build.service"},
        {"ci-build.service"},
        {"ci-deploy.scope"},
        {"docker-" + kId64 + ".scope"},
        {"libpod-" + kId64 + ".scope"},
        {"libpod-conmon-" + kId64 + ".scope"},
        {"crio-" + kId64 + ".scope"},
        {"kubepods.slice", "kubepods-burstable.slice",
         "kubepods-burstable-pod" + kPodUid + ".slice", "cri-containerd-" + kId64 + ".scope"},
        {"kubepods", "burstable", "pod" + kPodUid, kId64},
        {"docker", kId64},
        {"system.slice", "ci-runner.service"},
        {"user.slice", "user-0.slice", "user@0.service", "app.slice", "ci-build.service"},
        {"a.slice", "b.slice", "c.slice", "nested.service", "deeper.scope"},
    };
}

std::string join_path(const std::vector<std::string>& parts) {
    std::string out;
    for (const auto& p : parts) out += "/" + p;
    return out.empty() ? "/" : out;
}

// Facts for a tree where the directories at `delegated_depth` and below belong to `owner`.
std::function<CgroupDirFacts(std::string_view)> owned_below(size_t delegated_depth,
                                                            uint32_t owner) {
    return [=](std::string_view prefix) {
        const size_t depth =
            prefix.empty() ? 0 : static_cast<size_t>(std::count(prefix.begin(), prefix.end(), '/'));
        CgroupDirFacts facts;
        facts.present = true;
        facts.owner_uid = depth >= delegated_depth ? owner : 0;
        facts.system_only = depth < delegated_depth;
        return facts;
    };
}

// ---- the rule ---------------------------------------------------------------------------------

TEST(FindTrustBoundary, Table) {
    struct Case {
        const char* name;
        std::string path;
        std::function<CgroupDirFacts(std::string_view)> facts;
        bool delegated;
        size_t trusted_components;
        std::optional<uint32_t> owner;
        std::string system_path, user_path;
    };
    const Case cases[] = {
        {"all root's is all the system's", "/system.slice/ci-build.service", owned_below(99, 0),
         false, 2, std::nullopt, "/system.slice/ci-build.service", ""},
        {"a user's directory keeps its name and gives away its children",
         "/user.slice/user-65534.slice/user@65534.service/app.slice/ci-build.service",
         owned_below(3, kNobody), true, 3, kNobody,
         "/user.slice/user-65534.slice/user@65534.service", "/app.slice/ci-build.service"},
        {"a user manager is delegated even if root owns it",
         "/user.slice/user@1234.service/app.slice/x.service", owned_below(99, 0), true, 2, 1234u,
         "/user.slice/user@1234.service", "/app.slice/x.service"},
        {"a delegated root makes everything user-made", "/a.slice/b.service", owned_below(0, 1000),
         true, 0, 1000u, "/", "/a.slice/b.service"},
        {"the cgroup root itself", "/", owned_below(99, 0), false, 0, std::nullopt, "/", ""},
    };
    for (const Case& c : cases) {
        const auto b = find_trust_boundary(c.path, c.facts);
        EXPECT_EQ(b.delegated, c.delegated) << c.name;
        EXPECT_EQ(b.trusted_components, c.trusted_components) << c.name;
        EXPECT_EQ(b.owner_uid, c.owner) << c.name;
        EXPECT_EQ(b.system_path, c.system_path) << c.name;
        EXPECT_EQ(b.user_path, c.user_path) << c.name;
    }
}

TEST(UserManagerUid, OnlyUserAtDigitsDotService) {
    EXPECT_EQ(user_manager_uid("user@65534.service"), 65534u);
    for (const char* not_one : {"user@.service", "user@12a.service", "user-1.slice", "user@1.scope",
                                "xuser@1.service", "user@99999999999.service"})
        EXPECT_EQ(user_manager_uid(not_one), std::nullopt) << not_one;
}

TEST(FindTrustBoundary, EachFactAloneMakesADelegationPoint) {
    struct Case {
        const char* name;
        CgroupDirFacts facts;
        std::optional<uint32_t> owner;
    };
    const Case cases[] = {
        {"owned by a user", {true, false, 1000, std::nullopt}, 1000},
        {"writable by others", {true, false, 0, std::nullopt}, std::nullopt},
        {"cgroup.procs chowned", {true, true, 0, 1001}, 1001},
        {"vanished", {false, false, 0, std::nullopt}, std::nullopt},
    };
    for (const Case& c : cases) {
        const auto b = find_trust_boundary("/x.slice/y.slice/z.service", [&](std::string_view p) {
            return p == "/x.slice/y.slice" ? c.facts : CgroupDirFacts{true, true, 0, 0};
        });
        EXPECT_TRUE(b.delegated) << c.name;
        EXPECT_EQ(b.owner_uid, c.owner) << c.name;
        EXPECT_EQ(b.system_path, "/x.slice/y.slice") << c.name;
        EXPECT_EQ(b.user_path, "/z.service") << c.name;
    }
}

TEST(FindTrustBoundary, StopsAskingAtTheDelegationPoint) {
    std::vector<std::string> asked;
    find_trust_boundary("/a/b/c/d/e", [&](std::string_view p) {
        asked.emplace_back(p);
        return owned_below(2, 7)(p);
    });
    EXPECT_EQ(asked, (std::vector<std::string>{"", "/a", "/a/b"}));
}

// ---- attribution split at the boundary ------------------------------------------------------

// Every variant: each look-alike layout placed under a delegation point at several system
// prefixes. Nothing below the boundary reaches the system fields; the system part is exactly
// what the system prefix alone says; the user part holds the look-alike's names.
TEST(AttributeCgroupPath, LookAlikesBelowTheBoundaryNeverBecomeSystemIdentity) {
    const std::vector<std::vector<std::string>> prefixes = {
        {"user.slice", "user-65534.slice", "user@65534.service"},
        {"user.slice", "user-1000.slice", "user@1000.service", "app.slice", "dev.scope"},
        {"system.slice", "gitlab-runner.service"},
        {"delegated"},
        {"kubepods.slice"},
        {"docker"},
    };
    size_t cases = 0;
    for (const auto& prefix : prefixes) {
        for (const auto& suffix : look_alike_suffixes()) {
            std::vector<std::string> all = prefix;
            all.insert(all.end(), suffix.begin(), suffix.end());
            const std::string path = join_path(all);
            const SplitCgroupAttribution split = attribute_cgroup_path(path, prefix.size());
            const CgroupAttribution alone = parse_cgroup_path(join_path(prefix));
            EXPECT_EQ(split.system.unit, alone.unit) << path;
            EXPECT_EQ(split.system.slice, alone.slice) << path;
            EXPECT_EQ(split.system.container_id, alone.container_id) << path;
            EXPECT_EQ(split.system.pod_uid, alone.pod_uid) << path;
            for (const auto& name : suffix) {
                if (std::find(prefix.begin(), prefix.end(), name) != prefix.end()) continue;
                EXPECT_NE(split.system.unit, name) << path;
                EXPECT_NE(split.system.slice, name) << path;
            }
            // What the full path would have said without the boundary is now the user's.
            const CgroupAttribution naive = parse_cgroup_path(path);
            if (naive.unit != alone.unit) {
                EXPECT_EQ(split.user_controlled.unit, naive.unit) << path;
            }
            if (naive.container_id != alone.container_id) {
                EXPECT_EQ(split.user_controlled.container_id, naive.container_id) << path;
            }
            if (naive.pod_uid != alone.pod_uid) {
                EXPECT_EQ(split.user_controlled.pod_uid, naive.pod_uid) << path;
            }
            ++cases;
        }
    }
    EXPECT_GT(cases, 70u);
}

// Random paths mixing system and user-made components, with the boundary anywhere: a system
// field only ever holds text from a component above the boundary, and the system part always
// equals the parse of that part alone.
TEST(AttributeCgroupPath, GeneratedPathsNeverLeakUserNamesIntoSystemFields) {
    const std::vector<std::string> vocabulary = {"system.slice",
                                                 "user.slice",
                                                 "user-1000.slice",
                                                 "user@1000.service",
                                                 "app.slice",
                                                 "ci-build.service",
                                                 "ci-x.scope",
                                                 "session-3.scope",
                                                 "docker",
                                                 kId64,
                                                 "docker-" + kId64 + ".scope",
                                                 "libpod-" + kId64 + ".scope",
                                                 "cri-containerd-" + kId64 + ".scope",
                                                 "crio-conmon-" + kId64 + ".scope",
                                                 "kubepods",
                                                 "kubepods.slice",
                                                 "kubepods-besteffort-pod" + kPodUid + ".slice",
                                                 "pod" + kPodUid,
                                                 "burstable",
                                                 "init.scope",
                                                 "plain",
                                                 "x.socket"};
    std::mt19937 rng(23);
    for (int round = 0; round < 20000; ++round) {
        std::vector<std::string> parts(1 + rng() % 8);
        for (auto& p : parts) p = vocabulary[rng() % vocabulary.size()];
        const size_t trusted = rng() % (parts.size() + 1);
        const std::string path = join_path(parts);
        const SplitCgroupAttribution split = attribute_cgroup_path(path, trusted);
        const CgroupAttribution alone =
            parse_cgroup_path(join_path({parts.begin(), parts.begin() + trusted}));
        ASSERT_EQ(split.system.unit, alone.unit) << path << " @" << trusted;
        ASSERT_EQ(split.system.slice, alone.slice) << path << " @" << trusted;
        ASSERT_EQ(split.system.container_id, alone.container_id) << path << " @" << trusted;
        ASSERT_EQ(split.system.container_runtime, alone.container_runtime) << path;
        ASSERT_EQ(split.system.pod_uid, alone.pod_uid) << path << " @" << trusted;
        // And the boundary from facts is the first directory the user owns (its own name is
        // the system's) or the first user@UID.service, whichever comes first.
        const auto b = find_trust_boundary(path, owned_below(trusted + 1, 1000));
        size_t expected = parts.size();
        bool delegated = false;
        for (size_t i = 0; i < parts.size() && !delegated; ++i) {
            delegated = i >= trusted || user_manager_uid(parts[i]).has_value();
            if (delegated) expected = i + 1;
        }
        ASSERT_EQ(b.trusted_components, expected) << path << " @" << trusted;
        ASSERT_EQ(b.delegated, delegated) << path;
    }
}

// ---- real directory trees --------------------------------------------------------------------

bool running_as_root() { return ::geteuid() == 0; }

// Runs `fn` in a child process as uid/gid 65534; true when it returned true.
bool as_nobody(const std::function<bool()>& fn) {
    const pid_t child = ::fork();
    if (child == 0) {
        if (::setresgid(kNobody, kNobody, kNobody) != 0 ||
            ::setresuid(kNobody, kNobody, kNobody) != 0)
            ::_exit(2);
        ::_exit(fn() ? 0 : 1);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

bool mkdirs_as_nobody(const std::string& base, const std::vector<std::string>& parts) {
    return as_nobody([&] {
        std::string dir = base;
        for (const auto& p : parts) {
            dir += "/" + p;
            if (::mkdir(dir.c_str(), 0755) != 0) return false;
        }
        return true;
    });
}

class TrustTree : public ::testing::Test {
protected:
    void SetUp() override {
        if (!running_as_root()) GTEST_SKIP() << "needs root to chown";
        char tmpl[] = "/run/sluice-trust-test-XXXXXX";  // /run: root's alone, unlike /tmp
        if (::mkdtemp(tmpl) == nullptr) GTEST_SKIP() << "cannot create under /run";
        root_ = tmpl;
        ::chmod(root_.c_str(), 0755);
    }
    void TearDown() override {
        if (!root_.empty()) fs::remove_all(root_);
    }
    std::string root_;
};

TEST_F(TrustTree, UsersOwnMkdirsBelowAChownedDirectoryAreTheirs) {
    size_t variant = 0;
    for (const auto& suffix : look_alike_suffixes()) {
        const std::string base = "/v" + std::to_string(variant++);
        const std::string delegated = base + "/user.slice/user-65534.slice/deleg.service";
        fs::create_directories(root_ + delegated);
        ASSERT_EQ(::chown((root_ + delegated).c_str(), kNobody, kNobody), 0);
        ASSERT_TRUE(mkdirs_as_nobody(root_ + delegated, suffix));
        const std::string path = delegated + join_path(suffix);
        const CgroupTrustBoundary b = read_trust_boundary(root_, path);
        EXPECT_TRUE(b.delegated) << path;
        EXPECT_EQ(b.owner_uid, kNobody) << path;
        EXPECT_EQ(b.system_path, delegated) << path;
        EXPECT_EQ(b.user_path, join_path(suffix)) << path;
        const SplitCgroupAttribution split = attribute_cgroup_path(path, b.trusted_components);
        EXPECT_EQ(split.system.unit, "deleg.service") << path;
        EXPECT_EQ(split.system.container_id, "") << path;
        EXPECT_EQ(split.system.pod_uid, "") << path;

        // The same names made by root outside any delegation stay the system's (but below a
        // user manager, whoever made it, everything is that user's).
        if (join_path(suffix).find("/user@") != std::string::npos) continue;
        const std::string system_path = base + "/system" + join_path(suffix);
        fs::create_directories(root_ + system_path);
        const CgroupTrustBoundary sb = read_trust_boundary(root_, system_path);
        EXPECT_FALSE(sb.delegated) << system_path;
        EXPECT_EQ(sb.system_path, system_path);
        EXPECT_EQ(attribute_cgroup_path(system_path, sb.trusted_components).system.unit,
                  parse_cgroup_path(system_path).unit);
    }
}

TEST_F(TrustTree, ModeAndCgroupProcsAreFactsToo) {
    fs::create_directories(root_ + "/w/x.slice/ci.service");
    ::chmod((root_ + "/w").c_str(), 0777);
    EXPECT_EQ(read_trust_boundary(root_, "/w/x.slice/ci.service").user_path, "/x.slice/ci.service");

    fs::create_directories(root_ + "/g/x.slice/ci.service");
    ::chown((root_ + "/g").c_str(), 0, kNobody);
    ::chmod((root_ + "/g").c_str(), 0775);
    EXPECT_EQ(read_trust_boundary(root_, "/g/x.slice/ci.service").user_path, "/x.slice/ci.service");
    ::chown((root_ + "/g").c_str(), 0, 0);  // group root may write: still the system's
    EXPECT_FALSE(read_trust_boundary(root_, "/g/x.slice/ci.service").delegated);

    // systemd's delegation chowns cgroup.procs even when the mode says nothing.
    fs::create_directories(root_ + "/p/x.slice/ci.service");
    std::ofstream(root_ + "/p/cgroup.procs") << "";
    ::chown((root_ + "/p/cgroup.procs").c_str(), 4321, 4321);
    const auto b = read_trust_boundary(root_, "/p/x.slice/ci.service");
    EXPECT_EQ(b.owner_uid, 4321u);
    EXPECT_EQ(b.user_path, "/x.slice/ci.service");

    // A path that is not there (the cgroup went away) is never vouched for.
    EXPECT_TRUE(read_trust_boundary(root_, "/gone/ci.service").delegated);
}

// ---- the real cgroup2 hierarchy --------------------------------------------------------------

std::string cgroup2_mount() {
    std::ifstream mounts("/proc/mounts");
    const std::string text((std::istreambuf_iterator<char>(mounts)), {});
    return find_cgroup2_mount(text);
}

// A child cgroup of the cgroup2 root for this test (never the root itself), removed after.
class RealCgroup : public ::testing::Test {
protected:
    void SetUp() override {
        if (!running_as_root()) GTEST_SKIP() << "needs root";
        mount_ = cgroup2_mount();
        if (mount_.empty()) GTEST_SKIP() << "no cgroup2 mount";
        rel_ = "/sluice-trust-test-" + std::to_string(::getpid());
        if (::mkdir((mount_ + rel_).c_str(), 0755) != 0) GTEST_SKIP() << "cannot mkdir a cgroup";
    }
    void TearDown() override {
        if (rel_.empty() || mount_.empty()) return;
        // Children first; rmdir is how cgroups are removed.
        std::vector<fs::path> dirs;
        for (auto it = fs::recursive_directory_iterator(mount_ + rel_);
             it != fs::recursive_directory_iterator(); ++it)
            if (it->is_directory()) dirs.push_back(it->path());
        for (auto d = dirs.rbegin(); d != dirs.rend(); ++d) ::rmdir(d->c_str());
        ::rmdir((mount_ + rel_).c_str());
    }
    // What systemd does for Delegate=yes: the directory and its control files to the user.
    void delegate_to_nobody(const std::string& rel) {
        ASSERT_EQ(::mkdir((mount_ + rel).c_str(), 0755), 0);
        for (const char* f : {"", "/cgroup.procs", "/cgroup.subtree_control", "/cgroup.threads"})
            ASSERT_EQ(::chown((mount_ + rel + f).c_str(), kNobody, kNobody), 0) << f;
    }
    uint64_t inode_of(const std::string& rel) {
        struct stat st {};
        EXPECT_EQ(::stat((mount_ + rel).c_str(), &st), 0) << rel;
        return st.st_ino;
    }
    std::string mount_, rel_;
};

TEST_F(RealCgroup, NothingAUserMakesInItsSubtreeIsASystemIdentity) {
    const std::string deleg = rel_ + "/user@65534.service";
    delegate_to_nobody(deleg);
    size_t n = 0;  // each variant under its own first component, so every name is made fresh
    for (const auto& suffix : look_alike_suffixes()) {
        std::vector<std::string> parts = {"v" + std::to_string(n++)};
        parts.insert(parts.end(), suffix.begin(), suffix.end());
        ASSERT_TRUE(mkdirs_as_nobody(mount_ + deleg, parts)) << join_path(parts);
        const std::string path = deleg + join_path(parts);
        const CgroupTrustBoundary b = read_trust_boundary(mount_, path);
        EXPECT_TRUE(b.delegated) << path;
        EXPECT_EQ(b.owner_uid, kNobody) << path;
        EXPECT_EQ(b.system_path, deleg) << path;
        const SplitCgroupAttribution split = attribute_cgroup_path(path, b.trusted_components);
        EXPECT_EQ(split.system.unit, "user@65534.service") << path;
        EXPECT_EQ(split.system.container_id, "") << path;
        EXPECT_EQ(split.system.pod_uid, "") << path;

        // The same names made by root outside delegation are still attributed (except below
        // a user manager, which is delegated whoever made it).
        if (join_path(suffix).find("/user@") != std::string::npos) continue;
        const std::string sys = rel_ + "/sys" + std::to_string(n) + join_path(suffix);
        fs::create_directories(mount_ + sys);
        const CgroupTrustBoundary sb = read_trust_boundary(mount_, sys);
        EXPECT_FALSE(sb.delegated) << sys;
        EXPECT_EQ(attribute_cgroup_path(sys, sb.trusted_components).system.unit,
                  parse_cgroup_path(sys).unit)
            << sys;
    }
}

// The whole path: a process of uid 65534 in its own app.slice/ci-build.service is audited as
// that user's label and does not get the CI rule; the root-made ci-build.service does.
TEST_F(RealCgroup, ResolverAndPolicyKeepUserMadeUnitsApart) {
    const std::string deleg = rel_ + "/user@65534.service";
    delegate_to_nobody(deleg);
    ASSERT_TRUE(mkdirs_as_nobody(mount_ + deleg, {"app.slice", "ci-build.service"}));
    const std::string user_made = deleg + "/app.slice/ci-build.service";
    const std::string system_made = rel_ + "/system.slice/ci-build.service";
    fs::create_directories(mount_ + system_made);

    auto policy = load_policy(R"(
version: 1
default: deny
rules:
  - {name: ci, match: {units: ["ci-*.service"]}}
  - {name: nobody-ci, match: {uids: [65534], user_units: ["ci-*.service"]}}
)",
                              "test.yaml");
    ASSERT_TRUE(policy.ok()) << policy.error;
    IdentityResolver resolver({mount_, "/proc"}, [](uint32_t, uint32_t) {
        return UserRecord{"nobody", {}};
    });
    PolicyRequest request;
    request.method = "POST";
    request.path = "/v1/chat/completions";

    const Identity user_id = resolver.resolve(1, kNobody, kNobody, "x", inode_of(user_made));
    EXPECT_EQ(user_id.cgroup, deleg);
    EXPECT_EQ(user_id.unit, "user@65534.service");
    ASSERT_TRUE(user_id.user_controlled.has_value());
    EXPECT_EQ(user_id.user_controlled->owner_uid, kNobody);
    EXPECT_EQ(user_id.user_controlled->cgroup, "/app.slice/ci-build.service");
    EXPECT_EQ(user_id.user_controlled->labels.unit, "ci-build.service");
    const nlohmann::json j = user_id.to_json();
    EXPECT_EQ(j["unit"], "user@65534.service");
    EXPECT_EQ(j["user_controlled"]["uid"], kNobody);
    EXPECT_EQ(j["user_controlled"]["unit"], "ci-build.service");
    EXPECT_EQ(explain(*policy.policy, to_policy_identity(user_id), request).find("rule: ci\n"),
              std::string::npos);
    PolicyState state;
    EXPECT_EQ(evaluate(*policy.policy, to_policy_identity(user_id), request, state, {}).rule,
              "nobody-ci");

    const Identity sys_id = resolver.resolve(1, 990, 990, "x", inode_of(system_made));
    EXPECT_EQ(sys_id.unit, "ci-build.service");
    EXPECT_FALSE(sys_id.user_controlled.has_value());
    EXPECT_EQ(evaluate(*policy.policy, to_policy_identity(sys_id), request, state, {}).rule, "ci");
}

}  // namespace
}  // namespace sluice
