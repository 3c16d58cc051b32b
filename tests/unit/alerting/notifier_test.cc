#include "weighbridge/alerting/notifier.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "test_server.h"
#include "weighbridge/alerting/signing.h"

namespace weighbridge::alerting {
namespace {

using std::chrono::milliseconds;
using testing::ClosedPort;
using testing::Request;
using testing::TestServer;

AlertItem Item(const std::string& id, std::uint32_t version, const std::string& state = "active",
               const std::string& severity = "warning") {
  AlertItem item;
  item.id = id;
  item.version = version;
  item.kind = "weight_transfer";
  item.severity = severity;
  item.state = state;
  item.tenant = "research";
  item.inside = "10.30.1.5";
  item.external = "203.0.113.0/24";
  item.summary = "test";
  item.body_json = R"({"id":")" + id + R"(","version":)" + std::to_string(version) + "}";
  item.starts_at_unix_ns = 1'700'000'000'000'000'000;
  item.ends_at_unix_ns = state == "ended" ? 1'700'000'100'000'000'000 : 0;
  return item;
}

ReceiverOptions Webhook(const std::string& name, const std::string& url) {
  ReceiverOptions r;
  r.kind = ReceiverKind::kWebhook;
  r.name = name;
  r.url = url;
  r.secret = "topsecret";
  r.timeout = milliseconds(2000);
  r.connect_timeout = milliseconds(1000);
  return r;
}

NotifierOptions Fast(std::vector<ReceiverOptions> receivers) {
  NotifierOptions o;
  o.receivers = std::move(receivers);
  o.retry.initial_backoff = milliseconds(20);
  o.retry.max_backoff = milliseconds(100);
  o.log = [](const std::string&) {};
  return o;
}

std::size_t CountPrefix(MemoryOutboxStore& store, const std::string& prefix) {
  std::size_t n = 0;
  const auto all = store.LoadAll();
  for (const auto& [k, v] : all.value()) n += k.rfind(prefix, 0) == 0 ? 1 : 0;
  return n;
}

TEST(Notifier, WebhookCarriesSignatureIdempotencyKeyAndSchema) {
  TestServer server([](const Request&, int) { return 200; });
  MemoryOutboxStore store;
  auto n = Notifier::Start(Fast({Webhook("hook", server.url())}), &store);
  ASSERT_TRUE(n.ok()) << n.error();
  const AlertItem item = Item("00000000000000a1", 3);
  ASSERT_TRUE((*n)->Enqueue(item).ok());
  const DeliveryCounts c = (*n)->WaitIdle(milliseconds(5000));
  EXPECT_EQ(c.delivered, 1u);
  EXPECT_EQ(c.pending, 0u);
  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  const Request& r = reqs[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/hook");
  EXPECT_EQ(r.body, item.body_json);
  EXPECT_EQ(r.headers.at("idempotency-key"), "00000000000000a1:3");
  EXPECT_EQ(r.headers.at("content-type"), "application/json");
  EXPECT_EQ(r.headers.at("x-weighbridge-schema-version"), "1");
  const std::string sig = r.headers.at("x-weighbridge-signature");
  ASSERT_EQ(sig.rfind("t=", 0), 0u);
  const std::string t = sig.substr(2, sig.find(',') - 2);
  EXPECT_EQ(sig.substr(sig.find(",v1=") + 4), HmacSha256Hex("topsecret", t + "." + r.body));
  EXPECT_EQ(store.size(), 0u);  // delivered records leave the outbox
}

TEST(Notifier, OutboxHoldsPendingDeliveriesAndARestartResumesThem) {
  MemoryOutboxStore store;
  const std::string dead_url = "http://127.0.0.1:" + std::to_string(ClosedPort()) + "/hook";
  {
    auto n = Notifier::Start(Fast({Webhook("hook", dead_url)}), &store);
    ASSERT_TRUE(n.ok()) << n.error();
    for (int i = 1; i <= 3; ++i)
      ASSERT_TRUE((*n)->Enqueue(Item("00000000000000b" + std::to_string(i), 1)).ok());
    // Durable before Enqueue returned, whatever the delivery thread is doing.
    EXPECT_EQ(CountPrefix(store, "d/hook/"), 3u);
    const DeliveryCounts c = (*n)->WaitIdle(milliseconds(300));
    EXPECT_EQ(c.delivered, 0u);
    EXPECT_EQ(c.pending, 3u);
    EXPECT_GT((*n)->stats().attempts[0][static_cast<int>(DeliveryResult::kRetry)], 0u);
    (*n)->Stop();
  }
  EXPECT_EQ(CountPrefix(store, "d/hook/"), 3u);
  TestServer server([](const Request&, int) { return 204; });
  auto n = Notifier::Start(Fast({Webhook("hook", server.url())}), &store);
  ASSERT_TRUE(n.ok()) << n.error();
  const DeliveryCounts c = (*n)->WaitIdle(milliseconds(5000));
  EXPECT_EQ(c.delivered, 3u);
  EXPECT_EQ(c.pending, 0u);
  std::vector<std::string> keys;
  for (const Request& r : server.requests()) keys.push_back(r.headers.at("idempotency-key"));
  EXPECT_EQ(keys, (std::vector<std::string>{"00000000000000b1:1", "00000000000000b2:1",
                                            "00000000000000b3:1"}));
  EXPECT_EQ(CountPrefix(store, "d/"), 0u);
  // New records after a resume get fresh sequence numbers (no key reuse).
  ASSERT_TRUE((*n)->Enqueue(Item("00000000000000b4", 1)).ok());
  EXPECT_EQ((*n)->WaitIdle(milliseconds(5000)).delivered, 4u);
}

TEST(Notifier, RetriesServerErrorsWithTheSameIdempotencyKey) {
  TestServer server([](const Request&, int i) { return i < 2 ? 500 : 200; });
  MemoryOutboxStore store;
  auto n = Notifier::Start(Fast({Webhook("hook", server.url())}), &store);
  ASSERT_TRUE(n.ok());
  ASSERT_TRUE((*n)->Enqueue(Item("00000000000000c1", 1)).ok());
  EXPECT_EQ((*n)->WaitIdle(milliseconds(5000)).delivered, 1u);
  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 3u);
  for (const Request& r : reqs) EXPECT_EQ(r.headers.at("idempotency-key"), "00000000000000c1:1");
  const NotifierStats s = (*n)->stats();
  EXPECT_EQ(s.attempts[0][static_cast<int>(DeliveryResult::kRetry)], 2u);
  EXPECT_EQ(s.attempts[0][static_cast<int>(DeliveryResult::kOk)], 1u);
}

TEST(Notifier, ClientErrorsAreDeadLettered) {
  TestServer server([](const Request&, int) { return 401; });
  MemoryOutboxStore store;
  std::vector<std::string> lines;
  std::mutex mu;
  NotifierOptions o = Fast({Webhook("hook", server.url())});
  o.log = [&](const std::string& l) {
    std::lock_guard lock(mu);
    lines.push_back(l);
  };
  auto n = Notifier::Start(o, &store);
  ASSERT_TRUE(n.ok());
  ASSERT_TRUE((*n)->Enqueue(Item("00000000000000d1", 1)).ok());
  const DeliveryCounts c = (*n)->WaitIdle(milliseconds(5000));
  EXPECT_EQ(c.dead, 1u);
  EXPECT_EQ(c.pending, 0u);
  EXPECT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(CountPrefix(store, "d/"), 0u);
  EXPECT_EQ(CountPrefix(store, "x/hook/"), 1u);
  (*n)->Stop();
  std::lock_guard lock(mu);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("dead letter: alert 00000000000000d1:1"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("HTTP 401"), std::string::npos) << lines[0];
}

TEST(Notifier, DeliveriesOlderThanMaxAgeDie) {
  MemoryOutboxStore store;
  NotifierOptions o =
      Fast({Webhook("hook", "http://127.0.0.1:" + std::to_string(ClosedPort()) + "/")});
  o.retry.max_age = milliseconds(200);
  auto n = Notifier::Start(o, &store);
  ASSERT_TRUE(n.ok());
  ASSERT_TRUE((*n)->Enqueue(Item("00000000000000e1", 1)).ok());
  ASSERT_TRUE((*n)->Enqueue(Item("00000000000000e2", 1)).ok());
  const DeliveryCounts c = (*n)->WaitIdle(milliseconds(5000));
  EXPECT_EQ(c.dead, 2u);
  EXPECT_EQ(c.pending, 0u);
  EXPECT_EQ(CountPrefix(store, "x/"), 2u);
}

TEST(Notifier, SlowReceiverDoesNotDelayAnother) {
  std::atomic<bool> release{false};
  TestServer slow([&](const Request&, int) {
    for (int i = 0; i < 300 && !release; ++i) std::this_thread::sleep_for(milliseconds(10));
    return 200;
  });
  TestServer fast([](const Request&, int) { return 200; });
  MemoryOutboxStore store;
  NotifierOptions o = Fast({Webhook("slow", slow.url()), Webhook("fast", fast.url())});
  o.receivers[0].timeout = milliseconds(10000);
  auto n = Notifier::Start(o, &store);
  ASSERT_TRUE(n.ok());
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE((*n)->Enqueue(Item("00000000000000f1", 1)).ok());
  ASSERT_TRUE((*n)->Enqueue(Item("00000000000000f2", 1)).ok());
  EXPECT_TRUE(fast.WaitForRequests(2, milliseconds(2000)));
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(2000));
  EXPECT_EQ(slow.requests().size(), 0u);  // still stuck in the first answer
  release = true;
  EXPECT_EQ((*n)->WaitIdle(milliseconds(8000)).delivered, 4u);
}

TEST(Notifier, TimesOutASilentReceiverAndRetries) {
  TestServer server([](const Request&, int i) {
    if (i == 0) std::this_thread::sleep_for(milliseconds(700));
    return 200;
  });
  MemoryOutboxStore store;
  NotifierOptions o = Fast({Webhook("hook", server.url())});
  o.receivers[0].timeout = milliseconds(250);
  auto n = Notifier::Start(o, &store);
  ASSERT_TRUE(n.ok());
  ASSERT_TRUE((*n)->Enqueue(Item("0000000000000101", 1)).ok());
  EXPECT_EQ((*n)->WaitIdle(milliseconds(5000)).delivered, 1u);
  const NotifierStats s = (*n)->stats();
  EXPECT_GE(s.attempts[0][static_cast<int>(DeliveryResult::kRetry)], 1u);
}

TEST(Notifier, AlertmanagerGetsV2AlertsAndResendsWhileActive) {
  TestServer server([](const Request&, int) { return 200; });
  MemoryOutboxStore store;
  ReceiverOptions am;
  am.kind = ReceiverKind::kAlertmanager;
  am.name = "am";
  am.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/";
  NotifierOptions o = Fast({am});
  o.resend_interval = milliseconds(150);
  o.site = "fra1";
  o.sensor = "edge-a";
  auto n = Notifier::Start(o, &store);
  ASSERT_TRUE(n.ok());
  ASSERT_TRUE((*n)->Enqueue(Item("0000000000000201", 1)).ok());
  ASSERT_EQ((*n)->WaitIdle(milliseconds(5000)).delivered, 1u);
  ASSERT_TRUE(server.WaitForRequests(3, milliseconds(3000))) << "no resends";
  const auto first = server.requests()[0];
  EXPECT_EQ(first.target, "/api/v2/alerts");
  const auto j = nlohmann::json::parse(first.body);
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["labels"]["alertname"], "WeighbridgeWeightTransfer");
  EXPECT_EQ(j[0]["labels"]["kind"], "weight_transfer");
  EXPECT_EQ(j[0]["labels"]["severity"], "warning");
  EXPECT_EQ(j[0]["labels"]["tenant"], "research");
  EXPECT_EQ(j[0]["labels"]["site"], "fra1");
  EXPECT_EQ(j[0]["labels"]["sensor"], "edge-a");
  EXPECT_EQ(j[0]["labels"]["alert_id"], "0000000000000201");
  EXPECT_EQ(j[0]["annotations"]["inside"], "10.30.1.5");
  EXPECT_EQ(j[0]["startsAt"], "2023-11-14T22:13:20.000Z");  // 1.7e9 s, by `date -u -d @1700000000`
  EXPECT_EQ(CountPrefix(store, "a/am/"), 1u);
  // Severity rises: the warning series is ended in the same POST as the critical one starts.
  ASSERT_TRUE((*n)->Enqueue(Item("0000000000000201", 2, "active", "critical")).ok());
  ASSERT_EQ((*n)->WaitIdle(milliseconds(5000)).delivered, 2u);
  // Ended: sent with endsAt, then no longer resent.
  ASSERT_TRUE((*n)->Enqueue(Item("0000000000000201", 3, "ended", "critical")).ok());
  ASSERT_EQ((*n)->WaitIdle(milliseconds(5000)).delivered, 3u);
  EXPECT_EQ(CountPrefix(store, "a/"), 0u);
  std::this_thread::sleep_for(milliseconds(100));
  const std::size_t settled = server.requests().size();
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_EQ(server.requests().size(), settled) << "an ended alert was resent";
  bool saw_resolved_warning = false;
  bool saw_end = false;
  for (const Request& r : server.requests()) {
    for (const auto& a : nlohmann::json::parse(r.body)) {
      if (a["labels"]["severity"] == "warning" && a["annotations"]["version"] == "1" &&
          r.body.find("critical") != std::string::npos) {
        saw_resolved_warning = true;
      }
      if (a["annotations"]["state"] == "ended") {
        saw_end = true;
        EXPECT_EQ(a["endsAt"], "2023-11-14T22:15:00.000Z");
      }
    }
  }
  EXPECT_TRUE(saw_resolved_warning);
  EXPECT_TRUE(saw_end);
}

TEST(Notifier, RejectsBadOptions) {
  MemoryOutboxStore store;
  auto bad_url = Notifier::Start(Fast({Webhook("h", "ftp://x/")}), &store);
  EXPECT_FALSE(bad_url.ok());
  ReceiverOptions no_secret = Webhook("h", "http://127.0.0.1:1/");
  no_secret.secret.clear();
  EXPECT_FALSE(Notifier::Start(Fast({no_secret}), &store).ok());
  EXPECT_FALSE(
      Notifier::Start(Fast({Webhook("h", "http://a/"), Webhook("h", "http://b/")}), &store).ok());
}

}  // namespace
}  // namespace weighbridge::alerting
