#include "config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <optional>
#include <set>
#include <sstream>
#include <utility>

namespace weighbridge::app {
namespace {

// 128-bit intermediates make overflow checks of "number x unit" exact. __extension__ keeps
// -Wpedantic quiet about the GNU type.
__extension__ using Uint128 = unsigned __int128;

constexpr std::uint64_t kMaxConfigBytes = 1 << 20;
constexpr std::uint64_t kMaxSize = std::uint64_t{1} << 60;  // 1 EiB: beyond any real transfer
constexpr std::int64_t kMaxTimeout = 10 * kNanosPerMinute;  // longest wait for one HTTP request

struct Unit {
  std::string_view name;
  std::uint64_t factor;
};

// Largest first, so that formatting picks the largest unit that divides a value exactly.
constexpr Unit kSizeUnits[] = {
    {"PiB", std::uint64_t{1} << 50},
    {"PB", 1'000'000'000'000'000},
    {"TiB", std::uint64_t{1} << 40},
    {"TB", 1'000'000'000'000},
    {"GiB", std::uint64_t{1} << 30},
    {"GB", 1'000'000'000},
    {"MiB", std::uint64_t{1} << 20},
    {"MB", 1'000'000},
    {"KiB", 1024},
    {"KB", 1000},
    {"B", 1},
};
constexpr Unit kDurationUnits[] = {
    {"d", 86'400'000'000'000},
    {"h", 3'600'000'000'000},
    {"m", 60'000'000'000},
    {"s", 1'000'000'000},
    {"ms", 1'000'000},
    {"us", 1000},
    {"ns", 1},
};

// A decimal number at the start of `text`: digits, optionally "." and more digits.
struct Decimal {
  std::uint64_t whole = 0;
  std::uint64_t frac = 0;  // the digits after the point, as an integer
  int frac_digits = 0;
  std::size_t length = 0;  // characters consumed; 0 when there is no number
  bool overflow = false;
};

Decimal ReadDecimal(std::string_view text) {
  Decimal d;
  std::size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    const std::uint64_t digit = static_cast<std::uint64_t>(text[i] - '0');
    if (d.whole > (UINT64_MAX - digit) / 10) d.overflow = true;
    d.whole = d.whole * 10 + digit;
    ++i;
  }
  if (i == 0) return d;
  if (i < text.size() && text[i] == '.') {
    std::size_t j = i + 1;
    while (j < text.size() && text[j] >= '0' && text[j] <= '9') {
      if (d.frac_digits >= 18) {
        d.overflow = true;
      } else {
        d.frac = d.frac * 10 + static_cast<std::uint64_t>(text[j] - '0');
        ++d.frac_digits;
      }
      ++j;
    }
    if (j == i + 1) {  // "5." is not a number
      d.length = 0;
      return d;
    }
    i = j;
  }
  d.length = i;
  return d;
}

std::uint64_t Pow10(int n) {
  std::uint64_t p = 1;
  for (int i = 0; i < n; ++i) p *= 10;
  return p;
}

// number x factor, exactly. Returns nullopt when it overflows uint64 or is not a whole number.
std::optional<std::uint64_t> Scale(const Decimal& d, std::uint64_t factor, bool* inexact) {
  *inexact = false;
  const Uint128 whole = Uint128{d.whole} * factor;
  const Uint128 frac_scaled = Uint128{d.frac} * factor;
  const std::uint64_t div = Pow10(d.frac_digits);
  if (frac_scaled % div != 0) {
    *inexact = true;
    return std::nullopt;
  }
  const Uint128 total = whole + frac_scaled / div;
  if (d.overflow || total > UINT64_MAX) return std::nullopt;
  return static_cast<std::uint64_t>(total);
}

std::string Quoted(std::string_view s) {
  std::string out = "\"";
  out += s;
  out += '"';
  return out;
}

std::string FormatWithUnit(std::uint64_t v, const Unit* units, std::size_t n) {
  if (v == 0) return std::string("0") + std::string(units[n - 1].name);
  for (std::size_t i = 0; i < n; ++i) {
    if (v % units[i].factor == 0) {
      return std::to_string(v / units[i].factor) + std::string(units[i].name);
    }
  }
  return std::to_string(v) + std::string(units[n - 1].name);
}

// YAML double-quoted scalar. Loaded strings never hold control characters (the loader rejects
// them), so only the quote and the backslash need escaping.
std::string YamlString(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

bool ValidUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    int extra = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      extra = 1;
      cp = c & 0x1fu;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      cp = c & 0x0fu;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      cp = c & 0x07u;
    } else {
      return false;
    }
    if (i + static_cast<std::size_t>(extra) >= s.size()) return false;
    for (int k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3fu);
    }
    static constexpr std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += static_cast<std::size_t>(extra) + 1;
  }
  return true;
}

template <typename Names>
std::string JoinNames(const Names& names) {
  std::string out;
  for (const std::string_view n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

std::string_view NodeKind(const YAML::Node& n) {
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a mapping";
  if (n.IsNull()) return "nothing";
  return "a single value";
}

bool PrefixWithin(const Prefix& inner, const Prefix& outer) {
  return inner.IsV4() == outer.IsV4() && outer.length <= inner.length &&
         outer.Contains(inner.network);
}

bool WithinAny(const Prefix& p, const std::vector<Prefix>& set) {
  return std::any_of(set.begin(), set.end(), [&](const Prefix& q) { return PrefixWithin(p, q); });
}

std::string PrefixList(const std::vector<Prefix>& v) {
  std::string out;
  for (const Prefix& p : v) {
    if (!out.empty()) out += ", ";
    out += p.ToString();
  }
  return out;
}

// The value of `key` in mapping `map`, or a null node. For cross-field checks, after the mapping
// has been read (and its problems reported) once.
YAML::Node Child(const YAML::Node& map, std::string_view key) {
  if (!map.IsMap()) return YAML::Node();
  for (auto it = map.begin(); it != map.end(); ++it) {
    const YAML::Node k = it->first;
    if (k.IsScalar() && k.Scalar() == key) return it->second;
  }
  return YAML::Node();
}

// One key of a mapping, as found in the text.
struct Field {
  std::string key;
  YAML::Mark key_mark;
  YAML::Node value;
};

class Fields {
 public:
  const Field* Find(std::string_view key) const {
    for (const Field& f : fields_) {
      if (f.key == key) return &f;
    }
    return nullptr;
  }
  std::vector<Field>& all() { return fields_; }
  const std::vector<Field>& all() const { return fields_; }

 private:
  std::vector<Field> fields_;
};

// Walks the YAML tree section by section, filling a Config and collecting every problem.
class Loader {
 public:
  explicit Loader(std::string_view name) : name_(name) {}

  void Error(const YAML::Mark& m, std::string_view path, std::string_view message) {
    std::string line(name_);
    if (m.line >= 0 && m.column >= 0) {
      line += ':' + std::to_string(m.line + 1) + ':' + std::to_string(m.column + 1);
    }
    line += ": ";
    line += path.empty() ? std::string_view("(top level)") : path;
    line += ": ";
    line += message;
    errors_.push_back(std::move(line));
  }

  std::vector<std::string>& errors() { return errors_; }

  void Load(const YAML::Node& root, Config* c);

 private:
  static std::string Join(std::string_view path, std::string_view key) {
    if (path.empty()) return std::string(key);
    return std::string(path) + "." + std::string(key);
  }
  static std::string Index(std::string_view path, std::size_t i) {
    return std::string(path) + "[" + std::to_string(i) + "]";
  }
  // A node's own position, or `fallback` (its key's) for a null value: yaml-cpp places an empty
  // value where the next token starts, often on the following line.
  static YAML::Mark MarkOf(const YAML::Node& n, const YAML::Mark& fallback) {
    const YAML::Mark m = n.Mark();
    return m.line >= 0 && !n.IsNull() ? m : fallback;
  }

  // Reads a mapping, reporting unknown and duplicate keys. A null node (an empty section, `x:`)
  // counts as an empty mapping. Returns false when `node` is not a mapping at all.
  bool ReadMap(const YAML::Node& node, const YAML::Mark& where, std::string_view path,
               std::initializer_list<std::string_view> allowed, Fields* out) {
    if (node.IsNull()) return true;
    if (!node.IsMap()) {
      Error(MarkOf(node, where), path,
            "expected a mapping (key: value), got " + std::string(NodeKind(node)));
      return false;
    }
    std::set<std::string> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      // Copies: the iterator hands out a temporary pair.
      const YAML::Node k = it->first;
      if (!k.IsScalar()) {
        Error(MarkOf(k, where), path, "a key must be a plain name");
        continue;
      }
      const std::string key = k.Scalar();
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        Error(MarkOf(k, where), Join(path, key),
              "unknown key (accepted: " + JoinNames(allowed) + ")");
        continue;
      }
      if (!seen.insert(key).second) {
        Error(MarkOf(k, where), Join(path, key), "duplicate key");
        continue;
      }
      out->all().push_back(Field{key, MarkOf(k, where), it->second});
    }
    return true;
  }

  // The text of a single value. Null and collections are errors.
  std::optional<std::string> Scalar(const YAML::Node& n, const YAML::Mark& where,
                                    std::string_view path) {
    if (n.IsNull() && n.Tag() != "!") {
      Error(MarkOf(n, where), path, "missing value");
      return std::nullopt;
    }
    if (!n.IsScalar()) {
      Error(MarkOf(n, where), path, "expected a single value, got " + std::string(NodeKind(n)));
      return std::nullopt;
    }
    return n.Scalar();
  }

  std::optional<std::string> String(const YAML::Node& n, const YAML::Mark& where,
                                    std::string_view path, bool allow_empty) {
    std::optional<std::string> s = Scalar(n, where, path);
    if (!s) return s;
    const YAML::Mark m = MarkOf(n, where);
    for (const char c : *s) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f) {
        Error(m, path, "contains a control character (printable text only)");
        return std::nullopt;
      }
    }
    if (!ValidUtf8(*s)) {
      Error(m, path, "is not valid UTF-8");
      return std::nullopt;
    }
    if (!allow_empty && s->empty()) {
      Error(m, path, "must not be empty");
      return std::nullopt;
    }
    return s;
  }

