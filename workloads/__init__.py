"""Workload definitions. Framework code lives only here, imported inside ``setup``.

``CATALOGUE`` maps each workload's name to the dotted path of its class; the harness imports a
class only when it is listed or run, and the class's module imports its framework lazily.
"""

CATALOGUE: dict[str, str] = {
    # The hand-written NumPy loop (cupy with array_module=cupy).
    "numpy.linreg": "workloads.numpy_train:LinearRegressionStep",
    "numpy.mlp": "workloads.numpy_train:NumpyMLPStep",
    # A no-op workload: measures the harness's own overhead.
    "harness.noop": "workloads.noop:NoOpStep",
}
