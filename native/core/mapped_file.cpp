#include "core/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace alp {

namespace {
// Closes the descriptor on every path out of open(); the mapping outlives it.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};
std::string errno_text(int err) { return std::strerror(err); }
}  // namespace

std::shared_ptr<const MappedFile> MappedFile::open(const std::string& path, ErrorCode code) {
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) fail(code, path + ": cannot open: " + errno_text(errno));
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) fail(code, path + ": cannot stat: " + errno_text(errno));
  require(S_ISREG(st.st_mode), code, path + ": not a regular file");
  struct Constructible : MappedFile {};  // lets make_shared reach the private constructor
  std::shared_ptr<MappedFile> m = std::make_shared<Constructible>();
  m->path_ = path;
  m->size_ = static_cast<size_t>(st.st_size);
  if (m->size_ == 0) return m;  // mmap rejects length 0; an empty file is still a valid (empty) mapping
  void* p = ::mmap(nullptr, m->size_, PROT_READ, MAP_PRIVATE, f.fd, 0);
  if (p == MAP_FAILED) {
    // Out of address space (RLIMIT_AS, vm.max_map_count) says nothing about the file itself.
    const int err = errno;
    fail(err == ENOMEM ? ErrorCode::ResourceExhausted : code,
         path + ": cannot mmap " + std::to_string(m->size_) + " bytes: " + errno_text(err));
  }
  m->data_ = static_cast<const uint8_t*>(p);
  m->fd_ = f.fd;
  f.fd = -1;  // kept for read_at(); closed in the destructor
  return m;
}

void MappedFile::read_at(uint64_t offset, std::span<uint8_t> out) const {
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = fd_ < 0 ? 0 : ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(ErrorCode::InvalidCheckpoint, path_ + ": read failed at byte " + std::to_string(offset + done) + ": " + errno_text(errno));
    if (n == 0)
      fail(ErrorCode::InvalidCheckpoint, path_ + ": file ends at byte " + std::to_string(offset + done) + ", expected at least " +
                                             std::to_string(offset + out.size()) + " (truncated or replaced after load?)");
    done += static_cast<size_t>(n);
  }
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace alp
