"""What the suite needs before it measures: Debian packages, a release
build of the programs, the Go echo server, and the machine's description.

Packages: golang-go (the Go peer), gnuplot-nox (plots) and wrk (the HTTP
load generator) are installed with `apt-get install -y` when their command
is missing (root needed; otherwise the suite stops and says what to
install). The C/C++ programs are built with meson + ninja in a release
build directory (created with --buildtype=release -Dwerror=true when
absent). The Go server is built with Debian's go, standard library only,
offline (GOPROXY=off), with GOCACHE and GOPATH inside the build directory.
"""
import os
import contextlib
import platform
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BENCH = os.path.join(ROOT, 'tests', 'bench')

# Paths of the programs, relative to the build directory.
TARGETS = {
    'legacy': 'examples/legacy_echo_server',
    'epoll': 'tests/bench/echo/epoll_echo_server',
    'greenhub_echo': 'tests/bench/echo/greenhub_echo_server',
    'loadgen': 'tests/loadgen/loadgen',
    'preload': 'preload/libgreenhub_preload.so',
    'hub_switch': 'tests/bench/bench_hub_switch',
    'hub_spawn': 'tests/bench/bench_hub_spawn',
    'create_join': 'tests/bench/preload/bench_preload_create_join',
    'pingpong': 'tests/bench/preload/bench_preload_pingpong',
    'dns_lookups': 'tests/bench/dns/bench_dns_lookups',
}
GO_SERVER = 'go/go_echo_server'

# command -> Debian package
PACKAGES = {'go': 'golang-go', 'gnuplot': 'gnuplot-nox', 'wrk': 'wrk'}


def log(msg):
    print(f'# {msg}', file=sys.stderr, flush=True)


def install_missing_packages(allow_install):
    missing = [pkg for cmd, pkg in PACKAGES.items() if shutil.which(cmd) is None]
    if not missing:
        return
    if not allow_install or os.geteuid() != 0:
        sys.exit(f'run: missing {", ".join(missing)}: apt-get install -y {" ".join(missing)}')
    log(f'installing {" ".join(missing)}')
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    if subprocess.run(['apt-get', 'install', '-y', *missing], env=env).returncode != 0:
        subprocess.run(['apt-get', 'update'], env=env, check=True)
        subprocess.run(['apt-get', 'install', '-y', *missing], env=env, check=True)


def build(build_dir):
    """Builds every program the suite runs; returns name -> absolute path."""
    if not os.path.exists(os.path.join(build_dir, 'build.ninja')):
        log(f'meson setup {build_dir} (release)')
        subprocess.run(['meson', 'setup', build_dir, ROOT, '--buildtype=release', '-Dwerror=true'],
                       check=True, stdout=subprocess.DEVNULL)
    log('building (ninja -j2)')
    subprocess.run(['ninja', '-C', build_dir, '-j2', *TARGETS.values()], check=True,
                   stdout=subprocess.DEVNULL)
    return build_go(build_dir)


def build_go(build_dir):
    """Builds the Go echo server (quick when cached); returns every path."""
    go_dir = os.path.join(build_dir, 'go')
    env = dict(os.environ, GOCACHE=os.path.join(go_dir, 'cache'), GOPATH=os.path.join(go_dir, 'path'),
               GOPROXY='off', GOFLAGS='', CGO_ENABLED='0')
    subprocess.run(['go', 'build', '-o', os.path.join(build_dir, GO_SERVER), '.'],
                   cwd=os.path.join(BENCH, 'echo', 'go'), env=env, check=True)
    paths = {k: os.path.join(build_dir, v) for k, v in TARGETS.items()}
    paths['go_echo'] = os.path.join(build_dir, GO_SERVER)
    return paths


def machine_description():
    cpu = 'unknown CPU'
    with open('/proc/cpuinfo') as f:
        for line in f:
            if line.startswith('model name'):
                cpu = line.split(':', 1)[1].strip()
                break
    mem_kib = 0
    with open('/proc/meminfo') as f:
        for line in f:
            if line.startswith('MemTotal:'):
                mem_kib = int(line.split()[1])
    glibc = ' '.join(platform.libc_ver())
    go = subprocess.run(['go', 'version'], capture_output=True, text=True).stdout.strip()
    return {
        'cpu': f'{os.cpu_count()} CPUs, {cpu}',
        'memory': f'{mem_kib / 1024 / 1024:.1f} GiB',
        'kernel': f'Linux {platform.release()}',
        'glibc': glibc,
        'go': go.replace('go version ', ''),
        'python': subprocess.run(['/usr/bin/python3', '--version'], capture_output=True,
                                 text=True).stdout.strip(),
    }


def load_average():
    with open('/proc/loadavg') as f:
        return ' '.join(f.read().split()[:3])


PORT_RANGE = '/proc/sys/net/ipv4/ip_local_port_range'
WIDE_PORT_RANGE = '10000 65000'


@contextlib.contextmanager
def wide_ephemeral_ports(log_fn=log):
    """Widens the ephemeral port range for the run, and restores it.

    The load generator connects 19,000 sockets from 127.0.0.1; with Linux's
    default range (32768-60999, 28,232 ports) the kernel's port search
    scans a nearly full range on every connect, and 19,000 connections take
    15-60 s to open instead of 2 (measured here), which would be charged to
    the server. Needs root; without it the run goes on with the default
    range (and says so). Yields a description for the report.
    """
    with open(PORT_RANGE) as f:
        before = ' '.join(f.read().split())
    lo, hi = (int(x) for x in before.split())
    if hi - lo >= 50000:
        yield f'ephemeral ports {before}'
        return
    try:
        with open(PORT_RANGE, 'w') as f:
            f.write(WIDE_PORT_RANGE)
    except OSError as e:
        log_fn(f'could not widen the ephemeral port range ({e}); 19,000 connections will be slow to open')
        yield f'ephemeral ports {before} (could not widen: connecting 19,000 takes much longer)'
        return
    log_fn(f'ephemeral port range {before} -> {WIDE_PORT_RANGE} for the run')
    try:
        yield f'ephemeral ports widened from {before} to {WIDE_PORT_RANGE} for the run (restored after)'
    finally:
        with open(PORT_RANGE, 'w') as f:
            f.write(before)
        log_fn(f'ephemeral port range restored to {before}')
