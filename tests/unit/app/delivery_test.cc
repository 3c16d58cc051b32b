#include "delivery.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <fstream>

#include "flow_output.h"
#include "test_server.h"
#include "weighbridge/alerting/signing.h"

namespace weighbridge::app {
namespace {

using alerting::testing::Request;
using alerting::testing::TestServer;

analytics::Alert SampleAlert() {
  analytics::Alert a;
  a.id = 0x1234abcd5678ef00ULL;
  a.version = 2;
  a.state = analytics::AlertState::kEnded;
  a.kind = analytics::AlertKind::kWeightTransfer;
  a.severity = analytics::AlertSeverity::kCritical;
  a.first_seen = StreamTime{1'767'225'600'000'000'000};
  a.last_seen = StreamTime{1'767'225'660'000'000'000};
  a.has_inside = true;
  a.inside = *Prefix::Parse("10.30.1.10/32");
  a.external = *Prefix::Parse("203.0.113.0/24");
  a.direction = capture::Direction::kOutbound;
  a.payload_bytes = 16'060'000'000ULL;
  a.bytes = 16'100'000'000ULL;
  a.flows = 8;
  a.tenant = "research";
  a.model_match = analytics::ModelMatch{"Llama-3.1-8B", 8.03e9, "bf16/fp16", 16'060'000'000ULL, 0};
  return a;
}

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/" + name;
}

TEST(Delivery, AlertItemCarriesTheAlertJson) {
  const analytics::Alert a = SampleAlert();
  const alerting::AlertItem item = AlertItemFrom(a);
  EXPECT_EQ(item.id, "1234abcd5678ef00");
  EXPECT_EQ(item.version, 2u);
  EXPECT_EQ(item.kind, "weight_transfer");
  EXPECT_EQ(item.severity, "critical");
  EXPECT_EQ(item.state, "ended");
  EXPECT_EQ(item.tenant, "research");
  EXPECT_EQ(item.inside, "10.30.1.10");
  EXPECT_EQ(item.external, "203.0.113.0/24");
  EXPECT_EQ(item.body_json, AlertJson(a));
  EXPECT_EQ(item.starts_at_unix_ns, a.first_seen.ns);
  EXPECT_EQ(item.ends_at_unix_ns, a.last_seen.ns);
  EXPECT_NE(item.summary.find("Llama-3.1-8B"), std::string::npos) << item.summary;
}

TEST(Delivery, SecretsComeFromFileOrEnvironment) {
  const std::string file = TempPath("hook.secret");
  {
    std::ofstream out(file);
    out << "from-file\n";
  }
  ::setenv("WB_DELIVERY_TEST_SECRET", "from-env", 1);
  Config config;
  config.alerts.webhooks.push_back(
      {"a", "http://127.0.0.1:1/a", file, "", {}, kNanosPerSecond, ""});
  config.alerts.webhooks.push_back({"b",
                                    "http://127.0.0.1:1/b",
                                    "",
                                    "WB_DELIVERY_TEST_SECRET",
                                    {{"X-A", "1"}},
                                    2 * kNanosPerSecond,
                                    ""});
  config.alerts.alertmanager.push_back({"http://127.0.0.1:9093", 3 * kNanosPerSecond, ""});
  auto options = NotifierOptionsFrom(config);
  ASSERT_TRUE(options.ok()) << options.error();
  ASSERT_EQ(options->receivers.size(), 3u);
  EXPECT_EQ(options->receivers[0].secret, "from-file");  // the file's newline is not the secret
  EXPECT_EQ(options->receivers[1].secret, "from-env");
  EXPECT_EQ(options->receivers[1].timeout.count(), 2000);
  EXPECT_EQ(options->receivers[1].headers.size(), 1u);
  EXPECT_EQ(options->receivers[2].kind, alerting::ReceiverKind::kAlertmanager);
  EXPECT_EQ(options->receivers[2].name, "alertmanager http://127.0.0.1:9093");

  Config missing_env;
  missing_env.alerts.webhooks.push_back(
      {"c", "http://127.0.0.1:1/", "", "WB_DELIVERY_TEST_UNSET", {}, kNanosPerSecond, ""});
  ::unsetenv("WB_DELIVERY_TEST_UNSET");
  auto e = NotifierOptionsFrom(missing_env);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().find("webhook c"), std::string::npos) << e.error();
  EXPECT_NE(e.error().find("WB_DELIVERY_TEST_UNSET"), std::string::npos) << e.error();

  Config missing_file;
  missing_file.alerts.webhooks.push_back(
      {"d", "http://127.0.0.1:1/", TempPath("no-such-secret"), "", {}, kNanosPerSecond, ""});
  auto m = NotifierOptionsFrom(missing_file);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().find("no-such-secret"), std::string::npos) << m.error();
  std::remove(file.c_str());
}

TEST(Delivery, OnAlertDeliversTheSignedAlertJson) {
  TestServer server([](const Request&, int) { return 200; });
  ::setenv("WB_DELIVERY_TEST_SECRET2", "k3y", 1);
  Config config;
  config.alerts.webhooks.push_back(
      {"hook", server.url(), "", "WB_DELIVERY_TEST_SECRET2", {}, kNanosPerSecond, ""});
  auto d = AlertDelivery::Start(config, nullptr);
  ASSERT_TRUE(d.ok()) << d.error();
  const analytics::Alert a = SampleAlert();
  (*d)->OnAlert(a);
  const DeliveryReport r = (*d)->WaitIdle(std::chrono::milliseconds(5000));
  EXPECT_EQ(r.delivered, 1u);
  EXPECT_EQ(r.pending, 0u);
  EXPECT_EQ(r.dead, 0u);
  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].body, AlertJson(a));
  EXPECT_EQ(reqs[0].headers.at("idempotency-key"), "1234abcd5678ef00:2");
  const std::string sig = reqs[0].headers.at("x-weighbridge-signature");
  const std::string t = sig.substr(2, sig.find(',') - 2);
  EXPECT_EQ(sig.substr(sig.find("v1=") + 3),
            alerting::HmacSha256Hex("k3y", t + "." + reqs[0].body));
  const alerting::NotifierStats s = (*d)->stats();
  EXPECT_EQ(s.attempts[0][0], 1u);
  EXPECT_EQ(s.queue_depth, 0u);
  (*d)->Stop();
}

TEST(Delivery, NoReceiversIsFine) {
  auto d = AlertDelivery::Start(Config{}, nullptr);
  ASSERT_TRUE(d.ok()) << d.error();
  (*d)->OnAlert(SampleAlert());
  EXPECT_EQ((*d)->WaitIdle(std::chrono::milliseconds(100)).pending, 0u);
}

}  // namespace
}  // namespace weighbridge::app
