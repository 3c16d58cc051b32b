// A small strict argument reader for the subcommands: `--name VALUE`, `--name=VALUE`, flags and
// positionals. Unknown options are usage errors that name the option.
#pragma once

#include <charconv>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace weighbridge::app {

class Args {
 public:
  // `with_value`: options that take a value; `flags`: options that do not.
  Args(std::span<const std::string_view> args, std::set<std::string_view> with_value,
       std::set<std::string_view> flags) {
    for (std::size_t i = 0; i < args.size(); ++i) {
      std::string_view a = args[i];
      if (a.size() > 1 && a.substr(0, 2) == "--") {
        std::string_view name = a;
        std::optional<std::string_view> value;
        if (const auto eq = a.find('='); eq != std::string_view::npos) {
          name = a.substr(0, eq);
          value = a.substr(eq + 1);
        }
        if (flags.count(name) != 0) {
          if (value) error_ = std::string(name) + " takes no value";
          flags_.insert(std::string(name));
        } else if (with_value.count(name) != 0) {
          if (!value) {
            if (i + 1 >= args.size()) {
              error_ = std::string(name) + " needs a value";
              return;
            }
            value = args[++i];
          }
          values_[std::string(name)] = std::string(*value);
        } else {
          error_ = "unknown option " + std::string(name);
          return;
        }
      } else if (a == "-h") {
        flags_.insert("--help");
      } else {
        positionals_.emplace_back(a);
      }
    }
  }

  const std::string& error() const { return error_; }
  bool Has(std::string_view flag) const { return flags_.count(std::string(flag)) != 0; }
  std::optional<std::string> Value(std::string_view name) const {
    auto it = values_.find(std::string(name));
    if (it == values_.end()) return std::nullopt;
    return it->second;
  }
  const std::vector<std::string>& positionals() const { return positionals_; }

  // Parses an unsigned integer option strictly; sets error() when malformed or out of range.
  std::optional<std::uint64_t> Unsigned(std::string_view name, std::uint64_t min,
                                        std::uint64_t max) {
    auto v = Value(name);
    if (!v) return std::nullopt;
    std::uint64_t out = 0;
    auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
    if (v->empty() || ec != std::errc() || p != v->data() + v->size() || out < min || out > max) {
      error_ = std::string(name) + ": \"" + *v + "\" is not a whole number from " +
               std::to_string(min) + " to " + std::to_string(max);
      return std::nullopt;
    }
    return out;
  }

 private:
  std::map<std::string, std::string> values_;
  std::set<std::string> flags_;
  std::vector<std::string> positionals_;
  std::string error_;
};

}  // namespace weighbridge::app
