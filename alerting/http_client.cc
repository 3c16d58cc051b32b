// The one translation unit with Boost.Beast in it (compiling Beast is slow: keep it here).
#include "http_client.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

namespace weighbridge::alerting {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

// Receivers answer a few bytes; anything longer is cut, never buffered without bound.
constexpr std::size_t kMaxResponseReadBytes = 1024 * 1024;
constexpr std::size_t kMaxResponseKeptBytes = 64 * 1024;

bool IsIpLiteral(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

std::string Millis(std::chrono::milliseconds ms) {
  return std::to_string(ms.count()) + " ms";
}

}  // namespace

Result<ParsedUrl> ParseUrl(const std::string& url) {
  ParsedUrl out;
  std::string_view rest = url;
  if (rest.starts_with("https://")) {
    out.tls = true;
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else {
    return Status::Error("\"" + url + "\" is not an http:// or https:// URL");
  }
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  std::string_view target = rest.substr(authority.size());
  target = target.substr(0, target.find('#'));
  out.target =
      target.empty() || target.front() != '/' ? "/" + std::string(target) : std::string(target);
  if (authority.empty()) return Status::Error("\"" + url + "\" has no host");
  std::string_view port;
  if (authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return Status::Error("\"" + url + "\": unterminated IPv6 literal");
    }
    out.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Status::Error("\"" + url + "\": junk after IPv6 literal");
      port = after.substr(1);
    }
  } else {
    const std::size_t colon = authority.find(':');
    if (colon != std::string_view::npos &&
        authority.find(':', colon + 1) != std::string_view::npos) {
      return Status::Error("\"" + url + "\": IPv6 addresses go in brackets ([::1]:8080)");
    }
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (out.host.empty()) return Status::Error("\"" + url + "\" has no host");
  if (port.empty()) {
    out.port = out.tls ? "443" : "80";
  } else {
    const bool digits = port.size() <= 5 && std::all_of(port.begin(), port.end(), [](char c) {
                          return c >= '0' && c <= '9';
                        });
    if (!digits || std::stoi(std::string(port)) < 1 || std::stoi(std::string(port)) > 65535) {
      return Status::Error("\"" + url + "\": bad port \"" + std::string(port) + "\"");
    }
    out.port = std::string(port);
  }
  return out;
}

namespace internal {

struct HttpClient::TlsContexts {
  // Keyed by (verify_peer, ca_file). Loading a CA bundle parses hundreds of certificates: do it
  // once per receiver, not per attempt.
  std::map<std::pair<bool, std::string>, std::unique_ptr<ssl::context>> by_options;

  Result<ssl::context*> Get(const TlsOptions& tls) {
    const auto key = std::make_pair(tls.verify_peer, tls.ca_file);
    if (auto it = by_options.find(key); it != by_options.end()) return it->second.get();
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
    boost::system::error_code ec;
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                         ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                     ec);
    if (!tls.ca_file.empty()) {
      ctx->load_verify_file(tls.ca_file, ec);
      if (ec) return Status::Error("CA file " + tls.ca_file + ": " + ec.message());
    } else {
      ctx->set_default_verify_paths(ec);
      if (ec) return Status::Error("system CA certificates: " + ec.message());
    }
    ssl::context* raw = ctx.get();
    by_options.emplace(key, std::move(ctx));
    return raw;
  }
};

namespace {

template <bool kTls>
class Session : public std::enable_shared_from_this<Session<kTls>> {
 public:
  using Stream = std::conditional_t<kTls, beast::ssl_stream<beast::tcp_stream>, beast::tcp_stream>;

  Session(asio::io_context& io, ssl::context* tls_context, const HttpRequest& request,
          ParsedUrl url, HttpClient::Done done)
      : request_(request),
        url_(std::move(url)),
        peer_(url_.host + ":" + url_.port),
        done_(std::move(done)),
        resolver_(io),
        resolve_timer_(io) {
    if constexpr (kTls) {
      stream_.emplace(io, *tls_context);
    } else {
      stream_.emplace(io);
    }
  }

