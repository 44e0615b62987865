// Writes the seed corpora under fuzz/corpus/<harness>/: small valid inputs of each
// format in the harnesses' framing (file bytes, then the mode byte where a harness
// takes one), so fuzzing starts from files the readers accept. Run from the fuzz build:
//   build-fuzz/bin/fuzz_make_corpus fuzz/corpus
#include <fstream>
#include <iostream>

#include "engine/io/checkpoint.h"
#include "engine/io/safetensors.h"
#include "tiny_run.h"

#if SPROUT_WITH_JPEG
#include <turbojpeg.h>
#endif

using namespace sprout;
namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

namespace {

fs::path g_root;

void write_seed(const std::string& harness, const std::string& name, const Bytes& bytes) {
  fs::create_directories(g_root / harness);
  std::ofstream f(g_root / harness / name, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), (std::streamsize)bytes.size());
  SPROUT_CHECK(f.good(), "cannot write seed ", name);
}

Bytes framed(Bytes bytes, std::initializer_list<uint8_t> tail) {
  bytes.insert(bytes.end(), tail);
  return bytes;
}

Bytes file_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), {});
}

Bytes pattern(size_t n, unsigned mul) {
  Bytes v(n);
  for (size_t i = 0; i < n; ++i) v[i] = (uint8_t)(i * mul + 7);
  return v;
}