  template <typename T>
  using Reader =
      std::function<std::optional<T>(const YAML::Node&, const YAML::Mark&, const std::string&)>;

  template <typename T>
  void ReadField(const Fields& f, std::string_view key, std::string_view path,
                 const Reader<T>& read, T* out) {
    const Field* field = f.Find(key);
    if (field == nullptr) return;
    std::optional<T> v = read(field->value, field->key_mark, Join(path, key));
    if (v) *out = std::move(*v);
  }

  Reader<std::string> StringReader(bool allow_empty) {
    return [this, allow_empty](const YAML::Node& n, const YAML::Mark& w, const std::string& p) {
      return String(n, w, p, allow_empty);
    };
  }

  Reader<std::uint64_t> UintReader(std::uint64_t min, std::uint64_t max) {
    return [this, min, max](const YAML::Node& n, const YAML::Mark& w,
                            const std::string& p) -> std::optional<std::uint64_t> {
      const std::optional<std::string> s = Scalar(n, w, p);
      if (!s) return std::nullopt;
      const std::string range = std::to_string(min) + " to " + std::to_string(max);
      const Decimal d = ReadDecimal(*s);
      if (d.length == 0 || d.length != s->size() || d.frac_digits != 0 || d.overflow) {
        Error(MarkOf(n, w), p, Quoted(*s) + " is not a whole number (" + range + ")");
        return std::nullopt;
      }
      if (d.whole < min || d.whole > max) {
        Error(MarkOf(n, w), p, Quoted(*s) + " is out of range (" + range + ")");
        return std::nullopt;
      }
      return d.whole;
    };
  }

  Reader<std::uint64_t> SizeReader(std::uint64_t min, std::uint64_t max) {
    return [this, min, max](const YAML::Node& n, const YAML::Mark& w,
                            const std::string& p) -> std::optional<std::uint64_t> {
      const std::optional<std::string> s = Scalar(n, w, p);
      if (!s) return std::nullopt;
      std::uint64_t v = 0;
      const std::string why = ParseSize(*s, &v);
      if (!why.empty()) {
        Error(MarkOf(n, w), p, why);
        return std::nullopt;
      }
      if (v < min || v > max) {
        Error(MarkOf(n, w), p,
              Quoted(*s) + " is out of range (" + FormatSize(min) + " to " + FormatSize(max) + ")");
        return std::nullopt;
      }
      return v;
    };
  }

  Reader<std::int64_t> DurationReader(std::int64_t min, std::int64_t max) {
    return [this, min, max](const YAML::Node& n, const YAML::Mark& w,
                            const std::string& p) -> std::optional<std::int64_t> {
      const std::optional<std::string> s = Scalar(n, w, p);
      if (!s) return std::nullopt;
      std::int64_t v = 0;
      const std::string why = ParseDuration(*s, &v);
      if (!why.empty()) {
        Error(MarkOf(n, w), p, why);
        return std::nullopt;
      }
      if (v < min || v > max) {
        Error(MarkOf(n, w), p,
              Quoted(*s) + " is out of range (" + FormatDuration(min) + " to " +
                  FormatDuration(max) + ")");
        return std::nullopt;
      }
      return v;
    };
  }

  Reader<bool> BoolReader() {
    return [this](const YAML::Node& n, const YAML::Mark& w,
                  const std::string& p) -> std::optional<bool> {
      const std::optional<std::string> s = Scalar(n, w, p);
      if (!s) return std::nullopt;
      if (*s == "true") return true;
      if (*s == "false") return false;
      Error(MarkOf(n, w), p, Quoted(*s) + " is not a boolean (true or false)");
      return std::nullopt;
    };
  }

  Reader<Prefix> PrefixReader() {
    return [this](const YAML::Node& n, const YAML::Mark& w,
                  const std::string& p) -> std::optional<Prefix> {
      const std::optional<std::string> s = String(n, w, p, false);
      if (!s) return std::nullopt;
      std::string why;
      std::optional<Prefix> prefix;
      const std::size_t slash = s->find('/');
      const std::string_view len_text =
          slash == std::string::npos ? std::string_view() : std::string_view(*s).substr(slash + 1);
      // Prefix::Parse's from_chars would take "-0"; a length is plain digits.
      if (slash != std::string::npos && (len_text.empty() || len_text.size() > 3 ||
                                         !std::all_of(len_text.begin(), len_text.end(), [](char c) {
                                           return c >= '0' && c <= '9';
                                         }))) {
        why = "prefix length must be a number of bits";
      } else {
        prefix = Prefix::Parse(*s, &why);
      }
      if (!prefix) {
        Error(MarkOf(n, w), p,
              Quoted(*s) + " is not a CIDR prefix: " + why + " (e.g. 10.0.0.0/8 or 2001:db8::/32)");
      }
      return prefix;
    };
  }

  Reader<ListenAddress> ListenReader() {
    return [this](const YAML::Node& n, const YAML::Mark& w,
                  const std::string& p) -> std::optional<ListenAddress> {
      const std::optional<std::string> s = String(n, w, p, false);
      if (!s) return std::nullopt;
      ListenAddress a;
      if (!ListenAddress::Parse(*s, &a)) {
        Error(MarkOf(n, w), p,
              Quoted(*s) +
                  " is not a listen address (an IP address and a port 1-65535: "
                  "127.0.0.1:9477 or [::1]:9477)");
        return std::nullopt;
      }
      return a;
    };
  }

  Reader<capture::Direction> DirectionReader() {
    return [this](const YAML::Node& n, const YAML::Mark& w,
                  const std::string& p) -> std::optional<capture::Direction> {
      const std::optional<std::string> s = Scalar(n, w, p);
      if (!s) return std::nullopt;
      for (int i = 0; i < static_cast<int>(capture::Direction::kCount); ++i) {
        const auto d = static_cast<capture::Direction>(i);
        if (*s == capture::DirectionName(d)) return d;
      }
      Error(MarkOf(n, w), p,
            Quoted(*s) + " is not a direction (inbound, outbound, internal or transit)");
      return std::nullopt;
    };
  }

  // A list of T. An empty list is allowed; a missing value or a single value is not.
  template <typename T>
  Reader<std::vector<T>> ListReader(Reader<T> item) {
    return [this, item](const YAML::Node& n, const YAML::Mark& w,
                        const std::string& p) -> std::optional<std::vector<T>> {
      if (!n.IsSequence()) {
        Error(
            MarkOf(n, w), p,
            "expected a list ([a, b] or one \"- item\" per line), got " + std::string(NodeKind(n)));
        return std::nullopt;
      }
      std::vector<T> out;
      bool ok = true;
      const YAML::Mark list_mark = MarkOf(n, w);
      for (std::size_t i = 0; i < n.size(); ++i) {
        std::optional<T> v = item(n[i], list_mark, Index(p, i));
        if (v) {
          out.push_back(std::move(*v));
        } else {
          ok = false;
        }
      }
      if (!ok) return std::nullopt;
      return out;
    };
  }

  // A list of mappings, each read by `item` into a T that starts from its defaults.
  template <typename T>
  Reader<std::vector<T>> ObjectListReader(
      std::function<bool(const YAML::Node&, const YAML::Mark&, const std::string&, T*)> item) {
    return [this, item](const YAML::Node& n, const YAML::Mark& w,
                        const std::string& p) -> std::optional<std::vector<T>> {
      if (!n.IsSequence()) {
        Error(
            MarkOf(n, w), p,
            "expected a list ([a, b] or one \"- item\" per line), got " + std::string(NodeKind(n)));
        return std::nullopt;
      }
      std::vector<T> out;
      const YAML::Mark list_mark = MarkOf(n, w);
      bool ok = true;
      for (std::size_t i = 0; i < n.size(); ++i) {
        T v{};
        if (item(n[i], list_mark, Index(p, i), &v)) {
          out.push_back(std::move(v));
        } else {
          ok = false;
        }
      }
      if (!ok) return std::nullopt;
      return out;
    };
  }

  // Runs `body` and says whether it reported no error.
  bool Clean(const std::function<void()>& body) {
    const std::size_t before = errors_.size();
    body();
    return errors_.size() == before;
  }

  void LoadSite(const YAML::Node& n, const YAML::Mark& w, const std::string& p,
                capture::SiteOptions* site);
  bool LoadCaptureSource(const YAML::Node& n, const YAML::Mark& w, const std::string& p,
                         CaptureSourceConfig* src);
  void LoadPipeline(const YAML::Node& n, const YAML::Mark& w, const std::string& p,
                    PipelineConfig* out);
  void LoadDecode(const YAML::Node& n, const YAML::Mark& w, const std::string& p,
                  capture::DecodeOptions* out, std::vector<std::string>* notes);
  void LoadExternalGroup(const YAML::Node& n, const YAML::Mark& w, const std::string& p,
                         ExternalGroupConfig* out);
  void LoadDetect(const YAML::Node& n, const YAML::Mark& w, const std::string& p,
                  const capture::SiteOptions* site, DetectConfig* out);
  void LoadPeerGroups(const Fields& f, const std::string& p, const capture::SiteOptions* site,
                      std::vector<PeerGroupConfig>* out);
  void LoadAlerts(const YAML::Node& n, const YAML::Mark& w, const std::string& p,
                  AlertsConfig* out);
  std::optional<std::string> Url(const YAML::Node& n, const YAML::Mark& w, const std::string& p);

  // Reports each prefix in `values` (parsed from the list node `list`) that lies outside `outer`.
  void CheckWithin(const YAML::Node& list, const YAML::Mark& where, const std::string& path,
                   const std::vector<Prefix>& values, const std::vector<Prefix>& outer,
                   std::string_view outer_name) {
    if (!list.IsSequence()) return;
    for (std::size_t i = 0; i < values.size() && i < list.size(); ++i) {
      if (WithinAny(values[i], outer)) continue;
      Error(MarkOf(list[i], where), Index(path, i),
            values[i].ToString() + " is not inside " + std::string(outer_name) + " (" +
                PrefixList(outer) + ")");
    }
  }

  std::string name_;
  std::vector<std::string> errors_;
};

