// ThreadPool: runs a blocking function on a real OS thread while the calling
// greenlet waits on its hub (gevent's threadpool).
//
//   std::string text = greenhub::ThreadPool::default_pool().apply(
//       [&] { return read_whole_file(path); });   // other greenlets keep running
//
// How it works
//   apply(f) copies f into a job shared (std::shared_ptr) by the waiting
//   greenlet and the worker that runs it, pushes the job on the pool's queue
//   (mutex + condition variable), and parks the calling greenlet:
//     hub side:    prepare_park(); lock job; if done: cancel_park, else
//                  record the token as the job's waiter; unlock; block().
//     worker side: run f, store its value or exception; lock job; done = true;
//                  if a waiter is recorded: Hub::wake(waiter); unlock.
//   The worker wakes the waiter while holding the job's lock, and the waiter
//   withdraws its token under that same lock before it stops waiting (RAII),
//   so a worker never touches a greenlet (or hub) that has gone away. While
//   the greenlet waits, the hub counts an external wait
//   (Hub::add_external_wait), so it does not report "blocked forever".
//
//   If the waiting greenlet is killed or its Timeout fires, the exception is
//   raised in it as at any other wait and it withdraws its token; the worker
//   still runs f to the end and the result is dropped with the last reference
//   to the job. A parked greenlet whose hub is destroyed (its thread exits)
//   is not unwound; a per-thread list of the jobs waited on from that thread
//   withdraws their tokens first, so a late worker wakes nobody.
//
//   Workers are created lazily, one per job that finds no free worker, up to
//   max_size(); they live until the pool is destroyed. A worker counts as
//   free again as soon as its function has returned, before it wakes the
//   waiter, so a greenlet that applies job after job reuses one worker. They start with every
//   asynchronous signal blocked (signals go to the hub threads, where
//   signal_handler watches them) and never create a hub: f runs on a plain OS
//   thread and must not use greenhub waits (sleep, Event, ...).
//
// Thread safety
//   A ThreadPool may be used from greenlets of any number of hubs and OS
//   threads at once. Its destructor finishes the queued jobs, then joins the
//   workers; it must not run while a greenlet still waits on the pool.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "greenhub/runtime.hpp"
#include "greenhub/spin_lock.hpp"

namespace greenhub {

class ThreadPool;

namespace detail {

// One job, shared by the greenlet that waits for it and the worker that
// runs it. The fields under `mutex` are the only ones both sides touch.
class PoolJob {
 public:
  PoolJob() = default;
  PoolJob(const PoolJob&) = delete;
  PoolJob& operator=(const PoolJob&) = delete;
  virtual ~PoolJob() = default;

  // Worker side: runs the function (its value or exception is stored)...
  void execute() { invoke(); }
  // ...then marks the job done and wakes the waiter if there is one.
  void complete();

 protected:
  // Runs the function and stores its value or exception; does not throw.
  virtual void invoke() = 0;
  std::exception_ptr error_;

 private:
  friend class greenhub::ThreadPool;
  friend struct JobWaiter;

  // A SpinLock, not a pthread mutex: the waiter takes it between
  // prepare_park and park, where it must not park (under the preload a
  // pthread mutex is green and would park on contention).
  SpinLock mutex_;
  bool done_ = false;         // under mutex_
  bool has_waiter_ = false;   // under mutex_
  WaitToken waiter_;          // under mutex_, valid while has_waiter_
};

template <class R>
struct JobResult {
  std::optional<R> value;
  void take(R&& r) { value.emplace(std::move(r)); }
  R get() { return std::move(*value); }
};

template <class R>
struct JobResult<R&> {
  R* value = nullptr;
  void take(R& r) { value = &r; }
  R& get() { return *value; }
};

template <>
struct JobResult<void> {
  void get() {}
};

template <class F>
class TypedJob final : public PoolJob {
 public:
  using Result = std::invoke_result_t<F>;

  explicit TypedJob(F&& f) : fn_(std::forward<F>(f)) {}

  // Caller side, once the job is done: the value, or the exception rethrown.
  Result take_result() {
    if (error_ != nullptr) std::rethrow_exception(error_);
    return result_.get();
  }

 protected:
  void invoke() override {
    try {
      if constexpr (std::is_void_v<Result>) {
        call();
      } else {
        result_.take(call());
      }
    } catch (...) {
      error_ = std::current_exception();
    }
    fn_.reset();  // captured state dies on the worker, not on a hub
  }

 private:
  // Invokes the stored copy as f was passed: an lvalue as an lvalue, an
  // rvalue as an rvalue (so the result type is std::invoke_result_t<F>).
  Result call() {
    if constexpr (std::is_lvalue_reference_v<F>) {
      return std::invoke(*fn_);
    } else {
      return std::invoke(std::move(*fn_));
    }
  }

  std::optional<std::decay_t<F>> fn_;
  JobResult<Result> result_;
};

// Parses GREENHUB_THREADPOOL_SIZE: a whole number of threads between 1 and
// 1024. Returns 0 and sets *error for anything else.
size_t parse_threadpool_size(const char* text, std::string* error);

}  // namespace detail

class ThreadPool {
 public:
  // A pool that starts up to max_threads workers (at least 1), lazily.
  explicit ThreadPool(size_t max_threads);
  // Finishes the queued jobs and joins the workers.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // The process-wide pool (resolver, file I/O): GREENHUB_THREADPOOL_SIZE
  // workers, default 10; a bad value is reported on stderr and the default
  // used. Never destroyed, so process exit does not wait for a stuck job.
  static ThreadPool& default_pool();

  // Runs f() on a worker while the calling greenlet waits on its hub (the
  // main greenlet too), and returns f's value or rethrows its exception.
  // A kill or Timeout raised in the waiting greenlet interrupts the wait
  // only: f still runs to the end and its result is discarded.
  // Called on a worker thread (a job that applies another), f runs right
  // there: a worker may block, and it must not create a hub (gevent does the
  // same).
  template <class F>
  std::invoke_result_t<F> apply(F&& f) {
    if (on_worker_thread()) return std::invoke(std::forward<F>(f));
    auto job = std::make_shared<detail::TypedJob<F>>(std::forward<F>(f));
    run_and_wait(job);
    return job->take_result();
  }

  // Worker threads started so far (never more than max_size()).
  size_t size() const;
  size_t max_size() const { return max_threads_; }

  // True on a worker thread of any ThreadPool (the preload sends every call
  // made there straight to libc).
  static bool on_worker_thread();

 private:
  void run_and_wait(const std::shared_ptr<detail::PoolJob>& job);
  void submit(std::shared_ptr<detail::PoolJob> job);
  void start_worker_locked();
  void worker_main();

  const size_t max_threads_;
  mutable std::mutex mutex_;
  std::condition_variable work_available_;
  std::deque<std::shared_ptr<detail::PoolJob>> queue_;  // under mutex_
  std::vector<std::thread> workers_;                      // under mutex_
  size_t busy_ = 0;  // workers inside a function             // under mutex_
  bool stopping_ = false;                                 // under mutex_
};

}  // namespace greenhub
