// Greenlet<T>: gevent's Greenlet in C++.
//
//   auto g = greenhub::spawn([](int x) { return x + 1; }, 2);
//   g.join();            // or g.get() for the value (or the exception)
//   g.value();           // std::optional<int>{3}
//
// A greenlet runs f(args...) on its own pooled stack, on the hub of the
// thread that started it. Arguments are copied (decayed) at spawn time.
// Handles are cheap shared references; a started greenlet runs to the end
// even if every handle is dropped.
//
// Outcomes follow gevent: a greenlet that returns is successful() with a
// value(); one that throws has exception(); one killed with GreenletExit
// (the default of kill()) counts as successful, with no value. get() returns
// the value, rethrows the exception, or throws GreenletExit for a killed
// greenlet that has no value.
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "greenhub/runtime.hpp"
#include "greenhub/timeout.hpp"
#include "greenhub/wait.hpp"
#include "greenhub/wait_list.hpp"

namespace greenhub {

// Raised inside a greenlet by kill() (gevent's GreenletExit). Not a
// std::exception, so `catch (const std::exception&)` does not swallow it.
class GreenletExit {
 public:
  const char* what() const noexcept { return "greenhub::GreenletExit"; }
};

// The part of every API greenlet that does not depend on its result type.
class GreenletCore : public GreenletBase {
 public:
  bool ready() const { return dead(); }
  bool successful() const { return dead() && exception_ == nullptr; }
  bool killed() const { return killed_; }
  std::exception_ptr exception() const { return exception_; }

  // Waits until the greenlet has finished; false if the timeout passed.
  bool join(std::optional<Duration> timeout = std::nullopt);
  // Raises `exception` (GreenletExit if null) in the greenlet at its next
  // wait; a greenlet that has not started never starts. With `block`, waits
  // for it to finish (up to `timeout`).
  void kill(std::exception_ptr exception = nullptr, bool block = true,
            std::optional<Duration> timeout = std::nullopt);
  // Runs callback in a new greenlet once this one has finished.
  void link(std::function<void()> callback);

  WaitList& joiners() { return joiners_; }

 protected:
  void finished(std::exception_ptr error) override;
  virtual void release_body() = 0;

 private:
  std::exception_ptr exception_;
  bool killed_ = false;
  WaitList joiners_;
};

namespace detail {

template <class T>
struct Stored {
  using type = T;
};
template <>
struct Stored<void> {
  using type = std::monostate;
};

template <class T>
class GreenletState : public GreenletCore {
 public:
  std::optional<typename Stored<T>::type> value_;
};

template <class T, class Body>
class GreenletImpl final : public GreenletState<T> {
 public:
  explicit GreenletImpl(Body body) : body_(std::move(body)) {}

 protected:
  void run() override {
    if constexpr (std::is_void_v<T>) {
      (*body_)();
      this->value_.emplace();
    } else {
      this->value_.emplace((*body_)());
    }
  }
  void release_body() override { body_.reset(); }

 private:
  std::optional<Body> body_;
};

template <class T, class F, class... Args>
auto make_body(F&& f, Args&&... args) {
  return [fn = std::decay_t<F>(std::forward<F>(f)),
          tuple = std::make_tuple(std::decay_t<Args>(std::forward<Args>(args))...)]() mutable
         -> T {
    if constexpr (std::is_void_v<T>) {
      std::apply(fn, std::move(tuple));
    } else {
      return std::apply(fn, std::move(tuple));
    }
  };
}

}  // namespace detail

// A type-erased handle to any API greenlet (for joinall over mixed types).
class AnyGreenlet {
 public:
  AnyGreenlet() = default;
  explicit AnyGreenlet(std::shared_ptr<GreenletCore> core) : core_(std::move(core)) {}

  GreenletCore* operator->() const { return core_.get(); }
  GreenletCore& operator*() const { return *core_; }
  explicit operator bool() const { return core_ != nullptr; }
  bool operator==(const AnyGreenlet& o) const { return core_ == o.core_; }
  const std::shared_ptr<GreenletCore>& core() const { return core_; }

 private:
  std::shared_ptr<GreenletCore> core_;
};

template <class T = void>
class Greenlet {
 public:
  using value_type = T;

  Greenlet() = default;

  // An unstarted greenlet that will run f(args...): call start().
  template <class F, class... Args,
            class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, Greenlet>>>
  explicit Greenlet(F&& f, Args&&... args) {
    auto body = detail::make_body<T>(std::forward<F>(f), std::forward<Args>(args)...);
    state_ = std::make_shared<detail::GreenletImpl<T, decltype(body)>>(std::move(body));
  }

