#include "core/json.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "core/error.hpp"

namespace alp::json {

Value::Kind Value::kind() const { return static_cast<Kind>(v_.index()); }

namespace {
const char* kind_name(Value::Kind k) {
  switch (k) {
    case Value::Kind::Null: return "null";
    case Value::Kind::Bool: return "boolean";
    case Value::Kind::Number: return "number";
    case Value::Kind::String: return "string";
    case Value::Kind::Array: return "array";
    case Value::Kind::Object: return "object";
  }
  return "?";
}
[[noreturn]] void wrong_kind(const char* want, Value::Kind got) {
  fail(ErrorCode::InvalidInput, std::string("JSON value: expected ") + want + ", got " + kind_name(got));
}
}  // namespace

bool Value::as_bool() const {
  if (auto* b = std::get_if<bool>(&v_)) return *b;
  wrong_kind("boolean", kind());
}
double Value::as_number() const {
  if (auto* d = std::get_if<double>(&v_)) return *d;
  wrong_kind("number", kind());
}
int64_t Value::as_int() const {
  const double d = as_number();
  // 2^63 is exactly representable; every double below it and >= -2^63 fits in int64.
  require(d >= -9223372036854775808.0 && d < 9223372036854775808.0 && std::trunc(d) == d, ErrorCode::InvalidInput,
          "JSON value: expected an integer within int64, got " + stringify(*this));
  return static_cast<int64_t>(d);
}
const std::string& Value::as_string() const {
  if (auto* s = std::get_if<std::string>(&v_)) return *s;
  wrong_kind("string", kind());
}
const Array& Value::as_array() const {
  if (auto* a = std::get_if<std::shared_ptr<Array>>(&v_)) return **a;
  wrong_kind("array", kind());
}
const Object& Value::as_object() const {
  if (auto* o = std::get_if<std::shared_ptr<Object>>(&v_)) return **o;
  wrong_kind("object", kind());
}
const Value* Value::find(std::string_view key) const {
  auto* o = std::get_if<std::shared_ptr<Object>>(&v_);
  if (!o) return nullptr;
  auto it = (*o)->find(key);
  return it == (*o)->end() ? nullptr : &it->second;
}

bool operator==(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::Null: return true;
    case Value::Kind::Bool: return a.as_bool() == b.as_bool();
    case Value::Kind::Number: return a.as_number() == b.as_number();
    case Value::Kind::String: return a.as_string() == b.as_string();
    case Value::Kind::Array: return a.as_array() == b.as_array();
    case Value::Kind::Object: return a.as_object() == b.as_object();
  }
  return false;
}

// ---- parser -------------------------------------------------------------------------------------

namespace {

class Parser {
 public:
  Parser(std::string_view s, int max_depth) : s_(s), max_depth_(max_depth) {}

  Value document() {
    skip_ws();
    Value v = value(0);
    skip_ws();
    if (pos_ != s_.size()) error("unexpected trailing characters");
    return v;
  }

 private:
  [[noreturn]] void error(const std::string& what) const {
    fail(ErrorCode::InvalidInput, "JSON parse error at offset " + std::to_string(pos_) + ": " + what);
  }
  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return at_end() ? '\0' : s_[pos_]; }
  void skip_ws() {
    while (!at_end() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  void expect_literal(std::string_view lit) {
    if (s_.substr(pos_, lit.size()) != lit) error("invalid literal (expected '" + std::string(lit) + "')");
    pos_ += lit.size();
  }

  Value value(int depth) {
    if (at_end()) error("unexpected end of input (expected a value)");
    switch (s_[pos_]) {
      case '{': return object(depth + 1);
      case '[': return array(depth + 1);
      case '"': return Value(string());
      case 't': expect_literal("true"); return Value(true);
      case 'f': expect_literal("false"); return Value(false);
      case 'n': expect_literal("null"); return Value(nullptr);
      default:
        if (s_[pos_] == '-' || (s_[pos_] >= '0' && s_[pos_] <= '9')) return Value(number());
        error(std::string("unexpected character '") + printable(s_[pos_]) + "'");
    }
  }

  static std::string printable(char c) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) return std::string(1, c);
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", u);
    return buf;
  }

