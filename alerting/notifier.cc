#include "weighbridge/alerting/notifier.h"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "http_client.h"

namespace weighbridge::alerting {

namespace {

namespace asio = boost::asio;

// Alertmanager takes many alerts per POST; a backlog after an outage drains in few requests.
constexpr std::size_t kAlertmanagerBatch = 64;
// While a receiver keeps failing, one log line per this many failed attempts (the first always).
constexpr int kLogEveryFailures = 20;

std::int64_t NowUnixNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
std::int64_t NowUnixMs() {
  return NowUnixNs() / 1'000'000;
}

// Outbox keys. The sequence number is zero-padded so that key order is queue order.
//   d/<receiver>/<seq>  a pending delivery; value "<created unix ms>\n<item json>"
//   x/<receiver>/<seq>  a dead letter; value as above plus "\n<reason>"
//   a/<receiver>/<id>   an alert Alertmanager holds as active; value "<item json>"
std::string SeqText(std::uint64_t seq) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(seq));
  return buf;
}

// Splits "p/<name>/<last>" into name and last; false when the key has another shape.
bool SplitKey(std::string_view key, std::string_view prefix, std::string_view* name,
              std::string_view* last) {
  if (!key.starts_with(prefix)) return false;
  key.remove_prefix(prefix.size());
  const std::size_t slash = key.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return false;
  *name = key.substr(0, slash);
  *last = key.substr(slash + 1);
  return true;
}

std::string OneLine(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  std::replace(text.begin(), text.end(), '\r', ' ');
  if (text.size() > 300) text.resize(300);
  return text;
}

struct Record {
  std::string key;
  std::uint64_t seq = 0;
  std::int64_t created_unix_ms = 0;
  AlertItem item;
};

struct Receiver {
  ReceiverOptions options;
  std::deque<Record> pending;
  bool in_flight = false;
  std::size_t batch = 0;  // records at the front of `pending` that the request in flight carries
  int failures = 0;       // consecutive failed attempts
  bool waiting = false;   // the retry timer is armed
  std::unique_ptr<asio::steady_timer> retry_timer;
  std::map<std::string, AlertItem> active;  // Alertmanager only: by alert id
  bool resend_due = false;
  std::array<std::uint64_t, static_cast<std::size_t>(DeliveryResult::kCount)> attempts{};
  std::string last_error;
};

}  // namespace

class Notifier::Impl {
 public:
  Impl(NotifierOptions options, OutboxStore* store)
      : options_(std::move(options)), store_(store), rng_(std::random_device{}()) {
    client_ = std::make_unique<internal::HttpClient>(io_);
    if (!options_.log) {
      options_.log = [](const std::string& line) {
        std::fprintf(stderr, "weighbridge: alerting: %s\n", line.c_str());
      };
    }
    for (const ReceiverOptions& r : options_.receivers) {
      auto rec = std::make_unique<Receiver>();
      rec->options = r;
      rec->retry_timer = std::make_unique<asio::steady_timer>(io_);
      receivers_.push_back(std::move(rec));
    }
    resend_timer_ = std::make_unique<asio::steady_timer>(io_);
  }

  ~Impl() {
    Stop();
    // Timers belong to io_: destroy them while it still exists.
    receivers_.clear();
    resend_timer_.reset();
  }

