// Unit tests for native/core: dtype conversions, tensors, JSON, mmap, SHA-256, safetensors,
// checkpoints. Golden numbers come from NumPy/PyTorch (see comments).
#include <bit>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <sys/stat.h>

#include "core/checkpoint.hpp"
#include "core/dtype.hpp"
#include "core/error.hpp"
#include "core/json.hpp"
#include "core/mapped_file.hpp"
#include "core/safetensors.hpp"
#include "core/sha256.hpp"
#include "core/tensor.hpp"
#include "tests/check.hpp"
#include "tests/temp_dir.hpp"
#include "tests/torch_safetensors_fixture.hpp"

using namespace alp;
using alp::test::TempDir;

namespace {
float f32(uint32_t bits) { return std::bit_cast<float>(bits); }
}  // namespace

// ---- dtype --------------------------------------------------------------------------------------

TEST(dtype_names_and_sizes) {
  CHECK_EQ(dtype_size(DType::BF16), 2u);
  CHECK_EQ(dtype_size(DType::F8E4M3), 1u);
  CHECK_EQ(dtype_size(DType::I64), 8u);
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::F8E4M3, DType::I32, DType::I64, DType::U8, DType::F64,
                  DType::BOOL})
    CHECK(dtype_from_name(dtype_name(t)) == t);
  CHECK(dtype_from_name("F8_E4M3") == DType::F8E4M3);
  CHECK(!dtype_from_name("f32").has_value());
  CHECK(!dtype_from_name("F8_E5M2").has_value());
  CHECK(!dtype_from_name("").has_value());
}

TEST(dtype_hand_known_values) {
  CHECK_EQ(f16_to_f32(0x3c00), 1.0f);
  CHECK_EQ(f16_to_f32(0x7bff), 65504.0f);
  CHECK_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
  CHECK_EQ(f16_to_f32(0x03ff), 1023 * std::ldexp(1.0f, -24));
  CHECK_EQ(f16_to_f32(0x0400), std::ldexp(1.0f, -14));
  CHECK_EQ(f16_to_f32(0xc000), -2.0f);
  CHECK(std::isinf(f16_to_f32(0x7c00)) && f16_to_f32(0x7c00) > 0);
  CHECK(std::isinf(f16_to_f32(0xfc00)) && f16_to_f32(0xfc00) < 0);
  CHECK(std::isnan(f16_to_f32(0x7e00)));
  CHECK(std::signbit(f16_to_f32(0x8000)) && f16_to_f32(0x8000) == 0.0f);
  CHECK_EQ(bf16_to_f32(0x3f80), 1.0f);
  CHECK_EQ(bf16_to_f32(0xc2f7), -123.5f);
  CHECK_EQ(bf16_to_f32(0x0001), std::ldexp(1.0f, -133));
  CHECK(std::isinf(bf16_to_f32(0x7f80)));
  CHECK_EQ(fp8e4m3_to_f32(0x7e), 448.0f);
  CHECK_EQ(fp8e4m3_to_f32(0xfe), -448.0f);
  CHECK_EQ(fp8e4m3_to_f32(0x01), std::ldexp(1.0f, -9));
  CHECK_EQ(fp8e4m3_to_f32(0x07), 7 * std::ldexp(1.0f, -9));
  CHECK_EQ(fp8e4m3_to_f32(0x08), std::ldexp(1.0f, -6));
  CHECK_EQ(fp8e4m3_to_f32(0x38), 1.0f);
  CHECK_EQ(fp8e4m3_to_f32(0x77), 240.0f);
  CHECK(std::isnan(fp8e4m3_to_f32(0x7f)));
  CHECK(std::isnan(fp8e4m3_to_f32(0xff)));
  CHECK(!std::isnan(fp8e4m3_to_f32(0x7e)) && !std::isinf(fp8e4m3_to_f32(0x78)));  // e4m3fn has no Inf
  CHECK(std::signbit(fp8e4m3_to_f32(0x80)) && fp8e4m3_to_f32(0x80) == 0.0f);
}

TEST(dtype_fp8_all_256_codes) {
  int nans = 0;
  for (int c = 0; c < 256; ++c) {
    const float f = fp8e4m3_to_f32(static_cast<uint8_t>(c));
    if ((c & 0x7f) == 0x7f) {
      ++nans;
      CHECK(std::isnan(f));
      CHECK_EQ(int(f32_to_fp8e4m3(f)), c);  // NaN keeps its sign, lands on the one NaN code
      continue;
    }
    CHECK(!std::isnan(f) && !std::isinf(f));
    CHECK_EQ(int(f32_to_fp8e4m3(f)), c);
    CHECK_EQ(std::signbit(f), c >= 0x80);
    // Independent decode: sign * 2^(e-7) * (1 + m/8), subnormal 2^-6 * m/8.
    const int e = (c >> 3) & 15, m = c & 7;
    const double mag = e == 0 ? std::ldexp(m / 8.0, -6) : std::ldexp(1.0 + m / 8.0, e - 7);
    CHECK_EQ(double(f), (c & 0x80) ? -mag : mag);
  }
  CHECK_EQ(nans, 2);
  for (int c = 0; c < 0x7e; ++c) CHECK(fp8e4m3_to_f32(uint8_t(c)) < fp8e4m3_to_f32(uint8_t(c + 1)));
}

