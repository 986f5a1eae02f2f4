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
  if (p == MAP_FAILED) fail(code, path + ": cannot mmap " + std::to_string(m->size_) + " bytes: " + errno_text(errno));
  m->data_ = static_cast<const uint8_t*>(p);
  return m;
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace alp
