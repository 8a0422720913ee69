// The event sites' side of tracing (trace.hpp): each event becomes one
// Record pushed on the calling thread's ring.
#include <time.h>

#include <algorithm>
#include <cstring>
#include <new>

#include "greenhub/runtime.hpp"
#include "greenhub/trace.hpp"
#include "thread_rings.hpp"

namespace greenhub::trace {
namespace detail {
std::atomic<unsigned char> g_flags{0};
}  // namespace detail

namespace {

std::atomic<ThreadRing*> g_rings{nullptr};
std::atomic<uint32_t> g_next_ring_id{0};

// Releases the thread's ring when the thread exits.
struct RingHolder {
  ThreadRing* ring = nullptr;
  ~RingHolder() {
    if (ring != nullptr) ring->in_use.store(false, std::memory_order_release);
  }
};
thread_local RingHolder tls_ring;
thread_local int tls_wait_fd = -1;

ThreadRing* acquire_ring() {
  for (ThreadRing* r = g_rings.load(std::memory_order_acquire); r != nullptr; r = r->next) {
    bool expected = false;
    if (!r->in_use.load(std::memory_order_relaxed) &&
        r->in_use.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
      return r;
    }
  }
  auto* r = new (std::nothrow) ThreadRing(kRingCapacity, g_next_ring_id.fetch_add(1));
  if (r == nullptr) return nullptr;
  ThreadRing* head = g_rings.load(std::memory_order_relaxed);
  do {
    r->next = head;
  } while (!g_rings.compare_exchange_weak(head, r, std::memory_order_release,
                                          std::memory_order_relaxed));
  return r;
}

void push(const Record& r) {
  if (!on()) return;  // stopped meanwhile (exit, fork)
  if (ThreadRing* ring = my_ring()) ring->ring.push(r);
}

Record make(Kind kind, uint64_t hub, uint64_t greenlet, uint64_t t) {
  Record r{};
  r.kind = kind;
  r.hub = static_cast<uint16_t>(hub);
  r.fd = -1;
  r.t = t;
  r.greenlet = greenlet;
  return r;
}

void put_name(Record& r, const std::string& name) {
  char* dst = reinterpret_cast<char*>(&r) + kNameOffset;
  std::memset(dst, 0, kNameSize);
  std::memcpy(dst, name.data(), std::min(name.size(), kNameSize));
}

uint64_t hub_of(const GreenletBase& g) {
  Hub* h = g.hub();
  return h != nullptr ? h->id() : 0;
}

}  // namespace

ThreadRing* first_ring() { return g_rings.load(std::memory_order_acquire); }

ThreadRing* my_ring() {
  RingHolder& holder = tls_ring;
  if (holder.ring == nullptr) holder.ring = acquire_ring();
  return holder.ring;
}

uint64_t now_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

void greenlet_spawned(const GreenletBase& g, const Hub& hub, uint64_t creator_id) {
  Record r = make(Kind::kSpawn, hub.id(), g.id(), now_ns());
  r.a = creator_id;
  put_name(r, g.name());
  push(r);
}

void greenlet_spawn_requested(const GreenletBase& g, const Hub& target, uint64_t creator_id) {
  Hub* mine = Hub::current_if_exists();
  Record r = make(Kind::kSpawnReq, mine != nullptr ? mine->id() : 0, g.id(), now_ns());
  r.fd = static_cast<int32_t>(target.id());
  r.a = creator_id;
  push(r);
}

void greenlet_started(const GreenletBase& g) {
  push(make(Kind::kStart, hub_of(g), g.id(), now_ns()));
}

void greenlet_exited(const GreenletBase& g, bool failed) {
  Record r = make(Kind::kExit, hub_of(g), g.id(), now_ns());
  r.a = failed ? 1 : 0;
  put_name(r, g.name());
  push(r);
}

void note_wait_fd(int fd) noexcept { tls_wait_fd = fd; }

int take_wait_fd(const GreenletBase& g) noexcept {
  const int fd = tls_wait_fd;
  tls_wait_fd = -1;
  return fd != -1 ? fd : g.waiting_fd();
}

void park_done(const Hub& hub, const GreenletBase& g, const char* call, int fd, uint64_t start_ns,
               int reason) {
  const uint64_t end = now_ns();
  Record r = make(Kind::kWait, hub.id(), g.id(), start_ns);
  r.fd = fd;
  r.a = end - start_ns;
  r.b = reinterpret_cast<uint64_t>(call);
  r.c = reason;
  r.flags = g.is_main() ? 1 : 0;
  push(r);
}

}  // namespace greenhub::trace
