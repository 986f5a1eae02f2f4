#pragma once
// Helpers for the exporter tests: a self-removing temp dir, and an expect-throw check (check.hpp's
// CHECK_THROWS_CODE cannot be used: its macro parameter `code` also replaces the `.code()` call in
// its body, so every use fails to compile).
#include <atomic>
#include <filesystem>
#include <functional>
#include <string>

#include "core/error.hpp"
#include "tests/check.hpp"

#include <unistd.h>

namespace alp::test {

class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("alpamayo-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

inline void expect_error(const char* file, int line, const std::function<void()>& fn, ErrorCode expected,
                         const std::string& substr) {
  try {
    fn();
  } catch (const Error& e) {
    if (e.code() != expected)
      record_failure(file, line, std::string("wrong code ") + error_code_name(e.code()) + ": " + e.what());
    else if (std::string(e.what()).find(substr) == std::string::npos)
      record_failure(file, line, "message lacks '" + substr + "': " + e.what());
    return;
  } catch (const std::exception& e) {
    record_failure(file, line, std::string("non-alp exception: ") + e.what());
    return;
  }
  record_failure(file, line, "no exception (expected '" + substr + "')");
}

}  // namespace alp::test

#define EXPECT_ERROR(stmt, err, substr) ::alp::test::expect_error(__FILE__, __LINE__, [&] { stmt; }, (err), (substr))
