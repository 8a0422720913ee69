"""The report: a Markdown table per workload, the floors of issue 7 with
PASS/FAIL, and gnuplot PNG plots (requests/s and memory vs connections, one
line per variant: the median, with the min-max range as error bars).

Every ratio is computed pair by pair within a run (see stats.py), then its
median (min-max) over runs is shown.
"""
import os
import subprocess

from . import echo, http, micro, dns
from .stats import cell, fmt, median, ratios, values

FAR_CONNECTIONS = 100_000


def failed_note(results, level, variant):
    fails = [f['failed'] for (r, lv, v), f in results.items() if lv == level and v == variant and f.get('failed')]
    return f' failed {len(fails)}x' if fails else ''


def echo_table(res, levels, variants):
    lines = ['| connections | server | requests/s | x epoll ref | x Go | p50 latency, us | p99 latency, us '
             '| memory, MiB | KiB/connection | OS threads | server CPU % | loadgen CPU % '
             '| requests per server CPU-second |',
             '|---|---|---|---|---|---|---|---|---|---|---|---|---|']
    for level in levels:
        for v in variants:
            rps = values(res, level, v, 'requests_per_second')
            note = failed_note(res, level, v)
            if not rps and not note:
                continue
            lines.append(
                f'| {level:,} | {v} | {cell(rps, True)}{note} '
                f'| {cell(ratios(res, level, "requests_per_second", v, echo.REFERENCE))} '
                f'| {cell(ratios(res, level, "requests_per_second", v, echo.GO))} '
                f'| {cell(values(res, level, v, "latency_p50_us"), True)} '
                f'| {cell(values(res, level, v, "latency_p99_us"), True)} '
                f'| {cell(values(res, level, v, "server_memory_kib", 1 / 1024))} '
                f'| {cell(values(res, level, v, "server_memory_kib", 1 / level))} '
                f'| {cell(values(res, level, v, "server_threads"), True)} '
                f'| {cell(values(res, level, v, "server_cpu_percent"), True)} '
                f'| {cell(values(res, level, v, "loadgen_cpu_percent"), True)} '
                f'| {cell(per_cpu_second(res, level, v), True)} |')
    return lines


def per_cpu_second(res, level, variant):
    """requests/s over the server's CPU share: what it would do with a CPU to itself."""
    rps = values(res, level, variant, 'requests_per_second')
    cpu = values(res, level, variant, 'server_cpu_percent')
    return [r * 100 / c for r, c in zip(rps, cpu) if c > 0]


def held_levels(res, variant):
    """Levels at which the variant held every connection in every run."""
    out = []
    for level in sorted({lv for (_, lv, v) in res if v == variant}):
        runs = [f for (_, lv, v), f in res.items() if lv == level and v == variant]
        if runs and all(not f.get('failed') for f in runs):
            out.append(level)
    return out


def capacity(res, variant):
    """The most connections the variant held open and echoing at the end of a
    window (connected within 60 s, under 8 GiB), and the level tried."""
    best, tried = 0, 0
    for (_, level, v), f in res.items():
        if v != variant:
            continue
        held = f.get('connections_held', 0)
        if f.get('server_rss_kib_max', 0) > echo.MEMORY_LIMIT_KIB:
            held = 0
        if held > best or (held == best and level > tried):
            best, tried = held, level
    if not best:
        return 'none'
    return f'{best:,.0f}' + ('' if best == tried else f' (of {tried:,} tried)')


def memory_at(res, level, variant):
    return median(values(res, level, variant, 'server_memory_kib'))


def extrapolate(res, variant, levels):
    """Memory at FAR_CONNECTIONS (MiB), from the slope between the two
    largest levels the variant held (memory grows linearly per connection)."""
    held = [lv for lv in held_levels(res, variant) if lv in levels]
    if len(held) < 2:
        return None
    a, b = held[-2], held[-1]
    ma, mb = memory_at(res, a, variant), memory_at(res, b, variant)
    if ma is None or mb is None:
        return None
    slope = (mb - ma) / (b - a)
    return (mb + slope * (FAR_CONNECTIONS - b)) / 1024


