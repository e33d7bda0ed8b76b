#include "test_models.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "onnx/onnx_importer.h"

namespace tensorpod::internal {
namespace {

void SetValueInfo(onnx::ValueInfoProto* vi, const std::string& name,
                  const Shape& dims, int32_t elem_type) {
  vi->set_name(name);
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem_type);
  auto* shape = tt->mutable_shape();
  for (size_t i = 0; i < dims.size(); ++i) {
    auto* d = shape->add_dim();
    if (dims[i] == kDynamicDim) {
      d->set_dim_param(i == 0 ? "batch" : "d" + std::to_string(i));
    } else {
      d->set_dim_value(dims[i]);
    }
  }
}

onnx::AttributeProto* AddAttr(onnx::NodeProto& node, const std::string& name,
                              onnx::AttributeProto::AttributeType type) {
  auto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(type);
  return a;
}

constexpr int64_t kMlpIn = 4, kMlpHidden = 8, kMlpOut = 3;
const std::vector<float>& MlpW1() {
  static const auto v = RandomFloats(kMlpIn * kMlpHidden, 11);
  return v;
}
const std::vector<float>& MlpB1() {
  static const auto v = RandomFloats(kMlpHidden, 12);
  return v;
}
const std::vector<float>& MlpW2() {
  static const auto v = RandomFloats(kMlpHidden * kMlpOut, 13);
  return v;
}
const std::vector<float>& MlpB2() {
  static const auto v = RandomFloats(kMlpOut, 14);
  return v;
}

}  // namespace

ModelBuilder::ModelBuilder(int opset) {
  model_.set_ir_version(8);
  model_.set_producer_name("tensorpod-tests");
  auto* op = model_.add_opset_import();
  op->set_domain("");
  op->set_version(opset);
  model_.mutable_graph()->set_name("test");
}

ModelBuilder& ModelBuilder::Input(const std::string& name, const Shape& dims,
                                  int32_t elem_type) {
  SetValueInfo(model_.mutable_graph()->add_input(), name, dims, elem_type);
  return *this;
}

ModelBuilder& ModelBuilder::Output(const std::string& name, const Shape& dims,
                                   int32_t elem_type) {
  SetValueInfo(model_.mutable_graph()->add_output(), name, dims, elem_type);
  return *this;
}

ModelBuilder& ModelBuilder::Initializer(const std::string& name,
                                        const Shape& dims,
                                        const std::vector<float>& values) {
  auto* t = model_.mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t->add_dims(d);
  t->set_raw_data(std::string(reinterpret_cast<const char*>(values.data()),
                              values.size() * sizeof(float)));
  return *this;
}

ModelBuilder& ModelBuilder::InitializerI64(const std::string& name,
                                           const Shape& dims,
                                           const std::vector<int64_t>& values) {
  auto* t = model_.mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::INT64);
  for (int64_t d : dims) t->add_dims(d);
  for (int64_t v : values) t->add_int64_data(v);
  return *this;
}

onnx::NodeProto& ModelBuilder::Node(const std::string& op_type,
                                    const std::vector<std::string>& inputs,
                                    const std::vector<std::string>& outputs,
                                    const std::string& name) {
  auto* n = model_.mutable_graph()->add_node();
  n->set_op_type(op_type);
  if (!name.empty()) n->set_name(name);
  for (const auto& i : inputs) n->add_input(i);
  for (const auto& o : outputs) n->add_output(o);
  return *n;
}

std::string ModelBuilder::Bytes() const { return model_.SerializeAsString(); }

