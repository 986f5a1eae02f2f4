#include "core/file_sha256_cache.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>

#include "core/sha256.hpp"

namespace alp {
namespace {

struct Entry {
  uint64_t size;
  int64_t mtime_ns;
  std::string sha256;
};

std::mutex g_mu;
std::map<std::string, Entry> g_seen;
uint64_t g_computed = 0;

}  // namespace

FileDigest cached_file_sha256(const std::string& path, ErrorCode code) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) fail(code, "cannot open " + path + ": " + std::strerror(errno));
  if (st.st_size <= 0) fail(code, path + " is empty");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  const int64_t mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    if (auto it = g_seen.find(path); it != g_seen.end() && it->second.size == size && it->second.mtime_ns == mtime)
      return {it->second.sha256, size};
  }
  std::string sha = sha256_file(path, code);  // outside the lock: GBs of reading
  std::lock_guard<std::mutex> lock(g_mu);
  ++g_computed;
  g_seen[path] = {size, mtime, sha};
  return {std::move(sha), size};
}

uint64_t file_sha256_computations() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_computed;
}

}  // namespace alp
