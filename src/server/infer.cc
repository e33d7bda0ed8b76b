#include "infer.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "datatypes.h"

namespace tensorpod::server {
namespace {

namespace rj = rapidjson;

Status Invalid(const std::string& m) { return Status(StatusCode::kInvalidArgument, m); }

std::string ShapeText(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? "," : "") + std::to_string(dims[i]);
  return s + "]";
}

// Writes one JSON value into `out` as dtype `t`; false when it is not a
// value of that type (or out of its range).
bool PutValue(const rj::Value& v, DType t, char* out) {
  auto put_int = [&](auto type_tag) {
    using T = decltype(type_tag);
    if (v.IsInt64()) {
      const int64_t x = v.GetInt64();
      if constexpr (std::is_signed_v<T>) {
        if (x < std::numeric_limits<T>::min() || x > std::numeric_limits<T>::max()) return false;
      } else {
        if (x < 0 || static_cast<uint64_t>(x) > std::numeric_limits<T>::max()) return false;
      }
      const T y = static_cast<T>(x);
      std::memcpy(out, &y, sizeof(T));
      return true;
    }
    if (v.IsUint64() && !std::is_signed_v<T> && sizeof(T) == 8) {
      const T y = static_cast<T>(v.GetUint64());
      std::memcpy(out, &y, sizeof(T));
      return true;
    }
    return false;
  };
  switch (t) {
    case DType::kF32: {
      if (!v.IsNumber()) return false;
      const float f = static_cast<float>(v.GetDouble());
      std::memcpy(out, &f, 4);
      return true;
    }
    case DType::kF64: {
      if (!v.IsNumber()) return false;
      const double d = v.GetDouble();
      std::memcpy(out, &d, 8);
      return true;
    }
    case DType::kBool:
      if (!v.IsBool()) return false;
      *out = v.GetBool() ? 1 : 0;
      return true;
    case DType::kI64: return put_int(int64_t{});
    case DType::kI32: return put_int(int32_t{});
    case DType::kI16: return put_int(int16_t{});
    case DType::kI8: return put_int(int8_t{});
    case DType::kU64: return put_int(uint64_t{});
    case DType::kU32: return put_int(uint32_t{});
    case DType::kU16: return put_int(uint16_t{});
    case DType::kU8: return put_int(uint8_t{});
    default: return false;
  }
}

// Flattens `data` (flat or nested, row-major) into `out`; counts values.
Status Flatten(const rj::Value& data, DType t, size_t elem, const std::string& name, int depth, int max_depth,
               size_t capacity, std::vector<char>* out, size_t* count) {
  if (depth > max_depth) return Invalid("input \"" + name + "\": data is nested deeper than " + std::to_string(max_depth));
  for (const rj::Value& v : data.GetArray()) {
    if (v.IsArray()) {
      Status s = Flatten(v, t, elem, name, depth + 1, max_depth, capacity, out, count);
      if (!s.ok()) return s;
      continue;
    }
    if (*count >= capacity) return Invalid("input \"" + name + "\": data has more values than its shape holds");
    if (!PutValue(v, t, out->data() + *count * elem)) {
      return Invalid("input \"" + name + "\": data[" + std::to_string(*count) + "] is not a " + ProtocolName(t) +
                     " value");
    }
    ++*count;
  }
  return Status();
}

const rj::Value* Member(const rj::Value& o, const char* key) {
  auto it = o.FindMember(key);
  return it == o.MemberEnd() ? nullptr : &it->value;
}

// A request or tensor "parameters" member's value, or nullptr.
const rj::Value* Param(const rj::Value& o, const char* key) {
  const rj::Value* p = Member(o, "parameters");
  if (p == nullptr || !p->IsObject()) return nullptr;
  return Member(*p, key);
}

void WriteData(rj::Writer<rj::StringBuffer>& w, const Tensor& t) {
  const int64_t n = t.num_elements();
  const char* p = static_cast<const char*>(t.data());
  w.StartArray();
  for (int64_t i = 0; i < n; ++i) {
    switch (t.dtype()) {
      case DType::kF32: { float f; std::memcpy(&f, p + 4 * i, 4); std::isfinite(f) ? w.Double(f) : w.Null(); break; }
      case DType::kF64: { double d; std::memcpy(&d, p + 8 * i, 8); std::isfinite(d) ? w.Double(d) : w.Null(); break; }
      case DType::kBool: w.Bool(p[i] != 0); break;
      case DType::kI64: { int64_t x; std::memcpy(&x, p + 8 * i, 8); w.Int64(x); break; }
      case DType::kI32: { int32_t x; std::memcpy(&x, p + 4 * i, 4); w.Int(x); break; }
      case DType::kI16: { int16_t x; std::memcpy(&x, p + 2 * i, 2); w.Int(x); break; }
      case DType::kI8: w.Int(static_cast<int8_t>(p[i])); break;
      case DType::kU64: { uint64_t x; std::memcpy(&x, p + 8 * i, 8); w.Uint64(x); break; }
      case DType::kU32: { uint32_t x; std::memcpy(&x, p + 4 * i, 4); w.Uint(x); break; }
      case DType::kU16: { uint16_t x; std::memcpy(&x, p + 2 * i, 2); w.Uint(x); break; }
      case DType::kU8: w.Uint(static_cast<uint8_t>(p[i])); break;
      default: w.Null(); break;
    }
  }
  w.EndArray();
}

}  // namespace

