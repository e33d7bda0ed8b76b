#include "onnx/onnx_importer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "unit/test_models.h"

namespace tensorpod::internal {
namespace {

Status ImportBytes(const std::string& bytes,
                   const std::string& model_dir = "") {
  ImportOptions options;
  options.model_dir = model_dir;
  return ImportOnnxModel(bytes.data(), bytes.size(), options).status();
}

TEST(OnnxImporterTest, ImportsSmallMlp) {
  auto g = ImportForTest(SmallMlp());
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->nodes().size(), 5u);
  ASSERT_EQ(g->inputs().size(), 1u);
  const Value& x = g->values()[g->inputs()[0]];
  EXPECT_EQ(x.name, "x");
  EXPECT_EQ(x.dtype, DType::kF32);
  EXPECT_EQ(x.shape, (Shape{kDynamicDim, 4}));
  EXPECT_EQ(x.dim_params[0], "batch");
  ASSERT_EQ(g->outputs().size(), 2u);
  EXPECT_EQ(g->values()[g->outputs()[0]].name, "y");
  EXPECT_EQ(g->values()[g->outputs()[1]].name, "h");
  EXPECT_EQ(g->ParameterCount(), 4 * 8 + 8 + 8 * 3 + 3);
  EXPECT_EQ(g->nodes()[0].opset, 17);
}

TEST(OnnxImporterTest, EmptyBytes) {
  EXPECT_TRUE(StatusIs(ImportBytes(""), StatusCode::kInvalidArgument,
                       {"empty", "0 bytes"}));
  ImportOptions options;
  EXPECT_TRUE(StatusIs(ImportOnnxModel(nullptr, 0, options).status(),
                       StatusCode::kInvalidArgument, {"empty"}));
}

TEST(OnnxImporterTest, TruncatedBytes) {
  const std::string bytes = SmallMlp().Bytes();
  ASSERT_GT(bytes.size(), 100u);
  EXPECT_TRUE(StatusIs(ImportBytes(bytes.substr(0, bytes.size() / 2)),
                       StatusCode::kInvalidArgument, {"truncated or corrupt"}));
  // Every proper prefix is an error, never a crash.
  for (size_t n = 1; n < bytes.size(); ++n) {
    Status s = ImportBytes(bytes.substr(0, n));
    ASSERT_FALSE(s.ok()) << "prefix of " << n << " of " << bytes.size()
                         << " bytes imported";
    ASSERT_FALSE(s.message().empty());
  }
}

TEST(OnnxImporterTest, RandomGarbage) {
  std::mt19937 rng(42);
  for (int trial = 0; trial < 50; ++trial) {
    std::string bytes(std::uniform_int_distribution<size_t>(1, 512)(rng), '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    Status s = ImportBytes(bytes);
    ASSERT_TRUE(
        StatusIs(s, StatusCode::kInvalidArgument, {"not a valid ONNX model"}))
        << "trial " << trial;
  }
}

TEST(OnnxImporterTest, CorruptedModelNeverCrashes) {
  const std::string good = SmallMlp().Bytes();
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    std::string bytes = good;
    for (int k = 0; k < 3; ++k)
      bytes[rng() % bytes.size()] = static_cast<char>(rng());
    // Either imports (a flipped weight byte) or fails with a message.
    auto g = ImportOnnxModel(bytes.data(), bytes.size(), ImportOptions{});
    if (!g.ok())
      ASSERT_FALSE(g.status().message().empty()) << "trial " << trial;
  }
}

TEST(OnnxImporterTest, NoGraphAndNoOpset) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  EXPECT_TRUE(StatusIs(ImportBytes(m.SerializeAsString()),
                       StatusCode::kInvalidArgument, {"no graph"}));
  ModelBuilder b = SmallMlp();
  b.proto().clear_opset_import();
  EXPECT_TRUE(StatusIs(ImportBytes(b.Bytes()), StatusCode::kInvalidArgument,
                       {"operator set"}));
}

