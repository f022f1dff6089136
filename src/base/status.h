// base/status.h - Status and StatusOr: how every user or environment error travels up to the
// front door (CLI exit code, HTTP status) without exceptions. Programmer errors use LFM2_CHECK.
#pragma once

#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>

#include "base/check.h"

namespace lfm2 {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,   // bad flag, bad request, bad value in a file the user gave us
  kNotFound,          // missing file, tensor, key
  kDataLoss,          // corrupt or truncated file
  kUnsupported,       // well-formed but not something we implement (quant mode, bits 7, ...)
  kOutOfRange,        // context full, budget exceeded
  kResourceExhausted, // allocation or RAM budget
  kIo,                // OS-level failure (open, mmap, read)
  kCancelled,
  kInternal,
};

const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid argument: <message>" style, for logs.
  std::string ToString() const;

  // Returns a copy with `context + ": "` prepended to the message (e.g. the file being read).
  Status WithContext(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Concatenates any streamable values into one string: StrCat("shape [", n, "]").
template <typename... Args>
std::string StrCat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

template <typename... Args>
Status InvalidArgumentError(const Args&... args) {
  return Status(StatusCode::kInvalidArgument, StrCat(args...));
}
template <typename... Args>
Status NotFoundError(const Args&... args) {
  return Status(StatusCode::kNotFound, StrCat(args...));
}
template <typename... Args>
Status DataLossError(const Args&... args) {
  return Status(StatusCode::kDataLoss, StrCat(args...));
}
template <typename... Args>
Status UnsupportedError(const Args&... args) {
  return Status(StatusCode::kUnsupported, StrCat(args...));
}
template <typename... Args>
Status OutOfRangeError(const Args&... args) {
  return Status(StatusCode::kOutOfRange, StrCat(args...));
}
template <typename... Args>
Status ResourceExhaustedError(const Args&... args) {
  return Status(StatusCode::kResourceExhausted, StrCat(args...));
}
template <typename... Args>
Status IoError(const Args&... args) {
  return Status(StatusCode::kIo, StrCat(args...));
}
template <typename... Args>
Status CancelledError(const Args&... args) {
  return Status(StatusCode::kCancelled, StrCat(args...));
}
template <typename... Args>
Status InternalError(const Args&... args) {
  return Status(StatusCode::kInternal, StrCat(args...));
}

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(const Status& status) : status_(status) {  // NOLINT: implicit by design
    LFM2_CHECK(!status_.ok());
  }
  StatusOr(Status&& status) : status_(std::move(status)) {  // NOLINT
    LFM2_CHECK(!status_.ok());
  }
  StatusOr(const T& value) : value_(value) {}  // NOLINT
  StatusOr(T&& value) : value_(std::move(value)) {}  // NOLINT
  template <typename U, typename = std::enable_if_t<std::is_convertible_v<U&&, T> &&
                                                    !std::is_same_v<std::decay_t<U>, Status> &&
                                                    !std::is_same_v<std::decay_t<U>, T>>>
  StatusOr(U&& value) : value_(T(std::forward<U>(value))) {}  // NOLINT

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }

  T& value() & {
    LFM2_CHECK(ok());
    return *value_;
  }
  const T& value() const& {
    LFM2_CHECK(ok());
    return *value_;
  }
  T&& value() && {
    LFM2_CHECK(ok());
    return std::move(*value_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

namespace internal {
inline Status AsStatus(const Status& s) { return s; }
template <typename T>
Status AsStatus(const StatusOr<T>& s) {
  return s.status();
}
}  // namespace internal

}  // namespace lfm2

#define LFM2_CONCAT_INNER(a, b) a##b
#define LFM2_CONCAT(a, b) LFM2_CONCAT_INNER(a, b)

// Returns early from the enclosing function if `expr` (a Status or StatusOr) is not OK.
#define LFM2_RETURN_IF_ERROR(expr)                                      \
  do {                                                                  \
    ::lfm2::Status lfm2_status_ = ::lfm2::internal::AsStatus((expr));  \
    if (!lfm2_status_.ok()) return lfm2_status_;                        \
  } while (0)

// LFM2_ASSIGN_OR_RETURN(auto x, MakeX()); returns the error if MakeX() failed.
#define LFM2_ASSIGN_OR_RETURN(lhs, expr) \
  LFM2_ASSIGN_OR_RETURN_IMPL(LFM2_CONCAT(lfm2_statusor_, __LINE__), lhs, expr)
#define LFM2_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()