TEST(dtype_bf16_f16_all_65536_round_trip) {
  int f16_nans = 0, bf16_nans = 0;
  for (uint32_t c = 0; c < 65536; ++c) {
    const auto code = static_cast<uint16_t>(c);
    const float h = f16_to_f32(code);
    if (std::isnan(h)) {
      ++f16_nans;
      CHECK(std::isnan(f16_to_f32(f32_to_f16(h))));
    } else if (f32_to_f16(h) != code) {
      CHECK_EQ(f32_to_f16(h), code);
    }
    const float b = bf16_to_f32(code);
    if (std::isnan(b)) {
      ++bf16_nans;
      CHECK(std::isnan(bf16_to_f32(f32_to_bf16(b))));
    } else if (f32_to_bf16(b) != code) {
      CHECK_EQ(f32_to_bf16(b), code);
    }
  }
  CHECK_EQ(f16_nans, 2 * 1023);
  CHECK_EQ(bf16_nans, 2 * 127);
}

// Exhaustive round-to-nearest-even check: the exact midpoint between two adjacent codes goes to the even
// one, and the fp32 neighbours of the midpoint go to the nearer code. Midpoints are exact in fp32.
template <class Code, float (*Widen)(Code), Code (*Narrow)(float)>
int check_midpoints(uint32_t last_finite) {
  int bad = 0;
  for (uint32_t c = 0; c < last_finite; ++c) {
    for (uint32_t sign : {0u, 1u}) {
      const uint32_t lo = c | (sign ? (sizeof(Code) == 1 ? 0x80u : 0x8000u) : 0u);
      const uint32_t hi = (c + 1) | (lo & ~c);
      const float a = Widen(static_cast<Code>(lo)), b = Widen(static_cast<Code>(hi));
      const float mid = a + (b - a) / 2;  // (a + b) / 2 would overflow at the top binade
      if (mid != static_cast<float>((static_cast<double>(a) + b) / 2)) ++bad;  // not exact: test premise broken
      const uint32_t even = (c & 1) ? hi : lo;
      if (Narrow(mid) != even) ++bad;
      const float toward_lo = std::nextafter(mid, a), toward_hi = std::nextafter(mid, b);
      if (Narrow(toward_lo) != lo) ++bad;
      if (Narrow(toward_hi) != hi) ++bad;
    }
  }
  return bad;
}

TEST(dtype_round_to_nearest_even_everywhere) {
  CHECK_EQ((check_midpoints<uint16_t, f16_to_f32, f32_to_f16>(0x7bff)), 0);
  CHECK_EQ((check_midpoints<uint16_t, bf16_to_f32, f32_to_bf16>(0x7f7f)), 0);
  CHECK_EQ((check_midpoints<uint8_t, fp8e4m3_to_f32, f32_to_fp8e4m3>(0x7e)), 0);
}

TEST(dtype_overflow_nan_inf) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  CHECK_EQ(f32_to_f16(65519.0f), 0x7bff);
  CHECK_EQ(f32_to_f16(65520.0f), 0x7c00);  // midpoint to 2^16 ties to even = Inf
  CHECK_EQ(f32_to_f16(-1e10f), 0xfc00);
  CHECK_EQ(f32_to_f16(inf), 0x7c00);
  CHECK_EQ(f32_to_f16(-inf), 0xfc00);
  CHECK((f32_to_f16(nan) & 0x7c00) == 0x7c00 && (f32_to_f16(nan) & 0x3ff) != 0);
  CHECK_EQ(f32_to_bf16(f32(0x7f7fffff)), 0x7f80);  // FLT_MAX rounds up to Inf
  CHECK_EQ(f32_to_bf16(-inf), 0xff80);
  CHECK(std::isnan(bf16_to_f32(f32_to_bf16(-nan))));
  CHECK(std::isnan(bf16_to_f32(f32_to_bf16(f32(0x7f800001)))));  // payload only in low bits: must stay NaN
  CHECK_EQ(int(f32_to_fp8e4m3(448.0f)), 0x7e);
  CHECK_EQ(int(f32_to_fp8e4m3(464.0f)), 0x7e);  // would round to 480 (NaN code): saturates
  CHECK_EQ(int(f32_to_fp8e4m3(1e30f)), 0x7e);
  CHECK_EQ(int(f32_to_fp8e4m3(inf)), 0x7e);
  CHECK_EQ(int(f32_to_fp8e4m3(-inf)), 0xfe);
  CHECK_EQ(int(f32_to_fp8e4m3(nan)), 0x7f);
  CHECK_EQ(int(f32_to_fp8e4m3(std::ldexp(1.0f, -10))), 0x00);      // half the smallest subnormal: ties to 0
  CHECK_EQ(int(f32_to_fp8e4m3(std::ldexp(1.0f, -10) * 1.0001f)), 0x01);
  CHECK_EQ(int(f32_to_fp8e4m3(-std::ldexp(1.0f, -10))), 0x80);
  CHECK_EQ(f32_to_f16(f32(0x00000001)), 0x0000);  // fp32 subnormals vanish in f16
}