Bytes idx(uint8_t rank, const std::vector<uint32_t>& dims, const Bytes& payload) {
  Bytes b{0, 0, 8, rank};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back((uint8_t)(d >> s));
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

void idx_seeds() {
  Bytes images = idx(3, {2, 4, 4}, pattern(32, 31));
  Bytes labels = idx(1, {2}, {3, 9});
  write_seed("idx", "images", framed(images, {0}));
  write_seed("idx", "labels", framed(labels, {0}));
  write_seed("idx", "images_gzip", framed(images, {2}));
  Bytes pair = images;
  pair.insert(pair.end(), labels.begin(), labels.end());
  const auto split = (uint16_t)images.size();
  write_seed("idx", "dataset", framed(pair, {(uint8_t)split, (uint8_t)(split >> 8), 1}));
  write_seed("idx", "dataset_gzip_flat", framed(pair, {(uint8_t)split, (uint8_t)(split >> 8), 1 | 2 | 8}));
}

// `n` records of (labels..., 3072 pixels).
Bytes cifar_records(int n, Bytes labels) {
  Bytes b;
  for (int r = 0; r < n; ++r) {
    for (uint8_t l : labels) b.push_back((uint8_t)(l + r));
    Bytes px = pattern(3072, 13 + r);
    b.insert(b.end(), px.begin(), px.end());
  }
  return b;
}

void cifar_seeds() {
  write_seed("cifar", "cifar10_test", framed(cifar_records(2, {4}), {0}));
  write_seed("cifar", "cifar10_train_augment", framed(cifar_records(1, {7}), {4 | 8 | 4 << 4}));
  write_seed("cifar", "cifar100_test", framed(cifar_records(1, {3, 42}), {1}));
  write_seed("cifar", "cifar100_coarse_train", framed(cifar_records(1, {19, 99}), {1 | 2 | 4 | 8 | 2 << 4}));
}

#if SPROUT_WITH_JPEG
Bytes encode_jpeg(int w, int h, int format, int subsamp, int flags) {
  const int channels = tjPixelSize[format];
  Bytes px = pattern((size_t)w * h * channels, 5);
  tjhandle tj = tjInitCompress();
  unsigned char* out = nullptr;
  unsigned long size = 0;
  int rc = tjCompress2(tj, px.data(), w, 0, h, format, &out, &size, subsamp, 75, flags);
  std::string err = rc ? tjGetErrorStr2(tj) : "";
  Bytes bytes(out, out + (rc ? 0 : size));
  tjFree(out);
  tjDestroy(tj);
  SPROUT_CHECK(rc == 0, "tjCompress2: ", err);
  return bytes;
}

void jpeg_seeds() {
  write_seed("jpeg", "rgb420_val", framed(encode_jpeg(16, 12, TJPF_RGB, TJSAMP_420, 0), {0}));
  write_seed("jpeg", "rgb444_train", framed(encode_jpeg(9, 17, TJPF_RGB, TJSAMP_444, 0), {1}));
  write_seed("jpeg", "grey_full", framed(encode_jpeg(20, 8, TJPF_GRAY, TJSAMP_GRAY, 0), {2}));
  write_seed("jpeg", "cmyk_train", framed(encode_jpeg(8, 8, TJPF_CMYK, TJSAMP_444, 0), {1}));
  write_seed("jpeg", "progressive_val",
             framed(encode_jpeg(24, 16, TJPF_RGB, TJSAMP_422, TJFLAG_PROGRESSIVE), {0}));
}
#else
void jpeg_seeds() { std::cerr << "built without libturbojpeg: no JPEG seeds written\n"; }
#endif

void config_seeds(const fs::path& configs) {
  for (const char* name : {"fashion_rigl.json", "fashion_east.json", "cifar10_resnet18_rigl90.json",
                           "imagenet_resnet50_rigl90.json"})
    write_seed("config", name, file_bytes(configs / name));
  const std::string tiny = fuzz::tiny_run_config().dump();
  const std::string with_set = std::string("sparsity.density=0.25") + '\0' + tiny;
  write_seed("config", "resolved_tiny.json", Bytes(tiny.begin(), tiny.end()));
  write_seed("config", "override_then_file", Bytes(with_set.begin(), with_set.end()));
}

// `f` as safetensors without checksums, as writers before format v2 left it.
Bytes without_checksums(const io::SafetensorsFile& f, const std::string& format) {
  nlohmann::json header = nlohmann::json::object();
  header["__metadata__"] = f.metadata;
  header["__metadata__"]["format"] = format;
  Bytes data;
  for (const auto& [name, t] : f.tensors) {
    const auto* p = static_cast<const uint8_t*>(t.raw_data());
    header[name] = {{"dtype", dtype_name(t.dtype())}, {"shape", t.shape()},
                    {"data_offsets", {data.size(), data.size() + t.nbytes()}}};
    data.insert(data.end(), p, p + t.nbytes());
  }
  std::string text = header.dump();
  while (text.size() % 8) text += ' ';
  Bytes out;
  for (int i = 0; i < 8; ++i) out.push_back((uint8_t)((uint64_t)text.size() >> (8 * i)));
  out.insert(out.end(), text.begin(), text.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

void checkpoint_seeds() {
  const fs::path dir = fs::temp_directory_path() / "sprout-fuzz-seeds";
  fs::create_directories(dir);
  std::unique_ptr<train::Run> run = fuzz::tiny_run();
  for (int i = 0; i < 4; ++i) run->step(fuzz::tiny_batch(), false);
  io::RunCounters c{run->step_count, 0, run->step_count};
  io::save_checkpoint((dir / "c.safetensors").string(), *run->model, *run->optimizer, *run->sparsifier, c,
                      run->cfg);
  io::save_model((dir / "m.safetensors").string(), *run->model);
  io::save_safetensors((dir / "t.safetensors").string(),
                       {{"f", Tensor::from_vector(std::vector<float>{1, -2, 3.5f}, {3})},
                        {"i", Tensor::from_vector(std::vector<int32_t>{0, 2, 4}, {3, 1})},
                        {"empty", Tensor::empty({0, 2})}},
                       {{"format", "sprout-checkpoint-v1"}});
  write_seed("checkpoint", "checkpoint.safetensors", file_bytes(dir / "c.safetensors"));
  write_seed("checkpoint", "checkpoint_v1.safetensors",
             without_checksums(io::load_safetensors((dir / "c.safetensors").string()), "sprout-checkpoint-v1"));
  write_seed("checkpoint", "model.safetensors", file_bytes(dir / "m.safetensors"));
  write_seed("checkpoint", "tensors.safetensors", file_bytes(dir / "t.safetensors"));
  fs::remove_all(dir);
}

// fuzz_interop: a model file (0), a torch-named dense state_dict (1), a run folder (2).
void interop_seeds() {
  const fs::path dir = fs::temp_directory_path() / "sprout-fuzz-seeds";
  fs::create_directories(dir);
  std::unique_ptr<train::Run> run = fuzz::tiny_run();
  io::save_model((dir / "m.safetensors").string(), *run->model);
  write_seed("interop", "model.safetensors", framed(file_bytes(dir / "m.safetensors"), {0}));
  nn::ModulePtr dense = models::build(fuzz::tiny_run_config()["model"], {12}, 3);
  io::NamedTensors state;
  for (auto& p : dense->parameters()) state.emplace_back(p.name, *p.tensor);
  io::save_safetensors((dir / "d.safetensors").string(), state, {});
  write_seed("interop", "state_dict.safetensors", framed(file_bytes(dir / "d.safetensors"), {1}));
  const std::string summary =
      R"({"config": {"model": {"name": "mlp"}, "sparsity": {"method": "rigl"}}, "density": 0.5, "steps": 20,)"
      R"( "test_accuracy": 0.5, "layers": [{"name": "0.weight", "density": 0.5}], "memory": {"weights":)"
      R"( {"peak_bytes": 100}, "dense_equivalent": {"weights_bytes": 200}}})";
  const std::string metrics =
      "{\"step\": 10, \"loss\": 1.5, \"lr\": 0.1}\n{\"event\": \"topology\", \"step\": 10, \"layer\": \"0.weight\","
      " \"density\": 0.5, \"dropped\": 3, \"grown\": 3}\n{\"epoch\": 1, \"step\": 20, \"test_accuracy\": 0.5}\n";
  Bytes folder(summary.begin(), summary.end());
  folder.push_back(0);
  folder.insert(folder.end(), metrics.begin(), metrics.end());
  write_seed("interop", "run_folder", framed(folder, {2}));
  fs::remove_all(dir);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " <corpus folder, e.g. fuzz/corpus>\n";
    return 2;
  }
  g_root = argv[1];
  fuzz::register_components();
  idx_seeds();
  cifar_seeds();
  jpeg_seeds();
  config_seeds(fs::path(SPROUT_SOURCE_DIR) / "configs");
  checkpoint_seeds();
  interop_seeds();
  std::cout << "seeds written under " << g_root.string() << "\n";
  return 0;
}
