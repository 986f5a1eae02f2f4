#pragma once
// A small least-recently-used map with a fixed capacity, for objects that are expensive to make and
// hold device memory (captured CUDA graphs): a key that keeps changing (the prompt length moves the
// expert's prefix offset) must not grow the cache without bound. Host-only, no CUDA types.
#include <cstddef>
#include <list>
#include <map>
#include <utility>

namespace alp::cuda {

template <class K, class V>
class LruCache {
 public:
  explicit LruCache(size_t capacity) : capacity_(capacity < 1 ? 1 : capacity) {}

  // The value for `key`, marked most recently used; null when absent.
  V* find(const K& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return &it->second->second;
  }
  // Inserts (or replaces) `key`, evicting the least recently used entry when full.
  V& put(const K& key, V value) {
    if (auto it = index_.find(key); it != index_.end()) {
      it->second->second = std::move(value);
      order_.splice(order_.begin(), order_, it->second);
      return it->second->second;
    }
    if (order_.size() >= capacity_) {
      index_.erase(order_.back().first);
      order_.pop_back();
      ++evictions_;
    }
    order_.emplace_front(key, std::move(value));
    index_.emplace(key, order_.begin());
    return order_.front().second;
  }
  void erase(const K& key) {
    if (auto it = index_.find(key); it != index_.end()) {
      order_.erase(it->second);
      index_.erase(it);
    }
  }
  void clear() {
    index_.clear();
    order_.clear();
  }
  size_t size() const { return order_.size(); }
  size_t capacity() const { return capacity_; }
  size_t evictions() const { return evictions_; }

 private:
  size_t capacity_;
  size_t evictions_ = 0;
  std::list<std::pair<K, V>> order_;  // most recent first
  std::map<K, typename std::list<std::pair<K, V>>::iterator> index_;
};

}  // namespace alp::cuda
