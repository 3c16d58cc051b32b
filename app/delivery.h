// Alert delivery wired into the sensor: each alert version the detectors raise goes through the
// outbox to every configured webhook and Alertmanager (alerting::Notifier), at least once.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "config.h"
#include "weighbridge/alerting/notifier.h"
#include "weighbridge/alerting/outbox.h"
#include "weighbridge/analytics/alert.h"
#include "weighbridge/core/result.h"

namespace weighbridge::store {
class History;
}  // namespace weighbridge::store

namespace weighbridge::app {

struct DeliveryReport {
  std::uint64_t delivered = 0;  // accepted by a receiver since start (per alert version x receiver)
  std::uint64_t pending = 0;    // in the outbox, not yet accepted
  std::uint64_t dead = 0;       // given up (dead-lettered) since start
};

// Settings that have no config key yet (docs/alerting.md lists the keys asked for); the
// defaults are what the sensor uses. Tests shorten them.
struct DeliveryTuning {
  alerting::RetryOptions retry;
  std::chrono::milliseconds resend_interval{60 * 1000};
  std::string site;    // Alertmanager label `site`; "" = none
  std::string sensor;  // Alertmanager label `sensor`; "" = this host's name
};

// The receivers of `config.alerts`, with each webhook's secret read from its secret_file or
// secret_env. Errors name the webhook and where the secret was looked for.
Result<alerting::NotifierOptions> NotifierOptionsFrom(const Config& config,
                                                      const DeliveryTuning& tuning = {});

// The notifier's view of one alert version; the body is AlertJson(alert).
alerting::AlertItem AlertItemFrom(const analytics::Alert& alert);

// Owns the notifier and its outbox. OnAlert is called on the detector thread; the other
// members from any thread.
class AlertDelivery : public analytics::AlertSink {
 public:
  // The outbox is the history store's when `history` is given (pending deliveries survive a
  // restart), otherwise in memory (they survive receiver outages only). `history` is not owned
  // and must outlive this object.
  static Result<std::unique_ptr<AlertDelivery>> Start(const Config& config, store::History* history,
                                                      const DeliveryTuning& tuning = {});
  // The same with a given outbox (tests and test drivers).
  static Result<std::unique_ptr<AlertDelivery>> StartWithOutbox(
      const Config& config, std::unique_ptr<alerting::OutboxStore> outbox,
      const DeliveryTuning& tuning = {});
  ~AlertDelivery() override;

  // Returns once the alert is in the outbox for every receiver. A failed outbox write is logged
  // and counted (enqueue_errors); the AlertSink interface has no way to report it.
  void OnAlert(const analytics::Alert& alert) override;

  // Waits (bounded) until nothing is pending. What is still pending stays in the outbox.
  DeliveryReport WaitIdle(std::chrono::milliseconds timeout);
  void Stop();
  alerting::NotifierStats stats() const;
  std::uint64_t enqueue_errors() const { return enqueue_errors_.load(); }

 private:
  AlertDelivery() = default;
  std::unique_ptr<alerting::OutboxStore> outbox_;
  std::unique_ptr<alerting::Notifier> notifier_;  // after outbox_: stopped before it goes
  std::atomic<std::uint64_t> enqueue_errors_ = 0;
};

}  // namespace weighbridge::app
