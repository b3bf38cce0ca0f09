"""Train a course network on cluttered digits: ``python -m camcourse.train``.

The labels are the digits only; the boxes are used after training, to measure how well
the CAM localizes. Seeded (same command, same machine -> same weights), with progress
bars that show loss and accuracy, mixed precision where the hardware has it (float16 on
CUDA, bfloat16 on a CPU with AVX512-BF16 or AMX), and a checkpoint plus a JSON of metrics
(including the command that made it) at the end.

On a 2-core CPU with bfloat16 the default run takes about 100 s; in float32
(``--precision float32``, or a CPU without bfloat16 hardware) about 1.7 times as long.

Examples
--------
    python -m camcourse.train                       # the GAP net -> data/gap.pt, data/gap.json
    python -m camcourse.train --pool max --name gmp # the same net with global max pooling
    python -m camcourse.train --map-stride 8 --name gap8
    python -m camcourse.train --variant spurious    # a coloured corner cue gives the label away

From Python (for example in lesson 06):

>>> model, metrics = train(epochs=1, train_size=512, test_size=128, out=None)  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from camcourse import paths
from camcourse.data import batches, make_cluttered_digits
from camcourse.models import GAPNet, parameter_count, save_checkpoint
from camcourse.variants import make_spurious_digits
from camlib.localize import evaluate_localization
from camlib.validation import argument, fraction, non_negative_int, positive_int, real

__all__ = ["train", "training_step", "main", "default_device", "set_threads",
           "autocast_dtype", "native_bfloat16_cpu"]

PRECISIONS = ("auto", "float32", "bfloat16", "float16")
VARIANTS = ("plain", "spurious")


def default_device() -> torch.device:
    """CUDA when available, else the CPU (never hard-code ``.cuda()``)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def set_threads(threads: int | None = None) -> int:
    """Set torch's intra-op threads: ``threads``, or by default one per core that is free.

    The cores are those this process may run on (``os.sched_getaffinity`` respects
    container limits); the free ones are those cores less the one-minute load average of
    the machine (``os.getloadavg``), at least one. A thread with no core of its own makes
    the others wait for it at every barrier: training the course's net with 2 threads on 2
    cores shared with other jobs took 4.5× the CPU time and 3.8× the wall time of 1 thread.

    Returns the number of threads torch uses.

    >>> set_threads(1)
    1
    """
    if threads is None:
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # macOS, Windows
            cores = os.cpu_count() or 1
        try:
            busy = os.getloadavg()[0]
        except (AttributeError, OSError):  # Windows
            busy = 0.0
        threads = min(cores, int(cores - busy + 0.5))
    torch.set_num_threads(max(1, threads))
    return torch.get_num_threads()


