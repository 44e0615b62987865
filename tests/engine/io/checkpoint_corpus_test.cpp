// A corpus of seeded mutations of a real checkpoint (a short RigL run): bit flips,
// byte and int32 overwrites, truncations, header JSON edits, and well-formed files
// with invalid contents. Each is resumed through the Trainer in a child process, so a
// crash is counted rather than fatal; loading must either throw sprout::Error (one
// line naming the file) or give a state byte-identical to the original's. A sample of
// the accepted ones trains on, so nothing invalid can reach the kernels unnoticed.
#include <signal.h>
#include <sys/wait.h>

#include <climits>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <functional>
#include <random>

#include "checkpoint_testing.h"
#include "engine/io/checkpoint.h"

namespace sprout::testing {
namespace {

enum Outcome : int {
  kRejected = 10, kIdentical = 11, kDifferent = 12, kOtherException = 13, kBadMessage = 14, kTrainFailed = 15
};

// The run that wrote the checkpoint (stopped by train.max_steps), and the same run
// without the stop, which trains on from a resumed checkpoint through the kernels.
struct Runs {
  Json stopped, whole;
};

struct Mutation {
  std::string name, bytes;
  bool must_reject = false;  // well-formed but invalid: accepting it is wrong whatever the state
  bool must_accept = false;  // a different file holding the same state
};

using Gen = std::mt19937_64;
template <class T> const T& pick(Gen& g, const std::vector<T>& v) { return v[g() % v.size()]; }

// The safetensors layout of a checkpoint's bytes.
struct Layout {
  uint64_t hlen;
  Json header;
  explicit Layout(const std::string& b) : hlen(header_length(b)), header(header_of(b)) {}
  std::vector<std::string> tensors() const {
    std::vector<std::string> out;
    for (auto it = header.begin(); it != header.end(); ++it)
      if (it.key() != "__metadata__") out.push_back(it.key());
    return out;
  }
  // The file's byte range of tensor `name`.
  std::pair<uint64_t, uint64_t> range(const std::string& name) const {
    const Json& o = header[name]["data_offsets"];
    return {8 + hlen + o[0].get<uint64_t>(), 8 + hlen + o[1].get<uint64_t>()};
  }
};

// `bytes` with its header replaced by `h`, padded as save_safetensors pads it.
std::string with_header(const std::string& bytes, const Json& h) {
  std::string text = h.dump();
  while ((text.size() + 8) % 8) text += ' ';
  return with_header_text(bytes, text);
}

// ---- raw mutations: the checksums are left as they were ----------------------------

std::vector<Mutation> byte_mutations(const std::string& orig, Gen& g) {
  const Layout l(orig);
  const uint64_t data0 = 8 + l.hlen;
  std::vector<Mutation> out;
  auto at = [&](bool header) { return header ? g() % data0 : data0 + g() % (orig.size() - data0); };
  for (int i = 0; i < 100; ++i) {  // bit flips, 60 in the header
    Mutation m{"bit flip " + std::to_string(i), orig};
    const uint64_t p = at(i < 60);
    m.bytes[p] = (char)(m.bytes[p] ^ (1 << (g() % 8)));
    out.push_back(m);
  }
  const std::vector<int> values = {0x00, 0xFF, 0x7F, 0x80, 0x20, '"', '0', '9', '-', ','};
  for (int i = 0; i < 60; ++i) {  // byte overwrites, 40 in the header
    Mutation m{"byte overwrite " + std::to_string(i), orig};
    m.bytes[at(i < 40)] = (char)pick(g, values);
    out.push_back(m);
  }
  std::vector<std::string> index;  // the sparse structure tensors
  for (const auto& t : l.tensors())
    if (t.find(".row_ptr") != std::string::npos || t.find(".col_idx") != std::string::npos) index.push_back(t);
  const std::vector<int32_t> ints = {-1, 0, INT_MAX, INT_MIN, 1 << 20, 12, 16};
  for (int i = 0; i < 40; ++i) {  // int32 overwrites, 30 in the index tensors
    Mutation m{"int32 overwrite " + std::to_string(i), orig};
    auto [b, e] = i < 30 ? l.range(pick(g, index)) : std::make_pair(data0, (uint64_t)orig.size());
    const uint64_t p = b + 4 * (g() % ((e - b) / 4));
    const int32_t v = pick(g, ints);
    std::memcpy(&m.bytes[p], &v, 4);
    out.push_back(m);
  }
  const std::vector<uint64_t> cuts = {0, 4, 7, 8, 12, data0 / 2, data0 - 1, data0, data0 + 1, orig.size() - 1};
  for (int i = 0; i < 20; ++i) {  // truncations
    const uint64_t n = i < (int)cuts.size() ? cuts[i] : g() % orig.size();
    out.push_back({"truncation to " + std::to_string(n), orig.substr(0, n)});
  }
  return out;
}

using HeaderEdit = std::function<void(Json& h, Gen& g)>;

// Edits of one tensor's entry: shape, dtype, offsets, fields.
std::vector<HeaderEdit> tensor_entry_edits(const std::vector<std::string>& names) {
  auto one = [names](Gen& g) { return pick(g, names); };
  return {
      [=](Json& h, Gen& g) {
        Json& s = h[one(g)]["shape"];
        if (s.empty()) { s.push_back(2); return; }
        uint64_t& d = s[g() % s.size()].get_ref<Json::number_unsigned_t&>();
        d = pick(g, std::vector<uint64_t>{d + 1, d ? d - 1 : 1, 0, 1ull << 40, 1ull << 63, ~0ull});
      },
      [=](Json& h, Gen& g) { h[one(g)]["shape"].push_back(1); },
      [=](Json& h, Gen& g) { h[one(g)]["shape"] = Json::array({-1}); },
      [=](Json& h, Gen& g) {
        h[one(g)]["dtype"] = pick(g, std::vector<Json>{"F64", "I32", "I64", "F16", "BF16", "U8", "XX", 5});
      },
      [=](Json& h, Gen& g) {
        Json& o = h[one(g)]["data_offsets"];
        uint64_t& v = o[g() % 2].get_ref<Json::number_unsigned_t&>();
        v = pick(g, std::vector<uint64_t>{v + 4, v ? v - 4 : 4, v + 1, 1ull << 62, ~0ull});
      },
      [=](Json& h, Gen& g) { std::swap(h[one(g)]["data_offsets"], h[one(g)]["data_offsets"]); },
      [=](Json& h, Gen& g) { h[one(g)]["data_offsets"] = Json::array({-8, 8}); },
      [=](Json& h, Gen& g) { h[one(g)].erase(pick(g, std::vector<std::string>{"dtype", "shape", "data_offsets"})); },
      [=](Json& h, Gen& g) { h.erase(one(g)); },
      [=](Json& h, Gen& g) { h["model.extra"] = h[one(g)]; },
  };
}

// Edits of the metadata: counters, method, structure description, RNG states, checksums.
std::vector<HeaderEdit> metadata_edits() {
  auto meta = [](Json& h) -> Json& { return h["__metadata__"]; };
  auto sub = [](Json& h, const char* key, const std::function<void(Json&)>& f) {
    Json j = Json::parse(h["__metadata__"][key].get<std::string>());
    f(j);
    h["__metadata__"][key] = j.dump();
  };
  const std::vector<std::string> values = {"", "-1", "0", "1e3", "abc", "99999999999999999999", "12 ", "[]", "{}"};
  return {
      [=](Json& h, Gen& g) {
        meta(h)[pick(g, std::vector<std::string>{"step", "epoch", "batch_in_epoch", "optimizer_steps"})] =
            pick(g, values);
      },
      [=](Json& h, Gen& g) {
        std::vector<std::string> keys;
        for (auto it = meta(h).begin(); it != meta(h).end(); ++it) keys.push_back(it.key());
        meta(h).erase(pick(g, keys));
      },
      [=](Json& h, Gen&) { meta(h)["format"] = "sprout-checkpoint-v0"; },
      [=](Json& h, Gen&) { meta(h)["extra"] = "1"; },
      [=](Json& h, Gen&) { meta(h)["step"] = 11; },
      [=](Json& h, Gen& g) {
        sub(h, "config", [&](Json& c) { c["sparsity"]["method"] = pick(g, std::vector<std::string>{"static", "set"}); });
      },
      [=](Json& h, Gen& g) {
        sub(h, "sparse", [&](Json& s) {
          Json& layer = s.begin().value();
          layer[pick(g, std::vector<std::string>{"rows", "cols", "block"})] = pick(g, std::vector<int>{0, -1, 2, 4, 1 << 30});
        });
      },
      [=](Json& h, Gen&) { sub(h, "sparsifier", [](Json& s) { s["rng"] = {0, 0, 0, 0}; }); },
      [=](Json& h, Gen&) { sub(h, "init_rng", [](Json& s) { s.erase(s.size() - 1); }); },
      [=](Json& h, Gen& g) {
        std::string& v = meta(h)[pick(g, std::vector<std::string>{"sparse", "config", "sparsifier", "init_rng"})]
                             .get_ref<std::string&>();
        v[g() % v.size()] ^= 1;
      },
  };
}

std::vector<Mutation> header_mutations(const std::string& orig, Gen& g) {
  const Layout l(orig);
  std::vector<HeaderEdit> edits = tensor_entry_edits(l.tensors());
  for (auto& e : metadata_edits()) edits.push_back(e);
  std::vector<Mutation> out;
  for (int i = 0; i < 80; ++i) {
    Json h = l.header;
    const size_t k = i < (int)edits.size() ? (size_t)i : g() % edits.size();
    edits[k](h, g);
    out.push_back({"header edit " + std::to_string(k) + " #" + std::to_string(i), with_header(orig, h)});
  }
  return out;
}

// ---- well-formed files with invalid contents (checksums recomputed) -----------------

std::vector<Mutation> resigned_mutations(const std::string& path, const fs::path& dir, Gen& g) {
  const std::vector<std::string> layers = CheckpointEdit(path).sparse_layers();
  std::vector<Mutation> out;
  for (int i = 0; i < 40; ++i) {
    CheckpointEdit c(path);
    const std::string layer = pick(g, layers);
    const int kind = i % 5;
    if (kind == 0) {
      c.col_idx(layer)[g() % c.nnz(layer)] = pick(g, std::vector<int32_t>{-1, 12, 16, INT_MAX, INT_MIN});
    } else if (kind == 1) {
      const int64_t rows = c.tensors.at("model." + layer + ".row_ptr").numel() - 1;
      int32_t* r = c.row_ptr(layer);
      int32_t& e = r[g() % (rows + 1)];
      e = pick(g, std::vector<int32_t>{-1, e + 1, (int32_t)c.nnz(layer) + 1, INT_MAX});
    } else if (kind == 2) {
      std::vector<std::string> floats;
      for (auto& [n, t] : c.tensors)
        if (t.dtype() == DType::F32 && t.numel() > 0) floats.push_back(n);
      Tensor& t = c.tensors.at(pick(g, floats));
      t.data<float>()[g() % t.numel()] = pick(g, std::vector<float>{NAN, INFINITY, -INFINITY});
    } else if (kind == 3) {
      c.meta[pick(g, std::vector<std::string>{"step", "epoch", "batch_in_epoch"})] =
          pick(g, std::vector<std::string>{"-1", "12", "1000000", "3x", "9223372036854775807"});
    } else {
      Json cfg = c.config();
      cfg["sparsity"]["method"] = pick(g, std::vector<std::string>{"static", "set", "snip"});
      c.meta["config"] = cfg.dump();
    }
    const std::string p = c.save((dir / "resigned.safetensors").string());
    out.push_back({"invalid contents " + std::to_string(i) + " (kind " + std::to_string(kind) + ")", file_bytes(p), true});
  }
  return out;
}

// ---- files that differ but hold the same state -------------------------------------

// `orig` with the tensors laid out in reverse order in the data section.
std::string reversed_layout(const std::string& orig) {
  const Layout l(orig);
  Json h = l.header;
  std::vector<std::string> names = l.tensors();
  std::string data;
  for (auto it = names.rbegin(); it != names.rend(); ++it) {
    auto [b, e] = l.range(*it);
    h[*it]["data_offsets"] = {data.size(), data.size() + (e - b)};
    data += orig.substr(b, e - b);
  }
  std::string out = with_header(orig, h);
  return out.substr(0, out.size() - (orig.size() - 8 - l.hlen)) + data;
}

std::vector<Mutation> harmless_mutations(const std::string& orig) {
  const Layout l(orig);
  std::vector<Mutation> out;
  std::string padded = orig;
  padded.insert(8 + l.hlen, 8, ' ');
  const uint64_t len = l.hlen + 8;
  for (int i = 0; i < 8; ++i) padded[i] = (char)(unsigned char)(len >> (8 * i));
  out.push_back({"header padded by 8 more spaces", padded, false, true});
  out.push_back({"pretty-printed header", with_header_text(orig, l.header.dump(2)), false, true});
  out.push_back({"tensors in reverse order", reversed_layout(orig), false, true});
  Json v1 = l.header;  // the format before checksums
  v1["__metadata__"].erase(io::kChecksumsKey);
  v1["__metadata__"]["format"] = "sprout-checkpoint-v1";
  out.push_back({"older format without checksums", with_header(orig, v1), false, true});
  for (uint64_t at : {(uint64_t)3, 8 + l.hlen / 2, (uint64_t)orig.size() - 1})
    out.push_back({"byte " + std::to_string(at) + " overwritten by itself", orig, false, true});
  return out;
}

// ---- loading one, in a child process -------------------------------------------------

// Runs in the child: resume, compare the state with the original by saving it again,
// and when `train_on`, resume again and train to the end.
[[noreturn]] void load_in_child(const Runs& runs, const std::string& path, const std::string& original,
                                bool train_on, const fs::path& dir) {
  ::alarm(60);
  try {
    train::Trainer t(runs.stopped, Device::cpu(), (dir / "resumed").string(), true);
    t.resume(path);
    train::Run& r = t.run();
    const std::string again = (dir / "again.safetensors").string();
    io::save_checkpoint(again, *r.model, *r.optimizer, *r.sparsifier, {r.step_count, r.epoch, r.batch_in_epoch}, r.cfg);
    const bool same = file_bytes(again) == original;
    if (train_on) {
      train::Trainer on(runs.whole, Device::cpu(), (dir / "trained").string(), true);
      on.resume(path);
      try { on.fit(); } catch (const Error&) { ::_exit(kTrainFailed); }
      if (on.run().step_count != on.run().total_steps) ::_exit(kTrainFailed);
    }
    ::_exit(same ? kIdentical : kDifferent);
  } catch (const Error& e) {
    const std::string m = e.what();
    ::_exit(m.find(path) != std::string::npos && m.find('\n') == std::string::npos ? kRejected : kBadMessage);
  } catch (...) {
    ::_exit(kOtherException);
  }
}

// The outcome's code, or -1 for a crash (a signal, a sanitizer's exit, a hang).
int load_isolated(const Runs& runs, const std::string& path, const std::string& original, bool train_on,
                  const fs::path& dir) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) load_in_child(runs, path, original, train_on, dir);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) >= kRejected && WEXITSTATUS(status) <= kTrainFailed)
    return WEXITSTATUS(status);
  return -1;
}

