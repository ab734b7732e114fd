// A file's identity and version as stat(2) sees it: cheap to take every second, so a changed
// key, policy or JWKS file is noticed without inotify.
#pragma once

#include <optional>
#include <string>

namespace sluice {

struct FileStamp {
    long long mtime_ns = -1;
    long long size = -1;
    unsigned long long inode = 0;
    bool operator==(const FileStamp&) const = default;
};

// nullopt when the file does not exist or cannot be stat'ed.
std::optional<FileStamp> stamp_file(const std::string& path);

}  // namespace sluice
