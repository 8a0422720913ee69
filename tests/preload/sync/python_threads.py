"""1,000 threading.Thread workers that sleep, take a threading.Lock and wait
on a threading.Event and a threading.Condition, run by Debian's
/usr/bin/python3 natively and under the preload (tests/preload/differential.py
compares the two outputs).

Under the preload (LD_PRELOAD names libgreenhub_preload), while all the
workers are blocked on the Event the process must have at most
GREENHUB_HUBS + RUNTIME_THREADS OS threads (counted in /proc/<pid>/task): the
script then exits 1 if that does not hold. The count is reported on stderr,
so stdout stays comparable with the native run, which has 1,001 threads.
"""
import os
import sys
import threading
import time

WORKERS = 1000
RUNTIME_THREADS = 2  # as tests/preload/sync/os_threads.h

counter = 0
counter_lock = threading.Lock()
started = threading.Semaphore(0)
go = threading.Event()
condition = threading.Condition()
generation = 0
woken = 0


def worker(index):
    global counter, woken
    time.sleep(0.001 * (index % 20))
    with counter_lock:
        counter += 1
    started.release()
    go.wait()
    with condition:
        while generation == 0:
            condition.wait(timeout=5)
        woken += 1


def os_threads():
    return len(os.listdir(f'/proc/{os.getpid()}/task'))


def thread_bound():
    preload = os.environ.get('LD_PRELOAD', '')
    if 'greenhub_preload' not in preload:
        return 0
    hubs = os.environ.get('GREENHUB_HUBS')
    hubs = int(hubs) if hubs else len(os.sched_getaffinity(0))
    return hubs + RUNTIME_THREADS


def main():
    global generation
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(WORKERS)]
    for t in threads:
        t.start()
    for _ in range(WORKERS):
        started.acquire()
    time.sleep(0.1)  # every worker is now blocked in go.wait()
    count, bound = os_threads(), thread_bound()
    failed = bound and count > bound
    if failed:  # stderr only on failure: the harness compares it
        print(f'FAILED: {WORKERS} workers blocked on the Event on {count} OS threads under the '
              f'preload, more than {bound}', file=sys.stderr)
    print(f'counter {counter}, alive {sum(t.is_alive() for t in threads)}')
    go.set()
    time.sleep(0.05)
    with condition:
        generation = 1
        condition.notify_all()
    for t in threads:
        t.join()
    print(f'woken by the condition {woken}, alive after join {sum(t.is_alive() for t in threads)}')
    acquired = counter_lock.acquire(timeout=0.02)
    print(f'uncontended acquire with a timeout: {acquired}')
    counter_lock.release()
    holder = threading.Thread(target=lambda: (counter_lock.acquire(), time.sleep(0.2), counter_lock.release()))
    holder.start()
    time.sleep(0.05)
    start = time.monotonic()
    acquired = counter_lock.acquire(timeout=0.03)
    print(f'contended acquire with a 30 ms timeout: {acquired}, waited: {time.monotonic() - start >= 0.029}')
    holder.join()
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
