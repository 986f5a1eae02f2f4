#pragma once
// Writes a small checkpoint in the release layout (config.json, two safetensors shards, the index) with
// seeded random weights for exactly parameter_specs(config), plus the official persistent buffers
// (buffer_specs: Fourier freqs, action-space mean/std) in bf16. Tokenizer files are written by lib/.
#include <cstdint>
#include <string>
#include <string_view>

namespace alp::model {

struct WrittenCheckpoint {
  int64_t parameters = 0;
  int64_t tensors = 0;
};

// preset: "tiny" | "small" | "realdims" (model/config_presets.cpp). Same (preset, seed) -> same bytes on every machine.
WrittenCheckpoint write_random_checkpoint(const std::string& dir, std::string_view preset, uint64_t seed);

}  // namespace alp::model
