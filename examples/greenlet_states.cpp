// Greenlet states (the gevent tutorial's "Greenlet State" example): one
// greenlet that returns and one that throws, and what started, ready(),
// successful(), value() and exception() say about each.
#include <cstdio>
#include <stdexcept>
#include <string>

#include "greenhub/greenhub.hpp"

namespace gh = greenhub;

namespace {

std::string win() { return "You win!"; }

std::string fail() { throw std::runtime_error("You fail at failing."); }

const char* yes_no(bool b) { return b ? "true" : "false"; }

std::string describe(std::exception_ptr e) {
  if (e == nullptr) return "none";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  }
}

}  // namespace

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  auto winner = gh::spawn(win);
  auto loser = gh::spawn(fail);

  std::printf("winner.started: %s\n", yes_no(winner.started()));
  std::printf("loser.started: %s\n", yes_no(loser.started()));

  // Exceptions raised in a greenlet stay inside it: joinall does not rethrow
  // them unless asked to (raise_error).
  try {
    gh::joinall({winner, loser});
  } catch (...) {
    std::puts("This will never be reached");
  }

  std::printf("winner.value: %s\n", winner.value().value_or("none").c_str());
  std::printf("loser.value: %s\n", loser.value().value_or("none").c_str());
  std::printf("winner.ready: %s\n", yes_no(winner.ready()));
  std::printf("loser.ready: %s\n", yes_no(loser.ready()));
  std::printf("winner.successful: %s\n", yes_no(winner.successful()));
  std::printf("loser.successful: %s\n", yes_no(loser.successful()));
  std::printf("winner.exception: %s\n", describe(winner.exception()).c_str());
  std::printf("loser.exception: %s\n", describe(loser.exception()).c_str());
  return 0;
}