TEST(CheckpointCorpus, EveryMutationIsRejectedOrChangesNothing) {
  const fs::path dir = fs::temp_directory_path() / ("sprout_ckpt_corpus_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  // One thread: the children fork from this process and train on.
  const Runs runs{tiny_run_config(dir, "rigl", {"train.max_steps=11", "train.threads=1"}),
                  tiny_run_config(dir, "rigl", {"train.threads=1"})};
  const std::string ckpt = write_checkpoint(runs.stopped, dir / "run");
  const std::string orig = file_bytes(ckpt);
  Gen g(20240613);
  std::vector<Mutation> corpus = byte_mutations(orig, g);
  for (auto& m : header_mutations(orig, g)) corpus.push_back(std::move(m));
  for (auto& m : resigned_mutations(ckpt, dir, g)) corpus.push_back(std::move(m));
  for (auto& m : harmless_mutations(orig)) corpus.push_back(std::move(m));
  ASSERT_GE(corpus.size(), 300u);
  const std::string path = (dir / "mutated.safetensors").string();
  write_bytes(path, orig);
  ASSERT_EQ(load_isolated(runs, path, orig, true, dir), kIdentical) << "the original does not load as itself";

  std::map<int, int> counts;
  for (size_t i = 0; i < corpus.size(); ++i) {
    write_bytes(path, corpus[i].bytes);
    const int o = load_isolated(runs, path, orig, i % 10 == 0 || corpus[i].must_reject || corpus[i].must_accept, dir);
    ++counts[o];
    const bool ok = corpus[i].must_accept ? o == kIdentical
                                          : o == kRejected || (o == kIdentical && !corpus[i].must_reject);
    EXPECT_TRUE(ok) << corpus[i].name << ": outcome " << o;
  }
  std::printf("checkpoint corpus: %zu mutations, %d rejected, %d accepted identical, %d accepted different "
              "(invalid), %d crashes, %d other exceptions, %d errors not naming the file in one line, "
              "%d resumed runs that could not train on\n",
              corpus.size(), counts[kRejected], counts[kIdentical], counts[kDifferent], counts[-1],
              counts[kOtherException], counts[kBadMessage], counts[kTrainFailed]);
  EXPECT_EQ(counts[-1], 0);
  EXPECT_EQ(counts[kDifferent], 0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace sprout::testing
