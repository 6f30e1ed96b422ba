"""The profiling worker of ``harness explain`` (``profile_worker.py``, run as a file) and its
parts: the segments a step is cut into, the framework profilers, Callgrind."""
