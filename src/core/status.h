// Status and StatusOr: how every internal function reports success or an
// error. A Status is a code from the canonical set (see the error table in
// DESIGN.md) plus a message that names the thing at fault. OK carries no
// allocation. Not thread-safe to mutate; safe to copy and share read-only.
#pragma once

#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <utility>

namespace tensorpod::internal {

// Values match tp_status_code_t in tensorpod.h; append only.
enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument = 1,
  kFailedPrecondition = 2,
  kNotFound = 3,
  kAlreadyExists = 4,
  kUnimplemented = 5,
  kResourceExhausted = 6,
  kUnavailable = 7,
  kDeadlineExceeded = 8,
  kCancelled = 9,
  kInternal = 10,
};

const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message)
      : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "INVALID_ARGUMENT: message", or "OK".
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context` and ": ".
  Status WithContext(const std::string& context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

std::ostream& operator<<(std::ostream& os, const Status& s);

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(const Status& status) : status_(status) {  // NOLINT: implicit
    if (status_.ok()) {
      status_ = Status(StatusCode::kInternal, "StatusOr built from OK without a value");
    }
  }
  StatusOr(Status&& status) : status_(std::move(status)) {  // NOLINT: implicit
    if (status_.ok()) {
      status_ = Status(StatusCode::kInternal, "StatusOr built from OK without a value");
    }
  }
  StatusOr(T&& value) : value_(std::move(value)) {}       // NOLINT: implicit
  StatusOr(const T& value) : value_(value) {}             // NOLINT: implicit
  template <typename U, typename = std::enable_if_t<std::is_convertible_v<U&&, T> &&
                                                    !std::is_same_v<std::decay_t<U>, Status>>>
  StatusOr(U&& value) : value_(T(std::forward<U>(value))) {}  // NOLINT: implicit

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }

  // REQUIRES: ok().
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

// Builds a message from streamed values: MessageBuilder() << "x=" << x.
class MessageBuilder {
 public:
  template <typename T>
  MessageBuilder& operator<<(const T& v) {
    os_ << v;
    return *this;
  }
  operator std::string() const { return os_.str(); }  // NOLINT: implicit
  std::string str() const { return os_.str(); }

 private:
  std::ostringstream os_;
};

}  // namespace tensorpod::internal

#define TP_CONCAT_INNER(a, b) a##b
#define TP_CONCAT(a, b) TP_CONCAT_INNER(a, b)

// Builds a Status with `code` (a StatusCode enumerator name such as
// kInvalidArgument) and a streamed message.
#define TP_ERROR(code, msg)                                    \
  ::tensorpod::internal::Status(                               \
      ::tensorpod::internal::StatusCode::code,                 \
      (::tensorpod::internal::MessageBuilder() << msg).str())

#define TP_RETURN_IF_ERROR(expr)                               \
  do {                                                         \
    ::tensorpod::internal::Status tp_status_ = (expr);         \
    if (!tp_status_.ok()) return tp_status_;                   \
  } while (0)

#define TP_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()

#define TP_ASSIGN_OR_RETURN(lhs, expr) \
  TP_ASSIGN_OR_RETURN_IMPL(TP_CONCAT(tp_statusor_, __LINE__), lhs, expr)

// A user error: returns INVALID_ARGUMENT naming what is wrong.
#define TP_CHECK_ARG(cond, msg)                                 \
  do {                                                          \
    if (!(cond)) return TP_ERROR(kInvalidArgument, msg);        \
  } while (0)

// A bug in tensorpod: returns INTERNAL with the failed condition and place.
#define TP_INTERNAL_CHECK(cond, msg)                                          \
  do {                                                                        \
    if (!(cond))                                                              \
      return TP_ERROR(kInternal, "internal check failed: " #cond " at "       \
                                     << __FILE__ << ":" << __LINE__ << ": "   \
                                     << msg);                                 \
  } while (0)