// (f32 bits, bf16, f16, fp8 e4m3fn) from torch .to(bfloat16), numpy .astype(float16) and torch
// .to(float8_e4m3fn) (saturated to 0x7e by hand where torch would give NaN, i.e. |x| >= 448).
TEST(dtype_golden_torch_numpy) {
  struct Row {
    uint32_t f;
    uint16_t bf16, f16;
    uint8_t fp8;
  };
  static const Row rows[] = {
      {0x3eaaaaabu, 0x3eab, 0x3555, 0x2b}, {0x40490fdbu, 0x4049, 0x4248, 0x45}, {0xc02df854u, 0xc02e, 0xc170, 0xc3},
      {0x3dcccccdu, 0x3dcd, 0x2e66, 0x1d}, {0xbdcccccdu, 0xbdcd, 0xae66, 0x9d}, {0x477fe000u, 0x4780, 0x7bff, 0x7e},
      {0x477feffdu, 0x4780, 0x7bff, 0x7e}, {0x477ff000u, 0x4780, 0x7c00, 0x7e}, {0x33800000u, 0x3380, 0x0001, 0x00},
      {0x33000000u, 0x3300, 0x0000, 0x00}, {0x33400000u, 0x3340, 0x0001, 0x00}, {0x33000001u, 0x3300, 0x0001, 0x00},
      {0x322bcc77u, 0x322c, 0x0000, 0x00}, {0x00000001u, 0x0000, 0x0000, 0x00}, {0x38800000u, 0x3880, 0x0400, 0x00},
      {0x387fc000u, 0x3880, 0x03ff, 0x00}, {0x43964000u, 0x4396, 0x5cb2, 0x79}, {0x43680000u, 0x4368, 0x5b40, 0x76},
      {0x43700000u, 0x4370, 0x5b80, 0x77}, {0x3a800000u, 0x3a80, 0x1400, 0x00}, {0x3ac00000u, 0x3ac0, 0x1600, 0x01},
      {0x3b200000u, 0x3b20, 0x1900, 0x01}, {0x3c400000u, 0x3c40, 0x2200, 0x06}, {0x43dff333u, 0x43e0, 0x5f00, 0x7e},
      {0x43d00000u, 0x43d0, 0x5e80, 0x7d}, {0x43d80000u, 0x43d8, 0x5ec0, 0x7e}, {0xc18a6666u, 0xc18a, 0xcc53, 0xd9},
      {0x3f808000u, 0x3f80, 0x3c04, 0x38}, {0x3f818000u, 0x3f82, 0x3c0c, 0x38}, {0x3f801000u, 0x3f80, 0x3c00, 0x38},
      {0x3f803000u, 0x3f80, 0x3c02, 0x38}, {0x7f7f0000u, 0x7f7f, 0x7c00, 0x7e}, {0x7149f2cau, 0x714a, 0x7c00, 0x7e},
      {0x47f12065u, 0x47f1, 0x7c00, 0x7e}, {0x3c880000u, 0x3c88, 0x2440, 0x08}, {0x3c800000u, 0x3c80, 0x2400, 0x08},
      {0x3c780000u, 0x3c78, 0x23c0, 0x08},
  };
  for (const Row& r : rows) {
    CHECK_EQ(f32_to_bf16(f32(r.f)), r.bf16);
    CHECK_EQ(f32_to_f16(f32(r.f)), r.f16);
    CHECK_EQ(int(f32_to_fp8e4m3(f32(r.f))), int(r.fp8));
  }
}

