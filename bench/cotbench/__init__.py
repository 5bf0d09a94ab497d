"""cot-proxy's benchmark as a package; bench/run.py is its command line (see bench/README.md).

- scenarios: the scenarios, one typed row each, and the sizes of each mode;
- lab: the processes (upstream, floor, project), stopped by PID; the machine's figures;
- phases: the measurements (rounds, sweep, slow streams, soak) filling a report;
- micro: the in-process benchmarks (think filter, JSON codec);
- report, rows, tables: the report's data and one renderer per table;
- profiling: py-spy samples, bucketed by module and function;
- publish: bench/LATEST.md, the pictures and docs/performance.md's table (`make bench-publish`).

The flat modules beside this package (upstream, load, client, wire, soak, plots) are also run
as scripts or in processes of their own; bench/ is on sys.path whenever a script of bench/ runs.
"""
