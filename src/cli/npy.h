// Reading and writing NumPy .npy files (format versions 1-3, little-endian,
// C order) for the command line tool.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tensorpod/tensorpod.hpp"

namespace tensorpod::cli {

struct NpyArray {
  DType dtype = DType::kUndefined;
  std::vector<int64_t> shape;
  std::vector<char> data;  // row-major bytes
};

// Errors name the file and what is wrong with it.
StatusOr<NpyArray> ReadNpy(const std::string& path);
Status WriteNpy(const std::string& path, const Tensor& tensor);

}  // namespace tensorpod::cli