void Loader::LoadSite(const YAML::Node& n, const YAML::Mark& w, const std::string& p,
                      capture::SiteOptions* site) {
  Fields f;
  if (!ReadMap(n, w, p, {"inside", "tenants"}, &f)) return;
  const bool inside_ok =
      Clean([&] { ReadField(f, "inside", p, ListReader<Prefix>(PrefixReader()), &site->inside); });
  auto tenant = [this](const YAML::Node& tn, const YAML::Mark& tw, const std::string& tp,
                       capture::TenantOptions* t) {
    return Clean([&] {
      Fields tf;
      if (!ReadMap(tn, tw, tp, {"name", "prefixes"}, &tf)) return;
      if (tn.IsNull() || tf.Find("name") == nullptr)
        Error(MarkOf(tn, tw), tp + ".name", "required");
      if (tn.IsNull() || tf.Find("prefixes") == nullptr) {
        Error(MarkOf(tn, tw), tp + ".prefixes", "required (a list of CIDR prefixes)");
      }
      ReadField(tf, "name", tp, StringReader(false), &t->name);
      ReadField(tf, "prefixes", tp, ListReader<Prefix>(PrefixReader()), &t->prefixes);
    });
  };
  const Field* tenants_field = f.Find("tenants");
  ReadField(f, "tenants", p, ObjectListReader<capture::TenantOptions>(tenant), &site->tenants);
  if (tenants_field == nullptr || !tenants_field->value.IsSequence()) return;
  if (site->tenants.size() > 65535) {
    Error(tenants_field->key_mark, p + ".tenants", "more than 65535 tenants");
  }
  std::set<std::string> names;
  for (std::size_t i = 0; i < site->tenants.size() && i < tenants_field->value.size(); ++i) {
    const YAML::Node& tn = tenants_field->value[i];
    const std::string tp = Index(p + ".tenants", i);
    if (!names.insert(site->tenants[i].name).second) {
      Error(MarkOf(tn, tenants_field->key_mark), tp + ".name",
            Quoted(site->tenants[i].name) + " is used by an earlier tenant (names are unique)");
    }
    if (!inside_ok) continue;
    CheckWithin(Child(tn, "prefixes"), MarkOf(tn, tenants_field->key_mark), tp + ".prefixes",
                site->tenants[i].prefixes, site->inside, "site.inside");
    if (site->tenants[i].prefixes.empty()) {
      Error(MarkOf(tn, tenants_field->key_mark), tp + ".prefixes", "must not be empty");
    }
  }
}

bool Loader::LoadCaptureSource(const YAML::Node& n, const YAML::Mark& w, const std::string& p,
                               CaptureSourceConfig* src) {
  return Clean([&] {
    Fields f;
    if (!ReadMap(n, w, p,
                 {"type", "interface", "snaplen", "buffer", "filter", "promiscuous", "timeout",
                  "eal", "ports", "queues", "scenario", "seed", "listen", "exporters"},
                 &f)) {
      return;
    }
    const YAML::Mark here = MarkOf(n, w);
    const Field* type_field = f.Find("type");
    if (type_field == nullptr) {
      Error(here, p + ".type", "required (pcap, dpdk, synth, sflow, ipfix or netflow)");
      return;
    }
    const std::optional<std::string> type =
        Scalar(type_field->value, type_field->key_mark, p + ".type");
    if (!type) return;
    const std::vector<std::string_view>* keys_ptr = nullptr;
    static const std::vector<std::string_view> kPcapKeys = {
        "type", "interface", "snaplen", "buffer", "filter", "promiscuous", "timeout"};
    static const std::vector<std::string_view> kDpdkKeys = {"type", "eal", "ports", "queues"};
    static const std::vector<std::string_view> kSynthKeys = {"type", "scenario", "seed"};
    static const std::vector<std::string_view> kFlowKeys = {"type", "listen", "exporters"};
    if (*type == "pcap") {
      src->type = CaptureType::kPcap;
      keys_ptr = &kPcapKeys;
    } else if (*type == "dpdk") {
      src->type = CaptureType::kDpdk;
      keys_ptr = &kDpdkKeys;
    } else if (*type == "synth") {
      src->type = CaptureType::kSynth;
      keys_ptr = &kSynthKeys;
    } else if (*type == "sflow" || *type == "ipfix" || *type == "netflow") {
      src->type = *type == "sflow"   ? CaptureType::kSflow
                  : *type == "ipfix" ? CaptureType::kIpfix
                                     : CaptureType::kNetflow;
      keys_ptr = &kFlowKeys;
    } else {
      Error(MarkOf(type_field->value, type_field->key_mark), p + ".type",
            Quoted(*type) + " is not a source type (pcap, dpdk, synth, sflow, ipfix or netflow)");
      return;
    }
    const std::vector<std::string_view>& keys = *keys_ptr;
    for (const Field& field : f.all()) {
      if (std::find(keys.begin(), keys.end(), field.key) == keys.end()) {
        Error(field.key_mark, p + "." + field.key,
              "not a key of a " + *type + " source (accepted: " + JoinNames(keys) + ")");
      }
    }
    auto require = [&](std::string_view key, std::string_view what) {
      if (f.Find(key) == nullptr) {
        Error(here, p + "." + std::string(key),
              "required for a " + *type + " source (" + std::string(what) + ")");
      }
    };
    switch (src->type) {
      case CaptureType::kPcap: {
        capture::LiveCaptureOptions& o = src->pcap;
        require("interface", "the interface to capture on, e.g. eth1");
        ReadField(f, "interface", p, StringReader(false), &o.interface);
        std::uint64_t snaplen = o.snaplen;
        ReadField(f, "snaplen", p, UintReader(64, 262144), &snaplen);
        o.snaplen = static_cast<std::uint32_t>(snaplen);
        // libpcap takes the buffer size as an int.
        ReadField(f, "buffer", p, SizeReader(std::uint64_t{1} << 20, std::uint64_t{1} << 30),
                  &o.buffer_bytes);
        ReadField(f, "filter", p, StringReader(true), &o.filter);
        ReadField(f, "promiscuous", p, BoolReader(), &o.promiscuous);
        std::int64_t timeout_ns = std::int64_t{o.timeout_ms} * 1'000'000;
        const Field* tf = f.Find("timeout");
        if (tf != nullptr) {
          ReadField(f, "timeout", p, DurationReader(1'000'000, kNanosPerSecond), &timeout_ns);
          if (timeout_ns % 1'000'000 != 0) {
            Error(MarkOf(tf->value, tf->key_mark), p + ".timeout",
                  "must be a whole number of milliseconds (1ms to 1s)");
          }
        }
        o.timeout_ms = static_cast<int>(timeout_ns / 1'000'000);
        break;
      }
      case CaptureType::kDpdk: {
        DpdkSourceConfig& o = src->dpdk;
        require("ports", "a list of DPDK port ids, e.g. [0]");
        ReadField(f, "eal", p, ListReader<std::string>(StringReader(false)), &o.eal);
        std::vector<std::uint64_t> ports;
        ReadField(f, "ports", p, ListReader<std::uint64_t>(UintReader(0, 65535)), &ports);
        const Field* pf = f.Find("ports");
        if (pf != nullptr && pf->value.IsSequence() && pf->value.size() == 0) {
          Error(MarkOf(pf->value, pf->key_mark), p + ".ports", "must not be empty");
        }
        std::set<std::uint64_t> seen;
        for (std::size_t i = 0; i < ports.size(); ++i) {
          if (!seen.insert(ports[i]).second) {
            Error(MarkOf(pf->value[i], pf->key_mark), Index(p + ".ports", i),
                  "port " + std::to_string(ports[i]) + " is listed twice");
          }
          o.ports.push_back(static_cast<std::uint16_t>(ports[i]));
        }
        std::uint64_t queues = o.queues;
        ReadField(f, "queues", p, UintReader(1, 64), &queues);
        o.queues = static_cast<std::uint16_t>(queues);
        break;
      }
      case CaptureType::kSynth:
        require("scenario", "the name of a built-in scenario");
        ReadField(f, "scenario", p, StringReader(false), &src->synth.scenario);
        ReadField(f, "seed", p, UintReader(0, UINT64_MAX), &src->synth.seed);
        break;
      case CaptureType::kSflow:
      case CaptureType::kIpfix:
      case CaptureType::kNetflow: {
        require("listen", "the UDP address to receive on, e.g. 0.0.0.0:6343");
        require("exporters", "prefixes of the exporters to accept, e.g. [192.0.2.1/32]");
        ReadField(f, "listen", p, ListenReader(), &src->flow.listen);
        ReadField(f, "exporters", p, ListReader<Prefix>(PrefixReader()), &src->flow.exporters);
        const Field* ef = f.Find("exporters");
        if (ef != nullptr && ef->value.IsSequence() && ef->value.size() == 0) {
          Error(MarkOf(ef->value, ef->key_mark), p + ".exporters",
                "must not be empty (datagrams from other senders are dropped)");
        }
        break;
      }
    }
  });
}

void Loader::LoadPipeline(const YAML::Node& n, const YAML::Mark& w, const std::string& p,
                          PipelineConfig* out) {
  Fields f;
  if (!ReadMap(n, w, p, {"workers", "flow_capacity", "idle_timeout", "active_timeout"}, &f)) return;
  std::uint64_t workers = out->workers;
  ReadField(f, "workers", p, UintReader(1, 64), &workers);
  out->workers = static_cast<unsigned>(workers);
  ReadField(f, "flow_capacity", p, UintReader(1024, std::uint64_t{1} << 32), &out->flow_capacity);
  ReadField(f, "idle_timeout", p, DurationReader(kNanosPerSecond / 1000, 30 * kNanosPerDay),
            &out->idle_timeout_ns);
  ReadField(f, "active_timeout", p, DurationReader(kNanosPerSecond / 1000, 30 * kNanosPerDay),
            &out->active_timeout_ns);
}

