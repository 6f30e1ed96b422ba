"""Benchmark the harness itself: ``make bench-harness`` writes docs/BENCHMARKS.md.

Every row is a figure measured side by side in one run, on this machine, with its target and a
pass/fail. One module per section (``SECTIONS`` in ``__main__``):

1. accuracy   the harness timer's median against torch.utils.benchmark's blocked_autorange and
              pytest-benchmark on the same function, in the same process, interleaved;
2. overhead   cost of a step and of a phase boundary on a no-op workload; the share of a
              default-suite run spent outside measured regions, and the parent's own share;
3. suite      the default suite's wall time, the share of rows whose median reaches ±1% or
              that say why not, noisy-machine tasks, Keras' phase sum against the fused step;
4. efficiency MLP-step GFLOP/s against bare matmuls of the same shapes; pipeline images/s
              against the decode-only baseline × workers; checkpoint GB/s against the disk's
              own fsynced write and cold read bandwidth;
5. power      A/A false alarms and detection of 2%, 5% and 10% more real work in numpy.mlp
              and torch.mlp, for harness ab (interleaved pairs) and harness compare;
6. instructions  Callgrind counts: their spread, A/A, 2% / 5% / 10% more real work caught;
7. containers the same workload locally and in the CPU container.

Run: python -m benchmarks.selfbench [--output docs/BENCHMARKS.md] [--quick] [--skip SECTION...]

It uses the harness as a library would: ``RunConfig`` + ``harness.runner.run``, the record
loader and the shared Markdown renderer.
"""
