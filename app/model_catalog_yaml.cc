#include "model_catalog_yaml.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>

#include "config.h"

namespace weighbridge::app {
namespace {

class Errors {
 public:
  explicit Errors(std::string_view file) : file_(file) {}
  void Add(const YAML::Node& at, const std::string& key, const std::string& what) {
    const YAML::Mark m = at.Mark();
    lines_ += file_ + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) + ": " +
              key + ": " + what + "\n";
  }
  bool empty() const { return lines_.empty(); }
  std::string Take() {
    if (!lines_.empty() && lines_.back() == '\n') lines_.pop_back();
    return std::move(lines_);
  }

 private:
  std::string file_;
  std::string lines_;
};

bool CheckKeys(const YAML::Node& map, const std::set<std::string>& allowed, const std::string& at,
               Errors* errors) {
  bool ok = true;
  for (const auto& kv : map) {
    const std::string k = kv.first.Scalar();
    if (allowed.count(k) == 0) {
      std::string list;
      for (const std::string& a : allowed) list += (list.empty() ? "" : ", ") + a;
      errors->Add(kv.first, at + "." + k, "unknown key (known: " + list + ")");
      ok = false;
    }
  }
  return ok;
}

bool ParseDouble(std::string_view text, double* out) {
  // std::from_chars for double is in libstdc++ 11+; it takes no locale and no leading '+'.
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, *out);
  return ec == std::errc() && p == end && std::isfinite(*out);
}

}  // namespace

bool ParseParamCount(std::string_view text, double* params) {
  double scale = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 'K':
        scale = 1e3;
        break;
      case 'M':
        scale = 1e6;
        break;
      case 'B':
        scale = 1e9;
        break;
      case 'T':
        scale = 1e12;
        break;
      default:
        break;
    }
    if (scale != 1) text.remove_suffix(1);
  }
  double v = 0;
  if (text.empty() || text.front() < '0' || text.front() > '9' || !ParseDouble(text, &v) ||
      v <= 0) {
    return false;
  }
  *params = v * scale;
  return true;
}