  Status Load() {
    auto all = store_->LoadAll();
    if (!all.ok()) return Status::Error("reading the alert outbox: " + all.error());
    std::map<std::string, Receiver*, std::less<>> by_name;
    for (auto& r : receivers_) by_name[r->options.name] = r.get();
    std::uint64_t loaded = 0;
    std::uint64_t orphans = 0;
    std::uint64_t unreadable = 0;
    for (const auto& [key, value] : *all) {
      std::string_view name;
      std::string_view last;
      if (SplitKey(key, "d/", &name, &last) || SplitKey(key, "x/", &name, &last)) {
        const std::uint64_t seq = std::strtoull(std::string(last).c_str(), nullptr, 10);
        next_seq_ = std::max(next_seq_, seq + 1);
        if (key.front() == 'x') continue;
        auto it = by_name.find(name);
        if (it == by_name.end()) {
          ++orphans;
          continue;
        }
        const std::size_t nl = value.find('\n');
        Result<AlertItem> item = nl == std::string::npos
                                     ? Result<AlertItem>(Status::Error("no item"))
                                     : AlertItemFromJson(std::string_view(value).substr(nl + 1));
        if (!item.ok()) {
          ++unreadable;
          continue;
        }
        Record rec{key, seq, std::strtoll(value.substr(0, nl).c_str(), nullptr, 10),
                   std::move(*item)};
        it->second->pending.push_back(std::move(rec));
        ++loaded;
      } else if (SplitKey(key, "a/", &name, &last)) {
        auto it = by_name.find(name);
        if (it == by_name.end()) continue;
        Result<AlertItem> item = AlertItemFromJson(value);
        if (item.ok()) it->second->active[std::string(last)] = std::move(*item);
      }
    }
    for (auto& r : receivers_) {
      std::sort(r->pending.begin(), r->pending.end(),
                [](const Record& a, const Record& b) { return a.seq < b.seq; });
    }
    pending_count_ = loaded;
    if (loaded > 0) options_.log("resuming " + std::to_string(loaded) + " pending deliveries");
    if (orphans > 0) {
      options_.log(std::to_string(orphans) +
                   " pending deliveries are for receivers no longer configured; they stay in the "
                   "outbox");
    }
    if (unreadable > 0) {
      options_.log(std::to_string(unreadable) + " outbox records could not be read; skipped");
    }
    return Status::Ok();
  }

  void Run() {
    ArmResend();
    thread_ = std::thread([this] {
      auto guard = asio::make_work_guard(io_);
      asio::post(io_, [this] { KickAll(); });
      io_.run();
    });
  }

  Status Enqueue(const AlertItem& item) {
    if (receivers_.empty()) return Status::Ok();
    const std::int64_t created = NowUnixMs();
    const std::string item_json = AlertItemToJson(item);
    std::vector<std::pair<Receiver*, Record>> records;
    {
      std::lock_guard lock(mu_);
      if (stopped_) return Status::Error("alert delivery is stopped");
      for (auto& r : receivers_) {
        const std::uint64_t seq = next_seq_++;
        records.emplace_back(
            r.get(), Record{"d/" + r->options.name + "/" + SeqText(seq), seq, created, item});
      }
    }
    // Durable before anyone is told: the write happens on the caller's thread, outside mu_, so
    // that a slow store never stalls the delivery thread's bookkeeping.
    for (const auto& [r, rec] : records) {
      Status s = store_->Put(rec.key, std::to_string(created) + "\n" + item_json);
      if (!s.ok()) return Status::Error("writing the alert outbox: " + s.message());
    }
    {
      std::lock_guard lock(mu_);
      for (auto& [r, rec] : records) {
        r->pending.push_back(std::move(rec));
        ++pending_count_;
      }
    }
    asio::post(io_, [this] { KickAll(); });
    return Status::Ok();
  }

  DeliveryCounts WaitIdle(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    idle_cv_.wait_for(lock, timeout, [this] { return pending_count_ == 0; });
    return CountsLocked();
  }

  DeliveryCounts Counts() const {
    std::lock_guard lock(mu_);
    return CountsLocked();
  }

