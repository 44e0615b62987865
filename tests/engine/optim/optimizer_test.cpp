// engine/optim: SGD (momentum, Nesterov, weight decay) and AdamW over three steps against
// torch.optim.SGD / torch.optim.AdamW's update rules written out here in double; the
// optimizer and schedule registries' options and errors; schedules against their formulas.
#include <cmath>
#include <functional>
#include <string>

#include "engine/core/error.h"
#include "engine/optim/optimizer.h"
#include "engine/optim/registry.h"
#include "testing.h"

namespace sprout::optim {
namespace {

using Json = nlohmann::json;
using testing::randn;

// ---- the update rules, as torch.optim writes them (dampening 0, amsgrad off) ----------

// torch.optim.SGD: d = g + wd w; buf = d on the first step, else momentum buf + d;
// d = nesterov ? d + momentum buf : buf; w -= lr d.
struct SgdReference {
  SgdOptions o;
  std::vector<double> buf;
  void step(std::vector<double>& w, const std::vector<double>& g, double lr) {
    const bool first = buf.empty();
    if (first) buf.assign(w.size(), 0.0);
    for (size_t i = 0; i < w.size(); ++i) {
      double d = g[i] + o.weight_decay * w[i];
      if (o.momentum != 0) {
        buf[i] = first ? d : o.momentum * buf[i] + d;
        d = o.nesterov ? d + o.momentum * buf[i] : buf[i];
      }
      w[i] -= lr * d;
    }
  }
};

// torch.optim.AdamW: w *= 1 - lr wd; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
// w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
struct AdamWReference {
  AdamWOptions o;
  std::vector<double> m, v;
  int t = 0;
  void step(std::vector<double>& w, const std::vector<double>& g, double lr) {
    if (m.empty()) {
      m.assign(w.size(), 0.0);
      v.assign(w.size(), 0.0);
    }
    ++t;
    const double bc1 = 1 - std::pow(o.beta1, t), bc2 = 1 - std::pow(o.beta2, t);
    for (size_t i = 0; i < w.size(); ++i) {
      w[i] *= 1 - lr * o.weight_decay;
      m[i] = o.beta1 * m[i] + (1 - o.beta1) * g[i];
      v[i] = o.beta2 * v[i] + (1 - o.beta2) * g[i] * g[i];
      const double denom = std::sqrt(v[i]) / std::sqrt(bc2) + o.eps;
      w[i] -= lr / bc1 * m[i] / denom;
    }
  }
};

void expect_close(const std::vector<double>& got, const std::vector<double>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], 1e-13 * std::max(1.0, std::fabs(want[i]))) << what << " [" << i << "]";
}

// Three float64 parameters of odd sizes; the last never gets a gradient and must not
// move. Each step sets fresh gradients, steps at that step's rate, runs `reference` on
// the same numbers and compares every parameter (after step 1, 2 and 3).
struct Params {
  std::vector<Tensor> w{randn({7}, 1), randn({3, 5}, 2), randn({4}, 3)};
  std::vector<nn::ParamRef> refs() {
    return {{"a", &w[0], nullptr}, {"b", &w[1], nullptr}, {"frozen", &w[2], nullptr}};
  }
};

using ReferenceStep = std::function<void(size_t param, std::vector<double>& w, const std::vector<double>& g, double lr)>;

void run_three_steps(Optimizer& opt, Params& ps, const ReferenceStep& reference) {
  const double lrs[] = {0.1, 0.03, 0.07};  // the schedule's rate changes between steps
  std::vector<std::vector<double>> want;
  for (const Tensor& w : ps.w) want.push_back(w.to_vector<double>());
  for (int s = 0; s < 3; ++s) {
    for (size_t i = 0; i + 1 < ps.w.size(); ++i) {
      Tensor g = randn(ps.w[i].shape(), 100 + 10 * (uint64_t)s + i);
      ps.w[i].set_grad(g);
      reference(i, want[i], g.to_vector<double>(), lrs[s]);
    }
    opt.step(lrs[s]);
    for (size_t i = 0; i < ps.w.size(); ++i)
      expect_close(ps.w[i].to_vector<double>(), want[i], "step " + std::to_string(s + 1) + " param " + std::to_string(i));
  }
  EXPECT_EQ(opt.steps, 3);
}

void check_sgd(SgdOptions o) {
  Params ps;
  Sgd opt(ps.refs(), o);
  std::vector<SgdReference> ref(2, SgdReference{o, {}});
  run_three_steps(opt, ps, [&](size_t i, std::vector<double>& w, const std::vector<double>& g, double lr) {
    ref[i].step(w, g, lr);
  });
  if (o.momentum == 0) {
    EXPECT_TRUE(opt.state_of(0).empty());
    return;
  }
  for (size_t i = 0; i < 2; ++i) expect_close(opt.state_of(i)[0]->to_vector<double>(), ref[i].buf, "momentum");
}

TEST(Sgd, PlainWithWeightDecayMatchesTorch) {
  check_sgd({0.0, 0.0, false});
  check_sgd({0.0, 0.01, false});
}

