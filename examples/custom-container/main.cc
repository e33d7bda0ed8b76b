// scorer: a platform team's own model service, built on the installed
// tensorpod library. It loads an ONNX classifier, normalizes each request's
// raw features, batches requests from all connections through a
// tensorpod::Batcher and answers with the top-k classes after softmax.
//
// Protocol: one request per line over TCP, one answer line each, in order
// (README.md has examples):
//   score <f0> ... <f63>   ok <class>:<probability> ...  (top_k, best first)
//   health                 ok  (after SIGTERM: error UNAVAILABLE: draining)
//   info                   ok features=64 classes=10 top_k=3 device=cpu
//   stats                  ok queue_depth=0 in_flight=0 mean_batch_size=...
// Anything wrong is answered "error <CODE>: <message>" (tensorpod's status
// codes) and the connection stays usable.
//
// The port opens only after the model has loaded, so a TCP connect is a
// readiness check. `scorer --probe` sends "health" and exits 0 on "ok": an
// exec probe for images without curl or nc.
//
// SIGTERM or SIGINT: stop accepting, answer every request already received,
// exit 0.
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "line_server.h"
#include "scorer.h"

namespace {

namespace tp = tensorpod;
using scorer::ErrorLine;

// Written by the signal handler, read by everyone that waits: once a byte is
// in it the read end stays readable, which is the drain signal.
int g_stop_pipe[2] = {-1, -1};
std::atomic<bool> g_stopping{false};
static_assert(std::atomic<bool>::is_always_lock_free,
              "g_stopping is set from a signal handler");

extern "C" void OnStopSignal(int) {
  g_stopping.store(true);
  const char byte = 1;
  [[maybe_unused]] const ssize_t n = write(g_stop_pipe[1], &byte, 1);
}

bool InstallStopHandlers() {
  if (pipe2(g_stop_pipe, O_CLOEXEC) != 0) return false;
  fcntl(g_stop_pipe[1], F_SETFL, O_NONBLOCK);
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  signal(SIGPIPE, SIG_IGN);
  return sigaction(SIGTERM, &action, nullptr) == 0 &&
         sigaction(SIGINT, &action, nullptr) == 0;
}

// ---- The protocol ---------------------------------------------------------

std::string FormatScores(const std::vector<scorer::ClassScore>& top) {
  std::string out = "ok";
  char item[64];
  for (const scorer::ClassScore& s : top) {
    std::snprintf(item, sizeof(item), " %lld:%.6g",
                  static_cast<long long>(s.label), s.probability);
    out += item;
  }
  return out;
}

std::string FormatStats(const tp::LoadReport& r) {
  char line[512];
  std::snprintf(line, sizeof(line),
                "ok queue_depth=%lld in_flight=%lld mean_batch_size=%.3g "
                "completed_per_s=%.3g total_p99_ms=%.3g rejected=%lld",
                static_cast<long long>(r.queue_depth),
                static_cast<long long>(r.in_flight), r.mean_batch_size,
                r.completed_per_s, r.total_p99_ms,
                static_cast<long long>(r.rejected));
  return line;
}

std::string Handle(const scorer::Scorer& model, std::string_view line) {
  const size_t start = line.find_first_not_of(" \t");
  if (start == std::string_view::npos) {
    return ErrorLine(
        tp::Status(tp::StatusCode::kInvalidArgument, "empty request"));
  }
  line.remove_prefix(start);
  const size_t space = line.find_first_of(" \t");
  const std::string_view command = line.substr(0, space);
  const std::string_view args =
      space == std::string_view::npos ? std::string_view() : line.substr(space);

  if (command == "score") {
    tp::StatusOr<std::vector<float>> features =
        scorer::ParseNumbers(args, "feature");
    if (!features.ok()) return ErrorLine(features.status());
    tp::StatusOr<std::vector<scorer::ClassScore>> top = model.Score(*features);
    return top.ok() ? FormatScores(*top) : ErrorLine(top.status());
  }
  if (command == "health") {
    return g_stopping.load()
               ? ErrorLine(tp::Status(tp::StatusCode::kUnavailable, "draining"))
               : "ok";
  }
  if (command == "info") {
    return "ok features=" + std::to_string(model.features()) +
           " classes=" + std::to_string(model.classes()) +
           " top_k=" + std::to_string(model.top_k()) +
           " device=" + model.device();
  }
  if (command == "stats") {
    tp::StatusOr<tp::LoadReport> report = model.Report();
    return report.ok() ? FormatStats(*report) : ErrorLine(report.status());
  }
  return ErrorLine(
      tp::Status(tp::StatusCode::kInvalidArgument,
                 "unknown command \"" + std::string(command.substr(0, 32)) +
                     "\" (expected score, health, info or stats)"));
}

// ---- Probe ----------------------------------------------------------------

// Sends "health" to host:port; 0 when the answer is "ok".
int Probe(std::string host, int port) {
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) !=
      0) {
    std::cerr << "probe: cannot resolve " << host << "\n";
    return 1;
  }
  std::string reply;
  std::string error = "no answer";
  for (addrinfo* ai = found; ai != nullptr && reply.empty(); ai = ai->ai_next) {
    const int fd =
        socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    const timeval timeout{2, 0};  // bounds connect (Linux), send and recv
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
        send(fd, "health\n", 7, MSG_NOSIGNAL) == 7) {
      char c = 0;
      while (recv(fd, &c, 1, 0) == 1 && c != '\n') reply += c;
    } else {
      error = std::strerror(errno);
    }
    close(fd);
  }
  freeaddrinfo(found);
  if (reply == "ok") return 0;
  std::cerr << "probe: " << host << ":" << port << ": "
            << (reply.empty() ? error : "answered \"" + reply + "\"") << "\n";
  return 1;
}

