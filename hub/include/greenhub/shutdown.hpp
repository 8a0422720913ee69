// greenhub::shutdown: ends every greenlet of the calling thread's hub
// (gevent's shutdown as the seed uses it: signal_handler(SIGQUIT, shutdown)).
//
// What it does, in order, on the calling thread's hub:
//   1. cancels every signal handler of the hub (so no new handler greenlet
//      starts while it works);
//   2. raises GreenletExit in every live greenlet of the hub except the main
//      greenlet and the caller: a parked greenlet gets it at once, a runnable
//      one at its next wait, a started one that has not run yet never runs.
//      API greenlets end as killed() (successful, no value); any other
//      greenlet (the preload's green threads) is interrupted the same way;
//   3. waits until every one of them has finished. Greenlets spawned while
//      they unwind (link callbacks, handlers) are killed in a further round,
//      until none is left: any greenlet of the hub spawned before shutdown()
//      returns is killed too (including one spawned by the main greenlet if
//      it resumes first). A greenlet that catches GreenletExit and goes on
//      living is waited for as long as it lives (like killall with block).
//
// What it does to the main greenlet: nothing is raised in it. If the main
// greenlet is the caller, shutdown() returns there. If it is parked (the
// caller is another greenlet, such as a signal handler), it stays parked on
// what it waits for and resumes as that wait says: join() or joinall() on a
// killed greenlet returns normally (true; the greenlet is ready() and
// killed()), a sleep goes on until its end, and a wait that nothing left
// on the hub can end raises LoopExit in it, as always.
//
// Limits: greenlets of other hubs (threads) are not touched; a greenlet
// scheduled with spawn_later whose delay has not passed is not live yet and
// starts later; ThreadPool jobs already running finish on their workers
// (their waiters are killed). The hub itself stays usable afterwards.
//
// Throws like any wait if the caller itself is killed or times out while
// waiting for the others.
#pragma once

namespace greenhub {

void shutdown();

}  // namespace greenhub
