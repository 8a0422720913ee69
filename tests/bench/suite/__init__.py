"""The benchmark suite behind tests/bench/run: one module per workload
(echo, http, micro, dns), plus what they share (setup: packages, build and
machine; stats: medians and pair-by-pair ratios; report: tables, floors and
gnuplot plots)."""