// ---- Flags ----------------------------------------------------------------

struct Flag {
  const char* name;
  const char* default_value;  // "" for required flags
  const char* help;
};

// Every flag can also be set as SCORER_<NAME> in the environment (e.g.
// SCORER_TOP_K=5); a command-line flag wins.
constexpr Flag kFlags[] = {
    {"model", "",
     "ONNX model: one float32 input [-1,F], float32 logits [-1,C] first"},
    {"stats", "", "per-feature normalization: F lines of \"<mean> <std>\""},
    {"host", "0.0.0.0", "address to listen on"},
    {"port", "7000", "TCP port (0: any free port; the log says which)"},
    {"device", "auto", "auto, cpu, cuda or cuda:N"},
    {"threads", "0", "intra-op threads (0: one per core)"},
    {"top-k", "3", "classes per answer"},
    {"max-batch", "32", "rows per batch"},
    {"max-queue-delay-us", "1000",
     "how long a partial batch waits for more requests"},
    {"max-connections", "256", "connections served at once; more are refused"},
};

void PrintUsage(const char* argv0) {
  std::cerr << "usage: " << argv0
            << " --model MODEL.onnx --stats STATS.txt [flags]\n"
            << "       " << argv0
            << " --probe [--host H] [--port P]   exit 0 when the service "
               "answers health\n\n";
  for (const Flag& f : kFlags) {
    std::cerr << "  --" << std::left << std::setw(20) << f.name << " "
              << f.help;
    if (*f.default_value != '\0')
      std::cerr << " (default " << f.default_value << ")";
    std::cerr << "\n";
  }
  std::cerr << "\nEvery flag also reads SCORER_<FLAG> from the environment "
               "(e.g. SCORER_PORT).\n";
}

std::string EnvName(std::string_view flag) {
  std::string env = "SCORER_";
  for (char c : flag)
    env += c == '-'
               ? '_'
               : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return env;
}

