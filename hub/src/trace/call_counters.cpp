// Per-call counters (call_counters.hpp).
//
// Each thread's CounterTable is an open-addressing table of kSlots slots,
// keyed by (call pointer, route). Only the owning thread writes a table:
// it claims an empty slot by storing the route, then publishing the key with
// a release store; counts are plain load+store on an atomic (no
// read-modify-write). Readers acquire the key and read the count relaxed. A
// table whose slots are all taken counts further keys in `overflow`.
#include <atomic>
#include <cstdint>
#include <map>
#include <new>
#include <string>
#include <utility>

#include "greenhub/call_counters.hpp"

namespace greenhub::trace {
namespace {

constexpr size_t kSlots = 512;  // power of two

struct CounterSlot {
  std::atomic<const char*> call{nullptr};
  std::atomic<uint8_t> route{0};
  std::atomic<uint64_t> count{0};
};

struct CounterTable {
  CounterSlot slots[kSlots];
  std::atomic<uint64_t> overflow{0};
  std::atomic<bool> in_use{true};
  CounterTable* next = nullptr;
};

std::atomic<CounterTable*> g_tables{nullptr};

struct TableHolder {
  CounterTable* table = nullptr;
  ~TableHolder() {
    if (table != nullptr) table->in_use.store(false, std::memory_order_release);
  }
};
thread_local TableHolder tls_table;

CounterTable* acquire_table() {
  for (CounterTable* t = g_tables.load(std::memory_order_acquire); t != nullptr; t = t->next) {
    bool expected = false;
    if (!t->in_use.load(std::memory_order_relaxed) &&
        t->in_use.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
      return t;
    }
  }
  auto* t = new (std::nothrow) CounterTable;
  if (t == nullptr) return nullptr;
  CounterTable* head = g_tables.load(std::memory_order_relaxed);
  do {
    t->next = head;
  } while (!g_tables.compare_exchange_weak(head, t, std::memory_order_release,
                                           std::memory_order_relaxed));
  return t;
}

void bump(std::atomic<uint64_t>& c) {
  c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

}  // namespace

const char* route_name(Route route) {
  switch (route) {
    case Route::kGreen: return "green";
    case Route::kNotGreenThread: return "not a green thread";
    case Route::kRuntimeOff: return "runtime off";
    case Route::kRegularFile: return "not pollable (file, tty, device)";
    case Route::kProgramNonblock: return "program set O_NONBLOCK";
    case Route::kCallerNonblock: return "call asked not to wait";
    case Route::kUnpollable: return "epoll refused: blocked in libc";
    case Route::kBadFd: return "bad descriptor";
    case Route::kOther: return "left to libc (flags or kind)";
    case Route::kCount: break;
  }
  return "?";
}

void detail::count_slow(const char* call, Route route) noexcept {
  if (call == nullptr) return;
  TableHolder& holder = tls_table;
  if (holder.table == nullptr) {
    holder.table = acquire_table();
    if (holder.table == nullptr) return;
  }
  CounterTable& t = *holder.table;
  const auto r = static_cast<uint8_t>(route);
  size_t i = ((reinterpret_cast<uintptr_t>(call) >> 3) * 31 + r) & (kSlots - 1);
  for (size_t probes = 0; probes < kSlots; ++probes, i = (i + 1) & (kSlots - 1)) {
    CounterSlot& s = t.slots[i];
    const char* key = s.call.load(std::memory_order_relaxed);
    if (key == call && s.route.load(std::memory_order_relaxed) == r) {
      bump(s.count);
      return;
    }
    if (key == nullptr) {
      s.route.store(r, std::memory_order_relaxed);
      s.count.store(1, std::memory_order_relaxed);
      s.call.store(call, std::memory_order_release);
      return;
    }
  }
  bump(t.overflow);
}

void enable_counters() { detail::g_flags.fetch_or(2); }

std::vector<CallCount> call_counts() {
  std::map<std::pair<std::string, uint8_t>, uint64_t> sums;
  uint64_t overflow = 0;
  for (CounterTable* t = g_tables.load(std::memory_order_acquire); t != nullptr; t = t->next) {
    for (CounterSlot& s : t->slots) {
      const char* key = s.call.load(std::memory_order_acquire);
      if (key == nullptr) continue;
      sums[{std::string(key), s.route.load(std::memory_order_relaxed)}] +=
          s.count.load(std::memory_order_relaxed);
    }
    overflow += t->overflow.load(std::memory_order_relaxed);
  }
  std::vector<CallCount> out;
  out.reserve(sums.size() + 1);
  for (auto& [key, n] : sums) out.push_back({key.first, static_cast<Route>(key.second), n});
  if (overflow != 0) out.push_back({"(other calls)", Route::kOther, overflow});
  return out;
}

}  // namespace greenhub::trace