  NotifierStats Stats() const {
    std::lock_guard lock(mu_);
    NotifierStats s;
    const std::int64_t now_ms = NowUnixMs();
    for (const auto& r : receivers_) {
      ReceiverStats rs;
      rs.name = r->options.name;
      rs.kind = r->options.kind;
      rs.attempts = r->attempts;
      rs.queue_depth = r->pending.size();
      rs.last_error = r->last_error;
      if (!r->pending.empty()) {
        std::int64_t oldest = r->pending.front().created_unix_ms;
        for (const Record& rec : r->pending) oldest = std::min(oldest, rec.created_unix_ms);
        rs.oldest_pending_age_seconds =
            static_cast<double>(std::max<std::int64_t>(now_ms - oldest, 0)) / 1000.0;
      }
      for (std::size_t i = 0; i < rs.attempts.size(); ++i) {
        s.attempts[static_cast<std::size_t>(r->options.kind)][i] += rs.attempts[i];
      }
      s.queue_depth += rs.queue_depth;
      s.oldest_pending_age_seconds =
          std::max(s.oldest_pending_age_seconds, rs.oldest_pending_age_seconds);
      s.receivers.push_back(std::move(rs));
    }
    return s;
  }

  void Stop() {
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    io_.stop();
    if (thread_.joinable()) thread_.join();
    idle_cv_.notify_all();
  }

 private:
  DeliveryCounts CountsLocked() const { return {delivered_, pending_count_, dead_}; }

