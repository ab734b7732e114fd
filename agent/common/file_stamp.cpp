#include "agent/common/file_stamp.h"

#include <sys/stat.h>

namespace sluice {

std::optional<FileStamp> stamp_file(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    return FileStamp{
        static_cast<long long>(st.st_mtim.tv_sec) * 1'000'000'000LL + st.st_mtim.tv_nsec,
        static_cast<long long>(st.st_size), static_cast<unsigned long long>(st.st_ino)};
}

}  // namespace sluice
