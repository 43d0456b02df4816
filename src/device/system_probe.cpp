#include "device/system_probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>

#include <fmt/format.h>

extern char** environ;

namespace ag::device {

OsReport probe_os(const SysRoot& root) {
  OsReport r;
  if (auto rel = root.read("/etc/os-release")) {
    for (std::string_view line : split(*rel, '\n')) {
      if (!line.starts_with("PRETTY_NAME=")) continue;
      std::string_view v = trim(line.substr(12));
      if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'')) v = v.substr(1, v.size() - 2);
      r.name = std::string(v);
    }
  }
  r.kernel = root.read_line("/proc/sys/kernel/osrelease").value_or("");
  r.in_container = root.exists("/.dockerenv") || root.exists("/run/.containerenv");
  if (!r.in_container) {
    const std::string cg = root.read("/proc/1/cgroup").value_or("");
    r.in_container = cg.find("docker") != std::string::npos ||
                     cg.find("kubepods") != std::string::npos ||
                     cg.find("containerd") != std::string::npos;
  }
  return r;
}

DockerReport probe_docker(const std::string& command) {
  DockerReport r;
  int fds[2];
  if (pipe(fds) != 0) {
    r.status = fmt::format("cannot run {}: pipe: {}", command, std::strerror(errno));
    return r;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  posix_spawn_file_actions_addclose(&actions, fds[1]);
  std::string arg0 = command, arg1 = "--version";
  char* argv[] = {arg0.data(), arg1.data(), nullptr};
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, command.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    r.status = fmt::format("'{}' not found ({})", command, std::strerror(rc));
    return r;
  }
  // Read at most 4 KiB for at most 5 s: a wedged client must not hang doctor.
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  char buf[512];
  while (out.size() < 4096) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    ssize_t n = read(fds[0], buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int wstatus = 0;
  while (waitpid(pid, &wstatus, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &wstatus, 0);
      r.status = fmt::format("'{} --version' did not finish in 5 s", command);
      return r;
    }
    usleep(2000);
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    r.status = fmt::format("'{} --version' failed (exit {})", command,
                           WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1);
    return r;
  }
  std::string_view first = out;
  if (auto nl = first.find('\n'); nl != std::string_view::npos) first = first.substr(0, nl);
  r.raw = std::string(trim(first));
  // "Docker version 24.0.7, build afdd53b"
  constexpr std::string_view kPrefix = "Docker version ";
  auto at = r.raw.find(kPrefix);
  if (at == std::string::npos) {
    r.status = fmt::format("'{} --version' printed '{}': not the Docker client", command, r.raw);
    return r;
  }
  std::string_view v = std::string_view(r.raw).substr(at + kPrefix.size());
  v = v.substr(0, v.find_first_of(", "));
  r.version = std::string(v);
  auto parts = split(v, '.');
  if (parts.size() >= 2) {
    std::from_chars(parts[0].data(), parts[0].data() + parts[0].size(), r.major);
    std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), r.minor);
  }
  r.found = true;
  return r;
}

PortReport probe_port(int port) {
  PortReport r;
  r.port = port;
  if (port < 1 || port > 65535) {
    r.status = fmt::format("port {} is out of range 1-65535", port);
    return r;
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    r.status = fmt::format("cannot open a socket: {}", std::strerror(errno));
    return r;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 && listen(fd, 1) == 0) {
    r.free = true;
    r.status = "free";
  } else if (errno == EADDRINUSE) {
    r.status = "in use by another process";
  } else if (errno == EACCES) {
    r.status = "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)";
  } else {
    r.status = std::strerror(errno);
  }
  close(fd);
  return r;
}

}  // namespace ag::device
