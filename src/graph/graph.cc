#include "graph/graph.h"

#include <algorithm>

namespace tensorpod::internal {

int Graph::GetOrAddValue(const std::string& name) {
  auto it = by_name_.find(name);
  if (it != by_name_.end()) return it->second;
  const int id = static_cast<int>(values_.size());
  values_.push_back(Value{});
  values_.back().name = name;
  by_name_[name] = id;
  return id;
}

int Graph::AddValue(const std::string& hint) {
  std::string name = hint;
  for (int i = 1; by_name_.count(name); ++i) name = hint + "_" + std::to_string(i);
  return GetOrAddValue(name);
}

int Graph::FindValue(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? -1 : it->second;
}

Status Graph::TopologicalSort() {
  const int n = static_cast<int>(nodes_.size());
  std::vector<int> producer(values_.size(), -1);
  for (int i = 0; i < n; ++i) {
    for (int v : nodes_[i].outputs) {
      if (v < 0) continue;
      TP_CHECK_ARG(producer[v] == -1, "value \"" << values_[v].name << "\" is produced by both node \""
                                                 << nodes_[producer[v]].name << "\" and node \""
                                                 << nodes_[i].name << "\"");
      TP_CHECK_ARG(!values_[v].is_constant(),
                   "value \"" << values_[v].name << "\" is both an initializer and the output of node \""
                              << nodes_[i].name << "\"");
      producer[v] = i;
    }
  }
  std::vector<int> pending(n, 0);
  std::vector<std::vector<int>> readers(n);
  for (int i = 0; i < n; ++i) {
    for (int v : nodes_[i].inputs) {
      if (v >= 0 && producer[v] >= 0) {
        ++pending[i];
        readers[producer[v]].push_back(i);
      }
    }
  }
  // Kahn's algorithm, taking ready nodes in their original order.
  std::vector<int> order;
  order.reserve(n);
  std::vector<int> ready;
  for (int i = n - 1; i >= 0; --i) if (pending[i] == 0) ready.push_back(i);
  while (!ready.empty()) {
    const int i = ready.back();
    ready.pop_back();
    order.push_back(i);
    std::vector<int> now;
    for (int r : readers[i]) if (--pending[r] == 0) now.push_back(r);
    std::sort(now.rbegin(), now.rend());
    ready.insert(ready.end(), now.begin(), now.end());
  }
  if (static_cast<int>(order.size()) != n) {
    std::string stuck;
    for (int i = 0; i < n && stuck.size() < 200; ++i) {
      if (pending[i] > 0) stuck += (stuck.empty() ? "\"" : ", \"") + nodes_[i].name + "\"";
    }
    return TP_ERROR(kInvalidArgument, "the graph has a cycle through nodes " << stuck);
  }
  std::vector<Node> sorted;
  sorted.reserve(n);
  for (int i : order) sorted.push_back(std::move(nodes_[i]));
  nodes_ = std::move(sorted);
  for (auto& v : values_) v.producer = -1;
  for (int i = 0; i < n; ++i) {
    for (int v : nodes_[i].outputs) if (v >= 0) values_[v].producer = i;
  }
  return Status::Ok();
}

std::vector<int> Graph::UseCounts() const {
  std::vector<int> uses(values_.size(), 0);
  for (const auto& node : nodes_) {
    for (int v : node.inputs) if (v >= 0) ++uses[v];
  }
  for (int v : outputs_) ++uses[v];
  return uses;
}

int64_t Graph::ParameterCount() const {
  int64_t n = 0;
  for (const auto& v : values_) if (v.is_constant()) n += v.constant.num_elements();
  return n;
}

}  // namespace tensorpod::internal
