#include <gtest/gtest.h>

#include "device/cgroup.h"
#include "device/cpu_probe.h"
#include "device/disk_probe.h"
#include "device/memory_probe.h"
#include "fake_root.h"

namespace ag::device {
namespace {

using testing::FakeRoot;

TEST(SysRoot, TextHelpers) {
  EXPECT_EQ(count_cpu_list("0-3,8,10-11"), 7);
  EXPECT_EQ(count_cpu_list("5"), 1);
  EXPECT_FALSE(count_cpu_list("3-1").has_value());
  EXPECT_FALSE(count_cpu_list("x").has_value());
  EXPECT_FALSE(count_cpu_list("").has_value());
  EXPECT_EQ(field("a: 1\nCpus_allowed_list:\t0-1\n", "Cpus_allowed_list"), "0-1");
  EXPECT_FALSE(field("a: 1\n", "b").has_value());
}

TEST(CpuProbe, PhysicalLogicalAndAffinity) {
  FakeRoot r;
  r.basic_machine(8);
  r.write("/proc/self/status", "Cpus_allowed_list:\t0-3,6\n");
  const SysRoot root(r.path());
  CpuReport cpu = probe_cpu(root, probe_cgroup(root), false);
  EXPECT_EQ(cpu.model_name, "Fake EPYC 9000");
  EXPECT_EQ(cpu.n_logical, 8);
  EXPECT_EQ(cpu.n_physical, 4);  // two threads per core id
  EXPECT_EQ(cpu.n_allowed, 5);
  EXPECT_EQ(cpu.n_usable, 5);
  EXPECT_EQ(cpu.usable_reason, "affinity mask");
  EXPECT_DOUBLE_EQ(cpu.mhz, 3000.0);
  EXPECT_TRUE(cpu.has("avx2"));
  EXPECT_TRUE(cpu.has("fma"));
  EXPECT_FALSE(cpu.has("avx512f"));
  EXPECT_EQ(cpu.simd_source, "/proc/cpuinfo");
  EXPECT_EQ(cpu.flops_per_cycle(), 32);
  ASSERT_EQ(cpu.caches.size(), 2u);
  EXPECT_EQ(cpu.caches[0].level, 1);
  EXPECT_EQ(cpu.caches[0].bytes, 32u * 1024);
  EXPECT_EQ(cpu.caches[0].shared_by, 2);
  EXPECT_EQ(cpu.caches[1].bytes, 32u << 20);
}

TEST(CpuProbe, ArmFeatures) {
  FakeRoot r;
  r.write("/proc/cpuinfo",
          "processor\t: 0\nFeatures\t: fp asimd evtstrm aes asimddp sve\n\nprocessor\t: 1\n"
          "Features\t: fp asimd\n\n");
  CpuReport cpu = probe_cpu(SysRoot(r.path()), {}, false);
  EXPECT_EQ(cpu.n_logical, 2);
  EXPECT_EQ(cpu.n_physical, 2);
  EXPECT_TRUE(cpu.has("neon"));
  EXPECT_TRUE(cpu.has("dotprod"));
  EXPECT_TRUE(cpu.has("sve"));
  EXPECT_EQ(cpu.flops_per_cycle(), 16);
}

TEST(Cgroup, V2ContainerWithTwoCpuQuota) {
  FakeRoot r;
  r.basic_machine(16);
  r.write("/proc/self/cgroup", "0::/\n");
  r.write("/proc/self/mountinfo",
          "1 0 254:0 / / rw - ext4 /dev/vda1 rw\n"
          "30 1 0:27 / /sys/fs/cgroup ro,nosuid - cgroup2 cgroup2 rw\n");
  r.write("/sys/fs/cgroup/cpu.max", "200000 100000\n");
  r.write("/sys/fs/cgroup/memory.max", "4294967296\n");
  r.write("/sys/fs/cgroup/memory.current", "1073741824\n");
  const SysRoot root(r.path());
  CgroupLimits cg = probe_cgroup(root);
  EXPECT_EQ(cg.version, 2);
  EXPECT_DOUBLE_EQ(cg.cpu_quota, 2.0);
  EXPECT_NE(cg.cpu_source.find("cpu.max"), std::string::npos);
  EXPECT_EQ(cg.memory_limit, 4ull << 30);
  EXPECT_EQ(cg.memory_usage, 1ull << 30);
  CpuReport cpu = probe_cpu(root, cg, false);
  EXPECT_EQ(cpu.n_logical, 16);
  EXPECT_EQ(cpu.n_usable, 2);
  EXPECT_NE(cpu.usable_reason.find("quota"), std::string::npos);
  MemoryReport mem = probe_memory(root, cg);
  EXPECT_EQ(mem.total_bytes, 16ull << 30);
  EXPECT_EQ(mem.effective_total_bytes, 4ull << 30);
  EXPECT_EQ(mem.effective_available_bytes, 3ull << 30);
}

TEST(Cgroup, V2NestedLimitBindsFromParent) {
  FakeRoot r;
  r.write("/proc/self/cgroup", "0::/app.slice/svc\n");
  r.write("/proc/self/mountinfo", "30 1 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
  r.write("/sys/fs/cgroup/app.slice/svc/cpu.max", "max 100000\n");
  r.write("/sys/fs/cgroup/app.slice/svc/memory.max", "max\n");
  r.write("/sys/fs/cgroup/app.slice/cpu.max", "150000 100000\n");
  r.write("/sys/fs/cgroup/app.slice/memory.max", "2147483648\n");
  CgroupLimits cg = probe_cgroup(SysRoot(r.path()));
  EXPECT_DOUBLE_EQ(cg.cpu_quota, 1.5);
  EXPECT_EQ(cg.memory_limit, 2ull << 30);
  EXPECT_NE(cg.memory_source.find("app.slice/memory.max"), std::string::npos);
  // 1.5 CPUs of quota: one thread runs at full speed.
  CpuReport cpu = probe_cpu(SysRoot(r.path()), cg, false);
  EXPECT_EQ(cpu.n_usable, 1);
}

TEST(Cgroup, V1DockerLimits) {
  FakeRoot r;
  r.basic_machine(8);
  r.write("/proc/self/cgroup",
          "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n0::/\n");
  r.write("/proc/self/mountinfo",
          "25 20 0:22 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
          "31 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
          "34 25 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
          "40 25 0:37 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n");
  r.write("/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "300000\n");
  r.write("/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
  r.write("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "-1\n");
  r.write("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n");
  r.write("/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes", "6442450944\n");
  r.write("/sys/fs/cgroup/memory/docker/abc/memory.usage_in_bytes", "1073741824\n");
  r.write("/sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
  const SysRoot root(r.path());
  CgroupLimits cg = probe_cgroup(root);
  EXPECT_EQ(cg.version, 1);
  EXPECT_DOUBLE_EQ(cg.cpu_quota, 3.0);
  EXPECT_EQ(cg.memory_limit, 6ull << 30);
  EXPECT_EQ(probe_cpu(root, cg, false).n_usable, 3);
  MemoryReport mem = probe_memory(root, cg);
  EXPECT_EQ(mem.effective_total_bytes, 6ull << 30);
  EXPECT_EQ(mem.effective_available_bytes, 5ull << 30);
}

TEST(Cgroup, V1NamespacedPathFallsBackToMountRoot) {
  // Inside a cgroup namespace the process sees its own cgroup as the hierarchy root.
  FakeRoot r;
  r.write("/proc/self/cgroup", "4:cpu,cpuacct:/kubepods/pod1/c1\n5:memory:/kubepods/pod1/c1\n");
  r.write("/proc/self/mountinfo",
          "31 25 0:28 /kubepods/pod1/c1 /sys/fs/cgroup/cpu,cpuacct ro - cgroup cgroup rw,cpu,cpuacct\n"
          "34 25 0:31 /kubepods/pod1/c1 /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n");
  r.write("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "50000\n");
  r.write("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n");
  r.write("/sys/fs/cgroup/memory/memory.limit_in_bytes", "536870912\n");
  CgroupLimits cg = probe_cgroup(SysRoot(r.path()));
  EXPECT_DOUBLE_EQ(cg.cpu_quota, 0.5);
  EXPECT_EQ(cg.memory_limit, 512ull << 20);
}

TEST(Cgroup, NoLimits) {
  FakeRoot r;
  r.write("/proc/self/cgroup", "0::/\n");
  r.write("/proc/self/mountinfo", "30 1 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
  r.write("/sys/fs/cgroup/cpu.max", "max 100000\n");
  r.write("/sys/fs/cgroup/memory.max", "max\n");
  CgroupLimits cg = probe_cgroup(SysRoot(r.path()));
  EXPECT_EQ(cg.cpu_quota, 0);
  EXPECT_EQ(cg.memory_limit, 0u);
}

TEST(Probes, MissingProcAndSysAreUnknownNotErrors) {
  FakeRoot r;  // empty: no /proc, no /sys
  const SysRoot root(r.path());
  CgroupLimits cg = probe_cgroup(root);
  EXPECT_EQ(cg.version, 0);
  CpuReport cpu = probe_cpu(root, cg, false);
  EXPECT_EQ(cpu.n_logical, 0);
  EXPECT_EQ(cpu.n_usable, 1);
  EXPECT_TRUE(cpu.simd.empty());
  MemoryReport mem = probe_memory(root, cg);
  EXPECT_EQ(mem.total_bytes, 0u);
  DiskReport disk = probe_disk(root, r.path());
  EXPECT_TRUE(disk.space_known);  // statvfs works on the real directory
  EXPECT_EQ(disk.storage, "unknown");
}

TEST(DiskProbe, RotationalFlagDecidesSsd) {
  FakeRoot r;
  r.mkdir("/models");
  const std::string models = r.at("/models");
  auto mountinfo = [&](const std::string& dev, const std::string& src) {
    r.write("/proc/self/mountinfo",
            "26 1 " + dev + " / / rw - ext4 " + src + " rw\n"
            "40 26 0:50 / /proc rw - proc proc rw\n");
  };
  // SSD: NVMe reports rotational 0.
  mountinfo("259:0", "/dev/nvme0n1");
  r.write("/sys/dev/block/259:0/queue/rotational", "0\n");
  r.write("/sys/dev/block/259:0/uevent", "MAJOR=259\nMINOR=0\nDEVNAME=nvme0n1\n");
  DiskReport d = probe_disk(SysRoot(r.path()), models);
  EXPECT_EQ(d.storage, "ssd") << d.storage_reason;
  EXPECT_EQ(d.mount_point, "/");
  EXPECT_EQ(d.device, "259:0");
  EXPECT_TRUE(d.space_known);
  EXPECT_GT(d.total_bytes, 0u);
  // A SATA disk reporting 1 is a rotating disk.
  mountinfo("8:0", "/dev/sda");
  r.write("/sys/dev/block/8:0/queue/rotational", "1\n");
  r.write("/sys/dev/block/8:0/uevent", "DEVNAME=sda\n");
  EXPECT_EQ(probe_disk(SysRoot(r.path()), models).storage, "hdd");
  // virtio reports 1 whatever backs it: unknown, not a failure.
  mountinfo("254:0", "/dev/vda");
  r.write("/sys/dev/block/254:0/queue/rotational", "1\n");
  r.write("/sys/dev/block/254:0/uevent", "DEVNAME=vda\n");
  d = probe_disk(SysRoot(r.path()), models);
  EXPECT_EQ(d.storage, "unknown");
  EXPECT_NE(d.storage_reason.find("virtual"), std::string::npos);
  // Overlay (a container's root): no block device.
  mountinfo("0:77", "overlay");
  d = probe_disk(SysRoot(r.path()), models);
  EXPECT_EQ(d.storage, "unknown");
  EXPECT_EQ(d.fs_type, "ext4");
}

TEST(DiskProbe, PartitionAsksItsDisk) {
  FakeRoot r;
  r.mkdir("/models");
  r.write("/proc/self/mountinfo", "26 1 8:1 / / rw - ext4 /dev/sda1 rw\n");
  // As in sysfs: /sys/dev/block/8:1 links to the partition directory inside its disk's.
  r.write("/sys/devices/pci0/block/sda/queue/rotational", "0\n");
  r.write("/sys/devices/pci0/block/sda/sda1/partition", "1\n");
  r.write("/sys/devices/pci0/block/sda/sda1/uevent", "DEVNAME=sda1\n");
  r.symlink("../../devices/pci0/block/sda/sda1", "/sys/dev/block/8:1");
  DiskReport d = probe_disk(SysRoot(r.path()), r.at("/models"));
  EXPECT_EQ(d.storage, "ssd") << d.storage_reason;
}

TEST(DiskProbe, NonexistentDirectoryMeasuresItsParent) {
  FakeRoot r;
  r.mkdir("/data");
  DiskReport d = probe_disk(SysRoot(r.path()), r.at("/data/not/yet/models"));
  EXPECT_TRUE(d.space_known);
  EXPECT_EQ(d.stat_path, std::filesystem::canonical(r.at("/data")).string());
}

}  // namespace
}  // namespace ag::device
