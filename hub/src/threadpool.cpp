// ThreadPool (see threadpool.hpp for the mechanism and its invariants).
#include "greenhub/threadpool.hpp"

#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <system_error>

#include "greenhub/wait.hpp"

namespace greenhub {

namespace {

constexpr size_t kDefaultPoolSize = 10;
constexpr size_t kMaxPoolSize = 1024;

thread_local bool tls_on_worker = false;

}  // namespace

namespace detail {

// The hub side of one wait on a job: records the waiting greenlet's token in
// the job and withdraws it when the wait ends for any reason. Every live
// JobWaiter of an OS thread is on that thread's ThreadWaiters list.
struct JobWaiter {
  explicit JobWaiter(PoolJob& job);
  ~JobWaiter();
  JobWaiter(const JobWaiter&) = delete;
  JobWaiter& operator=(const JobWaiter&) = delete;

  // Records `token` as the job's waiter; false if the job is already done.
  bool arm(WaitToken token) {
    std::lock_guard<SpinLock> lock(job.mutex_);
    if (job.done_) return false;
    job.waiter_ = token;
    job.has_waiter_ = true;
    return true;
  }
  void withdraw() {
    std::lock_guard<SpinLock> lock(job.mutex_);
    job.has_waiter_ = false;
  }

  PoolJob& job;
  JobWaiter* prev = nullptr;
  JobWaiter* next = nullptr;
  bool linked = false;
};

namespace {

// The jobs waited on from this OS thread. A hub destroyed at thread exit
// discards its parked greenlets without unwinding them, so their JobWaiters
// never run. This list is created after the thread's hub (JobWaiter is only
// built once Hub::current() exists), hence destroyed before it, and
// withdraws every token still recorded: a worker finishing later wakes
// nobody instead of a freed greenlet.
struct ThreadWaiters {
  JobWaiter* head = nullptr;
  ~ThreadWaiters();
};

thread_local bool tls_waiters_destroyed = false;

ThreadWaiters& thread_waiters() {
  thread_local ThreadWaiters waiters;
  return waiters;
}

ThreadWaiters::~ThreadWaiters() {
  for (JobWaiter* w = head; w != nullptr; w = w->next) {
    w->withdraw();
    w->linked = false;
  }
  head = nullptr;
  tls_waiters_destroyed = true;
}

}  // namespace

JobWaiter::JobWaiter(PoolJob& j) : job(j) {
  if (tls_waiters_destroyed) return;
  ThreadWaiters& list = thread_waiters();
  next = list.head;
  if (next != nullptr) next->prev = this;
  list.head = this;
  linked = true;
}

JobWaiter::~JobWaiter() {
  withdraw();
  if (!linked) return;
  ThreadWaiters& list = thread_waiters();
  if (prev != nullptr) prev->next = next;
  else list.head = next;
  if (next != nullptr) next->prev = prev;
}

void PoolJob::complete() {
  std::lock_guard<SpinLock> lock(mutex_);
  done_ = true;
  if (has_waiter_) {
    has_waiter_ = false;
    Hub::wake(waiter_);
  }
}

size_t parse_threadpool_size(const char* text, std::string* error) {
  auto fail = [&] {
    *error = std::string("GREENHUB_THREADPOOL_SIZE=") + text +
             " is not a thread count between 1 and " + std::to_string(kMaxPoolSize);
    return size_t{0};
  };
  if (text == nullptr || *text < '0' || *text > '9') return fail();
  char* end = nullptr;
  errno = 0;
  unsigned long long value = std::strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0' || value == 0 || value > kMaxPoolSize) return fail();
  return static_cast<size_t>(value);
}

}  // namespace detail

// ---------------------------------------------------------------------------

ThreadPool::ThreadPool(size_t max_threads) : max_threads_(max_threads) {
  if (max_threads == 0) {
    throw std::invalid_argument("greenhub::ThreadPool: max_threads must be at least 1");
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_available_.notify_all();
  for (std::thread& t : workers_) {
    if (t.get_id() == std::this_thread::get_id()) t.detach();  // destroyed by its own job
    else t.join();
  }
}

ThreadPool& ThreadPool::default_pool() {
  static ThreadPool* pool = [] {
    size_t size = kDefaultPoolSize;
    if (const char* env = std::getenv("GREENHUB_THREADPOOL_SIZE"); env != nullptr && *env != '\0') {
      std::string error;
      size_t parsed = detail::parse_threadpool_size(env, &error);
      if (parsed != 0) {
        size = parsed;
      } else {
        std::fprintf(stderr, "greenhub: %s; using %zu\n", error.c_str(), kDefaultPoolSize);
      }
    }
    return new ThreadPool(size);  // never destroyed: see threadpool.hpp
  }();
  return *pool;
}

size_t ThreadPool::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return workers_.size();
}

bool ThreadPool::on_worker_thread() { return tls_on_worker; }

void ThreadPool::run_and_wait(const std::shared_ptr<detail::PoolJob>& job) {
  Hub& hub = Hub::current();
  throw_if_pending();  // a greenlet already killed does not start the job
  submit(job);

  hub.add_external_wait();
  GreenletBase* self = hub.current_greenlet();
  const char* previous_waiting_on = self->waiting_on();
  self->set_waiting_on("ThreadPool::apply");
  struct EndWait {
    Hub& hub;
    GreenletBase* self;
    const char* previous_waiting_on;
    ~EndWait() {
      self->set_waiting_on(previous_waiting_on);
      hub.remove_external_wait();
    }
  } end_wait{hub, self, previous_waiting_on};

  detail::JobWaiter waiter(*job);
  for (;;) {
    WaitToken token = hub.prepare_park();
    if (!waiter.arm(token)) {
      hub.cancel_park(token);  // nothing else holds this token
      return;
    }
    block(token);  // throws on kill / Timeout; ~JobWaiter withdraws the token
  }
}

void ThreadPool::submit(std::shared_ptr<detail::PoolJob> job) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (stopping_) throw std::logic_error("greenhub::ThreadPool: apply() on a pool being destroyed");
  queue_.push_back(std::move(job));
  if (workers_.size() - busy_ < queue_.size() && workers_.size() < max_threads_) {
    try {
      start_worker_locked();
    } catch (const std::system_error&) {
      // Without any worker the job would never run: report it to the caller.
      // With some, it waits for one of them.
      if (workers_.empty()) {
        queue_.pop_back();
        throw;
      }
    }
  }
  lock.unlock();
  work_available_.notify_one();
}

void ThreadPool::start_worker_locked() {
  // The worker inherits a mask with every asynchronous signal blocked, so a
  // process-directed signal is delivered to a hub thread. Faults stay
  // deliverable (blocking them would turn a crash into a silent kill).
  sigset_t blocked;
  sigset_t previous;
  sigfillset(&blocked);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS}) sigdelset(&blocked, sig);
  pthread_sigmask(SIG_BLOCK, &blocked, &previous);
  try {
    RuntimeThreadScope real_thread;  // under the preload, a real OS thread
    workers_.emplace_back([this] { worker_main(); });
  } catch (...) {
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    throw;
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

void ThreadPool::worker_main() {
  tls_on_worker = true;
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    work_available_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and every queued job is done
    std::shared_ptr<detail::PoolJob> job = std::move(queue_.front());
    queue_.pop_front();
    ++busy_;
    lock.unlock();
    job->execute();
    lock.lock();
    --busy_;  // free before the waiter can submit its next job
    lock.unlock();
    job->complete();
    job.reset();  // the result dies here unless a waiter still holds the job
    lock.lock();
  }
}

}  // namespace greenhub
