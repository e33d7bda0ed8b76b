#include "onnx/onnx_importer.h"

#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include <google/protobuf/io/coded_stream.h>
#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>

#include "core/logging.h"
#include "ops/op_schema.h"

namespace tensorpod::internal {
namespace {

// The IR version the bundled ONNX checker understands.
constexpr int64_t kMaxCheckedIrVersion = 8;

StatusOr<DType> DTypeFromOnnx(int32_t t, const std::string& what) {
  switch (t) {
    case onnx::TensorProto::FLOAT: return DType::kF32;
    case onnx::TensorProto::UINT8: return DType::kU8;
    case onnx::TensorProto::INT8: return DType::kI8;
    case onnx::TensorProto::UINT16: return DType::kU16;
    case onnx::TensorProto::INT16: return DType::kI16;
    case onnx::TensorProto::INT32: return DType::kI32;
    case onnx::TensorProto::INT64: return DType::kI64;
    case onnx::TensorProto::BOOL: return DType::kBool;
    case onnx::TensorProto::FLOAT16: return DType::kF16;
    case onnx::TensorProto::DOUBLE: return DType::kF64;
    case onnx::TensorProto::UINT32: return DType::kU32;
    case onnx::TensorProto::UINT64: return DType::kU64;
    case onnx::TensorProto::BFLOAT16: return DType::kBF16;
    default: break;
  }
  const char* name = onnx::TensorProto_DataType_IsValid(t)
                         ? onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(t)).c_str()
                         : "unknown";
  return TP_ERROR(kUnimplemented, what << " has data type " << name << " (" << t
                                       << "), which tensorpod does not support");
}

// Rejects external data locations that could escape the model's folder.
Status CheckExternalLocation(const std::string& location, const std::string& tensor) {
  TP_CHECK_ARG(!location.empty(), "tensor \"" << tensor << "\": external data has no location");
  TP_CHECK_ARG(location[0] != '/', "tensor \"" << tensor << "\": external data location \"" << location
                                               << "\" must be relative to the model file");
  std::stringstream ss(location);
  std::string part;
  while (std::getline(ss, part, '/')) {
    TP_CHECK_ARG(part != "..", "tensor \"" << tensor << "\": external data location \"" << location
                                           << "\" must not contain \"..\"");
  }
  return Status::Ok();
}

Status ReadExternalData(const onnx::TensorProto& tp, const std::string& model_dir, size_t nbytes,
                        void* dst) {
  std::string location;
  int64_t offset = 0;
  int64_t length = -1;
  for (const auto& kv : tp.external_data()) {
    if (kv.key() == "location") {
      location = kv.value();
    } else if (kv.key() == "offset" || kv.key() == "length") {
      int64_t v = 0;
      try {
        v = std::stoll(kv.value());
      } catch (const std::exception&) {
        return TP_ERROR(kInvalidArgument, "tensor \"" << tp.name() << "\": external data " << kv.key()
                                                      << " \"" << kv.value() << "\" is not a number");
      }
      TP_CHECK_ARG(v >= 0, "tensor \"" << tp.name() << "\": external data " << kv.key() << " is negative");
      (kv.key() == "offset" ? offset : length) = v;
    }
  }
  TP_RETURN_IF_ERROR(CheckExternalLocation(location, tp.name()));
  TP_CHECK_ARG(!model_dir.empty(), "tensor \"" << tp.name()
                                               << "\" keeps its data in an external file (\"" << location
                                               << "\"); load the model from a path so the file can be found");
  if (length >= 0) {
    TP_CHECK_ARG(static_cast<size_t>(length) == nbytes,
                 "tensor \"" << tp.name() << "\": external data length " << length << " does not match its "
                             << nbytes << " bytes");
  }
  const std::string path = model_dir + "/" + location;
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    return TP_ERROR(kNotFound, "tensor \"" << tp.name() << "\": external data file \"" << path
                                           << "\" cannot be opened");
  }
  f.seekg(0, std::ios::end);
  const int64_t file_size = f.tellg();
  TP_CHECK_ARG(offset <= file_size && static_cast<int64_t>(nbytes) <= file_size - offset,
               "tensor \"" << tp.name() << "\": external data file \"" << path << "\" has " << file_size
                           << " bytes, too few for " << nbytes << " bytes at offset " << offset);
  f.seekg(offset);
  f.read(static_cast<char*>(dst), static_cast<std::streamsize>(nbytes));
  TP_CHECK_ARG(f.good(), "tensor \"" << tp.name() << "\": reading external data file \"" << path << "\" failed");
  return Status::Ok();
}

