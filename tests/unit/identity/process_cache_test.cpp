#include "agent/identity/process_cache.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "agent/identity/identity.h"
#include "agent/identity/lru_map.h"
#include "agent/identity/process_info.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

// The text of /proc/<pid>/stat with `start` in field 22 and `comm` in field 2.
std::string stat_line(uint32_t pid, const std::string& comm, uint64_t start) {
    return std::to_string(pid) + " (" + comm +
           ") S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 " + std::to_string(start) +
           " 1000000 200 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0\n";
}

TEST(ParseProcStatStartTime, Table) {
    EXPECT_EQ(parse_proc_stat_start_time(stat_line(7, "curl", 123456)), 123456u);
    // comm may hold spaces and ')' : fields count from the last ')'.
    EXPECT_EQ(parse_proc_stat_start_time(stat_line(7, "a) b (c", 99)), 99u);
    EXPECT_EQ(parse_proc_stat_start_time(stat_line(7, "", 5)), 5u);
    EXPECT_EQ(parse_proc_stat_start_time(""), std::nullopt);
    EXPECT_EQ(parse_proc_stat_start_time("7 (curl) S 1 42"), std::nullopt);  // truncated
    EXPECT_EQ(parse_proc_stat_start_time("7 curl S 1"), std::nullopt);       // no comm
    std::string bad = stat_line(7, "x", 5);
    bad.replace(bad.find(" 5 "), 3, " 5x ");
    EXPECT_EQ(parse_proc_stat_start_time(bad), std::nullopt);
    // Every prefix either parses to the right value or to nothing; never crashes.
    const std::string full = stat_line(7, "py (x)", 31337);
    for (size_t n = 0; n <= full.size(); ++n) {
        const auto got = parse_proc_stat_start_time(full.substr(0, n));
        if (got) {
            EXPECT_EQ(std::string("31337").rfind(std::to_string(*got), 0), 0u) << n;
        }
    }
}

TEST(LruMap, EvictsTheLeastRecentlyUsed) {
    LruMap<int, std::string> map(2);
    map.put(1, "one");
    map.put(2, "two");
    ASSERT_NE(map.find(1), nullptr);  // 1 is now the most recent
    map.put(3, "three");              // evicts 2
    EXPECT_EQ(map.size(), 2u);
    EXPECT_EQ(map.find(2), nullptr);
    ASSERT_NE(map.find(1), nullptr);
    EXPECT_EQ(*map.find(1), "one");
    map.put(1, "uno");  // replace keeps the size
    EXPECT_EQ(map.size(), 2u);
    EXPECT_EQ(*map.find(1), "uno");
    map.erase(1);
    EXPECT_EQ(map.find(1), nullptr);
    EXPECT_EQ(map.size(), 1u);
}

class FakeProcTree : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/sluice-process-cache-test-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        root_ = tmpl;
    }
    void TearDown() override { fs::remove_all(root_); }
    void write_file(const std::string& rel, const std::string& content) {
        std::ofstream(root_ + rel, std::ios::binary) << content;
    }
    // A fake /proc/<pid> for a process started at `start` running `exe` with `argv0`.
    void make_process(uint32_t pid, uint64_t start, const std::string& exe,
                      const std::string& argv0) {
        const std::string dir = "/" + std::to_string(pid);
        fs::create_directories(root_ + dir);
        write_file(dir + "/stat", stat_line(pid, argv0, start));
        write_file(dir + "/comm", argv0 + "\n");
        write_file(dir + "/cmdline", argv0 + std::string("\0--flag\0", 8));
        write_file(dir + "/cgroup", "0::/system.slice/app.service\n");
        set_exe(pid, exe);
    }
    void set_exe(uint32_t pid, const std::string& exe) {
        const std::string link = root_ + "/" + std::to_string(pid) + "/exe";
        fs::remove(link);
        fs::create_symlink(exe, link);
    }
    std::string root_;
};

TEST_F(FakeProcTree, KnownProcessIsServedWithoutRereadingProc) {
    make_process(42, 1000, "/usr/bin/python3.11", "python3");
    ProcessCache cache(root_);
    const auto first = cache.lookup(42);
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->cmdline, "python3 --flag");
    // A changed cmdline file is not read again for the same (pid, start time, exe).
    write_file("/42/cmdline", std::string("other\0", 6));
    const auto second = cache.lookup(42);
    ASSERT_TRUE(second.has_value());
    EXPECT_EQ(second->cmdline, "python3 --flag");
    EXPECT_EQ(second->exe, "/usr/bin/python3.11");
    EXPECT_EQ(second->cgroup_path, "/system.slice/app.service");
    EXPECT_EQ(cache.stats().hits, 1u);
    EXPECT_EQ(cache.stats().misses, 1u);
}

