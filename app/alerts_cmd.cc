#include "alerts_cmd.h"

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <variant>

#include "args.h"
#include "commands.h"
#include "config.h"
#include "delivery.h"
#include "flow_output.h"
#include "weighbridge/alerting/notifier.h"

namespace weighbridge::app {

namespace {

constexpr const char* kAlertsUsage = R"(usage: weighbridge alerts test --config FILE

Sends one test alert to each receiver in the config's alerts section (webhooks and
Alertmanager) and prints one line per receiver with the result. Webhooks get the usual
signature and Idempotency-Key; the test alert has kind "test" and severity "info", so that
receivers and Alertmanager routes can tell it apart. HTTPS receivers are verified against the
system's CA certificates (or the PEM bundle named by SSL_CERT_FILE).

options:
  --config FILE   the configuration (required)

exit codes: 0 every receiver accepted the alert; 1 at least one did not (or its secret could
not be read); 2 bad usage, bad config, or no receivers configured.
)";

int Usage(const std::string& error) {
  std::fprintf(stderr, "weighbridge alerts: %s\n\n%s", error.c_str(), kAlertsUsage);
  return kExitUsage;
}

alerting::AlertItem TestItem() {
  std::random_device rd;
  const std::uint64_t id = (std::uint64_t{rd()} << 32) | rd();
  const std::int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  alerting::AlertItem item;
  item.id = analytics::AlertIdString(id);
  item.version = 1;
  item.kind = "test";
  item.severity = "info";
  item.state = "active";
  item.summary = "weighbridge test alert (weighbridge alerts test)";
  item.starts_at_unix_ns = now_ns;
  nlohmann::ordered_json j;
  j["id"] = item.id;
  j["version"] = 1;
  j["state"] = "active";
  j["kind"] = "test";
  j["severity"] = "info";
  j["first_seen"] = FormatStreamTime(StreamTime{now_ns});
  j["last_seen"] = j["first_seen"];
  j["test"] = true;
  item.body_json = j.dump();
  return item;
}

int TestCommand(std::span<const std::string_view> argv) {
  Args args(argv, {"--config"}, {"--help"});
  if (args.Has("--help")) {
    std::fputs(kAlertsUsage, stdout);
    return kExitOk;
  }
  if (!args.error().empty()) return Usage(args.error());
  if (!args.positionals().empty()) return Usage("unexpected argument " + args.positionals()[0]);
  const auto path = args.Value("--config");
  if (!path) return Usage("alerts test needs --config FILE");
  auto loaded = LoadConfigFile(*path);
  if (auto* errors = std::get_if<ConfigErrors>(&loaded)) {
    for (const std::string& line : errors->lines) std::fprintf(stderr, "%s\n", line.c_str());
    return kExitUsage;
  }
  const Config& config = std::get<Config>(loaded);
  if (config.alerts.webhooks.empty() && config.alerts.alertmanager.empty()) {
    std::fprintf(stderr, "weighbridge alerts: %s configures no webhooks and no alertmanager\n",
                 path->c_str());
    return kExitUsage;
  }
  const alerting::AlertItem item = TestItem();
  int failed = 0;
  // Secrets are read one webhook at a time so that one missing secret does not hide the
  // results of the other receivers.
  for (const WebhookConfig& w : config.alerts.webhooks) {
    Config one;
    one.alerts.webhooks.push_back(w);
    Result<alerting::NotifierOptions> options = NotifierOptionsFrom(one);
    const std::string label = "webhook " + w.name + " (" + w.url + ")";
    if (!options.ok()) {
      // The error names the webhook already; the line's label does too.
      std::string why = options.error();
      if (why.starts_with("webhook " + w.name + ": ")) why.erase(0, w.name.size() + 10);
      std::printf("%s: FAILED: %s\n", label.c_str(), why.c_str());
      ++failed;
      continue;
    }
    const auto start = std::chrono::steady_clock::now();
    Status s = alerting::SendOnce(options->receivers.front(), *options, item);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    if (s.ok()) {
      std::printf("%s: ok (%lld ms)\n", label.c_str(), static_cast<long long>(ms));
    } else {
      std::printf("%s: FAILED: %s\n", label.c_str(), s.message().c_str());
      ++failed;
    }
    std::fflush(stdout);
  }
  for (const AlertmanagerConfig& a : config.alerts.alertmanager) {
    Config one;
    one.alerts.alertmanager.push_back(a);
    Result<alerting::NotifierOptions> options = NotifierOptionsFrom(one);
    const std::string label = "alertmanager " + a.url;
    const auto start = std::chrono::steady_clock::now();
    Status s = options.ok() ? alerting::SendOnce(options->receivers.front(), *options, item)
                            : options.status();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    if (s.ok()) {
      std::printf("%s: ok (%lld ms)\n", label.c_str(), static_cast<long long>(ms));
    } else {
      std::printf("%s: FAILED: %s\n", label.c_str(), s.message().c_str());
      ++failed;
    }
    std::fflush(stdout);
  }
  return failed == 0 ? kExitOk : kExitFailure;
}

}  // namespace

int AlertsCommand(std::vector<std::string_view> args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::fputs(kAlertsUsage, args.empty() ? stderr : stdout);
    return args.empty() ? kExitUsage : kExitOk;
  }
  if (args[0] == "test") {
    return TestCommand(std::span<const std::string_view>(args).subspan(1));
  }
  return Usage("unknown alerts command '" + std::string(args[0]) + "' (try: alerts test)");
}

}  // namespace weighbridge::app
