// IMap<R>: the lazy result range of Group::imap and Group::imap_unordered
// (gevent's IMap and IMapUnordered).
//
//   for (int v : pool.imap_unordered(echo, std::views::iota(0, 10))) ...
//
// How it works
//   Creating the range spawns a feeder greenlet (on the hub, not in the
//   group) that walks the inputs and adds one task greenlet per input to
//   the group, waiting for room when the group is a full Pool. Each task's
//   death callback puts its outcome (index, value or exception) into an
//   unbounded result Queue, so results become available as tasks finish,
//   while later inputs are still being spawned. The consumer takes outcomes
//   from that queue: imap_unordered yields them in completion order; imap
//   keeps early arrivals aside and yields them in input order.
//
//   An exception thrown by the mapped function is the outcome at that
//   position: dereferencing the iterator there (or next()) rethrows it. A
//   task killed without a value yields GreenletExit the same way. If the
//   inputs themselves throw while being walked (or the feeder cannot add a
//   task), that exception is yielded after the results of the tasks already
//   spawned, and the iteration ends there.
//
// Invariants
//   - The iteration ends once the feeder is done and every outcome it
//     promised (one per spawned task, plus its own error if any) was taken.
//   - The range owns its feeding: destroying it kills the feeder, so no
//     further task is spawned; tasks already spawned run on in their group.
//   - Tasks deliver through callbacks that never block; nothing here holds
//     a reference cycle (the state holds the feeder weakly).
//   - An input range: iterate it once, either with begin()/end() (range-for)
//     or with next(), not both. Belongs to one hub.
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "greenhub/greenlet.hpp"
#include "greenhub/queue.hpp"

namespace greenhub {

namespace detail {

template <class R>
using imap_value_t = std::conditional_t<std::is_void_v<R>, std::monostate, R>;

template <class R>
struct IMapState {
  using value_type = imap_value_t<R>;
  struct Outcome {
    size_t index = 0;
    std::optional<value_type> value;
    std::exception_ptr error;
  };
  // The feeder's last outcome, which only says it is done.
  static constexpr size_t kFeedingDone = std::numeric_limits<size_t>::max();

  explicit IMapState(bool ordered) : ordered(ordered) {}

  const bool ordered;
  Queue<Outcome> results;  // unbounded: put() never waits
  size_t promised = 0;     // outcomes the feeder will deliver
  size_t consumed = 0;
  bool feeding_done = false;
  std::map<size_t, Outcome> early;  // ordered: arrived before their turn
  size_t next_index = 0;
  std::optional<Outcome> current;
  bool started = false;
  bool finished = false;
  std::weak_ptr<GreenletCore> feeder;

  // Takes the next outcome into `current`, waiting for it; false at the end.
  bool advance() {
    current.reset();
    for (;;) {
      if (ordered) {
        auto it = early.find(next_index);
        if (it != early.end()) {
          current = std::move(it->second);
          early.erase(it);
          ++next_index;
          ++consumed;
          return true;
        }
      }
      if (feeding_done && consumed == promised) {
        finished = true;
        return false;
      }
      Outcome outcome = results.get();
      if (outcome.index == kFeedingDone) continue;
      if (ordered && outcome.index != next_index) {
        early.emplace(outcome.index, std::move(outcome));
        continue;
      }
      current = std::move(outcome);
      if (ordered) ++next_index;
      ++consumed;
      return true;
    }
  }

