"""Micro workload: the hub's and the preload's own benchmark programs
(those of tests/bench/run-hub and tests/bench/run-preload), each figure
beside its baseline, round-robin over the programs, repeated.

  greenlet switch      bench_hub_switch: sleep(0) ping-pong between two
                       greenlets vs a raw Boost.Context jump_fcontext (the
                       floor of any fiber switch), same process
  greenlet spawn+join  bench_hub_spawn: an empty greenlet vs
                       pthread_create+join, same process
  pthread_create+join  bench_preload_create_join under the preload (1 hub,
                       and the default: a hub per CPU) vs natively
  mutex/condvar        bench_preload_pingpong (two threads hand a token
  ping-pong            over with a mutex and a condvar) under the preload
                       vs natively

Results: {(run, row, side): {'value': ns}} with side 'greenhub' or
'baseline', so that stats.ratios gives the per-run ratio.
"""
import os
import subprocess

from .echo import parse_key_values

# row -> (greenhub side: program, mode, key), (baseline side: ...)
ROWS = {
    'greenlet switch, ns (vs raw jump_fcontext)':
        (('hub_switch', 'native', 'switch.greenlet_ns'), ('hub_switch', 'native', 'switch.raw_jump_ns')),
    'greenlet spawn+join, ns (vs pthread_create+join)':
        (('hub_spawn', 'native', 'spawn.greenlet_ns'), ('hub_spawn', 'native', 'spawn.pthread_ns')),
    'pthread_create+join under the preload, 1 hub, ns (vs native)':
        (('create_join', 'preload1', 'create_join.ns'), ('create_join', 'native', 'create_join.ns')),
    'pthread_create+join under the preload, default hubs, ns (vs native)':
        (('create_join', 'preload', 'create_join.ns'), ('create_join', 'native', 'create_join.ns')),
    'mutex/condvar ping-pong round trip under the preload, 1 hub, ns (vs native)':
        (('pingpong', 'preload1', 'pingpong.round_trip_ns'), ('pingpong', 'native', 'pingpong.round_trip_ns')),
    'mutex/condvar ping-pong round trip under the preload, default hubs, ns (vs native)':
        (('pingpong', 'preload', 'pingpong.round_trip_ns'), ('pingpong', 'native', 'pingpong.round_trip_ns')),
}


def program_runs():
    """(program, mode) pairs to run, each once per repetition."""
    seen = []
    for sides in ROWS.values():
        for program, mode, _ in sides:
            if (program, mode) not in seen:
                seen.append((program, mode))
    return seen


def run_program(paths, program, mode, smoke):
    env = dict(os.environ)
    env.pop('LD_PRELOAD', None)
    env.pop('GREENHUB_HUBS', None)
    if mode != 'native':
        env['LD_PRELOAD'] = paths['preload']
        if mode == 'preload1':
            env['GREENHUB_HUBS'] = '1'
    cmd = [paths[program]] + (['--smoke'] if smoke else [])
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        return None, f'{program} ({mode}) exited {p.returncode}: {(p.stdout + p.stderr).strip()[-300:]}'
    return parse_key_values(p.stdout), None


def run(paths, runs, smoke, log):
    results = {}
    failures = []
    for r in range(runs):
        out = {}
        for program, mode in program_runs():
            figures, problem = run_program(paths, program, mode, smoke)
            if problem:
                failures.append(problem)
                log(f'micro run {r + 1}: FAILED {problem}')
            out[(program, mode)] = figures or {}
        for row, sides in ROWS.items():
            for side, (program, mode, key) in zip(('greenhub', 'baseline'), sides):
                v = out[(program, mode)].get(key)
                results[(r, row, side)] = {'value': v} if v is not None else {'failed': 'missing'}
        log(f'micro run {r + 1} done')
    return results, failures
