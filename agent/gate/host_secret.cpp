#include "agent/gate/host_secret.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <openssl/rand.h>

namespace sluice {

namespace {
constexpr size_t kSecretBytes = 32;
}

std::string load_or_create_host_secret(const std::string& path) {
    if (std::ifstream in{path, std::ios::binary}) {
        std::ostringstream bytes;
        bytes << in.rdbuf();
        if (bytes.str().size() >= kSecretBytes) return bytes.str();
        throw std::runtime_error(path + ": host secret is shorter than " +
                                 std::to_string(kSecretBytes) + " bytes");
    }
    std::string secret(kSecretBytes, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()),
                   static_cast<int>(secret.size())) != 1)
        throw std::runtime_error("cannot generate the host secret: no randomness");
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        throw std::runtime_error(path + ": cannot create host secret: " + std::strerror(errno));
    const bool written =
        ::write(fd, secret.data(), secret.size()) == static_cast<ssize_t>(secret.size());
    const bool synced = ::fsync(fd) == 0;
    ::close(fd);
    if (!written || !synced) throw std::runtime_error(path + ": cannot write host secret");
    return secret;
}

}  // namespace sluice
