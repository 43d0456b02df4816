#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "device/system_probe.h"
#include "fake_root.h"

namespace ag::device {
namespace {

using testing::FakeRoot;

// A fake `docker` client: a shell script printing `line`.
std::string fake_docker(const FakeRoot& r, const std::string& line, int exit_code = 0) {
  r.write("/bin/docker", "#!/bin/sh\necho '" + line + "'\nexit " + std::to_string(exit_code) + "\n");
  std::filesystem::permissions(r.at("/bin/docker"), std::filesystem::perms::owner_all);
  return r.at("/bin/docker");
}

TEST(DockerProbe, ParsesTheClientVersion) {
  FakeRoot r;
  DockerReport d = probe_docker(fake_docker(r, "Docker version 24.0.7, build afdd53b"));
  EXPECT_TRUE(d.found) << d.status;
  EXPECT_EQ(d.version, "24.0.7");
  EXPECT_EQ(d.major, 24);
  EXPECT_EQ(d.minor, 0);
}

TEST(DockerProbe, OldNotDockerAndMissing) {
  FakeRoot r;
  DockerReport old = probe_docker(fake_docker(r, "Docker version 19.03.15, build 99e3ed8"));
  EXPECT_TRUE(old.found);
  EXPECT_EQ(old.major, 19);
  EXPECT_EQ(old.minor, 3);
  FakeRoot r2;
  DockerReport podman = probe_docker(fake_docker(r2, "podman version 4.3.1"));
  EXPECT_FALSE(podman.found);
  EXPECT_NE(podman.status.find("not the Docker client"), std::string::npos);
  FakeRoot r3;
  EXPECT_FALSE(probe_docker(fake_docker(r3, "oops", 3)).found);
  DockerReport missing = probe_docker("autoglm-no-such-docker");
  EXPECT_FALSE(missing.found);
  EXPECT_NE(missing.status.find("not found"), std::string::npos);
}

TEST(PortProbe, FreeAndInUse) {
  // Hold a port, then ask about it.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);
  PortReport busy = probe_port(port);
  EXPECT_FALSE(busy.free);
  EXPECT_NE(busy.status.find("in use"), std::string::npos);
  close(fd);
  EXPECT_TRUE(probe_port(port).free);
  EXPECT_FALSE(probe_port(70000).free);
}

TEST(OsProbe, ReleaseKernelContainer) {
  FakeRoot r;
  r.basic_machine();
  OsReport os = probe_os(SysRoot(r.path()));
  EXPECT_EQ(os.name, "Debian GNU/Linux 12 (bookworm)");
  EXPECT_EQ(os.kernel, "6.1.0-fake");
  EXPECT_FALSE(os.in_container);
  r.write("/.dockerenv", "");
  EXPECT_TRUE(probe_os(SysRoot(r.path())).in_container);
}

}  // namespace
}  // namespace ag::device
