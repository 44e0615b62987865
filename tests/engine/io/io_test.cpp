// Config merging and the safetensors format: round trips, corruption detection (the
// layout, checksums), and a read by the reference Python `safetensors` package.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "checkpoint_testing.h"
#include "engine/core/error.h"
#include "engine/io/config.h"
#include "engine/io/safetensors.h"

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
  std::string bytes = testing::file_bytes(path);
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

// `bytes` (a file save_safetensors wrote) with `from` replaced by `to` in its header.
std::string edit_header(const std::string& bytes, const std::string& from, const std::string& to) {
  std::string header = bytes.substr(8, testing::header_length(bytes));
  const size_t at = header.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  header.replace(at, from.size(), to);
  return testing::with_header_text(bytes, header);
}

TEST(Safetensors, RejectsLayoutsThatDoNotTileTheData) {
  std::string dir = temp_dir("stlayout");
  io::save_safetensors(dir + "/x.safetensors", {{"a", Tensor::from_vector<int32_t>({1, 2}, {2})},
                                                {"b", Tensor::from_vector<int32_t>({3, 4}, {2})}}, {});
  const std::string bytes = testing::file_bytes(dir + "/x.safetensors");
  auto error = [&](const std::string& from, const std::string& to) {
    write_text(dir + "/e.safetensors", edit_header(bytes, from, to));
    return error_of([&] { io::load_safetensors(dir + "/e.safetensors"); });
  };
  EXPECT_NE(error("\"data_offsets\":[8,16]", "\"data_offsets\":[4,12]").find("overlap"), std::string::npos);
  EXPECT_NE(error("\"data_offsets\":[0,8]", "\"data_offsets\":[0,4]").find("shape [2] and dtype I32 need 8"),
            std::string::npos);
  EXPECT_NE(error("\"data_offsets\":[0,8],\"dtype\":\"I32\",\"shape\":[2]",
                  "\"data_offsets\":[0,0],\"dtype\":\"I32\",\"shape\":[0]")
                .find("data bytes [0, 8) before tensor 'b' belong to no tensor"),
            std::string::npos);
  EXPECT_NE(error("\"shape\":[2]", "\"shape\":[4611686018427387904,4]").find("overflows"), std::string::npos);
  EXPECT_NE(error("\"shape\":[2]", "\"shape\":[-2]").find("not a non-negative"), std::string::npos);
  EXPECT_NE(error("\"dtype\":\"I32\"", "\"dtype\":\"F16\"").find("unsupported dtype"), std::string::npos);
  // An untrusted name stays on one line in the error.
  const std::string e = error("\"b\":{", "\"b\\nc\":{\"dtype\":1},\"b\":{");
  EXPECT_NE(e.find("'b\\nc'"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
}

TEST(Safetensors, ChecksumsCatchBitRot) {
  std::string dir = temp_dir("stsum");
  io::save_safetensors(dir + "/x.safetensors", sample_tensors(), {{"step", "12"}});
  io::SafetensorsFile f = io::load_safetensors(dir + "/x.safetensors");
  EXPECT_TRUE(f.checksummed);
  EXPECT_FALSE(f.metadata.count(io::kChecksumsKey));  // verified, then dropped
  std::string bytes = testing::file_bytes(dir + "/x.safetensors");
  std::string rot = bytes;
  rot[rot.size() - 9] ^= 0x10;  // inside tensor "d"
  write_text(dir + "/rot.safetensors", rot);
  EXPECT_NE(error_of([&] { io::load_safetensors(dir + "/rot.safetensors"); }).find("tensor 'd' fails its checksum"),
            std::string::npos);
  write_text(dir + "/meta.safetensors", edit_header(bytes, "\"step\":\"12\"", "\"step\":\"13\""));
  EXPECT_NE(error_of([&] { io::load_safetensors(dir + "/meta.safetensors"); }).find("the metadata fails its checksum"),
            std::string::npos);
  // A dtype or shape edit that keeps the byte count is caught too.
  write_text(dir + "/shape.safetensors", edit_header(bytes, "\"shape\":[2,3]", "\"shape\":[3,2]"));
  EXPECT_NE(error_of([&] { io::load_safetensors(dir + "/shape.safetensors"); }).find("tensor 'a' fails"),
            std::string::npos);
  EXPECT_THROW(io::save_safetensors(dir + "/y.safetensors", {}, {{io::kChecksumsKey, "x"}}), Error);
}

TEST(Safetensors, FilesWithoutChecksumsLoadUnverified) {
  std::string dir = temp_dir("stnosum");
  io::save_safetensors(dir + "/x.safetensors", sample_tensors(), {{"step", "12"}});
  const std::string bytes = testing::file_bytes(dir + "/x.safetensors");
  io::Json h = testing::header_of(bytes);
  h["__metadata__"].erase(io::kChecksumsKey);
  write_text(dir + "/old.safetensors", testing::with_header_text(bytes, h.dump()));
  io::SafetensorsFile f = io::load_safetensors(dir + "/old.safetensors");
  EXPECT_FALSE(f.checksummed);
  EXPECT_EQ(f.metadata.at("step"), "12");
  EXPECT_EQ(f.tensors.at("a").to_vector<float>()[2], 3.25f);
}

TEST(Safetensors, AHeaderNestedTooDeepIsAnErrorNotACrash) {
  std::string dir = temp_dir("stdeep");
  const std::string header = "{\"a\":" + std::string(1000000, '[') + std::string(1000000, ']') + "}";
  write_text(dir + "/deep.safetensors", testing::with_header_text(std::string(8, '\0'), header));
  EXPECT_NE(error_of([&] { io::load_safetensors(dir + "/deep.safetensors"); }).find("nested deeper than"),
            std::string::npos);
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
