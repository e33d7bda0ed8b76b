// `tensorpod health`: an HTTP GET probe for container health checks, so that
// a runtime image needs no curl or shell to check its own server.
#pragma once

#include <string>

namespace tensorpod::cli {

struct HealthTarget {
  std::string host;
  std::string port;
  std::string path;
};

// Parses http://HOST[:PORT][/PATH] (PORT defaults to 80, PATH to "/"; HOST may
// be a bracketed IPv6 literal). false with *error set when it is not such a URL.
bool ParseHttpUrl(const std::string& url, HealthTarget* target, std::string* error);

// Sends GET PATH and reads the status line, all within timeout_ms. true when
// the status is 200; otherwise false with *error naming what failed
// (resolution, connection, timeout, or the status line received).
bool ProbeHttp(const HealthTarget& target, int timeout_ms, std::string* error);

}  // namespace tensorpod::cli