TEST(OnnxImporterTest, UnknownOpsAreAllListed) {
  ModelBuilder b;
  auto* custom = b.proto().add_opset_import();
  custom->set_domain("com.example");
  custom->set_version(1);
  b.Input("x", {2, 2}).Output("y", {2, 2});
  b.Node("Relu", {"x"}, {"r"}, "fine");
  b.Node("Det", {"r"}, {"d"}, "my_det");
  b.Node("Frobnicate", {"r", "d"}, {"y"}, "my_frob").set_domain("com.example");
  Status s = ImportBytes(b.Bytes());
  EXPECT_TRUE(StatusIs(s, StatusCode::kUnimplemented,
                       {"2 node(s)", "Det (node \"my_det\")",
                        "com.example.Frobnicate (node \"my_frob\")"}));
  EXPECT_EQ(s.message().find("fine"), std::string::npos) << s;

  // The Session reports the same.
  auto session = LoadForTest(b);
  EXPECT_TRUE(StatusIs(session.status(), StatusCode::kUnimplemented,
                       {"Det", "my_det", "Frobnicate", "my_frob"}));
}

TEST(OnnxImporterTest, CheckerRejectsInvalidModel) {
  ModelBuilder b;
  b.Input("x", {2, 2}).Output("y", {2, 2});
  b.Node("Relu", {"x", "x", "x"}, {"y"}, "too_many_inputs");
  EXPECT_TRUE(StatusIs(ImportBytes(b.Bytes()), StatusCode::kInvalidArgument,
                       {"checker"}));
}

TEST(OnnxImporterTest, UnsupportedInputDtype) {
  ModelBuilder b;
  b.Input("s", {2}, onnx::TensorProto::STRING)
      .Output("y", {2}, onnx::TensorProto::STRING);
  b.Node("Identity", {"s"}, {"y"}, "id");
  EXPECT_TRUE(StatusIs(ImportBytes(b.Bytes()), StatusCode::kUnimplemented,
                       {"\"s\"", "STRING"}));
}

TEST(OnnxImporterTest, RawDataOfWrongSize) {
  ModelBuilder b;
  b.Input("x", {3}).Output("y", {3});
  b.Initializer("w", {3}, {1, 2, 3, 4});
  b.Node("Add", {"x", "w"}, {"y"}, "add");
  EXPECT_TRUE(StatusIs(ImportBytes(b.Bytes()), StatusCode::kInvalidArgument,
                       {"\"w\""}));
}

TEST(OnnxImporterTest, ReadFileMissing) {
  EXPECT_TRUE(StatusIs(ReadFile("/nonexistent/tensorpod/model.onnx").status(),
                       StatusCode::kNotFound,
                       {"/nonexistent/tensorpod/model.onnx"}));
  EXPECT_TRUE(
      StatusIs(ImportOnnxFile("/nonexistent/tensorpod/model.onnx").status(),
               StatusCode::kNotFound));
}

// ---- External data ----------------------------------------------------------

// y = x + w, where w [2,3] lives at `offset` in the file `location`.
ModelBuilder ExternalWeightModel(const std::string& location, int64_t offset) {
  ModelBuilder b;
  b.Input("x", {2, 3}).Output("y", {2, 3});
  auto* w = b.proto().mutable_graph()->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(2);
  w->add_dims(3);
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  auto add_entry = [&](const std::string& k, const std::string& v) {
    auto* e = w->add_external_data();
    e->set_key(k);
    e->set_value(v);
  };
  add_entry("location", location);
  add_entry("offset", std::to_string(offset));
  add_entry("length", std::to_string(6 * sizeof(float)));
  b.Node("Add", {"x", "w"}, {"y"}, "add");
  return b;
}

const std::vector<float> kExternalW = {0.5f, -1.0f, 2.0f, 3.5f, -4.0f, 10.0f};

std::string ExternalBin() {
  std::string bin(16,
                  '\x7f');  // padding before the tensor, read past via "offset"
  bin.append(reinterpret_cast<const char*>(kExternalW.data()),
             kExternalW.size() * sizeof(float));
  return bin;
}

