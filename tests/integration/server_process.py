"""What the integration tests share: starting a server that prints
"listening on 127.0.0.1:PORT" (natively or under the preload), stopping it
with SIGTERM, and counting its OS threads.

A server's stderr goes to a temporary file (never a pipe nobody reads, which
could fill and block it) and is shown when a test fails.
"""
import os
import re
import select
import signal
import subprocess
import tempfile


def environment(preload=None, hubs=None):
    """The environment for a native run (preload None) or a green one."""
    env = dict(os.environ)
    env.pop('LD_PRELOAD', None)
    env.pop('GREENHUB_HUBS', None)
    if preload:
        env['LD_PRELOAD'] = os.path.abspath(preload)
        if hubs:
            env['GREENHUB_HUBS'] = str(hubs)
    return env


class Server:
    def __init__(self, cmd, env, ready_timeout=20):
        self.cmd = cmd
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=self.stderr)
        ready, _, _ = select.select([self.proc.stdout], [], [], ready_timeout)
        line = self.proc.stdout.readline().decode(errors='replace') if ready else ''
        m = re.search(r'listening on 127\.0\.0\.1:(\d+)', line)
        if not m:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f'{cmd}: no "listening on" line within {ready_timeout} s '
                                 f'(got {line!r})\n{self.stderr_text()}')
        self.port = int(m.group(1))
        self.pid = self.proc.pid

    def os_threads(self):
        """The server's OS threads: the entries of /proc/PID/task."""
        return len(os.listdir(f'/proc/{self.pid}/task'))

    def stderr_text(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors='replace')[-4000:]

    def stop(self, timeout=20):
        """SIGTERM, then waits; returns (exit status, rest of stdout).
        A server still running after `timeout` is killed and reported."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
            raise AssertionError(f'{self.cmd}: still running {timeout} s after SIGTERM\n'
                                 f'{self.stderr_text()}')
        return self.proc.returncode, out.decode(errors='replace')

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