  void ArmResend() {
    resend_timer_->expires_after(options_.resend_interval);
    resend_timer_->async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      {
        std::lock_guard lock(mu_);
        for (auto& r : receivers_) {
          if (r->options.kind == ReceiverKind::kAlertmanager && !r->active.empty()) {
            r->resend_due = true;
            MaybeSend(*r);
          }
        }
      }
      ArmResend();
    });
  }

  void KickAll() {
    std::lock_guard lock(mu_);
    for (auto& r : receivers_) MaybeSend(*r);
  }

  // On the io thread, mu_ held.
  void MaybeSend(Receiver& r) {
    if (stopped_ || r.in_flight || r.waiting) return;
    const bool am = r.options.kind == ReceiverKind::kAlertmanager;
    if (r.pending.empty() && !(am && r.resend_due && !r.active.empty())) return;
    HttpRequest request;
    const std::int64_t now_ns = NowUnixNs();
    if (!am) {
      r.batch = 1;
      request = BuildWebhookRequest(r.options, r.pending.front().item, now_ns);
    } else {
      r.batch = std::min(r.pending.size(), kAlertmanagerBatch);
      std::vector<AlertItem> items;
      std::vector<AlertItem> resolved;
      std::set<std::string> in_batch;
      for (std::size_t i = 0; i < r.batch; ++i) {
        const AlertItem& item = r.pending[i].item;
        in_batch.insert(item.id);
        items.push_back(item);
        // A new severity or tenant is a new label set, hence a new Alertmanager alert: end the
        // one it replaces rather than let it linger until its endsAt.
        if (auto it = r.active.find(item.id);
            it != r.active.end() &&
            (it->second.severity != item.severity || it->second.tenant != item.tenant)) {
          resolved.push_back(it->second);
        }
      }
      // Every POST also carries the alerts Alertmanager holds as active, which is the resend it
      // expects; without it they would resolve at their endsAt.
      for (const auto& [id, item] : r.active) {
        if (!in_batch.contains(id)) items.push_back(item);
      }
      r.resend_due = false;
      request = BuildAlertmanagerRequest(r.options, options_, items, resolved, now_ns);
    }
    r.in_flight = true;
    Receiver* rp = &r;
    client_->AsyncSend(request, [this, rp](Result<HttpResponse> result) {
      std::lock_guard lock(mu_);
      OnResult(*rp, std::move(result));
    });
  }

  void OnResult(Receiver& r, Result<HttpResponse> result) {
    r.in_flight = false;
    if (stopped_) return;
    const std::size_t n = std::min(r.batch, r.pending.size());
    r.batch = 0;
    const bool answered = result.ok();
    const unsigned status = answered ? result->status : 0;
    const bool ok = answered && status >= 200 && status <= 299;
    // A 4xx other than timeout/too-early/too-many says the request itself is wrong (bad
    // signature, malformed alert): sending it again cannot help.
    const bool permanent = answered && status >= 400 && status <= 499 && status != 408 &&
                           status != 425 && status != 429;
    std::string error;
    if (!answered) {
      error = result.error();
    } else if (!ok) {
      error = "HTTP " + std::to_string(status);
      if (!result->body.empty()) error += ": " + OneLine(result->body.substr(0, 200));
    }
    const std::string who = std::string(ReceiverKindName(r.options.kind)) + " " + r.options.name;
    if (ok) {
      if (r.failures > 0) {
        options_.log(who + ": delivering again after " + std::to_string(r.failures) +
                     " failed attempts");
      }
      r.failures = 0;
      r.last_error.clear();
      for (std::size_t i = 0; i < n; ++i) {
        Record rec = std::move(r.pending.front());
        r.pending.pop_front();
        if (r.options.kind == ReceiverKind::kAlertmanager) TrackActive(r, rec.item);
        Status s = store_->Erase(rec.key);
        // The receiver has it; a record left behind is only sent once more after a restart,
        // which the Idempotency-Key (and Alertmanager's own merging) absorbs.
        if (!s.ok()) options_.log("erasing a delivered record: " + s.message());
        ++delivered_;
        --pending_count_;
        ++r.attempts[static_cast<std::size_t>(DeliveryResult::kOk)];
      }
    } else if (permanent) {
      r.last_error = error;
      for (std::size_t i = 0; i < n; ++i) {
        Record rec = std::move(r.pending.front());
        r.pending.pop_front();
        DeadLetter(r, rec, "rejected: " + error);
      }
    } else {
      ++r.failures;
      r.last_error = error;
      if (r.failures == 1 || r.failures % kLogEveryFailures == 0) {
        options_.log(who + ": " + OneLine(error) + " (attempt " + std::to_string(r.failures) +
                     ", " + std::to_string(r.pending.size()) + " pending; retrying)");
      }
      // Past max_age a delivery is given up, whether or not it was in this attempt.
      const std::int64_t now_ms = NowUnixMs();
      const std::int64_t max_age_ms = options_.retry.max_age.count();
      std::deque<Record> keep;
      for (Record& rec : r.pending) {
        if (now_ms - rec.created_unix_ms > max_age_ms) {
          DeadLetter(r, rec,
                     "older than max_age after " + std::to_string(r.failures) +
                         " failed attempts; last error: " + error);
        } else {
          keep.push_back(std::move(rec));
        }
      }
      r.pending = std::move(keep);
      r.attempts[static_cast<std::size_t>(DeliveryResult::kRetry)] +=
          std::min<std::size_t>(n, r.pending.size());
      if (!r.pending.empty() || r.options.kind == ReceiverKind::kAlertmanager) {
        if (r.pending.empty()) r.resend_due = true;
        std::uniform_real_distribution<double> uniform(0.0, 1.0);
        r.waiting = true;
        r.retry_timer->expires_after(BackoffDelay(options_.retry, r.failures, uniform(rng_)));
        Receiver* rp = &r;
        r.retry_timer->async_wait([this, rp](boost::system::error_code ec) {
          if (ec) return;
          std::lock_guard lock(mu_);
          rp->waiting = false;
          MaybeSend(*rp);
        });
      }
    }
    if (pending_count_ == 0) idle_cv_.notify_all();
    MaybeSend(r);
  }

  void TrackActive(Receiver& r, const AlertItem& item) {
    const std::string key = "a/" + r.options.name + "/" + item.id;
    auto it = r.active.find(item.id);
    if (item.state == "active") {
      if (it != r.active.end() && it->second.version > item.version) return;
      r.active[item.id] = item;
      Status s = store_->Put(key, AlertItemToJson(item));
      if (!s.ok()) options_.log("recording an active alert: " + s.message());
    } else if (it != r.active.end()) {
      r.active.erase(it);
      Status s = store_->Erase(key);
      if (!s.ok()) options_.log("erasing an ended alert: " + s.message());
    }
  }

  void DeadLetter(Receiver& r, const Record& rec, const std::string& reason) {
    ++dead_;
    --pending_count_;
    ++r.attempts[static_cast<std::size_t>(DeliveryResult::kDead)];
    options_.log("dead letter: alert " + rec.item.id + ":" + std::to_string(rec.item.version) +
                 " to " + std::string(ReceiverKindName(r.options.kind)) + " " + r.options.name +
                 " written " + std::to_string((NowUnixMs() - rec.created_unix_ms) / 1000) +
                 " s ago: " + OneLine(reason));
    // Kept under x/ for inspection, out of the way of the next start's resume.
    Status s = store_->Put("x/" + r.options.name + "/" + SeqText(rec.seq),
                           std::to_string(rec.created_unix_ms) + "\n" + AlertItemToJson(rec.item) +
                               "\n" + OneLine(reason));
    if (s.ok()) s = store_->Erase(rec.key);
    if (!s.ok()) options_.log("moving a dead letter: " + s.message());
  }

  NotifierOptions options_;
  OutboxStore* store_;
  std::unique_ptr<internal::HttpClient> client_;  // outlives io_: sessions use its TLS contexts
  asio::io_context io_;
  mutable std::mutex mu_;
  std::condition_variable idle_cv_;
  std::vector<std::unique_ptr<Receiver>> receivers_;  // guarded by mu_ (the vector is fixed)
  std::unique_ptr<asio::steady_timer> resend_timer_;
  std::mt19937_64 rng_;  // io thread only
  std::uint64_t next_seq_ = 1;
  std::uint64_t pending_count_ = 0;
  std::uint64_t delivered_ = 0;
  std::uint64_t dead_ = 0;
  bool stopped_ = false;
  std::thread thread_;
};