TEST(dtype_convert_to_f32_all_types_unaligned) {
  alignas(8) uint8_t buf[1 + 3 * 8];
  float out[3];
  auto run = [&](DType t, const void* vals, size_t elem) {
    std::memcpy(buf + 1, vals, 3 * elem);  // +1: sources may sit at any byte offset in an mmap
    convert_to_f32(t, buf + 1, out, 3);
  };
  const float f[3] = {1.5f, -2.0f, 1e-3f};
  run(DType::F32, f, 4);
  CHECK_EQ(out[0], 1.5f); CHECK_EQ(out[2], 1e-3f);
  const double d[3] = {0.25, -1e300, 3.0};
  run(DType::F64, d, 8);
  CHECK_EQ(out[0], 0.25f); CHECK(std::isinf(out[1]) && out[1] < 0);
  const int64_t i64[3] = {-7, 1ll << 40, 0};
  run(DType::I64, i64, 8);
  CHECK_EQ(out[0], -7.0f); CHECK_EQ(out[1], 1099511627776.0f);
  const int32_t i32[3] = {-3, 5, 1 << 30};
  run(DType::I32, i32, 4);
  CHECK_EQ(out[0], -3.0f); CHECK_EQ(out[2], 1073741824.0f);
  const uint16_t h[3] = {0x3c00, 0xc000, 0x0001};
  run(DType::F16, h, 2);
  CHECK_EQ(out[1], -2.0f); CHECK_EQ(out[2], std::ldexp(1.0f, -24));
  const uint16_t bf[3] = {0x3fc0, 0xc010, 0x3b45};
  run(DType::BF16, bf, 2);
  CHECK_EQ(out[0], 1.5f); CHECK_EQ(out[1], -2.25f); CHECK_EQ(out[2], 0.0030059814453125f);
  const uint8_t f8[3] = {0x30, 0xfe, 0x01};
  run(DType::F8E4M3, f8, 1);
  CHECK_EQ(out[0], 0.5f); CHECK_EQ(out[1], -448.0f); CHECK_EQ(out[2], std::ldexp(1.0f, -9));
  const uint8_t u8[3] = {0, 255, 7};
  run(DType::U8, u8, 1);
  CHECK_EQ(out[1], 255.0f);
  const uint8_t bo[3] = {0, 1, 2};
  run(DType::BOOL, bo, 1);
  CHECK_EQ(out[0], 0.0f); CHECK_EQ(out[1], 1.0f); CHECK_EQ(out[2], 1.0f);
}

// ---- tensor -------------------------------------------------------------------------------------

TEST(tensor_owned_view_and_errors) {
  CHECK_EQ(shape_numel({}), 1);
  CHECK_EQ(shape_numel({2, 0, 5}), 0);
  CHECK_EQ(shape_str({2, 3}), std::string("[2, 3]"));
  CHECK_THROWS_CODE(shape_numel({2, -1}), ErrorCode::InvalidInput, "negative");
  CHECK_THROWS_CODE(shape_numel({1ll << 32, 1ll << 32}), ErrorCode::InvalidInput, "overflow");
  CHECK_THROWS_CODE(Tensor(DType::F64, {1ll << 62}), ErrorCode::InvalidInput, "overflow");

  Tensor t(DType::BF16, {2, 3});
  CHECK_EQ(t.numel(), 6);
  CHECK_EQ(t.nbytes(), 12u);
  bool zero = true;
  for (int i = 0; i < 6; ++i) zero = zero && t.as<uint16_t>()[i] == 0;
  CHECK(zero);
  t.mutable_as<uint16_t>()[4] = 0xc010;
  CHECK_EQ(t.to_f32()[4], -2.25f);

  const float vals[] = {1, 2, 3, 4};
  Tensor f = Tensor::from_f32({2, 2}, vals);
  CHECK_EQ(f.to_f32()[3], 4.0f);
  CHECK_THROWS_CODE(Tensor::from_f32({3}, vals), ErrorCode::InvalidInput, "needs 3 values, got 4");

  auto owner = std::make_shared<std::vector<float>>(std::vector<float>{5, 6});
  Tensor v = Tensor::view(DType::F32, {2}, owner->data(), owner);
  CHECK_EQ(v.data(), static_cast<const void*>(owner->data()));
  CHECK_THROWS_CODE(v.mutable_data(), ErrorCode::Internal, "view");
  std::weak_ptr<std::vector<float>> weak = owner;
  owner.reset();
  CHECK(!weak.expired());  // the view keeps its memory alive
  CHECK_EQ(v.to_f32()[1], 6.0f);
}

// ---- json ---------------------------------------------------------------------------------------

