// Hostile-input tests for the checkpoint readers: a deterministic loop of >1000 corrupted safetensors
// files, headers, config.json and index files. Every case must either load (a harmless change) or throw
// alp::Error(InvalidCheckpoint) naming the file and the tensor or field; anything else (crash, other
// exception, out-of-bounds read under ASan) fails the test.
#include <algorithm>
#include <cstring>
#include <iostream>
#include <functional>
#include <string>
#include <vector>

#include "core/checkpoint.hpp"
#include "core/error.hpp"
#include "core/safetensors.hpp"
#include "tests/check.hpp"
#include "tests/temp_dir.hpp"
#include "tests/torch_safetensors_fixture.hpp"

using namespace alp;
using alp::test::TempDir;

namespace {

struct Tally {
  int cases = 0, loaded = 0, rejected = 0;
};

// Touches every byte of every tensor, so a view past the mapping shows up under ASan.
double touch_all(const SafetensorsFile& st) {
  double sum = 0;
  for (const auto& [name, info] : st.tensors())
    for (float v : st.tensor(name).to_f32()) sum += v == v ? 0.0 : 1.0;
  return sum;
}

enum class Expect { Either, Load, Reject };

// Runs one case. `must_contain` (when non-empty) must appear in a rejection message.
void run_case(Tally& tally, const std::string& label, const std::function<void()>& load, Expect expect,
              const std::string& must_contain) {
  ++tally.cases;
  try {
    load();
    ++tally.loaded;
    if (expect == Expect::Reject) test::record_failure(__FILE__, __LINE__, label + ": loaded but must be rejected");
  } catch (const Error& e) {
    ++tally.rejected;
    const std::string msg = e.what();
    if (e.code() != ErrorCode::InvalidCheckpoint)
      test::record_failure(__FILE__, __LINE__, label + ": wrong code " + error_code_name(e.code()) + ": " + msg);
    else if (expect == Expect::Load)
      test::record_failure(__FILE__, __LINE__, label + ": rejected but must load: " + msg);
    else if (!must_contain.empty() && msg.find(must_contain) == std::string::npos)
      test::record_failure(__FILE__, __LINE__, label + ": message lacks '" + must_contain + "': " + msg);
  } catch (const std::exception& e) {
    test::record_failure(__FILE__, __LINE__, label + ": non-alp exception: " + e.what());
  } catch (...) {
    test::record_failure(__FILE__, __LINE__, label + ": unknown exception");
  }
}

void load_shard(const std::string& path) { touch_all(*SafetensorsFile::open(path)); }

void load_checkpoint(const std::string& dir) {
  auto ck = Checkpoint::open(dir);
  for (const auto& n : ck->names()) ck->tensor(n).to_f32();
  ck->component_sizes();
}

uint64_t xorshift(uint64_t& s) {
  s ^= s << 13;
  s ^= s >> 7;
  s ^= s << 17;
  return s;
}

std::vector<uint8_t> with_length_prefix(uint64_t n, const std::vector<uint8_t>& rest) {
  std::vector<uint8_t> out(8 + rest.size());
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(n >> (8 * i));
  std::copy(rest.begin(), rest.end(), out.begin() + 8);
  return out;
}

// A file with the given header text (padded to 8) and `data_bytes` bytes of data.
std::vector<uint8_t> file_with_header(std::string header, size_t data_bytes = 64) {
  header.append((8 - header.size() % 8) % 8, ' ');
  std::vector<uint8_t> rest(header.begin(), header.end());
  for (size_t i = 0; i < data_bytes; ++i) rest.push_back(static_cast<uint8_t>(i * 37));
  return with_length_prefix(header.size(), rest);
}

uint64_t header_len(const std::vector<uint8_t>& f) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | f[i];
  return n;
}

}  // namespace

