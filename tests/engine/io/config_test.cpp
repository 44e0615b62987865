// JSON from users is bounded before it is parsed: a config or a --set value nested
// deeper than kMaxJsonDepth is a one-line error naming the file and line, not a stack
// overflow, while brackets inside strings do not count.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "engine/core/error.h"
#include "engine/io/config.h"

namespace sprout {
namespace {

namespace fs = std::filesystem;
using io::Json;

// What `f` throws as sprout::Error, or "" when it does not throw.
std::string error_of(const std::function<void()>& f) {
  std::string what;
  try { f(); } catch (const Error& e) { what = e.what(); }
  return what;
}

std::string nested(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

class ConfigDepth : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sprout_config_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  const Json defaults_ = Json::parse(R"({"model": {"name": "mlp", "hidden": [1000]}, "data": {"name": "x"}})");
  fs::path dir_;
};

TEST_F(ConfigDepth, AConfigNestedTooDeepIsAnErrorNotACrash) {
  const std::string path = write("deep.json", "{\"model\": {\"hidden\": " + nested(150000) + "}}");
  EXPECT_EQ(error_of([&] { io::load_config(path, {}, defaults_); }),
            path + ": JSON nested deeper than 64 levels at line 1");
  const std::string lines = write("lines.json", "{\n\"model\":\n" + std::string(70, '[') + "\n}");
  EXPECT_EQ(error_of([&] { io::load_config(lines, {}, defaults_); }),
            lines + ": JSON nested deeper than 64 levels at line 3");
}

TEST_F(ConfigDepth, TheBoundIsSixtyFourLevels) {
  EXPECT_EQ(io::parse_json(nested(64), "x").dump(), nested(64));
  EXPECT_EQ(error_of([] { io::parse_json(nested(65), "x"); }), "x: JSON nested deeper than 64 levels at line 1");
  EXPECT_EQ(io::line_too_deep("{\"a\": [1, {\"b\": 2}]}", 3), 0u);
  EXPECT_EQ(io::line_too_deep("{\"a\": [1, {\"b\": 2}]}", 2), 1u);
}

TEST_F(ConfigDepth, BracketsInStringsDoNotCount) {
  const std::string name = std::string(100, '[') + "\\\"{" + std::string(100, '{');
  const std::string path = write("str.json", "{\"data\": {\"name\": \"" + name + "\"}}");
  EXPECT_EQ(io::load_config(path, {}, defaults_)["data"]["name"].get<std::string>().size(), 202u);
}

TEST_F(ConfigDepth, SetValuesAndKeysAreBoundedToo) {
  EXPECT_EQ(error_of([&] { io::load_config("", {"model.hidden=" + nested(150000)}, defaults_); }),
            "--set model.hidden: JSON nested deeper than 64 levels");
  std::string key = "model";
  for (int i = 0; i < 150000; ++i) key += ".a";
  EXPECT_EQ(error_of([&] { io::load_config("", {key + "=1"}, defaults_); }),
            "--set: key nested deeper than 64 levels");
  EXPECT_EQ(io::load_config("", {"model.hidden=[1, 2]"}, defaults_)["model"]["hidden"], Json::parse("[1, 2]"));
}

TEST_F(ConfigDepth, MalformedJsonNamesTheFile) {
  const std::string path = write("bad.json", "{\"model\": [1,,]}");
  EXPECT_EQ(error_of([&] { io::load_config(path, {}, defaults_); }).rfind("malformed JSON in " + path + ": ", 0), 0u);
}

// A number no double holds (found by fuzz/fuzz_config) is an error naming the file, not
// an uncaught exception.
TEST_F(ConfigDepth, ANumberOutOfRangeIsAnErrorNotACrash) {
  for (const char* number : {"1e999", "-22e9999999999999999", "88800000000204369609716621494888888888e300"}) {
    const std::string path = write("big.json", std::string("{\"model\": ") + number + "}");
    EXPECT_EQ(error_of([&] { io::load_config(path, {}, defaults_); }).rfind("malformed JSON in " + path + ": ", 0), 0u)
        << number;
  }
}

// A key inside a free-form section (data.options.KEY) sets that option and keeps the
// file's others and an earlier --set's; the section set whole is replaced.
TEST(ConfigOverrides, OptionsKeysMergeAndTheSectionReplaces) {
  Json cfg = {{"data", {{"name", "imagenet"}, {"options", Json::object()}}}};
  io::merge_checked(cfg, Json{{"data", {{"options", {{"image_size", 224}, {"scale", {0.08, 1.0}}}}}}}, "file");
  io::apply_override(cfg, "data.options.max_pixels=1024");
  io::apply_override(cfg, "data.options.image_size=32");
  EXPECT_EQ(cfg["data"]["options"], Json({{"image_size", 32}, {"scale", {0.08, 1.0}}, {"max_pixels", 1024}}));
  io::apply_override(cfg, "data.options={\"flatten\": true}");
  EXPECT_EQ(cfg["data"]["options"], Json({{"flatten", true}}));
  EXPECT_NE(error_of([&] { io::apply_override(cfg, "data.nothing.x=1"); }).find("unknown key 'data.nothing'"),
            std::string::npos);
}

}  // namespace
}  // namespace sprout
