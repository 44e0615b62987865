// The source tree's layering, checked on the files themselves: every project include
// points to the same layer or one below it (kernels < engine/core < autograd < sparse <
// ops < nn < optim < sparsity < io, dist < train < models, data < apps; models and data never
// include each other), only engine/core/dispatch.h branches on SPROUT_WITH_CUDA outside
// kernels, CUDA's runtime header is reached only through engine/core, and no source
// file grows past 500 lines or a top-level function past 60.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

const char* const kRoots[] = {"kernels", "engine", "models", "data", "apps"};

// Rank of a source path by its folder; -1 when outside the layered tree.
int rank_of(const std::string& path) {
  static const std::vector<std::pair<std::string, int>> ranks = {
      {"kernels/", 0},        {"engine/core/", 1}, {"engine/autograd/", 2}, {"engine/sparse/", 3},
      {"engine/ops/", 4},     {"engine/nn/", 5},   {"engine/optim/", 6},    {"engine/sparsity/", 7},
      {"engine/io/", 8},      {"engine/dist/", 8}, {"engine/train/", 9}, {"models/", 10},        {"data/", 10},
      {"apps/", 11}};
  for (const auto& [prefix, r] : ranks)
    if (path.rfind(prefix, 0) == 0) return r;
  return -1;
}

std::string top_folder(const std::string& path) { return path.substr(0, path.find('/')); }

struct Source {
  std::string path;  // relative to the project root
  std::vector<std::string> lines;
};

std::vector<Source> sources() {
  std::vector<Source> out;
  const fs::path root(SPROUT_SOURCE_DIR);
  for (const char* top : kRoots) {
    for (const auto& e : fs::recursive_directory_iterator(root / top)) {
      const std::string ext = e.path().extension().string();
      if (!e.is_regular_file() || (ext != ".h" && ext != ".cpp" && ext != ".cu" && ext != ".cuh")) continue;
      Source s;
      s.path = fs::relative(e.path(), root).generic_string();
      std::ifstream f(e.path());
      for (std::string line; std::getline(f, line);) s.lines.push_back(line);
      out.push_back(std::move(s));
    }
  }
  return out;
}

TEST(Layering, FindsTheSources) {
  auto srcs = sources();
  EXPECT_GT(srcs.size(), 100u);
  EXPECT_GE(rank_of("engine/ops/spmm.cpp"), 0);
}

TEST(Layering, IncludesPointDownOnly) {
  const std::regex inc("^\\s*#\\s*include\\s+\"([^\"]+)\"");
  std::vector<std::string> bad;
  for (const auto& s : sources()) {
    const int r = rank_of(s.path);
    for (size_t i = 0; i < s.lines.size(); ++i) {
      std::smatch m;
      if (!std::regex_search(s.lines[i], m, inc)) continue;
      const std::string target = m[1];
      const int t = rank_of(target);
      if (t < 0) continue;  // a file beside it, or outside the tree
      const bool peers_crossed = t == r && top_folder(target) != top_folder(s.path);
      if (t > r || peers_crossed) bad.push_back(s.path + ":" + std::to_string(i + 1) + " includes " + target);
    }
  }
  for (const auto& b : bad) ADD_FAILURE() << b;
}

TEST(Layering, CudaBranchesOnlyInDispatch) {
  std::vector<std::string> bad;
  for (const auto& s : sources()) {
    if (top_folder(s.path) == "kernels" || s.path == "engine/core/dispatch.h") continue;
    for (size_t i = 0; i < s.lines.size(); ++i)
      if (s.lines[i].find("#if SPROUT_WITH_CUDA") != std::string::npos ||
          s.lines[i].find("#ifdef SPROUT_WITH_CUDA") != std::string::npos)
        bad.push_back(s.path + ":" + std::to_string(i + 1));
  }
  for (const auto& b : bad) ADD_FAILURE() << b << " branches on SPROUT_WITH_CUDA outside engine/core/dispatch.h";
}

TEST(Layering, CudaRuntimeOnlyThroughEngineCore) {
  for (const auto& s : sources()) {
    if (top_folder(s.path) == "kernels" || s.path.rfind("engine/core/", 0) == 0) continue;
    for (size_t i = 0; i < s.lines.size(); ++i)
      if (s.lines[i].find("#include \"kernels/cuda/runtime.h\"") != std::string::npos)
        ADD_FAILURE() << s.path << ":" << i + 1 << " includes kernels/cuda/runtime.h (use engine/core)";
  }
}

TEST(Layering, FilesStayUnder500Lines) {
  for (const auto& s : sources())
    EXPECT_LE(s.lines.size(), 500u) << s.path << " has " << s.lines.size() << " lines";
}

// Function bodies at the top level and one class level in: a line at column `indent`
// that names a function (no namespace, class, struct, enum or union, no declaration
// ending in ';'), whose signature opens a brace within a few lines, through the next
// line that is a lone "}" at the same column.
std::vector<std::string> long_functions(const Source& s, const std::string& indent, size_t limit) {
  const std::regex head("^" + indent + "[A-Za-z_~][^;]*\\(");
  const std::regex not_function("^" + indent +
                                "(namespace|class|struct|enum|union|using|typedef|return|if|for|while|switch|"
                                "template <[^>]*> (class|struct))\\b");
  std::vector<std::string> out;
  for (size_t i = 0; i < s.lines.size(); ++i) {
    if (!std::regex_search(s.lines[i], head) || std::regex_search(s.lines[i], not_function)) continue;
    size_t open = i;
    while (open < s.lines.size() && open < i + 8) {
      const std::string& l = s.lines[open];
      if (!l.empty() && (l.back() == ';' || l.back() == '{')) break;
      ++open;
    }
    if (open >= s.lines.size() || s.lines[open].empty() || s.lines[open].back() != '{') continue;
    if (s.lines[open].find('}') != std::string::npos) continue;
    size_t j = open + 1;
    while (j < s.lines.size() && s.lines[j].rfind(indent + "}", 0) != 0) ++j;
    const size_t body = j - open - 1;
    if (body > limit)
      out.push_back(s.path + ":" + std::to_string(i + 1) + " " + s.lines[i] + " (" + std::to_string(body) + " lines)");
    i = j;
  }
  return out;
}

TEST(Layering, FunctionCheckSeesLongFunctionsAtTopLevelAndInClasses) {
  Source s{"x.cpp", {"int f(int a,", "      int b) {"}};
  for (int i = 0; i < 61; ++i) s.lines.push_back("  ++a;");
  s.lines.push_back("}");
  s.lines.push_back("class C {");
  s.lines.push_back("  void g() {");
  for (int i = 0; i < 62; ++i) s.lines.push_back("    ++n;");
  s.lines.push_back("  }");
  s.lines.push_back("  void h() {");
  s.lines.push_back("  }");
  s.lines.push_back("};");
  auto top = long_functions(s, "", 60), in_class = long_functions(s, "  ", 60);
  ASSERT_EQ(top.size(), 1u);
  EXPECT_NE(top[0].find("(61 lines)"), std::string::npos) << top[0];
  ASSERT_EQ(in_class.size(), 1u);
  EXPECT_NE(in_class[0].find("void g()"), std::string::npos) << in_class[0];
  EXPECT_TRUE(long_functions(s, "", 61).empty());
}

TEST(Layering, FunctionsStayUnder60Lines) {
  for (const auto& s : sources())
    for (const char* indent : {"", "  "})
      for (const auto& l : long_functions(s, indent, 60)) ADD_FAILURE() << l;
}

}  // namespace
