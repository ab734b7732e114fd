// A scratch directory per test for policy and state files.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace sluice::testing {

class ScratchDir {
public:
    ScratchDir() {
        char pattern[] = "/tmp/sluice-gate-XXXXXX";
        path_ = ::mkdtemp(pattern);
    }
    ~ScratchDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    std::string file(const std::string& name) const { return path_ + "/" + name; }
    std::string write(const std::string& name, const std::string& text) const {
        std::ofstream(file(name), std::ios::trunc) << text;
        return file(name);
    }
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

}  // namespace sluice::testing