template <typename Src, typename Dst>
Status CopyTyped(const google::protobuf::RepeatedField<Src>& src, int64_t n, Dst* dst,
                 const std::string& name) {
  TP_CHECK_ARG(src.size() == n, "tensor \"" << name << "\" holds " << src.size() << " values, its shape needs "
                                            << n);
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<Dst>(src.Get(static_cast<int>(i)));
  return Status::Ok();
}

StatusOr<Tensor> TensorFromProto(const onnx::TensorProto& tp, const std::string& model_dir) {
  const std::string what = "tensor \"" + tp.name() + "\"";
  TP_ASSIGN_OR_RETURN(DType dtype, DTypeFromOnnx(tp.data_type(), what));
  Shape shape(tp.dims().begin(), tp.dims().end());
  for (int64_t d : shape) TP_CHECK_ARG(d >= 0, what << " has a negative dimension");
  TP_ASSIGN_OR_RETURN(int64_t n, NumElements(shape));
  // Sizes are checked against the data present before anything is allocated,
  // so a forged shape cannot make the loader reserve memory it has no data for.
  const size_t nbytes = static_cast<size_t>(n) * DTypeSize(dtype);
  if (tp.data_location() == onnx::TensorProto::EXTERNAL) {
    // ReadExternalData checks the file holds nbytes before writing any page.
    TP_ASSIGN_OR_RETURN(Tensor t, Tensor::Uninitialized(dtype, shape));
    TP_RETURN_IF_ERROR(ReadExternalData(tp, model_dir, nbytes, t.raw_data()));
    return t;
  }
  if (tp.has_raw_data()) {
    TP_CHECK_ARG(static_cast<uint64_t>(n) <= tp.raw_data().size() && tp.raw_data().size() == nbytes,
                 what << " has " << tp.raw_data().size() << " bytes of raw data, its shape "
                      << ShapeToString(shape) << " needs " << static_cast<uint64_t>(n) * DTypeSize(dtype));
    TP_ASSIGN_OR_RETURN(Tensor t, Tensor::Uninitialized(dtype, shape));
    if (nbytes) std::memcpy(t.raw_data(), tp.raw_data().data(), nbytes);
    return t;
  }
  int64_t typed_count = 0;
  switch (dtype) {
    case DType::kF32: typed_count = tp.float_data_size(); break;
    case DType::kF64: typed_count = tp.double_data_size(); break;
    case DType::kI64: typed_count = tp.int64_data_size(); break;
    case DType::kU64: case DType::kU32: typed_count = tp.uint64_data_size(); break;
    default: typed_count = tp.int32_data_size(); break;
  }
  TP_CHECK_ARG(typed_count == n, what << " holds " << typed_count << " values, its shape "
                                      << ShapeToString(shape) << " needs " << n);
  TP_ASSIGN_OR_RETURN(Tensor t, Tensor::Uninitialized(dtype, shape));
  switch (dtype) {
    case DType::kF32: TP_RETURN_IF_ERROR(CopyTyped(tp.float_data(), n, t.data<float>(), tp.name())); break;
    case DType::kF64: TP_RETURN_IF_ERROR(CopyTyped(tp.double_data(), n, t.data<double>(), tp.name())); break;
    case DType::kI64: TP_RETURN_IF_ERROR(CopyTyped(tp.int64_data(), n, t.data<int64_t>(), tp.name())); break;
    case DType::kU64: TP_RETURN_IF_ERROR(CopyTyped(tp.uint64_data(), n, t.data<uint64_t>(), tp.name())); break;
    case DType::kU32: TP_RETURN_IF_ERROR(CopyTyped(tp.uint64_data(), n, t.data<uint32_t>(), tp.name())); break;
    case DType::kI32: TP_RETURN_IF_ERROR(CopyTyped(tp.int32_data(), n, t.data<int32_t>(), tp.name())); break;
    case DType::kI16: TP_RETURN_IF_ERROR(CopyTyped(tp.int32_data(), n, t.data<int16_t>(), tp.name())); break;
    case DType::kI8: TP_RETURN_IF_ERROR(CopyTyped(tp.int32_data(), n, t.data<int8_t>(), tp.name())); break;
    case DType::kU8: TP_RETURN_IF_ERROR(CopyTyped(tp.int32_data(), n, t.data<uint8_t>(), tp.name())); break;
    case DType::kU16:
    case DType::kF16:
    case DType::kBF16:
      TP_RETURN_IF_ERROR(CopyTyped(tp.int32_data(), n, t.data<uint16_t>(), tp.name()));
      break;
    case DType::kBool: {
      TP_CHECK_ARG(tp.int32_data_size() == n, what << " holds " << tp.int32_data_size()
                                                   << " values, its shape needs " << n);
      for (int64_t i = 0; i < n; ++i) t.data<bool>()[i] = tp.int32_data(static_cast<int>(i)) != 0;
      break;
    }
    case DType::kUndefined: break;
  }
  return t;
}

