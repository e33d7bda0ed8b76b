// The HTTP layer alone: tensorpod serve's HttpServer (Boost.Beast) answering
// every request with a fixed JSON body, for bench/http_libraries.py.
//
//   bench_http_beast PORT THREADS
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <thread>
#include <vector>

#include "http_server.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: bench_http_beast PORT THREADS\n";
    return 2;
  }
  const std::string body = std::getenv("TP_FIXED_BODY") ? std::getenv("TP_FIXED_BODY") : "{}";
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  tensorpod::server::HttpServerOptions o;
  o.host = "127.0.0.1";
  o.port = std::atoi(argv[1]);
  tensorpod::server::HttpServer http(io, o, [&body](tensorpod::server::HttpRequest&&, tensorpod::server::Reply reply) {
    tensorpod::server::HttpResponse r;
    r.body = body;
    reply(std::move(r));
  });
  const tensorpod::Status s = http.Start();
  if (!s.ok()) {
    std::cerr << s.message() << "\n";
    return 1;
  }
  std::vector<std::thread> pool;
  for (int i = 0; i < std::atoi(argv[2]); ++i) pool.emplace_back([&io] { io.run(); });
  for (auto& t : pool) t.join();
  return 0;
}
