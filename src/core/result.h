#pragma once
// Expected failures are values: every function that can fail on user input (a file, a request,
// a flag) returns Result<T>. Bugs are loud checks instead (see check.h).
#include <string>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace ag {

struct Error {
  std::string message;  // one line, names the thing that is wrong and why
};

// Formats an Error: `return ag::error("{}: tensor '{}' has {} dims", path, name, n);`
template <typename... Args>
Error error(fmt::format_string<Args...> format, Args&&... args) {
  return Error{fmt::format(format, std::forward<Args>(args)...)};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error err) : state_(std::move(err)) {}  // NOLINT

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error err) : err_(std::move(err)), ok_(false) {}  // NOLINT
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return err_; }

 private:
  Error err_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace ag

// Propagates an error: `AG_TRY(auto x, parse(...));` or `AG_TRY_STATUS(check(...));`
#define AG_CONCAT_INNER(a, b) a##b
#define AG_CONCAT(a, b) AG_CONCAT_INNER(a, b)
#define AG_TRY(decl, expr)                                      \
  auto AG_CONCAT(ag_try_, __LINE__) = (expr);                   \
  if (!AG_CONCAT(ag_try_, __LINE__).ok())                       \
    return AG_CONCAT(ag_try_, __LINE__).error();                \
  decl = std::move(AG_CONCAT(ag_try_, __LINE__)).value()
#define AG_TRY_STATUS(expr)                 \
  do {                                      \
    auto ag_try_status_ = (expr);           \
    if (!ag_try_status_.ok())               \
      return ag_try_status_.error();        \
  } while (0)
