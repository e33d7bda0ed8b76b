// The Open Inference Protocol's datatype names ("FP32", ...), Triton's
// config enum (TYPE_FP32, ...) and tensorpod's dtypes, mapped both ways.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "model_config.pb.h"
#include "tensorpod/tensorpod.hpp"

namespace tensorpod::server {

struct DataTypeInfo {
  DType dtype;
  const char* protocol;    // the protocol's name
  config::DataType config;  // config.pbtxt's enum
};

inline constexpr DataTypeInfo kDataTypes[] = {
    {DType::kBool, "BOOL", config::TYPE_BOOL},   {DType::kU8, "UINT8", config::TYPE_UINT8},
    {DType::kU16, "UINT16", config::TYPE_UINT16}, {DType::kU32, "UINT32", config::TYPE_UINT32},
    {DType::kU64, "UINT64", config::TYPE_UINT64}, {DType::kI8, "INT8", config::TYPE_INT8},
    {DType::kI16, "INT16", config::TYPE_INT16},   {DType::kI32, "INT32", config::TYPE_INT32},
    {DType::kI64, "INT64", config::TYPE_INT64},   {DType::kF16, "FP16", config::TYPE_FP16},
    {DType::kF32, "FP32", config::TYPE_FP32},     {DType::kF64, "FP64", config::TYPE_FP64},
    {DType::kBF16, "BF16", config::TYPE_BF16},
};

// kUndefined when the name is unknown or BYTES (not supported by tensorpod).
inline DType DTypeFromProtocol(std::string_view name) {
  for (const auto& d : kDataTypes) {
    if (name == d.protocol) return d.dtype;
  }
  return DType::kUndefined;
}

inline const char* ProtocolName(DType t) {
  for (const auto& d : kDataTypes) {
    if (d.dtype == t) return d.protocol;
  }
  return "INVALID";
}

inline config::DataType ConfigType(DType t) {
  for (const auto& d : kDataTypes) {
    if (d.dtype == t) return d.config;
  }
  return config::TYPE_INVALID;
}

inline DType DTypeFromConfig(config::DataType t) {
  for (const auto& d : kDataTypes) {
    if (d.config == t) return d.dtype;
  }
  return DType::kUndefined;
}

}  // namespace tensorpod::server
