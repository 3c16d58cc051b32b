// A test-only driver for the alerting integration tests: feeds alerts (from a replayed capture,
// or synthetic ones) to app::AlertDelivery with a durable outbox, waits (bounded) for delivery
// and prints what happened as one JSON object. Killing it and starting it again over the same
// outbox is how the tests exercise "a restart resumes pending deliveries" before
// `weighbridge replay --deliver --db` exists.
//
// usage: alerting_delivery_driver --config FILE [--outbox-dir DIR | --db PATH]
//          [--capture PCAP [--pace-ms N]] [--synthetic N] [--wait-ms N] [--hold-ms N]
//          [--initial-backoff-ms N] [--max-backoff-ms N] [--max-age-ms N] [--resend-ms N]
// exit: 0 nothing pending or dead; 3 something is; 2 usage or start-up error.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <variant>

#include "config.h"
#include "delivery.h"
#include "detect_setup.h"
#include "replay.h"
#include "weighbridge/capture/pcap_source.h"
#include "weighbridge/capture/site.h"

#if defined(WB_HAVE_STORE)
#include "weighbridge/store/history.h"
#endif

namespace {

using weighbridge::Result;
using weighbridge::Status;

// One file per record, named by the key in hex; each write is fsynced and renamed into place
// (and the directory synced), so a SIGKILL never leaves a half-written record.
class DirectoryOutbox : public weighbridge::alerting::OutboxStore {
 public:
  explicit DirectoryOutbox(std::string dir) : dir_(std::move(dir)) {}

  Status Put(std::string_view key, std::string_view value) override {
    std::lock_guard lock(mu_);
    const std::string path = dir_ + "/" + Hex(key);
    const std::string tmp = path + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return Status::Error(tmp + ": " + std::strerror(errno));
    const bool ok = ::write(fd, value.data(), value.size()) == static_cast<ssize_t>(value.size()) &&
                    ::fsync(fd) == 0;
    ::close(fd);
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
      return Status::Error(path + ": " + std::strerror(errno));
    }
    return SyncDir();
  }

  Status Erase(std::string_view key) override {
    std::lock_guard lock(mu_);
    const std::string path = dir_ + "/" + Hex(key);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return Status::Error(path + ": " + std::strerror(errno));
    }
    return SyncDir();
  }

  Result<std::vector<std::pair<std::string, std::string>>> LoadAll() override {
    std::lock_guard lock(mu_);
    DIR* d = ::opendir(dir_.c_str());
    if (d == nullptr) return Status::Error(dir_ + ": " + std::strerror(errno));
    std::vector<std::pair<std::string, std::string>> out;
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name == "." || name == ".." || name.ends_with(".tmp")) continue;
      std::ifstream in(dir_ + "/" + name, std::ios::binary);
      std::ostringstream text;
      text << in.rdbuf();
      out.emplace_back(Unhex(name), text.str());
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  static std::string Hex(std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : s) {
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
    return out;
  }
  static std::string Unhex(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i + 1 < s.size(); i += 2) {
      out.push_back(static_cast<char>(std::stoi(s.substr(i, 2), nullptr, 16)));
    }
    return out;
  }
  Status SyncDir() {
    const int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd < 0) return Status::Error(dir_ + ": " + std::strerror(errno));
    ::fsync(fd);
    ::close(fd);
    return Status::Ok();
  }

  std::mutex mu_;
  std::string dir_;
};

#if defined(WB_HAVE_STORE)
class HistoryOutbox : public weighbridge::alerting::OutboxStore {
 public:
  explicit HistoryOutbox(std::unique_ptr<weighbridge::store::History> h) : h_(std::move(h)) {}
  Status Put(std::string_view k, std::string_view v) override { return h_->OutboxPut(k, v); }
  Status Erase(std::string_view k) override { return h_->OutboxErase(k); }
  Result<std::vector<std::pair<std::string, std::string>>> LoadAll() override {
    return h_->OutboxLoad();
  }

 private:
  std::unique_ptr<weighbridge::store::History> h_;
};
#endif

int Fail(const std::string& why) {
  std::fprintf(stderr, "alerting_delivery_driver: %s\n", why.c_str());
  return 2;
}

