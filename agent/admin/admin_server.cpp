#include "agent/admin/admin_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "agent/common/limits.h"

namespace sluice {

namespace {

sockaddr_un socket_address(const std::string& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof(address.sun_path))
        throw std::runtime_error("admin: socket path too long: " + path);
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    return address;
}

// Reads one line (or to EOF) with a deadline; false on timeout, error or oversize.
// An answer may be far larger than a request: `approvals list` with a thousand holds is ~0.5 MiB.
constexpr std::size_t kAdminResponseMaxBytes = 64 * 1024 * 1024;

bool read_line(int fd, std::string& line, int timeout_ms, std::size_t max_bytes) {
    char buffer[4096];
    while (line.find('\n') == std::string::npos) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, timeout_ms) <= 0) return false;
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return !line.empty();
        line.append(buffer, static_cast<size_t>(n));
        if (line.size() > max_bytes) return false;
    }
    line.erase(line.find('\n'));
    return true;
}

void write_all(int fd, const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
        const ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        off += static_cast<size_t>(n);
    }
}

// Whether the peer's groups (primary or supplementary) include `gid`.
bool peer_in_group(int fd, gid_t peer_gid, gid_t gid) {
    if (peer_gid == gid) return true;
    gid_t groups[limits::kAdminPeerMaxGroups];
    socklen_t len = sizeof groups;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) != 0) return false;
    const std::size_t count = len / sizeof(gid_t);
    for (std::size_t i = 0; i < count; ++i)
        if (groups[i] == gid) return true;
    return false;
}

// The peer's supplementary groups: SO_PEERCRED gives only the primary one.
std::vector<gid_t> peer_groups(pid_t pid) {
    std::vector<gid_t> groups;
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (!line.starts_with("Groups:")) continue;
        std::istringstream in(line.substr(7));
        for (gid_t gid; in >> gid;) groups.push_back(gid);
    }
    return groups;
}

}  // namespace

AdminServer::AdminServer(std::string path) : path_(std::move(path)) {
    const sockaddr_un address = socket_address(path_);
    std::filesystem::path dir = std::filesystem::path(path_).parent_path();
    std::error_code ec;
    if (!dir.empty()) std::filesystem::create_directories(dir, ec);
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0)
        throw std::runtime_error("admin: socket: " + std::string(std::strerror(errno)));
    ::unlink(path_.c_str());
    // Created 0660 from the start (the group is sluiced's, its operators'): the umask closes the
    // window between bind and chmod.
    const mode_t old_mask = ::umask(0117);
    const int bound =
        ::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address);
    const int bind_errno = errno;
    ::umask(old_mask);
    if (bound != 0 || ::listen(listen_fd_, 16) != 0) {
        ::close(listen_fd_);
        throw std::runtime_error("admin: cannot listen on " + path_ + ": " +
                                 std::strerror(bind_errno));
    }
}

AdminServer::~AdminServer() {
    stop();
    if (listen_fd_ >= 0) ::close(listen_fd_);
    ::unlink(path_.c_str());
}

void AdminServer::on(const std::string& command, Handler handler) {
    handlers_[command] = std::move(handler);
}

void AdminServer::on_open(const std::string& command, PeerHandler handler) {
    open_handlers_[command] = std::move(handler);
}

void AdminServer::open_to_all_users() {
    if (::chmod(path_.c_str(), 0666) != 0)
        throw std::runtime_error("admin: cannot open " + path_ +
                                 " to approvers: " + std::strerror(errno));
}

void AdminServer::start() {
    thread_ = std::jthread([this](std::stop_token stop) { serve(stop); });
}

void AdminServer::stop() {
    if (thread_.joinable()) {
        thread_.request_stop();
        thread_.join();
    }
}

void AdminServer::serve(std::stop_token stop) {
    while (!stop.stop_requested()) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (::poll(&p, 1, 200) <= 0) continue;
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        handle_client(fd);
        ::close(fd);
    }
}

void AdminServer::handle_client(int fd) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return;
    const AdminPeer peer{cred.uid, cred.gid, cred.pid, peer_groups(cred.pid)};
    const bool trusted =
        peer_allowed(peer.uid, ::geteuid(), peer_in_group(fd, peer.gid, ::getegid()), ::getegid());
    std::string line;
    if (!read_line(fd, line, 2000, limits::kAdminRequestMaxBytes)) return;
    nlohmann::json response;
    auto request = nlohmann::json::parse(line, nullptr, false);
    const std::string command =
        request.is_object() && request.contains("command") && request["command"].is_string()
            ? request["command"].get<std::string>()
            : "";
    const auto open = open_handlers_.find(command);
    if (!trusted && open == open_handlers_.end()) {
        spdlog::warn("admin: refused a request from uid {} pid {}", peer.uid, peer.pid);
        write_all(fd, nlohmann::json{{"error", "permission denied"}}.dump() + "\n");
        return;
    }
    if (request.is_discarded() || !request.is_object() || !request.contains("command")) {
        response = {{"error", "request must be a JSON object with a \"command\""}};
    } else {
        auto it = handlers_.find(command);
        if (it == handlers_.end() && open == open_handlers_.end()) {
            response = {{"error", "unknown command '" + command + "'"}};
        } else {
            try {
                response = open != open_handlers_.end() ? open->second(request, peer)
                                                        : it->second(request);
            } catch (const std::exception& e) {
                response = {{"error", e.what()}};
            }
        }
    }
    write_all(fd, response.dump() + "\n");
}

namespace {

std::string access_denied_text(const std::string& path) {
    return "permission denied: sluiced's admin socket " + path +
           " answers only root and the user sluiced runs as (run sluicectl as one of them)";
}

}  // namespace

nlohmann::json admin_call(const std::string& path, const nlohmann::json& request) {
    const sockaddr_un address = socket_address(path);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("admin: socket: " + std::string(std::strerror(errno)));
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        const int err = errno;
        ::close(fd);
        if (err == EACCES || err == EPERM) throw AdminAccessDenied(access_denied_text(path));
        throw std::runtime_error("cannot reach sluiced at " + path + ": " + std::strerror(err));
    }
    write_all(fd, request.dump() + "\n");
    std::string line;
    const bool ok = read_line(fd, line, 10'000, kAdminResponseMaxBytes);
    ::close(fd);
    if (!ok) throw std::runtime_error("sluiced at " + path + " did not answer");
    auto response = nlohmann::json::parse(line, nullptr, false);
    if (response.is_discarded())
        throw std::runtime_error("sluiced at " + path + " sent an unreadable answer");
    if (response.is_object() && response.value("error", "") == "permission denied")
        throw AdminAccessDenied(access_denied_text(path));
    return response;
}

}  // namespace sluice
