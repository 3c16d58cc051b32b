// What goes on the wire: webhook requests, Alertmanager v2 alerts, outbox records, backoff.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "weighbridge/alerting/notifier.h"
#include "weighbridge/alerting/signing.h"

namespace weighbridge::alerting {

namespace {

constexpr std::int64_t kNanosPerMilli = 1000 * 1000;
constexpr std::int64_t kNanosPerSec = 1000 * kNanosPerMilli;

// RFC 3339 UTC with milliseconds, as Alertmanager's API expects.
std::string Rfc3339(std::int64_t unix_ns) {
  std::int64_t secs = unix_ns / kNanosPerSec;
  std::int64_t rem = unix_ns % kNanosPerSec;
  if (rem < 0) {
    rem += kNanosPerSec;
    --secs;
  }
  const std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(rem / kNanosPerMilli));
  return buf;
}

// weight_transfer -> WeighbridgeWeightTransfer: Prometheus' naming for alertname.
std::string AlertName(std::string_view kind) {
  std::string out = "Weighbridge";
  bool upper = true;
  for (char c : kind) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out.push_back(upper && c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c);
    upper = false;
  }
  return out;
}

nlohmann::json AlertmanagerAlert(const NotifierOptions& options, const AlertItem& item,
                                 std::int64_t starts_ns, std::int64_t ends_ns) {
  // Labels identify an alert to Alertmanager and drive its routing and grouping: only values
  // from small sets, plus alert_id, without which two concurrent transfers of one kind would
  // merge into one Alertmanager alert. Addresses go in annotations.
  nlohmann::json labels = {{"alertname", AlertName(item.kind)},
                           {"kind", item.kind},
                           {"severity", item.severity},
                           {"alert_id", item.id}};
  if (!item.tenant.empty()) labels["tenant"] = item.tenant;
  if (!options.site.empty()) labels["site"] = options.site;
  if (!options.sensor.empty()) labels["sensor"] = options.sensor;
  nlohmann::json annotations = {
      {"summary", item.summary}, {"version", std::to_string(item.version)}, {"state", item.state}};
  if (!item.inside.empty()) annotations["inside"] = item.inside;
  if (!item.external.empty()) annotations["external"] = item.external;
  return {{"labels", labels},
          {"annotations", annotations},
          {"startsAt", Rfc3339(starts_ns)},
          {"endsAt", Rfc3339(ends_ns)}};
}

}  // namespace

std::string_view ReceiverKindName(ReceiverKind k) {
  switch (k) {
    case ReceiverKind::kWebhook:
      return "webhook";
    case ReceiverKind::kAlertmanager:
      return "alertmanager";
    case ReceiverKind::kCount:
      break;
  }
  return "unknown";
}

std::string_view DeliveryResultName(DeliveryResult r) {
  switch (r) {
    case DeliveryResult::kOk:
      return "ok";
    case DeliveryResult::kRetry:
      return "retry";
    case DeliveryResult::kDead:
      return "dead";
    case DeliveryResult::kCount:
      break;
  }
  return "unknown";
}

std::chrono::milliseconds BackoffDelay(const RetryOptions& options, int failures,
                                       double uniform01) {
  const double initial =
      static_cast<double>(std::max<std::int64_t>(options.initial_backoff.count(), 1));
  const double cap =
      static_cast<double>(std::max(options.max_backoff, options.initial_backoff).count());
  const double growth = std::max(options.multiplier, 1.0);
  // pow() of a large exponent is inf, which min() caps; no overflow on long outages.
  const double nominal = std::min(cap, initial * std::pow(growth, std::max(failures, 1) - 1));
  const double u = std::clamp(uniform01, 0.0, 1.0);
  const double wait = nominal / 2 + nominal / 2 * u;
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::min(wait, cap)));
}

std::string AlertItemToJson(const AlertItem& item) {
  const nlohmann::json j = {{"id", item.id},
                            {"version", item.version},
                            {"kind", item.kind},
                            {"severity", item.severity},
                            {"state", item.state},
                            {"tenant", item.tenant},
                            {"inside", item.inside},
                            {"external", item.external},
                            {"summary", item.summary},
                            {"body", item.body_json},
                            {"starts_at_unix_ns", item.starts_at_unix_ns},
                            {"ends_at_unix_ns", item.ends_at_unix_ns}};
  return j.dump();
}

