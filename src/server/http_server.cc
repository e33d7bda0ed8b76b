#include "http_server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>

#include "log.h"

namespace tensorpod::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

int HttpStatusOf(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kFailedPrecondition: return 400;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kAlreadyExists: return 409;
    case StatusCode::kUnimplemented: return 501;
    case StatusCode::kResourceExhausted: return 429;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kDeadlineExceeded: return 504;
    case StatusCode::kCancelled: return 499;
    default: return 500;
  }
}

HttpResponse ErrorResponse(const Status& s) {
  HttpResponse r;
  r.status = HttpStatusOf(s.code());
  r.body = "{\"error\":" + JsonQuote(s.message()) + "}";
  if (s.code() == StatusCode::kResourceExhausted) r.headers.emplace_back("Retry-After", "1");
  return r;
}

namespace {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, const HttpServerOptions& options, const HttpHandler& handler,
             std::shared_ptr<std::atomic<int64_t>> in_flight)
      : stream_(std::move(socket)), options_(options), handler_(handler), in_flight_(std::move(in_flight)) {}

  void Start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Read(); });
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(options_.max_body_bytes);
    parser_->header_limit(options_.max_header_bytes);
    stream_.expires_after(options_.idle_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
        ec == net::error::connection_reset || ec == net::error::operation_aborted) {
      return Close();
    }
    if (ec) {
      // A request we cannot read: say why, then close (the stream's state is unknown).
      HttpResponse r;
      if (ec == http::error::body_limit) {
        r = ErrorResponse(Status(StatusCode::kInvalidArgument, "the request body exceeds the limit of " +
                                                                   std::to_string(options_.max_body_bytes) + " bytes"));
        r.status = 413;
      } else if (ec == http::error::header_limit) {
        r = ErrorResponse(Status(StatusCode::kInvalidArgument, "the request headers exceed " +
                                                                   std::to_string(options_.max_header_bytes) + " bytes"));
        r.status = 431;
      } else {
        r = ErrorResponse(Status(StatusCode::kInvalidArgument, "malformed HTTP request: " + ec.message()));
      }
      keep_alive_ = false;
      return Write(std::move(r));
    }
    http::request<http::string_body> req = parser_->release();
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    HttpRequest r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    r.body = std::move(req.body());
    auto h = req.find("Inference-Header-Content-Length");
    if (h != req.end()) {
      const std::string v(h->value());
      char* end = nullptr;
      const long long n = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < 0) {
        return Write(ErrorResponse(Status(StatusCode::kInvalidArgument,
                                          "Inference-Header-Content-Length \"" + v + "\" is not a byte count")));
      }
      r.inference_header_length = n;
    }
    ++*in_flight_;
    auto self = shared_from_this();
    // The handler may answer at once or later from another thread; either
    // way the write runs on this connection's strand.
    auto answered = std::make_shared<std::atomic<bool>>(false);
    handler_(std::move(r), [self, answered](HttpResponse resp) {
      if (answered->exchange(true)) return;
      net::post(self->stream_.get_executor(), [self, resp = std::move(resp)]() mutable {
        --*self->in_flight_;
        self->Write(std::move(resp));
      });
    });
  }

  void Write(HttpResponse r) {
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(r.status), version_);
    res->set(http::field::server, "tensorpod");
    res->set(http::field::content_type, r.content_type);
    for (auto& [k, v] : r.headers) res->set(k, v);
    res->keep_alive(keep_alive_);
    res->body() = std::move(r.body);
    res->prepare_payload();
    stream_.expires_after(options_.idle_timeout);
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, size_t) {
      if (ec || !self->keep_alive_) return self->Close();
      self->Read();
    });
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const HttpServerOptions& options_;
  const HttpHandler& handler_;
  std::shared_ptr<std::atomic<int64_t>> in_flight_;
  bool keep_alive_ = true;
  unsigned version_ = 11;
};

}  // namespace

HttpServer::HttpServer(net::io_context& io, HttpServerOptions options, HttpHandler handler)
    : io_(io), options_(std::move(options)), handler_(std::move(handler)), acceptor_(net::make_strand(io)) {}

HttpServer::~HttpServer() { StopAccepting(); }

Status HttpServer::Start() {
  beast::error_code ec;
  const auto address = net::ip::make_address(options_.host, ec);
  if (ec) return Status(StatusCode::kInvalidArgument, "--host \"" + options_.host + "\" is not an IP address");
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(options_.port));
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status(StatusCode::kUnavailable, "cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                                                ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  Accept();
  return Status();
}

void HttpServer::StopAccepting() {
  net::post(acceptor_.get_executor(), [this] {
    beast::error_code ec;
    acceptor_.close(ec);
  });
}

void HttpServer::Accept() {
  acceptor_.async_accept(net::make_strand(io_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) {
      socket.set_option(tcp::no_delay(true), ec);
      std::make_shared<Connection>(std::move(socket), options_, handler_, in_flight_)->Start();
    }
    Accept();
  });
}

}  // namespace tensorpod::server
