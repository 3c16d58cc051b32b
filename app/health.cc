#include "health.h"

// Asio's scheduler trips GCC 12's flow-based -Wnull-dereference in code it inlines into ours;
// the diagnostic is located in Asio's headers, so it is silenced for them only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio.hpp>
#pragma GCC diagnostic pop

#include <nlohmann/json.hpp>
#include <thread>

namespace weighbridge::app {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr std::size_t kMaxRequestBytes = 8192;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const std::function<HealthState()>& probe)
      : socket_(std::move(socket)), buf_(kMaxRequestBytes), probe_(probe) {}

  void Start() {
    auto self = shared_from_this();
    asio::async_read_until(socket_, buf_, "\r\n\r\n",
                           [self](boost::system::error_code ec, std::size_t) {
                             if (!ec) self->Respond();
                           });
  }

 private:
  void Respond() {
    std::istream in(&buf_);
    std::string method;
    std::string target;
    in >> method >> target;
    int status = 404;
    std::string body = "{\"error\":\"not found: try /health, /ready or /live\"}\n";
    if (method != "GET" && method != "HEAD") {
      status = 405;
      body = "{\"error\":\"only GET\"}\n";
    } else if (target == "/live") {
      status = 200;
      body = "{\"live\":true}\n";
    } else if (target == "/health" || target == "/ready") {
      const HealthState s = probe_();
      status = s.ready && s.sources_running > 0 ? 200 : 503;
      body = target == "/ready" ? std::string() : HealthJson(s) + "\n";
    }
    if (method == "HEAD") body.clear();
    const char* reason = status == 200   ? "OK"
                         : status == 503 ? "Service Unavailable"
                         : status == 405 ? "Method Not Allowed"
                                         : "Not Found";
    out_ = "HTTP/1.1 " + std::to_string(status) + " " + reason +
           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\nConnection: close\r\n\r\n" + body;
    auto self = shared_from_this();
    asio::async_write(socket_, asio::buffer(out_), [self](boost::system::error_code, std::size_t) {
      boost::system::error_code ignored;
      self->socket_.shutdown(tcp::socket::shutdown_both, ignored);
    });
  }

  tcp::socket socket_;
  asio::streambuf buf_;
  std::string out_;
  const std::function<HealthState()>& probe_;
};

}  // namespace

struct HealthServer::Impl {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::function<HealthState()> probe;
  std::thread thread;

  void Accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) return;  // closed: shutting down
      std::make_shared<Session>(std::move(socket), probe)->Start();
      Accept();
    });
  }
};

std::string HealthJson(const HealthState& s) {
  nlohmann::json j;
  j["status"] = s.ready && s.sources_running > 0 ? "ok" : "unavailable";
  j["state"] = s.state;
  j["ready"] = s.ready;
  j["sources"] = s.sources;
  j["sources_running"] = s.sources_running;
  j["lag_seconds"] = s.lag_seconds;
  j["packets"] = s.packets;
  j["dropped"] = s.dropped;
  return j.dump();
}

Result<std::unique_ptr<HealthServer>> HealthServer::Start(const IpAddress& address,
                                                          std::uint16_t port,
                                                          std::function<HealthState()> probe) {
  auto impl = std::make_unique<Impl>();
  impl->probe = std::move(probe);
  boost::system::error_code ec;
  const asio::ip::address ip =
      asio::ip::make_address(address.ToString(), ec);  // v4-mapped addresses print as v4
  if (ec) return Status::Error("health: bad address " + address.ToString());
  const tcp::endpoint ep(ip, port);
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Error("health: cannot listen on " + address.ToString() + ":" +
                         std::to_string(port) + ": " + ec.message());
  }
  impl->Accept();
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] {
    pthread_setname_np(pthread_self(), "wb-health");
    raw->io.run();
  });
  return std::unique_ptr<HealthServer>(new HealthServer(std::move(impl)));
}

HealthServer::HealthServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HealthServer::~HealthServer() {
  asio::post(impl_->io, [this] {
    boost::system::error_code ignored;
    impl_->acceptor.close(ignored);
  });
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::uint16_t HealthServer::port() const {
  boost::system::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

}  // namespace weighbridge::app