void Loader::LoadDecode(const YAML::Node& n, const YAML::Mark& w, const std::string& p,
                        capture::DecodeOptions* out, std::vector<std::string>* notes) {
  Fields f;
  if (!ReadMap(n, w, p, {"tunnels", "fragment_table_entries", "fragment_timeout"}, &f)) return;
  if (const Field* tf = f.Find("tunnels"); tf != nullptr) {
    const std::optional<std::string> s = Scalar(tf->value, tf->key_mark, p + ".tunnels");
    if (s && *s == "inner") {
      out->tunnels = capture::TunnelMode::kInner;
    } else if (s && *s == "outer") {
      out->tunnels = capture::TunnelMode::kOuter;
    } else if (s) {
      Error(MarkOf(tf->value, tf->key_mark), p + ".tunnels",
            Quoted(*s) + " is not a tunnel mode (inner or outer)");
    }
  }
  std::uint64_t entries = out->fragment_table_entries;
  ReadField(f, "fragment_table_entries", p, UintReader(1, std::uint64_t{1} << 24), &entries);
  out->fragment_table_entries = static_cast<std::uint32_t>(entries);
  if ((entries & (entries - 1)) != 0) {
    std::uint64_t rounded = 1;
    while (rounded < entries) rounded <<= 1;
    notes->push_back(p + ".fragment_table_entries: " + std::to_string(entries) +
                     " is rounded up to " + std::to_string(rounded) +
                     " by the decoder (a power of two)");
  }
  std::int64_t timeout_ns = out->fragment_timeout.ns;
  ReadField(f, "fragment_timeout", p, DurationReader(kNanosPerSecond / 1000, kNanosPerHour),
            &timeout_ns);
  out->fragment_timeout = StreamTime::FromNanos(timeout_ns);
}

void Loader::LoadExternalGroup(const YAML::Node& n, const YAML::Mark& w, const std::string& p,
                               ExternalGroupConfig* out) {
  Fields f;
  if (!ReadMap(n, w, p, {"ipv4_prefix", "ipv6_prefix"}, &f)) return;
  std::uint64_t v4 = static_cast<std::uint64_t>(out->ipv4_prefix_len);
  std::uint64_t v6 = static_cast<std::uint64_t>(out->ipv6_prefix_len);
  ReadField(f, "ipv4_prefix", p, UintReader(1, 32), &v4);
  ReadField(f, "ipv6_prefix", p, UintReader(1, 128), &v6);
  out->ipv4_prefix_len = static_cast<int>(v4);
  out->ipv6_prefix_len = static_cast<int>(v6);
}

void Loader::LoadDetect(const YAML::Node& n, const YAML::Mark& w, const std::string& p,
                        const capture::SiteOptions* site, DetectConfig* out) {
  Fields f;
  if (!ReadMap(n, w, p,
               {"weight_transfer", "ingest", "staging", "train_and_return", "allow", "sensitive",
                "peer_groups"},
               &f)) {
    return;
  }
  if (const Field* s = f.Find("weight_transfer"); s != nullptr) {
    const std::string sp = p + ".weight_transfer";
    WeightTransferConfig& o = out->weight_transfer;
    Fields sf;
    if (ReadMap(s->value, s->key_mark, sp,
                {"min_size", "gap", "external_group", "tolerance", "catalog", "extra_catalogs"},
                &sf)) {
      ReadField(sf, "min_size", sp, SizeReader(1, kMaxSize), &o.min_size_bytes);
      ReadField(sf, "gap", sp, DurationReader(kNanosPerSecond / 1000, 30 * kNanosPerDay),
                &o.gap_ns);
      if (const Field* g = sf.Find("external_group"); g != nullptr) {
        LoadExternalGroup(g->value, g->key_mark, sp + ".external_group", &o.external_group);
      }
      if (const Field* t = sf.Find("tolerance"); t != nullptr) {
        const std::optional<std::string> txt = Scalar(t->value, t->key_mark, sp + ".tolerance");
        std::uint32_t bp = 0;
        std::string why;
        if (txt) why = ParsePercent(*txt, &bp);
        if (txt && !why.empty()) {
          Error(MarkOf(t->value, t->key_mark), sp + ".tolerance", why);
        } else if (txt && (bp == 0 || bp > 5000)) {
          Error(MarkOf(t->value, t->key_mark), sp + ".tolerance",
                Quoted(*txt) + " is out of range (0.01% to 50%)");
        } else if (txt) {
          o.tolerance_basis_points = bp;
        }
      }
      ReadField(sf, "catalog", sp, StringReader(false), &o.catalog);
      ReadField(sf, "extra_catalogs", sp, ListReader<std::string>(StringReader(false)),
                &o.extra_catalogs);
    }
  }
  if (const Field* s = f.Find("ingest"); s != nullptr) {
    const std::string sp = p + ".ingest";
    Fields sf;
    if (ReadMap(s->value, s->key_mark, sp, {"external_group", "windows"}, &sf)) {
      if (const Field* g = sf.Find("external_group"); g != nullptr) {
        LoadExternalGroup(g->value, g->key_mark, sp + ".external_group",
                          &out->ingest.external_group);
      }
      auto window = [this](const YAML::Node& wn, const YAML::Mark& ww, const std::string& wp,
                           IngestWindowConfig* iw) {
        return Clean([&] {
          Fields wf;
          if (!ReadMap(wn, ww, wp, {"window", "threshold"}, &wf)) return;
          if (wn.IsNull() || wf.Find("window") == nullptr) {
            Error(MarkOf(wn, ww), wp + ".window", "required (a duration, e.g. 24h)");
          }
          if (wn.IsNull() || wf.Find("threshold") == nullptr) {
            Error(MarkOf(wn, ww), wp + ".threshold", "required (a size, e.g. 100TB)");
          }
          ReadField(wf, "window", wp, DurationReader(kNanosPerSecond, 365 * kNanosPerDay),
                    &iw->window_ns);
          ReadField(wf, "threshold", wp, SizeReader(1, kMaxSize), &iw->threshold_bytes);
        });
      };
      const Field* wl = sf.Find("windows");
      const bool windows_ok = Clean([&] {
        ReadField(sf, "windows", sp, ObjectListReader<IngestWindowConfig>(window),
                  &out->ingest.windows);
      });
      if (windows_ok && wl != nullptr && wl->value.IsSequence()) {
        const auto& v = out->ingest.windows;
        for (std::size_t i = 1; i < v.size() && i < wl->value.size(); ++i) {
          if (v[i].window_ns <= v[i - 1].window_ns) {
            Error(MarkOf(wl->value[i], wl->key_mark), Index(sp + ".windows", i) + ".window",
                  FormatDuration(v[i].window_ns) + " is not longer than the window before it (" +
                      FormatDuration(v[i - 1].window_ns) + "; list windows shortest first)");
          }
        }
      }
    }
  }
  if (const Field* s = f.Find("staging"); s != nullptr) {
    const std::string sp = p + ".staging";
    Fields sf;
    if (ReadMap(s->value, s->key_mark, sp,
                {"window", "threshold", "storage", "baseline", "baseline_max"}, &sf)) {
      ReadField(sf, "window", sp, DurationReader(kNanosPerSecond, 365 * kNanosPerDay),
                &out->staging.window_ns);
      ReadField(sf, "threshold", sp, SizeReader(1, kMaxSize), &out->staging.threshold_bytes);
      ReadField(sf, "baseline", sp, DurationReader(kNanosPerSecond, 365 * kNanosPerDay),
                &out->staging.baseline_ns);
      ReadField(sf, "baseline_max", sp, SizeReader(0, kMaxSize), &out->staging.baseline_max_bytes);
      const bool ok = Clean([&] {
        ReadField(sf, "storage", sp, ListReader<Prefix>(PrefixReader()), &out->staging.storage);
      });
      if (const Field* st = sf.Find("storage"); ok && st != nullptr && site != nullptr) {
        CheckWithin(st->value, st->key_mark, sp + ".storage", out->staging.storage, site->inside,
                    "site.inside");
      }
    }
  }
  if (const Field* s = f.Find("sensitive"); s != nullptr) {
    const std::string sp = p + ".sensitive";
    Fields sf;
    if (ReadMap(s->value, s->key_mark, sp, {"tenants", "prefixes"}, &sf)) {
      const bool names_ok = Clean([&] {
        ReadField(sf, "tenants", sp, ListReader<std::string>(StringReader(false)),
                  &out->sensitive.tenants);
      });
      ReadField(sf, "prefixes", sp, ListReader<Prefix>(PrefixReader()), &out->sensitive.prefixes);
      const Field* tf = sf.Find("tenants");
      if (names_ok && tf != nullptr && tf->value.IsSequence() && site != nullptr) {
        for (std::size_t i = 0; i < out->sensitive.tenants.size() && i < tf->value.size(); ++i) {
          const std::string& name = out->sensitive.tenants[i];
          const bool known =
              std::any_of(site->tenants.begin(), site->tenants.end(),
                          [&](const capture::TenantOptions& t) { return t.name == name; });
          if (!known) {
            Error(MarkOf(tf->value[i], tf->key_mark), Index(sp + ".tenants", i),
                  Quoted(name) + " is not a tenant in site.tenants");
          }
        }
      }
    }
  }
  if (const Field* s = f.Find("train_and_return"); s != nullptr) {
    const std::string sp = p + ".train_and_return";
    Fields sf;
    if (ReadMap(s->value, s->key_mark, sp, {"within"}, &sf)) {
      ReadField(sf, "within", sp, DurationReader(kNanosPerSecond, 365 * kNanosPerDay),
                &out->train_and_return.within_ns);
    }
  }
  auto rule = [this](const YAML::Node& rn, const YAML::Mark& rw, const std::string& rp,
                     AllowRuleConfig* r) {
    return Clean([&] {
      Fields rf;
      if (!ReadMap(rn, rw, rp, {"name", "prefixes", "directions"}, &rf)) return;
      if (rn.IsNull() || rf.Find("name") == nullptr)
        Error(MarkOf(rn, rw), rp + ".name", "required");
      if (rn.IsNull() || rf.Find("prefixes") == nullptr) {
        Error(MarkOf(rn, rw), rp + ".prefixes", "required (a list of CIDR prefixes)");
      }
      ReadField(rf, "name", rp, StringReader(false), &r->name);
      ReadField(rf, "prefixes", rp, ListReader<Prefix>(PrefixReader()), &r->prefixes);
      ReadField(rf, "directions", rp, ListReader<capture::Direction>(DirectionReader()),
                &r->directions);
      for (std::string_view key : {"prefixes", "directions"}) {
        const Field* lf = rf.Find(key);
        if (lf != nullptr && lf->value.IsSequence() && lf->value.size() == 0) {
          Error(MarkOf(lf->value, lf->key_mark), rp + "." + std::string(key), "must not be empty");
        }
      }
    });
  };
  const Field* af = f.Find("allow");
  ReadField(f, "allow", p, ObjectListReader<AllowRuleConfig>(rule), &out->allow);
  LoadPeerGroups(f, p, site, &out->peer_groups);
  if (af != nullptr && af->value.IsSequence()) {
    std::set<std::string> names;
    for (std::size_t i = 0; i < out->allow.size() && i < af->value.size(); ++i) {
      if (!names.insert(out->allow[i].name).second) {
        Error(MarkOf(af->value[i], af->key_mark), Index(p + ".allow", i) + ".name",
              Quoted(out->allow[i].name) + " is used by an earlier rule (names are unique)");
      }
    }
  }
}

