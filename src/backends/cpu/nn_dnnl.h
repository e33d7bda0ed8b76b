// oneDNN plumbing shared by the CPU nn kernels that run oneDNN primitives
// (Conv, pooling): the process-wide engine, thread-count hand-off, and a
// per-kernel cache of primitives built per input shape. Thread-safe.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace tensorpod::internal {

// The one CPU engine every primitive is built on.
dnnl::engine& DnnlEngine();

// A CPU stream for the calling thread, created on its first use: making a
// stream per call costs microseconds, as much as a small convolution.
dnnl::stream& DnnlThreadStream();

// oneDNN sizes its parallel regions from the calling thread's OpenMP ICV, so
// this must run in the calling thread before a primitive is built or run.
void SetDnnlThreads(int threads);

// Rounds a scratch-memory offset up to the tensor alignment.
size_t AlignScratch(size_t bytes);

// The calling thread's `Bundle` for the primitive with process-unique id
// `id`, made by make() on first use: oneDNN memory objects and argument maps
// cost about a microsecond to build, as much as a batch-1 kernel, so each
// thread keeps them per primitive and only swaps data pointers (Note [Conv
// memory bundles] in conv.cc). Each Bundle type has its own map per thread,
// emptied when it reaches 4096 entries.
template <typename Bundle, typename MakeFn>
Bundle& ThreadBundle(uint64_t id, MakeFn&& make) {
  thread_local std::unordered_map<uint64_t, Bundle> bundles;
  auto it = bundles.find(id);
  if (it == bundles.end()) {
    if (bundles.size() >= 4096) bundles.clear();
    it = bundles.emplace(id, make()).first;
  }
  return it->second;
}

// Binds `value` as args[key] for the lifetime of the guard and puts back
// what was there (or nothing) when it ends, also when the call in between
// throws: per-thread bundles bind constant packed weights only per call, so
// they never keep an unloaded model's weights alive.
class ScopedArg {
 public:
  ScopedArg(std::unordered_map<int, dnnl::memory>& args, int key, const dnnl::memory& value)
      : args_(args), key_(key) {
    auto it = args_.find(key_);
    if (it != args_.end()) {
      had_ = true;
      old_ = it->second;
    }
    args_[key_] = value;
  }
  ~ScopedArg() {
    if (had_) {
      args_[key_] = old_;
    } else {
      args_.erase(key_);
    }
  }
  ScopedArg(const ScopedArg&) = delete;
  ScopedArg& operator=(const ScopedArg&) = delete;

 private:
  std::unordered_map<int, dnnl::memory>& args_;
  int key_;
  bool had_ = false;
  dnnl::memory old_;
};

// A mutex-guarded map from a key (input shapes, thread count) to an
// immutable entry built on first use; entries are shared by concurrent
// Computes. Entries live as long as the kernel.
template <typename Entry>
class PrimitiveCache {
 public:
  using Key = std::vector<int64_t>;

  // build: () -> StatusOr<std::shared_ptr<const Entry>>, run under the lock
  // (at most once per key). An entry may be nullptr to remember "no
  // primitive for this key".
  template <typename BuildFn>
  StatusOr<std::shared_ptr<const Entry>> GetOrBuild(const Key& key, BuildFn&& build) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(key);
    if (it != entries_.end()) return it->second;
    StatusOr<std::shared_ptr<const Entry>> entry = build();
    if (entry.ok()) entries_.emplace(key, *entry);
    return entry;
  }

 private:
  mutable std::mutex mu_;
  mutable std::map<Key, std::shared_ptr<const Entry>> entries_;
};

}  // namespace tensorpod::internal
