// Frame preprocessing against the real transformers Qwen2VLImageProcessor (torchvision backend):
// test/fixtures/preprocess_fixtures.json from make_preprocess_fixtures.py.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "model/preprocess.hpp"
#include "tests/check.hpp"
#include "tests/fixture_numbers.hpp"

using namespace alp::model;
using alp::test::decode_base64;
using alp::test::fixture_numbers;
using alp::test::fixture_string;
using alp::test::read_fixture;

namespace {

// See check.hpp: CHECK_THROWS_CODE needs its code argument spelled `code`.
constexpr alp::ErrorCode code = alp::ErrorCode::InvalidInput;

const std::string& fixture() {
  static const std::string text = read_fixture("preprocess_fixtures.json");
  return text;
}

// Same pattern as frame() in make_preprocess_fixtures.py: gradients, a hard edge, hash noise.
std::vector<uint8_t> make_frame(int h, int w, uint64_t salt) {
  std::vector<uint8_t> img(static_cast<size_t>(h) * w * 3);
  const uint64_t m32 = 0xFFFFFFFFull;
  for (uint64_t y = 0; y < static_cast<uint64_t>(h); ++y)
    for (uint64_t x = 0; x < static_cast<uint64_t>(w); ++x)
      for (uint64_t c = 0; c < 3; ++c) {
        uint64_t hsh = ((x * 73856093ull) ^ (y * 19349663ull) ^ ((c + salt) * 83492791ull)) & m32;
        hsh = (hsh * 2654435761ull) & m32;
        const uint64_t noise = (hsh >> 24) & 63;
        const uint64_t grad = (x * 255 / static_cast<uint64_t>(std::max(w - 1, 1)) + y * 3 + c * 40) % 256;
        const uint64_t edge = (x * 3 + y * 2) % 97 < 40 ? 90 : 0;
        img[(y * w + x) * 3 + c] = static_cast<uint8_t>((grad + edge + noise) % 256);
      }
  return img;
}

struct Case {
  size_t at;
  int h, w, out_h, out_w;
  uint64_t salt;
  int64_t min_pixels, max_pixels;
  float mean[3], std[3];
};

Case load_case(const std::string& name) {
  Case c{};
  c.at = fixture().find("\"name\": \"" + name + "\"");
  CHECK(c.at != std::string::npos);
  auto num = [&](const char* key) { return fixture_numbers(fixture(), key, c.at).at(0); };
  c.h = static_cast<int>(num("height"));
  c.w = static_cast<int>(num("width"));
  c.out_h = static_cast<int>(num("out_height"));
  c.out_w = static_cast<int>(num("out_width"));
  c.salt = static_cast<uint64_t>(num("salt"));
  c.min_pixels = static_cast<int64_t>(num("min_pixels"));
  c.max_pixels = static_cast<int64_t>(num("max_pixels"));
  const auto mean = fixture_numbers(fixture(), "image_mean", c.at), std = fixture_numbers(fixture(), "image_std", c.at);
  for (int i = 0; i < 3; ++i) {
    c.mean[i] = static_cast<float>(mean.at(i));
    c.std[i] = static_cast<float>(std.at(i));
  }
  return c;
}

std::vector<float> floats_from_b64(const std::string& b64) {
  const auto bytes = decode_base64(b64);
  std::vector<float> out(bytes.size() / 4);
  std::memcpy(out.data(), bytes.data(), out.size() * 4);  // fixture is little-endian, like x86/arm64
  return out;
}

const char* const kSmall[] = {"down_90x160", "up_50x70_clip", "mixed_120x90"};

}  // namespace

TEST(preprocess_fixture_present) { CHECK(!fixture().empty()); }

TEST(preprocess_smart_resize_matches_hf) {
  for (const char* name : {"down_90x160", "up_50x70_clip", "mixed_120x90", "release_1080x1920"}) {
    const Case c = load_case(name);
    const ImageSize s = smart_resize(c.h, c.w, 32, c.min_pixels, c.max_pixels);
    CHECK_EQ(s.height, c.out_h);
    CHECK_EQ(s.width, c.out_w);
    const auto grid = fixture_numbers(fixture(), "grid_thw", c.at);
    CHECK_EQ(grid.size(), 3u);
    if (grid.size() == 3) {
      CHECK_EQ(grid[0], 1.0);
      CHECK_EQ(grid[1], c.out_h / 16.0);
      CHECK_EQ(grid[2], c.out_w / 16.0);
    }
  }
  // Release camera frames: 1080x1920 -> 320x576, 720 patches, 180 LLM tokens.
  const ImageSize r = smart_resize(1080, 1920);
  CHECK_EQ(r.height, 320);
  CHECK_EQ(r.width, 576);
  CHECK_EQ(patches_per_image(r.height, r.width), 720);
  CHECK_EQ(patch_dim(), 1536);
  // Python round() ties to even: 80/32 = 2.5 -> 2 (64 px), 112/32 = 3.5 -> 4 (128 px).
  const ImageSize t = smart_resize(80, 112, 32, 1, 1 << 30);
  CHECK_EQ(t.height, 64);
  CHECK_EQ(t.width, 128);
  CHECK_THROWS_CODE(smart_resize(40, 8040), code, "aspect ratio");  // 201 > 200
  CHECK_EQ(smart_resize(40, 8000, 32, 1, 1 << 30).width, 8000);       // exactly 200 is accepted
  CHECK_THROWS_CODE(smart_resize(31, 640), code, "at least the factor");
  CHECK_EQ(smart_resize(32, 640, 32, 4096, 12288).height, 32);
}

