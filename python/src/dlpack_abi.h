// The DLPack data-interchange ABI (legacy, unversioned "dltensor" capsules),
// declared from the DLPack specification (https://dmlc.github.io/dlpack/,
// version 0.8 layout): the structs are fixed by that ABI, so any producer's
// capsule (numpy, PyTorch, CuPy, JAX) can be read here.
#pragma once

#include <cstdint>

namespace tensorpod_python::dlpack {

enum DeviceType : int32_t { kDLCPU = 1, kDLCUDA = 2, kDLCUDAHost = 3 };
enum TypeCode : uint8_t { kDLInt = 0, kDLUInt = 1, kDLFloat = 2, kDLBfloat = 4, kDLBool = 6 };

struct Device {
  int32_t device_type;
  int32_t device_id;
};

struct DataType {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
};

struct Tensor {
  void* data;
  Device device;
  int32_t ndim;
  DataType dtype;
  int64_t* shape;
  int64_t* strides;  // in elements; NULL: compact row-major
  uint64_t byte_offset;
};

struct ManagedTensor {
  Tensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(ManagedTensor* self);
};

// Capsule names: a producer's capsule is "dltensor"; a consumer renames it
// "used_dltensor" once it owns the tensor (and calls the deleter itself).
constexpr const char* kCapsuleName = "dltensor";
constexpr const char* kUsedCapsuleName = "used_dltensor";

}  // namespace tensorpod_python::dlpack
