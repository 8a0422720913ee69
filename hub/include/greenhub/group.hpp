// Group: a set of greenlets managed together (gevent.pool.Group).
//
//   greenhub::Group group;
//   group.spawn(worker, 1);
//   group.spawn(worker, 2);
//   group.join();                        // until every member has finished
//   auto squares = group.map([](int x) { return x * x; }, std::vector{1, 2, 3});
//   for (int v : group.imap_unordered(f, inputs)) ...   // completion order
//
// How it works
//   The members live in a shared GroupState. add() records a greenlet and
//   registers a death callback that discards it, so a member leaves the
//   group when it finishes (or is killed), with or without anyone joining
//   it. join() waits until the group is empty. A Pool (pool.hpp) is a Group
//   whose state also holds a Semaphore of `size` slots: add() takes a slot
//   (waiting while the pool is full) and discarding a member gives it back.
//
// Invariants
//   - A member is in the group from add() until it is dead or discarded;
//     a pool slot is held exactly while its greenlet is a member.
//   - Death callbacks hold the state weakly: a group may be destroyed while
//     members still run (they run on; nothing dangles). A running imap
//     feeder holds it strongly until it is done.
//   - Belongs to one hub; takes no lock.
#pragma once

#include <cstddef>
#include <exception>
#include <limits>
#include <memory>
#include <optional>
#include <ranges>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "greenhub/greenlet.hpp"
#include "greenhub/imap.hpp"
#include "greenhub/runtime.hpp"
#include "greenhub/semaphore.hpp"
#include "greenhub/timeout.hpp"
#include "greenhub/waiter_queue.hpp"

namespace greenhub {

namespace detail {

class GroupState : public std::enable_shared_from_this<GroupState> {
 public:
  // capacity 0: unbounded (a Group); else a Pool of that many slots.
  explicit GroupState(size_t capacity);
  GroupState(const GroupState&) = delete;
  GroupState& operator=(const GroupState&) = delete;

  // Adds `g`, first taking a slot of a pool (waiting up to `timeout` when
  // `blocking`). Returns false if no slot was obtained. Adding a member
  // again does nothing.
  bool add(const AnyGreenlet& g, bool blocking, std::optional<Duration> timeout);
  void discard(const GreenletCore* g);
  bool contains(const GreenletCore* g) const { return members_.count(g) != 0; }
  size_t count() const { return members_.size(); }
  std::vector<AnyGreenlet> greenlets() const;

  bool join(std::optional<Duration> timeout, bool raise_error);
  void kill(std::exception_ptr exception, bool block, std::optional<Duration> timeout);

  size_t capacity() const { return capacity_; }
  size_t free_count() const;
  size_t wait_available(std::optional<Duration> timeout);

 private:
  size_t capacity_;
  std::unique_ptr<Semaphore> slots_;  // pools only
  std::unordered_map<const GreenletCore*, AnyGreenlet> members_;
  WaiterQueue emptied_;  // join(): granted when the last member leaves
};

}  // namespace detail

class Group {
 public:
  // What f returns for one element of `inputs`.
  template <class F, class Range>
  using map_result_t = std::invoke_result_t<std::decay_t<F>&,
                                            std::decay_t<std::ranges::range_reference_t<Range>>&>;

  Group() : Group(0) {}
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  // Starts f(args...) in a new greenlet that is a member of the group. A
  // Pool first waits for a free slot.
  template <class F, class... Args>
  Greenlet<spawn_result_t<F, Args...>> spawn(F&& f, Args&&... args) {
    Greenlet<spawn_result_t<F, Args...>> g(std::forward<F>(f), std::forward<Args>(args)...);
    add(g);
    g.start();
    return g;
  }

  // Makes `g` a member (it leaves when it dies). A Pool first takes a slot,
  // waiting up to `timeout` if `blocking`; if it gets none it throws
  // greenhub::Timeout (as gevent does) and `g` is not added.
  void add(const AnyGreenlet& g, bool blocking = true,
           std::optional<Duration> timeout = std::nullopt);
  // add(g), then starts g.
  void start(const AnyGreenlet& g);
  // Removes `g` without touching it (frees its Pool slot).
  void discard(const AnyGreenlet& g) { state_->discard(g.core().get()); }
  bool contains(const AnyGreenlet& g) const { return state_->contains(g.core().get()); }
  // How many members (gevent's len(group)).
  size_t count() const { return state_->count(); }
  bool empty() const { return state_->count() == 0; }
  std::vector<AnyGreenlet> greenlets() const { return state_->greenlets(); }

  // Waits until the group is empty; false if the timeout passed first. With
  // raise_error, rethrows the exception of a greenlet that was a member when
  // join() was called and died with one.
  bool join(std::optional<Duration> timeout = std::nullopt, bool raise_error = false) {
    return state_->join(timeout, raise_error);
  }
  // Kills every member but the calling greenlet (GreenletExit unless
  // `exception`); with `block`, waits for them to finish, up to `timeout`.
  void kill(std::exception_ptr exception = nullptr, bool block = true,
            std::optional<Duration> timeout = std::nullopt) {
    state_->kill(std::move(exception), block, timeout);
  }
  // Kills one member (does nothing if `g` is not a member).
  void killone(const AnyGreenlet& g, std::exception_ptr exception = nullptr, bool block = true,
               std::optional<Duration> timeout = std::nullopt);

  // How many greenlets could be added now without waiting (unbounded: the
  // largest size_t).
  size_t free_count() const { return state_->free_count(); }
  bool full() const { return state_->free_count() == 0; }
  // Waits until a greenlet can be added without waiting, up to `timeout`;
  // returns free_count().
  size_t wait_available(std::optional<Duration> timeout = std::nullopt) {
    return state_->wait_available(timeout);
  }

  // f over every input, each in a member greenlet; the results in input
  // order. The first exception (in input order) is rethrown.
  template <class F, class Range>
  auto map(F&& f, Range&& inputs) {
    using R = map_result_t<F, Range>;
    static_assert(!std::is_void_v<R>, "greenhub::Group::map needs a function that returns a value");
    std::vector<R> results;
    for (auto& value : imap(std::forward<F>(f), std::forward<Range>(inputs))) {
      results.push_back(std::move(value));
    }
    return results;
  }
  // Like map, lazily: results in input order, each as soon as it and the
  // ones before it are done.
  template <class F, class Range>
  IMap<map_result_t<F, Range>> imap(F&& f, Range&& inputs) {
    return IMap<map_result_t<F, Range>>::start(true, std::forward<F>(f),
                                               std::forward<Range>(inputs), adder());
  }
  // Results in the order the tasks finish, each as soon as it is done.
  template <class F, class Range>
  IMap<map_result_t<F, Range>> imap_unordered(F&& f, Range&& inputs) {
    return IMap<map_result_t<F, Range>>::start(false, std::forward<F>(f),
                                               std::forward<Range>(inputs), adder());
  }


 protected:
  explicit Group(size_t capacity) : state_(std::make_shared<detail::GroupState>(capacity)) {}

  std::shared_ptr<detail::GroupState> state_;

 private:
  auto adder() const {
    return [state = state_](const AnyGreenlet& g) {
      if (!state->add(g, true, std::nullopt)) throw Timeout(Duration::zero(), false);
    };
  }
};

}  // namespace greenhub