Result<std::unique_ptr<Notifier>> Notifier::Start(NotifierOptions options, OutboxStore* store) {
  if (store == nullptr) return Status::Error("alert delivery needs an outbox store");
  std::set<std::string> names;
  for (const ReceiverOptions& r : options.receivers) {
    if (r.name.empty() || r.name.find('\n') != std::string::npos) {
      return Status::Error("a receiver needs a name (one line)");
    }
    if (!names.insert(r.name).second) {
      return Status::Error("receiver name \"" + r.name + "\" is used twice");
    }
    Result<ParsedUrl> url = ParseUrl(r.url);
    if (!url.ok()) return Status::Error("receiver " + r.name + ": " + url.error());
    if (r.kind == ReceiverKind::kWebhook && r.secret.empty()) {
      return Status::Error("webhook " + r.name + ": the signing secret is empty");
    }
    if (r.timeout.count() <= 0 || r.connect_timeout.count() <= 0) {
      return Status::Error("receiver " + r.name + ": timeouts must be positive");
    }
  }
  if (options.resend_interval.count() <= 0) {
    return Status::Error("the Alertmanager resend interval must be positive");
  }
  auto impl = std::make_unique<Impl>(std::move(options), store);
  if (Status s = impl->Load(); !s.ok()) return s;
  impl->Run();
  return std::unique_ptr<Notifier>(new Notifier(std::move(impl)));
}

Notifier::Notifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Notifier::~Notifier() = default;
Status Notifier::Enqueue(const AlertItem& item) {
  return impl_->Enqueue(item);
}
DeliveryCounts Notifier::WaitIdle(std::chrono::milliseconds timeout) {
  return impl_->WaitIdle(timeout);
}
DeliveryCounts Notifier::counts() const {
  return impl_->Counts();
}
NotifierStats Notifier::stats() const {
  return impl_->Stats();
}
void Notifier::Stop() {
  impl_->Stop();
}

}  // namespace weighbridge::alerting
