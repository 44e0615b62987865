// The method registry: every registered name builds and trains a few steps, option
// errors name the key, an unknown method lists the known ones, and the "sparsity"
// defaults built from the declarations equal the section the config had before.
#include <cmath>
#include <string>

#include "engine/core/error.h"
#include "engine/nn/init.h"
#include "engine/sparsity/factory.h"
#include "engine/sparsity/registry.h"
#include "method_harness.h"
#include "models/models.h"

namespace sprout::sparsity {
namespace {

using Json = nlohmann::json;

// The config's "sparsity" section as engine/io/config.cpp's default_config() spelled
// it before the methods declared their options: the reference the defaults must meet.
const char* kSectionBefore = R"({
    "method": "dense", "density": 1.0, "distribution": "erk", "format": "csr",
    "block": 4, "first_layer_dense": false, "last_layer_dense": false,
    "update_every": 100, "drop_fraction": 0.3, "end_fraction": 0.75,
    "init_density": 0.5, "final_density": 0.1, "prune_start_epoch": 0,
    "prune_end_epoch": 3, "death_rate": 0.5, "death_rate_final": 0.005,
    "zeta": 0.3, "er_epsilon": 20.0, "grow_init": "zero", "layerwise": false,
    "kernel": "", "keep_transposes": "auto", "dense_compute_above": 0.3, "scale_init": false, "min_density": 0.0,
    "grow": "exact", "grow_budget_bytes": 67108864, "grow_candidates": 10,
    "k": 4, "warm_epochs": 2, "phi": 0.1, "fitness": "weight",
    "lambda_pol": 1e-4, "lambda_s": 1.0, "pol_t": 1.2, "gate_blocks": false,
    "dyrelu": true, "weight_sharing": false, "share_from": 2, "cyclic": true,
    "cycles": 2, "cycle_epochs_fraction": 0.5, "cycle_max_multiplier": 3.0,
    "cycle_length_multiplier": 1.0, "sparse_fan_in_init": true})";

