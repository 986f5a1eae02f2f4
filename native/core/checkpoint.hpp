#pragma once
// A checkpoint directory in the release layout: config.json, model.safetensors.index.json with sharded
// *.safetensors (or a single model.safetensors), tokenizer files. Weights stay mmapped; `tensor()` returns
// views. Every problem is Error(InvalidCheckpoint) naming the file, field or tensor.
// With an index, each distinct shard is opened once, every weight_map entry must exist in its shard,
// shard names must be plain file names (no '/', '\\' or ".."), and a tensor name present in two opened
// shards is an error. names() lists every tensor of the opened shards.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/json.hpp"
#include "core/safetensors.hpp"

namespace alp {

class Checkpoint {
 public:
  static std::shared_ptr<const Checkpoint> open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  const json::Value& config() const { return config_; }
  bool has(std::string_view name) const;
  const TensorInfo& info(std::string_view name) const;  // throws InvalidCheckpoint "missing tensor <name>"
  Tensor tensor(std::string_view name) const;           // zero-copy view
  // Owned copy read from the file (pread), for readers that run after load: a shard truncated or
  // shrunk since open() is then Error(InvalidCheckpoint), never a SIGBUS from the mapping.
  Tensor read_tensor(std::string_view name) const;
  std::vector<std::string> names() const;
  // Bytes and tensor count per top-level component prefix (vlm.model.visual, vlm.model.language_model,
  // vlm.lm_head, expert, action_in_proj, action_out_proj, other) for `inspect`.
  struct ComponentSize {
    size_t tensors = 0;
    uint64_t bytes = 0;
  };
  std::map<std::string, ComponentSize> component_sizes() const;

 private:
  std::string dir_;
  json::Value config_;
  std::vector<std::shared_ptr<const SafetensorsFile>> shards_;
  std::map<std::string, const SafetensorsFile*, std::less<>> index_;
};

}  // namespace alp
