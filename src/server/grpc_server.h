// The gRPC front end: GRPCInferenceService (inference.proto) over the same
// repository, batchers and lifecycle as the HTTP front end.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "infer.h"
#include "repository.h"

namespace grpc {
class Server;
}

namespace tensorpod::server {

// What both front ends share, owned by the server.
struct ServingState {
  ModelRepository* repo = nullptr;
  std::function<bool()> ready;            // server readiness
  const std::atomic<bool>* draining = nullptr;  // readiness off
  const std::atomic<bool>* refusing = nullptr;  // new requests get UNAVAILABLE
  std::atomic<int64_t>* in_progress = nullptr;  // requests submitted and not answered
  std::atomic<int64_t>* refused = nullptr;
  ControlMode control_mode = ControlMode::kNone;
  Limits limits;
};

class GrpcFrontEnd {
 public:
  // Listens on host:port; UNAVAILABLE naming the address when it cannot.
  static StatusOr<std::unique_ptr<GrpcFrontEnd>> Start(const std::string& host, int port, ServingState* state);
  ~GrpcFrontEnd();
  int port() const { return port_; }
  // Stops serving; calls in progress get until `deadline_seconds` to finish.
  void Shutdown(double deadline_seconds);

 private:
  GrpcFrontEnd() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace tensorpod::server
