#include "ops/attributes.h"

namespace tensorpod::internal {

int64_t Attributes::GetInt(const std::string& name, int64_t def) const {
  auto it = map_.find(name);
  if (it == map_.end()) return def;
  if (auto* v = std::get_if<int64_t>(&it->second)) return *v;
  if (auto* f = std::get_if<float>(&it->second)) return static_cast<int64_t>(*f);
  return def;
}

float Attributes::GetFloat(const std::string& name, float def) const {
  auto it = map_.find(name);
  if (it == map_.end()) return def;
  if (auto* v = std::get_if<float>(&it->second)) return *v;
  if (auto* i = std::get_if<int64_t>(&it->second)) return static_cast<float>(*i);
  return def;
}

std::string Attributes::GetString(const std::string& name, const std::string& def) const {
  auto it = map_.find(name);
  if (it == map_.end()) return def;
  if (auto* v = std::get_if<std::string>(&it->second)) return *v;
  return def;
}

std::vector<int64_t> Attributes::GetInts(const std::string& name, std::vector<int64_t> def) const {
  auto it = map_.find(name);
  if (it == map_.end()) return def;
  if (auto* v = std::get_if<std::vector<int64_t>>(&it->second)) return *v;
  if (auto* i = std::get_if<int64_t>(&it->second)) return {*i};
  return def;
}

std::vector<float> Attributes::GetFloats(const std::string& name, std::vector<float> def) const {
  auto it = map_.find(name);
  if (it == map_.end()) return def;
  if (auto* v = std::get_if<std::vector<float>>(&it->second)) return *v;
  if (auto* f = std::get_if<float>(&it->second)) return {*f};
  return def;
}

const Tensor* Attributes::GetTensor(const std::string& name) const {
  auto it = map_.find(name);
  if (it == map_.end()) return nullptr;
  return std::get_if<Tensor>(&it->second);
}

StatusOr<int64_t> Attributes::RequireInt(const std::string& name) const {
  auto it = map_.find(name);
  TP_CHECK_ARG(it != map_.end(), "attribute \"" << name << "\" is required");
  auto* v = std::get_if<int64_t>(&it->second);
  TP_CHECK_ARG(v != nullptr, "attribute \"" << name << "\" must be an int");
  return *v;
}

StatusOr<std::vector<int64_t>> Attributes::RequireInts(const std::string& name) const {
  auto it = map_.find(name);
  TP_CHECK_ARG(it != map_.end(), "attribute \"" << name << "\" is required");
  auto* v = std::get_if<std::vector<int64_t>>(&it->second);
  TP_CHECK_ARG(v != nullptr, "attribute \"" << name << "\" must be a list of ints");
  return *v;
}

}  // namespace tensorpod::internal
