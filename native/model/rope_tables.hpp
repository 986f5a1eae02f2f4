#pragma once
// Host-side position maths that depends only on integers: M-RoPE position ids (transformers'
// get_rope_index), rotary cos/sin tables, and the vision encoder's 2-D rotary and pos-embed
// interpolation taps. Every executor gets these as inputs so they are bit-identical everywhere.
#include <cstdint>
#include <span>
#include <vector>

#include "model/config.hpp"

namespace alp::model {

struct ImageGrid {
  int64_t t = 1, h = 0, w = 0;  // in patches, before the spatial merge
  int64_t patches() const { return t * h * w; }
};

// Three rows (temporal, height, width) of rope positions, one column per token.
struct MropePositions {
  std::vector<int64_t> t, h, w;
  size_t size() const { return t.size(); }
  static MropePositions uniform(int64_t first, int64_t n);  // t = h = w = first + j
};

struct RopeIndex {
  MropePositions pos;
  int64_t rope_delta = 0;  // max position + 1 - sequence length
};

// get_rope_index for one sequence: text tokens count up; each maximal run of image_token_id takes the
// next image grid (merged t, h, w offset by the current text position); the text after an image
// continues at start + max(h, w) / merge. Throws InvalidInput when runs and grids disagree.
RopeIndex rope_index(const ModelConfig& cfg, std::span<const int64_t> ids, std::span<const ImageGrid> grids);

// cos/sin [n, head_dim] of interleaved M-RoPE: frequency i uses the H row when i % 3 == 1 and
// i < 3·section[1], the W row when i % 3 == 2 and i < 3·section[2], else T; halves duplicated.
void mrope_tables(const DecoderConfig& d, const MropePositions& pos, std::vector<float>& cos, std::vector<float>& sin);

// Vision 2-D rotary cos/sin [patches, head_dim] in the processor's merge-block patch order.
void vision_rope_tables(const VisionConfig& v, std::span<const ImageGrid> grids, std::vector<float>& cos,
                        std::vector<float>& sin);

// Bilinear (align_corners) taps into the learned pos-embed grid: idx/w [patches, 4] in merge-block order.
void vision_pos_interp(const VisionConfig& v, std::span<const ImageGrid> grids, std::vector<int64_t>& idx,
                       std::vector<float>& w);

}  // namespace alp::model