  void enter(int depth) {
    if (depth > max_depth_) error("nesting deeper than " + std::to_string(max_depth_) + " levels");
  }

  Value object(int depth) {
    enter(depth);
    ++pos_;  // '{'
    Object obj;
    skip_ws();
    if (peek() == '}') {
      ++pos_;
      return Value(std::move(obj));
    }
    for (;;) {
      skip_ws();
      if (peek() != '"') error("expected a string key in object");
      const size_t key_pos = pos_;
      std::string key = string();
      skip_ws();
      if (peek() != ':') error("expected ':' after object key");
      ++pos_;
      skip_ws();
      Value v = value(depth);
      // Duplicate keys are legal but ambiguous (which tensor entry wins?); files we read must be unambiguous.
      if (!obj.emplace(std::move(key), std::move(v)).second) {
        pos_ = key_pos;
        error("duplicate object key");
      }
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        return Value(std::move(obj));
      }
      error("expected ',' or '}' in object");
    }
  }

  Value array(int depth) {
    enter(depth);
    ++pos_;  // '['
    Array arr;
    skip_ws();
    if (peek() == ']') {
      ++pos_;
      return Value(std::move(arr));
    }
    for (;;) {
      skip_ws();
      arr.push_back(value(depth));
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == ']') {
        ++pos_;
        return Value(std::move(arr));
      }
      error("expected ',' or ']' in array");
    }
  }

  unsigned hex4() {
    if (s_.size() - pos_ < 4) error("truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[pos_];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<unsigned>(c - 'A' + 10);
      else error("invalid hex digit in \\u escape");
      ++pos_;
    }
    return v;
  }

  static void put_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  // Length of the well-formed UTF-8 sequence at pos_ (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
  size_t utf8_sequence() const {
    auto byte = [&](size_t i) -> unsigned { return pos_ + i < s_.size() ? static_cast<unsigned char>(s_[pos_ + i]) : 0u; };
    const unsigned b0 = byte(0);
    auto cont = [&](size_t i, unsigned lo = 0x80, unsigned hi = 0xbf) { const unsigned b = byte(i); return b >= lo && b <= hi; };
    if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
    if (b0 == 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
    if ((b0 >= 0xe1 && b0 <= 0xec) || b0 == 0xee || b0 == 0xef) return cont(1) && cont(2) ? 3 : 0;
    if (b0 == 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
    if (b0 == 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
    if (b0 >= 0xf1 && b0 <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
    if (b0 == 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
    return 0;
  }

  std::string string() {
    ++pos_;  // opening quote
    std::string out;
    for (;;) {
      if (at_end()) error("unterminated string");
      const auto c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c < 0x20) error("unescaped control character in string");
      if (c == '\\') {
        ++pos_;
        if (at_end()) error("unterminated escape");
        const char e = s_[pos_++];
        switch (e) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u': {
            uint32_t cp = hex4();
            if (cp >= 0xdc00 && cp <= 0xdfff) error("unpaired low surrogate in \\u escape");
            if (cp >= 0xd800 && cp <= 0xdbff) {
              if (s_.substr(pos_, 2) != "\\u") error("high surrogate not followed by a \\u low surrogate");
              pos_ += 2;
              const uint32_t lo = hex4();
              if (lo < 0xdc00 || lo > 0xdfff) error("high surrogate not followed by a low surrogate");
              cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            put_utf8(out, cp);
            break;
          }
          default: --pos_; error(std::string("invalid escape '\\") + printable(e) + "'");
        }
        continue;
      }
      if (c < 0x80) {
        out += static_cast<char>(c);
        ++pos_;
        continue;
      }
      const size_t n = utf8_sequence();
      if (n == 0) error("invalid UTF-8 in string");
      out.append(s_.substr(pos_, n));
      pos_ += n;
    }
  }

  static bool digit(char c) { return c >= '0' && c <= '9'; }

  double number() {
    const size_t start = pos_;
    if (peek() == '-') ++pos_;
    if (peek() == '0') {
      ++pos_;
    } else if (digit(peek())) {
      while (digit(peek())) ++pos_;
    } else {
      error("invalid number (expected a digit)");
    }
    const size_t int_end = pos_;
    size_t frac_begin = 0, frac_end = 0;
    if (peek() == '.') {
      ++pos_;
      if (!digit(peek())) error("invalid number (expected a digit after '.')");
      frac_begin = pos_;
      while (digit(peek())) ++pos_;
      frac_end = pos_;
    }
    long exp10 = 0;
    if (peek() == 'e' || peek() == 'E') {
      ++pos_;
      bool neg = false;
      if (peek() == '+' || peek() == '-') neg = s_[pos_++] == '-';
      if (!digit(peek())) error("invalid number (expected a digit in exponent)");
      while (digit(peek())) {
        if (exp10 < 1000000) exp10 = exp10 * 10 + (s_[pos_] - '0');
        ++pos_;
      }
      if (neg) exp10 = -exp10;
    }
    const std::string_view tok = s_.substr(start, pos_ - start);
    double d = 0;
    const auto r = std::from_chars(tok.data(), tok.data() + tok.size(), d);
    if (r.ec == std::errc::result_out_of_range) {
      // Decimal magnitude of the leading significant digit tells overflow from underflow.
      const size_t int_begin = start + (s_[start] == '-' ? 1 : 0);
      long mag = static_cast<long>(int_end - int_begin);
      if (s_[int_begin] == '0') {
        mag = 0;
        for (size_t i = frac_begin; i < frac_end && s_[i] == '0'; ++i) --mag;
      }
      if (mag + exp10 > 0) {
        pos_ = start;
        error("number out of double range");
      }
      return s_[start] == '-' ? -0.0 : 0.0;
    }
    if (r.ec != std::errc() || r.ptr != tok.data() + tok.size()) {
      pos_ = start;
      error("invalid number");
    }
    return d;
  }

  std::string_view s_;
  size_t pos_ = 0;
  int max_depth_;
};

// ---- writer -------------------------------------------------------------------------------------

void write_string(std::string& out, const std::string& s) {
  out += '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

void write_number(std::string& out, double d) {
  require(std::isfinite(d), ErrorCode::InvalidInput, "JSON stringify: non-finite number has no JSON form");
  // Shortest representation that parses back to the same double; integers come out without ".0".
  // Exact integers are written in full ("5000000", not the shorter "5e+06"), as config.json writers do.
  char buf[32];
  const bool exact_integer = std::trunc(d) == d && std::fabs(d) <= 9007199254740992.0;
  const auto r = exact_integer ? std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed)
                               : std::to_chars(buf, buf + sizeof buf, d);
  out.append(buf, r.ptr);
}

void newline(std::string& out, int indent, int depth) {
  if (indent < 0) return;
  out += '\n';
  out.append(static_cast<size_t>(indent) * static_cast<size_t>(depth), ' ');
}

void write(std::string& out, const Value& v, int indent, int depth) {
  switch (v.kind()) {
    case Value::Kind::Null: out += "null"; return;
    case Value::Kind::Bool: out += v.as_bool() ? "true" : "false"; return;
    case Value::Kind::Number: write_number(out, v.as_number()); return;
    case Value::Kind::String: write_string(out, v.as_string()); return;
    case Value::Kind::Array: {
      const Array& a = v.as_array();
      out += '[';
      for (size_t i = 0; i < a.size(); ++i) {
        if (i) out += ',';
        newline(out, indent, depth + 1);
        write(out, a[i], indent, depth + 1);
      }
      if (!a.empty()) newline(out, indent, depth);
      out += ']';
      return;
    }
    case Value::Kind::Object: {
      const Object& o = v.as_object();
      out += '{';
      bool first = true;
      for (const auto& [k, val] : o) {
        if (!first) out += ',';
        first = false;
        newline(out, indent, depth + 1);
        write_string(out, k);
        out += indent >= 0 ? ": " : ":";
        write(out, val, indent, depth + 1);
      }
      if (!o.empty()) newline(out, indent, depth);
      out += '}';
      return;
    }
  }
}

}  // namespace

Value parse(std::string_view text, int max_depth) { return Parser(text, max_depth).document(); }

std::string stringify(const Value& v, int indent) {
  std::string out;
  write(out, v, indent, 0);
  return out;
}

}  // namespace alp::json
