// Config parser (engine/io/config.*, through train::load_config as the CLI calls it): a
// JSON file merged over the defaults every registered component declares, checked key
// by key and section by section, with one --set override. Input: the override
// ("key=value") up to the first NUL byte, then the file; without a NUL, the whole input
// is the file. An accepted config must load again, unchanged, from its own dump.
#include <cstring>

#include "data/registry.h"
#include "engine/train/options.h"
#include "fuzz_input.h"
#include "models/models.h"

using namespace sprout;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  models::register_models();
  data::register_data_sets();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> overrides;
  const auto* nul = static_cast<const uint8_t*>(std::memchr(data, 0, size));
  if (nul) {
    overrides.emplace_back(reinterpret_cast<const char*>(data), (size_t)(nul - data));
    size -= (size_t)(nul - data) + 1;
    data = nul + 1;
  }
  const std::string path = fuzz::write_input("config.json", data, size);
  nlohmann::json cfg;
  if (!fuzz::accepts([&] { cfg = train::load_config(path, overrides); })) return 0;
  const std::string text = cfg.dump();
  const std::string again = fuzz::write_input("again.json", reinterpret_cast<const uint8_t*>(text.data()),
                                              text.size());
  nlohmann::json reloaded;
  if (!fuzz::accepts([&] { reloaded = train::load_config(again, {}); }))
    fuzz::broken("an accepted config is refused when loaded from its own dump");
  if (reloaded != cfg) fuzz::broken("a config changes when loaded from its own dump");
  return 0;
}
