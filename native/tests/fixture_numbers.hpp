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

// The string value under `"key":` at or after `from` (no escape handling: fixture strings are
// plain ASCII such as base64). Empty if missing.
inline std::string fixture_string(std::string_view text, std::string_view key, size_t from = 0) {
  const std::string quoted = "\"" + std::string(key) + "\":";
  size_t p = find_after(text, quoted, from);
  if (p == std::string_view::npos) return {};
  p = text.find('"', p);
  if (p == std::string_view::npos) return {};
  const size_t e = text.find('"', p + 1);
  return e == std::string_view::npos ? std::string() : std::string(text.substr(p + 1, e - p - 1));
}

// Standard base64 (RFC 4648, '=' padding) to bytes; stops at the first invalid character.
inline std::vector<unsigned char> decode_base64(std::string_view s) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::vector<unsigned char> out;
  unsigned buf = 0;
  int bits = 0;
  for (char c : s) {
    const int v = val(c);
    if (v < 0) break;
    buf = (buf << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<unsigned char>((buf >> bits) & 0xFFu));
    }
  }
  return out;
}

}  // namespace alp::test
