#include "npy.h"

#include <cstring>
#include <fstream>
#include <sstream>

namespace tensorpod::cli {
namespace {

struct Descr {
  const char* code;
  DType dtype;
};
constexpr Descr kDescrs[] = {
    {"f4", DType::kF32}, {"f8", DType::kF64}, {"f2", DType::kF16}, {"i8", DType::kI64}, {"i4", DType::kI32},
    {"i2", DType::kI16}, {"i1", DType::kI8},  {"u1", DType::kU8},  {"u2", DType::kU16}, {"u4", DType::kU32},
    {"u8", DType::kU64}, {"b1", DType::kBool},
};

Status Bad(const std::string& path, const std::string& why) {
  return Status(StatusCode::kInvalidArgument, "\"" + path + "\" is not a valid .npy file: " + why);
}

// The value after 'key': in the header dict, up to the next top-level ',' or '}'.
bool DictValue(const std::string& header, const std::string& key, std::string* out) {
  const size_t k = header.find("'" + key + "'");
  if (k == std::string::npos) return false;
  size_t p = header.find(':', k);
  if (p == std::string::npos) return false;
  ++p;
  while (p < header.size() && header[p] == ' ') ++p;
  int depth = 0;
  size_t e = p;
  for (; e < header.size(); ++e) {
    const char c = header[e];
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (depth == 0 && (c == ',' || c == '}')) break;
    if (depth < 0) return false;
  }
  *out = header.substr(p, e - p + (header[p] == '(' ? 0 : 0));
  return true;
}

}  // namespace

StatusOr<NpyArray> ReadNpy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status(StatusCode::kNotFound, "cannot open \"" + path + "\"");
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string bytes = ss.str();
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0) return Bad(path, "missing NUMPY magic");
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len, header_start;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return Bad(path, "truncated header");
    header_len = 0;
    for (int i = 0; i < 4; ++i) header_len |= static_cast<size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    header_start = 12;
  } else {
    return Bad(path, "unknown format version " + std::to_string(major));
  }
  if (header_start + header_len > bytes.size()) return Bad(path, "truncated header");
  const std::string header = bytes.substr(header_start, header_len);
  std::string descr, fortran, shape;
  if (!DictValue(header, "descr", &descr) || !DictValue(header, "fortran_order", &fortran) ||
      !DictValue(header, "shape", &shape)) {
    return Bad(path, "header lacks descr, fortran_order or shape");
  }
  if (fortran.rfind("True", 0) == 0) return Bad(path, "Fortran-order arrays are not supported; save C-order");
  // descr: '<f4' / '|u1' / '=f8'.
  if (descr.size() < 5 || descr.front() != '\'') return Bad(path, "bad descr " + descr);
  const char order = descr[1];
  const std::string code = descr.substr(2, descr.size() - 3);
  if (order == '>') return Bad(path, "big-endian data is not supported");
  NpyArray arr;
  for (const Descr& d : kDescrs) if (code == d.code) arr.dtype = d.dtype;
  if (arr.dtype == DType::kUndefined) return Bad(path, "element type " + descr + " is not supported");
  // shape: "(2, 3)" or "()" or "(5,)".
  if (shape.size() < 2 || shape.front() != '(' || shape.back() != ')') return Bad(path, "bad shape " + shape);
  std::stringstream dims(shape.substr(1, shape.size() - 2));
  std::string item;
  int64_t count = 1;
  while (std::getline(dims, item, ',')) {
    const size_t b = item.find_first_not_of(' ');
    if (b == std::string::npos) continue;
    const std::string digits = item.substr(b, item.find_last_not_of(' ') - b + 1);
    if (digits.empty() || digits.size() > 18 || digits.find_first_not_of("0123456789") != std::string::npos) {
      return Bad(path, "bad dimension \"" + digits + "\" in shape " + shape);
    }
    const int64_t d = std::stoll(digits);
    if (d != 0 && count > INT64_MAX / d) return Bad(path, "shape " + shape + " is too large");
    count *= d;
    arr.shape.push_back(d);
  }
  const size_t data_start = header_start + header_len;
  const size_t elem = DTypeSize(arr.dtype);
  if (static_cast<uint64_t>(count) > (bytes.size() - data_start) / elem ||
      static_cast<size_t>(count) * elem != bytes.size() - data_start) {
    return Bad(path, "has " + std::to_string(bytes.size() - data_start) + " data bytes, shape " + shape + " needs " +
                         std::to_string(static_cast<uint64_t>(count) * elem));
  }
  arr.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(data_start), bytes.end());
  return arr;
}

Status WriteNpy(const std::string& path, const Tensor& tensor) {
  const char* code = nullptr;
  for (const Descr& d : kDescrs) if (d.dtype == tensor.dtype()) code = d.code;
  if (code == nullptr) {
    return Status(StatusCode::kUnimplemented,
                  std::string("cannot write dtype ") + DTypeName(tensor.dtype()) + " to .npy");
  }
  std::string shape = "(";
  for (int64_t d : tensor.shape()) shape += std::to_string(d) + ",";
  if (tensor.shape().size() > 1) shape.pop_back();
  shape += ")";
  const char order = (std::string(code) == "u1" || std::string(code) == "i1" || std::string(code) == "b1") ? '|' : '<';
  std::string header = std::string("{'descr': '") + order + code + "', 'fortran_order': False, 'shape': " + shape + ", }";
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::ofstream f(path, std::ios::binary);
  if (!f) return Status(StatusCode::kNotFound, "cannot write \"" + path + "\"");
  f.write("\x93NUMPY\x01\x00", 8);
  const uint16_t len = static_cast<uint16_t>(header.size());
  const char len_bytes[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
  f.write(len_bytes, 2);
  f.write(header.data(), static_cast<std::streamsize>(header.size()));
  f.write(static_cast<const char*>(tensor.data()), static_cast<std::streamsize>(tensor.byte_size()));
  if (!f) return Status(StatusCode::kInternal, "writing \"" + path + "\" failed");
  return Status();
}

}  // namespace tensorpod::cli