TEST(Sgd, MomentumMatchesTorch) { check_sgd({0.9, 5e-4, false}); }

TEST(Sgd, NesterovMatchesTorch) {
  check_sgd({0.9, 0.0, true});
  check_sgd({0.8, 0.02, true});
}

void check_adamw(AdamWOptions o) {
  Params ps;
  AdamW opt(ps.refs(), o);
  std::vector<AdamWReference> ref(2, AdamWReference{o, {}, {}, 0});
  run_three_steps(opt, ps, [&](size_t i, std::vector<double>& w, const std::vector<double>& g, double lr) {
    ref[i].step(w, g, lr);
  });
  for (size_t i = 0; i < 2; ++i) {
    expect_close(opt.state_of(i)[0]->to_vector<double>(), ref[i].m, "exp_avg");
    expect_close(opt.state_of(i)[1]->to_vector<double>(), ref[i].v, "exp_avg_sq");
  }
}

TEST(AdamW, MatchesTorchOverOneAndThreeSteps) {
  check_adamw({0.9, 0.999, 1e-8, 0.01});
  check_adamw({0.8, 0.99, 1e-3, 0.1});  // a large eps and decay make both terms count
}

// ---- the registries ------------------------------------------------------------------

std::vector<nn::ParamRef> no_params() { return {}; }

// The message building `name` from `section` throws ("" when it builds).
std::string optimizer_error(const Json& section) {
  try {
    optimizers().at(section.value("name", "")).make(section, no_params());
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(OptimizerRegistry, BuildsSgdAndAdamWFromTheirSection) {
  EXPECT_EQ(optimizers().names(), (std::vector<std::string>{"sgd", "adamw"}));
  auto sgd = optimizers().at("sgd").make(
      Json{{"name", "sgd"}, {"lr", 0.2}, {"momentum", 0.5}, {"nesterov", true}, {"weight_decay", 0.01}}, no_params());
  auto* s = dynamic_cast<Sgd*>(sgd.get());
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->name(), "sgd");
  EXPECT_EQ(s->opt.momentum, 0.5);
  EXPECT_EQ(s->opt.weight_decay, 0.01);
  EXPECT_TRUE(s->opt.nesterov);
  // Absent keys take the declared defaults.
  auto sgd_default = optimizers().at("sgd").make(Json{{"name", "sgd"}}, no_params());
  auto* sd = dynamic_cast<Sgd*>(sgd_default.get());
  ASSERT_NE(sd, nullptr);
  EXPECT_EQ(sd->opt.momentum, 0.9);
  EXPECT_EQ(sd->opt.weight_decay, 0.0005);
  EXPECT_FALSE(sd->opt.nesterov);

  auto adamw = optimizers().at("adamw").make(
      Json{{"name", "adamw"}, {"beta1", 0.8}, {"beta2", 0.99}, {"eps", 1e-6}, {"weight_decay", 0.1}}, no_params());
  auto* a = dynamic_cast<AdamW*>(adamw.get());
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->name(), "adamw");
  EXPECT_EQ(a->opt.beta1, 0.8);
  EXPECT_EQ(a->opt.beta2, 0.99);
  EXPECT_EQ(a->opt.eps, 1e-6);
  EXPECT_EQ(a->opt.weight_decay, 0.1);
  EXPECT_EQ(a->state_names(), (std::vector<std::string>{"exp_avg", "exp_avg_sq"}));
}

TEST(OptimizerRegistry, RangeErrorsNameTheKey) {
  struct Case {
    std::string name, key;
    Json value;
    std::string message;
  };
  const Case cases[] = {
      {"sgd", "momentum", 1.5, "optimizer.momentum must be in [0, 1), got 1.5"},
      {"sgd", "momentum", -0.1, "optimizer.momentum must be in [0, 1), got -0.1"},
      {"sgd", "weight_decay", -1, "optimizer.weight_decay must be in [0, 1], got -1"},
      {"sgd", "nesterov", "yes", "optimizer.nesterov must be true or false, got \"yes\""},
      {"adamw", "beta1", 1.0, "optimizer.beta1 must be in [0, 1), got 1.0"},
      {"adamw", "beta2", 1.2, "optimizer.beta2 must be in [0, 1), got 1.2"},
      {"adamw", "eps", 0, "optimizer.eps must be > 0, got 0"},
      {"adamw", "weight_decay", "0.1", "optimizer.weight_decay must be a number, got \"0.1\""},
  };
  for (const Case& c : cases) {
    const std::string msg = optimizer_error(Json{{"name", c.name}, {c.key, c.value}});
    EXPECT_EQ(msg.substr(0, c.message.size()), c.message) << c.name << " " << c.key << ": " << msg;
  }
}

TEST(OptimizerRegistry, UnknownNameListsTheKnownOnes) {
  const std::string msg = optimizer_error(Json{{"name", "adam"}});
  EXPECT_NE(msg.find("optimizer.name: unknown 'adam' (known: sgd, adamw)"), std::string::npos) << msg;
}

