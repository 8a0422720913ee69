#include "green_io.hpp"

#include <utility>

#include "busy_poll.hpp"
#include "green_thread.hpp"

namespace greenhub::preload {

void cancellation_point() {
  if (GreenThread* self = GreenThread::current()) self->test_cancel();
}

GreenIo::GreenIo(Hub& hub, int fd, FdState& e, SockTimeout timeout, const char* label)
    : hub_(hub),
      fd_(fd),
      entry_(&e),
      timeout_(timeout),
      label_(label),
      generation_(e.generation.load(std::memory_order_acquire)) {
  // Taken now: other green threads of this OS thread run while this one
  // waits, and set counted_call for their own calls.
  if (trace::counting()) counted_call_ = std::exchange(counted_call, nullptr);
}

GreenIo::~GreenIo() {
  if (trace::counting() && counted_call_ != nullptr) trace::detail::count_slow(counted_call_, route_);
}

GreenIo::Verdict GreenIo::wait(uint32_t events) {
  if (!started_) {
    started_ = true;
    if (!assume_blocking_ && FdTable::program_nonblock(fd_, *entry_)) {
      route_ = trace::Route::kProgramNonblock;
      note_returned_without_waiting(hub_);
      errno = EAGAIN;
      return Verdict::kFail;
    }
    const int64_t timeout_ns = FdTable::socket_timeout_ns(fd_, *entry_, timeout_);
    if (timeout_ns > 0) {
      deadline_ = AbsDeadline::after_ns(timeout_ns);
      signals_ = FdWaitSet::Signals::kAnyHandler;
    }
    if (set_.size() == 0) set_.add_expecting(fd_, events, generation_);
    else set_.set_events(0, events);
  } else {
    set_.set_events(0, events);
  }
  if (deadline_.expired()) {
    timed_out_ = true;
    errno = EAGAIN;
    return Verdict::kFail;
  }
  GreenletBase* g = hub_.current_greenlet();
  const char* previous = g->waiting_on();
  g->set_waiting_on(label_, fd_);
  FdWaitSet::Result r = set_.park(hub_, deadline_, signals_);
  g->set_waiting_on(previous);
  fd_ = set_.fd(0);
  switch (r) {
    case FdWaitSet::Result::kTimedOut:
      timed_out_ = true;
      errno = EAGAIN;
      return Verdict::kFail;
    case FdWaitSet::Result::kClosed:
      errno = EBADF;
      return Verdict::kFail;
    case FdWaitSet::Result::kSignaled:
      errno = EINTR;
      return Verdict::kFail;
    case FdWaitSet::Result::kUnpollable:
      route_ = trace::Route::kUnpollable;
      return Verdict::kBlockInLibc;
    case FdWaitSet::Result::kWoken:
    case FdWaitSet::Result::kInterrupted:
    case FdWaitSet::Result::kSignalTaken:
      break;
  }
  cancellation_point();
  return Verdict::kRetry;
}

}  // namespace greenhub::preload
