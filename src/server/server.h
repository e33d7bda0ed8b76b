// tensorpod serve: the KServe v2 / Open Inference Protocol server over a
// Triton-layout model repository, with Prometheus metrics and a graceful
// drain on SIGTERM. Uses the public C++ API only.
#pragma once

#include <string>
#include <vector>

#include "infer.h"
#include "log.h"
#include "repository.h"

namespace tensorpod::server {

struct ServeOptions {
  std::string model_repository;
  std::string host = "0.0.0.0";
  int http_port = 8000;
  int grpc_port = 8001;     // 0: no gRPC listener
  int metrics_port = 8002;  // 0: no metrics listener
  double drain_seconds = 5;
  double exit_timeout_seconds = 30;
  ControlMode control_mode = ControlMode::kNone;
  double poll_seconds = 15;
  LogFormat log_format = LogFormat::kText;
  int http_threads = 0;  // 0: one per core
  std::string device = "auto";
  int threads = 0;  // engine threads per run
  bool exit_on_error = true;
  bool metrics_triton = false;  // also Triton's nv_inference_* names
  Limits limits;
};

// Runs until SIGTERM or SIGINT, then drains; returns the exit code (0 after
// a clean drain). Errors at start are logged and give exit code 1.
int Serve(const ServeOptions& options);

}  // namespace tensorpod::server
