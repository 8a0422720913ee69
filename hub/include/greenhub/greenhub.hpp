// greenhub: gevent's API in C++ on Boost.Context greenlets and a libev hub.
// The umbrella header: everything a program written for greenhub needs.
#pragma once

#include "greenhub/greenlet.hpp"
#include "greenhub/runtime.hpp"
#include "greenhub/timeout.hpp"
#include "greenhub/wait.hpp"
#include "greenhub/wait_list.hpp"
