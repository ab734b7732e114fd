// A bounded map that forgets the least recently used entry first. Not thread-safe: the identity
// caches that use it hold their own mutex, and do their /proc and cgroup I/O outside it.
#pragma once

#include <cstddef>
#include <functional>
#include <list>
#include <unordered_map>
#include <utility>

namespace sluice {

template <typename Key, typename Value, typename Hash = std::hash<Key>>
class LruMap {
public:
    explicit LruMap(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

    // The value for `key`, now the most recently used; nullptr if absent.
    Value* find(const Key& key) {
        auto it = index_.find(key);
        if (it == index_.end()) return nullptr;
        order_.splice(order_.begin(), order_, it->second);
        return &it->second->second;
    }

    // Inserts or replaces; evicts the least recently used entry past the capacity.
    void put(const Key& key, Value value) {
        if (auto it = index_.find(key); it != index_.end()) {
            it->second->second = std::move(value);
            order_.splice(order_.begin(), order_, it->second);
            return;
        }
        order_.emplace_front(key, std::move(value));
        index_.emplace(key, order_.begin());
        if (order_.size() > capacity_) {
            index_.erase(order_.back().first);
            order_.pop_back();
        }
    }

    void erase(const Key& key) {
        if (auto it = index_.find(key); it != index_.end()) {
            order_.erase(it->second);
            index_.erase(it);
        }
    }

    std::size_t size() const { return order_.size(); }
    std::size_t capacity() const { return capacity_; }

private:
    using Entry = std::pair<Key, Value>;
    const std::size_t capacity_;
    std::list<Entry> order_;  // most recently used first
    std::unordered_map<Key, typename std::list<Entry>::iterator, Hash> index_;
};

}  // namespace sluice
