"""How fast the course's GAP net trains, in float32 and in mixed precision, side by side.

    python -m camcourse.benchmarks.training [--repeats 5] [--steps 20] [--batch-size 64]

Each repeat times ``--steps`` optimizer steps (forward, cross-entropy, backward, AdamW) of a
fresh `GAPNet` on random 64 px images, once per precision, the precisions alternating so
that a busy machine slows both alike. It prints the median time per step, the time the
default recipe's steps would take (16,000 images × 7 epochs: 1,750 steps of 64), and the
ratio.

On a CPU the mixed precision is bfloat16: fast where the CPU has it in hardware
(AVX512-BF16 or AMX), emulated (slower than float32) elsewhere; the output says which.
On CUDA it is float16.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from camcourse.models import GAPNet
from camcourse.train import default_device, native_bfloat16_cpu, set_threads, training_step

RECIPE_IMAGES, RECIPE_EPOCHS = 16000, 7  # `python -m camcourse.train`'s defaults


def seconds_per_step(dtype: torch.dtype | None, steps: int, batch_size: int,
                     device: torch.device) -> float:
    """Mean wall time of one `camcourse.train.training_step` (after two warm-up steps) at
    autocast ``dtype`` (None: float32)."""
    model = GAPNet().to(device)
    layout = torch.channels_last if device.type == "cpu" else torch.contiguous_format
    model = model.to(memory_format=layout)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    images = torch.rand(batch_size, 3, 64, 64, device=device).contiguous(memory_format=layout)
    labels = torch.randint(0, 10, (batch_size,), device=device)
    scaler = torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)

    def step() -> None:
        training_step(model, optimizer, scaler, images, labels, dtype, label_smoothing=0.1)

    for _ in range(2):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(prog="python -m camcourse.benchmarks.training",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default=None, help="default: CUDA if available, else CPU")
    args = parser.parse_args(argv)
    for name in ("repeats", "steps", "batch_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    device = torch.device(args.device) if args.device else default_device()
    threads = set_threads()
    mixed = torch.float16 if device.type == "cuda" else torch.bfloat16
    precisions = {"float32": None, str(mixed).removeprefix("torch."): mixed}
    times: dict[str, list[float]] = {name: [] for name in precisions}
    for _ in range(args.repeats):
        for name, dtype in precisions.items():
            times[name].append(seconds_per_step(dtype, args.steps, args.batch_size, device))
    medians = {name: statistics.median(values) for name, values in times.items()}
    recipe_steps = RECIPE_EPOCHS * -(-RECIPE_IMAGES // args.batch_size)

    where = f"{device}" + (f", {threads} threads" if device.type == "cpu" else "")
    if device.type == "cpu":
        where += ", bfloat16 " + ("in hardware" if native_bfloat16_cpu() else "emulated")
    print(f"GAPNet training step, batch {args.batch_size}, on {where} "
          f"(median of {args.repeats} × {args.steps} steps):")
    for name, seconds in medians.items():
        print(f"  {name:9s} {1000 * seconds:7.1f} ms/step   "
              f"{recipe_steps * seconds:6.0f} s for the default recipe's {recipe_steps} steps")
    float32, other = medians["float32"], medians[list(precisions)[1]]
    print(f"  float32 / {list(precisions)[1]}: {float32 / other:.2f}×")
    return medians


if __name__ == "__main__":
    main()
