// LineServer: a small TCP server for a line protocol. Each connection gets a
// thread that reads newline-terminated requests ("\r\n" is accepted too) and
// writes one response line per request, in order. A line longer than
// max_line_bytes gets an error line and the connection is closed. Nothing
// here knows about models; the handler does the work.
//
//   LineServerOptions options;
//   options.port = 7000;
//   auto server = LineServer::Listen(options, handler);
//   (*server)->Serve(stop_fd);  // until stop_fd is readable and drained
//
// Drain (Serve, once `stop_fd` is readable): the listening socket closes, so
// new connections are refused; each open connection answers every complete
// line the kernel has already received, then closes. Serve returns when all
// connection threads have ended.
//
// Thread safety: the handler is called from many connection threads at once.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "tensorpod/tensorpod.hpp"

namespace scorer {

namespace tp = tensorpod;

// The protocol's error line: "error <CODE>: <message>".
std::string ErrorLine(const tp::Status& status);

struct LineServerOptions {
  std::string host = "0.0.0.0";
  int port = 7000;  // 0: any free port (see LineServer::port)
  int max_connections = 256;
  size_t max_line_bytes = 64 * 1024;
};

class LineServer {
 public:
  // Returns the response line (without the newline) for one request line
  // (without its line ending).
  using Handler = std::function<std::string(std::string_view line)>;

  // Binds and listens. `handler` must stay valid until Serve returns.
  static tp::StatusOr<std::unique_ptr<LineServer>> Listen(
      const LineServerOptions& options, Handler handler);
  ~LineServer();
  LineServer(const LineServer&) = delete;
  LineServer& operator=(const LineServer&) = delete;

  // The bound port (the chosen one when options.port was 0).
  int port() const { return port_; }

  // Accepts and serves connections until `stop_fd` is readable, then drains
  // (see above). REQUIRES: called once.
  void Serve(int stop_fd);

 private:
  struct Connection {
    std::thread thread;
    std::atomic<bool> done{false};
  };

  LineServer(int listen_fd, int port, LineServerOptions options,
             Handler handler);
  void ServeConnection(int fd, int stop_fd, Connection* self) const;
  // Joins the threads of closed connections; returns how many are open.
  size_t ReapConnections();

  int listen_fd_;
  int port_;
  LineServerOptions options_;
  Handler handler_;
  std::list<std::unique_ptr<Connection>>
      connections_;  // touched by Serve's thread only
};

}  // namespace scorer