void Loader::LoadPeerGroups(const Fields& f, const std::string& p, const capture::SiteOptions* site,
                            std::vector<PeerGroupConfig>* out) {
  auto group = [this, site](const YAML::Node& gn, const YAML::Mark& gw, const std::string& gp,
                            PeerGroupConfig* g) {
    return Clean([&] {
      Fields gf;
      if (!ReadMap(gn, gw, gp, {"name", "prefixes"}, &gf)) return;
      if (gn.IsNull() || gf.Find("name") == nullptr)
        Error(MarkOf(gn, gw), gp + ".name", "required");
      if (gn.IsNull() || gf.Find("prefixes") == nullptr) {
        Error(MarkOf(gn, gw), gp + ".prefixes", "required (a list of CIDR prefixes)");
      }
      ReadField(gf, "name", gp, StringReader(false), &g->name);
      ReadField(gf, "prefixes", gp, ListReader<Prefix>(PrefixReader()), &g->prefixes);
      if (const Field* lf = gf.Find("prefixes");
          lf != nullptr && lf->value.IsSequence() && lf->value.size() == 0) {
        Error(MarkOf(lf->value, lf->key_mark), gp + ".prefixes", "must not be empty");
      }
      // A peer group is outside the site: a prefix inside it would make the site its own peer.
      if (site != nullptr) {
        for (const Prefix& pr : g->prefixes) {
          for (const Prefix& in : site->inside) {
            if (PrefixWithin(pr, in) || PrefixWithin(in, pr)) {
              const Field* lf = gf.Find("prefixes");
              Error(MarkOf(lf->value, lf->key_mark), gp + ".prefixes",
                    pr.ToString() + " overlaps site.inside " + in.ToString() +
                        " (peer groups are external)");
            }
          }
        }
      }
    });
  };
  const Field* gf = f.Find("peer_groups");
  ReadField(f, "peer_groups", p, ObjectListReader<PeerGroupConfig>(group), out);
  if (gf != nullptr && gf->value.IsSequence()) {
    std::set<std::string> names;
    for (std::size_t i = 0; i < out->size() && i < gf->value.size(); ++i) {
      if (!names.insert((*out)[i].name).second) {
        Error(MarkOf(gf->value[i], gf->key_mark), Index(p + ".peer_groups", i) + ".name",
              Quoted((*out)[i].name) + " is used by an earlier group (names are unique)");
      }
    }
  }
}

std::optional<std::string> Loader::Url(const YAML::Node& n, const YAML::Mark& w,
                                       const std::string& p) {
  std::optional<std::string> s = String(n, w, p, false);
  if (!s) return s;
  const std::string_view v = *s;
  std::string_view rest;
  if (v.starts_with("http://")) {
    rest = v.substr(7);
  } else if (v.starts_with("https://")) {
    rest = v.substr(8);
  }
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  std::string why;
  if (rest.empty() && !(v.starts_with("http://") || v.starts_with("https://"))) {
    why = "is not an http:// or https:// URL";
  } else if (authority.empty()) {
    why = "has no host";
  } else if (authority.find('@') != std::string_view::npos) {
    why = "carries credentials; secrets never go in the config (use secret_file or secret_env)";
  } else if (v.find(' ') != std::string_view::npos) {
    why = "contains a space";
  }
  if (!why.empty()) {
    Error(MarkOf(n, w), p, Quoted(v) + " " + why + " (e.g. https://hooks.example.com/weighbridge)");
    return std::nullopt;
  }
  return s;
}

void Loader::LoadAlerts(const YAML::Node& n, const YAML::Mark& w, const std::string& p,
                        AlertsConfig* out) {
  Fields f;
  if (!ReadMap(
          n, w, p,
          {"log", "webhooks", "alertmanager", "retry", "alertmanager_resend", "site", "sensor"},
          &f)) {
    return;
  }
  if (const Field* rf = f.Find("retry"); rf != nullptr) {
    Fields r;
    const std::string rp = p + ".retry";
    if (ReadMap(rf->value, rf->key_mark, rp, {"initial_backoff", "max_backoff", "max_age"}, &r)) {
      ReadField(r, "initial_backoff", rp, DurationReader(kNanosPerSecond / 1000, kNanosPerHour),
                &out->retry.initial_backoff_ns);
      ReadField(r, "max_backoff", rp, DurationReader(kNanosPerSecond / 1000, kNanosPerDay),
                &out->retry.max_backoff_ns);
      ReadField(r, "max_age", rp, DurationReader(kNanosPerSecond, 365 * kNanosPerDay),
                &out->retry.max_age_ns);
      if (out->retry.max_backoff_ns < out->retry.initial_backoff_ns) {
        Error(MarkOf(rf->value, rf->key_mark), rp + ".max_backoff",
              "is shorter than initial_backoff");
      }
    }
  }
  ReadField(f, "alertmanager_resend", p, DurationReader(kNanosPerSecond, kNanosPerHour),
            &out->alertmanager_resend_ns);
  ReadField(f, "site", p, StringReader(true), &out->site);
  ReadField(f, "sensor", p, StringReader(true), &out->sensor);
  ReadField(f, "log", p, StringReader(true), &out->log_path);
  auto hook = [this](const YAML::Node& hn, const YAML::Mark& hw, const std::string& hp,
                     WebhookConfig* h) {
    return Clean([&] {
      Fields hf;
      if (!ReadMap(hn, hw, hp,
                   {"name", "url", "secret_file", "secret_env", "headers", "timeout", "ca_file"},
                   &hf)) {
        return;
      }
      const YAML::Mark here = MarkOf(hn, hw);
      if (hn.IsNull() || hf.Find("name") == nullptr) Error(here, hp + ".name", "required");
      if (hn.IsNull() || hf.Find("url") == nullptr) Error(here, hp + ".url", "required");
      const bool has_file = hf.Find("secret_file") != nullptr;
      const bool has_env = hf.Find("secret_env") != nullptr;
      if (has_file == has_env) {
        Error(here, hp + ".secret_file",
              has_file ? "give only one of secret_file and secret_env"
                       : "required: secret_file (a path) or secret_env (an environment variable); "
                         "the secret itself never goes in the config");
      }
      ReadField(hf, "name", hp, StringReader(false), &h->name);
      if (const Field* u = hf.Find("url"); u != nullptr) {
        if (auto url = Url(u->value, u->key_mark, hp + ".url")) h->url = *url;
      }
      ReadField(hf, "secret_file", hp, StringReader(false), &h->secret_file);
      if (const Field* e = hf.Find("secret_env"); e != nullptr) {
        const auto env = String(e->value, e->key_mark, hp + ".secret_env", false);
        const bool name_ok = env && !(env->front() >= '0' && env->front() <= '9') &&
                             std::all_of(env->begin(), env->end(), [](char c) {
                               return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                                      (c >= '0' && c <= '9') || c == '_';
                             });
        if (env && !name_ok) {
          Error(MarkOf(e->value, e->key_mark), hp + ".secret_env",
                Quoted(*env) + " is not an environment variable name (letters, digits, _)");
        } else if (env) {
          h->secret_env = *env;
        }
      }
      if (const Field* hd = hf.Find("headers"); hd != nullptr) {
        const std::string hdp = hp + ".headers";
        if (!hd->value.IsNull() && !hd->value.IsMap()) {
          Error(MarkOf(hd->value, hd->key_mark), hdp,
                "expected a mapping (Header-Name: value), got " + std::string(NodeKind(hd->value)));
        } else {
          std::set<std::string> seen;
          for (auto it = hd->value.begin(); it != hd->value.end(); ++it) {
            const YAML::Node hk = it->first;
            const YAML::Node hv = it->second;
            const YAML::Mark km = MarkOf(hk, hd->key_mark);
            const auto name = String(hk, hd->key_mark, hdp, false);
            if (!name) continue;
            const std::string kp = hdp + "." + *name;
            std::string lower = *name;
            std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) {
              return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
            });
            const bool token = std::all_of(name->begin(), name->end(), [](char c) {
              return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
            });
            if (!token) {
              Error(km, kp, "is not an HTTP header name (letters, digits and -)");
              continue;
            }
            if (lower == "x-weighbridge-signature" || lower == "idempotency-key" ||
                lower == "content-type" || lower == "content-length" || lower == "host") {
              Error(km, kp, "is set by weighbridge itself and cannot be overridden");
              continue;
            }
            if (lower == "authorization" || lower == "proxy-authorization" || lower == "cookie") {
              Error(km, kp, "would put a credential in the config (use secret_file or secret_env)");
              continue;
            }
            if (!seen.insert(lower).second) {
              Error(km, kp, "duplicate header (names are case-insensitive)");
              continue;
            }
            if (auto value = String(hv, km, kp, true)) h->headers[*name] = *value;
          }
        }
      }
      ReadField(hf, "timeout", hp, DurationReader(kNanosPerSecond / 1000, kMaxTimeout),
                &h->timeout_ns);
      ReadField(hf, "ca_file", hp, StringReader(false), &h->ca_file);
    });
  };
  const Field* wf = f.Find("webhooks");
  ReadField(f, "webhooks", p, ObjectListReader<WebhookConfig>(hook), &out->webhooks);
  if (wf != nullptr && wf->value.IsSequence()) {
    std::set<std::string> names;
    for (std::size_t i = 0; i < out->webhooks.size() && i < wf->value.size(); ++i) {
      if (!names.insert(out->webhooks[i].name).second) {
        Error(MarkOf(wf->value[i], wf->key_mark), Index(p + ".webhooks", i) + ".name",
              Quoted(out->webhooks[i].name) + " is used by an earlier webhook (names are unique)");
      }
    }
  }
  auto am = [this](const YAML::Node& an, const YAML::Mark& aw, const std::string& ap,
                   AlertmanagerConfig* a) {
    return Clean([&] {
      Fields af;
      if (!ReadMap(an, aw, ap, {"url", "timeout", "ca_file"}, &af)) return;
      if (an.IsNull() || af.Find("url") == nullptr) Error(MarkOf(an, aw), ap + ".url", "required");
      if (const Field* u = af.Find("url"); u != nullptr) {
        if (auto url = Url(u->value, u->key_mark, ap + ".url")) a->url = *url;
      }
      ReadField(af, "timeout", ap, DurationReader(kNanosPerSecond / 1000, kMaxTimeout),
                &a->timeout_ns);
      ReadField(af, "ca_file", ap, StringReader(false), &a->ca_file);
    });
  };
  ReadField(f, "alertmanager", p, ObjectListReader<AlertmanagerConfig>(am), &out->alertmanager);
}

