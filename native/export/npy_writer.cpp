#include "export/npy_writer.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "core/error.hpp"

namespace alp::exporter {

void write_npy(const std::string& path, const Tensor& t) {
  const char* descr = t.dtype() == DType::F32 ? "<f4" : t.dtype() == DType::I64 ? "<i8" : nullptr;
  require(descr != nullptr, ErrorCode::Internal,
          "write_npy '" + path + "': only F32/I64 supported, got " + std::string(dtype_name(t.dtype())));
  std::string shape = "(";
  for (size_t i = 0; i < t.rank(); ++i) shape += std::to_string(t.dim(i)) + (t.rank() == 1 ? "," : i + 1 < t.rank() ? ", " : "");
  shape += ")";
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // magic(6) + version(2) + length(2) + header + '\n' must be a multiple of 64.
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::string out("\x93NUMPY\x01\x00", 8);
  out.push_back(static_cast<char>(header.size() & 0xff));
  out.push_back(static_cast<char>(header.size() >> 8));
  out += header;
  out.append(static_cast<const char*>(t.data()), t.nbytes());
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
  require(f && std::fwrite(out.data(), 1, out.size(), f.get()) == out.size(), ErrorCode::InvalidInput,
          "cannot write '" + path + "': " + std::strerror(errno));
}

}  // namespace alp::exporter
