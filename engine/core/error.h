// Error type and checks. SPROUT_CHECK throws sprout::Error carrying the failed
// condition, a message built from the extra arguments, and the source location.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace sprout {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

// Thrown when an allocation fails; the CLI maps it to "error: out of memory ...".
class OutOfMemory : public Error {
 public:
  explicit OutOfMemory(const std::string& msg) : Error(msg) {}
};

namespace detail {
inline void append(std::ostringstream&) {}
template <class T, class... Rest>
void append(std::ostringstream& os, const T& v, const Rest&... rest) {
  os << v;
  append(os, rest...);
}
template <class... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  append(os, args...);
  return os.str();
}
}  // namespace detail

}  // namespace sprout

#define SPROUT_CHECK(cond, ...)                                                     \
  do {                                                                              \
    if (!(cond))                                                                    \
      throw ::sprout::Error(::sprout::detail::concat(__VA_ARGS__) + " [" #cond "] (" \
                            + __FILE__ + ":" + std::to_string(__LINE__) + ")");     \
  } while (0)

#define SPROUT_FAIL(...) throw ::sprout::Error(::sprout::detail::concat(__VA_ARGS__))