Status CheckInput(const LoadedModel& model, const TensorInfo& info, const std::string& datatype,
                  const std::vector<int64_t>& shape, const Limits& limits, DType* dtype, int64_t* elements,
                  int64_t* rows) {
  const std::string& name = info.name;
  if (datatype == "BYTES") return Invalid("input \"" + name + "\": datatype BYTES is not supported");
  *dtype = DTypeFromProtocol(datatype);
  if (*dtype == DType::kUndefined) return Invalid("input \"" + name + "\": unknown datatype \"" + datatype + "\"");
  if (*dtype != info.dtype) {
    return Invalid("input \"" + name + "\": expected datatype " + ProtocolName(info.dtype) + ", got " + datatype);
  }
  *elements = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    const int64_t d = shape[i];
    if (d < 0) return Invalid("input \"" + name + "\": shape values must be integers >= 0");
    if (d > 0 && *elements > limits.max_tensor_elements / d) {
      return Invalid("input \"" + name + "\": shape " + ShapeText(shape) + " exceeds the limit of " +
                     std::to_string(limits.max_tensor_elements) + " elements");
    }
    *elements *= d;
  }
  bool match = shape.size() == info.shape.size();
  for (size_t d = 0; match && d < info.shape.size(); ++d) match = info.shape[d] == -1 || info.shape[d] == shape[d];
  if (!match) return Invalid("input \"" + name + "\": expected shape " + ShapeText(info.shape) + ", got " + ShapeText(shape));
  const int64_t max_batch = model.config.max_batch_size();
  if (max_batch > 0) {
    if (shape.empty() || shape[0] < 1 || shape[0] > max_batch) {
      return Invalid("input \"" + name + "\": batch " + (shape.empty() ? std::string("(none)") : std::to_string(shape[0])) +
                     " is not in [1, max_batch_size " + std::to_string(max_batch) + "]");
    }
    if (*rows == 0) *rows = shape[0];
    if (shape[0] != *rows) return Invalid("inputs disagree on the batch size");
  } else {
    *rows = 1;
  }
  return Status();
}

