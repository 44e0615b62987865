// Config merging and the safetensors format: round trips, corruption detection,
// and a read by the reference Python `safetensors` package.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "engine/core/error.h"
#include "engine/io/config.h"
#include "engine/io/safetensors.h"
#include "testing.h"

namespace sprout {
namespace {

namespace fs = std::filesystem;

std::string temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("sprout_io_" + name + "_" + std::to_string(::getpid()));
  fs::create_directories(p);
  return p.string();
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}

// Defaults of the shape the engine assembles from its components' options.
const io::Json& defaults() {
  static const io::Json d = io::Json::parse(R"({
    "model": {"name": "mlp", "hidden": [1000, 1000, 1000]},
    "train": {"epochs": 5, "batch_size": 128},
    "optimizer": {"name": "sgd", "lr": 0.05},
    "sparsity": {"method": "dense", "density": 1.0},
    "data": {"name": "fashion-mnist", "options": {}}})");
  return d;
}

io::Json load(const std::string& path, const std::vector<std::string>& sets) {
  return io::load_config(path, sets, defaults());
}

std::string error_of(const std::function<void()>& f) {
  try { f(); } catch (const Error& e) { return e.what(); }
  return "";
}

TEST(Config, MergesOverDefaultsAndAppliesOverrides) {
  std::string d = temp_dir("cfg");
  write_text(d + "/c.json", R"({"train": {"epochs": 3}, "model": {"hidden": [10, 20]}})");
  io::Json c = load(d + "/c.json", {"optimizer.lr=0.2", "sparsity.method=rigl"});
  EXPECT_EQ(c["train"]["epochs"], 3);
  EXPECT_EQ(c["train"]["batch_size"], 128);  // default kept
  EXPECT_EQ(c["model"]["hidden"], io::Json::parse("[10, 20]"));
  EXPECT_DOUBLE_EQ(c["optimizer"]["lr"].get<double>(), 0.2);
  EXPECT_EQ(c["sparsity"]["method"], "rigl");
}

TEST(Config, RejectsUnknownKeysWrongTypesAndMalformedJson) {
  std::string d = temp_dir("cfgbad");
  write_text(d + "/unknown.json", R"({"train": {"epochz": 3}})");
  EXPECT_NE(error_of([&] { load(d + "/unknown.json", {}); }).find("unknown key 'train.epochz'"), std::string::npos);
  write_text(d + "/type.json", R"({"train": {"epochs": "five"}})");
  EXPECT_NE(error_of([&] { load(d + "/type.json", {}); }).find("'train.epochs' must be a number"), std::string::npos);
  write_text(d + "/int.json", R"({"train": {"epochs": 2.5}})");
  EXPECT_NE(error_of([&] { load(d + "/int.json", {}); }).find("must be an integer"), std::string::npos);
  write_text(d + "/bad.json", R"({"train": {"epochs": 3,}})");
  EXPECT_NE(error_of([&] { load(d + "/bad.json", {}); }).find("malformed JSON in"), std::string::npos);
  EXPECT_NE(error_of([&] { load(d + "/missing.json", {}); }).find("cannot read config"), std::string::npos);
  EXPECT_NE(error_of([&] { load("", {"nope.x=1"}); }).find("unknown key 'nope'"), std::string::npos);
}

io::NamedTensors sample_tensors() {
  return {{"a", Tensor::from_vector<float>({1.5f, -2.f, 3.25f, 0.f, 7.f, 8.f}, {2, 3})},
          {"idx", Tensor::from_vector<int32_t>({0, 5, 7}, {3})},
          {"d", Tensor::from_vector<double>({1e-300, 2.5}, {2})},
          {"empty", Tensor::empty({0, 4}, DType::F32)}};
}

TEST(Safetensors, RoundTripsTensorsAndMetadata) {
  std::string path = temp_dir("st") + "/x.safetensors";
  io::save_safetensors(path, sample_tensors(), {{"step", "12"}});
  io::SafetensorsFile f = io::load_safetensors(path);
  EXPECT_EQ(f.metadata.at("step"), "12");
  EXPECT_EQ(f.tensors.at("a").shape(), (Shape{2, 3}));
  EXPECT_EQ(f.tensors.at("a").to_vector<float>()[2], 3.25f);
  EXPECT_EQ(f.tensors.at("idx").to_vector<int32_t>()[1], 5);
  EXPECT_EQ(f.tensors.at("d").to_vector<double>()[0], 1e-300);
  EXPECT_EQ(f.tensors.at("empty").numel(), 0);
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST(Safetensors, DetectsTruncationAndCorruption) {
  std::string dir = temp_dir("stbad");
  std::string path = dir + "/x.safetensors";
  io::save_safetensors(path, sample_tensors(), {});
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Truncated data section.
  write_text(dir + "/trunc.safetensors", bytes.substr(0, bytes.size() - 5));
  EXPECT_NE(error_of([&] { io::load_safetensors(dir + "/trunc.safetensors"); }).find("outside the"), std::string::npos);
  // Shorter than the length prefix.
  write_text(dir + "/tiny.safetensors", bytes.substr(0, 5));
  EXPECT_NE(error_of([&] { io::load_safetensors(dir + "/tiny.safetensors"); }).find("shorter than"), std::string::npos);
  // Header length larger than the file.
  std::string big = bytes;
  big[7] = 0x7f;
  write_text(dir + "/big.safetensors", big);
  EXPECT_NE(error_of([&] { io::load_safetensors(dir + "/big.safetensors"); }).find("exceeds the file"), std::string::npos);
  // Garbage header.
  std::string garbage = bytes;
  garbage[8] = '#';
  write_text(dir + "/garbage.safetensors", garbage);
  EXPECT_NE(error_of([&] { io::load_safetensors(dir + "/garbage.safetensors"); }).find("not a JSON object"), std::string::npos);
  EXPECT_NE(error_of([&] { io::load_safetensors(dir + "/none.safetensors"); }).find("cannot read checkpoint"), std::string::npos);
}

TEST(Safetensors, ReadByThePythonReference) {
  if (std::system("python3 -c 'import safetensors, numpy' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3 with the safetensors and numpy packages is not installed";
  std::string dir = temp_dir("stpy");
  std::string path = dir + "/x.safetensors";
  io::save_safetensors(path, sample_tensors(), {{"step", "12"}});
  std::string script = dir + "/check.py";
  write_text(script,
             "import sys\n"
             "from safetensors.numpy import load_file\n"
             "from safetensors import safe_open\n"
             "t = load_file(sys.argv[1])\n"
             "assert t['a'].shape == (2, 3) and t['a'].dtype.name == 'float32', t['a']\n"
             "assert t['a'][0, 2] == 3.25 and t['a'][1, 0] == 0.0\n"
             "assert list(t['idx']) == [0, 5, 7] and t['idx'].dtype.name == 'int32'\n"
             "assert t['d'][1] == 2.5 and t['empty'].shape == (0, 4)\n"
             "with safe_open(sys.argv[1], 'np') as f:\n"
             "    assert f.metadata()['step'] == '12'\n"
             "print('ok')\n");
  EXPECT_EQ(std::system(("python3 " + script + " " + path).c_str()), 0);
}

}  // namespace
}  // namespace sprout