TEST(json_parse_values) {
  const json::Value v = json::parse(R"( {"a": [1, -2.5e3, true, false, null], "s": "x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00", "o": {}} )");
  CHECK(v.is_object());
  const json::Array& a = v.find("a")->as_array();
  CHECK_EQ(a.size(), 5u);
  CHECK_EQ(a[0].as_int(), 1);
  CHECK_EQ(a[1].as_number(), -2500.0);
  CHECK(a[2].as_bool() && !a[3].as_bool() && a[4].is_null());
  CHECK_EQ(v.find("s")->as_string(), std::string("x\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80"));
  CHECK(v.find("o")->as_object().empty());
  CHECK(v.find("missing") == nullptr);
  CHECK(a[0].find("x") == nullptr);
  CHECK_EQ(json::parse("\"\xe2\x82\xac\"").as_string(), std::string("\xe2\x82\xac"));  // raw UTF-8 kept
  CHECK_EQ(json::parse("0").as_int(), 0);
  CHECK(std::signbit(json::parse("-0").as_number()));
  CHECK_EQ(json::parse("1E+2").as_number(), 100.0);
  CHECK_EQ(json::parse("9007199254740993").as_number(), 9007199254740992.0);  // nearest double
  CHECK_EQ(json::parse("1e-400").as_number(), 0.0);
  CHECK_EQ(json::parse("2.2250738585072014e-308").as_number(), 2.2250738585072014e-308);
  CHECK_EQ(json::parse("4.9e-324").as_number(), 4.9e-324);
  CHECK_THROWS_CODE(json::parse("1.5").as_int(), ErrorCode::InvalidInput, "integer");
  CHECK_THROWS_CODE(json::parse("1e19").as_int(), ErrorCode::InvalidInput, "int64");
  CHECK_THROWS_CODE(json::parse("\"x\"").as_number(), ErrorCode::InvalidInput, "expected number, got string");
}

TEST(json_parse_errors_name_offset) {
  struct Case {
    const char* text;
    const char* expect;
  };
  const Case cases[] = {
      {"", "offset 0: unexpected end"},
      {"[1,]", "offset 3"},
      {"[1 2]", "offset 3: expected ',' or ']'"},
      {"{\"a\" 1}", "offset 5: expected ':'"},
      {"{\"a\":1,}", "offset 7: expected a string key"},
      {"{\"a\":1,\"a\":2}", "offset 7: duplicate object key"},
      {"01", "offset 1: unexpected trailing"},
      {"1.", "offset 2: invalid number"},
      {".5", "offset 0: unexpected character '.'"},
      {"+1", "offset 0"},
      {"-", "offset 1: invalid number"},
      {"1e", "offset 2"},
      {"1e400", "offset 0: number out of double range"},
      {"-1e400", "out of double range"},
      {"tru", "offset 0: invalid literal"},
      {"nul", "invalid literal"},
      {"\"abc", "unterminated string"},
      {"\"a\x01\"", "offset 2: unescaped control character"},
      {"\"\\x\"", "offset 2: invalid escape"},
      {"\"\\u12zz\"", "invalid hex digit"},
      {"\"\\u12", "truncated \\u escape"},
      {"\"\\ud800\"", "high surrogate not followed"},
      {"\"\\ud800\\u0041\"", "not followed by a low surrogate"},
      {"\"\\udc00\"", "unpaired low surrogate"},
      {"\"\xff\"", "offset 1: invalid UTF-8"},
      {"\"\xc0\xaf\"", "invalid UTF-8"},           // overlong '/'
      {"\"\xed\xa0\x80\"", "invalid UTF-8"},       // encoded surrogate
      {"\"\xf4\x90\x80\x80\"", "invalid UTF-8"},   // > U+10FFFF
      {"\"\xe2\x82\"", "invalid UTF-8"},           // truncated sequence
      {"\xef\xbb\xbf{}", "offset 0"},              // BOM is not JSON
      {"{} x", "offset 3: unexpected trailing"},
      {"[", "unexpected end"},
      {"{\"a\":", "unexpected end"},
  };
  for (const Case& c : cases) CHECK_THROWS_CODE(json::parse(c.text), ErrorCode::InvalidInput, c.expect);
}

TEST(json_depth_limit) {
  std::string ok(64, '['), deep(65, '[');
  ok += std::string(64, ']');
  deep += std::string(65, ']');
  CHECK(json::parse(ok).is_array());
  CHECK_THROWS_CODE(json::parse(deep), ErrorCode::InvalidInput, "offset 64: nesting deeper than 64");
  CHECK_THROWS_CODE(json::parse(std::string(1000000, '[')), ErrorCode::InvalidInput, "nesting deeper");
  CHECK_THROWS_CODE(json::parse("{\"a\":{\"b\":[1]}}", 2), ErrorCode::InvalidInput, "nesting deeper than 2");
}

