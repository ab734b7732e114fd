#include "agent/audit/audit_commands.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string_view>

#include "agent/audit/audit_signer.h"
#include "agent/audit/audit_verify.h"
#include "agent/audit/audit_writer.h"

namespace sluice {

namespace {

// A file mapped read-only for the walk: no copy, and the kernel reads ahead.
class MappedFile {
public:
    explicit MappedFile(const std::string& path) {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
        struct stat st {};
        if (::fstat(fd, &st) != 0) {
            ::close(fd);
            throw std::runtime_error("cannot stat " + path + ": " + std::strerror(errno));
        }
        size_ = static_cast<std::size_t>(st.st_size);
        if (size_ > 0) {
            data_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
            if (data_ == MAP_FAILED) {
                ::close(fd);
                throw std::runtime_error("cannot map " + path + ": " + std::strerror(errno));
            }
            ::madvise(data_, size_, MADV_SEQUENTIAL);
        }
        ::close(fd);
    }
    ~MappedFile() {
        if (data_ != nullptr) ::munmap(data_, size_);
    }
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    std::string_view text() const { return {static_cast<const char*>(data_), size_}; }

private:
    void* data_ = nullptr;
    std::size_t size_ = 0;
};

std::optional<std::string> read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace

int run_audit_verify(const std::vector<std::string>& args, const std::string& audit_path,
                     const std::string& default_pubkey, const AuditAlsoCheck& also) {
    std::vector<std::string> paths;
    std::string pubkey_path;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--pubkey") {
            if (i + 1 >= args.size()) {
                std::fprintf(stderr, "sluicectl audit verify: --pubkey needs a FILE\n");
                return 2;
            }
            pubkey_path = args[++i];
        } else if (args[i].starts_with("--")) {
            std::fprintf(stderr, "sluicectl audit verify: unknown option '%s'\n", args[i].c_str());
            return 2;
        } else {
            paths.push_back(args[i]);
        }
    }
    if (paths.empty()) {
        paths = rotated_audit_files(audit_path);
        paths.push_back(audit_path);
    }
    std::optional<AuditVerifyKey> key;
    const std::string key_path = pubkey_path.empty() ? default_pubkey : pubkey_path;
    if (const auto pem = read_text(key_path)) {
        try {
            key = AuditVerifyKey::from_pem(*pem);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "sluicectl audit verify: %s: %s\n", key_path.c_str(), e.what());
            return 2;
        }
    } else if (!pubkey_path.empty()) {
        std::fprintf(stderr, "sluicectl audit verify: cannot read %s: %s\n", pubkey_path.c_str(),
                     std::strerror(errno));
        return 2;
    }
    std::vector<std::unique_ptr<MappedFile>> mapped;
    std::vector<AuditFileText> files;
    try {
        for (const auto& path : paths) {
            mapped.push_back(std::make_unique<MappedFile>(path));
            files.push_back(AuditFileText{path, mapped.back()->text()});
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sluicectl audit verify: %s\n", e.what());
        return 2;
    }
    const auto started = std::chrono::steady_clock::now();
    const std::vector<AuditFileText> checked_files = files;
    const AuditVerifyReport report = verify_audit(std::move(files), key ? &*key : nullptr);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::fputs(describe(report).c_str(), stdout);
    std::fprintf(stderr, "verified %.1f MB in %.3f s (%.0f MB/s)\n",
                 static_cast<double>(report.bytes) / 1e6, seconds,
                 seconds > 0 ? static_cast<double>(report.bytes) / 1e6 / seconds : 0.0);
    if (also && also(checked_files) == 1) return 1;
    return report.exit_code();
}

int run_audit_pubkey(const std::string& state_dir) {
    const std::string path = state_dir + "/" + std::string(kAuditPublicKeyFile);
    const auto pem = read_text(path);
    if (!pem) {
        std::fprintf(stderr,
                     "sluicectl audit pubkey: cannot read %s (sluiced creates it on first start)\n",
                     path.c_str());
        return 1;
    }
    try {
        (void)AuditVerifyKey::from_pem(*pem);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sluicectl audit pubkey: %s: %s\n", path.c_str(), e.what());
        return 1;
    }
    std::fputs(pem->c_str(), stdout);
    return 0;
}

}  // namespace sluice
