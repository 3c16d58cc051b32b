// A test driver for the metrics end-to-end test (tests/integration/telemetry_prometheus.py): it
// replays a capture with app::RunReplay (shards, merger, sessionizer, detectors), paced in stream
// time, with telemetry::Metrics attached through app/telemetry_bridge, and serves /metrics while
// it runs and for a while after: what `weighbridge replay --speed N --metrics LISTEN --linger D`
// does, for as long as the binary lacks that option.
//
//   telemetry_driver CAPTURE --config FILE --listen ADDR [--speed X] [--linger SECONDS]
//                    [--top-window SECONDS] [--port-file FILE]
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <string>
#include <thread>
#include <variant>

#include "commands.h"
#include "config.h"
#include "detect_setup.h"
#include "replay.h"
#include "telemetry_bridge.h"
#include "weighbridge/analytics/detectors.h"
#include "weighbridge/capture/pcap_source.h"
#include "weighbridge/capture/site.h"
#include "weighbridge/telemetry/metrics.h"

namespace {

using namespace weighbridge;  // NOLINT(google-build-using-namespace): a test driver

std::atomic<bool> g_stop{false};
extern "C" void OnSignal(int /*signo*/) {
  g_stop.store(true);
}

int Fail(const std::string& why) {
  std::fprintf(stderr, "telemetry_driver: %s\n", why.c_str());
  return 2;
}

int Main(int argc, char** argv) {
  std::string capture_path;
  std::string config_path;
  std::string listen = "127.0.0.1:0";
  std::string port_file;
  double speed = 0;
  double linger_s = 0;
  double top_window_s = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--config" && has_value) {
      config_path = argv[++i];
    } else if (a == "--listen" && has_value) {
      listen = argv[++i];
    } else if (a == "--port-file" && has_value) {
      port_file = argv[++i];
    } else if (a == "--speed" && has_value) {
      speed = std::strtod(argv[++i], nullptr);
    } else if (a == "--linger" && has_value) {
      linger_s = std::strtod(argv[++i], nullptr);
    } else if (a == "--top-window" && has_value) {
      top_window_s = std::strtod(argv[++i], nullptr);
    } else if (capture_path.empty() && !a.starts_with("--")) {
      capture_path = a;
    } else {
      return Fail("bad argument " + a);
    }
  }
  if (capture_path.empty() || config_path.empty()) return Fail("need CAPTURE and --config");
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);

  auto loaded = app::LoadConfigFile(config_path);
  if (auto* errors = std::get_if<app::ConfigErrors>(&loaded)) {
    for (const std::string& l : errors->lines) std::fprintf(stderr, "%s\n", l.c_str());
    return 2;
  }
  const app::Config config = std::get<app::Config>(loaded);
  auto catalog = app::LoadCatalogFor(config, config_path);
  if (!catalog.ok()) return Fail(catalog.error());
  const capture::SiteClassifier site(config.site);
  analytics::PipelineOptions pipeline_options = config.pipeline;
  pipeline_options.site = &site;
  const analytics::DetectOptions detect = app::DetectOptionsFrom(config);

  auto pcap = capture::OpenPcapFile(capture_path, config.decode, nullptr);
  if (!pcap.ok()) return Fail(pcap.error());

  telemetry::MetricsOptions metrics_options = app::MetricsOptionsFrom(config, app::kVersion);
  if (top_window_s > 0) {
    metrics_options.top_window_ns = static_cast<std::int64_t>(top_window_s * 1e9);
  }
  telemetry::Metrics metrics(metrics_options);
  app::MeteredSource source(pcap->get(), &metrics);
  app::ReplayOptions options;
  options.pipeline = pipeline_options;
  options.sessionizer = app::SessionizerOptionsFrom(config);
  options.detect = detect;
  options.catalog = &*catalog;
  options.keep_flows = false;
  options.keep_transfers = false;
  options.speed = speed;
  app::ReplayTelemetry bridge(&metrics, detect, pipeline_options, &source);
  bridge.Attach(&options);
  if (Status s = metrics.Serve(listen); !s.ok()) return Fail(s.message());
  if (!port_file.empty()) {
    const std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << metrics.port() << "\n";
    std::rename(tmp.c_str(), port_file.c_str());
  }
  std::fprintf(stderr, "telemetry_driver: serving on port %d\n", metrics.port());

  const app::ReplayResult result = app::RunReplay(source, options, g_stop);
  const int rc = result.summary.input_error && !result.interrupted ? 1 : 0;
  std::fprintf(stderr, "telemetry_driver: replay done, lingering %.1f s\n", linger_s);
  const auto until = std::chrono::steady_clock::now() +
                     std::chrono::milliseconds(static_cast<std::int64_t>(linger_s * 1000));
  while (!g_stop.load() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    return Fail(std::string("unexpected exception: ") + e.what());
  }
}