void Loader::Load(const YAML::Node& root, Config* c) {
  const YAML::Mark start = YAML::Mark();  // line 0, column 0
  Fields top;
  if (!ReadMap(root, start, "",
               {"site", "capture", "pipeline", "decode", "detect", "history", "metrics", "alerts",
                "daemon", "export"},
               &top)) {
    return;
  }
  bool site_ok = true;
  if (const Field* s = top.Find("site"); s != nullptr) {
    site_ok = Clean([&] { LoadSite(s->value, s->key_mark, "site", &c->site); });
  }
  if (const Field* s = top.Find("capture"); s != nullptr) {
    auto source = [this](const YAML::Node& n, const YAML::Mark& w, const std::string& p,
                         CaptureSourceConfig* src) { return LoadCaptureSource(n, w, p, src); };
    ReadField(top, "capture", "", ObjectListReader<CaptureSourceConfig>(source), &c->capture);
    // Two sources on one interface or one UDP address would fight over it.
    if (s->value.IsSequence()) {
      std::set<std::string> seen;
      for (std::size_t i = 0; i < c->capture.size() && i < s->value.size(); ++i) {
        const CaptureSourceConfig& src = c->capture[i];
        std::string key;
        if (src.type == CaptureType::kPcap) key = "interface " + src.pcap.interface;
        if (src.type == CaptureType::kSflow || src.type == CaptureType::kIpfix ||
            src.type == CaptureType::kNetflow) {
          key = "listen address " + src.flow.listen.ToString();
        }
        if (!key.empty() && !seen.insert(key).second) {
          Error(MarkOf(s->value[i], s->key_mark), Index("capture", i),
                key + " is used by an earlier source");
        }
      }
    }
  }
  if (const Field* s = top.Find("pipeline"); s != nullptr) {
    LoadPipeline(s->value, s->key_mark, "pipeline", &c->pipeline);
  }
  if (const Field* s = top.Find("decode"); s != nullptr) {
    LoadDecode(s->value, s->key_mark, "decode", &c->decode, &c->notes);
  }
  if (const Field* s = top.Find("detect"); s != nullptr) {
    LoadDetect(s->value, s->key_mark, "detect", site_ok ? &c->site : nullptr, &c->detect);
  }
  if (const Field* s = top.Find("history"); s != nullptr) {
    Fields f;
    if (ReadMap(s->value, s->key_mark, "history",
                {"path", "retention", "transfers_retention", "alerts_retention", "size_budget",
                 "sync", "sync_interval", "queue_capacity"},
                &f)) {
      HistoryConfig& h = c->history;
      const std::int64_t kMaxRetention = 100 * 365 * kNanosPerDay;
      ReadField(f, "path", "history", StringReader(true), &h.path);
      ReadField(f, "retention", "history", DurationReader(kNanosPerHour, kMaxRetention),
                &h.retention_ns);
      ReadField(f, "transfers_retention", "history", DurationReader(kNanosPerHour, kMaxRetention),
                &h.transfers_retention_ns);
      ReadField(f, "alerts_retention", "history", DurationReader(kNanosPerHour, kMaxRetention),
                &h.alerts_retention_ns);
      ReadField(f, "size_budget", "history", SizeReader(0, UINT64_MAX), &h.size_budget_bytes);
      ReadField(f, "sync", "history", StringReader(false), &h.sync);
      ReadField(f, "sync_interval", "history",
                DurationReader(kNanosPerSecond / 1000, kNanosPerHour), &h.sync_interval_ns);
      ReadField(f, "queue_capacity", "history", UintReader(1024, 1u << 26), &h.queue_capacity);
      if (const Field* sf = f.Find("sync");
          sf != nullptr && h.sync != "every_batch" && h.sync != "interval") {
        Error(MarkOf(sf->value, sf->key_mark), "history.sync",
              Quoted(h.sync) + " is not a sync policy (every_batch or interval)");
      }
    }
  }
  if (const Field* s = top.Find("metrics"); s != nullptr) {
    Fields f;
    if (ReadMap(s->value, s->key_mark, "metrics",
                {"listen", "health_listen", "top_k", "top_window"}, &f)) {
      ReadField(f, "listen", "metrics", ListenReader(), &c->metrics.listen);
      ReadField(f, "health_listen", "metrics", ListenReader(), &c->metrics.health_listen);
      ReadField(f, "top_k", "metrics", UintReader(1, 1000), &c->metrics.top_k);
      ReadField(f, "top_window", "metrics", DurationReader(kNanosPerSecond, kNanosPerDay),
                &c->metrics.top_window_ns);
      if (c->metrics.listen == c->metrics.health_listen && f.Find("health_listen") != nullptr) {
        const Field* hf = f.Find("health_listen");
        Error(MarkOf(hf->value, hf->key_mark), "metrics.health_listen",
              "is the same address as metrics.listen (each needs its own port)");
      }
    }
  }
  if (const Field* s = top.Find("daemon"); s != nullptr) {
    Fields f;
    if (ReadMap(s->value, s->key_mark, "daemon",
                {"user", "log_format", "log_level", "stats_interval"}, &f)) {
      ReadField(f, "user", "daemon", StringReader(true), &c->daemon.user);
      ReadField(f, "log_format", "daemon", StringReader(false), &c->daemon.log_format);
      ReadField(f, "log_level", "daemon", StringReader(false), &c->daemon.log_level);
      ReadField(f, "stats_interval", "daemon", DurationReader(kNanosPerSecond, kNanosPerDay),
                &c->daemon.stats_interval_ns);
      if (const Field* ff = f.Find("log_format");
          ff != nullptr && c->daemon.log_format != "text" && c->daemon.log_format != "json") {
        Error(MarkOf(ff->value, ff->key_mark), "daemon.log_format",
              Quoted(c->daemon.log_format) + " is not a log format (text or json)");
      }
      if (const Field* lf = f.Find("log_level"); lf != nullptr) {
        const std::string& l = c->daemon.log_level;
        if (l != "debug" && l != "info" && l != "warning" && l != "error") {
          Error(MarkOf(lf->value, lf->key_mark), "daemon.log_level",
                Quoted(l) + " is not a log level (debug, info, warning or error)");
        }
      }
    }
  }
  if (const Field* s = top.Find("alerts"); s != nullptr) {
    LoadAlerts(s->value, s->key_mark, "alerts", &c->alerts);
  }
  if (const Field* s = top.Find("export"); s != nullptr) {
    Fields f;
    if (ReadMap(s->value, s->key_mark, "export", {"ipfix"}, &f)) {
      auto one = [this](const YAML::Node& n, const YAML::Mark& w, const std::string& p,
                        IpfixExportConfig* e) {
        return Clean([&] {
          Fields ef;
          if (!ReadMap(n, w, p,
                       {"collector", "observation_domain", "max_message_bytes", "template_refresh"},
                       &ef)) {
            return;
          }
          if (n.IsNull() || ef.Find("collector") == nullptr) {
            Error(MarkOf(n, w), p + ".collector", "required (address:port of the collector)");
          }
          ReadField(ef, "collector", p, ListenReader(), &e->collector);
          ReadField(ef, "observation_domain", p, UintReader(0, UINT32_MAX), &e->observation_domain);
          // At least one data record of the largest template (IPv6: 66 bytes) with its headers;
          // at most what one UDP datagram holds.
          ReadField(ef, "max_message_bytes", p, UintReader(256, 65507), &e->max_message_bytes);
          ReadField(ef, "template_refresh", p, UintReader(1, 100000), &e->template_refresh);
        });
      };
      ReadField(f, "ipfix", "export", ObjectListReader<IpfixExportConfig>(one),
                &c->flow_export.ipfix);
    }
  }
}

void Line(std::ostringstream& o, int indent, std::string_view text) {
  o << std::string(static_cast<std::size_t>(indent), ' ') << text << '\n';
}

std::string PrefixesYaml(const std::vector<Prefix>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out += ", ";
    out += YamlString(v[i].ToString());
  }
  return out + "]";
}

std::string ExternalGroupYaml(const ExternalGroupConfig& g) {
  return "{ipv4_prefix: " + std::to_string(g.ipv4_prefix_len) +
         ", ipv6_prefix: " + std::to_string(g.ipv6_prefix_len) + "}";
}

// Sees the parser's events only to count documents and find where the second one starts.
class DocumentCounter : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents == 2) second_start = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  int documents = 0;
  YAML::Mark second_start;
};

// Whether some line after the first starts with a "---" document marker.
bool HasDocumentMarker(std::string_view text) {
  std::size_t pos = text.find('\n');
  while (pos != std::string_view::npos) {
    const std::string_view line = text.substr(pos + 1);
    if (line.starts_with("---")) return true;
    pos = text.find('\n', pos + 1);
  }
  return false;
}

}  // namespace

std::string ListenAddress::ToString() const {
  return EndpointString(address, port);
}