Status ParseModelCatalogText(std::string_view text, std::string_view name,
                             analytics::ModelCatalogSpec* spec) {
  Errors errors(name);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return Status::Error(std::string(name) + ":" + std::to_string(e.mark.line + 1) + ":" +
                         std::to_string(e.mark.column + 1) + ": not valid YAML: " + e.msg);
  }
  if (!root || root.IsNull()) return Status::Ok();  // an empty file adds nothing
  if (!root.IsMap()) {
    errors.Add(root, "(top)", "must be a map with `dtypes` and/or `models`");
    return Status::Error(errors.Take());
  }
  CheckKeys(root, {"dtypes", "models"}, "(top)", &errors);
  std::set<std::string> dtype_names;
  for (const analytics::DtypeSpec& d : spec->dtypes) dtype_names.insert(d.name);
  std::set<std::string> model_names;
  for (const analytics::ModelSpec& m : spec->models) model_names.insert(m.name);

  if (const YAML::Node dtypes = root["dtypes"]) {
    if (!dtypes.IsSequence()) {
      errors.Add(dtypes, "dtypes", "must be a list of {name, bits, overhead}");
    } else {
      for (std::size_t i = 0; i < dtypes.size(); ++i) {
        const YAML::Node d = dtypes[i];
        const std::string at = "dtypes[" + std::to_string(i) + "]";
        if (!d.IsMap()) {
          errors.Add(d, at, "must be a map {name, bits, overhead}");
          continue;
        }
        CheckKeys(d, {"name", "bits", "overhead"}, at, &errors);
        analytics::DtypeSpec out;
        const YAML::Node n = d["name"];
        if (!n || !n.IsScalar() || n.Scalar().empty()) {
          errors.Add(d, at + ".name", "required: a non-empty name");
        } else if (!dtype_names.insert(n.Scalar()).second) {
          errors.Add(n, at + ".name", "\"" + n.Scalar() + "\" is already defined");
        } else {
          out.name = n.Scalar();
        }
        const YAML::Node b = d["bits"];
        if (!b || !b.IsScalar() || !ParseDouble(b.Scalar(), &out.bits_per_param) ||
            out.bits_per_param <= 0 || out.bits_per_param > 64) {
          errors.Add(b ? b : d, at + ".bits", "required: bits per parameter, a number in (0, 64]");
        }
        if (const YAML::Node o = d["overhead"]) {
          std::uint32_t bp = 0;
          const std::string why = o.IsScalar() ? ParsePercent(o.Scalar(), &bp) : "not a scalar";
          if (!why.empty()) {
            errors.Add(o, at + ".overhead", why);
          } else {
            out.overhead_fraction = static_cast<double>(bp) / 10000.0;
          }
        }
        spec->dtypes.push_back(std::move(out));
      }
    }
  }
  if (const YAML::Node models = root["models"]) {
    if (!models.IsSequence()) {
      errors.Add(models, "models", "must be a list of {name, params, moe, source, dtypes}");
    } else {
      for (std::size_t i = 0; i < models.size(); ++i) {
        const YAML::Node m = models[i];
        const std::string at = "models[" + std::to_string(i) + "]";
        if (!m.IsMap()) {
          errors.Add(m, at, "must be a map {name, params, moe, source, dtypes}");
          continue;
        }
        CheckKeys(m, {"name", "params", "moe", "source", "dtypes"}, at, &errors);
        analytics::ModelSpec out;
        const YAML::Node n = m["name"];
        if (!n || !n.IsScalar() || n.Scalar().empty()) {
          errors.Add(m, at + ".name", "required: a non-empty name");
        } else if (!model_names.insert(n.Scalar()).second) {
          errors.Add(n, at + ".name", "\"" + n.Scalar() + "\" is already listed");
        } else {
          out.name = n.Scalar();
        }
        const YAML::Node p = m["params"];
        if (!p || !p.IsScalar() || !ParseParamCount(p.Scalar(), &out.params) || out.params < 1e6 ||
            out.params > 1e14) {
          errors.Add(p ? p : m, at + ".params",
                     "required: a parameter count between 1M and 100T, e.g. 8.03B or 1.04T");
        }
        if (const YAML::Node moe = m["moe"]) {
          if (!moe.IsScalar() || (moe.Scalar() != "true" && moe.Scalar() != "false")) {
            errors.Add(moe, at + ".moe", "must be true or false");
          } else {
            out.moe = moe.Scalar() == "true";
          }
        }
        if (const YAML::Node s = m["source"]) {
          if (!s.IsScalar()) {
            errors.Add(s, at + ".source", "must be text");
          } else {
            out.source = s.Scalar();
          }
        }
        if (const YAML::Node ds = m["dtypes"]) {
          if (!ds.IsSequence() || ds.size() == 0) {
            errors.Add(ds, at + ".dtypes", "must be a non-empty list of dtype names");
          } else {
            for (std::size_t j = 0; j < ds.size(); ++j) {
              const YAML::Node dn = ds[j];
              if (!dn.IsScalar() || dtype_names.count(dn.Scalar()) == 0) {
                errors.Add(dn, at + ".dtypes[" + std::to_string(j) + "]",
                           "not a defined dtype (define it under `dtypes` first)");
              } else {
                out.dtypes.push_back(dn.Scalar());
              }
            }
          }
        }
        spec->models.push_back(std::move(out));
      }
    }
  }
  if (!errors.empty()) return Status::Error(errors.Take());
  return Status::Ok();
}

Result<analytics::ModelCatalogSpec> LoadModelCatalog(const std::vector<std::string>& paths) {
  analytics::ModelCatalogSpec spec;
  for (const std::string& path : paths) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::Error(path + ": cannot read the model catalog");
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return Status::Error(path + ": read error");
    Status s = ParseModelCatalogText(text.str(), path, &spec);
    if (!s.ok()) return s;
  }
  return spec;
}

}  // namespace weighbridge::app
