"""Medians, ranges and ratios over repeated runs.

A measurement is a dict of figures for one (run, level, variant); a result
set maps (run, level, variant) -> figures. A ratio between two variants is
computed pair by pair: within each run, the variant's figure over the
reference's figure measured in that same run; the median of those per-run
ratios is reported, so that a slow minute on the shared machine (which hits
both members of a pair) cancels out instead of skewing one side.
"""
import statistics


def values(results, level, variant, key, scale=1.0):
    out = []
    for (run, lv, var), f in sorted(results.items(), key=lambda kv: kv[0][0]):
        if lv == level and var == variant and f.get(key) is not None and not f.get('failed'):
            out.append(f[key] * scale)
    return out


def ratios(results, level, key, variant, reference):
    """Per-run ratios variant/reference of one figure (both must have it)."""
    out = []
    runs = sorted({run for (run, _, _) in results})
    for run in runs:
        a = results.get((run, level, variant), {})
        b = results.get((run, level, reference), {})
        if a.get('failed') or b.get('failed'):
            continue
        x, y = a.get(key), b.get(key)
        if x is not None and y:
            out.append(x / y)
    return out


def median(xs):
    return statistics.median(xs) if xs else None


def fmt(x, integer=False):
    if x is None:
        return '-'
    if integer or abs(x) >= 100:
        return f'{x:,.0f}'
    if abs(x) >= 10:
        return f'{x:.1f}'
    return f'{x:.2f}'


def cell(xs, integer=False):
    """'median (min-max)', or the single value, or '-'."""
    if not xs:
        return '-'
    med = statistics.median(xs)
    if len(xs) == 1:
        return fmt(med, integer)
    return f'{fmt(med, integer)} ({fmt(min(xs), integer)}-{fmt(max(xs), integer)})'
