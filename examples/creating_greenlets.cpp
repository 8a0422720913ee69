// Creating greenlets three ways (the gevent tutorial's "Greenlets" example):
// Greenlet<>::spawn, greenhub::spawn, and a lambda whose value is read back.
//
// foo(message, n) sleeps n tenths of a second (the tutorial sleeps n
// seconds), so "Hello" comes before "I live!"; the lambda x + 1 on 2 gives 3.
#include <cstdio>
#include <string>

#include "greenhub/greenhub.hpp"

namespace gh = greenhub;
using namespace std::chrono_literals;

namespace {

void foo(const std::string& message, int n) {
  gh::sleep(n * 100ms);
  std::puts(message.c_str());
}

}  // namespace

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  // Initialize a new Greenlet instance running the named function foo.
  auto thread1 = gh::Greenlet<>::spawn(foo, "Hello", 1);
  // Create and start a new Greenlet running foo with the passed arguments.
  auto thread2 = gh::spawn(foo, "I live!", 2);
  // Lambda expressions work too.
  auto thread3 = gh::spawn([](int x) { return x + 1; }, 2);

  gh::joinall({thread1, thread2, thread3});
  std::printf("thread3 value: %d\n", *thread3.value());
  return 0;
}
