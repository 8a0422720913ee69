"""Runs top_fixture under the preload and knows what its greenlets are doing.

The fixture (top_fixture.c) parks three named green threads in known
functions (reader: recv on a socketpair end, sleeper: nanosleep, waiter:
pthread_cond_wait) and main in read(0); it prints "ready FD" once they wait,
and exits when its stdin is closed.
"""

import os
import resource
import subprocess
import time


class FixtureProcess:
    def __init__(self, fixture, preload, control=None, hubs=2, umask=None, extra_env=None,
                 core_dir=None, args=()):
        env = dict(os.environ)
        env["LD_PRELOAD"] = preload
        env["GREENHUB_HUBS"] = str(hubs)
        if control is not None:
            env["GREENHUB_CONTROL"] = control
        else:
            env.pop("GREENHUB_CONTROL", None)
        env.update(extra_env or {})

        def before_exec():
            if umask is not None:
                os.umask(umask)
            if core_dir is not None:  # a kernel core dump on SIGABRT, in core_dir
                resource.setrlimit(resource.RLIMIT_CORE,
                                   (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

        self.proc = subprocess.Popen([fixture, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env, preexec_fn=before_exec,
                                     cwd=core_dir)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("ready "):
            self.proc.kill()
            _, err = self.proc.communicate(timeout=10)
            raise RuntimeError(f"fixture did not start: {line!r} {err.decode()!r}")
        self.reader_fd = int(line.split()[1])
        self.pid = self.proc.pid
        # main() prints "ready" and then parks in read(0): its OS thread is
        # then in the hub's epoll_wait (x86-64: 232; epoll_pwait 281, epoll_pwait2 441).
        wait_for(lambda: self._main_thread_syscall() in ("232", "281", "441"),
                 what="the fixture's main thread to wait in the hub")

    def _main_thread_syscall(self):
        try:
            with open(f"/proc/{self.pid}/task/{self.pid}/syscall") as f:
                return f.read().split()[0]
        except (OSError, IndexError):
            return None

    def finish(self, timeout=20):
        """Closes stdin (main returns) and waits; returns (status, stderr)."""
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        return self.proc.returncode, self.proc.stderr.read().decode()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def wait_for(predicate, timeout=10.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