Status ParseInferRequest(const std::string& body, int64_t header_length, const LoadedModel& model,
                         const Limits& limits, InferRequest* out) {
  const size_t json_size = header_length < 0 ? body.size() : static_cast<size_t>(header_length);
  if (header_length > static_cast<int64_t>(body.size())) {
    return Invalid("Inference-Header-Content-Length " + std::to_string(header_length) + " exceeds the body's " +
                   std::to_string(body.size()) + " bytes");
  }
  // Inference-Header-Content-Length: 0: the body is the single input's raw bytes.
  if (header_length == 0) {
    if (model.inputs.size() != 1) {
      return Invalid("a body of raw bytes only (Inference-Header-Content-Length: 0) needs a single-input model; \"" +
                     model.name + "\" has " + std::to_string(model.inputs.size()));
    }
    const TensorInfo& in = model.inputs[0];
    int64_t row = 1;
    for (size_t d = 1; d < in.shape.size(); ++d) {
      if (in.shape[d] < 0) return Invalid("input \"" + in.name + "\": raw bytes need its dimensions fixed");
      row *= in.shape[d];
    }
    const size_t row_bytes = static_cast<size_t>(row) * DTypeSize(in.dtype);
    if (in.shape.empty() || in.shape[0] != -1 || row_bytes == 0 || body.size() % row_bytes != 0) {
      return Invalid("input \"" + in.name + "\": " + std::to_string(body.size()) + " raw bytes do not make whole rows of " +
                     std::to_string(row_bytes) + " bytes");
    }
    InferInput x;
    x.name = in.name;
    x.dtype = in.dtype;
    x.shape = in.shape;
    x.shape[0] = static_cast<int64_t>(body.size() / row_bytes);
    x.data = body.data();
    x.bytes = body.size();
    out->rows = x.shape[0];
    out->inputs.push_back(std::move(x));
    for (size_t i = 0; i < model.outputs.size(); ++i) out->outputs.push_back({model.outputs[i].name, static_cast<int>(i), true});
    return Status();
  }

  rj::Document doc;
  doc.Parse<rj::kParseIterativeFlag | rj::kParseStopWhenDoneFlag>(body.data(), json_size);
  if (doc.HasParseError()) {
    return Invalid(std::string("malformed JSON at byte ") + std::to_string(doc.GetErrorOffset()) + ": " +
                   rj::GetParseError_En(doc.GetParseError()));
  }
  if (!doc.IsObject()) return Invalid("the request body must be a JSON object");
  if (const rj::Value* id = Member(doc, "id")) {
    if (!id->IsString()) return Invalid("\"id\" must be a string");
    out->id.assign(id->GetString(), id->GetStringLength());
    out->has_id = true;
  }
  bool binary_default = false;
  if (const rj::Value* p = Member(doc, "parameters")) {
    if (!p->IsObject()) return Invalid("\"parameters\" must be an object");
    if (const rj::Value* b = Member(*p, "binary_data_output")) {
      if (!b->IsBool()) return Invalid("parameter \"binary_data_output\" must be a bool");
      binary_default = b->GetBool();
    }
    if (const rj::Value* pr = Member(*p, "priority")) {
      if (!pr->IsInt() || pr->GetInt() < 0) return Invalid("parameter \"priority\" must be an integer >= 0");
      out->priority = pr->GetInt();
    }
    if (const rj::Value* t = Member(*p, "timeout")) {
      if (!t->IsInt64() || t->GetInt64() < 0) return Invalid("parameter \"timeout\" must be microseconds >= 0");
      out->timeout_us = t->GetInt64();
    }
  }
  const rj::Value* inputs = Member(doc, "inputs");
  if (inputs == nullptr || !inputs->IsArray()) return Invalid("the request needs an \"inputs\" array");
  if (inputs->Size() != model.inputs.size()) {
    return Invalid("model \"" + model.name + "\" takes " + std::to_string(model.inputs.size()) + " inputs, the request has " +
                   std::to_string(inputs->Size()));
  }
  out->inputs.resize(model.inputs.size());
  std::vector<bool> seen(model.inputs.size(), false);
  size_t binary_offset = json_size;
  for (const rj::Value& in : inputs->GetArray()) {
    if (!in.IsObject()) return Invalid("each input must be a JSON object");
    const rj::Value* name_v = Member(in, "name");
    if (name_v == nullptr || !name_v->IsString()) return Invalid("an input has no \"name\" string");
    const std::string name(name_v->GetString(), name_v->GetStringLength());
    size_t k = 0;
    while (k < model.inputs.size() && model.inputs[k].name != name) ++k;
    if (k == model.inputs.size()) return Invalid("model \"" + model.name + "\" has no input \"" + name + "\"");
    if (seen[k]) return Invalid("input \"" + name + "\" is given twice");
    seen[k] = true;
    const TensorInfo& info = model.inputs[k];
    InferInput& x = out->inputs[k];
    x.name = name;
    const rj::Value* dt = Member(in, "datatype");
    if (dt == nullptr || !dt->IsString()) return Invalid("input \"" + name + "\" has no \"datatype\" string");
    const std::string datatype(dt->GetString(), dt->GetStringLength());
    const rj::Value* shape_v = Member(in, "shape");
    if (shape_v == nullptr || !shape_v->IsArray()) return Invalid("input \"" + name + "\" has no \"shape\" array");
    for (const rj::Value& d : shape_v->GetArray()) {
      if (!d.IsInt64() || d.GetInt64() < 0) return Invalid("input \"" + name + "\": shape values must be integers >= 0");
      x.shape.push_back(d.GetInt64());
    }
    int64_t elements = 0;
    Status checked = CheckInput(model, info, datatype, x.shape, limits, &x.dtype, &elements, &out->rows);
    if (!checked.ok()) return checked;
    const size_t elem = DTypeSize(x.dtype);
    const size_t need = static_cast<size_t>(elements) * elem;
    if (const rj::Value* size_v = Param(in, "binary_data_size")) {
      if (header_length < 0) {
        return Invalid("input \"" + name + "\" has binary_data_size, but the request has no Inference-Header-Content-Length");
      }
      if (!size_v->IsUint64()) return Invalid("input \"" + name + "\": binary_data_size must be an integer >= 0");
      const uint64_t size = size_v->GetUint64();
      if (size != need) {
        return Invalid("input \"" + name + "\": binary_data_size " + std::to_string(size) + " does not match shape " +
                       ShapeText(x.shape) + " of " + datatype + " (" + std::to_string(need) + " bytes)");
      }
      if (size > body.size() - binary_offset) {
        return Invalid("input \"" + name + "\": binary data is truncated (" + std::to_string(body.size() - binary_offset) +
                       " bytes left, " + std::to_string(size) + " needed)");
      }
      x.data = body.data() + binary_offset;
      x.bytes = size;
      binary_offset += size;
      if (reinterpret_cast<uintptr_t>(x.data) % std::max<size_t>(elem, 1) != 0) {
        x.owned.assign(x.data, x.data + x.bytes);  // aligned for the kernels
        x.data = x.owned.data();
      }
      continue;
    }
    const rj::Value* data = Member(in, "data");
    if (data == nullptr) return Invalid("input \"" + name + "\" has neither \"data\" nor a binary_data_size parameter");
    if (x.dtype == DType::kF16 || x.dtype == DType::kBF16) {
      return Invalid("input \"" + name + "\": " + datatype + " data must travel as binary (binary_data_size)");
    }
    if (!data->IsArray()) return Invalid("input \"" + name + "\": \"data\" must be an array");
    x.owned.resize(std::max<size_t>(need, 1));
    size_t count = 0;
    Status s = Flatten(*data, x.dtype, elem, name, 1, limits.max_json_depth, static_cast<size_t>(elements), &x.owned, &count);
    if (!s.ok()) return s;
    if (count != static_cast<size_t>(elements)) {
      return Invalid("input \"" + name + "\": shape " + ShapeText(x.shape) + " holds " + std::to_string(elements) +
                     " values, data has " + std::to_string(count));
    }
    x.data = x.owned.data();
    x.bytes = need;
  }
  if (header_length >= 0 && binary_offset != body.size()) {
    return Invalid("the body has " + std::to_string(body.size() - binary_offset) + " bytes after the last binary input");
  }
  const rj::Value* outputs = Member(doc, "outputs");
  if (outputs != nullptr) {
    if (!outputs->IsArray()) return Invalid("\"outputs\" must be an array");
    for (const rj::Value& o : outputs->GetArray()) {
      if (!o.IsObject()) return Invalid("each requested output must be a JSON object");
      const rj::Value* n = Member(o, "name");
      if (n == nullptr || !n->IsString()) return Invalid("a requested output has no \"name\" string");
      const std::string name(n->GetString(), n->GetStringLength());
      size_t k = 0;
      while (k < model.outputs.size() && model.outputs[k].name != name) ++k;
      if (k == model.outputs.size()) return Invalid("model \"" + model.name + "\" has no output \"" + name + "\"");
      bool binary = binary_default;
      if (const rj::Value* b = Param(o, "binary_data")) {
        if (!b->IsBool()) return Invalid("output \"" + name + "\": binary_data must be a bool");
        binary = b->GetBool();
      }
      out->outputs.push_back({name, static_cast<int>(k), binary});
    }
  }
  if (out->outputs.empty()) {
    for (size_t k = 0; k < model.outputs.size(); ++k) {
      out->outputs.push_back({model.outputs[k].name, static_cast<int>(k), binary_default});
    }
  }
  return Status();
}

