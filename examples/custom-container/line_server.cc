#include "line_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <utility>

namespace scorer {
namespace {

// A client that stops reading cannot hold a connection thread (and so the
// drain) for longer than this.
constexpr int kSendTimeoutSeconds = 10;

// Writes all of `data`; false when the peer is gone or too slow.
bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

int BoundPort(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return -1;
  if (addr.ss_family == AF_INET6)
    return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

}  // namespace

std::string ErrorLine(const tp::Status& status) {
  return "error " + status.ToString();
}

tp::StatusOr<std::unique_ptr<LineServer>> LineServer::Listen(
    const LineServerOptions& options, Handler handler) {
  const std::string where = options.host + ":" + std::to_string(options.port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(options.port);
  const int rc =
      getaddrinfo(options.host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) {
    return tp::Status(tp::StatusCode::kInvalidArgument,
                      "cannot resolve " + where + ": " + gai_strerror(rc));
  }
  int fd = -1;
  std::string error = "no address";
  for (addrinfo* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      error = std::strerror(errno);
      continue;
    }
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
        listen(fd, SOMAXCONN) != 0) {
      error = std::strerror(errno);
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0)
    return tp::Status(tp::StatusCode::kUnavailable,
                      "cannot listen on " + where + ": " + error);
  return std::unique_ptr<LineServer>(
      new LineServer(fd, BoundPort(fd), options, std::move(handler)));
}

LineServer::LineServer(int listen_fd, int port, LineServerOptions options,
                       Handler handler)
    : listen_fd_(listen_fd),
      port_(port),
      options_(std::move(options)),
      handler_(std::move(handler)) {}

LineServer::~LineServer() {
  if (listen_fd_ >= 0) close(listen_fd_);
}

void LineServer::Serve(int stop_fd) {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      std::cerr << "scorer: poll: " << std::strerror(errno) << "; draining\n";
      break;
    }
    if (fds[1].revents != 0) break;
    if ((fds[0].revents & POLLIN) == 0) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      // Out of descriptors: the pending connection stays queued and poll
      // would report it again at once, so back off instead of spinning.
      if (errno == EMFILE || errno == ENFILE)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (ReapConnections() >= static_cast<size_t>(options_.max_connections)) {
      SendAll(fd, ErrorLine(tp::Status(
                      tp::StatusCode::kResourceExhausted,
                      "too many connections (max " +
                          std::to_string(options_.max_connections) + ")")) +
                      "\n");
      close(fd);
      continue;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    const timeval send_timeout{kSendTimeoutSeconds, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout,
               sizeof(send_timeout));
    auto connection = std::make_unique<Connection>();
    connection->thread = std::thread(&LineServer::ServeConnection, this, fd,
                                     stop_fd, connection.get());
    connections_.push_back(std::move(connection));
  }
  close(listen_fd_);
  listen_fd_ = -1;
  for (auto& connection : connections_) connection->thread.join();
  connections_.clear();
}

size_t LineServer::ReapConnections() {
  for (auto it = connections_.begin(); it != connections_.end();) {
    if ((*it)->done.load()) {
      (*it)->thread.join();
      it = connections_.erase(it);
    } else {
      ++it;
    }
  }
  return connections_.size();
}

void LineServer::ServeConnection(int fd, int stop_fd, Connection* self) const {
  std::string buffer;
  bool stopping = false;
  char chunk[16 * 1024];
  // Answers one request line; false when the connection must close.
  auto answer = [&](std::string_view line) {
    if (line.size() > options_.max_line_bytes) {
      // The rest of the stream cannot be trusted to start at a request: answer
      // and hang up.
      SendAll(fd, ErrorLine(tp::Status(
                      tp::StatusCode::kInvalidArgument,
                      "request line longer than " +
                          std::to_string(options_.max_line_bytes) + " bytes")) +
                      "\n");
      return false;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return SendAll(fd, handler_(line) + "\n");
  };
  // Answers the complete lines in `buffer` and keeps the rest; false when
  // the connection must close.
  auto answer_complete_lines = [&]() {
    size_t start = 0;
    size_t newline = buffer.find('\n');
    for (; newline != std::string::npos; newline = buffer.find('\n', start)) {
      if (!answer(std::string_view(buffer).substr(start, newline - start)))
        return false;
      start = newline + 1;
    }
    buffer.erase(0, start);
    // A partial line already over the limit gets its error now.
    return buffer.size() <= options_.max_line_bytes || answer(buffer);
  };
  while (answer_complete_lines()) {
    if (!stopping) {
      pollfd fds[2] = {{fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      stopping = fds[1].revents != 0;
    }
    // While draining, take only what has already arrived.
    const ssize_t n =
        recv(fd, chunk, sizeof(chunk), stopping ? MSG_DONTWAIT : 0);
    if (n > 0) {
      buffer.append(chunk, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    // End of stream ends an unterminated last line too.
    if (n == 0 && !buffer.empty()) answer(buffer);
    break;  // end of stream, drained, or a socket error
  }
  close(fd);
  self->done.store(true);
}

}  // namespace scorer
