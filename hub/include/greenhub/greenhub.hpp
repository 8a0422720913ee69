// greenhub: gevent's API in C++ on Boost.Context greenlets and a libev hub.
// The umbrella header: everything a program written for greenhub needs.
#pragma once

#include "greenhub/async_result.hpp"
#include "greenhub/condition.hpp"
#include "greenhub/event.hpp"
#include "greenhub/greenlet.hpp"
#include "greenhub/group.hpp"
#include "greenhub/imap.hpp"
#include "greenhub/lock.hpp"
#include "greenhub/pool.hpp"
#include "greenhub/queue.hpp"
#include "greenhub/resolver.hpp"
#include "greenhub/runtime.hpp"
#include "greenhub/semaphore.hpp"
#include "greenhub/shutdown.hpp"
#include "greenhub/signal.hpp"
#include "greenhub/threadpool.hpp"
#include "greenhub/timeout.hpp"
#include "greenhub/wait.hpp"
#include "greenhub/wait_list.hpp"
#include "greenhub/waiter_queue.hpp"
