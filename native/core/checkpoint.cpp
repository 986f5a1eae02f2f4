#include "core/checkpoint.hpp"

#include <sys/stat.h>

#include <array>

#include "core/error.hpp"

namespace alp {

namespace {

constexpr const char* kConfig = "config.json";
constexpr const char* kIndex = "model.safetensors.index.json";
constexpr const char* kSingle = "model.safetensors";

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

json::Value read_json_file(const std::string& path, const std::string& label) {
  auto file = MappedFile::open(path, ErrorCode::InvalidCheckpoint);
  try {
    return json::parse(std::string_view(reinterpret_cast<const char*>(file->data()), file->size()));
  } catch (const Error& e) {
    fail(ErrorCode::InvalidCheckpoint, label + ": " + e.what());
  }
}

// Shard names come from a file we do not trust; they must name a file inside the checkpoint directory.
void check_shard_name(const std::string& index_path, const std::string& tensor, const std::string& shard) {
  const std::string where = index_path + ": weight_map['" + tensor + "']: ";
  require(!shard.empty(), ErrorCode::InvalidCheckpoint, where + "shard file name is empty");
  require(shard.find('/') == std::string::npos && shard.find('\\') == std::string::npos &&
              shard.find("..") == std::string::npos,
          ErrorCode::InvalidCheckpoint, where + "shard file name '" + shard + "' leaves the checkpoint directory");
  require(shard.find('\0') == std::string::npos, ErrorCode::InvalidCheckpoint,
          where + "shard file name contains a NUL byte");
}

}  // namespace

std::shared_ptr<const Checkpoint> Checkpoint::open(const std::string& dir) {
  auto ck = std::make_shared<Checkpoint>();
  ck->dir_ = dir;
  const std::string base = dir.empty() || dir.back() == '/' ? dir : dir + "/";

  const std::string config_path = base + kConfig;
  require(file_exists(config_path), ErrorCode::InvalidCheckpoint, config_path + ": missing config.json");
  ck->config_ = read_json_file(config_path, config_path);
  require(ck->config_.is_object(), ErrorCode::InvalidCheckpoint, config_path + ": config.json is not a JSON object");

  auto add_shard_tensors = [&](const std::shared_ptr<const SafetensorsFile>& shard) {
    for (const auto& [name, info] : shard->tensors()) {
      auto [it, inserted] = ck->index_.emplace(name, shard.get());
      require(inserted, ErrorCode::InvalidCheckpoint,
              "tensor '" + name + "' appears in two shards: " + it->second->path() + " and " + shard->path());
    }
  };

  const std::string index_path = base + kIndex;
  if (file_exists(index_path)) {
    const json::Value index = read_json_file(index_path, index_path);
    require(index.is_object(), ErrorCode::InvalidCheckpoint, index_path + ": not a JSON object");
    const json::Value* map = index.find("weight_map");
    require(map != nullptr, ErrorCode::InvalidCheckpoint, index_path + ": missing field 'weight_map'");
    require(map->is_object(), ErrorCode::InvalidCheckpoint, index_path + ": weight_map is not an object");
    std::map<std::string, std::shared_ptr<const SafetensorsFile>> shards;
    for (const auto& [tensor, shard] : map->as_object()) {
      require(shard.is_string(), ErrorCode::InvalidCheckpoint,
              index_path + ": weight_map['" + tensor + "']: shard is not a string");
      check_shard_name(index_path, tensor, shard.as_string());
      auto& slot = shards[shard.as_string()];
      if (!slot) {
        slot = SafetensorsFile::open(base + shard.as_string());
        ck->shards_.push_back(slot);
        add_shard_tensors(slot);
      }
      require(slot->find(tensor) != nullptr, ErrorCode::InvalidCheckpoint,
              index_path + ": tensor '" + tensor + "' listed in weight_map is missing from shard " + shard.as_string());
    }
  } else {
    const std::string single = base + kSingle;
    require(file_exists(single), ErrorCode::InvalidCheckpoint,
            dir + ": no model.safetensors.index.json and no model.safetensors");
    ck->shards_.push_back(SafetensorsFile::open(single));
    add_shard_tensors(ck->shards_.back());
  }
  return ck;
}

bool Checkpoint::has(std::string_view name) const { return index_.find(name) != index_.end(); }

const TensorInfo& Checkpoint::info(std::string_view name) const {
  auto it = index_.find(name);
  require(it != index_.end(), ErrorCode::InvalidCheckpoint, dir_ + ": missing tensor " + std::string(name));
  return *it->second->find(name);
}

Tensor Checkpoint::tensor(std::string_view name) const {
  auto it = index_.find(name);
  require(it != index_.end(), ErrorCode::InvalidCheckpoint, dir_ + ": missing tensor " + std::string(name));
  return it->second->tensor(name);
}

Tensor Checkpoint::read_tensor(std::string_view name) const {
  auto it = index_.find(name);
  require(it != index_.end(), ErrorCode::InvalidCheckpoint, dir_ + ": missing tensor " + std::string(name));
  return it->second->read_tensor(name);
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  out.reserve(index_.size());
  for (const auto& [name, shard] : index_) out.push_back(name);
  return out;
}

std::map<std::string, Checkpoint::ComponentSize> Checkpoint::component_sizes() const {
  static constexpr std::array<std::string_view, 6> prefixes = {
      "vlm.model.visual", "vlm.model.language_model", "vlm.lm_head", "expert", "action_in_proj", "action_out_proj"};
  std::map<std::string, ComponentSize> out;
  for (auto p : prefixes) out[std::string(p)];
  out["other"];
  for (const auto& [name, shard] : index_) {
    std::string_view group = "other";
    for (auto p : prefixes) {
      // Whole dotted components only: "expert" must not swallow "expert_foo.weight".
      if (name.size() >= p.size() && std::string_view(name).substr(0, p.size()) == p &&
          (name.size() == p.size() || name[p.size()] == '.')) {
        group = p;
        break;
      }
    }
    const TensorInfo& ti = *shard->find(name);
    auto& cs = out[std::string(group)];
    cs.tensors += 1;
    cs.bytes += ti.end - ti.begin;
  }
  return out;
}

}  // namespace alp
