#pragma once
// Reads numbers out of the committed JSON fixtures (test/fixtures/*.json) without the core JSON
// parser, so model tests do not depend on it. Fixtures are flat: every value a test needs is a
// number or an (optionally nested) array of numbers under a unique key, optionally inside a case
// located with `section`.
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace alp::test {

// Finds test/fixtures/<name> from the working directory or up to three parents (the tests run from
// the repo root in CI and from build/Release by hand); ALP_FIXTURE_DIR overrides. Empty if absent.
inline std::string read_fixture(const std::string& name) {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("ALP_FIXTURE_DIR")) dirs.emplace_back(env);
  for (const char* up : {"", "../", "../../", "../../../"}) dirs.push_back(std::string(up) + "test/fixtures");
  for (const auto& d : dirs) {
    std::ifstream f(d + "/" + name, std::ios::binary);
    if (f) {
      std::ostringstream ss;
      ss << f.rdbuf();
      return ss.str();
    }
  }
  return {};
}

// Position just after `"marker"` (searching from `from`), or npos.
inline size_t find_after(std::string_view text, std::string_view marker, size_t from = 0) {
  const size_t p = text.find(marker, from);
  return p == std::string_view::npos ? p : p + marker.size();
}

// All numbers of the value under `"key":` found at or after `from`, flattened. Empty if missing.
inline std::vector<double> fixture_numbers(std::string_view text, std::string_view key, size_t from = 0) {
  std::vector<double> out;
  const std::string quoted = "\"" + std::string(key) + "\":";
  size_t p = find_after(text, quoted, from);
  if (p == std::string_view::npos) return out;
  int depth = 0;
  const std::string s(text.substr(p, std::min<size_t>(text.size() - p, 8u << 20)));
  const char* c = s.c_str();
  while (*c) {
    if (*c == '[') {
      ++depth;
      ++c;
    } else if (*c == ']') {
      if (--depth <= 0) break;
      ++c;
    } else if (*c == ',' || *c == ' ' || *c == '\n' || *c == '\r' || *c == '\t') {
      if (depth == 0 && *c == ',') break;
      ++c;
    } else {
      char* end = nullptr;
      const double v = std::strtod(c, &end);
      if (end == c) break;
      out.push_back(v);
      c = end;
      if (depth == 0) break;
    }
  }
  return out;
}

}  // namespace alp::test