TEST(preprocess_resize_matches_torch_uint8_exactly) {
  for (const char* name : kSmall) {
    const Case c = load_case(name);
    const auto want = decode_base64(fixture_string(fixture(), "resized_u8_hwc_b64", c.at));
    CHECK_EQ(want.size(), static_cast<size_t>(c.out_h) * c.out_w * 3);
    const auto img = make_frame(c.h, c.w, c.salt);
    std::vector<uint8_t> got(static_cast<size_t>(c.out_h) * c.out_w * 3);
    resize_bicubic_aa_u8(img.data(), c.h, c.w, 3, c.out_h, c.out_w, got.data());
    int max_diff = 0;
    size_t differing = 0;
    for (size_t i = 0; i < got.size() && i < want.size(); ++i) {
      const int d = std::abs(static_cast<int>(got[i]) - static_cast<int>(want[i]));
      max_diff = std::max(max_diff, d);
      differing += d != 0;
    }
    std::printf("    %s: resize %dx%d -> %dx%d, %zu differing bytes, max diff %d\n", name, c.h, c.w, c.out_h, c.out_w,
                differing, max_diff);
    CHECK_EQ(max_diff, 0);
  }
}

TEST(preprocess_pixel_values_match_hf_bit_exact) {
  // Whole pixel_values of the first case, first/last patch of the others.
  for (const char* name : kSmall) {
    const Case c = load_case(name);
    const auto img = make_frame(c.h, c.w, c.salt);
    const int64_t rows = patches_per_image(c.out_h, c.out_w);
    const double want_row_count = fixture_numbers(fixture(), "rows", c.at).at(0);
    CHECK_EQ(static_cast<double>(rows), want_row_count);
    std::vector<float> pv(static_cast<size_t>(rows * patch_dim()));
    preprocess_frame(img.data(), c.h, c.w, c.out_h, c.out_w, c.mean, c.std, pv.data());
    std::vector<float> want;
    std::vector<int64_t> want_rows;
    const std::string full = fixture_string(fixture(), "pixel_values_f32le_b64", c.at);
    const size_t next_case = fixture().find("\"name\":", c.at + 8);
    if (!full.empty() && fixture().find("pixel_values_f32le_b64", c.at) < next_case) {
      want = floats_from_b64(full);
      for (int64_t r = 0; r < rows; ++r) want_rows.push_back(r);
    } else {
      want = floats_from_b64(fixture_string(fixture(), "patches_f32le_b64", c.at));
      for (double r : fixture_numbers(fixture(), "patch_index", c.at)) want_rows.push_back(static_cast<int64_t>(r));
    }
    CHECK_EQ(want.size(), want_rows.size() * static_cast<size_t>(patch_dim()));
    double max_abs = 0.0;
    for (size_t k = 0; k < want_rows.size(); ++k)
      for (int64_t j = 0; j < patch_dim(); ++j)
        max_abs = std::max(max_abs, static_cast<double>(std::fabs(pv[want_rows[k] * patch_dim() + j] - want[k * patch_dim() + j])));
    // Statistics over every row.
    double sum = 0.0, sum_sq = 0.0, weighted = 0.0;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < patch_dim(); ++j) {
        const double v = pv[r * patch_dim() + j];
        sum += v;
        sum_sq += v * v;
        weighted += v * (static_cast<double>(r % 97) + 1.0);
      }
    std::printf("    %s: %zu patches compared, max |diff| %.3g\n", name, want_rows.size(), max_abs);
    CHECK_EQ(max_abs, 0.0);
    CHECK_NEAR(sum, fixture_numbers(fixture(), "sum", c.at).at(0), 1e-6 * rows * patch_dim());
    CHECK_NEAR(sum_sq, fixture_numbers(fixture(), "sum_sq", c.at).at(0), 1e-6 * rows * patch_dim());
    CHECK_NEAR(weighted, fixture_numbers(fixture(), "row_weighted_sum", c.at).at(0), 1e-5 * rows * patch_dim());
  }
}

