"""harness: measure deep-learning training steps, checkpoints and input pipelines honestly.

The core never imports a deep-learning framework: workloads are found by dotted path and
imported lazily inside a worker process (see ARCHITECTURE in the README).
"""

__version__ = "0.1.0"
