#include "greenlet_snapshot.hpp"

#include <cxxabi.h>
#include <dlfcn.h>
#include <pthread.h>
#include <time.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "green_thread.hpp"
#include "raw_syscall.hpp"
#include "real.hpp"

namespace greenhub::preload {

namespace {

constexpr size_t kMaxFrames = 64;

// Saved by jump_fcontext (Boost.Context 1.74, x86-64 SysV ELF): mxcsr/x87
// control words, r12, r13, r14, r15, rbx, rbp, then the return address.
constexpr size_t kSavedRbpWord = 6;
constexpr size_t kSavedPcWord = 7;
constexpr size_t kSavedWords = 8;

struct StackBounds {
  uintptr_t low = 0;
  uintptr_t high = 0;
};

// The OS thread's own stack (where a main greenlet runs), on that thread.
StackBounds current_thread_stack() {
  thread_local StackBounds cached;
  if (cached.high != 0) return cached;
  pthread_attr_t attr;
  if (GREENHUB_REAL(pthread_getattr_np)(GREENHUB_REAL(pthread_self)(), &attr) != 0) return {};
  void* addr = nullptr;
  size_t size = 0;
  if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
    cached.low = reinterpret_cast<uintptr_t>(addr);
    cached.high = cached.low + size;
  }
  pthread_attr_destroy(&attr);
  return cached;
}

// Walks the frame-pointer chain of a switched-out greenlet (see the header).
// Reads only [bounds.low, bounds.high): no ASan instrumentation, as another
// stack's frames may lie next to poisoned redzones.
__attribute__((no_sanitize_address)) void walk_frames(const void* context, StackBounds bounds,
                                                      std::vector<uintptr_t>* frames) {
#if defined(__x86_64__)
  auto in_stack = [&](uintptr_t p, size_t bytes) {
    return p >= bounds.low && p + bytes <= bounds.high && p % sizeof(uintptr_t) == 0;
  };
  uintptr_t sp = reinterpret_cast<uintptr_t>(context);
  if (!in_stack(sp, kSavedWords * sizeof(uintptr_t))) return;
  const auto* saved = reinterpret_cast<const uintptr_t*>(sp);
  uintptr_t pc = saved[kSavedPcWord];
  uintptr_t fp = saved[kSavedRbpWord];
  uintptr_t floor = sp + kSavedWords * sizeof(uintptr_t);
  if (pc < 4096) return;
  frames->push_back(pc);
  while (frames->size() < kMaxFrames) {
    if (fp < floor || !in_stack(fp, 2 * sizeof(uintptr_t))) break;
    const auto* frame = reinterpret_cast<const uintptr_t*>(fp);
    uintptr_t next_pc = frame[1];
    uintptr_t next_fp = frame[0];
    if (next_pc < 4096) break;
    frames->push_back(next_pc);
    floor = fp + 2 * sizeof(uintptr_t);
    fp = next_fp;
  }
#else
  (void)context;
  (void)bounds;
  (void)frames;
#endif
}

GreenletRecord record_of(GreenletBase& g, bool backtraces) {
  GreenletRecord r;
  r.id = g.id();
  r.name = g.name();
  r.state = g.state();
  r.is_main = g.is_main();
  if (g.tag() == kGreenThreadTag) {
    auto* t = static_cast<GreenThread*>(&g);
    r.green_thread = true;
    if (t->thread_name[0] != '\0') r.name = t->thread_name;
  }
  if (g.state() == GreenletBase::State::kParked ||
      g.state() == GreenletBase::State::kRunnable) {
    if (const char* what = g.waiting_on()) r.waiting_on = what;
    r.fd = g.waiting_fd();
    r.parked_since_ns = g.parked_since_ns();
  }
  r.stack_size = g.stack_size();
  bool switched_out = g.state() == GreenletBase::State::kParked ||
                      g.state() == GreenletBase::State::kRunnable;
  if (backtraces && switched_out && g.saved_context() != nullptr) {
    StackBounds bounds;
    if (g.is_main()) {
      bounds = current_thread_stack();
    } else if (g.stack_base() != nullptr) {
      bounds.low = reinterpret_cast<uintptr_t>(g.stack_base());
      bounds.high = bounds.low + g.stack_size();
    }
    if (bounds.high != 0) walk_frames(g.saved_context(), bounds, &r.frames);
  }
  return r;
}

struct Capture {
  std::atomic<uint32_t> done{0};
  int64_t posted_ns = 0;
  HubRecord record;
};

}  // namespace

int64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t monotonic_coarse_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