def native_bfloat16_cpu() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AVX512-BF16 or AMX). Elsewhere
    oneDNN emulates bfloat16, which is slower than float32."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The dtype that ``torch.autocast`` computes convolutions in, or None for float32.

    "auto" picks float16 on CUDA, bfloat16 on a CPU that has it in hardware (it trains
    the course's net about 1.7× faster there), float32 otherwise.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "auto":
        if device.type == "cuda":
            return torch.float16
        return torch.bfloat16 if device.type == "cpu" and native_bfloat16_cpu() else None
    if precision == "float16" and device.type != "cuda":
        raise ValueError(f'precision="float16" needs a CUDA device, got {device}; '
                         'use "bfloat16" or "float32" on the CPU')
    return None if precision == "float32" else getattr(torch, precision)


def training_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                  scaler: torch.amp.GradScaler, images: torch.Tensor, labels: torch.Tensor,
                  amp_dtype: torch.dtype | None = None, label_smoothing: float = 0.0
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimizer step: logits and cross-entropy in autocast ``amp_dtype`` (None:
    float32), then the (scaled) backward pass and the update. Returns (logits, loss)."""
    with torch.autocast(images.device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
        logits = model(images)
        loss = F.cross_entropy(logits, labels, label_smoothing=label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    return logits, loss


def _peak_rss_mb() -> float | None:
    """The process's peak resident memory in MB, or None where the platform does not say.

    ``resource`` is POSIX only (Linux, macOS); on Windows the peak working set comes from
    psutil when it is installed.
    """
    try:
        import resource
    except ImportError:  # Windows
        try:
            import psutil
        except ImportError:
            return None
        info = psutil.Process().memory_info()
        return getattr(info, "peak_wset", info.rss) / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes vs KiB


def train(pool: str = "avg", map_stride: int = 4, epochs: int = 7, train_size: int = 16000,
          test_size: int = 1000, batch_size: int = 64, lr: float = 3e-3,
          weight_decay: float = 5e-4, label_smoothing: float = 0.1, seed: int = 0,
          device: torch.device | str | None = None, precision: str = "auto",
          out: str | Path | None = None, progress: bool = True, verbose: bool = False,
          variant: str = "plain") -> tuple[GAPNet, dict]:
    """Train a `GAPNet` and evaluate it on the test split.

    Parameters
    ----------
    pool : "avg" (GAP) or "max" (GMP)
    map_stride : 4 (16×16 last map at 64 px) or 8 (8×8)
    epochs, train_size, batch_size, lr, weight_decay : the optimisation (AdamW with a
        one-cycle learning-rate schedule)
    label_smoothing : ε of the cross-entropy's smoothed targets (1 - ε on the label, ε/C
        spread over all classes); it keeps the logits from growing without bound
    test_size : images of the test split for the final metrics. Its handwritten digits
        are not among the training images', but scikit-learn's 1797 digits come from 13
        writers and the split is by digit, not by writer: the test measures new digits
        from the same hands, not unseen writers
    seed : seeds the data, the initial weights and the batch order
    device : default CUDA if available, else CPU
    precision : "auto" (mixed precision where the hardware has it: float16 on CUDA,
        bfloat16 on a CPU with AVX512-BF16 or AMX), "float32", "bfloat16" or "float16"
    out : where to write the checkpoint (and its .json); None writes nothing
    progress : show tqdm progress bars
    verbose : print a line per epoch even without progress bars
    variant : "plain" (the cluttered digits) or "spurious" (`camcourse.variants`: a corner cue
        with the class's colour in every training image, a cue of a random colour in every
        test image)

    Returns
    -------
    (model in eval mode, metrics dict)
    """
    start = time.perf_counter()
    device = torch.device(device) if device else default_device()
    amp_dtype = autocast_dtype(precision, device)
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    label_smoothing = fraction(label_smoothing, "label_smoothing", "[0, 1)")
    epochs, train_size, test_size, batch_size = (
        positive_int(value, name) for value, name in ((epochs, "epochs"), (train_size,
                                                      "train_size"), (test_size, "test_size"),
                                                      (batch_size, "batch_size")))
    lr = real(lr, "lr", low=0, low_open=True)
    weight_decay = real(weight_decay, "weight_decay", low=0)
    steps = epochs * -(-train_size // batch_size)  # checked before generating any data
    if steps < 8:
        raise ValueError(f"training needs at least 8 optimizer steps (epochs × batches), got "
                         f"{steps} from epochs={epochs}, train_size={train_size}, "
                         f"batch_size={batch_size}")
    torch.manual_seed(seed)
    make = make_cluttered_digits if variant == "plain" else make_spurious_digits
    train_set = make(train_size, "train", seed=seed)
    test_set = make(test_size, "test", seed=seed)
    data_seconds = time.perf_counter() - start

    model = GAPNet(pool=pool, map_stride=map_stride).to(device)
    if device.type == "cpu":
        model = model.to(memory_format=torch.channels_last)  # faster convolutions on CPU
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps,
                                                   pct_start=0.25)
    # float16 gradients can underflow, so they are scaled; bfloat16 has float32's range
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)

    history = []
    for epoch in range(epochs):
        model.train()
        seen = correct = 0
        total_loss = 0.0
        bar = tqdm(batches(train_set, batch_size, shuffle=True, seed=seed * 1000 + epoch,
                           device=device),
                   total=-(-train_size // batch_size), desc=f"epoch {epoch + 1}/{epochs}",
                   disable=not progress, leave=False)
        for images, labels, _ in bar:
            if device.type == "cpu":
                images = images.contiguous(memory_format=torch.channels_last)
            logits, loss = training_step(model, optimizer, scaler, images, labels, amp_dtype,
                                         label_smoothing)
            schedule.step()
            seen += len(labels)
            correct += int((logits.argmax(1) == labels).sum())
            total_loss += float(loss.detach()) * len(labels)
            bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
        history.append(dict(epoch=epoch + 1, loss=round(total_loss / seen, 4),
                            train_accuracy=round(correct / seen, 4)))
        if progress or verbose:
            tqdm.write(f"epoch {epoch + 1}/{epochs}: loss {total_loss / seen:.3f}, "
                       f"train accuracy {correct / seen:.3f}")
    train_seconds = time.perf_counter() - start

    model = model.to(memory_format=torch.contiguous_format).eval()
    result = evaluate_localization(model, test_set, "cam", threshold=0.2, thresholds=None,
                                   device=device)
    metrics = dict(
        command=_command(),
        model=model.config,
        parameters=parameter_count(model),
        data=dict(train=train_set.params, test=test_set.params),
        optimisation=dict(epochs=epochs, batch_size=batch_size, lr=lr,
                          weight_decay=weight_decay, label_smoothing=label_smoothing,
                          seed=seed),
        test_accuracy=round(result.accuracy, 4),
        top1_loc=round(result.top1_loc, 4),
        gt_known_loc=round(result.gt_known_loc, 4),
        loc_threshold=0.2,
        history=history,
        seconds=dict(data=round(data_seconds, 1), train_total=round(train_seconds, 1),
                     total=round(time.perf_counter() - start, 1)),
        peak_rss_mb=None if (peak := _peak_rss_mb()) is None else round(peak, 1),
        environment=dict(device=str(device), threads=torch.get_num_threads(),
                         precision=str(amp_dtype or torch.float32).removeprefix("torch."),
                         torch=torch.__version__, python=platform.python_version()),
    )
    if out is not None:
        save_checkpoint(model.cpu(), out, metrics)
        model.to(device)
    return model, metrics


def _command() -> str:
    if sys.argv and sys.argv[0].endswith(os.path.join("camcourse", "train.py")):
        return " ".join(["python -m camcourse.train", *sys.argv[1:]])
    return "camcourse.train.train(...)"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m camcourse.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    count = argument(positive_int, int)
    parser.add_argument("--pool", choices=["avg", "max"], default="avg")
    parser.add_argument("--map-stride", type=int, choices=[4, 8], default=4)
    parser.add_argument("--epochs", type=count, default=7)
    parser.add_argument("--train-size", type=count, default=16000)
    parser.add_argument("--test-size", type=count, default=1000)
    parser.add_argument("--batch-size", type=count, default=64)
    parser.add_argument("--lr", type=argument(real, low=0, low_open=True), default=3e-3)
    parser.add_argument("--label-smoothing", type=argument(fraction, interval="[0, 1)"),
                        default=0.1)
    parser.add_argument("--seed", type=argument(non_negative_int, int), default=0)
    parser.add_argument("--variant", choices=VARIANTS, default="plain",
                        help="spurious: train with a corner cue that gives the label away, "
                             "test with a cue of a random colour (camcourse.variants)")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="auto: float16 on CUDA, bfloat16 on a CPU that has it in "
                             "hardware, else float32 (float16 needs CUDA)")
    parser.add_argument("--threads", type=count, default=None,
                        help="CPU threads (default: one per free core)")
    parser.add_argument("--name", default=None,
                        help="checkpoint name in the data folder (default: gap, gmp or gap8; "
                             "with --variant spurious, gap_spurious)")
    parser.add_argument("--out-dir", default=str(paths.DATA_DIR))
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.precision == "float16" and not torch.cuda.is_available():
        parser.error('argument --precision: float16 needs a CUDA device; use "bfloat16" or '
                     '"float32" on the CPU')
    steps = args.epochs * -(-args.train_size // args.batch_size)
    if steps < 8:
        parser.error(f"training needs at least 8 optimizer steps, got {steps}: raise --epochs "
                     "or --train-size, or lower --batch-size")
    set_threads(args.threads)
    name = args.name or ("gmp" if args.pool == "max" else "gap") + (
        "8" if args.map_stride == 8 else "") + ("_spurious" if args.variant == "spurious" else "")
    out = Path(args.out_dir) / f"{name}.pt"
    _, metrics = train(pool=args.pool, map_stride=args.map_stride, epochs=args.epochs,
                       train_size=args.train_size, test_size=args.test_size,
                       batch_size=args.batch_size, lr=args.lr,
                       label_smoothing=args.label_smoothing, seed=args.seed,
                       precision=args.precision, out=out,
                       progress=not args.no_progress, verbose=True, variant=args.variant)
    summary = {k: metrics[k] for k in ("test_accuracy", "top1_loc", "gt_known_loc",
                                       "seconds", "peak_rss_mb")}
    print(f"wrote {out} and {out.with_suffix('.json')}")
    print(json.dumps(summary))
    return metrics


if __name__ == "__main__":
    main()
