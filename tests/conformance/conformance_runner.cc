// Runs the ONNX project's node tests (model.onnx + test_data_set_*/input_*.pb
// and output_*.pb per test folder) through a tensorpod Session and compares
// outputs. A test whose model uses an op tensorpod does not know is skipped;
// every other test must pass unless EXCLUDED.md lists it with a reason.
//
// usage: tp_conformance [--data DIR]... [--filter REGEX] [--excluded FILE] [-v]
// Prints one line per failure and "N passed, M failed, K skipped".
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

#include "onnx/onnx_importer.h"
#include "ops/op_schema.h"
#include "runtime/session.h"

namespace ti = tensorpod::internal;

namespace {

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") out.push_back(name);
    }
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool IsDir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// EXCLUDED.md lines of the form "- `test_name`: reason".
std::map<std::string, std::string> ReadExcluded(const std::string& path) {
  std::map<std::string, std::string> out;
  std::ifstream f(path);
  std::string line;
  static const std::regex re(R"(^- `([A-Za-z0-9_]+)`:?\s*(.*)$)");
  while (std::getline(f, line)) {
    std::smatch m;
    if (std::regex_match(line, m, re)) out[m[1]] = m[2];
  }
  return out;
}

std::string Compare(const ti::Tensor& got, const ti::Tensor& want, const std::string& name) {
  if (got.dtype() != want.dtype()) {
    return "output " + name + ": dtype " + ti::DTypeName(got.dtype()) + ", expected " + ti::DTypeName(want.dtype());
  }
  if (got.shape() != want.shape()) {
    return "output " + name + ": shape " + ti::ShapeToString(got.shape()) + ", expected " +
           ti::ShapeToString(want.shape());
  }
  const bool fp = ti::IsFloatingPoint(want.dtype());
  const double rtol = want.dtype() == ti::DType::kF16 || want.dtype() == ti::DType::kBF16 ? 1e-2 : 1e-3;
  const double atol = want.dtype() == ti::DType::kF16 || want.dtype() == ti::DType::kBF16 ? 1e-3 : 1e-5;
  for (int64_t i = 0; i < want.num_elements(); ++i) {
    const double g = got.GetAsDouble(i), w = want.GetAsDouble(i);
    bool ok;
    if (fp) {
      ok = (std::isnan(g) && std::isnan(w)) || (std::isinf(w) && g == w) || std::abs(g - w) <= atol + rtol * std::abs(w);
    } else {
      ok = got.GetAsInt64(i) == want.GetAsInt64(i);
    }
    if (!ok) {
      char buf[256];
      std::snprintf(buf, sizeof(buf), "output %s[%lld] = %.9g, expected %.9g", name.c_str(),
                    static_cast<long long>(i), g, w);
      return buf;
    }
  }
  return "";
}

// The ONNX test data stores bfloat16 payloads as uint16 tensors (numpy has
// no bfloat16); read them as the bfloat16 the model declares.
ti::Tensor AsDeclared(ti::Tensor t, ti::DType declared) {
  if (t.dtype() == ti::DType::kU16 && declared == ti::DType::kBF16) {
    return ti::Tensor(ti::DType::kBF16, t.shape(), t.raw_data(), t.holder());
  }
  return t;
}

