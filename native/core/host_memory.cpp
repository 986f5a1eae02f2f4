#include "core/host_memory.hpp"

#include <sys/resource.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/error.hpp"

namespace alp {

namespace {

// "MemAvailable:   123456 kB" style line of a /proc file, in bytes; 0 when absent.
uint64_t proc_kb_field(const char* path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ":", 0) == 0) {
      unsigned long long kb = 0;
      if (std::sscanf(line.c_str() + key.size() + 1, "%llu", &kb) == 1) return static_cast<uint64_t>(kb) * 1024;
    }
  return 0;
}

// First number in a small sysfs file; false for "max", absence or junk.
bool read_number(const std::string& path, uint64_t& out) {
  std::ifstream in(path);
  std::string word;
  if (!(in >> word) || word.empty() || word == "max") return false;
  try {
    out = std::stoull(word);
    return true;
  } catch (...) {
    return false;
  }
}

// The cgroup directory of this process (v2 "0::/path" line), under /sys/fs/cgroup.
std::string cgroup_v2_dir() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("0::", 0) == 0) return "/sys/fs/cgroup" + (line.size() > 3 && line.substr(3) != "/" ? line.substr(3) : "");
  return "/sys/fs/cgroup";
}

void consider(HostMemory& m, uint64_t bytes, const std::string& what) {
  if (bytes < m.available) {
    m.available = bytes;
    m.limited_by = what;
  }
}

}  // namespace

HostMemory available_host_memory() {
  HostMemory m;
  if (const uint64_t avail = proc_kb_field("/proc/meminfo", "MemAvailable"); avail > 0)
    consider(m, avail, "MemAvailable in /proc/meminfo");
  uint64_t limit = 0, usage = 0;
  const std::string v2 = cgroup_v2_dir();
  if (read_number(v2 + "/memory.max", limit) && read_number(v2 + "/memory.current", usage))
    consider(m, limit > usage ? limit - usage : 0, "the cgroup limit " + v2 + "/memory.max minus memory.current");
  else if (read_number("/sys/fs/cgroup/memory/memory.limit_in_bytes", limit) &&
           read_number("/sys/fs/cgroup/memory/memory.usage_in_bytes", usage) && limit < (uint64_t{1} << 60))
    consider(m, limit > usage ? limit - usage : 0, "the cgroup limit memory.limit_in_bytes minus usage");
  // Address-space limits count mappings, not resident pages: compare against what is mapped now.
  const uint64_t vm_size = proc_kb_field("/proc/self/status", "VmSize");
  const uint64_t vm_data = proc_kb_field("/proc/self/status", "VmData");
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    consider(m, rl.rlim_cur > vm_size ? rl.rlim_cur - vm_size : 0, "RLIMIT_AS (ulimit -v) minus the address space in use");
  if (::getrlimit(RLIMIT_DATA, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    consider(m, rl.rlim_cur > vm_data ? rl.rlim_cur - vm_data : 0, "RLIMIT_DATA (ulimit -d) minus the data segment in use");
  return m;
}

std::string format_bytes(uint64_t bytes) {
  char buf[64];
  const double gib = static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0);
  if (gib >= 1.0)
    std::snprintf(buf, sizeof buf, "%.1f GiB", gib);
  else
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

void require_host_memory(uint64_t needed, const std::string& what, const HostMemory& available) {
  if (needed <= available.available) return;
  fail(ErrorCode::ResourceExhausted, what + " needs about " + format_bytes(needed) + " (" + std::to_string(needed) +
                                         " bytes) of host memory, but only " + format_bytes(available.available) + " (" +
                                         std::to_string(available.available) + " bytes) is available (limited by " +
                                         available.limited_by + ")");
}

}  // namespace alp
