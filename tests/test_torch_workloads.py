"""PyTorch workloads on tiny sizes, in this process (torch only; no TensorFlow here)."""

import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (make venv installs it)")

from harness.timer import Timer, TimerSettings  # noqa: E402
from workloads.image_folder import ensure_dataset, list_images  # noqa: E402
from workloads.torch_checkpoint import TorchCheckpoint  # noqa: E402
from workloads.torch_pipeline import TorchDataLoader  # noqa: E402
from workloads.torch_train import TorchCNNStep, TorchMLPStep  # noqa: E402

TINY = TimerSettings(
    warmup_time=0, warmup_max_steps=1, min_time=0, min_blocks=2, max_blocks=2, min_block_time=0.0
)


def make(cls, device="cpu", **params):
    values = {p.name: p.default for p in cls.params}
    values.update(params)
    workload = cls(values, device, seed=0, threads=1)
    workload.setup()
    return workload


@pytest.mark.parametrize(
    "cls, params",
    [
        (TorchMLPStep, {"batch_size": 8, "hidden": (16,), "loss": "mse", "optimizer": "sgd"}),
        (TorchMLPStep, {"batch_size": 8, "hidden": (16, 8), "optimizer": "adam"}),
        (TorchCNNStep, {"batch_size": 4, "image_size": 16, "channels": (4, 8)}),
        (
            TorchCNNStep,
            {
                "batch_size": 4,
                "image_size": 16,
                "channels": (4, 8),
                "channels_last": True,
                "loss": "mse",
            },
        ),
    ],
)
def test_update_changes_parameters_with_nonzero_gradients(cls, params):
    w = make(cls, **params)
    before = [p.detach().clone() for p in w.model.parameters()]
    marks = []
    # run forward and backward by hand to look at the gradients before the update
    output = w.forward_model(w.x)
    loss = w.loss_fn(output, w.target)
    loss.backward()
    grads = [p.grad.abs().sum().item() for p in w.model.parameters()]
    assert all(g > 0 for g in grads)
    w.optimizer.zero_grad()
    w.step(marks.append)
    assert marks == ["forward", "backward", "update"]
    after = list(w.model.parameters())
    assert all(not torch.equal(a, b) for a, b in zip(before, after, strict=True))
    assert all(p.grad is None for p in w.model.parameters())  # zero_grad ran in update


def test_loss_falls():
    w = make(TorchMLPStep, batch_size=32, hidden=(32,), lr=0.1)
    losses = []
    for _ in range(40):
        w.step(lambda phase: None)
        losses.append(float(w.loss))
    assert losses[-1] < 0.5 * losses[0]


def macs_seen_running(model, x) -> list[int]:
    """Multiply-accumulates of each Linear/Conv2d, from the shapes seen in a real forward."""
    macs: list[int] = []

    def count(module, inputs, output):
        if isinstance(module, torch.nn.Linear):
            macs.append(output.numel() * module.in_features)
        elif isinstance(module, torch.nn.Conv2d):
            kh, kw = module.kernel_size
            macs.append(output.numel() * module.in_channels * kh * kw)

    hooks = [m.register_forward_hook(count) for m in model.modules()]
    with torch.no_grad():
        model(x)
    for hook in hooks:
        hook.remove()
    return macs


@pytest.mark.parametrize(
    "cls, params",
    [
        (TorchMLPStep, {"batch_size": 8, "hidden": (16,)}),
        (TorchMLPStep, {"batch_size": 4, "hidden": (32, 8)}),
        (TorchCNNStep, {"batch_size": 2, "image_size": 16, "channels": (4, 8)}),
        (TorchCNNStep, {"batch_size": 2, "image_size": 16, "channels": (4,)}),
    ],
)
def test_flops_match_the_layers_seen_running(cls, params):
    w = make(cls, **params)
    macs = macs_seen_running(w.model, w.x)
    # forward, gradient of the weights, gradient of the inputs (none for the first layer)
    matmuls = 2 * sum(macs) + 2 * sum(macs) + 2 * sum(macs[1:])
    update = 2 * sum(p.numel() for p in w.model.parameters())  # SGD: one multiply-add each
    metrics = w.metrics()
    assert metrics["flops_per_step"] == matmuls + update
    # one count: the step's FLOPs are the phases' (the verdicts' and achieved_gflops' source)
    assert metrics["flops_per_step"] == sum(metrics["flops_per_phase"].values())


def test_timer_reports_every_phase():
    w = make(TorchMLPStep, batch_size=8, hidden=(16,))
    m = Timer(TINY).run(w)
    assert set(m.samples) == {"step", "forward", "backward", "update"}
    assert all(v > 0 for values in m.samples.values() for v in values)


def test_threads_and_tf32_are_set_and_recorded():
    w = make(TorchMLPStep, batch_size=2, hidden=(4,))
    info = w.runtime_info()
    assert info["num_threads"] == 1
    assert info["tf32_matmul"] is False and info["tf32_cudnn"] is False


@pytest.mark.parametrize("cls", [TorchMLPStep, TorchCNNStep])
def test_bfloat16_autocast_runs_on_the_cpu(cls):
    """dtype=bfloat16 on the CPU is torch.autocast("cpu"): the layers compute in bf16 (once
    refused), and the bytes counted are two per element."""
    small = {"batch_size": 4, "hidden": (16,)} if cls is TorchMLPStep else {
        "batch_size": 2, "image_size": 16, "channels": (4, 8)}  # fmt: skip
    w = make(cls, dtype="bfloat16", **small)
    seen = []
    w.model[0].register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))
    w.step(lambda phase: None)
    assert seen == [torch.bfloat16]
    assert torch.isfinite(w.loss)
    fp32 = make(cls, **small)
    assert (
        w.metrics()["bytes_per_phase"]["forward"] * 2
        == (fp32.metrics()["bytes_per_phase"]["forward"])
    )


