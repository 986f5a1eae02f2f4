#pragma once
// A small JSON DOM for config.json, index files, safetensors headers and engine manifests.
// Parsing untrusted text: depth-limited, every error names the byte offset; never reads past the end.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace alp::json {

class Value;
using Array = std::vector<Value>;
using Object = std::map<std::string, Value, std::less<>>;

class Value {
 public:
  enum class Kind { Null, Bool, Number, String, Array, Object };
  Value() = default;
  Value(std::nullptr_t) {}
  Value(bool b) : v_(b) {}
  Value(double d) : v_(d) {}
  Value(int v) : v_(static_cast<double>(v)) {}
  Value(int64_t v) : v_(static_cast<double>(v)) {}
  Value(uint64_t v) : v_(static_cast<double>(v)) {}  // so size_t values are not ambiguous
  Value(std::string s) : v_(std::move(s)) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(Array a) : v_(std::make_shared<Array>(std::move(a))) {}
  Value(Object o) : v_(std::make_shared<Object>(std::move(o))) {}

  Kind kind() const;
  bool is_null() const { return kind() == Kind::Null; }
  bool is_number() const { return kind() == Kind::Number; }
  bool is_string() const { return kind() == Kind::String; }
  bool is_array() const { return kind() == Kind::Array; }
  bool is_object() const { return kind() == Kind::Object; }
  bool is_bool() const { return kind() == Kind::Bool; }

  // Typed accessors throw std::runtime_error-free alp::Error(InvalidInput) with `what` in the message;
  // callers that read files rethrow with their own code (see checkpoint.cpp).
  bool as_bool() const;
  double as_number() const;
  int64_t as_int() const;  // must be an integer-valued number within int64
  const std::string& as_string() const;
  const Array& as_array() const;
  const Object& as_object() const;

  // Object lookup; nullptr when absent or when this is not an object.
  const Value* find(std::string_view key) const;

  // Deep structural equality (numbers compare as doubles).
  friend bool operator==(const Value& a, const Value& b);

 private:
  std::variant<std::monostate, bool, double, std::string, std::shared_ptr<Array>, std::shared_ptr<Object>> v_;
};

// Throws alp::Error(InvalidInput, "JSON parse error at offset N: ..."). Strict RFC 8259: UTF-8 validated,
// duplicate object keys rejected (they make files ambiguous), numbers beyond double range rejected
// (underflow becomes a signed zero).
Value parse(std::string_view text, int max_depth = 64);
// Keys in sorted order; numbers in the shortest form that parses back to the same double (integers
// without ".0"). indent < 0: compact; otherwise pretty-printed with that many spaces per level.
// Throws InvalidInput for NaN/Inf, which JSON cannot express.
std::string stringify(const Value& v, int indent = -1);

}  // namespace alp::json
