// Attributes: the named, typed constants attached to a node (ONNX
// AttributeProto without protobuf). Immutable after the graph is built;
// safe to read from many threads.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace tensorpod::internal {

using AttributeValue = std::variant<int64_t, float, std::string, std::vector<int64_t>,
                                    std::vector<float>, std::vector<std::string>, Tensor>;

class Attributes {
 public:
  void Set(const std::string& name, AttributeValue v) { map_[name] = std::move(v); }
  bool Has(const std::string& name) const { return map_.count(name) != 0; }
  void Erase(const std::string& name) { map_.erase(name); }
  const std::map<std::string, AttributeValue>& map() const { return map_; }

  // Getters with defaults: return `def` when absent. A present attribute of
  // another type is a user error reported by the Checked forms.
  int64_t GetInt(const std::string& name, int64_t def) const;
  float GetFloat(const std::string& name, float def) const;
  std::string GetString(const std::string& name, const std::string& def) const;
  std::vector<int64_t> GetInts(const std::string& name, std::vector<int64_t> def = {}) const;
  std::vector<float> GetFloats(const std::string& name, std::vector<float> def = {}) const;
  const Tensor* GetTensor(const std::string& name) const;

  // INVALID_ARGUMENT naming the attribute when absent or of another type.
  StatusOr<int64_t> RequireInt(const std::string& name) const;
  StatusOr<std::vector<int64_t>> RequireInts(const std::string& name) const;

 private:
  std::map<std::string, AttributeValue> map_;
};

}  // namespace tensorpod::internal
