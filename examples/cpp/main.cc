// A minimal tensorpod program: loads an ONNX classifier, prints its inputs
// and outputs, runs one batch of two fixed rows and prints the argmax of
// each row of the first output. Uses only the installed public API
// (tensorpod/tensorpod.hpp, header-only over libtensorpod).
//
//   tensorpod_example examples/models/mlp.onnx
#include <cmath>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "tensorpod/tensorpod.hpp"

namespace tp = tensorpod;

namespace {

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " MODEL.onnx\n";
    return 2;
  }
  constexpr int64_t kBatch = 2;
  auto session = tp::Session::Load(
      argv[1], tp::SessionOptions().Threads(1).MaxBatch(kBatch));
  if (!session.ok()) {
    std::cerr << "load failed: " << session.status().ToString() << "\n";
    return 1;
  }
  const std::vector<tp::TensorInfo> inputs = session->Inputs();
  for (const auto& in : inputs) {
    std::cout << "input  " << in.name << " " << tp::DTypeName(in.dtype) << " "
              << ShapeString(in.shape) << "\n";
  }
  for (const auto& out : session->Outputs()) {
    std::cout << "output " << out.name << " " << tp::DTypeName(out.dtype) << " "
              << ShapeString(out.shape) << "\n";
  }
  if (inputs.size() != 1 || inputs[0].dtype != tp::DType::kF32 ||
      inputs[0].shape.empty()) {
    std::cerr
        << "this example expects one float32 input with a batch dimension\n";
    return 1;
  }

  // Batch of two on the leading dimension; any other dynamic dim becomes 1.
  std::vector<int64_t> shape = inputs[0].shape;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] < 0) shape[d] = d == 0 ? kBatch : 1;
  }
  int64_t count = 1;
  for (int64_t d : shape) count *= d;
  std::vector<float> data(static_cast<size_t>(count));
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = std::sin(0.37f * static_cast<float>(i));

  tp::Tensor x = tp::Tensor::Borrow(data.data(), shape, tp::DType::kF32);
  auto outputs = session->Run({{inputs[0].name, x}});
  if (!outputs.ok()) {
    std::cerr << "run failed: " << outputs.status().ToString() << "\n";
    return 1;
  }
  const tp::Tensor& y = outputs->at(0);
  const std::vector<int64_t> y_shape = y.shape();
  if (y.dtype() != tp::DType::kF32 || y_shape.empty() || y_shape[0] == 0) {
    std::cerr << "unexpected first output " << ShapeString(y_shape) << "\n";
    return 1;
  }
  const int64_t rows = y_shape[0];
  const int64_t cols = y.num_elements() / rows;
  const float* v = y.Data<float>();
  for (int64_t r = 0; r < rows; ++r) {
    int64_t best = 0;
    for (int64_t c = 1; c < cols; ++c) {
      if (v[r * cols + c] > v[r * cols + best]) best = c;
    }
    std::cout << "row " << r << ": argmax " << best << " (score "
              << v[r * cols + best] << ")\n";
  }
  return 0;
}