@pytest.mark.parametrize(
    "fmt, mmap",
    [("state_dict", False), ("state_dict", True), ("full", False), ("safetensors", False)],
)
def test_checkpoint_round_trip(fmt, mmap, tmp_path, monkeypatch):
    if fmt == "safetensors":
        pytest.importorskip("safetensors")
    monkeypatch.setenv("HARNESS_SCRATCH_DIR", str(tmp_path))
    w = make(TorchCheckpoint, format=fmt, hidden=(32,), features=16, mmap=mmap)
    m = Timer(TINY).run(w)  # check_after_measure compares outputs of the reloaded model
    assert set(m.samples) == {"step", "save", "load"}
    metrics = w.metrics()
    assert metrics["round_trip_equal"] is True
    assert metrics["bytes"] > 16 * 32 * 4
    state = w.loaded["model"] if fmt == "full" else w.loaded
    for name, tensor in w.model.state_dict().items():
        assert torch.equal(state[name], tensor)
    if fmt == "full":
        assert "optimizer" in w.loaded and w.loaded["optimizer"]["state"]
    w.teardown()
    assert not any(tmp_path.iterdir())


def test_checkpoint_detects_a_corrupted_reload(tmp_path, monkeypatch):
    from harness.errors import WorkloadError

    monkeypatch.setenv("HARNESS_SCRATCH_DIR", str(tmp_path))
    w = make(TorchCheckpoint, hidden=(8,), features=4)
    w.step(lambda phase: None)
    w.loaded["0.weight"] += 1
    with pytest.raises(WorkloadError, match="differ"):
        w.check_after_measure()


@pytest.mark.parametrize("workers", [0, 2])
def test_dataloader_shapes_and_labels_match_folders(workers, tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path))
    w = make(
        TorchDataLoader,
        classes=3,
        images_per_class=5,
        image_size=24,
        resize=16,
        batch_size=4,
        num_workers=workers,
    )
    root = ensure_dataset(3, 5, 24, 0)
    _files, labels, classes = list_images(root)
    assert classes == ["class_000", "class_001", "class_002"]
    seen_labels = []
    for images, batch_labels in w.loader:
        assert images.shape[1:] == (3, 16, 16)
        assert images.dtype == torch.float32
        seen_labels += batch_labels.tolist()
    assert seen_labels == labels == [0] * 5 + [1] * 5 + [2] * 5
    assert w.items_per_step() == 15
    w.step(lambda phase: None)
    w.teardown()


def test_dataset_is_deterministic_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path / "a"))
    first = ensure_dataset(2, 3, 16, 7)
    bytes_a = [p.read_bytes() for p in sorted(first.rglob("*.jpg"))]
    stamp = (first / ".complete").stat().st_mtime_ns
    assert ensure_dataset(2, 3, 16, 7) == first
    assert (first / ".complete").stat().st_mtime_ns == stamp  # cached, not regenerated
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path / "b"))
    second = ensure_dataset(2, 3, 16, 7)
    assert [p.read_bytes() for p in sorted(second.rglob("*.jpg"))] == bytes_a


@pytest.mark.slow
def test_compile_latency_is_the_first_step():
    w = make(TorchMLPStep, batch_size=8, hidden=(16,), compile=True)
    m = Timer(TINY).run(w)
    assert m.timing.first_step_s > 10 * m.samples["step"][0]


@pytest.mark.gpu
def test_cuda_phases_from_events_add_up():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    w = make(TorchMLPStep, device="cuda", batch_size=512, hidden=(1024, 1024))
    m = Timer(TimerSettings(warmup_max_steps=5, min_time=0.2, min_blocks=5)).run(w)
    step = sorted(m.samples["step"])[2]
    phases = sum(sorted(m.samples[p])[2] for p in ("forward", "backward", "update"))
    assert abs(step - phases) / step < 0.15
    assert set(m.host_samples) == {"forward", "backward", "update"}
    assert w.metrics()["peak_gpu_memory_bytes"] > 0


def test_same_seed_same_initial_weights_and_data():
    a = make(TorchMLPStep, batch_size=4, hidden=(8,))
    b = make(TorchMLPStep, batch_size=4, hidden=(8,))
    assert torch.equal(a.x, b.x) and torch.equal(a.labels, b.labels)
    for pa, pb in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert torch.equal(pa, pb)
    c = TorchMLPStep({**a.param_values}, "cpu", seed=1, threads=1)
    c.setup()
    assert not torch.equal(next(c.model.parameters()), next(a.model.parameters()))


@pytest.mark.slow
def test_a_recompile_during_measurement_fails_it_with_a_reason():
    from harness.errors import WorkloadError

    w = make(TorchMLPStep, batch_size=8, hidden=(16,), compile=True)
    w.step(lambda phase: None)  # compiles
    w.on_measure_start()
    w.x = w.x[:5]  # a new shape inside the measured blocks: dynamo compiles again
    w.target = w.target[:5]
    w.step(lambda phase: None)
    with pytest.raises(WorkloadError, match="recompiled during the measured blocks"):
        w.check_after_measure()
