#pragma once
// A minimal test harness for the native unit tests: TEST(name) registers a case, CHECK* record
// failures with file:line, and main() (tests_main.cpp) runs every case (or those matching argv[1])
// and prints "N passed, N skipped, N failed", which the tap wrapper in test/nativeUnit.test.ts reads.
// A skipped case is not a pass: it is counted and listed on its own.
#include <cmath>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace alp::test {

struct Case {
  const char* name;
  std::function<void()> fn;
};
std::vector<Case>& registry();
void record_failure(const char* file, int line, const std::string& what);
// Marks the current case skipped with `reason` (it then counts neither as passed nor as failed).
void record_skip(const std::string& reason);

struct Registrar {
  Registrar(const char* name, std::function<void()> fn) { registry().push_back({name, std::move(fn)}); }
};

}  // namespace alp::test

#define ALP_CAT2(a, b) a##b
#define ALP_CAT(a, b) ALP_CAT2(a, b)
#define TEST(name)                                                                            \
  static void ALP_CAT(test_fn_, name)();                                                      \
  static ::alp::test::Registrar ALP_CAT(test_reg_, name)(#name, &ALP_CAT(test_fn_, name));    \
  static void ALP_CAT(test_fn_, name)()

#define CHECK(cond)                                                                           \
  do {                                                                                        \
    if (!(cond)) ::alp::test::record_failure(__FILE__, __LINE__, "CHECK(" #cond ")");          \
  } while (0)

#define CHECK_EQ(a, b)                                                                        \
  do {                                                                                        \
    const auto alp_a_ = (a);  /* copies: (a) may be a temporary's element */                 \
    const auto alp_b_ = (b);                                                                 \
    if (!(alp_a_ == alp_b_)) {                                                                \
      std::ostringstream alp_os_;                                                             \
      alp_os_ << "CHECK_EQ(" #a ", " #b "): " << alp_a_ << " != " << alp_b_;                  \
      ::alp::test::record_failure(__FILE__, __LINE__, alp_os_.str());                         \
    }                                                                                         \
  } while (0)

#define CHECK_NEAR(a, b, tol)                                                                 \
  do {                                                                                        \
    const double alp_a_ = (a), alp_b_ = (b);                                                  \
    if (!(std::fabs(alp_a_ - alp_b_) <= (tol))) {                                             \
      std::ostringstream alp_os_;                                                             \
      alp_os_.precision(17);                                                                  \
      alp_os_ << "CHECK_NEAR(" #a ", " #b "): " << alp_a_ << " vs " << alp_b_ << " tol " << (tol); \
      ::alp::test::record_failure(__FILE__, __LINE__, alp_os_.str());                         \
    }                                                                                         \
  } while (0)

// Expects `stmt` to throw alp::Error with `code`; `substr` must appear in the message.
#define CHECK_THROWS_CODE(stmt, expected_code, substr)                                                 \
  do {                                                                                        \
    bool alp_thrown_ = false;                                                                 \
    try {                                                                                     \
      stmt;                                                                                   \
    } catch (const ::alp::Error& alp_e_) {                                                    \
      alp_thrown_ = true;                                                                     \
      if (alp_e_.code() != (expected_code))                                                            \
        ::alp::test::record_failure(__FILE__, __LINE__, std::string("wrong code: ") + alp_e_.what()); \
      else if (std::string(alp_e_.what()).find(substr) == std::string::npos)                  \
        ::alp::test::record_failure(__FILE__, __LINE__, std::string("message lacks '") + (substr) + "': " + alp_e_.what()); \
    } catch (const std::exception& alp_e_) {                                                  \
      alp_thrown_ = true;                                                                     \
      ::alp::test::record_failure(__FILE__, __LINE__, std::string("non-alp exception: ") + alp_e_.what()); \
    }                                                                                         \
    if (!alp_thrown_) ::alp::test::record_failure(__FILE__, __LINE__, "no exception from " #stmt); \
  } while (0)

// Ends the current case early as skipped, with why (e.g. no GPU on this machine). main() reports it as
// "skip <name>: <reason>" and counts it apart from passes; checks that failed before the skip still fail it.
#define SKIP(reason)                                                                          \
  do {                                                                                        \
    ::alp::test::record_skip(reason);                                                         \
    return;                                                                                   \
  } while (0)
