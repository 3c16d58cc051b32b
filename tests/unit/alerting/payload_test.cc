#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "weighbridge/alerting/http.h"
#include "weighbridge/alerting/notifier.h"

namespace weighbridge::alerting {
namespace {

TEST(ParseUrl, SchemesPortsAndTargets) {
  auto a = ParseUrl("https://hooks.example.com/a/b?x=1#frag");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->tls);
  EXPECT_EQ(a->host, "hooks.example.com");
  EXPECT_EQ(a->port, "443");
  EXPECT_EQ(a->target, "/a/b?x=1");
  auto b = ParseUrl("http://127.0.0.1:9093");
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->tls);
  EXPECT_EQ(b->port, "9093");
  EXPECT_EQ(b->target, "/");
  auto c = ParseUrl("http://[::1]:8080/hook");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->port, "8080");
  EXPECT_FALSE(ParseUrl("ftp://x/").ok());
  EXPECT_FALSE(ParseUrl("http://::1/").ok());
  EXPECT_FALSE(ParseUrl("http://host:0/").ok());
  EXPECT_FALSE(ParseUrl("http://host:99999/").ok());
  EXPECT_FALSE(ParseUrl("http:///path").ok());
}

TEST(AlertItem, JsonRoundTrip) {
  AlertItem item;
  item.id = "00000000000000ab";
  item.version = 7;
  item.kind = "dataset_ingest";
  item.severity = "critical";
  item.state = "ended";
  item.tenant = "";
  item.inside = "";
  item.external = "2001:db8::/48";
  item.summary = "line with \"quotes\" and\nnewline";
  item.body_json = R"({"id":"00000000000000ab","nested":{"a":[1,2]}})";
  item.starts_at_unix_ns = -5;
  item.ends_at_unix_ns = 1'800'000'000'123'456'789;
  auto back = AlertItemFromJson(AlertItemToJson(item));
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back->id, item.id);
  EXPECT_EQ(back->version, item.version);
  EXPECT_EQ(back->kind, item.kind);
  EXPECT_EQ(back->state, item.state);
  EXPECT_EQ(back->external, item.external);
  EXPECT_EQ(back->summary, item.summary);
  EXPECT_EQ(back->body_json, item.body_json);
  EXPECT_EQ(back->starts_at_unix_ns, item.starts_at_unix_ns);
  EXPECT_EQ(back->ends_at_unix_ns, item.ends_at_unix_ns);
  EXPECT_FALSE(AlertItemFromJson("{}").ok());
  EXPECT_FALSE(AlertItemFromJson("not json").ok());
}

TEST(AlertmanagerRequest, ActiveAlertsHoldForFourResendIntervals) {
  ReceiverOptions r;
  r.kind = ReceiverKind::kAlertmanager;
  r.url = "http://127.0.0.1:9093//";
  NotifierOptions o;
  o.resend_interval = std::chrono::milliseconds(60000);
  AlertItem item;
  item.id = "0000000000000001";
  item.kind = "staging_ingest";
  item.severity = "info";
  item.state = "active";
  item.starts_at_unix_ns = 1'700'000'000'000'000'000;
  const std::int64_t now = 1'700'000'600'000'000'000;  // 10 minutes later
  const HttpRequest req = BuildAlertmanagerRequest(r, o, {item}, {}, now);
  EXPECT_EQ(req.url, "http://127.0.0.1:9093/api/v2/alerts");
  const auto j = nlohmann::json::parse(req.body);
  EXPECT_EQ(j[0]["labels"]["alertname"], "WeighbridgeStagingIngest");
  EXPECT_FALSE(j[0]["labels"].contains("tenant"));  // empty values are no labels
  EXPECT_EQ(j[0]["startsAt"], "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(j[0]["endsAt"], "2023-11-14T22:27:20.000Z");  // now + 4 min
  // A stream time ahead of the wall clock is clamped to now (Alertmanager refuses ends < starts).
  item.starts_at_unix_ns = now + 1'000'000'000'000;
  item.state = "ended";
  item.ends_at_unix_ns = now + 2'000'000'000'000;
  const auto k = nlohmann::json::parse(BuildAlertmanagerRequest(r, o, {item}, {}, now).body);
  EXPECT_EQ(k[0]["startsAt"], "2023-11-14T22:23:20.000Z");
  EXPECT_EQ(k[0]["endsAt"], "2023-11-14T22:23:20.000Z");
}

}  // namespace
}  // namespace weighbridge::alerting
