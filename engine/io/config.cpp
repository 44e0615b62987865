// Config defaults and checked merging.
#include "engine/io/config.h"

#include <fstream>
#include <sstream>

#include "engine/core/error.h"

namespace sprout::io {

const Json& default_config() {
  static const Json d = Json::parse(R"({
    "model": {"name": "mlp", "hidden": [1000, 1000, 1000], "num_classes": 10, "in_channels": 1,
              "stem": "imagenet", "width": 1.0},
    "data": {"name": "fashion-mnist", "root": "/usr/share/datasets/fashion-mnist",
             "workers": 2, "prefetch": 4, "options": {}},
    "train": {"epochs": 5, "batch_size": 128, "seed": 0, "max_steps": 0, "eval_batch_size": 1000,
              "label_smoothing": 0.0, "log_every": 100, "checkpoint_every_epoch": true,
              "threads": 0},
    "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": false,
                  "weight_decay": 0.0005, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
                  "lr_scale_batch": 0},
    "schedule": {"name": "cosine", "warmup_epochs": 0.0, "milestones": [], "gamma": 0.1},
    "sparsity": {"method": "dense", "density": 1.0, "distribution": "erk", "format": "csr",
                 "block": 4, "first_layer_dense": false, "last_layer_dense": false,
                 "update_every": 100, "drop_fraction": 0.3, "end_fraction": 0.75,
                 "init_density": 0.5, "final_density": 0.1, "prune_start_epoch": 0,
                 "prune_end_epoch": 3, "death_rate": 0.5, "death_rate_final": 0.005,
                 "zeta": 0.3, "er_epsilon": 20.0, "grow_init": "zero", "layerwise": false,
                 "kernel": "", "keep_transposes": false, "scale_init": false, "min_density": 0.0,
                 "k": 4, "warm_epochs": 2, "phi": 0.1, "fitness": "weight",
                 "lambda_pol": 1e-4, "lambda_s": 1.0, "pol_t": 1.2, "gate_blocks": false,
                 "dyrelu": true, "weight_sharing": false, "share_from": 2, "cyclic": true,
                 "cycles": 2, "cycle_epochs_fraction": 0.5, "cycle_max_multiplier": 3.0,
                 "cycle_length_multiplier": 1.0, "sparse_fan_in_init": true}
  })");
  return d;
}

static const char* type_name(const Json& j) {
  if (j.is_boolean()) return "boolean";
  if (j.is_number()) return "number";
  if (j.is_string()) return "string";
  if (j.is_array()) return "array";
  if (j.is_object()) return "object";
  return "null";
}

void merge_checked(Json& base, const Json& user, const std::string& where, const std::string& prefix) {
  SPROUT_CHECK(user.is_object(), where, ": ", prefix.empty() ? "top level" : prefix,
               " must be an object");
  for (auto it = user.begin(); it != user.end(); ++it) {
    std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (!base.contains(it.key())) SPROUT_FAIL(where, ": unknown key '", key, "'");
    Json& b = base[it.key()];
    const Json& u = it.value();
    if (it.key() == "options" && b.is_object()) {
      // A free-form section ("data.options"): its owner validates the keys.
      SPROUT_CHECK(u.is_object(), where, ": key '", key, "' must be an object");
      b = u;
      continue;
    }
    if (b.is_object()) {
      merge_checked(b, u, where, key);
      continue;
    }
    bool ok = (b.is_number() && u.is_number() && !u.is_boolean()) ||
              (b.is_boolean() && u.is_boolean()) || (b.is_string() && u.is_string()) ||
              (b.is_array() && u.is_array());
    if (!ok) SPROUT_FAIL(where, ": key '", key, "' must be a ", type_name(b), ", got ", type_name(u));
    if (b.is_number_integer() && !u.is_number_integer())
      SPROUT_FAIL(where, ": key '", key, "' must be an integer, got ", u.dump());
    b = u;
  }
}

void apply_override(Json& cfg, const std::string& assignment) {
  auto eq = assignment.find('=');
  SPROUT_CHECK(eq != std::string::npos && eq > 0, "--set '", assignment, "': expected key=value");
  std::string key = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  Json value = Json::parse(text, nullptr, false);
  if (value.is_discarded()) value = text;
  // Build {"a": {"b": value}} and merge it with the same checks as a file.
  Json patch = value;
  std::vector<std::string> parts;
  std::stringstream ss(key);
  for (std::string p; std::getline(ss, p, '.');) parts.push_back(p);
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) patch = Json{{*it, patch}};
  merge_checked(cfg, patch, "--set " + key);
}

Json load_config(const std::string& path, const std::vector<std::string>& overrides) {
  Json cfg = default_config();
  if (!path.empty()) {
    std::ifstream f(path);
    SPROUT_CHECK(f.good(), "cannot read config ", path);
    std::stringstream buf;
    buf << f.rdbuf();
    Json user;
    try {
      user = Json::parse(buf.str());
    } catch (const Json::parse_error& e) {
      SPROUT_FAIL("malformed JSON in ", path, ": ", e.what());
    }
    merge_checked(cfg, user, path);
  }
  for (const auto& o : overrides) apply_override(cfg, o);
  return cfg;
}

}  // namespace sprout::io
