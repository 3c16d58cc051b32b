#include "delivery.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "flow_output.h"

#if defined(WB_HAVE_STORE)
#include "weighbridge/store/history.h"
#endif

namespace weighbridge::app {

namespace {

std::chrono::milliseconds Millis(std::int64_t ns) {
  return std::chrono::milliseconds(std::max<std::int64_t>(ns / 1'000'000, 1));
}

Result<std::string> ReadSecret(const WebhookConfig& w) {
  std::string secret;
  std::string where;
  if (!w.secret_file.empty()) {
    where = "secret_file " + w.secret_file;
    std::ifstream in(w.secret_file, std::ios::binary);
    if (!in) {
      return Status::Error("webhook " + w.name + ": cannot read " + where + ": " +
                           std::strerror(errno));
    }
    std::ostringstream text;
    text << in.rdbuf();
    secret = text.str();
    // Files written by `echo` or an editor end in a newline that is not part of the secret.
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  } else if (!w.secret_env.empty()) {
    where = "secret_env " + w.secret_env;
    const char* value =
        std::getenv(w.secret_env.c_str());  // NOLINT(concurrency-mt-unsafe): start-up
    if (value == nullptr) {
      return Status::Error("webhook " + w.name + ": " + where +
                           ": the environment variable is not set");
    }
    secret = value;
  } else {
    return Status::Error("webhook " + w.name + ": no secret_file or secret_env");
  }
  if (secret.empty()) return Status::Error("webhook " + w.name + ": " + where + " is empty");
  return secret;
}

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "";
  return buf;
}

#if defined(WB_HAVE_STORE)
// The history store's outbox column, as the notifier's OutboxStore.
class HistoryOutbox : public alerting::OutboxStore {
 public:
  explicit HistoryOutbox(store::History* history) : history_(history) {}
  Status Put(std::string_view key, std::string_view value) override {
    return history_->OutboxPut(key, value);
  }
  Status Erase(std::string_view key) override { return history_->OutboxErase(key); }
  Result<std::vector<std::pair<std::string, std::string>>> LoadAll() override {
    return history_->OutboxLoad();
  }

 private:
  store::History* history_;
};
#endif

}  // namespace

Result<alerting::NotifierOptions> NotifierOptionsFrom(const Config& config,
                                                      const DeliveryTuning& tuning) {
  alerting::NotifierOptions options;
  // The config's settings, unless a caller (a test) tunes them.
  const DeliveryTuning untuned;
  const alerting::RetryOptions& dr = untuned.retry;
  const bool retry_tuned = tuning.retry.initial_backoff != dr.initial_backoff ||
                           tuning.retry.max_backoff != dr.max_backoff ||
                           tuning.retry.max_age != dr.max_age ||
                           tuning.retry.multiplier != dr.multiplier;
  options.retry = tuning.retry;
  if (!retry_tuned) {
    options.retry.initial_backoff = Millis(config.alerts.retry.initial_backoff_ns);
    options.retry.max_backoff = Millis(config.alerts.retry.max_backoff_ns);
    options.retry.max_age = Millis(config.alerts.retry.max_age_ns);
  }
  options.resend_interval = tuning.resend_interval != untuned.resend_interval
                                ? tuning.resend_interval
                                : Millis(config.alerts.alertmanager_resend_ns);
  options.site = !tuning.site.empty() ? tuning.site : config.alerts.site;
  options.sensor = !tuning.sensor.empty()          ? tuning.sensor
                   : !config.alerts.sensor.empty() ? config.alerts.sensor
                                                   : HostName();
  for (const WebhookConfig& w : config.alerts.webhooks) {
    Result<std::string> secret = ReadSecret(w);
    if (!secret.ok()) return secret.status();
    alerting::ReceiverOptions r;
    r.kind = alerting::ReceiverKind::kWebhook;
    r.name = w.name;
    r.url = w.url;
    r.secret = std::move(*secret);
    r.headers.assign(w.headers.begin(), w.headers.end());
    r.timeout = Millis(w.timeout_ns);
    r.connect_timeout = std::min(r.timeout, std::chrono::milliseconds(5000));
    r.tls.ca_file = w.ca_file;
    options.receivers.push_back(std::move(r));
  }
  for (const AlertmanagerConfig& a : config.alerts.alertmanager) {
    alerting::ReceiverOptions r;
    r.kind = alerting::ReceiverKind::kAlertmanager;
    // The name keys this receiver's pending deliveries in the outbox: the URL keeps it stable
    // when the list is reordered.
    r.name = "alertmanager " + a.url;
    r.url = a.url;
    r.timeout = Millis(a.timeout_ns);
    r.connect_timeout = std::min(r.timeout, std::chrono::milliseconds(5000));
    r.tls.ca_file = a.ca_file;
    options.receivers.push_back(std::move(r));
  }
  return options;
}