TEST(OnnxImporterTest, ExternalDataNextToTheModelLoadsAndRuns) {
  TempDir dir;
  dir.Write("weights.bin", ExternalBin());
  const std::string path =
      dir.Write("model.onnx", ExternalWeightModel("weights.bin", 16).Bytes());
  SessionOptions options;
  options.threads = 1;
  auto session = Session::Load(path, options);
  ASSERT_TRUE(session.ok()) << session.status();
  const Tensor x = MakeF32({2, 3}, {1, 2, 3, 4, 5, 6});
  auto y = (*session)->Run({"x"}, {x}, {});
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_EQ(F32Values((*y)[0]),
            (std::vector<float>{1.5f, 1.0f, 5.0f, 7.5f, 1.0f, 16.0f}));
  EXPECT_EQ((*session)->stats().parameter_count, 6);

  auto g = ImportOnnxFile(path);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(F32Values(g->values()[g->FindValue("w")].constant), kExternalW);
}

TEST(OnnxImporterTest, ExternalDataInSubfolder) {
  TempDir dir;
  ASSERT_TRUE(std::filesystem::create_directory(dir.path() + "/data"));
  dir.Write("data/weights.bin", ExternalBin());
  const std::string path = dir.Write(
      "model.onnx", ExternalWeightModel("data/weights.bin", 16).Bytes());
  auto g = ImportOnnxFile(path);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(F32Values(g->values()[g->FindValue("w")].constant), kExternalW);
}

TEST(OnnxImporterTest, ExternalDataLocationWithDotDotIsRejected) {
  TempDir dir;
  ASSERT_TRUE(std::filesystem::create_directory(dir.path() + "/models"));
  dir.Write("weights.bin",
            ExternalBin());  // exists, but outside the model's folder
  for (const std::string location :
       {"../weights.bin", "sub/../../weights.bin"}) {
    SCOPED_TRACE(location);
    const std::string path = dir.Write(
        "models/model.onnx", ExternalWeightModel(location, 16).Bytes());
    auto session = Session::Load(path, SessionOptions{});
    EXPECT_TRUE(
        StatusIs(session.status(), StatusCode::kInvalidArgument, {".."}));
  }
}

TEST(OnnxImporterTest, ExternalDataAbsoluteLocationIsRejected) {
  TempDir dir;
  const std::string bin = dir.Write("weights.bin", ExternalBin());
  const std::string path =
      dir.Write("model.onnx", ExternalWeightModel(bin, 16).Bytes());
  EXPECT_TRUE(StatusIs(ImportOnnxFile(path).status(),
                       StatusCode::kInvalidArgument, {"weights.bin"}));
}

TEST(OnnxImporterTest, ExternalDataMissingFileIsNotFound) {
  TempDir dir;
  const std::string path =
      dir.Write("model.onnx", ExternalWeightModel("missing.bin", 0).Bytes());
  auto session = Session::Load(path, SessionOptions{});
  EXPECT_TRUE(StatusIs(session.status(), StatusCode::kNotFound,
                       {"missing.bin", "\"w\""}));
}

TEST(OnnxImporterTest, ExternalDataFileTooShort) {
  TempDir dir;
  dir.Write("weights.bin", ExternalBin());
  const std::string path =
      dir.Write("model.onnx", ExternalWeightModel("weights.bin", 20).Bytes());
  EXPECT_TRUE(StatusIs(ImportOnnxFile(path).status(),
                       StatusCode::kInvalidArgument, {"\"w\"", "too few"}));
}

TEST(OnnxImporterTest, ExternalDataFromBytesNeedsAFolder) {
  const std::string bytes = ExternalWeightModel("weights.bin", 16).Bytes();
  EXPECT_TRUE(StatusIs(ImportBytes(bytes), StatusCode::kInvalidArgument,
                       {"weights.bin"}));
}

}  // namespace
}  // namespace tensorpod::internal
