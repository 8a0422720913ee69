#include "process_exit.hpp"

#include <atomic>
#include <cstdlib>

#include "green_thread.hpp"

namespace greenhub::preload {
namespace {

std::atomic<bool> main_context_gone{false};
std::atomic<bool> exiting{false};

}  // namespace

void mark_main_context_gone() { main_context_gone.store(true, std::memory_order_release); }

void exit_process_if_last_thread() {
  if (!main_context_gone.load(std::memory_order_acquire)) return;
  if (GreenThread::live_count() != 0) return;
  if (exiting.exchange(true)) return;
  Hub* hub = Hub::current_if_exists();
  if (hub == nullptr) std::exit(0);
  hub->post([] { std::exit(0); });
}

}  // namespace greenhub::preload
