// Scorer: the platform team's model wrapper. It owns a tensorpod Session and
// a Batcher over it and adds what tensorpod does not know about: per-feature
// normalization before the model ((x - mean) / std, from a stats file) and
// softmax + top-k over the model's logits after it.
//
//   scorer::ScorerOptions options;
//   options.model_path = "mlp.onnx";
//   options.stats_path = "feature_stats.txt";
//   auto s = scorer::Scorer::Create(options);
//   if (!s.ok()) { std::cerr << s.status().ToString() << "\n"; return 1; }
//   auto top = (*s)->Score(raw_features);   // 64 floats in
//   // top->at(0).label, top->at(0).probability: the most likely class
//
// The model must have one float32 input [-1, features] and one float32
// output [-1, classes] (logits). Requests from many threads are grouped into
// batches by the tensorpod::Batcher.
//
// Thread safety: Score may be called from many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tensorpod/tensorpod.hpp"

namespace scorer {

namespace tp = tensorpod;

struct ScorerOptions {
  std::string model_path;
  // Text file, one "<mean> <std>" line per input feature; '#' starts a comment.
  std::string stats_path;
  std::string device = "auto";
  int threads = 0;  // intra-op threads; 0: one per core
  int64_t top_k = 3;
  int64_t max_batch_size = 32;
  int64_t max_queue_delay_us = 1000;
};

struct ClassScore {
  int64_t label;
  float probability;
};

// Parses whitespace-separated decimal numbers (locale-independent). Each must
// be finite; an error names the first bad one as "<what> <index>" (0-based).
tp::StatusOr<std::vector<float>> ParseNumbers(std::string_view text,
                                              std::string_view what);

class Scorer {
 public:
  // Loads the model and the stats and starts the batcher. Errors name the
  // file and what is wrong with it.
  static tp::StatusOr<std::unique_ptr<Scorer>> Create(
      const ScorerOptions& options);

  // Normalizes `raw` (exactly features() values), runs the model
  // through the batcher and returns the top_k classes by softmax
  // probability, most likely first. Blocks until the batch has run.
  tp::StatusOr<std::vector<ClassScore>> Score(
      const std::vector<float>& raw) const;

  int64_t features() const { return static_cast<int64_t>(mean_.size()); }
  int64_t classes() const { return classes_; }
  int64_t top_k() const { return top_k_; }
  std::string device() const { return session_.Device(); }
  tp::StatusOr<tp::LoadReport> Report() const { return batcher_.Report(); }

 private:
  Scorer(tp::Session session, tp::Batcher batcher, std::string input_name,
         std::vector<float> mean, std::vector<float> inv_std, int64_t classes,
         int64_t top_k);

  // Declared before batcher_: the batcher must be destroyed first.
  tp::Session session_;
  tp::Batcher batcher_;
  std::string input_name_;
  std::vector<float> mean_;
  std::vector<float> inv_std_;
  int64_t classes_;
  int64_t top_k_;
};

}  // namespace scorer
