// Clean shutdown on a signal (the gevent tutorial's signal example):
//
//   gevent.signal_handler(signal.SIGQUIT, gevent.shutdown)
//   thread = gevent.spawn(run_forever)
//   thread.join()
//
// A greenlet sleeps forever; SIGQUIT runs shutdown() in a handler greenlet,
// which kills it; the main greenlet's join() then returns and the process
// exits with status 0 (instead of SIGQUIT's default core dump).
//
//   shutdown --wait   waits for a SIGQUIT from outside (kill -QUIT PID)
//   shutdown          also sends itself SIGQUIT after half a second, so that
//                     running every bundled example terminates
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>

#include "greenhub/greenhub.hpp"

namespace gh = greenhub;
using namespace std::chrono_literals;

namespace {

void run_forever() {
  for (;;) gh::sleep(1000s);
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const bool wait_for_outside_signal = argc > 1 && std::strcmp(argv[1], "--wait") == 0;

  gh::signal_handler(SIGQUIT, gh::shutdown);
  auto thread = gh::spawn(run_forever);
  std::printf("running as pid %d; send SIGQUIT to stop\n", static_cast<int>(getpid()));
  if (!wait_for_outside_signal) {
    gh::spawn([] {
      gh::sleep(500ms);
      std::puts("sending SIGQUIT to myself");
      kill(getpid(), SIGQUIT);
    });
  }
  thread.join();
  std::printf("run_forever %s; exiting\n", thread.killed() ? "was shut down" : "returned");
  return 0;
}
