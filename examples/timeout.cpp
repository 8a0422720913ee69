// Timeouts (the gevent tutorial's "Timeouts" example): a greenlet that waits
// ten seconds, joined under a Timeout of 100 ms. The join raises the Timeout
// and the program prints "Could not complete".
#include <cstdio>

#include "greenhub/greenhub.hpp"

namespace gh = greenhub;
using namespace std::chrono_literals;

namespace {

void wait() { gh::sleep(10s); }

}  // namespace

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  gh::Timeout timeout(100ms);
  try {
    gh::spawn(wait).join();
    std::puts("Completed");
  } catch (const gh::Timeout&) {
    std::puts("Could not complete");
  }
  return 0;
}
