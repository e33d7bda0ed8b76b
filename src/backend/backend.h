// Backend: a device's set of kernels, its allocator and its copies. The
// partitioner asks each backend in priority order whether it supports a node
// and falls back to the CPU backend. A backend's kernels are listed in one
// explicit table (register_kernels.cc). Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backend/kernel.h"
#include "device/allocator.h"

namespace tensorpod::internal {

class KernelRegistry {
 public:
  void Add(std::string op_type, KernelFactory factory) { factories_[std::move(op_type)] = factory; }
  KernelFactory Find(std::string_view op_type) const {
    auto it = factories_.find(op_type);
    return it == factories_.end() ? nullptr : it->second;
  }
  std::vector<std::string> OpTypes() const {
    std::vector<std::string> out;
    for (const auto& [k, v] : factories_) out.push_back(k);
    return out;
  }

 private:
  std::map<std::string, KernelFactory, std::less<>> factories_;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  virtual Device device() const = 0;
  virtual bool Supports(const NodeDef& node) const = 0;
  virtual StatusOr<std::unique_ptr<Kernel>> CreateKernel(const NodeDef& node) const = 0;
  // Copies src into dst (same dtype and element count; either may live on
  // this backend's device or the host).
  virtual Status Copy(const Tensor& src, Tensor* dst) const = 0;
  virtual Status Synchronize() const = 0;
  virtual Allocator* allocator() const = 0;
};

}  // namespace tensorpod::internal