Schedule make_schedule(const std::string& name, Json section, ScheduleContext ctx) {
  section["name"] = name;
  return schedules().at(name).make(section, ctx);
}

TEST(Schedules, ConstantWithWarmup) {
  // One warm-up epoch of 4 steps: base (s + 1) / 4, then the base rate.
  Schedule s = make_schedule("constant", {{"warmup_epochs", 1}}, {0.4, 4, 40});
  EXPECT_EQ(s.warmup_steps, 4);
  const double want[] = {0.1, 0.2, 0.3, 0.4, 0.4, 0.4};
  for (int64_t step = 0; step < 6; ++step) EXPECT_NEAR(s.lr_at(step), want[step], 1e-15) << step;
  EXPECT_DOUBLE_EQ(s.lr_at(39), 0.4);
  EXPECT_DOUBLE_EQ(make_schedule("constant", Json::object(), {0.4, 4, 40}).lr_at(0), 0.4);
}

TEST(Schedules, MultistepMultipliesByGammaPerMilestonePassed) {
  // 3 steps per epoch, milestones at epochs 2 and 4: base until step 6, base g to step
  // 12, base g^2 from there.
  Schedule s = make_schedule("multistep", {{"milestones", {2, 4}}, {"gamma", 0.5}}, {0.8, 3, 30});
  const std::pair<int64_t, double> want[] = {{0, 0.8}, {5, 0.8}, {6, 0.4}, {11, 0.4}, {12, 0.2}, {29, 0.2}};
  for (const auto& [step, lr] : want) EXPECT_DOUBLE_EQ(s.lr_at(step), lr) << step;
  // Defaults: gamma 0.1, no milestones.
  Schedule d = make_schedule("multistep", Json::object(), {0.8, 3, 30});
  EXPECT_EQ(d.gamma, 0.1);
  EXPECT_DOUBLE_EQ(d.lr_at(29), 0.8);
}

TEST(Schedules, CosineWithWarmup) {
  // Half a warm-up epoch of 4 steps = 2 steps; then base (1 + cos(pi step / total)) / 2.
  const double base = 0.1, pi = std::acos(-1.0);
  Schedule s = make_schedule("cosine", {{"warmup_epochs", 0.5}}, {base, 4, 20});
  EXPECT_EQ(s.warmup_steps, 2);
  EXPECT_NEAR(s.lr_at(0), base / 2, 1e-15);
  EXPECT_NEAR(s.lr_at(1), base, 1e-15);
  for (int64_t step : {2, 5, 10, 15, 19, 20})
    EXPECT_NEAR(s.lr_at(step), 0.5 * base * (1 + std::cos(pi * (double)step / 20.0)), 1e-15) << step;
  EXPECT_NEAR(s.lr_at(10), base / 2, 1e-15);
  EXPECT_NEAR(s.lr_at(20), 0.0, 1e-15);
}

TEST(Schedules, OptionErrorsNameTheKeyAndUnknownNamesListTheKnown) {
  auto error = [](const std::string& name, const Json& section) -> std::string {
    try {
      make_schedule(name, section, {0.1, 4, 40});
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(error("multistep", {{"gamma", 0}}).rfind("schedule.gamma must be > 0, got 0", 0), 0u);
  EXPECT_EQ(error("multistep", {{"milestones", {3, -1}}}).rfind("schedule.milestones[1] must be >= 0, got -1", 0), 0u);
  EXPECT_EQ(error("cosine", {{"warmup_epochs", -1}}).rfind("schedule.warmup_epochs must be >= 0, got -1", 0), 0u);
  std::string msg;
  try {
    schedules().at("linear");
  } catch (const Error& e) {
    msg = e.what();
  }
  EXPECT_NE(msg.find("schedule.name: unknown 'linear' (known: constant, multistep, cosine)"), std::string::npos) << msg;
}

TEST(PeakLr, ScalesWithTheBatchWhenAsked) {
  EXPECT_DOUBLE_EQ(peak_lr(Json{{"lr", 0.1}}, 512), 0.1);
  EXPECT_DOUBLE_EQ(peak_lr(Json{{"lr", 0.1}, {"lr_scale_batch", 256}}, 512), 0.2);
  EXPECT_DOUBLE_EQ(peak_lr(Json{{"lr", 0.1}, {"lr_scale_batch", 256}}, 64), 0.025);
  EXPECT_DOUBLE_EQ(peak_lr(Json::object(), 128), 0.05);  // the declared default
  EXPECT_THROW(peak_lr(Json{{"lr", 0}}, 128), Error);
  try {
    peak_lr(Json{{"lr", 0.1}, {"lr_scale_batch", -1}}, 128);
    ADD_FAILURE() << "a negative lr_scale_batch was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("optimizer.lr_scale_batch must be >= 0, got -1", 0), 0u) << e.what();
  }
}

}  // namespace
}  // namespace sprout::optim