def memory_table(res, levels, variants, probe_level):
    lines = [f'| server | memory at {probe_level:,}, MiB | KiB/connection | x Go (pair by pair) '
             f'| OS threads | most connections held (60 s, 8 GiB) | memory at {FAR_CONNECTIONS:,} (extrapolated), MiB |',
             '|---|---|---|---|---|---|---|']
    for v in variants:
        held = held_levels(res, v)
        far = extrapolate(res, v, levels)
        lines.append(
            f'| {v} | {cell(values(res, probe_level, v, "server_memory_kib", 1 / 1024))} '
            f'| {cell(values(res, probe_level, v, "server_memory_kib", 1 / probe_level))} '
            f'| {cell(ratios(res, probe_level, "server_memory_kib", v, echo.GO))} '
            f'| {cell(values(res, probe_level, v, "server_threads"), True)} '
            f'| {capacity(res, v)} '
            f'| {fmt(far) if far is not None else "-"} |')
    return lines


def floors(res, level):
    """[(text, per-run ratios, holds)] of issue 7's floors."""
    g = echo.PRELOAD_DEFAULT
    rows = [
        (f'legacy server under the preload >= 0.8x the epoll reference\'s requests/s at {level:,}',
         ratios(res, level, 'requests_per_second', g, echo.REFERENCE), lambda x: x >= 0.8),
        (f'legacy server under the preload >= the Go server\'s requests/s at {level:,}',
         ratios(res, level, 'requests_per_second', g, echo.GO), lambda x: x >= 1.0),
        (f'legacy server under the preload <= 0.5x the Go server\'s memory per connection at {level:,}',
         ratios(res, level, 'server_memory_kib', g, echo.GO), lambda x: x <= 0.5),
    ]
    lines = ['| floor | ratio, median (min-max) | result |', '|---|---|---|']
    ok_all = True
    for text, r, holds in rows:
        ok = bool(r) and holds(median(r))
        ok_all &= ok
        lines.append(f'| {text} | {cell(r)} | {"PASS" if ok else "FAIL"} |')
    # On a shared CPU the scheduler gives each runnable thread its share, so
    # a server with more threads (Go: several) gets more of CPU 0: the same
    # ratios per server CPU-second, for information.
    for ref in (echo.REFERENCE, echo.GO):
        r = cpu_second_ratios(res, level, g, ref)
        lines.append(f'| (info) requests per server CPU-second, legacy under the preload / {ref}, at '
                     f'{level:,} | {cell(r)} | info |')
    return lines, ok_all


def cpu_second_ratios(res, level, variant, reference):
    out = []
    for run in sorted({run for (run, _, _) in res}):
        a, b = res.get((run, level, variant), {}), res.get((run, level, reference), {})
        if a.get('failed') or b.get('failed') or not a.get('server_cpu_percent') or not b.get('server_cpu_percent'):
            continue
        pa = a['requests_per_second'] / a['server_cpu_percent']
        pb = b['requests_per_second'] / b['server_cpu_percent']
        if pb:
            out.append(pa / pb)
    return out


def http_table(res, levels):
    lines = ['| clients | server | requests/s | x native | p50 latency, us | p99 latency, us | memory, MiB '
             '| OS threads | server CPU % | socket errors |',
             '|---|---|---|---|---|---|---|---|---|---|']
    for level in levels:
        for v in http.VARIANTS:
            rps = values(res, level, v, 'requests_per_second')
            note = failed_note(res, level, v)
            lines.append(
                f'| {level:,} | {v} | {cell(rps, True)}{note} '
                f'| {cell(ratios(res, level, "requests_per_second", v, http.REFERENCE))} '
                f'| {cell(values(res, level, v, "latency_p50_us"), True)} '
                f'| {cell(values(res, level, v, "latency_p99_us"), True)} '
                f'| {cell(values(res, level, v, "server_memory_kib", 1 / 1024))} '
                f'| {cell(values(res, level, v, "server_threads"), True)} '
                f'| {cell(values(res, level, v, "server_cpu_percent"), True)} '
                f'| {cell(values(res, level, v, "errors"), True)} |')
    return lines


