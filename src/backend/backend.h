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

// Whether a backend's kernel for an op handles this node (its dtypes and
// attributes); nullptr: every node of the op.
using SupportsFn = bool (*)(const NodeDef& node);

class KernelRegistry {
 public:
  void Add(std::string op_type, KernelFactory factory, SupportsFn supports = nullptr) {
    entries_[std::move(op_type)] = Entry{factory, supports};
  }
  KernelFactory Find(std::string_view op_type) const {
    auto it = entries_.find(op_type);
    return it == entries_.end() ? nullptr : it->second.factory;
  }
  // True when the op has a kernel and its predicate (if any) accepts `node`.
  bool Handles(const NodeDef& node) const {
    auto it = entries_.find(node.op_type);
    if (it == entries_.end()) return false;
    return it->second.supports == nullptr || it->second.supports(node);
  }
  std::vector<std::string> OpTypes() const {
    std::vector<std::string> out;
    for (const auto& [k, v] : entries_) out.push_back(k);
    return out;
  }

 private:
  struct Entry {
    KernelFactory factory = nullptr;
    SupportsFn supports = nullptr;
  };
  std::map<std::string, Entry, std::less<>> entries_;
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
