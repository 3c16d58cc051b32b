// The daemon's health endpoint, next to the metrics: plain HTTP on loopback (by default) for
// load balancers, systemd watchdogs and humans with curl.
//   GET /health  200 when ready and capturing, else 503; a JSON body says why
//   GET /ready   the same status, empty body
//   GET /live    200 while the process serves requests
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "weighbridge/core/ip.h"
#include "weighbridge/core/result.h"

namespace weighbridge::app {

struct HealthState {
  bool ready = false;              // every output started and every source opened
  unsigned sources = 0;            // capture sources configured
  unsigned sources_running = 0;    // ...whose capture thread is still reading
  double lag_seconds = 0;          // wall clock minus the newest packet's time (live sources)
  std::uint64_t packets = 0;       // frames read so far, all sources
  std::uint64_t dropped = 0;       // packets lost anywhere: kernel, NIC, rings
  std::string state = "starting";  // starting | running | stopping
};

class HealthServer {
 public:
  // Serves on its own thread; `probe` is called on that thread for each request.
  static Result<std::unique_ptr<HealthServer>> Start(const IpAddress& address, std::uint16_t port,
                                                     std::function<HealthState()> probe);
  ~HealthServer();
  HealthServer(const HealthServer&) = delete;
  HealthServer& operator=(const HealthServer&) = delete;
  std::uint16_t port() const;

  struct Impl;

 private:
  explicit HealthServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The /health body, exposed for tests.
std::string HealthJson(const HealthState& s);

}  // namespace weighbridge::app
