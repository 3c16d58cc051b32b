// Structured logs for the daemon: one line per event, as text or JSON, on standard error.
// Warnings that can repeat (drops, receiver failures) go through a rate limiter, so a storm
// costs a few lines and a count, not a full disk.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weighbridge::app {

enum class LogLevel : std::uint8_t { kDebug, kInfo, kWarning, kError };
enum class LogFormat : std::uint8_t { kText, kJson };

// "debug", "info", "warning", "error" / "text", "json"; false if `text` names none.
bool ParseLogLevel(std::string_view text, LogLevel* level);
bool ParseLogFormat(std::string_view text, LogFormat* format);

using LogFields = std::vector<std::pair<std::string, std::string>>;

// Thread-safe. Lines below the configured level are dropped.
void ConfigureLog(LogFormat format, LogLevel level, std::FILE* out = stderr);
void Log(LogLevel level, std::string_view event, std::string_view message,
         const LogFields& fields = {});
// At most `burst` lines per `key` in any 60 s; the next line after a quiet spell says how many
// were suppressed (field "suppressed").
void LogLimited(std::string_view key, LogLevel level, std::string_view event,
                std::string_view message, const LogFields& fields = {}, int burst = 5);

}  // namespace weighbridge::app