void BuildInferResponse(const LoadedModel& model, const InferRequest& request, const std::vector<Tensor>& outputs,
                        std::string* body, size_t* json_length) {
  rj::StringBuffer sb;
  rj::Writer<rj::StringBuffer> w(sb);
  w.StartObject();
  w.Key("model_name");
  w.String(model.name.c_str(), static_cast<rj::SizeType>(model.name.size()));
  w.Key("model_version");
  const std::string version = std::to_string(model.version);
  w.String(version.c_str(), static_cast<rj::SizeType>(version.size()));
  if (request.has_id) {
    w.Key("id");
    w.String(request.id.c_str(), static_cast<rj::SizeType>(request.id.size()));
  }
  w.Key("outputs");
  w.StartArray();
  size_t binary_bytes = 0;
  for (const RequestedOutput& r : request.outputs) {
    const Tensor& t = outputs[r.index];
    w.StartObject();
    w.Key("name");
    w.String(r.name.c_str(), static_cast<rj::SizeType>(r.name.size()));
    w.Key("datatype");
    w.String(ProtocolName(t.dtype()));
    w.Key("shape");
    w.StartArray();
    for (int64_t d : t.shape()) w.Int64(d);
    w.EndArray();
    // FP16 and BF16 have no JSON form: they go binary.
    if (r.binary || t.dtype() == DType::kF16 || t.dtype() == DType::kBF16) {
      w.Key("parameters");
      w.StartObject();
      w.Key("binary_data_size");
      w.Uint64(t.byte_size());
      w.EndObject();
      binary_bytes += t.byte_size();
    } else {
      w.Key("data");
      WriteData(w, t);
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  body->assign(sb.GetString(), sb.GetSize());
  *json_length = body->size();
  if (binary_bytes == 0) return;
  body->reserve(body->size() + binary_bytes);
  for (const RequestedOutput& r : request.outputs) {
    const Tensor& t = outputs[r.index];
    if (r.binary || t.dtype() == DType::kF16 || t.dtype() == DType::kBF16) {
      body->append(static_cast<const char*>(t.data()), t.byte_size());
    }
  }
}

std::string ModelMetadataJson(const LoadedModel& model, const std::vector<int64_t>& versions) {
  rj::StringBuffer sb;
  rj::Writer<rj::StringBuffer> w(sb);
  w.StartObject();
  w.Key("name");
  w.String(model.name.c_str(), static_cast<rj::SizeType>(model.name.size()));
  w.Key("versions");
  w.StartArray();
  for (int64_t v : versions) w.String(std::to_string(v).c_str());
  w.EndArray();
  w.Key("platform");
  w.String(model.config.platform().empty() ? "onnxruntime_onnx" : model.config.platform().c_str());
  for (const auto* list : {&model.inputs, &model.outputs}) {
    w.Key(list == &model.inputs ? "inputs" : "outputs");
    w.StartArray();
    for (const TensorInfo& t : *list) {
      w.StartObject();
      w.Key("name");
      w.String(t.name.c_str(), static_cast<rj::SizeType>(t.name.size()));
      w.Key("datatype");
      w.String(ProtocolName(t.dtype));
      w.Key("shape");
      w.StartArray();
      for (int64_t d : t.shape) w.Int64(d);
      w.EndArray();
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

}  // namespace tensorpod::server