TEST(json_stringify_stable_and_exact) {
  json::Object o{{"zeta", json::Value(1)}, {"alpha", json::Value(json::Array{json::Value(0.1), json::Value(-0.0),
                                                                              json::Value(1e21), json::Value(nullptr)})},
                 {"mid", json::Value("q\"\\\n\x01")}};
  CHECK_EQ(json::stringify(json::Value(o)), std::string(R"({"alpha":[0.1,-0,1e+21,null],"mid":"q\"\\\n\u0001","zeta":1})"));
  CHECK_EQ(json::stringify(json::Value(int64_t{9007199254740992})), std::string("9007199254740992"));
  CHECK_EQ(json::stringify(json::Value(3.0)), std::string("3"));
  CHECK_EQ(json::stringify(json::Value(-250.0)), std::string("-250"));
  CHECK_EQ(json::stringify(json::parse("{\"b\":[1,{}],\"a\":[]}"), 2),
           std::string("{\n  \"a\": [],\n  \"b\": [\n    1,\n    {}\n  ]\n}"));
  CHECK_THROWS_CODE(json::stringify(json::Value(std::nan(""))), ErrorCode::InvalidInput, "non-finite");
  // Every finite double survives stringify -> parse bit-exactly (deterministic sample of bit patterns).
  uint64_t s = 0x9e3779b97f4a7c15ull;
  int mismatches = 0;
  for (int i = 0; i < 20000; ++i) {
    s ^= s << 13; s ^= s >> 7; s ^= s << 17;
    const double d = std::bit_cast<double>(s);
    if (!std::isfinite(d)) continue;
    const double back = json::parse(json::stringify(json::Value(d))).as_number();
    if (std::bit_cast<uint64_t>(back) != std::bit_cast<uint64_t>(d)) ++mismatches;
  }
  CHECK_EQ(mismatches, 0);
  const json::Value doc = json::parse(R"({"k":[1,2.5,"\u0000x",{"n":null,"t":true}],"e":"\ud83d\ude00"})");
  CHECK(json::parse(json::stringify(doc)) == doc);
  CHECK(json::parse(json::stringify(doc, 4)) == doc);
}

// ---- mapped file, sha256 ------------------------------------------------------------------------

TEST(mapped_file_empty_missing_directory) {
  TempDir dir;
  test::write_text(dir.file("empty"), "");
  auto m = MappedFile::open(dir.file("empty"));
  CHECK_EQ(m->size(), 0u);
  test::write_text(dir.file("abc"), "abc");
  auto a = MappedFile::open(dir.file("abc"));
  CHECK_EQ(a->size(), 3u);
  CHECK_EQ(std::string(reinterpret_cast<const char*>(a->data()), 3), std::string("abc"));
  CHECK_THROWS_CODE(MappedFile::open(dir.file("nope")), ErrorCode::InvalidCheckpoint, dir.file("nope") + ": cannot open: No such file");
  CHECK_THROWS_CODE(MappedFile::open(dir.path(), ErrorCode::InvalidEngine), ErrorCode::InvalidEngine, "not a regular file");
}