alerting::AlertItem AlertItemFrom(const analytics::Alert& a) {
  alerting::AlertItem item;
  item.id = analytics::AlertIdString(a.id);
  item.version = a.version;
  item.kind = std::string(analytics::AlertKindName(a.kind));
  item.severity = std::string(analytics::AlertSeverityName(a.severity));
  item.state = std::string(analytics::AlertStateName(a.state));
  item.tenant = a.tenant;
  item.inside = a.has_inside ? HostOrPrefix(a.inside) : "";
  item.external = a.external.ToString();
  item.body_json = AlertJson(a);
  item.starts_at_unix_ns = a.first_seen.ns;
  item.ends_at_unix_ns = a.state == analytics::AlertState::kEnded ? a.last_seen.ns : 0;
  std::string summary = item.kind + " " + item.state + ": " +
                        (item.inside.empty() ? std::string("site") : item.inside) +
                        (a.direction == capture::Direction::kInbound ? " <- " : " -> ") +
                        item.external;
  if (!a.external_name.empty()) summary += " (" + a.external_name + ")";
  summary += ", " + std::to_string(a.payload_bytes) + " payload bytes";
  if (a.sampling.sampled() && a.payload_bytes > 0) {
    char err[64];
    std::snprintf(err, sizeof err, " (sampled: +/-%.2g%% at one standard error)",
                  100.0 * a.sampling.PayloadStddev() / static_cast<double>(a.payload_bytes));
    summary += err;
  }
  if (a.model_match) summary += ", matches " + a.model_match->name + " " + a.model_match->dtype;
  for (std::size_t i = 0; i < a.model_alternatives.size(); ++i) {
    const analytics::ModelMatch& m = a.model_alternatives[i];
    summary += (i == 0 ? " (or " : ", ") + m.name + " " + m.dtype;
    if (i + 1 == a.model_alternatives.size()) summary += ")";
  }
  item.summary = std::move(summary);
  return item;
}

Result<std::unique_ptr<AlertDelivery>> AlertDelivery::Start(const Config& config,
                                                            store::History* history,
                                                            const DeliveryTuning& tuning) {
  if (history == nullptr) {
    return StartWithOutbox(config, std::make_unique<alerting::MemoryOutboxStore>(), tuning);
  }
#if defined(WB_HAVE_STORE)
  return StartWithOutbox(config, std::make_unique<HistoryOutbox>(history), tuning);
#else
  return Status::Error("this build has no history store for the alert outbox");
#endif
}

Result<std::unique_ptr<AlertDelivery>> AlertDelivery::StartWithOutbox(
    const Config& config, std::unique_ptr<alerting::OutboxStore> outbox,
    const DeliveryTuning& tuning) {
  Result<alerting::NotifierOptions> options = NotifierOptionsFrom(config, tuning);
  if (!options.ok()) return options.status();
  std::unique_ptr<AlertDelivery> d(new AlertDelivery());
  d->outbox_ = std::move(outbox);
  Result<std::unique_ptr<alerting::Notifier>> notifier =
      alerting::Notifier::Start(std::move(*options), d->outbox_.get());
  if (!notifier.ok()) return notifier.status();
  d->notifier_ = std::move(*notifier);
  return d;
}

AlertDelivery::~AlertDelivery() {
  Stop();
}

void AlertDelivery::OnAlert(const analytics::Alert& alert) {
  Status s = notifier_->Enqueue(AlertItemFrom(alert));
  if (!s.ok()) {
    ++enqueue_errors_;
    std::fprintf(stderr, "weighbridge: alerting: alert %s:%u not queued: %s\n",
                 analytics::AlertIdString(alert.id).c_str(), alert.version, s.message().c_str());
  }
}

DeliveryReport AlertDelivery::WaitIdle(std::chrono::milliseconds timeout) {
  const alerting::DeliveryCounts c = notifier_->WaitIdle(timeout);
  return {c.delivered, c.pending, c.dead};
}

void AlertDelivery::Stop() {
  if (notifier_) notifier_->Stop();
}

alerting::NotifierStats AlertDelivery::stats() const {
  return notifier_->stats();
}

}  // namespace weighbridge::app
