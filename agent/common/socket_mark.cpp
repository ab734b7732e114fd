#include "agent/common/socket_mark.h"

#include <sys/socket.h>

#include "bpf/redirect_abi.h"

namespace sluice {

bool mark_as_sluice_socket(int fd) {
    const int mark = SLUICE_BYPASS_MARK;
    return ::setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) == 0;
}

}  // namespace sluice