TEST(hostile_safetensors_corruption_loop) {
  TempDir dir;
  const std::string path = dir.file("shard.safetensors");
  const std::vector<uint8_t>& base = test::torch_safetensors_fixture();
  const size_t hdr_end = 8 + header_len(base);
  Tally t;
  auto try_bytes = [&](const std::string& label, const std::vector<uint8_t>& bytes, Expect expect,
                       const std::string& must_contain) {
    test::write_bytes(path, bytes);
    run_case(t, label, [&] { load_shard(path); }, expect, must_contain.empty() ? path : must_contain);
  };

  try_bytes("pristine", base, Expect::Load, "");

  // Every truncation drops bytes some tensor needs, so none may load.
  for (size_t len = 0; len < base.size(); ++len)
    try_bytes("truncate to " + std::to_string(len), std::vector<uint8_t>(base.begin(), base.begin() + len),
              Expect::Reject, "");

  // Single-bit flips over the length prefix and the whole header, two bits per byte.
  for (size_t pos = 0; pos < hdr_end; ++pos)
    for (int bit : {int(pos % 8), int((pos * 3 + 5) % 8)}) {
      std::vector<uint8_t> b = base;
      b[pos] ^= static_cast<uint8_t>(1u << bit);
      try_bytes("flip byte " + std::to_string(pos) + " bit " + std::to_string(bit), b, Expect::Either, "");
    }

  // Multi-byte damage with JSON-significant characters, which reaches deeper into the validator than
  // random bytes (those mostly die in the parser).
  const char alphabet[] = "{}[],:\"0123456789-.eE \\uFBI864_x";
  uint64_t seed = 0x2545f4914f6cdd1dull;
  for (int i = 0; i < 300; ++i) {
    std::vector<uint8_t> b = base;
    const int edits = 1 + static_cast<int>(xorshift(seed) % 4);
    for (int k = 0; k < edits; ++k) {
      const size_t pos = 8 + xorshift(seed) % (hdr_end - 8);
      b[pos] = static_cast<uint8_t>(alphabet[xorshift(seed) % (sizeof alphabet - 1)]);
    }
    try_bytes("random edit " + std::to_string(i), b, Expect::Either, "");
  }

  // Hostile length prefixes.
  const std::vector<uint8_t> body(base.begin() + 8, base.end());
  const uint64_t size = base.size();
  const std::pair<uint64_t, const char*> prefixes[] = {
      {0, "header length is zero"},
      {1ull << 63, "header length too large"},
      {~0ull, "header length too large"},
      {100000001, "header length too large"},
      {1ull << 32, "header length too large"},
      {size - 7, "header length past end of file (expected <= 315, got 316)"},
      {size - 8 + 1000, "past end of file"},
      {1, "JSON parse error"},
      {hdr_end - 8 - 7, "JSON parse error"},  // cuts the closing brace (the header ends in 6 pad spaces)
  };
  for (const auto& [n, expect] : prefixes)
    try_bytes("length prefix " + std::to_string(n), with_length_prefix(n, body), Expect::Reject, expect);
  try_bytes("7-byte file", std::vector<uint8_t>(7, 0), Expect::Reject, "file too short for the header length prefix");
  try_bytes("empty file", {}, Expect::Reject, "expected >= 8 bytes, got 0");

  // Hand-made hostile headers; the data section is 64 bytes.
  struct Hand {
    std::string header;
    Expect expect;
    const char* must_contain;
  };
  const std::string deep = "{\"t\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  const Hand hands[] = {
      {R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,80]}})", Expect::Reject,
       "tensor 't': data_offsets past the data section (expected end <= 64, got 80)"},
      {R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
       Expect::Reject, "tensor 'b': byte range overlaps tensor 'a'"},
      {R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})",
       Expect::Reject, "overlaps tensor"},
      {R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"z":{"dtype":"F32","shape":[0],"data_offsets":[8,8]}})",
       Expect::Reject, "tensor 'z': byte range overlaps tensor 'a'"},
      {R"({"t":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}})", Expect::Reject,
       "tensor 't': shape element count overflows"},
      {R"({"t":{"dtype":"F64","shape":[3037000499,3037000499],"data_offsets":[0,16]}})", Expect::Reject,
       "tensor 't': byte size overflows"},
      {R"({"t":{"dtype":"U8","shape":[4611686018427387904],"data_offsets":[0,16]}})", Expect::Reject,
       "byte range does not match dtype and shape (expected 4611686018427387904 bytes"},
      {R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", Expect::Reject,
       "tensor 't': byte range does not match dtype and shape (expected 12 bytes for F32 [3], got 16)"},
      {R"({"t":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", Expect::Reject,
       "tensor 't': shape[0] is not a non-negative integer"},
      {R"({"t":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", Expect::Reject, "shape[0] is not a non-negative integer"},
      {R"({"t":{"dtype":"F32","shape":[1e300],"data_offsets":[0,4]}})", Expect::Reject, "shape[0]"},
      {R"({"t":{"dtype":"F32","shape":[1,"2"],"data_offsets":[0,8]}})", Expect::Reject,
       "shape[1] is not a number (expected non-negative integer, got string)"},
      {R"({"t":{"dtype":"F32","shape":"[2]","data_offsets":[0,8]}})", Expect::Reject, "tensor 't': shape is not an array"},
      {R"({"t":{"dtype":"F32","data_offsets":[0,8]}})", Expect::Reject, "tensor 't': missing field 'shape'"},
      {R"({"t":{"dtype":"F8_E5M2","shape":[2],"data_offsets":[0,2]}})", Expect::Reject,
       "tensor 't': unknown dtype (expected one of F32, F16, BF16, F8_E4M3, I32, I64, U8, F64, BOOL, got 'F8_E5M2')"},
      {R"({"t":{"dtype":"f32","shape":[2],"data_offsets":[0,8]}})", Expect::Reject, "unknown dtype"},
      {R"({"t":{"dtype":5,"shape":[2],"data_offsets":[0,8]}})", Expect::Reject, "tensor 't': dtype is not a string"},
      {R"({"t":{"shape":[2],"data_offsets":[0,8]}})", Expect::Reject, "tensor 't': missing field 'dtype'"},
      {R"({"t":{"dtype":"F32","shape":[2]}})", Expect::Reject, "tensor 't': missing field 'data_offsets'"},
      {R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", Expect::Reject,
       "tensor 't': data_offsets has wrong length (expected 2, got 1)"},
      {R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8,16]}})", Expect::Reject, "wrong length (expected 2, got 3)"},
      {R"({"t":{"dtype":"F32","shape":[2],"data_offsets":"0,8"}})", Expect::Reject, "data_offsets is not an array"},
      {R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[16,8]}})", Expect::Reject,
       "tensor 't': data_offsets reversed (expected begin <= end, got [16, 8])"},
      {R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", Expect::Reject,
       "tensor 't': data_offsets[0] is not a non-negative integer"},
      {R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,9223372036854775808]}})", Expect::Reject,
       "data_offsets[1] is not a non-negative integer"},
      {R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[18446744073709551608,18446744073709551616]}})", Expect::Reject,
       "data_offsets[0]"},
      {R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8e400]}})", Expect::Reject, "number out of double range"},
      {R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[null,8]}})", Expect::Reject, "data_offsets[0] is not a number"},
      {R"({"t":[1,2]})", Expect::Reject, "tensor 't': entry is not an object (expected object, got array)"},
      {R"({"t":"F32"})", Expect::Reject, "entry is not an object"},
      {R"([{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}])", Expect::Reject,
       "header is not a JSON object (expected object, got array)"},
      {"null", Expect::Reject, "header is not a JSON object"},
      {"\"t\"", Expect::Reject, "header is not a JSON object"},
      {"17", Expect::Reject, "header is not a JSON object"},
      {R"({"__metadata__":[1]})", Expect::Reject, "__metadata__ is not an object"},
      {R"({"__metadata__":{"format":1}})", Expect::Reject, "__metadata__: value of 'format' is not a string"},
      {deep, Expect::Reject, "header: JSON parse error at offset"},
      {R"({"t":)", Expect::Reject, "header: JSON parse error at offset 8: unexpected end"},
      {R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"t":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
       Expect::Reject, "duplicate object key"},
      {"{\"t\xff\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", Expect::Reject, "invalid UTF-8"},
      // Harmless but unusual: these must load.
      {"{}", Expect::Load, ""},
      {R"({"__metadata__":{}})", Expect::Load, ""},
      {R"({"t":{"dtype":"F32","shape":[0],"data_offsets":[64,64]}})", Expect::Load, ""},
      {R"({"t":{"dtype":"F32","shape":[],"data_offsets":[60,64]}})", Expect::Load, ""},
      {R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[40,42]},"b":{"dtype":"BOOL","shape":[1,1],"data_offsets":[3,4]}})",
       Expect::Load, ""},
      {R"({"t":{"dtype":"I32","shape":[2],"data_offsets":[1,9],"extra":"ignored"}})", Expect::Load, ""},
      {R"({"a\u0000b":{"dtype":"F16","shape":[32],"data_offsets":[0,64]}})", Expect::Load, ""},
  };
  for (size_t i = 0; i < std::size(hands); ++i) {
    const Hand& h = hands[i];
    try_bytes("hand-made header " + std::to_string(i), file_with_header(h.header), h.expect, h.must_contain);
  }
  // Embedded NULs after the JSON (std::string literal would stop at the first one).
  {
    std::string h = R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
    h += std::string(3, '\0');
    try_bytes("NUL padding", file_with_header(h), Expect::Reject, "unexpected trailing");
  }

  CHECK(t.cases >= 1000);
  CHECK(t.loaded > 10);    // harmless flips exist (e.g. inside the metadata value)
  CHECK(t.rejected > 900);
  std::cout << "    safetensors cases: " << t.cases << " (loaded " << t.loaded << ", rejected " << t.rejected << ")\n";
}