bool ListenAddress::Parse(std::string_view text, ListenAddress* out) {
  std::string_view host;
  std::string_view port;
  if (text.starts_with("[")) {
    const std::size_t close = text.find("]:");
    if (close == std::string_view::npos) return false;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    // Brackets are for IPv6 only.
    if (host.find(':') == std::string_view::npos) return false;
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return false;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return false;  // IPv6 needs brackets
  }
  if (host.empty() || host.find('\0') != std::string_view::npos) return false;
  const Decimal d = ReadDecimal(port);
  if (d.length == 0 || d.length != port.size() || d.frac_digits != 0 || d.overflow || d.whole < 1 ||
      d.whole > 65535 || port.size() > 5) {
    return false;
  }
  const std::optional<IpAddress> a = IpAddress::Parse(host);
  if (!a) return false;
  // "[::ffff:1.2.3.4]" parses as an IPv4 address; it would print without brackets, so insist
  // on the plain IPv4 form to keep one spelling per address.
  if (text.starts_with("[") && a->IsV4()) return false;
  out->address = *a;
  out->port = static_cast<std::uint16_t>(d.whole);
  return true;
}

std::string_view CaptureTypeName(CaptureType t) {
  switch (t) {
    case CaptureType::kPcap:
      return "pcap";
    case CaptureType::kDpdk:
      return "dpdk";
    case CaptureType::kSynth:
      return "synth";
    case CaptureType::kSflow:
      return "sflow";
    case CaptureType::kIpfix:
      return "ipfix";
    case CaptureType::kNetflow:
      return "netflow";
  }
  return "unknown";
}

std::string ParseSize(std::string_view text, std::uint64_t* bytes) {
  const Decimal d = ReadDecimal(text);
  const std::string_view unit = text.substr(d.length);
  const std::string accepted =
      "(a number and a unit: B, KB, MB, GB, TB, PB, KiB, MiB, GiB, TiB, PiB)";
  if (d.length > 0) {
    for (const Unit& u : kSizeUnits) {
      if (unit != u.name && !(unit.empty() && u.factor == 1)) continue;
      bool inexact = false;
      const std::optional<std::uint64_t> v = Scale(d, u.factor, &inexact);
      if (inexact) return Quoted(text) + " is not a whole number of bytes";
      if (!v) return Quoted(text) + " is too large (at most 16EiB)";
      *bytes = *v;
      return "";
    }
  }
  // Suggest the two spellings an operator most likely meant, e.g. "16 G" -> 16GB or 16GiB.
  std::string_view rest = unit;
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  if (d.length > 0 && !rest.empty()) {
    const char c = static_cast<char>(
        rest.front() >= 'a' && rest.front() <= 'z' ? rest.front() - 'a' + 'A' : rest.front());
    if (std::strchr("KMGTP", c) != nullptr) {
      const std::string num(text.substr(0, d.length));
      return Quoted(text) + " is not a size (try " + num + c + "B or " + num + c + "iB)";
    }
  }
  return Quoted(text) + " is not a size " + accepted;
}

std::string ParseDuration(std::string_view text, std::int64_t* ns) {
  const Decimal d = ReadDecimal(text);
  const std::string_view unit = text.substr(d.length);
  if (d.length > 0) {
    for (const Unit& u : kDurationUnits) {
      if (unit != u.name) continue;
      bool inexact = false;
      const std::optional<std::uint64_t> v = Scale(d, u.factor, &inexact);
      if (inexact) return Quoted(text) + " is not a whole number of nanoseconds";
      if (!v || *v > static_cast<std::uint64_t>(INT64_MAX)) return Quoted(text) + " is too long";
      *ns = static_cast<std::int64_t>(*v);
      return "";
    }
    if (unit.empty()) {
      return Quoted(text) + " has no unit (try " + std::string(text) + "s or " + std::string(text) +
             "ms)";
    }
  }
  return Quoted(text) +
         " is not a duration (a number and a unit: ns, us, ms, s, m, h, d; e.g. 10m)";
}

std::string ParsePercent(std::string_view text, std::uint32_t* basis_points) {
  const Decimal d = ReadDecimal(text);
  if (d.length > 0 && d.length == text.size()) {
    return Quoted(text) + " has no % sign (try " + std::string(text) + "%)";
  }
  if (d.length == 0 || text.substr(d.length) != "%" || d.overflow) {
    return Quoted(text) + " is not a percentage (e.g. 2% or 0.5%)";
  }
  if (d.frac_digits > 2) return Quoted(text) + " has more than two decimals (e.g. 0.25%)";
  const std::uint64_t bp = d.whole * 100 + d.frac * (d.frac_digits == 1 ? 10 : 1);
  if (d.whole > 100 || bp > 10000) return Quoted(text) + " is more than 100%";
  *basis_points = static_cast<std::uint32_t>(bp);
  return "";
}

std::string FormatSize(std::uint64_t bytes) {
  return FormatWithUnit(bytes, kSizeUnits, std::size(kSizeUnits));
}

std::string FormatDuration(std::int64_t ns) {
  if (ns < 0)
    return "-" + FormatWithUnit(static_cast<std::uint64_t>(-(ns + 1)) + 1, kDurationUnits,
                                std::size(kDurationUnits));
  return FormatWithUnit(static_cast<std::uint64_t>(ns), kDurationUnits, std::size(kDurationUnits));
}

std::string FormatPercent(std::uint32_t basis_points) {
  std::string out = std::to_string(basis_points / 100);
  const std::uint32_t frac = basis_points % 100;
  if (frac != 0) {
    out += '.';
    out += static_cast<char>('0' + frac / 10);
    if (frac % 10 != 0) out += static_cast<char>('0' + frac % 10);
  }
  return out + "%";
}

std::variant<Config, ConfigErrors> LoadConfigText(std::string_view text, std::string_view name) {
  Loader loader(name);
  Config config;
  // YAML allows no control characters but tab, LF and CR, and yaml-cpp 0.7 can loop forever on a
  // NUL byte (found by tests/fuzz/config_fuzz.cc), so they are refused before it sees the text.
  YAML::Mark at;
  for (const char ch : text) {
    const auto u = static_cast<unsigned char>(ch);
    if ((u < 0x20 && u != '\t' && u != '\n' && u != '\r') || u == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      loader.Error(at, "",
                   std::string("YAML syntax error: control character 0x") + kHex[u >> 4] +
                       kHex[u & 15] + " is not allowed");
      return ConfigErrors{std::move(loader.errors())};
    }
    if (ch == '\n') {
      ++at.line;
      at.column = 0;
    } else {
      ++at.column;
    }
  }
  try {
    // Counts documents first, at most two. YAML::LoadAll is not used: on stray flow tokens
    // (",x" at the top level) yaml-cpp 0.7 returns empty documents forever without consuming
    // input, and YAML::Load would read such text as an empty, valid config.
    const std::string owned(text);
    std::istringstream in(owned);
    YAML::Parser parser(in);
    DocumentCounter counter;
    for (int i = 0; i < 2 && parser.HandleNextDocument(counter); ++i) {
    }
    if (counter.documents > 1) {
      loader.Error(counter.second_start, "",
                   HasDocumentMarker(owned)
                       ? "only one YAML document is allowed (a second \"---\")"
                       : "YAML syntax error: unexpected content here (a stray ',', ']' or '}'?)");
    } else if (counter.documents == 1) {
      loader.Load(YAML::Load(owned), &config);
    }
  } catch (const YAML::Exception& e) {
    // Syntax errors (and yaml-cpp's nesting-depth guard) carry the position of the problem.
    std::string msg = e.msg;
    loader.Error(e.mark, "", "YAML syntax error: " + msg);
  } catch (const std::exception& e) {
    loader.Error(YAML::Mark::null_mark(), "", std::string("cannot parse: ") + e.what());
  }
  if (!loader.errors().empty()) {
    // In file order, whatever order the sections were checked in. Every line starts
    // "NAME:LINE:COL: " (the name may itself hold colons, so the numbers are read after it).
    const std::size_t skip = name.size() + 1;
    auto position = [skip](const std::string& e) {
      std::pair<long, long> pos{0, 0};
      if (e.size() > skip) {
        char* end = nullptr;
        pos.first = std::strtol(e.c_str() + skip, &end, 10);
        if (end != nullptr && *end == ':') pos.second = std::strtol(end + 1, nullptr, 10);
      }
      return pos;
    };
    std::stable_sort(
        loader.errors().begin(), loader.errors().end(),
        [&](const std::string& a, const std::string& b) { return position(a) < position(b); });
    return ConfigErrors{std::move(loader.errors())};
  }
  if (config.site.inside.empty()) {  // also for an empty file: notes derive from values only
    config.notes.push_back(
        "site.inside: empty, so every packet is transit and no inbound or outbound transfer is "
        "seen");
  }
  return config;
}

std::variant<Config, ConfigErrors> LoadConfigFile(const std::string& path) {
  auto fail = [&](std::string why) { return ConfigErrors{{path + ": " + std::move(why)}}; };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail("not a regular file");
  }
  std::string text;
  char buf[65536];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return fail(std::string("cannot read: ") + std::strerror(err));
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxConfigBytes) {
      ::close(fd);
      return fail("larger than 1MiB; is this a config file?");
    }
  }
  ::close(fd);
  return LoadConfigText(text, path);
}

Config DefaultConfig() {
  // Loading nothing: the member initialisers, plus the notes the loader derives from them.
  return std::get<Config>(LoadConfigText("", "defaults"));
}

