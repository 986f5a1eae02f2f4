#include <cstring>
#include <iostream>

#include "core/error.hpp"
#include "tests/check.hpp"

namespace alp::test {
namespace {
int g_failures_in_case = 0;
std::string g_skip_reason;  // non-empty: the current case called SKIP
}
std::vector<Case>& registry() {
  static std::vector<Case> cases;
  return cases;
}
void record_failure(const char* file, int line, const std::string& what) {
  ++g_failures_in_case;
  std::cout << "    " << file << ":" << line << ": " << what << "\n";
}
void record_skip(const std::string& reason) { g_skip_reason = reason.empty() ? "(no reason given)" : reason; }
}  // namespace alp::test

int main(int argc, char** argv) {
  using namespace alp::test;
  const char* filter = argc > 1 ? argv[1] : nullptr;
  int passed = 0, skipped = 0, failed = 0;
  for (const auto& c : registry()) {
    if (filter && !std::strstr(c.name, filter)) continue;
    g_failures_in_case = 0;
    g_skip_reason.clear();
    try {
      c.fn();
    } catch (const std::exception& e) {
      record_failure(__FILE__, __LINE__, std::string("uncaught exception: ") + e.what());
    }
    if (g_failures_in_case > 0) {
      ++failed;
      std::cout << "not ok " << c.name << "\n";
    } else if (!g_skip_reason.empty()) {
      ++skipped;
      std::cout << "skip " << c.name << ": " << g_skip_reason << "\n";
    } else {
      ++passed;
      std::cout << "ok " << c.name << "\n";
    }
  }
  std::cout << passed << " passed, " << skipped << " skipped, " << failed << " failed\n";
  return failed == 0 ? 0 : 1;
}