  value_type& current_value() {
    if (current->error != nullptr) std::rethrow_exception(current->error);
    return *current->value;
  }
};

// The outcome of a finished task greenlet (called from its death callback).
template <class R>
typename IMapState<R>::Outcome task_outcome(GreenletState<R>* task, size_t index) {
  typename IMapState<R>::Outcome outcome;
  outcome.index = index;
  if (task->exception() != nullptr) {
    outcome.error = task->exception();
  } else if (task->value_) {
    outcome.value.emplace(std::move(*task->value_));
  } else {
    outcome.error = std::make_exception_ptr(GreenletExit());
  }
  return outcome;
}

// The feeder's body: one task per input, added with add(task) (which may
// wait for room), its outcome delivered to `state` when it dies.
template <class R, class F, class Range, class Add>
void feed_imap(const std::shared_ptr<IMapState<R>>& state, const std::shared_ptr<F>& fn,
               Range& inputs, Add& add) {
  using Outcome = typename IMapState<R>::Outcome;
  struct Done {
    IMapState<R>& state;
    ~Done() {
      state.feeding_done = true;
      state.results.put(Outcome{IMapState<R>::kFeedingDone, std::nullopt, nullptr});
    }
  } done{*state};
  size_t index = 0;
  try {
    for (auto&& input : inputs) {
      using Input = std::decay_t<decltype(input)>;
      Greenlet<R> task([fn, in = Input(input)]() mutable -> R { return std::invoke(*fn, in); });
      add(AnyGreenlet(task));
      GreenletState<R>* raw = task.state().get();
      const size_t i = index++;
      ++state->promised;
      raw->on_death([state, raw, i] { state->results.put(task_outcome<R>(raw, i)); });
      task.start();
    }
  } catch (const GreenletExit&) {
    throw;  // the range was destroyed: stop feeding
  } catch (...) {
    ++state->promised;
    state->results.put(Outcome{index, std::nullopt, std::current_exception()});
  }
}

}  // namespace detail

template <class R>
class IMap {
 public:
  // A result: R, or std::monostate for a function returning void.
  using value_type = detail::imap_value_t<R>;

  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using iterator_concept = std::input_iterator_tag;
    using value_type = IMap::value_type;
    using difference_type = std::ptrdiff_t;
    using reference = value_type&;

    iterator() = default;
    // The current result; rethrows the exception that is this result.
    reference operator*() const { return state_->current_value(); }
    // Waits for the next result.
    iterator& operator++() {
      state_->advance();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) {
      return it.state_ == nullptr || it.state_->finished;
    }

   private:
    friend class IMap;
    explicit iterator(detail::IMapState<R>* state) : state_(state) {}
    detail::IMapState<R>* state_ = nullptr;
  };

  // Spawns the feeder of f over `inputs`; `add(AnyGreenlet)` puts a task
  // in its group (waiting for room). Used by Group::imap/imap_unordered.
  template <class F, class Range, class Add>
  static IMap start(bool ordered, F&& f, Range&& inputs, Add add) {
    auto state = std::make_shared<detail::IMapState<R>>(ordered);
    auto fn = std::make_shared<std::decay_t<F>>(std::forward<F>(f));
    Greenlet<void> feeder([state, fn, inputs = std::decay_t<Range>(std::forward<Range>(inputs)),
                           add = std::move(add)]() mutable {
      detail::feed_imap<R>(state, fn, inputs, add);
    });
    feeder.set_name("imap feeder");
    state->feeder = feeder.state();
    feeder.start();
    return IMap(std::move(state));
  }

  IMap(IMap&&) noexcept = default;
  IMap& operator=(IMap&& other) noexcept {
    if (this != &other) {
      stop_feeding();
      state_ = std::move(other.state_);
    }
    return *this;
  }
  IMap(const IMap&) = delete;
  IMap& operator=(const IMap&) = delete;
  ~IMap() { stop_feeding(); }

  // Waits for the first result (once) and returns an iterator on it.
  iterator begin() {
    if (!state_->started) {
      state_->started = true;
      state_->advance();
    }
    return iterator(state_.get());
  }
  std::default_sentinel_t end() const { return {}; }

  // gevent's next(): waits for the next result and returns it (rethrowing
  // the exception that is this result), or std::nullopt at the end.
  std::optional<value_type> next() {
    state_->started = true;
    if (state_->finished || !state_->advance()) return std::nullopt;
    return std::move(state_->current_value());
  }

 private:
  explicit IMap(std::shared_ptr<detail::IMapState<R>> state) : state_(std::move(state)) {}

  void stop_feeding() {
    if (state_ == nullptr) return;
    if (std::shared_ptr<GreenletCore> feeder = state_->feeder.lock()) {
      if (!feeder->dead()) feeder->kill(nullptr, /*block=*/false);
    }
  }

  std::shared_ptr<detail::IMapState<R>> state_;
};

}  // namespace greenhub
