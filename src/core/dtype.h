// Element types a tensor can hold. Values match tp_dtype_t in tensorpod.h
// (append only). F16/BF16 are stored as 16-bit patterns; arithmetic on them
// converts to float.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tensorpod::internal {

enum class DType : int32_t {
  kUndefined = 0,
  kF32 = 1,
  kF16 = 2,
  kBF16 = 3,
  kF64 = 4,
  kI64 = 5,
  kI32 = 6,
  kI16 = 7,
  kI8 = 8,
  kU8 = 9,
  kBool = 10,
  kU16 = 11,
  kU32 = 12,
  kU64 = 13,
};

// Bytes per element; 0 for kUndefined.
size_t DTypeSize(DType t);
// Lower-case short name: "float32", "int64", "bool", ...
const char* DTypeName(DType t);
bool IsFloatingPoint(DType t);
bool IsValidDType(int32_t v);
// ONNX TensorProto.DataType numbers (FLOAT = 1, ..., BFLOAT16 = 16) to and
// from tensorpod's types; kUndefined / 0 where there is no counterpart.
DType DTypeFromOnnxType(int64_t onnx_type);
int64_t OnnxTypeOf(DType t);

// IEEE half and bfloat16 conversions (round to nearest even).
uint16_t FloatToHalf(float f);
float HalfToFloat(uint16_t h);
uint16_t FloatToBFloat16(float f);
float BFloat16ToFloat(uint16_t b);

// Maps a C++ element type to its DType.
template <typename T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::kF32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::kF64; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::kI64; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::kI32; };
template <> struct DTypeOf<int16_t> { static constexpr DType value = DType::kI16; };
template <> struct DTypeOf<int8_t> { static constexpr DType value = DType::kI8; };
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::kU8; };
template <> struct DTypeOf<uint16_t> { static constexpr DType value = DType::kU16; };
template <> struct DTypeOf<uint32_t> { static constexpr DType value = DType::kU32; };
template <> struct DTypeOf<uint64_t> { static constexpr DType value = DType::kU64; };
template <> struct DTypeOf<bool> { static constexpr DType value = DType::kBool; };

}  // namespace tensorpod::internal
