#include "model/rope_tables.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"

namespace alp::model {

MropePositions MropePositions::uniform(int64_t first, int64_t n) {
  MropePositions p;
  for (int64_t j = 0; j < n; ++j) {
    p.t.push_back(first + j);
    p.h.push_back(first + j);
    p.w.push_back(first + j);
  }
  return p;
}

RopeIndex rope_index(const ModelConfig& cfg, std::span<const int64_t> ids, std::span<const ImageGrid> grids) {
  RopeIndex r;
  const int64_t merge = cfg.vision.spatial_merge_size;
  int64_t cur = 0;
  size_t next_grid = 0;
  size_t i = 0;
  while (i < ids.size()) {
    if (ids[i] != cfg.image_token_id) {
      r.pos.t.push_back(cur);
      r.pos.h.push_back(cur);
      r.pos.w.push_back(cur);
      ++cur, ++i;
      continue;
    }
    size_t run = 0;
    while (i + run < ids.size() && ids[i + run] == cfg.image_token_id) ++run;
    if (next_grid >= grids.size())
      fail(ErrorCode::InvalidInput, "rope_index: image token run at " + std::to_string(i) + " but only " +
                                        std::to_string(grids.size()) + " image grids");
    const ImageGrid& g = grids[next_grid++];
    const int64_t gh = g.h / merge, gw = g.w / merge;
    if (static_cast<int64_t>(run) != g.t * gh * gw)
      fail(ErrorCode::InvalidInput, "rope_index: image " + std::to_string(next_grid - 1) + " has " + std::to_string(run) +
                                        " <|image_pad|> tokens, grid needs " + std::to_string(g.t * gh * gw));
    for (int64_t t = 0; t < g.t; ++t)
      for (int64_t y = 0; y < gh; ++y)
        for (int64_t x = 0; x < gw; ++x) {
          r.pos.t.push_back(cur + t);
          r.pos.h.push_back(cur + y);
          r.pos.w.push_back(cur + x);
        }
    cur += std::max(gh, gw);
    i += run;
  }
  if (next_grid != grids.size())
    fail(ErrorCode::InvalidInput, "rope_index: " + std::to_string(grids.size()) + " image grids but " +
                                      std::to_string(next_grid) + " image token runs");
  int64_t mx = -1;
  for (size_t k = 0; k < r.pos.size(); ++k) mx = std::max({mx, r.pos.t[k], r.pos.h[k], r.pos.w[k]});
  r.rope_delta = mx + 1 - static_cast<int64_t>(ids.size());
  return r;
}

namespace {
// inv_freq[i] = 1 / theta^(2i / dim), evaluated in fp32 like torch's `base ** (arange(0, dim, 2) / dim)`.
std::vector<float> inv_freqs(double theta, int64_t dim) {
  std::vector<float> f(static_cast<size_t>(dim / 2));
  for (int64_t i = 0; i < dim / 2; ++i) {
    const float e = static_cast<float>(2 * i) / static_cast<float>(dim);
    f[static_cast<size_t>(i)] = 1.0f / std::pow(static_cast<float>(theta), e);
  }
  return f;
}
}  // namespace

void mrope_tables(const DecoderConfig& d, const MropePositions& pos, std::vector<float>& cos, std::vector<float>& sin) {
  const int64_t hd = d.head_dim, half = hd / 2, n = static_cast<int64_t>(pos.size());
  const std::vector<float> inv = inv_freqs(d.rope_theta, hd);
  cos.assign(static_cast<size_t>(n * hd), 0.f);
  sin.assign(static_cast<size_t>(n * hd), 0.f);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < half; ++i) {
      int64_t p = pos.t[j];
      if (i % 3 == 1 && i < 3 * d.mrope_section[1]) p = pos.h[j];
      else if (i % 3 == 2 && i < 3 * d.mrope_section[2]) p = pos.w[j];
      const float a = static_cast<float>(p) * inv[static_cast<size_t>(i)];
      const float c = std::cos(a), s = std::sin(a);
      cos[j * hd + i] = cos[j * hd + half + i] = c;
      sin[j * hd + i] = sin[j * hd + half + i] = s;
    }
}

namespace {
// (row, col) of the k-th patch of a frame in the processor's merge-block order.
void block_order_rc(int64_t k, int64_t w, int64_t m, int64_t& row, int64_t& col) {
  const int64_t blocks_w = w / m;
  const int64_t in_col = k % m, in_row = (k / m) % m;
  const int64_t block_col = (k / (m * m)) % blocks_w, block_row = k / (m * m * blocks_w);
  row = block_row * m + in_row;
  col = block_col * m + in_col;
}
}  // namespace

void vision_rope_tables(const VisionConfig& v, std::span<const ImageGrid> grids, std::vector<float>& cos,
                        std::vector<float>& sin) {
  const int64_t hd = v.head_dim(), q = hd / 4;
  const std::vector<float> inv = inv_freqs(v.rope_theta, hd / 2);  // hd/4 frequencies shared by rows and cols
  cos.clear(), sin.clear();
  for (const ImageGrid& g : grids)
    for (int64_t t = 0; t < g.t; ++t)
      for (int64_t k = 0; k < g.h * g.w; ++k) {
        int64_t row, col;
        block_order_rc(k, g.w, v.spatial_merge_size, row, col);
        std::vector<float> c(static_cast<size_t>(hd)), s(static_cast<size_t>(hd));
        for (int64_t i = 0; i < q; ++i) {
          const float ah = static_cast<float>(row) * inv[static_cast<size_t>(i)];
          const float aw = static_cast<float>(col) * inv[static_cast<size_t>(i)];
          c[i] = c[i + 2 * q] = std::cos(ah);
          s[i] = s[i + 2 * q] = std::sin(ah);
          c[q + i] = c[3 * q + i] = std::cos(aw);
          s[q + i] = s[3 * q + i] = std::sin(aw);
        }
        cos.insert(cos.end(), c.begin(), c.end());
        sin.insert(sin.end(), s.begin(), s.end());
      }
}

void vision_pos_interp(const VisionConfig& v, std::span<const ImageGrid> grids, std::vector<int64_t>& idx,
                       std::vector<float>& w) {
  const int64_t side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(v.num_position_embeddings))));
  idx.clear(), w.clear();
  // One axis of F.interpolate(bilinear, align_corners=True) in fp32: source coordinate, two taps.
  auto axis = [&](int64_t i, int64_t size, int64_t taps[2], float wts[2]) {
    const float src = static_cast<float>(i) * static_cast<float>(side - 1) / static_cast<float>(std::max<int64_t>(size - 1, 1));
    const float fl = std::floor(src);
    for (int o = 0; o < 2; ++o) {
      taps[o] = std::clamp<int64_t>(static_cast<int64_t>(fl) + o, 0, side - 1);
      wts[o] = std::max(0.f, 1.f - std::fabs(src - fl - static_cast<float>(o)));
    }
  };
  for (const ImageGrid& g : grids)
    for (int64_t t = 0; t < g.t; ++t)
      for (int64_t k = 0; k < g.h * g.w; ++k) {
        int64_t row, col;
        block_order_rc(k, g.w, v.spatial_merge_size, row, col);
        int64_t ht[2], wt[2];
        float hw[2], ww[2];
        axis(row, g.h, ht, hw);
        axis(col, g.w, wt, ww);
        for (int a = 0; a < 2; ++a)
          for (int b = 0; b < 2; ++b) {
            idx.push_back(ht[a] * side + wt[b]);
            w.push_back(hw[a] * ww[b]);
          }
      }
}

}  // namespace alp::model