def micro_table(res):
    lines = ['| figure | greenhub | baseline | ratio |', '|---|---|---|---|']
    for row in micro.ROWS:
        lines.append(f'| {row} | {cell(values(res, row, "greenhub", "value"))} '
                     f'| {cell(values(res, row, "baseline", "value"))} '
                     f'| {cell(ratios(res, row, "value", "greenhub", "baseline"))} |')
    return lines


def dns_table(res):
    lines = ['| resolver | wall time of 1,000 lookups, ms | CPU time, ms | wall x native threads |',
             '|---|---|---|---|']
    names = {'ares': 'greenhub c-ares resolver, 1,000 greenlets',
             'thread': 'greenhub thread resolver (ThreadPool), 1,000 greenlets',
             'native': 'glibc getaddrinfo, 1,000 native threads'}
    for resolver in dns.RESOLVERS:
        lines.append(f'| {names[resolver]} | {cell(values(res, "lookups", resolver, "wall_ms"))} '
                     f'| {cell(values(res, "lookups", resolver, "cpu_ms"))} '
                     f'| {cell(ratios(res, "lookups", "wall_ms", resolver, "native"))} |')
    return lines


# ---- plots -----------------------------------------------------------------

def write_series(out_dir, name, res, levels, variants, key, scale):
    """One data file per variant: level median min max. Returns [(variant, file)]."""
    series = []
    for i, v in enumerate(variants):
        rows = []
        for level in levels:
            xs = values(res, level, v, key, scale)
            if xs:
                rows.append(f'{level} {median(xs)} {min(xs)} {max(xs)}')
        if rows:
            path = os.path.join(out_dir, f'{name}-{i}.dat')
            with open(path, 'w') as fh:
                fh.write(f'# {v}: connections median min max\n' + '\n'.join(rows) + '\n')
            series.append((v, path))
    return series


def plot(out_dir, name, title, ylabel, series, levels, logy=False):
    if not series:
        return None
    png = os.path.join(out_dir, f'{name}.png')
    script = [
        "set terminal pngcairo size 1000,620 font 'DejaVu Sans,11'",
        f"set output '{png}'",
        f"set title \"{title}\"",
        "set xlabel 'connections'",
        f"set ylabel '{ylabel}'",
        "set logscale x",
        "set grid",
        "set key outside right top",
        f"set xrange [{min(levels) * 0.7}:{max(levels) * 1.5}]",
    ]
    if logy:
        script.append('set logscale y')
    else:
        script.append('set yrange [0:*]')
    parts = [f"'{path}' using 1:2:3:4 with yerrorlines lw 2 title '{v}'" for v, path in series]
    script.append('plot ' + ', '.join(parts))
    p = subprocess.run(['gnuplot'], input='\n'.join(script) + '\n', capture_output=True, text=True)
    if p.returncode != 0:
        return f'gnuplot failed for {name}: {p.stderr.strip()}'
    return None


def draw(out_dir, echo_res, echo_levels, echo_variants, http_res, http_levels, subtitle):
    problems = []
    s = write_series(out_dir, 'echo_requests', echo_res, echo_levels, echo_variants, 'requests_per_second', 1)
    problems.append(plot(out_dir, 'echo_requests', f'echo, 64-byte ping-pong: requests/s\\n{subtitle}',
                         'requests/s', s, echo_levels))
    s = write_series(out_dir, 'echo_memory', echo_res, echo_levels, echo_variants, 'server_memory_kib',
                     1 / 1024)
    problems.append(plot(out_dir, 'echo_memory',
                         f'echo: server memory (RSS + kernel stacks)\\n{subtitle}', 'MiB', s, echo_levels, logy=True))
    if http_res:
        s = write_series(out_dir, 'http_requests', http_res, http_levels, list(http.VARIANTS),
                         'requests_per_second', 1)
        problems.append(plot(out_dir, 'http_requests',
                             f'python3 ThreadingHTTPServer, keep-alive: requests/s\\n{subtitle}',
                             'requests/s', s, http_levels))
    return [p for p in problems if p]