std::string ExplainConfig(const Config& c) {
  std::ostringstream o;
  o << "# weighbridge effective configuration: every key, defaults filled in.\n";
  for (const std::string& note : c.notes) o << "# note: " << note << '\n';
  o << "site:\n";
  Line(o, 2, "inside: " + PrefixesYaml(c.site.inside));
  if (c.site.tenants.empty()) {
    Line(o, 2, "tenants: []");
  } else {
    Line(o, 2, "tenants:");
    for (const auto& t : c.site.tenants) {
      Line(o, 4, "- name: " + YamlString(t.name));
      Line(o, 6, "prefixes: " + PrefixesYaml(t.prefixes));
    }
  }
  if (c.capture.empty()) {
    o << "capture: []\n";
  } else {
    o << "capture:\n";
    for (const CaptureSourceConfig& s : c.capture) {
      Line(o, 2, "- type: " + std::string(CaptureTypeName(s.type)));
      switch (s.type) {
        case CaptureType::kPcap:
          Line(o, 4, "interface: " + YamlString(s.pcap.interface));
          Line(o, 4, "snaplen: " + std::to_string(s.pcap.snaplen));
          Line(o, 4, "buffer: " + FormatSize(s.pcap.buffer_bytes));
          Line(o, 4, "filter: " + YamlString(s.pcap.filter));
          Line(o, 4, std::string("promiscuous: ") + (s.pcap.promiscuous ? "true" : "false"));
          Line(o, 4, "timeout: " + std::to_string(s.pcap.timeout_ms) + "ms");
          break;
        case CaptureType::kDpdk: {
          std::string eal = "eal: [";
          for (std::size_t i = 0; i < s.dpdk.eal.size(); ++i) {
            eal += (i > 0 ? ", " : "") + YamlString(s.dpdk.eal[i]);
          }
          Line(o, 4, eal + "]");
          std::string ports = "ports: [";
          for (std::size_t i = 0; i < s.dpdk.ports.size(); ++i) {
            ports += (i > 0 ? ", " : "") + std::to_string(s.dpdk.ports[i]);
          }
          Line(o, 4, ports + "]");
          Line(o, 4, "queues: " + std::to_string(s.dpdk.queues));
          break;
        }
        case CaptureType::kSynth:
          Line(o, 4, "scenario: " + YamlString(s.synth.scenario));
          Line(o, 4, "seed: " + std::to_string(s.synth.seed));
          break;
        case CaptureType::kSflow:
        case CaptureType::kIpfix:
        case CaptureType::kNetflow:
          Line(o, 4, "listen: " + YamlString(s.flow.listen.ToString()));
          Line(o, 4, "exporters: " + PrefixesYaml(s.flow.exporters));
          break;
      }
    }
  }
  o << "pipeline:\n";
  Line(o, 2, "workers: " + std::to_string(c.pipeline.workers));
  Line(o, 2, "flow_capacity: " + std::to_string(c.pipeline.flow_capacity));
  Line(o, 2, "idle_timeout: " + FormatDuration(c.pipeline.idle_timeout_ns));
  Line(o, 2, "active_timeout: " + FormatDuration(c.pipeline.active_timeout_ns));
  o << "decode:\n";
  Line(o, 2,
       std::string("tunnels: ") +
           (c.decode.tunnels == capture::TunnelMode::kInner ? "inner" : "outer"));
  Line(o, 2, "fragment_table_entries: " + std::to_string(c.decode.fragment_table_entries));
  Line(o, 2, "fragment_timeout: " + FormatDuration(c.decode.fragment_timeout.ns));
  const DetectConfig& d = c.detect;
  o << "detect:\n";
  Line(o, 2, "weight_transfer:");
  Line(o, 4, "min_size: " + FormatSize(d.weight_transfer.min_size_bytes));
  Line(o, 4, "gap: " + FormatDuration(d.weight_transfer.gap_ns));
  Line(o, 4, "external_group: " + ExternalGroupYaml(d.weight_transfer.external_group));
  Line(o, 4, "tolerance: " + FormatPercent(d.weight_transfer.tolerance_basis_points));
  Line(o, 4, "catalog: " + YamlString(d.weight_transfer.catalog));
  {
    std::string extra = "extra_catalogs: [";
    for (std::size_t i = 0; i < d.weight_transfer.extra_catalogs.size(); ++i) {
      extra += (i > 0 ? ", " : "") + YamlString(d.weight_transfer.extra_catalogs[i]);
    }
    Line(o, 4, extra + "]");
  }
  Line(o, 2, "ingest:");
  Line(o, 4, "external_group: " + ExternalGroupYaml(d.ingest.external_group));
  if (d.ingest.windows.empty()) {
    Line(o, 4, "windows: []");
  } else {
    Line(o, 4, "windows:");
    for (const IngestWindowConfig& w : d.ingest.windows) {
      Line(o, 6,
           "- {window: " + FormatDuration(w.window_ns) +
               ", threshold: " + FormatSize(w.threshold_bytes) + "}");
    }
  }
  Line(o, 2, "staging:");
  Line(o, 4, "window: " + FormatDuration(d.staging.window_ns));
  Line(o, 4, "threshold: " + FormatSize(d.staging.threshold_bytes));
  Line(o, 4, "storage: " + PrefixesYaml(d.staging.storage));
  Line(o, 4, "baseline: " + FormatDuration(d.staging.baseline_ns));
  Line(o, 4, "baseline_max: " + FormatSize(d.staging.baseline_max_bytes));
  Line(o, 2, "train_and_return: {within: " + FormatDuration(d.train_and_return.within_ns) + "}");
  {
    std::string names = "tenants: [";
    for (std::size_t i = 0; i < d.sensitive.tenants.size(); ++i) {
      names += (i == 0 ? "" : ", ") + YamlString(d.sensitive.tenants[i]);
    }
    Line(o, 2, "sensitive:");
    Line(o, 4, names + "]");
    Line(o, 4, "prefixes: " + PrefixesYaml(d.sensitive.prefixes));
  }
  if (d.allow.empty()) {
    Line(o, 2, "allow: []");
  } else {
    Line(o, 2, "allow:");
    for (const AllowRuleConfig& r : d.allow) {
      Line(o, 4, "- name: " + YamlString(r.name));
      Line(o, 6, "prefixes: " + PrefixesYaml(r.prefixes));
      std::string dirs = "directions: [";
      for (std::size_t i = 0; i < r.directions.size(); ++i) {
        dirs += (i > 0 ? ", " : "") + std::string(capture::DirectionName(r.directions[i]));
      }
      Line(o, 6, dirs + "]");
    }
  }
  if (d.peer_groups.empty()) {
    Line(o, 2, "peer_groups: []");
  } else {
    Line(o, 2, "peer_groups:");
    for (const PeerGroupConfig& g : d.peer_groups) {
      Line(o, 4, "- name: " + YamlString(g.name));
      Line(o, 6, "prefixes: " + PrefixesYaml(g.prefixes));
    }
  }
  o << "history:\n";
  Line(o, 2, "path: " + YamlString(c.history.path));
  Line(o, 2, "retention: " + FormatDuration(c.history.retention_ns));
  Line(o, 2, "transfers_retention: " + FormatDuration(c.history.transfers_retention_ns));
  Line(o, 2, "alerts_retention: " + FormatDuration(c.history.alerts_retention_ns));
  Line(o, 2, "size_budget: " + FormatSize(c.history.size_budget_bytes));
  Line(o, 2, "sync: " + c.history.sync);
  Line(o, 2, "sync_interval: " + FormatDuration(c.history.sync_interval_ns));
  Line(o, 2, "queue_capacity: " + std::to_string(c.history.queue_capacity));
  o << "metrics:\n";
  Line(o, 2, "listen: " + YamlString(c.metrics.listen.ToString()));
  Line(o, 2, "health_listen: " + YamlString(c.metrics.health_listen.ToString()));
  Line(o, 2, "top_k: " + std::to_string(c.metrics.top_k));
  Line(o, 2, "top_window: " + FormatDuration(c.metrics.top_window_ns));
  o << "alerts:\n";
  Line(o, 2, "log: " + YamlString(c.alerts.log_path));
  if (c.alerts.webhooks.empty()) {
    Line(o, 2, "webhooks: []");
  } else {
    Line(o, 2, "webhooks:");
    for (const WebhookConfig& h : c.alerts.webhooks) {
      Line(o, 4, "- name: " + YamlString(h.name));
      Line(o, 6, "url: " + YamlString(h.url));
      if (!h.secret_file.empty()) Line(o, 6, "secret_file: " + YamlString(h.secret_file));
      if (!h.secret_env.empty()) Line(o, 6, "secret_env: " + YamlString(h.secret_env));
      if (h.headers.empty()) {
        Line(o, 6, "headers: {}");
      } else {
        Line(o, 6, "headers:");
        for (const auto& [k, v] : h.headers) Line(o, 8, YamlString(k) + ": " + YamlString(v));
      }
      Line(o, 6, "timeout: " + FormatDuration(h.timeout_ns));
      if (!h.ca_file.empty()) Line(o, 6, "ca_file: " + YamlString(h.ca_file));
    }
  }
  if (c.alerts.alertmanager.empty()) {
    Line(o, 2, "alertmanager: []");
  } else {
    Line(o, 2, "alertmanager:");
    for (const AlertmanagerConfig& a : c.alerts.alertmanager) {
      Line(o, 4, "- url: " + YamlString(a.url));
      Line(o, 6, "timeout: " + FormatDuration(a.timeout_ns));
      if (!a.ca_file.empty()) Line(o, 6, "ca_file: " + YamlString(a.ca_file));
    }
  }
  Line(o, 2, "retry:");
  Line(o, 4, "initial_backoff: " + FormatDuration(c.alerts.retry.initial_backoff_ns));
  Line(o, 4, "max_backoff: " + FormatDuration(c.alerts.retry.max_backoff_ns));
  Line(o, 4, "max_age: " + FormatDuration(c.alerts.retry.max_age_ns));
  Line(o, 2, "alertmanager_resend: " + FormatDuration(c.alerts.alertmanager_resend_ns));
  Line(o, 2, "site: " + YamlString(c.alerts.site));
  Line(o, 2, "sensor: " + YamlString(c.alerts.sensor));
  o << "daemon:\n";
  Line(o, 2, "user: " + YamlString(c.daemon.user));
  Line(o, 2, "log_format: " + c.daemon.log_format);
  Line(o, 2, "log_level: " + c.daemon.log_level);
  Line(o, 2, "stats_interval: " + FormatDuration(c.daemon.stats_interval_ns));
  o << "export:\n";
  if (c.flow_export.ipfix.empty()) {
    Line(o, 2, "ipfix: []");
  } else {
    Line(o, 2, "ipfix:");
    for (const IpfixExportConfig& e : c.flow_export.ipfix) {
      Line(o, 4, "- collector: " + YamlString(e.collector.ToString()));
      Line(o, 6, "observation_domain: " + std::to_string(e.observation_domain));
      Line(o, 6, "max_message_bytes: " + std::to_string(e.max_message_bytes));
      Line(o, 6, "template_refresh: " + std::to_string(e.template_refresh));
    }
  }
  return o.str();
}

}  // namespace weighbridge::app