  void Start() {
    const auto now = SteadyClock::now();
    deadline_ = now + request_.timeout;
    connect_deadline_ = std::min(deadline_, now + request_.connect_timeout);
    BuildMessage();
    // The resolver has no deadline of its own: a timer cancels it.
    resolve_timer_.expires_at(connect_deadline_);
    resolve_timer_.async_wait([self = this->shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->resolver_.cancel();
    });
    resolver_.async_resolve(url_.host, url_.port,
                            [self = this->shared_from_this()](boost::system::error_code ec,
                                                              tcp::resolver::results_type results) {
                              self->OnResolve(ec, std::move(results));
                            });
  }

 private:
  void BuildMessage() {
    message_.method(http::verb::post);
    message_.target(url_.target);
    message_.version(11);
    const bool default_port = url_.port == (url_.tls ? "443" : "80");
    std::string host = url_.host.find(':') != std::string::npos ? "[" + url_.host + "]" : url_.host;
    if (!default_port) host += ":" + url_.port;
    message_.set(http::field::host, host);
    message_.set(http::field::user_agent, "weighbridge");
    message_.set(http::field::content_type, request_.content_type);
    for (const auto& [name, value] : request_.headers) message_.set(name, value);
    message_.keep_alive(false);
    message_.body() = request_.body;
    message_.prepare_payload();
  }

  beast::tcp_stream& Tcp() { return beast::get_lowest_layer(*stream_); }

  void OnResolve(boost::system::error_code ec, tcp::resolver::results_type results) {
    resolve_timer_.cancel();
    if (ec == asio::error::operation_aborted) {
      return Finish(Status::Error("resolve " + url_.host + ": timed out after " +
                                  Millis(request_.connect_timeout)));
    }
    if (ec) return Finish(Status::Error("resolve " + url_.host + ": " + ec.message()));
    Tcp().expires_at(connect_deadline_);
    Tcp().async_connect(
        results, [self = this->shared_from_this()](boost::system::error_code cec,
                                                   const tcp::endpoint&) { self->OnConnect(cec); });
  }

  void OnConnect(boost::system::error_code ec) {
    if (ec == beast::error::timeout) {
      return Finish(Status::Error("connect to " + peer_ + ": timed out after " +
                                  Millis(std::min(request_.connect_timeout, request_.timeout))));
    }
    if (ec) return Finish(Status::Error("connect to " + peer_ + ": " + ec.message()));
    if constexpr (kTls) {
      // SNI carries a name, never an address (RFC 6066 section 3).
      if (!IsIpLiteral(url_.host) &&
          SSL_ctrl(stream_->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME,
                   TLSEXT_NAMETYPE_host_name, const_cast<char*>(url_.host.c_str())) != 1) {
        return Finish(Status::Error("TLS to " + peer_ + ": cannot set the SNI name"));
      }
      boost::system::error_code vec;
      if (request_.tls.verify_peer) {
        stream_->set_verify_mode(ssl::verify_peer, vec);
        // Chain checks come from OpenSSL; the name check (DNS name or IP address SAN) from
        // Asio. The callback records why a certificate was refused, for the error message.
        stream_->set_verify_callback(
            [this, verifier = ssl::host_name_verification(url_.host)](
                bool preverified, ssl::verify_context& ctx) mutable {
              const bool ok = verifier(preverified, ctx);
              if (!ok && verify_error_.empty()) {
                const int err = X509_STORE_CTX_get_error(ctx.native_handle());
                verify_error_ = err != X509_V_OK ? std::string(X509_verify_cert_error_string(err))
                                                 : "the certificate is not for " + url_.host;
              }
              return ok;
            },
            vec);
      } else {
        stream_->set_verify_mode(ssl::verify_none, vec);
      }
      if (vec) return Finish(Status::Error("TLS to " + peer_ + ": " + vec.message()));
      Tcp().expires_at(deadline_);
      stream_->async_handshake(ssl::stream_base::client,
                               [self = this->shared_from_this()](boost::system::error_code hec) {
                                 self->OnHandshake(hec);
                               });
    } else {
      Write();
    }
  }