void SetIntAttr(onnx::NodeProto& node, const std::string& name, int64_t v) {
  AddAttr(node, name, onnx::AttributeProto::INT)->set_i(v);
}
void SetFloatAttr(onnx::NodeProto& node, const std::string& name, float v) {
  AddAttr(node, name, onnx::AttributeProto::FLOAT)->set_f(v);
}
void SetIntsAttr(onnx::NodeProto& node, const std::string& name,
                 const std::vector<int64_t>& v) {
  auto* a = AddAttr(node, name, onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}
void SetStringAttr(onnx::NodeProto& node, const std::string& name,
                   const std::string& v) {
  AddAttr(node, name, onnx::AttributeProto::STRING)->set_s(v);
}

StatusOr<Graph> ImportForTest(const ModelBuilder& b) {
  const std::string bytes = b.Bytes();
  return ImportOnnxModel(bytes.data(), bytes.size(), ImportOptions{});
}

StatusOr<std::unique_ptr<Session>> LoadForTest(const ModelBuilder& b,
                                               const SessionOptions& options) {
  const std::string bytes = b.Bytes();
  return Session::LoadFromBytes(bytes.data(), bytes.size(), options);
}

Tensor MakeF32(const Shape& shape, const std::vector<float>& values) {
  auto t = Tensor::Empty(DType::kF32, shape);
  EXPECT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(static_cast<size_t>(t->num_elements()), values.size());
  if (!values.empty())
    std::memcpy(t->raw_data(), values.data(), values.size() * sizeof(float));
  return std::move(t).value();
}

std::vector<float> F32Values(const Tensor& t) {
  EXPECT_EQ(t.dtype(), DType::kF32);
  return std::vector<float>(t.data<float>(),
                            t.data<float>() + t.num_elements());
}

std::vector<float> RandomFloats(size_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

int CountOps(const Graph& g, const std::string& op_type) {
  return static_cast<int>(
      std::count_if(g.nodes().begin(), g.nodes().end(),
                    [&](const Node& n) { return n.op_type == op_type; }));
}

TempDir::TempDir() {
  std::string pattern = ::testing::TempDir();
  if (pattern.empty() || pattern.back() != '/') pattern += '/';
  pattern += "tp_test_XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  const char* made = mkdtemp(buf.data());
  EXPECT_NE(made, nullptr) << "mkdtemp(" << pattern << ") failed";
  path_ = made ? made : pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::Write(const std::string& name,
                           const std::string& bytes) const {
  const std::string p = path_ + "/" + name;
  std::ofstream f(p, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  EXPECT_TRUE(f.good()) << "writing " << p;
  return p;
}

::testing::AssertionResult StatusIs(
    const Status& s, StatusCode code,
    std::initializer_list<std::string> phrases) {
  if (s.code() != code) {
    return ::testing::AssertionFailure()
           << "expected code " << StatusCodeName(code) << ", got "
           << s.ToString();
  }
  for (const std::string& p : phrases) {
    if (s.message().find(p) == std::string::npos) {
      return ::testing::AssertionFailure()
             << "message lacks \"" << p << "\": " << s.ToString();
    }
  }
  return ::testing::AssertionSuccess();
}

ModelBuilder SmallMlp() {
  ModelBuilder b;
  b.Input("x", {kDynamicDim, kMlpIn});
  b.Initializer("w1", {kMlpIn, kMlpHidden}, MlpW1());
  b.Initializer("b1", {kMlpHidden}, MlpB1());
  b.Initializer("w2", {kMlpHidden, kMlpOut}, MlpW2());
  b.Initializer("b2", {kMlpOut}, MlpB2());
  b.Node("MatMul", {"x", "w1"}, {"xw1"}, "mm1");
  b.Node("Add", {"xw1", "b1"}, {"pre1"}, "add1");
  b.Node("Relu", {"pre1"}, {"h"}, "relu1");
  b.Node("MatMul", {"h", "w2"}, {"hw2"}, "mm2");
  b.Node("Add", {"hw2", "b2"}, {"y"}, "add2");
  b.Output("y", {kDynamicDim, kMlpOut});
  b.Output("h", {kDynamicDim, kMlpHidden});
  return b;
}

MlpOutputs ReferenceMlp(const std::vector<float>& x, int64_t batch) {
  MlpOutputs out;
  out.h.assign(batch * kMlpHidden, 0.0f);
  out.y.assign(batch * kMlpOut, 0.0f);
  for (int64_t r = 0; r < batch; ++r) {
    for (int64_t j = 0; j < kMlpHidden; ++j) {
      double acc = MlpB1()[j];
      for (int64_t k = 0; k < kMlpIn; ++k)
        acc += double{x[r * kMlpIn + k]} * MlpW1()[k * kMlpHidden + j];
      out.h[r * kMlpHidden + j] = static_cast<float>(std::max(acc, 0.0));
    }
    for (int64_t j = 0; j < kMlpOut; ++j) {
      double acc = MlpB2()[j];
      for (int64_t k = 0; k < kMlpHidden; ++k)
        acc += double{out.h[r * kMlpHidden + k]} * MlpW2()[k * kMlpOut + j];
      out.y[r * kMlpOut + j] = static_cast<float>(acc);
    }
  }
  return out;
}

}  // namespace tensorpod::internal