weighbridge::analytics::Alert SyntheticAlert(int i) {
  weighbridge::analytics::Alert a;
  a.id = 0x5e00000000000000ULL + static_cast<std::uint64_t>(i);
  a.version = 1;
  a.state = weighbridge::analytics::AlertState::kActive;
  a.kind = weighbridge::analytics::AlertKind::kWeightTransfer;
  a.severity = weighbridge::analytics::AlertSeverity::kWarning;
  a.first_seen = weighbridge::StreamTime{1'767'225'600'000'000'000 + i * 1'000'000'000LL};
  a.last_seen = weighbridge::StreamTime{a.first_seen.ns + 60'000'000'000LL};
  a.has_inside = true;
  a.inside = *weighbridge::Prefix::Parse("10.30.0." + std::to_string(i % 250 + 1) + "/32");
  a.external = *weighbridge::Prefix::Parse("203.0.113.0/24");
  a.direction = weighbridge::capture::Direction::kOutbound;
  a.payload_bytes = 16'060'000'000ULL;
  a.bytes = a.payload_bytes + 1000;
  a.flows = 8;
  a.tenant = "research";
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> opt;
  for (int i = 1; i + 1 < argc; i += 2) opt[argv[i]] = argv[i + 1];
  if (argc % 2 == 0 || opt.count("--config") == 0) return Fail("see the usage in the source");
  auto num = [&](const char* name, long long def) {
    auto it = opt.find(name);
    return it == opt.end() ? def : std::stoll(it->second);
  };
  auto loaded = weighbridge::app::LoadConfigFile(opt["--config"]);
  if (auto* errors = std::get_if<weighbridge::app::ConfigErrors>(&loaded)) {
    for (const auto& l : errors->lines) std::fprintf(stderr, "%s\n", l.c_str());
    return 2;
  }
  const weighbridge::app::Config& config = std::get<weighbridge::app::Config>(loaded);

  weighbridge::app::DeliveryTuning tuning;
  tuning.retry.initial_backoff = std::chrono::milliseconds(num("--initial-backoff-ms", 1000));
  tuning.retry.max_backoff = std::chrono::milliseconds(num("--max-backoff-ms", 300000));
  tuning.retry.max_age = std::chrono::milliseconds(num("--max-age-ms", 86400000));
  tuning.resend_interval = std::chrono::milliseconds(num("--resend-ms", 60000));
  tuning.site = "test-site";
  tuning.sensor = "test-sensor";

  std::unique_ptr<weighbridge::alerting::OutboxStore> outbox;
  if (opt.count("--outbox-dir") != 0) {
    ::mkdir(opt["--outbox-dir"].c_str(), 0700);
    outbox = std::make_unique<DirectoryOutbox>(opt["--outbox-dir"]);
  } else if (opt.count("--db") != 0) {
#if defined(WB_HAVE_STORE)
    weighbridge::store::HistoryOptions ho;
    ho.path = opt["--db"];
    auto h = weighbridge::store::History::Open(ho);
    if (!h.ok()) return Fail("--db: " + h.error());
    outbox = std::make_unique<HistoryOutbox>(std::move(*h));
#else
    return Fail("--db: this build has no history store");
#endif
  } else {
    outbox = std::make_unique<weighbridge::alerting::MemoryOutboxStore>();
  }
  auto delivery =
      weighbridge::app::AlertDelivery::StartWithOutbox(config, std::move(outbox), tuning);
  if (!delivery.ok()) return Fail(delivery.error());

  std::uint64_t enqueued = 0;
  if (opt.count("--capture") != 0) {
    weighbridge::app::ReplayOptions options;
    options.pipeline = config.pipeline;
    options.sessionizer = weighbridge::app::SessionizerOptionsFrom(config);
    options.detect = weighbridge::app::DetectOptionsFrom(config);
    auto catalog = weighbridge::app::LoadCatalogFor(config, opt["--config"]);
    if (!catalog.ok()) return Fail("catalog: " + catalog.error());
    options.catalog = &*catalog;
    options.keep_flows = false;
    options.keep_transfers = false;
    const weighbridge::capture::SiteClassifier site(config.site);
    options.pipeline.site = &site;
    auto source = weighbridge::capture::OpenPcapFile(opt["--capture"], config.decode, nullptr);
    if (!source.ok()) return Fail(source.error());
    const std::atomic<bool> stop{false};
    const weighbridge::app::ReplayResult result =
        weighbridge::app::RunReplay(**source, options, stop);
    // --pace-ms spaces the versions out in wall time, as a live sensor would raise them, so that
    // a receiver (Alertmanager) sees an alert fire before it ends.
    for (const auto& a : result.alerts) {
      if (enqueued > 0) std::this_thread::sleep_for(std::chrono::milliseconds(num("--pace-ms", 0)));
      (*delivery)->OnAlert(a);
      ++enqueued;
    }
  }
  for (long long i = 1; i <= num("--synthetic", 0); ++i) {
    (*delivery)->OnAlert(SyntheticAlert(static_cast<int>(i)));
    ++enqueued;
  }
  // The tests watch for this line to know every alert is in the outbox.
  std::fprintf(stderr, "alerting_delivery_driver: enqueued %llu\n",
               static_cast<unsigned long long>(enqueued));
  const weighbridge::app::DeliveryReport r =
      (*delivery)->WaitIdle(std::chrono::milliseconds(num("--wait-ms", 20000)));
  std::this_thread::sleep_for(std::chrono::milliseconds(num("--hold-ms", 0)));
  const auto stats = (*delivery)->stats();
  std::printf(
      "{\"enqueued\":%llu,\"delivered\":%llu,\"pending\":%llu,\"dead\":%llu,"
      "\"enqueue_errors\":%llu,\"retries\":%llu}\n",
      static_cast<unsigned long long>(enqueued), static_cast<unsigned long long>(r.delivered),
      static_cast<unsigned long long>(r.pending), static_cast<unsigned long long>(r.dead),
      static_cast<unsigned long long>((*delivery)->enqueue_errors()),
      static_cast<unsigned long long>(stats.attempts[0][1] + stats.attempts[1][1]));
  std::fflush(stdout);
  (*delivery)->Stop();
  return r.pending == 0 && r.dead == 0 ? 0 : 3;
}
