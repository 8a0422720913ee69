// Pool: a Group with at most `size` members at once (gevent.pool.Pool).
//
//   greenhub::Pool pool(10);
//   pool.spawn(work, 1);              // waits while 10 members are running
//   for (int v : pool.imap_unordered(echo, std::views::iota(0, 10))) ...
//   pool.join();
//
// A Pool is a Group whose state holds a Semaphore of `size` slots (see
// group.hpp): spawn() and add() take a slot, waiting while the pool is full
// (FIFO among the greenlets that wait), and a member gives its slot back
// when it dies or is discarded. map/imap/imap_unordered therefore run at
// most `size` tasks at a time. As in gevent, spawning from inside a member
// of a full pool waits for a slot that only another member can free.
#pragma once

#include <cstddef>

#include "greenhub/group.hpp"

namespace greenhub {

class Pool : public Group {
 public:
  // Throws std::invalid_argument for a size of 0 (gevent raises ValueError).
  explicit Pool(size_t size);

  // The most members the pool runs at once (gevent's pool.size).
  size_t size() const { return state_->capacity(); }
};

}  // namespace greenhub
