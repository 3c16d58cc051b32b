#include "log.h"

#include <chrono>
#include <ctime>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

namespace weighbridge::app {

namespace {

struct Limiter {
  std::chrono::steady_clock::time_point window_start;
  int in_window = 0;
  std::uint64_t suppressed = 0;
};

struct LogState {
  std::mutex mu;
  LogFormat format = LogFormat::kText;
  LogLevel level = LogLevel::kInfo;
  std::FILE* out = stderr;
  std::map<std::string, Limiter, std::less<>> limiters;
};

LogState& State() {
  static LogState state;
  return state;
}

constexpr std::string_view kLevelNames[] = {"debug", "info", "warning", "error"};

std::string Timestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms.count()));
  return buf;
}

// Text values with spaces or quotes are quoted, so lines stay machine-splittable.
std::string TextValue(const std::string& v) {
  if (!v.empty() && v.find_first_of(" \"=\t\n") == std::string::npos) return v;
  return nlohmann::json(v).dump();
}

void WriteLocked(LogState& s, LogLevel level, std::string_view event, std::string_view message,
                 const LogFields& fields) {
  std::string line;
  const std::string_view level_name = kLevelNames[static_cast<int>(level)];
  if (s.format == LogFormat::kJson) {
    nlohmann::json j;
    j["ts"] = Timestamp();
    j["level"] = level_name;
    j["event"] = event;
    j["msg"] = message;
    for (const auto& [k, v] : fields) j[k] = v;
    line = j.dump();
  } else {
    line = Timestamp() + " " + std::string(level_name) + " " + std::string(event) + ": " +
           std::string(message);
    for (const auto& [k, v] : fields) line += " " + k + "=" + TextValue(v);
  }
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), s.out);
  std::fflush(s.out);
}

}  // namespace

bool ParseLogLevel(std::string_view text, LogLevel* level) {
  for (int i = 0; i < 4; ++i) {
    if (text == kLevelNames[i]) {
      *level = static_cast<LogLevel>(i);
      return true;
    }
  }
  return false;
}

bool ParseLogFormat(std::string_view text, LogFormat* format) {
  if (text == "text" || text == "json") {
    *format = text == "json" ? LogFormat::kJson : LogFormat::kText;
    return true;
  }
  return false;
}

void ConfigureLog(LogFormat format, LogLevel level, std::FILE* out) {
  LogState& s = State();
  const std::lock_guard<std::mutex> lock(s.mu);
  s.format = format;
  s.level = level;
  s.out = out;
}

void Log(LogLevel level, std::string_view event, std::string_view message,
         const LogFields& fields) {
  LogState& s = State();
  const std::lock_guard<std::mutex> lock(s.mu);
  if (level < s.level) return;
  WriteLocked(s, level, event, message, fields);
}

void LogLimited(std::string_view key, LogLevel level, std::string_view event,
                std::string_view message, const LogFields& fields, int burst) {
  LogState& s = State();
  const std::lock_guard<std::mutex> lock(s.mu);
  if (level < s.level) return;
  auto it = s.limiters.find(key);
  if (it == s.limiters.end()) it = s.limiters.emplace(std::string(key), Limiter{}).first;
  Limiter& l = it->second;
  const auto now = std::chrono::steady_clock::now();
  if (now - l.window_start >= std::chrono::seconds(60)) {
    l.window_start = now;
    l.in_window = 0;
  }
  if (l.in_window >= burst) {
    ++l.suppressed;
    return;
  }
  ++l.in_window;
  if (l.suppressed == 0) {
    WriteLocked(s, level, event, message, fields);
    return;
  }
  LogFields with = fields;
  with.emplace_back("suppressed", std::to_string(l.suppressed));
  l.suppressed = 0;
  WriteLocked(s, level, event, message, with);
}

}  // namespace weighbridge::app
