#include "agent/approvals_web/private_file.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace sluice {

void require_private_file(const std::string& path, const std::string& config_key) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        throw std::runtime_error(config_key + ": cannot read " + path);
    if ((st.st_mode & 077) != 0)
        throw std::runtime_error(config_key + ": " + path + " is readable by others; chmod 600 it");
}

std::string read_private_file(const std::string& path, const std::string& config_key) {
    require_private_file(path, config_key);
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) throw std::runtime_error(config_key + ": cannot read " + path);
    return text.str();
}

}  // namespace sluice
