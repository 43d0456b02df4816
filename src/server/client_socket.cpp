#include "server/client_socket.h"

#include <netdb.h>
#include <netinet/in.h>
#include <dirent.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>
#include <string>

namespace ag::server {

namespace {

thread_local int t_socket = -1;

int port_of(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port);
  if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
  return -1;
}

// Whether fd is the TCP connection of `req` (same peer address and port, same local port).
bool matches(int fd, const httplib::Request& req) {
  sockaddr_storage peer{}, local{};
  socklen_t len = sizeof peer;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0) return false;
  if (port_of(peer) != req.remote_port) return false;
  len = sizeof local;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0) return false;
  if (port_of(local) != req.local_port) return false;
  char host[NI_MAXHOST];
  if (::getnameinfo(reinterpret_cast<sockaddr*>(&peer), sizeof peer, host, sizeof host, nullptr, 0,
                    NI_NUMERICHOST) != 0)
    return false;
  return req.remote_addr == host;
}

}  // namespace

void bind_client_socket(const httplib::Request& req) {
  if (t_socket >= 0 && matches(t_socket, req)) return;
  t_socket = -1;
  // Only open descriptors: /proc/self/fd lists them (the process may allow 1M descriptors).
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    const int own = ::dirfd(dir);
    while (dirent* e = ::readdir(dir)) {
      char* end = nullptr;
      const long fd = std::strtol(e->d_name, &end, 10);
      if (end == e->d_name || *end != '\0' || fd == own || fd < 3) continue;
      if (matches(static_cast<int>(fd), req)) {
        t_socket = static_cast<int>(fd);
        break;
      }
    }
    ::closedir(dir);
    return;
  }
  for (int fd = 3; fd < 4096; ++fd) {
    if (matches(fd, req)) {
      t_socket = fd;
      return;
    }
  }
}

bool client_gone() {
  if (t_socket < 0) return false;
  char c;
  const ssize_t n = ::recv(t_socket, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return false;
  if (n == 0) return true;
  return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

}  // namespace ag::server