  void OnHandshake(boost::system::error_code ec) {
    if (ec == beast::error::timeout) {
      return Finish(Status::Error("TLS handshake with " + peer_ + ": timed out after " +
                                  Millis(request_.timeout)));
    }
    if (ec) {
      return Finish(Status::Error("TLS handshake with " + peer_ + ": " +
                                  (verify_error_.empty()
                                       ? ec.message()
                                       : "certificate verification failed: " + verify_error_)));
    }
    Write();
  }

  void Write() {
    Tcp().expires_at(deadline_);
    http::async_write(*stream_, message_,
                      [self = this->shared_from_this()](boost::system::error_code ec, std::size_t) {
                        self->OnWrite(ec);
                      });
  }

  void OnWrite(boost::system::error_code ec) {
    if (ec == beast::error::timeout) {
      return Finish(
          Status::Error("send to " + peer_ + ": timed out after " + Millis(request_.timeout)));
    }
    if (ec) return Finish(Status::Error("send to " + peer_ + ": " + ec.message()));
    parser_.body_limit(kMaxResponseReadBytes);
    Tcp().expires_at(deadline_);
    http::async_read(*stream_, buffer_, parser_,
                     [self = this->shared_from_this()](boost::system::error_code rec, std::size_t) {
                       self->OnRead(rec);
                     });
  }

  void OnRead(boost::system::error_code ec) {
    if (ec == beast::error::timeout) {
      return Finish(
          Status::Error("no response from " + peer_ + " within " + Millis(request_.timeout)));
    }
    if (ec) return Finish(Status::Error("read response from " + peer_ + ": " + ec.message()));
    HttpResponse response;
    response.status = parser_.get().result_int();
    response.body = parser_.get().body().substr(0, kMaxResponseKeptBytes);
    Finish(std::move(response));
  }

  void Finish(Result<HttpResponse> result) {
    // No TLS close_notify exchange: the answer is in, and a peer that never answers the
    // shutdown would hold this session until its deadline for nothing.
    boost::system::error_code ignored;
    Tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Tcp().socket().close(ignored);
    if (done_) {
      HttpClient::Done done = std::move(done_);
      done_ = nullptr;
      done(std::move(result));
    }
  }

  HttpRequest request_;
  ParsedUrl url_;
  std::string peer_;
  HttpClient::Done done_;
  tcp::resolver resolver_;
  asio::steady_timer resolve_timer_;
  std::optional<Stream> stream_;
  http::request<http::string_body> message_;
  beast::flat_buffer buffer_;
  http::response_parser<http::string_body> parser_;
  SteadyClock::time_point deadline_;
  SteadyClock::time_point connect_deadline_;
  std::string verify_error_;
};

}  // namespace

HttpClient::HttpClient(asio::io_context& io) : io_(io), tls_(std::make_unique<TlsContexts>()) {}
HttpClient::~HttpClient() = default;

void HttpClient::AsyncSend(const HttpRequest& request, Done done) {
  Result<ParsedUrl> url = ParseUrl(request.url);
  if (!url.ok()) {
    asio::post(io_, [done = std::move(done), status = url.status()] { done(status); });
    return;
  }
  try {
    if (url->tls) {
      Result<ssl::context*> ctx = tls_->Get(request.tls);
      if (!ctx.ok()) {
        asio::post(io_, [done = std::move(done), status = ctx.status()] { done(status); });
        return;
      }
      std::make_shared<Session<true>>(io_, *ctx, request, std::move(*url), std::move(done))
          ->Start();
    } else {
      std::make_shared<Session<false>>(io_, nullptr, request, std::move(*url), std::move(done))
          ->Start();
    }
  } catch (const std::exception& e) {
    // Asio throws only when it cannot allocate a socket or an SSL object.
    asio::post(io_, [done = std::move(done), what = std::string(e.what())] {
      done(Status::Error("HTTP client: " + what));
    });
  }
}

}  // namespace internal

Result<HttpResponse> HttpPost(const HttpRequest& request) {
  asio::io_context io;
  internal::HttpClient client(io);
  std::optional<Result<HttpResponse>> result;
  client.AsyncSend(request, [&result](Result<HttpResponse> r) { result.emplace(std::move(r)); });
  io.run();
  if (!result) return Status::Error("HTTP client: the request never completed");
  return std::move(*result);
}

}  // namespace weighbridge::alerting