TEST(sha256_fips_vectors) {
  CHECK_EQ(sha256_hex(""), std::string("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  CHECK_EQ(sha256_hex("abc"), std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  CHECK_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
           std::string("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
  const std::string million(1000000, 'a');
  CHECK_EQ(sha256_hex(million), std::string("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
  Sha256 h;  // odd chunking must not change the digest
  for (size_t i = 0, step = 1; i < million.size(); i += step, step = step % 131 + 7)
    h.update(million.data() + i, std::min(step, million.size() - i));
  CHECK_EQ(to_hex(h.finish()), sha256_hex(million));
  TempDir dir;
  test::write_text(dir.file("m"), million);
  CHECK_EQ(sha256_file(dir.file("m")), sha256_hex(million));
  CHECK_THROWS_CODE(sha256_file(dir.file("none")), ErrorCode::InvalidEngine, "cannot open");
}

// ---- safetensors --------------------------------------------------------------------------------

TEST(safetensors_reads_torch_file) {
  TempDir dir;
  test::write_bytes(dir.file("t.safetensors"), test::torch_safetensors_fixture());
  auto st = SafetensorsFile::open(dir.file("t.safetensors"));
  CHECK_EQ(st->tensors().size(), 4u);
  CHECK_EQ(st->metadata().at("format"), std::string("pt"));
  const Tensor a = st->tensor("a");
  CHECK(a.dtype() == DType::F32);
  CHECK(a.shape() == Shape({2, 3}));
  const auto av = a.to_f32();
  for (int i = 0; i < 6; ++i) CHECK_EQ(av[i], i / 4.0f);
  const auto bv = st->tensor("b").to_f32();
  CHECK_EQ(bv[0], 1.5f); CHECK_EQ(bv[1], -2.25f); CHECK_EQ(bv[2], 0.0030059814453125f); CHECK_EQ(bv[3], 65536.0f);
  const Tensor c = st->tensor("c");
  CHECK_EQ(c.as<int64_t>()[0], -7);
  CHECK_EQ(c.as<int64_t>()[1], int64_t(1) << 40);
  const auto dv = st->tensor("d").to_f32();
  CHECK_EQ(dv[0], 0.5f); CHECK_EQ(dv[1], -448.0f); CHECK_EQ(dv[2], std::ldexp(1.0f, -9));
  CHECK_EQ(st->find("c")->begin, 0u);
  CHECK_EQ(st->find("d")->end, 51u);
  CHECK_THROWS_CODE(st->tensor("zz"), ErrorCode::InvalidCheckpoint, "missing tensor 'zz'");
  CHECK_THROWS_CODE(Tensor(a).mutable_data(), ErrorCode::Internal, "view");  // zero-copy: a view
}

TEST(safetensors_write_read_round_trip) {
  TempDir dir;
  const float fv[] = {1.0f, -0.5f, 3.25f, 1e-20f, 7.0f, 8.0f};
  Tensor bf(DType::BF16, {3});
  for (int i = 0; i < 3; ++i) bf.mutable_as<uint16_t>()[i] = f32_to_bf16(fv[i]);
  Tensor i64(DType::I64, {1});
  i64.mutable_as<int64_t>()[0] = -(int64_t(1) << 50);
  Tensor f8(DType::F8E4M3, {5});  // odd byte count so the next f32 lands misaligned
  for (int i = 0; i < 5; ++i) f8.mutable_as<uint8_t>()[i] = f32_to_fp8e4m3(fv[i]);
  const std::vector<NamedTensor> ts = {{"w.bf", bf}, {"scalar", Tensor::from_f32({}, std::span<const float>(fv, 1))},
                                       {"empty", Tensor(DType::F32, {0, 4})}, {"i", i64}, {"f8", f8},
                                       {"f", Tensor::from_f32({2, 3}, fv)}};
  write_safetensors(dir.file("x.safetensors"), ts, {{"format", "pt"}, {"note", "\"quoted\""}});
  const auto bytes = test::read_bytes(dir.file("x.safetensors"));
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];
  CHECK_EQ(n % 8, 0u);
  CHECK_EQ(bytes[8 + n - 1] == ' ' || bytes[8 + n - 1] == '}', true);
  CHECK_EQ(bytes.size(), 8 + n + 6 + 0 + 8 + 5 + 4 + 24);

  auto st = SafetensorsFile::open(dir.file("x.safetensors"));
  CHECK_EQ(st->metadata().at("note"), std::string("\"quoted\""));
  CHECK_EQ(st->tensor("w.bf").to_f32()[2], 3.25f);
  CHECK_EQ(st->tensor("scalar").numel(), 1);
  CHECK_EQ(st->tensor("scalar").rank(), 0u);
  CHECK_EQ(st->tensor("empty").numel(), 0);
  CHECK(st->tensor("empty").shape() == Shape({0, 4}));
  CHECK_EQ(st->tensor("i").as<int64_t>()[0], -(int64_t(1) << 50));
  CHECK_EQ(st->tensor("f8").to_f32()[1], -0.5f);
  const Tensor f = st->tensor("f");  // misaligned in the file: returned as an aligned copy
  CHECK_EQ(reinterpret_cast<uintptr_t>(f.data()) % 4, 0u);
  CHECK_EQ(f.to_f32()[5], 8.0f);
  CHECK_THROWS_CODE(write_safetensors(dir.file("y"), {{"a", bf}, {"a", bf}}), ErrorCode::InvalidInput, "duplicate tensor name 'a'");
  CHECK_THROWS_CODE(write_safetensors(dir.file("y"), {{"__metadata__", bf}}), ErrorCode::InvalidInput, "reserved");
  CHECK_THROWS_CODE(write_safetensors(dir.file("no/such/dir/y"), {{"a", bf}}), ErrorCode::Internal, "cannot create");
}

// ---- checkpoint ---------------------------------------------------------------------------------

namespace {
Tensor filled(DType t, Shape s, float base) {
  Tensor x(t, std::move(s));
  for (int64_t i = 0; i < x.numel(); ++i) {
    const float v = base + static_cast<float>(i) * 0.5f;
    if (t == DType::BF16) x.mutable_as<uint16_t>()[i] = f32_to_bf16(v);
    else x.mutable_as<float>()[i] = v;
  }
  return x;
}
}  // namespace

TEST(checkpoint_sharded_round_trip) {
  TempDir dir;
  test::write_text(dir.file("config.json"), R"({"model_type": "alpamayo_r1", "hidden": 8})");
  write_safetensors(dir.file("model-00001-of-00002.safetensors"),
                    {{"vlm.model.visual.patch.weight", filled(DType::BF16, {4, 3}, 1.0f)},
                     {"vlm.model.language_model.layers.0.w", filled(DType::BF16, {8}, -2.0f)},
                     {"vlm.lm_head.weight", filled(DType::F32, {2, 2}, 0.0f)}});
  write_safetensors(dir.file("model-00002-of-00002.safetensors"),
                    {{"expert.layers.0.w", filled(DType::F32, {5}, 3.0f)},
                     {"action_in_proj.w", filled(DType::F32, {3}, 1.0f)},
                     {"action_out_proj.b", filled(DType::BF16, {1}, 9.0f)},
                     {"expertise.scale", filled(DType::F32, {1}, 4.0f)}});
  json::Object wm;
  for (const char* n : {"vlm.model.visual.patch.weight", "vlm.model.language_model.layers.0.w", "vlm.lm_head.weight"})
    wm.emplace(n, json::Value("model-00001-of-00002.safetensors"));
  for (const char* n : {"expert.layers.0.w", "action_in_proj.w", "action_out_proj.b", "expertise.scale"})
    wm.emplace(n, json::Value("model-00002-of-00002.safetensors"));
  test::write_text(dir.file("model.safetensors.index.json"),
                   json::stringify(json::Value(json::Object{{"metadata", json::Object{{"total_size", json::Value(100)}}},
                                                            {"weight_map", json::Value(wm)}}), 2));
  auto ck = Checkpoint::open(dir.path());
  CHECK_EQ(ck->config().find("model_type")->as_string(), std::string("alpamayo_r1"));
  CHECK_EQ(ck->names().size(), 7u);
  CHECK(ck->has("expert.layers.0.w"));
  CHECK(!ck->has("expert.layers.1.w"));
  CHECK_EQ(ck->tensor("vlm.model.visual.patch.weight").to_f32()[11], 6.5f);
  CHECK_EQ(ck->tensor("expert.layers.0.w").to_f32()[4], 5.0f);
  CHECK(ck->info("action_out_proj.b").dtype == DType::BF16);
  CHECK_THROWS_CODE(ck->tensor("nope"), ErrorCode::InvalidCheckpoint, "missing tensor nope");
  CHECK_THROWS_CODE(ck->info("nope"), ErrorCode::InvalidCheckpoint, "missing tensor nope");
  // Views point into the mapping: two calls see the same bytes, and they outlive the Checkpoint.
  const Tensor t1 = ck->tensor("expert.layers.0.w");
  CHECK_EQ(t1.data(), ck->tensor("expert.layers.0.w").data());
  const auto sizes = ck->component_sizes();
  CHECK_EQ(sizes.size(), 7u);
  CHECK_EQ(sizes.at("vlm.model.visual").tensors, 1u);
  CHECK_EQ(sizes.at("vlm.model.visual").bytes, 24u);
  CHECK_EQ(sizes.at("vlm.model.language_model").bytes, 16u);
  CHECK_EQ(sizes.at("vlm.lm_head").bytes, 16u);
  CHECK_EQ(sizes.at("expert").bytes, 20u);
  CHECK_EQ(sizes.at("action_in_proj").bytes, 12u);
  CHECK_EQ(sizes.at("action_out_proj").bytes, 2u);
  CHECK_EQ(sizes.at("other").tensors, 1u);  // "expertise.scale" is not under "expert."
  CHECK_EQ(sizes.at("other").bytes, 4u);
  ck.reset();
  CHECK_EQ(t1.to_f32()[0], 3.0f);
}

TEST(checkpoint_single_file_and_missing_pieces) {
  TempDir dir;
  CHECK_THROWS_CODE(Checkpoint::open(dir.path()), ErrorCode::InvalidCheckpoint, "config.json");
  test::write_text(dir.file("config.json"), "[1]");
  CHECK_THROWS_CODE(Checkpoint::open(dir.path()), ErrorCode::InvalidCheckpoint, "config.json is not a JSON object");
  test::write_text(dir.file("config.json"), "{\"a\":");
  CHECK_THROWS_CODE(Checkpoint::open(dir.path()), ErrorCode::InvalidCheckpoint, "config.json: JSON parse error at offset 5");
  test::write_text(dir.file("config.json"), "{}");
  CHECK_THROWS_CODE(Checkpoint::open(dir.path()), ErrorCode::InvalidCheckpoint, "no model.safetensors");
  write_safetensors(dir.file("model.safetensors"), {{"x", filled(DType::F32, {2}, 1.0f)}});
  auto ck = Checkpoint::open(dir.path() + "/");
  CHECK_EQ(ck->tensor("x").to_f32()[1], 1.5f);
  CHECK_EQ(ck->component_sizes().at("other").bytes, 8u);
}