bool ParseInt(const std::map<std::string, std::string>& values,
              const std::string& name, int64_t lo, int64_t hi, int64_t* out) {
  const std::string& text = values.at(name);
  const auto [ptr, ec] =
      std::from_chars(text.data(), text.data() + text.size(), *out);
  if (ec == std::errc() && ptr == text.data() + text.size() && *out >= lo &&
      *out <= hi)
    return true;
  std::cerr << "scorer: --" << name << " \"" << text
            << "\" is not an integer in [" << lo << ", " << hi << "]\n";
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> values;
  for (const Flag& f : kFlags) {
    const char* env = std::getenv(EnvName(f.name).c_str());
    values[f.name] = env != nullptr ? env : f.default_value;
  }
  bool probe = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--probe") {
      probe = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") {
      PrintUsage(argv[0]);
      return 0;
    }
    const bool known = arg.size() > 2 && arg.substr(0, 2) == "--" &&
                       values.count(std::string(arg.substr(2)));
    if (!known || i + 1 == argc) {
      std::cerr << "scorer: "
                << (known ? "missing value for " : "unknown flag ") << arg
                << "\n\n";
      PrintUsage(argv[0]);
      return 2;
    }
    values[std::string(arg.substr(2))] = argv[++i];
  }

  int64_t port = 0, threads = 0, top_k = 0, max_batch = 0, delay_us = 0,
          max_connections = 0;
  if (!ParseInt(values, "port", 0, 65535, &port)) return 2;
  if (probe) return Probe(values["host"], static_cast<int>(port));
  if (!ParseInt(values, "threads", 0, 1024, &threads) ||
      !ParseInt(values, "top-k", 1, 1 << 20, &top_k) ||
      !ParseInt(values, "max-batch", 1, 1 << 16, &max_batch) ||
      !ParseInt(values, "max-queue-delay-us", 0, 10'000'000, &delay_us) ||
      !ParseInt(values, "max-connections", 1, 1 << 16, &max_connections)) {
    return 2;
  }
  for (const char* required : {"model", "stats"}) {
    if (values[required].empty()) {
      std::cerr << "scorer: --" << required << " (or " << EnvName(required)
                << ") is required\n\n";
      PrintUsage(argv[0]);
      return 2;
    }
  }
  // Before loading, so a SIGTERM during a slow load still exits cleanly.
  if (!InstallStopHandlers()) {
    std::cerr << "scorer: cannot install signal handlers: "
              << std::strerror(errno) << "\n";
    return 1;
  }

  scorer::ScorerOptions options;
  options.model_path = values["model"];
  options.stats_path = values["stats"];
  options.device = values["device"];
  options.threads = static_cast<int>(threads);
  options.top_k = top_k;
  options.max_batch_size = max_batch;
  options.max_queue_delay_us = delay_us;
  tp::StatusOr<std::unique_ptr<scorer::Scorer>> model =
      scorer::Scorer::Create(options);
  if (!model.ok()) {
    std::cerr << "scorer: " << model.status().ToString() << "\n";
    return 1;
  }
  const scorer::Scorer& scorer_ref = **model;

  scorer::LineServerOptions server_options;
  server_options.host = values["host"];
  server_options.port = static_cast<int>(port);
  server_options.max_connections = static_cast<int>(max_connections);
  tp::StatusOr<std::unique_ptr<scorer::LineServer>> server =
      scorer::LineServer::Listen(server_options,
                                 [&scorer_ref](std::string_view line) {
                                   return Handle(scorer_ref, line);
                                 });
  if (!server.ok()) {
    std::cerr << "scorer: " << server.status().ToString() << "\n";
    return 1;
  }
  std::cerr << "scorer: listening on " << server_options.host << ":"
            << (*server)->port() << " (model " << options.model_path << " on "
            << scorer_ref.device() << ", " << scorer_ref.features()
            << " features -> top " << top_k << " of " << scorer_ref.classes()
            << " classes)" << std::endl;

  (*server)->Serve(g_stop_pipe[0]);
  std::cerr << "scorer: drained, exiting" << std::endl;
  return 0;
}