StatusOr<AttributeValue> AttributeFromProto(const onnx::AttributeProto& a, const std::string& node,
                                            const std::string& model_dir) {
  switch (a.type()) {
    case onnx::AttributeProto::INT: return AttributeValue(int64_t{a.i()});
    case onnx::AttributeProto::FLOAT: return AttributeValue(a.f());
    case onnx::AttributeProto::STRING: return AttributeValue(a.s());
    case onnx::AttributeProto::INTS:
      return AttributeValue(std::vector<int64_t>(a.ints().begin(), a.ints().end()));
    case onnx::AttributeProto::FLOATS:
      return AttributeValue(std::vector<float>(a.floats().begin(), a.floats().end()));
    case onnx::AttributeProto::STRINGS:
      return AttributeValue(std::vector<std::string>(a.strings().begin(), a.strings().end()));
    case onnx::AttributeProto::TENSOR: {
      auto t = TensorFromProto(a.t(), model_dir);
      if (!t.ok()) return t.status().WithContext("node \"" + node + "\" attribute \"" + a.name() + "\"");
      return AttributeValue(std::move(t).value());
    }
    default:
      return TP_ERROR(kUnimplemented, "node \"" << node << "\" attribute \"" << a.name()
                                                << "\" has a type tensorpod does not support ("
                                                << onnx::AttributeProto_AttributeType_Name(a.type()) << ")");
  }
}

void SetValueInfo(const onnx::ValueInfoProto& vi, Value* v) {
  if (!vi.type().has_tensor_type()) return;
  const auto& tt = vi.type().tensor_type();
  auto dtype = DTypeFromOnnx(tt.elem_type(), "value");
  if (dtype.ok()) v->dtype = *dtype;
  if (!tt.has_shape()) return;
  v->has_shape = true;
  v->shape.clear();
  v->dim_params.clear();
  for (const auto& d : tt.shape().dim()) {
    v->shape.push_back(d.has_dim_value() && d.dim_value() >= 0 ? d.dim_value() : kDynamicDim);
    v->dim_params.push_back(d.has_dim_param() ? d.dim_param() : "");
  }
}

bool IsDefaultDomain(const std::string& d) { return d.empty() || d == "ai.onnx"; }

}  // namespace

int MaxCheckedOpset() {
  return onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map().at(onnx::ONNX_DOMAIN).second;
}

StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return TP_ERROR(kNotFound, "cannot open file \"" << path << "\"");
  std::ostringstream ss;
  ss << f.rdbuf();
  TP_CHECK_ARG(!f.bad(), "reading file \"" << path << "\" failed");
  return ss.str();
}

StatusOr<Tensor> ImportOnnxTensor(const void* data, size_t size, const std::string& model_dir) {
  onnx::TensorProto tp;
  TP_CHECK_ARG(size <= static_cast<size_t>(std::numeric_limits<int>::max()) &&
                   tp.ParseFromArray(data, static_cast<int>(size)),
               "not a valid serialized ONNX TensorProto");
  return TensorFromProto(tp, model_dir);
}

