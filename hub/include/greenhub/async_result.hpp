// AsyncResult<T>: a value, or an exception, that one greenlet delivers and
// others wait for (gevent.event.AsyncResult).
//
//   greenhub::AsyncResult<int> result;
//   spawn([&] { result.set(42); });        // or result.set_exception(...)
//   int v = result.get();                  // waits; rethrows an exception
//   result.get(10ms);                      // throws greenhub::Timeout
//
// Like gevent, set() and set_exception() may be called again: the latest
// outcome replaces the previous one and any new waiters are woken. Waiters
// run in the order they waited. Belongs to one hub; takes no lock.
#pragma once

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "greenhub/runtime.hpp"
#include "greenhub/timeout.hpp"
#include "greenhub/waiter_queue.hpp"

namespace greenhub {

template <class T = void>
class AsyncResult {
 public:
  // What is stored: T, or std::monostate for AsyncResult<void>.
  using value_type = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

  AsyncResult() = default;
  AsyncResult(const AsyncResult&) = delete;
  AsyncResult& operator=(const AsyncResult&) = delete;

  // Stores the value (clearing any exception) and wakes every waiter.
  void set(value_type value)
    requires(!std::is_void_v<T>)
  {
    value_.emplace(std::move(value));
    exception_ = nullptr;
    waiters_.grant_all();
  }
  void set()
    requires std::is_void_v<T>
  {
    value_.emplace();
    exception_ = nullptr;
    waiters_.grant_all();
  }
  // Stores the exception get() will rethrow (clearing any value) and wakes
  // every waiter.
  void set_exception(std::exception_ptr exception) {
    value_.reset();
    exception_ = std::move(exception);
    waiters_.grant_all();
  }

  bool ready() const { return value_.has_value() || exception_ != nullptr; }
  bool successful() const { return value_.has_value(); }
  // The value if one was set, else std::nullopt.
  std::optional<value_type> value() const
    requires(!std::is_void_v<T>)
  {
    return value_;
  }
  std::exception_ptr exception() const { return exception_; }

  // Waits until an outcome is set (true) or the timeout passes (false).
  bool wait(std::optional<Duration> timeout = std::nullopt) {
    if (ready()) return true;
    WaitDeadline deadline(timeout);
    while (!ready()) {
      if (!waiters_.wait(deadline, nullptr, "AsyncResult.wait")) return ready();
    }
    return true;
  }

  // Waits for the outcome: returns the value or rethrows the exception.
  // Throws greenhub::Timeout if `timeout` passes first.
  T get(std::optional<Duration> timeout = std::nullopt) {
    if (!wait(timeout)) throw Timeout(timeout.value_or(Duration::zero()), false);
    return outcome();
  }
  // The outcome if there is one; greenhub::Timeout (of zero) if not.
  T get_nowait() {
    if (!ready()) throw Timeout(Duration::zero(), false);
    return outcome();
  }

 private:
  T outcome() const {
    if (exception_ != nullptr) std::rethrow_exception(exception_);
    if constexpr (!std::is_void_v<T>) return *value_;
  }

  std::optional<value_type> value_;
  std::exception_ptr exception_;
  WaiterQueue waiters_;
};

}  // namespace greenhub