// Returns "" on success, else the reason.
std::string RunTest(const std::string& dir) {
  auto bytes = ti::ReadFile(dir + "/model.onnx");
  if (!bytes.ok()) return bytes.status().ToString();
  onnx::ModelProto model;
  model.ParseFromString(*bytes);
  std::vector<std::string> in_names, out_names;
  std::set<std::string> initializers;
  for (const auto& init : model.graph().initializer()) initializers.insert(init.name());
  for (const auto& in : model.graph().input()) if (!initializers.count(in.name())) in_names.push_back(in.name());
  for (const auto& out : model.graph().output()) out_names.push_back(out.name());

  ti::SessionOptions options;
  options.threads = 1;
  auto session = ti::Session::LoadFromBytes(bytes->data(), bytes->size(), options, dir);
  if (!session.ok()) return "load: " + session.status().ToString();
  for (const std::string& set : ListDir(dir)) {
    if (set.rfind("test_data_set_", 0) != 0) continue;
    const std::string sd = dir + "/" + set;
    std::vector<ti::Tensor> inputs;
    std::vector<std::string> names;
    for (size_t i = 0; i < in_names.size(); ++i) {
      auto b = ti::ReadFile(sd + "/input_" + std::to_string(i) + ".pb");
      if (!b.ok()) break;  // optional trailing inputs may be absent
      auto t = ti::ImportOnnxTensor(b->data(), b->size());
      if (!t.ok()) return set + ": input " + std::to_string(i) + ": " + t.status().ToString();
      inputs.push_back(AsDeclared(std::move(t).value(), (*session)->inputs()[i].dtype));
      names.push_back(in_names[i]);
    }
    auto outs = (*session)->Run(names, inputs, {});
    if (!outs.ok()) return set + ": run: " + outs.status().ToString();
    for (size_t i = 0; i < out_names.size(); ++i) {
      auto b = ti::ReadFile(sd + "/output_" + std::to_string(i) + ".pb");
      if (!b.ok()) return set + ": missing output_" + std::to_string(i) + ".pb";
      auto want = ti::ImportOnnxTensor(b->data(), b->size());
      if (!want.ok()) return set + ": expected output " + std::to_string(i) + ": " + want.status().ToString();
      const std::string diff = Compare((*outs)[i], AsDeclared(*want, (*outs)[i].dtype()), out_names[i]);
      if (!diff.empty()) return set + ": " + diff;
    }
  }
  return "";
}

// Ops used by the model that tensorpod has no schema for.
std::vector<std::string> UnknownOps(const std::string& dir) {
  std::vector<std::string> unknown;
  auto bytes = ti::ReadFile(dir + "/model.onnx");
  onnx::ModelProto model;
  if (!bytes.ok() || !model.ParseFromString(*bytes)) return {"<unreadable model>"};
  for (const auto& n : model.graph().node()) {
    const bool default_domain = n.domain().empty() || n.domain() == "ai.onnx";
    if (!default_domain || ti::SchemaRegistry::Global().Find(n.op_type()) == nullptr) {
      unknown.push_back(n.op_type());
    }
  }
  return unknown;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> data_dirs;
  std::string filter = ".*";
  std::string excluded_path = TP_CONFORMANCE_EXCLUDED;
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--data" && i + 1 < argc) data_dirs.push_back(argv[++i]);
    else if (a == "--filter" && i + 1 < argc) filter = argv[++i];
    else if (a == "--excluded" && i + 1 < argc) excluded_path = argv[++i];
    else if (a == "-v") verbose = true;
    else {
      std::fprintf(stderr, "usage: tp_conformance [--data DIR]... [--filter REGEX] [--excluded FILE] [-v]\n");
      return 2;
    }
  }
  if (data_dirs.empty()) data_dirs.push_back(TP_CONFORMANCE_DATA);
  const std::regex re(filter);
  const auto excluded = ReadExcluded(excluded_path);
  int passed = 0, failed = 0, skipped = 0, excluded_count = 0;
  for (const std::string& root : data_dirs) {
    if (!IsDir(root)) {
      std::printf("SKIP all: node test folder %s does not exist (install libonnx-testdata)\n", root.c_str());
      continue;
    }
    for (const std::string& test : ListDir(root)) {
      if (!std::regex_search(test, re) || !IsDir(root + "/" + test)) continue;
      const auto unknown = UnknownOps(root + "/" + test);
      if (!unknown.empty()) {
        ++skipped;
        if (verbose) std::printf("SKIP %s: unsupported op %s\n", test.c_str(), unknown.front().c_str());
        continue;
      }
      if (excluded.count(test)) {
        ++excluded_count;
        ++skipped;
        if (verbose) std::printf("EXCLUDED %s: %s\n", test.c_str(), excluded.at(test).c_str());
        continue;
      }
      const std::string why = RunTest(root + "/" + test);
      if (why.empty()) {
        ++passed;
        if (verbose) std::printf("PASS %s\n", test.c_str());
      } else {
        ++failed;
        std::printf("FAIL %s: %s\n", test.c_str(), why.c_str());
      }
    }
  }
  std::printf("conformance: %d excluded by EXCLUDED.md (counted as skipped)\n", excluded_count);
  std::printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return failed == 0 ? 0 : 1;
}