Result<AlertItem> AlertItemFromJson(std::string_view json) {
  const nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::Error("not a JSON object");
  AlertItem item;
  try {
    item.id = j.at("id").get<std::string>();
    item.version = j.at("version").get<std::uint32_t>();
    item.kind = j.at("kind").get<std::string>();
    item.severity = j.at("severity").get<std::string>();
    item.state = j.at("state").get<std::string>();
    item.tenant = j.at("tenant").get<std::string>();
    item.inside = j.at("inside").get<std::string>();
    item.external = j.at("external").get<std::string>();
    item.summary = j.at("summary").get<std::string>();
    item.body_json = j.at("body").get<std::string>();
    item.starts_at_unix_ns = j.at("starts_at_unix_ns").get<std::int64_t>();
    item.ends_at_unix_ns = j.at("ends_at_unix_ns").get<std::int64_t>();
  } catch (const nlohmann::json::exception& e) {
    return Status::Error(std::string("bad alert record: ") + e.what());
  }
  return item;
}

HttpRequest BuildWebhookRequest(const ReceiverOptions& receiver, const AlertItem& item,
                                std::int64_t now_unix_ns) {
  HttpRequest r;
  r.url = receiver.url;
  r.body = item.body_json;
  r.connect_timeout = receiver.connect_timeout;
  r.timeout = receiver.timeout;
  r.tls = receiver.tls;
  r.headers = receiver.headers;
  r.headers.emplace_back(std::string(kSignatureHeader),
                         SignatureHeaderValue(receiver.secret, now_unix_ns / kNanosPerSec, r.body));
  r.headers.emplace_back(std::string(kIdempotencyHeader),
                         item.id + ":" + std::to_string(item.version));
  r.headers.emplace_back(std::string(kSchemaHeader), std::string(kSchemaVersion));
  return r;
}

HttpRequest BuildAlertmanagerRequest(const ReceiverOptions& receiver,
                                     const NotifierOptions& options,
                                     const std::vector<AlertItem>& items,
                                     const std::vector<AlertItem>& resolved,
                                     std::int64_t now_unix_ns) {
  const std::int64_t hold_ns =
      4 * std::chrono::duration_cast<std::chrono::nanoseconds>(options.resend_interval).count();
  nlohmann::json alerts = nlohmann::json::array();
  for (const AlertItem& old : resolved) {
    const std::int64_t starts = std::min(old.starts_at_unix_ns, now_unix_ns);
    alerts.push_back(AlertmanagerAlert(options, old, starts, now_unix_ns));
  }
  for (const AlertItem& item : items) {
    // Stream time may lie ahead of the wall clock (a capture from a skewed host); Alertmanager
    // refuses endsAt before startsAt, so both are clamped to now.
    const std::int64_t starts = std::min(item.starts_at_unix_ns, now_unix_ns);
    std::int64_t ends = now_unix_ns + hold_ns;
    if (item.state == "ended") {
      const std::int64_t last = item.ends_at_unix_ns != 0 ? item.ends_at_unix_ns : now_unix_ns;
      ends = std::max(starts, std::min(last, now_unix_ns));
    }
    alerts.push_back(AlertmanagerAlert(options, item, starts, ends));
  }
  HttpRequest r;
  std::string base = receiver.url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  r.url = base + "/api/v2/alerts";
  r.body = alerts.dump();
  r.connect_timeout = receiver.connect_timeout;
  r.timeout = receiver.timeout;
  r.tls = receiver.tls;
  r.headers = receiver.headers;
  return r;
}

Status SendOnce(const ReceiverOptions& receiver, const NotifierOptions& options,
                const AlertItem& item) {
  const std::int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  const HttpRequest request = receiver.kind == ReceiverKind::kWebhook
                                  ? BuildWebhookRequest(receiver, item, now_ns)
                                  : BuildAlertmanagerRequest(receiver, options, {item}, {}, now_ns);
  Result<HttpResponse> response = HttpPost(request);
  if (!response.ok()) return response.status();
  if (response->status < 200 || response->status > 299) {
    std::string body = response->body.substr(0, 200);
    std::replace(body.begin(), body.end(), '\n', ' ');
    return Status::Error(request.url + " answered HTTP " + std::to_string(response->status) +
                         (body.empty() ? "" : ": " + body));
  }
  return Status::Ok();
}

}  // namespace weighbridge::alerting
