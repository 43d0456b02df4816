#pragma once
// The rest of the machine: OS and kernel, the Docker client, and whether the serving port is free.
#include <string>

#include "device/sysroot.h"

namespace ag::device {

struct OsReport {
  std::string name;    // PRETTY_NAME from /etc/os-release ("Debian GNU/Linux 12 (bookworm)")
  std::string kernel;  // /proc/sys/kernel/osrelease ("6.1.0-18-amd64")
  bool in_container = false;  // /.dockerenv or /run/.containerenv present, or cgroup says so
};
OsReport probe_os(const SysRoot& root);

struct DockerReport {
  bool found = false;
  std::string version;  // "24.0.7"
  int major = 0, minor = 0;
  std::string raw;      // the first line `docker --version` printed
  std::string status;   // why not found / not understood
};
// Runs `<command> --version` (no shell; command searched in PATH when it has no slash).
DockerReport probe_docker(const std::string& command = "docker");

struct PortReport {
  int port = 0;
  bool free = false;
  std::string status;  // "in use", "permission denied (ports below 1024 need root)", ...
};
// Binds 127.0.0.1:port (SO_REUSEADDR, as the server does) and releases it.
PortReport probe_port(int port);

}  // namespace ag::device
