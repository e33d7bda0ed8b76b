// A small HTTP/1.1 server on Boost.Beast: keep-alive connections on strands
// of a shared io_context, request size limits, idle and slow-client
// timeouts. Handlers answer through a Reply that may be called later, from
// any thread (the batcher's completions).
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tensorpod/tensorpod.hpp"

namespace tensorpod::server {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query
  std::string body;
  int64_t inference_header_length = -1;  // Inference-Header-Content-Length, -1 when absent
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

using Reply = std::function<void(HttpResponse)>;
using HttpHandler = std::function<void(HttpRequest&&, Reply)>;

struct HttpServerOptions {
  std::string host = "0.0.0.0";
  int port = 8000;
  size_t max_body_bytes = size_t{64} << 20;
  uint32_t max_header_bytes = 16 * 1024;
  std::chrono::seconds idle_timeout{60};  // also bounds a slow client's request
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, HttpServerOptions options, HttpHandler handler);
  ~HttpServer();
  // Binds and starts accepting; UNAVAILABLE naming the address when it cannot.
  Status Start();
  // Stops accepting new connections.
  void StopAccepting();
  int port() const { return port_; }
  // Requests read and not yet answered.
  int64_t in_flight() const { return in_flight_->load(); }

 private:
  void Accept();
  boost::asio::io_context& io_;
  HttpServerOptions options_;
  HttpHandler handler_;
  boost::asio::ip::tcp::acceptor acceptor_;
  int port_ = 0;
  std::shared_ptr<std::atomic<int64_t>> in_flight_ = std::make_shared<std::atomic<int64_t>>(0);
};

// {"error": message} with the HTTP status of the code (DESIGN.md's table);
// 429 carries Retry-After.
HttpResponse ErrorResponse(const Status& s);
int HttpStatusOf(StatusCode code);

}  // namespace tensorpod::server