// The message make_sparsifier throws for `section` on a small MLP ("" when it builds).
std::string build_error(const Json& section) {
  nn::init_rng().seed_with(1);
  auto model = models::mlp(24, {40, 30}, 5);
  try {
    make_sparsifier(section, *model, 1);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

Json section(const std::string& method, const std::string& key, const Json& value) {
  Json s = sparsity_defaults();
  s["method"] = method;
  s[key] = value;
  return s;
}

TEST(Registry, EveryMethodBuildsAndTrains) {
  ASSERT_EQ(methods().names().size(), 13u);
  for (const std::string& name : methods().names()) {
    SCOPED_TRACE(name);
    Harness h({{"method", name}, {"density", 0.2}}, 2, 2);
    EXPECT_EQ(h.sp->name(), name);
    EXPECT_FALSE(methods().at(name).help.empty());
    for (int i = 0; i < 4; ++i) EXPECT_TRUE(std::isfinite(h.run_step()));
  }
}

TEST(Registry, RangeErrorsNameTheKey) {
  struct Case {
    std::string method, key;
    Json value;
    std::string message;
  };
  const Case cases[] = {
      {"rigl", "density", 1.5, "sparsity.density must be in (0, 1], got 1.5"},
      {"rigl", "update_every", 0, "sparsity.update_every must be >= 1, got 0"},
      {"rigl", "drop_fraction", 2, "sparsity.drop_fraction must be in [0, 1], got 2"},
      {"static", "block", 40, "sparsity.block must be in [1, 32], got 40"},
      {"static", "format", "coo", "sparsity.format must be one of: csr, bsr, got 'coo'"},
      {"static", "distribution", "erx", "sparsity.distribution must be one of: uniform, er, erk, got 'erx'"},
      {"static", "min_density", -0.1, "sparsity.min_density must be in [0, 1], got -0.1"},
      {"granet", "update_every", 2.5, "sparsity.update_every must be an integer, got 2.5"},
      {"granet", "death_rate", 1.5, "sparsity.death_rate must be in [0, 1], got 1.5"},
      {"gmp", "final_density", 0, "sparsity.final_density must be in (0, 1], got 0"},
      {"set", "zeta", 1.0, "sparsity.zeta must be in [0, 1), got 1.0"},
      {"set", "grow_init", "gradient", "sparsity.grow_init must be one of: zero, got 'gradient'"},
      {"kstarts", "k", 0, "sparsity.k must be >= 1, got 0"},
      {"kstarts", "fitness", "loss", "sparsity.fitness must be one of: weight, gradient, both, got 'loss'"},
      {"dissipating", "warm_epochs", 0, "sparsity.warm_epochs must be >= 1, got 0"},
      {"kstarts_dissipating", "phi", -1, "sparsity.phi must be >= 0, got -1"},
      {"polarize", "lambda_s", -1, "sparsity.lambda_s must be >= 0, got -1"},
      {"east", "cycles", 0, "sparsity.cycles must be >= 1, got 0"},
      {"east", "dyrelu", 1, "sparsity.dyrelu must be true or false, got 1"},
  };
  for (const Case& c : cases) {
    std::string msg = build_error(section(c.method, c.key, c.value));
    EXPECT_EQ(msg.substr(0, c.message.size()), c.message) << c.key;
  }
}

TEST(Registry, CrossFieldChecksStay) {
  Json s = section("granet", "init_density", 0.2);
  s["final_density"] = 0.3;
  EXPECT_NE(build_error(s).find("sparsity.final_density 0.3 must be in (0, init_density 0.2]"), std::string::npos);
  s = section("set", "format", "bsr");
  s["density"] = 0.5;
  EXPECT_NE(build_error(s).find("sparsity.format bsr is supported with methods"), std::string::npos);
}

TEST(Registry, UnknownMethodListsTheKnownNames) {
  std::string msg = build_error(section("nope", "density", 0.5));
  EXPECT_NE(msg.find("sparsity.method: unknown 'nope'"), std::string::npos) << msg;
  for (const std::string& name : methods().names()) EXPECT_NE(msg.find(name), std::string::npos) << name;
}

// Same value, and an integer stays an integer (the config's checked merge keys on it).
bool same_kind(const Json& a, const Json& b) {
  return a == b && a.is_number_integer() == b.is_number_integer() && a.is_number_float() == b.is_number_float();
}

TEST(Registry, DefaultsAreTheSectionsDefaultsBefore) {
  const Json want = Json::parse(kSectionBefore), got = sparsity_defaults();
  for (auto it = want.begin(); it != want.end(); ++it) {
    ASSERT_TRUE(got.contains(it.key())) << it.key();
    EXPECT_TRUE(same_kind(got[it.key()], it.value())) << it.key() << ": " << got[it.key()].dump();
  }
  for (auto it = got.begin(); it != got.end(); ++it) EXPECT_TRUE(want.contains(it.key())) << it.key();
}

TEST(Registry, CommonOptionsAreTheSharedOnes) {
  std::vector<std::string> names;
  for (const OptionInfo& o : common_options()) names.push_back(o.name);
  EXPECT_EQ(names, (std::vector<std::string>{"method", "density", "distribution", "format", "block",
                                             "first_layer_dense", "last_layer_dense", "er_epsilon", "min_density",
                                             "kernel", "keep_transposes", "dense_compute_above", "scale_init", "grow",
                                             "grow_budget_bytes", "grow_candidates"}));
  for (const OptionInfo& o : common_options()) EXPECT_FALSE(o.help.empty()) << o.name;
  for (const auto& e : methods().entries())
    for (const OptionInfo& o : e.options) {
      EXPECT_FALSE(o.help.empty()) << e.name << " " << o.name;
      for (const std::string& common : names) EXPECT_NE(o.name, common) << e.name << " redeclares a common option";
    }
}

}  // namespace
}  // namespace sprout::sparsity