TEST(preprocess_release_frame_matches_hf) {
  const Case c = load_case("release_1080x1920");
  const auto img = make_frame(c.h, c.w, c.salt);
  const int64_t rows = patches_per_image(c.out_h, c.out_w);
  CHECK_EQ(rows, 720);
  std::vector<float> pv(static_cast<size_t>(rows * patch_dim()));
  // Two copies of the frame through the threaded batch entry point: both must equal the reference.
  std::vector<float> batch(pv.size() * 2);
  const FrameView views[2] = {{img.data(), c.h, c.w}, {img.data(), c.h, c.w}};
  preprocess_frames(views, c.out_h, c.out_w, c.mean, c.std, batch.data(), {}, 2);
  std::copy(batch.begin(), batch.begin() + static_cast<std::ptrdiff_t>(pv.size()), pv.begin());
  CHECK(std::equal(pv.begin(), pv.end(), batch.begin() + static_cast<std::ptrdiff_t>(pv.size())));
  const auto want = floats_from_b64(fixture_string(fixture(), "patches_f32le_b64", c.at));
  const auto idx = fixture_numbers(fixture(), "patch_index", c.at);
  double max_abs = 0.0;
  for (size_t k = 0; k < idx.size(); ++k)
    for (int64_t j = 0; j < patch_dim(); ++j)
      max_abs = std::max(max_abs, static_cast<double>(std::fabs(pv[static_cast<int64_t>(idx[k]) * patch_dim() + j] - want[k * patch_dim() + j])));
  double sum = 0.0, sum_sq = 0.0, weighted = 0.0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < patch_dim(); ++j) {
      const double v = pv[r * patch_dim() + j];
      sum += v;
      sum_sq += v * v;
      weighted += v * (static_cast<double>(r % 97) + 1.0);
    }
  std::printf("    release: max |diff| on %zu patches %.3g, sum %.9g (hf %.9g)\n", idx.size(), max_abs, sum,
              fixture_numbers(fixture(), "sum", c.at).at(0));
  CHECK_EQ(max_abs, 0.0);
  // Sums are order-dependent in float64 only at ~1e-10; a single differing value would move them by >= 1/127.5.
  CHECK_NEAR(sum, fixture_numbers(fixture(), "sum", c.at).at(0), 1e-6);
  CHECK_NEAR(sum_sq, fixture_numbers(fixture(), "sum_sq", c.at).at(0), 1e-6);
  CHECK_NEAR(weighted, fixture_numbers(fixture(), "row_weighted_sum", c.at).at(0), 1e-4);
}

TEST(preprocess_patch_layout) {
  // A frame already at model size (no resize) with a pixel-coded pattern pins the element order:
  // patch (group row, group col, merge row, merge col), inside it (channel, time, y, x).
  const int H = 64, W = 64;
  std::vector<uint8_t> img(H * W * 3);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x)
      for (int c = 0; c < 3; ++c) img[(y * W + x) * 3 + c] = static_cast<uint8_t>((y * 3 + x * 5 + c * 7) % 256);
  const float mean[3] = {0.0f, 0.0f, 0.0f}, std1[3] = {1.0f, 1.0f, 1.0f};
  std::vector<float> pv(static_cast<size_t>(patches_per_image(H, W) * patch_dim()));
  preprocess_frame(img.data(), H, W, H, W, mean, std1, pv.data());
  auto expect = [&](int patch, int c, int t, int py, int px, int y, int x) {
    const float v = pv[static_cast<size_t>(patch) * 1536 + c * 512 + t * 256 + py * 16 + px];
    CHECK_EQ(v, static_cast<float>(img[(y * W + x) * 3 + c]) / 255.0f);
  };
  expect(0, 0, 0, 0, 0, 0, 0);
  expect(1, 0, 0, 0, 0, 0, 16);   // merge col 1 of group (0,0)
  expect(2, 1, 1, 3, 4, 19, 4);   // merge row 1 of group (0,0), second time slot = same pixels
  expect(4, 2, 0, 5, 6, 5, 38);   // group (0,1) starts at x = 32
  expect(15, 2, 1, 15, 15, 63, 63);
  CHECK_THROWS_CODE(preprocess_frame(img.data(), H, W, 48, 64, mean, std1, pv.data()), code, "multiples of patch_size*merge_size = 32");
  const FrameView bad[2] = {{img.data(), H, W}, {img.data(), 0, W}};
  CHECK_THROWS_CODE(preprocess_frames(bad, H, W, mean, std1, pv.data()), code, "frame 1: preprocess: frame size must be positive");
}
