// Typed options and the registry shape: values read into a struct, defaults for absent
// keys, every range, type and integrality error naming the key, and the help text.
#include <gtest/gtest.h>

#include "engine/core/error.h"
#include "engine/core/options.h"
#include "engine/core/registry.h"

namespace sprout {
namespace {

struct Opts {
  bool on = false;
  int64_t count = 0;
  double frac = 0;
  std::string kind;
  std::vector<int64_t> sizes;
};

const Options<Opts>& opts() {
  static const Options<Opts> o = Options<Opts>()
      .flag("on", &Opts::on, true, "a switch")
      .integer("count", &Opts::count, 100, Range::at_least(1), "a count")
      .number("frac", &Opts::frac, 0.1, Range::open_closed(0, 1), "a fraction")
      .text("kind", &Opts::kind, "csr", {"csr", "bsr"}, "a choice")
      .integers("sizes", &Opts::sizes, {3, 4}, Range::at_least(1), "a list");
  return o;
}

std::string error_of(const nlohmann::json& section) {
  try {
    opts().read(section, "sec.");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Options, ReadsValuesAndDefaults) {
  Opts d = opts().read(nlohmann::json::object(), "sec.");
  EXPECT_TRUE(d.on);
  EXPECT_EQ(d.count, 100);
  EXPECT_DOUBLE_EQ(d.frac, 0.1);
  EXPECT_EQ(d.kind, "csr");
  EXPECT_EQ(d.sizes, (std::vector<int64_t>{3, 4}));
  Opts o = opts().read({{"on", false}, {"count", 7}, {"frac", 1.0}, {"kind", "bsr"}, {"sizes", {9}}, {"other", 1}},
                       "sec.");
  EXPECT_FALSE(o.on);
  EXPECT_EQ(o.count, 7);
  EXPECT_DOUBLE_EQ(o.frac, 1.0);
  EXPECT_EQ(o.kind, "bsr");
  EXPECT_EQ(o.sizes, (std::vector<int64_t>{9}));
  EXPECT_EQ(opts().read({{"count", 5.0}}, "sec.").count, 5);  // an integral float is an integer
}

TEST(Options, ErrorsNameTheKeyAndWhatIsWrong) {
  EXPECT_EQ(error_of({{"frac", 1.5}}), "sec.frac must be in (0, 1], got 1.5");
  EXPECT_EQ(error_of({{"frac", 0}}), "sec.frac must be in (0, 1], got 0");
  EXPECT_EQ(error_of({{"count", 0}}), "sec.count must be >= 1, got 0");
  EXPECT_EQ(error_of({{"count", 1.7}}), "sec.count must be an integer, got 1.7");
  EXPECT_EQ(error_of({{"count", 9e18}}), "sec.count is out of range, got 9e+18");
  EXPECT_EQ(error_of({{"count", "3"}}), "sec.count must be an integer, got \"3\"");
  EXPECT_EQ(error_of({{"on", 1}}), "sec.on must be true or false, got 1");
  EXPECT_EQ(error_of({{"kind", "coo"}}), "sec.kind must be one of: csr, bsr, got 'coo'");
  EXPECT_EQ(error_of({{"sizes", {2, 0}}}), "sec.sizes[1] must be >= 1, got 0");
  EXPECT_EQ(error_of({{"sizes", 3}}), "sec.sizes must be a list of integers, got 3");
}

TEST(Options, InfoAndHelpListEveryOption) {
  auto info = opts().info();
  ASSERT_EQ(info.size(), 5u);
  EXPECT_EQ(info[2].name, "frac");
  EXPECT_EQ(info[2].range, "(0, 1]");
  EXPECT_EQ(info[3].range, "one of: csr, bsr");
  EXPECT_EQ(option_defaults(info), (nlohmann::json{{"on", true}, {"count", 100}, {"frac", 0.1}, {"kind", "csr"},
                                                   {"sizes", {3, 4}}}));
  const std::string help = option_help(info);
  EXPECT_NE(help.find("count"), std::string::npos);
  EXPECT_NE(help.find("a fraction"), std::string::npos);
  EXPECT_NE(help.find(">= 1"), std::string::npos);
}

TEST(Registry, FindsByNameAndListsTheKnownOnes) {
  Registry<int> r("thing.name");
  r.add({"a", "first", 1, {}});
  r.add({"b", "second", 2, {}});
  EXPECT_EQ(r.at("b").make, 2);
  EXPECT_EQ(r.find("c"), nullptr);
  try {
    r.at("c");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "thing.name: unknown 'c' (known: a, b)");
  }
  EXPECT_THROW(r.add({"a", "again", 3, {}}), Error);
}

}  // namespace
}  // namespace sprout