TEST(hostile_checkpoint_corruption_loop) {
  TempDir dir;
  const std::string d = dir.path();
  const std::string shard1 = "model-00001-of-00002.safetensors", shard2 = "model-00002-of-00002.safetensors";
  test::write_bytes(dir.file(shard1), test::torch_safetensors_fixture());  // tensors a, b, c, d
  write_safetensors(dir.file(shard2), {{"expert.w", Tensor::from_f32({2}, std::vector<float>{1, 2})}});
  const std::string config = R"({"model_type": "alpamayo_r1", "vlm": {"hidden_size": 8}, "n": [1, 2.5]})";
  const std::string index = "{\"metadata\": {\"total_size\": 59}, \"weight_map\": {\"a\": \"" + shard1 + "\", \"b\": \"" +
                            shard1 + "\", \"c\": \"" + shard1 + "\", \"d\": \"" + shard1 + "\", \"expert.w\": \"" + shard2 +
                            "\"}}";
  test::write_text(dir.file("config.json"), config);
  test::write_text(dir.file("model.safetensors.index.json"), index);
  Tally t;
  auto attempt = [&](const std::string& label, Expect expect, const std::string& must_contain) {
    run_case(t, label, [&] { load_checkpoint(d); }, expect, must_contain);
  };
  attempt("pristine", Expect::Load, "");
  {
    auto ck = Checkpoint::open(d);
    CHECK_EQ(ck->names().size(), 5u);
    CHECK_EQ(ck->tensor("expert.w").to_f32()[1], 2.0f);
    CHECK_EQ(ck->tensor("a").to_f32()[5], 1.25f);
  }

  // config.json: every proper prefix of an object is invalid JSON; bit flips may or may not be.
  for (size_t len = 0; len < config.size(); ++len) {
    test::write_text(dir.file("config.json"), config.substr(0, len));
    attempt("config truncated to " + std::to_string(len), Expect::Reject, "config.json");
  }
  for (size_t pos = 0; pos < config.size(); ++pos) {
    std::string c = config;
    c[pos] = static_cast<char>(c[pos] ^ (1 << (pos % 8)));
    test::write_text(dir.file("config.json"), c);
    attempt("config flip " + std::to_string(pos), Expect::Either, "config.json");
  }
  for (const std::string& bad : std::vector<std::string>{"[]", "null", "\"cfg\"", "3", "{", "\xef\xbb\xbf{}", "{\"a\":1,\"a\":2}",
                                std::string(100000, '[')}) {
    test::write_text(dir.file("config.json"), bad);
    attempt("config '" + bad.substr(0, 10) + "'", Expect::Reject, "config.json");
  }
  std::remove(dir.file("config.json").c_str());
  attempt("config missing", Expect::Reject, "config.json: missing config.json");
  test::write_text(dir.file("config.json"), config);

  // Index: truncations, bit flips, and hand-made bad weight maps.
  const std::string index_path = dir.file("model.safetensors.index.json");
  for (size_t len = 0; len < index.size(); ++len) {
    test::write_text(index_path, index.substr(0, len));
    attempt("index truncated to " + std::to_string(len), Expect::Reject, "model.safetensors.index.json");
  }
  for (size_t pos = 0; pos < index.size(); ++pos) {
    std::string c = index;
    c[pos] = static_cast<char>(c[pos] ^ (1 << ((pos * 5) % 8)));
    test::write_text(index_path, c);
    attempt("index flip " + std::to_string(pos), Expect::Either, d);
  }
  struct IndexCase {
    std::string text;
    Expect expect;
    std::string must_contain;
  };
  const std::string s1 = "\"" + shard1 + "\"";
  const IndexCase index_cases[] = {
      {"[]", Expect::Reject, "model.safetensors.index.json: not a JSON object"},
      {"{}", Expect::Reject, "missing field 'weight_map'"},
      {"{\"weight_map\": []}", Expect::Reject, "weight_map is not an object"},
      {"{\"weight_map\": {\"a\": 1}}", Expect::Reject, "weight_map['a']: shard is not a string"},
      {"{\"weight_map\": {\"a\": \"../" + shard1 + "\"}}", Expect::Reject, "weight_map['a']: shard file name '../" + shard1 + "' leaves the checkpoint directory"},
      {"{\"weight_map\": {\"a\": \"/etc/passwd\"}}", Expect::Reject, "leaves the checkpoint directory"},
      {"{\"weight_map\": {\"a\": \"sub/x.safetensors\"}}", Expect::Reject, "leaves the checkpoint directory"},
      {"{\"weight_map\": {\"a\": \"..\"}}", Expect::Reject, "leaves the checkpoint directory"},
      {"{\"weight_map\": {\"a\": \"x\\\\..\\\\y\"}}", Expect::Reject, "leaves the checkpoint directory"},
      {"{\"weight_map\": {\"a\": \"\"}}", Expect::Reject, "weight_map['a']: shard file name is empty"},
      {"{\"weight_map\": {\"a\": \"" + shard1 + "\\u0000.txt\"}}", Expect::Reject, "shard file name contains a NUL byte"},
      {"{\"weight_map\": {\"a\": \"missing.safetensors\"}}", Expect::Reject, "missing.safetensors: cannot open: No such file"},
      {"{\"weight_map\": {\"a\": \"config.json\"}}", Expect::Reject, "config.json: header length too large"},
      {"{\"weight_map\": {\"zz\": " + s1 + "}}", Expect::Reject,
       "tensor 'zz' listed in weight_map is missing from shard " + shard1},
      {"{\"weight_map\": {\"expert.w\": " + s1 + "}}", Expect::Reject, "tensor 'expert.w' listed in weight_map is missing"},
      {"{\"weight_map\": {}}", Expect::Load, ""},
      {"{\"weight_map\": {\"a\": " + s1 + "}}", Expect::Load, ""},
  };
  for (size_t i = 0; i < std::size(index_cases); ++i) {
    test::write_text(index_path, index_cases[i].text);
    attempt("index case " + std::to_string(i), index_cases[i].expect, index_cases[i].must_contain);
  }
  // The same tensor in two shards is ambiguous even when the index names only one of them.
  write_safetensors(dir.file("dup.safetensors"), {{"a", Tensor::from_f32({1}, std::vector<float>{9})}});
  test::write_text(index_path, "{\"weight_map\": {\"a\": " + s1 + ", \"b\": \"dup.safetensors\"}}");
  attempt("duplicate across shards", Expect::Reject, "tensor 'a' appears in two shards");
  // A corrupt shard behind a valid index is reported with the shard's path and the tensor.
  test::write_text(index_path, index);
  const std::vector<uint8_t>& fixture = test::torch_safetensors_fixture();
  const std::vector<uint8_t> broken(fixture.begin(), fixture.end() - 1);
  test::write_bytes(dir.file(shard1), broken);
  attempt("truncated shard", Expect::Reject, shard1 + ": tensor 'd': data_offsets past the data section");
  // Without an index the single-file layout is used, and a missing file is named.
  std::remove(index_path.c_str());
  attempt("no weights", Expect::Reject, "no model.safetensors.index.json and no model.safetensors");

  CHECK(t.cases >= 300);
  std::cout << "    checkpoint cases: " << t.cases << " (loaded " << t.loaded << ", rejected " << t.rejected << ")\n";
}