TEST_F(FakeProcTree, ReusedPidWithANewStartTimeIsReadAfresh) {
    make_process(42, 1000, "/usr/bin/python3.11", "python3");
    ProcessCache cache(root_);
    ASSERT_EQ(cache.lookup(42)->exe, "/usr/bin/python3.11");
    // The process exits and the pid is reused, even by the same binary: the start time differs.
    fs::remove_all(root_ + "/42");
    make_process(42, 2000, "/usr/bin/python3.11", "worker");
    const auto reused = cache.lookup(42);
    ASSERT_TRUE(reused.has_value());
    EXPECT_EQ(reused->cmdline, "worker --flag");
    EXPECT_EQ(reused->comm, "worker");
    EXPECT_EQ(cache.stats().hits, 0u);
    EXPECT_EQ(cache.stats().misses, 2u);
}

TEST_F(FakeProcTree, ExecIsNoticedThroughTheExe) {
    make_process(42, 1000, "/bin/sh", "sh");
    ProcessCache cache(root_);
    ASSERT_EQ(cache.lookup(42)->exe, "/bin/sh");
    // execve keeps pid and start time but replaces the image.
    set_exe(42, "/usr/bin/curl");
    write_file("/42/cmdline", std::string("curl\0https://api.openai.com\0", 29));
    const auto after_exec = cache.lookup(42);
    ASSERT_TRUE(after_exec.has_value());
    EXPECT_EQ(after_exec->exe, "/usr/bin/curl");
    EXPECT_EQ(after_exec->cmdline, "curl https://api.openai.com");
}

TEST_F(FakeProcTree, GoneProcessIsNulloptAndForgotten) {
    make_process(42, 1000, "/usr/bin/node", "node");
    ProcessCache cache(root_);
    ASSERT_TRUE(cache.lookup(42).has_value());
    EXPECT_EQ(cache.size(), 1u);
    fs::remove_all(root_ + "/42");
    EXPECT_EQ(cache.lookup(42), std::nullopt);
    EXPECT_EQ(cache.size(), 0u);
}

TEST_F(FakeProcTree, SizeIsBoundedAndEvictsLeastRecentlyUsed) {
    for (uint32_t pid = 1; pid <= 3; ++pid)
        make_process(pid, 100 * pid, "/bin/p" + std::to_string(pid), "p");
    ProcessCache cache(root_, 2);
    ASSERT_TRUE(cache.lookup(1));
    ASSERT_TRUE(cache.lookup(2));
    ASSERT_TRUE(cache.lookup(1));  // hit; 2 is now least recently used
    ASSERT_TRUE(cache.lookup(3));  // evicts 2
    EXPECT_EQ(cache.size(), 2u);
    const uint64_t hits = cache.stats().hits;
    ASSERT_TRUE(cache.lookup(1));
    EXPECT_EQ(cache.stats().hits, hits + 1);
    ASSERT_TRUE(cache.lookup(2));  // re-read
    EXPECT_EQ(cache.stats().hits, hits + 1);
}

TEST(ProcessCacheReal, OwnProcessHitsAndDeadChildIsNullopt) {
    ProcessCache cache;
    const auto self = static_cast<uint32_t>(::getpid());
    const auto first = cache.lookup(self);
    ASSERT_TRUE(first.has_value());
    const auto second = cache.lookup(self);
    ASSERT_TRUE(second.has_value());
    EXPECT_EQ(second->exe, fs::read_symlink("/proc/self/exe").string());
    EXPECT_EQ(cache.stats().hits, 1u);
    ASSERT_TRUE(read_process_start_time(self).has_value());

    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) ::_exit(0);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_EQ(cache.lookup(static_cast<uint32_t>(child)), std::nullopt);
}

TEST_F(FakeProcTree, ResolverKeepsCgroupFactsByIdAndReadsProcOncePerProcess) {
    const std::string proc = root_ + "/proc", cg = root_ + "/cg";
    fs::create_directories(proc);
    fs::create_directories(cg + "/system.slice/app.service");
    struct stat st {};
    ASSERT_EQ(::stat((cg + "/system.slice/app.service").c_str(), &st), 0);
    const std::string saved_root = root_;
    root_ = proc;
    make_process(42, 1000, "/opt/app", "app");
    root_ = saved_root;
    IdentityResolver resolver({cg, proc}, [](uint32_t, uint32_t) { return UserRecord{"app", {}}; });
    const Identity first = resolver.resolve(42, 1000, 1000, "app", st.st_ino);
    EXPECT_EQ(first.unit, "app.service");
    EXPECT_EQ(first.cmdline, "app --flag");
    // The cgroup is removed after its id was seen: the id is never reused, so what was found
    // for it stays right (and no walk of the hierarchy is needed).
    fs::remove(cg + "/system.slice/app.service");
    const Identity second = resolver.resolve(42, 1000, 1000, "app", st.st_ino);
    EXPECT_EQ(second.cgroup, "/system.slice/app.service");
    EXPECT_EQ(second.unit, "app.service");
    EXPECT_EQ(second.slice, "system.slice");
    EXPECT_EQ(second.exe, "/opt/app");
    EXPECT_EQ(resolver.process_cache_stats().hits, 1u);
}

}  // namespace
}  // namespace sluice
