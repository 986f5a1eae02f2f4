#pragma once
// CHECK_ERROR(stmt, code, substr): like check.hpp's CHECK_THROWS_CODE, whose parameter named `code`
// also rewrites the `.code()` call inside that macro, so it cannot compile with an ErrorCode argument.
#include <string>

#include "core/error.hpp"
#include "tests/check.hpp"

#define CHECK_ERROR(stmt, expected_code, substr)                                                              \
  do {                                                                                                        \
    bool alp_thrown_ = false;                                                                                 \
    try {                                                                                                     \
      stmt;                                                                                                   \
    } catch (const ::alp::Error& alp_e_) {                                                                    \
      alp_thrown_ = true;                                                                                     \
      if (alp_e_.code() != (expected_code))                                                                   \
        ::alp::test::record_failure(__FILE__, __LINE__, std::string("wrong code: ") + alp_e_.what());        \
      else if (std::string(alp_e_.what()).find(substr) == std::string::npos)                                 \
        ::alp::test::record_failure(__FILE__, __LINE__, std::string("message lacks '") + (substr) + "': " + alp_e_.what()); \
    }                                                                                                         \
    if (!alp_thrown_) ::alp::test::record_failure(__FILE__, __LINE__, "no alp::Error from " #stmt);          \
  } while (0)
