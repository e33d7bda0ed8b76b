#include "health.h"

#include <cerrno>
#include <chrono>
#include <cstring>

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace tensorpod::cli {
namespace {

using Clock = std::chrono::steady_clock;

// Closes the descriptor on every return path.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

int RemainingMs(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

// Waits for `events` on fd until the deadline; false on timeout or error.
bool Wait(int fd, short events, Clock::time_point deadline, std::string* error) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = poll(&p, 1, RemainingMs(deadline));
    if (n > 0) return true;
    if (n == 0) {
      *error = "timed out";
      return false;
    }
    if (errno != EINTR) {
      *error = std::string("poll: ") + std::strerror(errno);
      return false;
    }
  }
}

// Connects a non-blocking socket to the first address that accepts.
bool Connect(const HealthTarget& t, Clock::time_point deadline, Fd* out, std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addrs = nullptr;
  if (const int rc = getaddrinfo(t.host.c_str(), t.port.c_str(), &hints, &addrs); rc != 0) {
    *error = "cannot resolve " + t.host + ": " + gai_strerror(rc);
    return false;
  }
  std::string last = "no address";
  for (addrinfo* a = addrs; a != nullptr; a = a->ai_next) {
    Fd s;
    s.fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (s.fd < 0) {
      last = std::strerror(errno);
      continue;
    }
    if (connect(s.fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last = std::strerror(errno);
      continue;
    }
    if (!Wait(s.fd, POLLOUT, deadline, &last)) continue;
    int so_error = 0;
    socklen_t len = sizeof(so_error);
    getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
    if (so_error != 0) {
      last = std::strerror(so_error);
      continue;
    }
    std::swap(out->fd, s.fd);
    freeaddrinfo(addrs);
    return true;
  }
  freeaddrinfo(addrs);
  *error = "cannot connect to " + t.host + ":" + t.port + ": " + last;
  return false;
}

}  // namespace

bool ParseHttpUrl(const std::string& url, HealthTarget* target, std::string* error) {
  const std::string scheme = "http://";
  if (url.compare(0, scheme.size(), scheme) != 0) {
    *error = "the URL must start with http://, got \"" + url + "\"";
    return false;
  }
  const std::string rest = url.substr(scheme.size());
  const size_t slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  target->path = slash == std::string::npos ? "/" : rest.substr(slash);
  std::string host = authority, port = "80";
  if (!authority.empty() && authority[0] == '[') {
    const size_t close = authority.find(']');
    if (close == std::string::npos) {
      *error = "unterminated IPv6 address in \"" + url + "\"";
      return false;
    }
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') {
        *error = "unexpected text after the IPv6 address in \"" + url + "\"";
        return false;
      }
      port = authority.substr(close + 2);
    }
  } else if (const size_t colon = authority.rfind(':'); colon != std::string::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) {
    *error = "no host in \"" + url + "\"";
    return false;
  }
  const bool digits = !port.empty() && port.size() <= 5 && port.find_first_not_of("0123456789") == std::string::npos;
  if (!digits || std::stoi(port) < 1 || std::stoi(port) > 65535) {
    *error = "the port must be 1..65535, got \"" + port + "\"";
    return false;
  }
  if (target->path.find_first_of(" \r\n") != std::string::npos) {
    *error = "the path may not contain spaces or line breaks";
    return false;
  }
  target->host = host;
  target->port = port;
  return true;
}

bool ProbeHttp(const HealthTarget& t, int timeout_ms, std::string* error) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  Fd s;
  if (!Connect(t, deadline, &s, error)) return false;
  const std::string host = t.host.find(':') != std::string::npos ? "[" + t.host + "]" : t.host;
  const std::string request = "GET " + t.path + " HTTP/1.1\r\nHost: " + host + ":" + t.port +
                              "\r\nUser-Agent: tensorpod-health\r\nConnection: close\r\n\r\n";
  size_t sent = 0;
  while (sent < request.size()) {
    if (!Wait(s.fd, POLLOUT, deadline, error)) return false;
    const ssize_t n = send(s.fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      *error = std::string("send: ") + std::strerror(errno);
      return false;
    }
    if (n > 0) sent += static_cast<size_t>(n);
  }
  // Only the status line matters: "HTTP/1.1 200 OK".
  std::string head;
  while (head.find("\r\n") == std::string::npos && head.size() < 1024) {
    if (!Wait(s.fd, POLLIN, deadline, error)) return false;
    char buf[512];
    const ssize_t n = recv(s.fd, buf, sizeof(buf), 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      *error = std::string("recv: ") + std::strerror(errno);
      return false;
    }
    head.append(buf, static_cast<size_t>(n));
  }
  const std::string line = head.substr(0, head.find("\r\n"));
  if (line.compare(0, 5, "HTTP/") != 0 || line.size() < 12) {
    *error = line.empty() ? "the server closed the connection without a response" : "not an HTTP response: " + line;
    return false;
  }
  if (line.compare(9, 3, "200") != 0) {
    *error = "GET " + t.path + ": " + line.substr(9);
    return false;
  }
  return true;
}

}  // namespace tensorpod::cli
