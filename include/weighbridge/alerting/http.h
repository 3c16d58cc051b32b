// A small HTTP/1.1 client for alert delivery: POST over http:// or https:// (OpenSSL, peer
// verification on by default, SNI), with a connect timeout and a whole-request deadline.
// The asynchronous client that the notifier uses is internal (Boost.Beast stays in one
// translation unit); this header offers the blocking form for one-shot sends and tests.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "weighbridge/core/result.h"

namespace weighbridge::alerting {

struct TlsOptions {
  // Off only for tests against throwaway certificates; a sensor that does not check its
  // receiver's certificate hands alerts (and their signatures) to whoever answers.
  bool verify_peer = true;
  std::string ca_file;  // PEM bundle to trust instead of the system's; "" = system default paths
};

struct HttpRequest {
  std::string url;  // http://host[:port]/path or https://...; IPv6 literals in brackets
  std::vector<std::pair<std::string, std::string>> headers;  // sent as given, after Host
  std::string body;
  std::string content_type = "application/json";
  std::chrono::milliseconds connect_timeout{5000};  // resolve + TCP connect
  std::chrono::milliseconds timeout{10000};         // the whole request, connect included
  TlsOptions tls;
};

struct HttpResponse {
  unsigned status = 0;
  std::string body;  // at most 64 KiB are kept; receivers' answers are only logged
};

// Parts of an http(s) URL.
struct ParsedUrl {
  bool tls = false;
  std::string host;    // without brackets for IPv6 literals
  std::string port;    // "80"/"443" when the URL has none
  std::string target;  // path and query, "/" when empty
};
Result<ParsedUrl> ParseUrl(const std::string& url);

// Sends one request and waits for the answer (on a private event loop). Any HTTP status is a
// response; errors are connection, TLS, timeout and protocol failures, with a message naming
// the peer and the step that failed.
Result<HttpResponse> HttpPost(const HttpRequest& request);

}  // namespace weighbridge::alerting