  template <class F, class... Args>
  static Greenlet spawn(F&& f, Args&&... args) {
    Greenlet g(std::forward<F>(f), std::forward<Args>(args)...);
    g.start();
    return g;
  }

  template <class F, class... Args>
  static Greenlet spawn_later(Duration delay, F&& f, Args&&... args) {
    Greenlet g(std::forward<F>(f), std::forward<Args>(args)...);
    g.start_later(delay);
    return g;
  }

  Greenlet& start() {
    state_->start();
    return *this;
  }
  Greenlet& start_later(Duration delay) {
    state_->start_later(delay);
    return *this;
  }
  // Before start(): the stack size (default Hub::default_stack_size()).
  Greenlet& set_stack_size(size_t bytes) {
    state_->set_stack_size(bytes);
    return *this;
  }
  Greenlet& set_name(std::string name) {
    state_->set_name(std::move(name));
    return *this;
  }

  uint64_t id() const { return state_->id(); }
  const std::string& name() const { return state_->name(); }
  bool started() const { return state_->started(); }
  bool ready() const { return state_->ready(); }
  bool dead() const { return state_->dead(); }
  bool successful() const { return state_->successful(); }
  bool killed() const { return state_->killed(); }
  std::exception_ptr exception() const { return state_->exception(); }
  size_t stack_size() const { return state_->stack_size(); }

  // The result of a successful greenlet, else std::nullopt.
  template <class U = T, class = std::enable_if_t<!std::is_void_v<U>>>
  std::optional<U> value() const {
    return state_->value_;
  }

  bool join(std::optional<Duration> timeout = std::nullopt) const {
    return state_->join(timeout);
  }

  // Waits for the greenlet and returns its value, or rethrows its
  // exception. Throws greenhub::Timeout if `timeout` passes first.
  T get(std::optional<Duration> timeout = std::nullopt) const {
    if (!state_->join(timeout)) throw Timeout(*timeout, false);
    if (state_->exception()) std::rethrow_exception(state_->exception());
    if constexpr (!std::is_void_v<T>) {
      if (!state_->value_) throw GreenletExit();
      return *state_->value_;
    }
  }

  void kill(std::exception_ptr exception = nullptr, bool block = true,
            std::optional<Duration> timeout = std::nullopt) const {
    state_->kill(std::move(exception), block, timeout);
  }

  // Runs callback(this greenlet) in a new greenlet once this one is dead.
  void link(std::function<void(Greenlet)> callback) const {
    Greenlet self = *this;
    state_->link([self, cb = std::move(callback)] { cb(self); });
  }

  operator AnyGreenlet() const { return AnyGreenlet(state_); }  // NOLINT: implicit by design
  const std::shared_ptr<detail::GreenletState<T>>& state() const { return state_; }

 private:
  std::shared_ptr<detail::GreenletState<T>> state_;
};

template <class F, class... Args>
using spawn_result_t = std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>;

// Starts f(args...) in a new greenlet on the current hub.
template <class F, class... Args>
Greenlet<spawn_result_t<F, Args...>> spawn(F&& f, Args&&... args) {
  return Greenlet<spawn_result_t<F, Args...>>::spawn(std::forward<F>(f),
                                                     std::forward<Args>(args)...);
}

// Starts f(args...) in a new greenlet after `delay`.
template <class F, class... Args>
Greenlet<spawn_result_t<F, Args...>> spawn_later(Duration delay, F&& f, Args&&... args) {
  return Greenlet<spawn_result_t<F, Args...>>::spawn_later(delay, std::forward<F>(f),
                                                           std::forward<Args>(args)...);
}

// Waits for the greenlets (all, or `count` of them) to finish, up to
// `timeout`. Returns the finished ones, in the order given. With
// raise_error, the first exception a greenlet dies with is rethrown.
std::vector<AnyGreenlet> joinall(const std::vector<AnyGreenlet>& greenlets,
                                 std::optional<Duration> timeout = std::nullopt,
                                 bool raise_error = false,
                                 std::optional<size_t> count = std::nullopt);

// Kills every greenlet (GreenletExit unless `exception` is given); with
// `block`, waits for them all to finish (up to `timeout`).
void killall(const std::vector<AnyGreenlet>& greenlets, std::exception_ptr exception = nullptr,
             bool block = true, std::optional<Duration> timeout = std::nullopt);

// The greenlet running now (gevent.getcurrent()); the hub's main greenlet
// when called outside any spawned greenlet.
GreenletBase& getcurrent();

}  // namespace greenhub
