// The asynchronous HTTP(S) client behind the notifier. Boost.Beast is confined to
// http_client.cc; this header needs only Asio's io_context.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "weighbridge/alerting/http.h"
#include "weighbridge/core/result.h"

namespace weighbridge::alerting::internal {

// Sends requests on `io`'s thread; one connection per request (alert rates are low, and a fresh
// connection is never stale after a receiver restart). Not thread-safe: call AsyncSend from the
// io_context's thread (or before it runs). `done` runs on that thread, exactly once.
class HttpClient {
 public:
  using Done = std::function<void(Result<HttpResponse>)>;

  explicit HttpClient(boost::asio::io_context& io);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  void AsyncSend(const HttpRequest& request, Done done);

 private:
  struct TlsContexts;
  boost::asio::io_context& io_;
  std::unique_ptr<TlsContexts> tls_;  // one OpenSSL context per (verify, CA file), reused
};

}  // namespace weighbridge::alerting::internal
