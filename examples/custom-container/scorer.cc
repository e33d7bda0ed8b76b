#include "scorer.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <utility>

namespace scorer {
namespace {

tp::Status InvalidArgument(std::string message) {
  return tp::Status(tp::StatusCode::kInvalidArgument, std::move(message));
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Reads `path` into per-feature mean and 1/std, one "<mean> <std>" line per
// feature; '#' starts a comment.
tp::Status LoadStats(const std::string& path, std::vector<float>* mean,
                     std::vector<float>* inv_std) {
  std::ifstream in(path);
  if (!in)
    return tp::Status(tp::StatusCode::kNotFound,
                      "stats file \"" + path + "\" cannot be read");
  std::string line;
  for (int line_number = 1; std::getline(in, line); ++line_number) {
    const std::string where = "stats file \"" + path + "\" line " +
                              std::to_string(line_number) + ": ";
    const std::string_view content =
        std::string_view(line).substr(0, line.find('#'));
    tp::StatusOr<std::vector<float>> values = ParseNumbers(content, "value");
    if (!values.ok()) return InvalidArgument(where + values.status().message());
    if (values->empty()) continue;
    if (values->size() != 2) {
      return InvalidArgument(where + "expected \"<mean> <std>\", got " +
                             std::to_string(values->size()) + " values");
    }
    if (!(values->at(1) > 0.0f))
      return InvalidArgument(where + "std must be positive");
    mean->push_back(values->at(0));
    inv_std->push_back(1.0f / values->at(1));
  }
  return tp::Status();
}

}  // namespace

tp::StatusOr<std::vector<float>> ParseNumbers(std::string_view text,
                                              std::string_view what) {
  std::vector<float> out;
  size_t pos = 0;
  while (true) {
    while (pos < text.size() && IsSpace(text[pos])) ++pos;
    if (pos == text.size()) return out;
    size_t end = pos;
    while (end < text.size() && !IsSpace(text[end])) ++end;
    const std::string_view token = text.substr(pos, end - pos);
    float value = 0.0f;
    const auto [ptr, ec] =
        std::from_chars(token.data(), token.data() + token.size(), value);
    if (ec != std::errc() || ptr != token.data() + token.size() ||
        !std::isfinite(value)) {
      return InvalidArgument(std::string(what) + " " +
                             std::to_string(out.size()) + ": \"" +
                             std::string(token) + "\" is not a finite number");
    }
    out.push_back(value);
    pos = end;
  }
}

tp::StatusOr<std::unique_ptr<Scorer>> Scorer::Create(
    const ScorerOptions& options) {
  tp::StatusOr<tp::Session> loaded = tp::Session::Load(
      options.model_path, tp::SessionOptions()
                              .Device(options.device)
                              .Threads(options.threads)
                              .MaxBatch(options.max_batch_size));
  if (!loaded.ok()) return loaded.status();
  tp::Session session = std::move(loaded).value();

  const std::vector<tp::TensorInfo> inputs = session.Inputs();
  const std::vector<tp::TensorInfo> outputs = session.Outputs();
  if (inputs.size() != 1 || inputs[0].dtype != tp::DType::kF32 ||
      inputs[0].shape.size() != 2 || inputs[0].shape[1] <= 0) {
    return InvalidArgument("model \"" + options.model_path +
                           "\": expected one float32 input [-1,features]");
  }
  if (outputs.empty() || outputs[0].dtype != tp::DType::kF32 ||
      outputs[0].shape.size() != 2 || outputs[0].shape[1] <= 0) {
    return InvalidArgument("model \"" + options.model_path +
                           "\": expected a float32 first output [-1,classes]");
  }
  const int64_t features = inputs[0].shape[1];
  const int64_t classes = outputs[0].shape[1];
  if (options.top_k < 1 || options.top_k > classes) {
    return InvalidArgument("top_k " + std::to_string(options.top_k) +
                           " is outside [1, " + std::to_string(classes) +
                           "] for output \"" + outputs[0].name + "\" " +
                           ShapeString(outputs[0].shape));
  }

  std::vector<float> mean;
  std::vector<float> inv_std;
  tp::Status st = LoadStats(options.stats_path, &mean, &inv_std);
  if (!st.ok()) return st;
  if (static_cast<int64_t>(mean.size()) != features) {
    return InvalidArgument("stats file \"" + options.stats_path + "\" has " +
                           std::to_string(mean.size()) +
                           " features; model input \"" + inputs[0].name +
                           "\" is " + ShapeString(inputs[0].shape));
  }

  tp::StatusOr<tp::Batcher> batcher = tp::Batcher::Create(
      session, tp::BatchOptions()
                   .MaxBatchSize(options.max_batch_size)
                   .MaxQueueDelayUs(options.max_queue_delay_us));
  if (!batcher.ok()) return batcher.status();
  return std::unique_ptr<Scorer>(
      new Scorer(std::move(session), std::move(batcher).value(), inputs[0].name,
                 std::move(mean), std::move(inv_std), classes, options.top_k));
}

Scorer::Scorer(tp::Session session, tp::Batcher batcher, std::string input_name,
               std::vector<float> mean, std::vector<float> inv_std,
               int64_t classes, int64_t top_k)
    : session_(std::move(session)),
      batcher_(std::move(batcher)),
      input_name_(std::move(input_name)),
      mean_(std::move(mean)),
      inv_std_(std::move(inv_std)),
      classes_(classes),
      top_k_(top_k) {}

tp::StatusOr<std::vector<ClassScore>> Scorer::Score(
    const std::vector<float>& raw) const {
  if (raw.size() != mean_.size()) {
    return InvalidArgument("expected " + std::to_string(mean_.size()) +
                           " features, got " + std::to_string(raw.size()));
  }
  // Pre-processing. `x` outlives the request: we wait for it below.
  std::vector<float> x(raw.size());
  for (size_t i = 0; i < x.size(); ++i) {
    x[i] = (raw[i] - mean_[i]) * inv_std_[i];
    if (!std::isfinite(x[i])) {
      char value[32];
      std::snprintf(value, sizeof(value), "%g", raw[i]);
      return InvalidArgument("feature " + std::to_string(i) + ": " + value +
                             " overflows float32 once normalized");
    }
  }
  const tp::Tensor input =
      tp::Tensor::Borrow(x.data(), {1, features()}, tp::DType::kF32);
  if (!input.defined())
    return tp::Status(tp::StatusCode::kInternal,
                      "cannot wrap the input tensor");

  tp::Batcher::Result result = batcher_.Submit({{input_name_, input}}).get();
  if (!result.ok()) return result.status();
  const tp::Tensor& logits = result->at(0);
  if (logits.num_elements() != classes_) {
    return tp::Status(tp::StatusCode::kInternal,
                      "model returned logits " + ShapeString(logits.shape()) +
                          ", expected [1," + std::to_string(classes_) + "]");
  }

  // Post-processing: softmax (shifted by the max, so exp cannot overflow), then
  // top-k.
  const float* z = logits.Data<float>();
  if (!std::all_of(z, z + classes_, [](float v) { return std::isfinite(v); })) {
    return tp::Status(tp::StatusCode::kInternal,
                      "the model returned non-finite logits");
  }
  const float z_max = *std::max_element(z, z + classes_);
  std::vector<double> p(static_cast<size_t>(classes_));
  double sum = 0.0;
  for (int64_t c = 0; c < classes_; ++c)
    sum += p[c] = std::exp(static_cast<double>(z[c]) - z_max);
  std::vector<int64_t> order(static_cast<size_t>(classes_));
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + top_k_, order.end(),
                    [&p](int64_t a, int64_t b) {
                      return p[a] > p[b] || (p[a] == p[b] && a < b);
                    });
  std::vector<ClassScore> top;
  for (int64_t i = 0; i < top_k_; ++i)
    top.push_back({order[i], static_cast<float>(p[order[i]] / sum)});
  return top;
}

}  // namespace scorer