const char* state_name(GreenletBase::State s) {
  switch (s) {
    case GreenletBase::State::kNew: return "new";
    case GreenletBase::State::kRunnable: return "runnable";
    case GreenletBase::State::kRunning: return "running";
    case GreenletBase::State::kParked: return "parked";
    case GreenletBase::State::kDead: return "dead";
  }
  return "unknown";
}

std::vector<HubRecord> capture_hubs(const std::vector<Hub*>& hubs, bool backtraces,
                                    int64_t timeout_ns) {
  // Every hub gets its task first, then all are awaited against one
  // deadline: stalled hubs cost the timeout once, not once each.
  std::vector<std::shared_ptr<Capture>> captures;
  for (size_t index = 0; index < hubs.size(); ++index) {
    auto capture = std::make_shared<Capture>();
    capture->posted_ns = monotonic_ns();
    hubs[index]->post([capture, backtraces, index] {
      HubRecord& out = capture->record;
      out.loop_lag_ns = monotonic_ns() - capture->posted_ns;
      out.tid = raw_gettid();
      Hub& self = Hub::current();
      for (const auto& g : self.live_greenlets()) {
        // Hubs 1..N-1 run on the runtime's own threads, whose main greenlet
        // only runs the hub (Hub::run_forever): not one of the program's.
        if (index > 0 && g->is_main()) continue;
        out.greenlets.push_back(record_of(*g, backtraces));
        if (g->state() == GreenletBase::State::kRunnable) ++out.runnable;
      }
      capture->done.store(1, std::memory_order_release);
      futex_wake(reinterpret_cast<const uint32_t*>(&capture->done), 1);
    });
    captures.push_back(std::move(capture));
  }

  int64_t end = monotonic_ns() + timeout_ns;
  timespec deadline{static_cast<time_t>(end / 1000000000LL), static_cast<long>(end % 1000000000LL)};
  std::vector<HubRecord> records;
  for (size_t index = 0; index < hubs.size(); ++index) {
    Capture& capture = *captures[index];
    while (capture.done.load(std::memory_order_acquire) == 0) {
      long rc = futex_wait_abs(reinterpret_cast<const uint32_t*>(&capture.done), 0, &deadline,
                               CLOCK_MONOTONIC);
      if (rc == -ETIMEDOUT) break;
    }
    HubRecord r;
    if (capture.done.load(std::memory_order_acquire) != 0) {
      r = std::move(capture.record);  // the hub is done with it
      r.responsive = true;
    }
    r.index = index;
    r.id = hubs[index]->id();
    const HubCounters& c = hubs[index]->counters();
    r.switches = c.switches.load(std::memory_order_relaxed);
    r.loop_iterations = c.loop_iterations.load(std::memory_order_relaxed);
    r.spawned = c.spawned.load(std::memory_order_relaxed);
    r.finished = c.finished.load(std::memory_order_relaxed);
    records.push_back(std::move(r));
  }
  return records;
}

std::string describe_address(uintptr_t pc, std::string* function, std::string* object) {
  Dl_info info{};
  // pc - 1: the call instruction, not the one after it (which may belong to
  // the next function when the call was the last instruction).
  std::string fn;
  std::string obj;
  char buf[64];
  if (dladdr(reinterpret_cast<void*>(pc - 1), &info) != 0) {
    if (info.dli_fname != nullptr) {
      obj = info.dli_fname;
      size_t slash = obj.rfind('/');
      if (slash != std::string::npos) obj = obj.substr(slash + 1);
    }
    if (info.dli_sname != nullptr) {
      int status = 0;
      char* demangled = abi::__cxa_demangle(info.dli_sname, nullptr, nullptr, &status);
      fn = status == 0 && demangled != nullptr ? demangled : info.dli_sname;
      std::free(demangled);
      std::snprintf(buf, sizeof buf, "+0x%lx",
                    static_cast<unsigned long>(pc - reinterpret_cast<uintptr_t>(info.dli_saddr)));
    } else if (info.dli_fbase != nullptr) {
      std::snprintf(buf, sizeof buf, "+0x%lx",
                    static_cast<unsigned long>(pc - reinterpret_cast<uintptr_t>(info.dli_fbase)));
    } else {
      buf[0] = '\0';
    }
  } else {
    buf[0] = '\0';
  }
  if (function != nullptr) *function = fn;
  if (object != nullptr) *object = obj;
  std::string text = fn.empty() ? (obj.empty() ? "??" : obj) : fn;
  text += buf;
  if (!fn.empty() && !obj.empty()) text += " (" + obj + ")";
  return text;
}

}  // namespace greenhub::preload
