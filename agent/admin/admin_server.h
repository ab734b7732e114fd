// The admin socket (a Unix stream socket at config `admin`): one JSON request line in, one JSON
// response line out. Only root, sluiced's own user and members of sluiced's group (the
// operators: `usermod -aG sluice NAME` where the package runs it as user sluice) may talk to it
// (SO_PEERCRED, SO_PEERGROUPS), since status shows who is calling the API and how much; commands
// registered with on_open() (the approvals commands) also answer other peers and are given the
// peer's credentials to judge them.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace sluice {

// Who is on the other end of the socket (SO_PEERCRED and the groups of that process).
struct AdminPeer {
    uid_t uid = static_cast<uid_t>(-1);
    gid_t gid = static_cast<gid_t>(-1);
    pid_t pid = 0;
    std::vector<gid_t> groups;  // supplementary groups, from /proc/<pid>/status
};

class AdminServer {
public:
    using Handler = std::function<nlohmann::json(const nlohmann::json& request)>;
    using PeerHandler =
        std::function<nlohmann::json(const nlohmann::json& request, const AdminPeer& peer)>;

    // Creates the socket (0660, replacing a stale one; the directory 0755 if missing).
    // Throws std::runtime_error naming the path.
    explicit AdminServer(std::string path);
    ~AdminServer();
    AdminServer(const AdminServer&) = delete;
    AdminServer& operator=(const AdminServer&) = delete;

    void on(const std::string& command, Handler handler);
    // A command any peer may send: `handler` decides from the peer's credentials.
    void on_open(const std::string& command, PeerHandler handler);
    // Lets every local user connect (mode 0666), for approvers who are neither root nor in
    // sluiced's group: each request is still judged by the peer's credentials (on() commands
    // answer only trusted peers, on_open() handlers decide for themselves). Throws
    // std::runtime_error naming the path.
    void open_to_all_users();
    void start();
    void stop();

    // Whether a peer with these credentials may use every command.
    // Group membership counts only for a group other than root's: a root-run sluiced answers
    // root alone, as before.
    static bool peer_allowed(uid_t peer_uid, uid_t server_uid, bool peer_in_server_group = false,
                             gid_t server_gid = 0) {
        return peer_uid == 0 || peer_uid == server_uid || (peer_in_server_group && server_gid != 0);
    }

private:
    void serve(std::stop_token stop);
    void handle_client(int fd);

    const std::string path_;
    int listen_fd_ = -1;
    std::map<std::string, Handler> handlers_;
    std::map<std::string, PeerHandler> open_handlers_;
    std::jthread thread_;
};

// The caller may not use the admin socket (the socket is 0600 and sluiced checks the peer's
// credentials): sluiced may well be running, so this must not read as "not running".
class AdminAccessDenied : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Client side for sluicectl: sends `request`, returns the response. Throws AdminAccessDenied
// when refused, std::runtime_error when sluiced cannot be reached.
nlohmann::json admin_call(const std::string& path, const nlohmann::json& request);

}  // namespace sluice