StatusOr<Graph> ImportOnnxFile(const std::string& path) {
  TP_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  ImportOptions options;
  const size_t slash = path.find_last_of('/');
  options.model_dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  auto g = ImportOnnxModel(bytes.data(), bytes.size(), options);
  if (!g.ok()) return g.status().WithContext("model \"" + path + "\"");
  return g;
}

StatusOr<Graph> ImportOnnxModel(const void* data, size_t size, const ImportOptions& options) {
  TP_CHECK_ARG(data != nullptr || size == 0, "model bytes are null");
  TP_CHECK_ARG(size > 0, "the model is empty (0 bytes)");
  onnx::ModelProto model;
  {
    google::protobuf::io::CodedInputStream in(static_cast<const uint8_t*>(data), static_cast<int>(
        std::min<size_t>(size, std::numeric_limits<int>::max())));
    in.SetTotalBytesLimit(std::numeric_limits<int>::max());
    TP_CHECK_ARG(size <= static_cast<size_t>(std::numeric_limits<int>::max()) &&
                     model.ParseFromCodedStream(&in) && in.ConsumedEntireMessage(),
                 "not a valid ONNX model: the protobuf data is truncated or corrupt");
  }
  TP_CHECK_ARG(model.has_graph(), "not a valid ONNX model: it has no graph");

  int opset = -1;
  std::unordered_map<std::string, int> opsets;
  for (const auto& o : model.opset_import()) {
    opsets[o.domain()] = static_cast<int>(o.version());
    if (IsDefaultDomain(o.domain())) opset = static_cast<int>(o.version());
  }
  TP_CHECK_ARG(opset > 0, "the model imports no version of the default ONNX operator set");

  // Read external initializer data here, from the model's folder, so errors
  // name the file and the checker (which would look relative to the working
  // directory) sees inline data.
  for (auto& init : *model.mutable_graph()->mutable_initializer()) {
    if (init.data_location() != onnx::TensorProto::EXTERNAL) continue;
    TP_ASSIGN_OR_RETURN(Tensor t, TensorFromProto(init, options.model_dir));
    init.clear_external_data();
    init.set_data_location(onnx::TensorProto::DEFAULT);
    init.set_raw_data(t.raw_data(), t.nbytes());
  }

  // Unsupported ops are reported before the checker runs, all at once.
  const SchemaRegistry& schemas = SchemaRegistry::Global();
  {
    std::vector<std::string> unsupported;
    int unnamed = 0;
    for (const auto& np : model.graph().node()) {
      const std::string name = np.name().empty() ? np.op_type() + "_" + std::to_string(unnamed) : np.name();
      if (np.name().empty()) ++unnamed;
      // "tp." ops are tensorpod's own, made by its graph passes only.
      if (!IsDefaultDomain(np.domain()) || schemas.Find(np.op_type()) == nullptr ||
          np.op_type().rfind("tp.", 0) == 0) {
        unsupported.push_back((np.domain().empty() ? "" : np.domain() + ".") + np.op_type() + " (node \"" + name +
                              "\")");
      }
    }
    if (!unsupported.empty()) {
      std::string list;
      for (const auto& u : unsupported) list += (list.empty() ? "" : ", ") + u;
      return TP_ERROR(kUnimplemented,
                      unsupported.size() << " node(s) use ops tensorpod does not support: " << list);
    }
  }

  // The checker knows opsets and IR versions up to the library's release;
  // newer models are validated by tensorpod alone. ONNX's own shape inference
  // is not run: tensorpod infers concrete shapes per input signature (see
  // runtime/execution_plan.cc), and libonnx 1.12's inference functions crash
  // on malformed declared shapes, which a loader of untrusted files must not.
  const bool checkable = model.ir_version() <= kMaxCheckedIrVersion && opset <= MaxCheckedOpset();
  if (checkable) {
    try {
      onnx::checker::check_model(model);
    } catch (const std::exception& e) {
      return TP_ERROR(kInvalidArgument, "the ONNX checker rejected the model: " << e.what());
    }
  } else {
    TP_LOG_INFO("model has IR version {} and opset {}; skipping the ONNX checker (knows up to IR {} "
                "and opset {})",
                model.ir_version(), opset, kMaxCheckedIrVersion, MaxCheckedOpset());
  }

  const onnx::GraphProto& gp = model.graph();
  Graph g;
  // Initializers first: a graph input with the same name is a constant here.
  std::set<std::string> initializer_names;
  for (const auto& init : gp.initializer()) {
    TP_CHECK_ARG(!init.name().empty(), "an initializer has no name");
    TP_CHECK_ARG(initializer_names.insert(init.name()).second,
                 "initializer \"" << init.name() << "\" is defined twice");
    TP_ASSIGN_OR_RETURN(Tensor t, TensorFromProto(init, options.model_dir));
    Value& v = g.values()[g.GetOrAddValue(init.name())];
    v.dtype = t.dtype();
    v.has_shape = true;
    v.shape = t.shape();
    v.constant = std::move(t);
  }
  TP_CHECK_ARG(gp.sparse_initializer_size() == 0, "sparse initializers are not supported");
  for (const auto& in : gp.input()) {
    if (initializer_names.count(in.name())) continue;
    TP_CHECK_ARG(!in.name().empty(), "a graph input has no name");
    const int id = g.GetOrAddValue(in.name());
    TP_CHECK_ARG(in.type().has_tensor_type(), "graph input \"" << in.name() << "\" is not a tensor");
    TP_ASSIGN_OR_RETURN(g.values()[id].dtype,
                        DTypeFromOnnx(in.type().tensor_type().elem_type(), "graph input \"" + in.name() + "\""));
    SetValueInfo(in, &g.values()[id]);
    g.inputs().push_back(id);
  }
  for (const auto& vi : gp.value_info()) {
    const int id = g.FindValue(vi.name());
    Value& v = g.values()[id >= 0 ? id : g.GetOrAddValue(vi.name())];
    if (!v.is_constant()) SetValueInfo(vi, &v);
  }

  int unnamed = 0;
  for (const auto& np : gp.node()) {
    Node node;
    node.op_type = np.op_type();
    node.name = np.name().empty() ? np.op_type() + "_" + std::to_string(unnamed++) : np.name();
    const auto it = opsets.find(np.domain());
    node.opset = IsDefaultDomain(np.domain()) ? opset : (it == opsets.end() ? 0 : it->second);
    for (const auto& a : np.attribute()) {
      // "tp_" attributes are tensorpod's own, set by its graph passes only.
      TP_CHECK_ARG(a.name().rfind("tp_", 0) != 0, "node \"" << node.name << "\" has attribute \"" << a.name()
                                                            << "\"; the tp_ prefix is reserved for tensorpod");
      TP_ASSIGN_OR_RETURN(AttributeValue v, AttributeFromProto(a, node.name, options.model_dir));
      node.attrs.Set(a.name(), std::move(v));
    }
    for (const auto& in : np.input()) node.inputs.push_back(in.empty() ? -1 : g.GetOrAddValue(in));
    for (const auto& out : np.output()) node.outputs.push_back(out.empty() ? -1 : g.GetOrAddValue(out));
    std::vector<bool> present;
    for (int v : node.inputs) present.push_back(v >= 0);
    TP_RETURN_IF_ERROR(CheckArity(*schemas.Find(node.op_type), present, static_cast<int>(node.outputs.size()),
                                  node.name));
    g.nodes().push_back(std::move(node));
  }
  for (const auto& out : gp.output()) {
    const int id = g.FindValue(out.name());
    TP_CHECK_ARG(id >= 0, "graph output \"" << out.name() << "\" is not produced by any node or input");
    Value& v = g.values()[id];
    if (!v.is_constant()) SetValueInfo(out, &v);
    g.outputs().push_back(id);
  }
  // Every value read must come from somewhere.
  std::vector<bool> defined(g.values().size(), false);
  for (int id : g.inputs()) defined[id] = true;
  for (size_t i = 0; i < g.values().size(); ++i) if (g.values()[i].is_constant()) defined[i] = true;
  for (const auto& n : g.nodes()) for (int v : n.outputs) if (v >= 0) defined[v] = true;
  for (const auto& n : g.nodes()) {
    for (int v : n.inputs) {
      TP_CHECK_ARG(v < 0 || defined[v], "node \"" << n.name << "\" reads \"" << g.values()[v].name
                                                  << "\", which no node, input or initializer defines");
    }
  }
  TP_RETURN_IF_ERROR(g.TopologicalSort());
  return g;
}

}  // namespace tensorpod::internal
