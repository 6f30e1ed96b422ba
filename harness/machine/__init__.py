"""Facts about the machine a run measures: environment, cgroups, GPUs and NVML, peaks and roofs,
energy, the machine watch, the Docker engine, doctor."""
