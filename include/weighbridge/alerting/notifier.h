// The notifier: delivers alerts to webhooks and Alertmanager at least once, through receiver
// outages and restarts.
//
// Every delivery (one alert version to one receiver) is written to the OutboxStore before it is
// attempted, erased when the receiver accepted it, and moved to a dead-letter key when it is
// rejected for good or older than RetryOptions::max_age. On start the notifier reloads what is
// pending, so a restart resumes. Each receiver has its own queue and connection, all driven by
// one event-loop thread with asynchronous I/O: a slow or dead receiver delays no other.
//
// alerting/ knows nothing of app/: items arrive with their body already serialized.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "weighbridge/alerting/http.h"
#include "weighbridge/alerting/outbox.h"
#include "weighbridge/core/result.h"

namespace weighbridge::alerting {

enum class ReceiverKind : std::uint8_t { kWebhook, kAlertmanager, kCount };
std::string_view ReceiverKindName(ReceiverKind k);  // "webhook", "alertmanager"

// How one delivery attempt ended. kRetry: failed, will be tried again; kDead: given up.
enum class DeliveryResult : std::uint8_t { kOk, kRetry, kDead, kCount };
std::string_view DeliveryResultName(DeliveryResult r);  // "ok", "retry", "dead"

struct ReceiverOptions {
  ReceiverKind kind = ReceiverKind::kWebhook;
  // Unique among receivers; names the receiver in logs and in outbox keys, so it must stay the
  // same across restarts for pending deliveries to resume.
  std::string name;
  std::string url;     // webhook: the URL posted to; alertmanager: base URL (+ /api/v2/alerts)
  std::string secret;  // webhook: the HMAC key (the bytes read from secret_file / secret_env)
  std::vector<std::pair<std::string, std::string>> headers;  // extra request headers
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds timeout{10000};  // one attempt, connect included
  TlsOptions tls;
};

struct RetryOptions {
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{5 * 60 * 1000};
  double multiplier = 2.0;
  // A delivery still failing this long after it was written is dead-lettered.
  std::chrono::milliseconds max_age{24 * 60 * 60 * 1000};
};

// The wait before retry number `failures` (1 = after the first failure): exponential,
// initial * multiplier^(failures-1) capped at max_backoff, then "equal jitter": half of it fixed
// and half scaled by `uniform01` in [0, 1), so that many sensors restarted together do not retry
// in lockstep, yet no retry comes sooner than half the nominal wait.
std::chrono::milliseconds BackoffDelay(const RetryOptions& options, int failures, double uniform01);

struct NotifierOptions {
  std::vector<ReceiverOptions> receivers;
  RetryOptions retry;
  // Alertmanager forgets an alert whose endsAt has passed: active alerts are sent again this
  // often, each time with endsAt = now + 4 intervals (as Prometheus does).
  std::chrono::milliseconds resend_interval{60 * 1000};
  std::string site;    // Alertmanager label `site`; "" = no label
  std::string sensor;  // Alertmanager label `sensor`; "" = no label
  // Where the notifier's log lines go (one line each, no newline). Default: standard error.
  std::function<void(const std::string&)> log;
};

// One version of one alert, as the notifier needs it. All strings are bounded, plain text.
struct AlertItem {
  std::string id;             // 16 lowercase hex digits (analytics::AlertIdString)
  std::uint32_t version = 1;  // with id, the Idempotency-Key "<id>:<version>"
  std::string kind;           // weight_transfer, dataset_ingest, staging_ingest, train_and_return
  std::string severity;       // info, warning, critical
  std::string state;          // active, ended
  std::string tenant;         // "" none
  std::string inside;         // inside host or prefix, "" none
  std::string external;       // external peer group
  std::string summary;        // one line for people (Alertmanager annotation `summary`)
  std::string body_json;      // the webhook body, exactly as posted and signed
  std::int64_t starts_at_unix_ns = 0;  // first_seen
  std::int64_t ends_at_unix_ns = 0;    // last_seen of an ended alert; 0 while active
};

std::string AlertItemToJson(const AlertItem& item);
Result<AlertItem> AlertItemFromJson(std::string_view json);

// What went where, for metrics. Counters only grow.
struct ReceiverStats {
  std::string name;
  ReceiverKind kind = ReceiverKind::kWebhook;
  std::array<std::uint64_t, static_cast<std::size_t>(DeliveryResult::kCount)> attempts{};
  std::uint64_t queue_depth = 0;          // deliveries pending (written, not yet accepted)
  double oldest_pending_age_seconds = 0;  // since the oldest pending delivery was written
  std::string last_error;                 // of the latest failed attempt, "" none
};
struct NotifierStats {
  // attempts[kind][result]: delivery attempts by receiver kind and how each ended
  std::array<std::array<std::uint64_t, static_cast<std::size_t>(DeliveryResult::kCount)>,
             static_cast<std::size_t>(ReceiverKind::kCount)>
      attempts{};
  std::uint64_t queue_depth = 0;
  double oldest_pending_age_seconds = 0;
  std::vector<ReceiverStats> receivers;
};

struct DeliveryCounts {
  std::uint64_t delivered = 0;  // deliveries accepted since start
  std::uint64_t pending = 0;    // written to the outbox, not yet accepted nor dead
  std::uint64_t dead = 0;       // dead-lettered since start
};

// Thread-safe: Enqueue, WaitIdle and stats may be called from any thread.
class Notifier {
 public:
  // Reloads the outbox's pending deliveries and starts the delivery thread. `store` is not owned
  // and must outlive the notifier. Fails on bad options (names, URLs) or when the outbox cannot
  // be read.
  static Result<std::unique_ptr<Notifier>> Start(NotifierOptions options, OutboxStore* store);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Writes one delivery record per receiver, then queues them. When this returns ok the alert
  // survives a restart (as far as the store is durable).
  Status Enqueue(const AlertItem& item);

  // Waits until no delivery is pending (or in flight), or the timeout passes.
  DeliveryCounts WaitIdle(std::chrono::milliseconds timeout);
  DeliveryCounts counts() const;
  NotifierStats stats() const;

  // Stops the delivery thread. Pending deliveries stay in the outbox for the next start.
  void Stop();

  class Impl;

 private:
  explicit Notifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The request a delivery of `items` to `receiver` makes at `now_unix_ns`: for a webhook one
// item, its body, signature and Idempotency-Key; for Alertmanager a JSON array of v2 alerts.
// Exposed for tests and `alerts test`.
HttpRequest BuildWebhookRequest(const ReceiverOptions& receiver, const AlertItem& item,
                                std::int64_t now_unix_ns);
// `active` are items the receiver has not seen end, sent again so Alertmanager keeps them;
// `resolved` are label sets to resolve now (an alert whose severity changed keeps its id but
// gets new labels, so its previous series is ended explicitly).
HttpRequest BuildAlertmanagerRequest(const ReceiverOptions& receiver,
                                     const NotifierOptions& options,
                                     const std::vector<AlertItem>& items,
                                     const std::vector<AlertItem>& resolved,
                                     std::int64_t now_unix_ns);

// One attempt, blocking, outside any queue: for `weighbridge alerts test`. Ok when the receiver
// answered 2xx; otherwise the error says what happened (status and the start of the answer).
Status SendOnce(const ReceiverOptions& receiver, const NotifierOptions& options,
                const AlertItem& item);

}  // namespace weighbridge::alerting
