"""Train a course network on cluttered digits: ``python -m camlib.train``.

The labels are the digits only; the boxes are used after training, to measure how well
the CAM localizes. Seeded (same command, same machine -> same weights), with progress
bars that show loss and accuracy, mixed precision on CUDA, and a checkpoint plus a JSON
of metrics (including the command that made it) at the end.

Examples
--------
    python -m camlib.train                       # the GAP net -> data/gap.pt, data/gap.json
    python -m camlib.train --pool max --name gmp # the same net with global max pooling
    python -m camlib.train --map-stride 8 --name gap8

From Python (for example in lesson 06):

>>> model, metrics = train(epochs=1, train_size=512, test_size=128, out=None)  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from camlib import paths
from camlib.data import batches, make_cluttered_digits
from camlib.localize import evaluate_localization
from camlib.models import GAPNet, parameter_count, save_checkpoint

__all__ = ["train", "main", "default_device", "set_threads"]


def default_device() -> torch.device:
    """CUDA when available, else the CPU (never hard-code ``.cuda()``)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def set_threads(threads: int | None = None) -> int:
    """Use one intra-op thread per core (``os.sched_getaffinity`` respects container limits);
    more threads than cores only makes the threads fight."""
    if threads is None:
        try:
            threads = len(os.sched_getaffinity(0))
        except AttributeError:  # macOS, Windows
            threads = os.cpu_count() or 1
    torch.set_num_threads(max(1, threads))
    return torch.get_num_threads()


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes vs KiB


def train(pool: str = "avg", map_stride: int = 4, epochs: int = 8, train_size: int = 16000,
          test_size: int = 1000, batch_size: int = 64, lr: float = 3e-3,
          weight_decay: float = 5e-4, seed: int = 0, device: torch.device | str | None = None,
          out: str | Path | None = None, progress: bool = True, verbose: bool = False
          ) -> tuple[GAPNet, dict]:
    """Train a `GAPNet` and evaluate it on the test split.

    Parameters
    ----------
    pool : "avg" (GAP) or "max" (GMP)
    map_stride : 4 (16×16 last map at 64 px) or 8 (8×8)
    epochs, train_size, batch_size, lr, weight_decay : the optimisation (AdamW with a
        one-cycle learning-rate schedule)
    test_size : images of the test split for the final metrics
    seed : seeds the data, the initial weights and the batch order
    device : default CUDA if available, else CPU
    out : where to write the checkpoint (and its .json); None writes nothing
    progress : show tqdm progress bars
    verbose : print a line per epoch even without progress bars

    Returns
    -------
    (model in eval mode, metrics dict)
    """
    start = time.perf_counter()
    device = torch.device(device) if device else default_device()
    torch.manual_seed(seed)
    train_set = make_cluttered_digits(train_size, "train", seed=seed)
    test_set = make_cluttered_digits(test_size, "test", seed=seed)
    data_seconds = time.perf_counter() - start

    model = GAPNet(pool=pool, map_stride=map_stride).to(device)
    if device.type == "cpu":
        model = model.to(memory_format=torch.channels_last)  # faster convolutions on CPU
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * -(-train_size // batch_size)
    if steps < 8:
        raise ValueError(f"training needs at least 8 optimizer steps (epochs × batches), got "
                         f"{steps} from epochs={epochs}, train_size={train_size}, "
                         f"batch_size={batch_size}")
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps,
                                                   pct_start=0.25)
    use_amp = device.type == "cuda"  # mixed precision pays off on GPUs only
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

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
            with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                logits = model(images)
                loss = F.cross_entropy(logits, labels)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
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
                          weight_decay=weight_decay, seed=seed),
        test_accuracy=round(result.accuracy, 4),
        top1_loc=round(result.top1_loc, 4),
        gt_known_loc=round(result.gt_known_loc, 4),
        loc_threshold=0.2,
        history=history,
        seconds=dict(data=round(data_seconds, 1), train_total=round(train_seconds, 1),
                     total=round(time.perf_counter() - start, 1)),
        peak_rss_mb=round(_peak_rss_mb(), 1),
        environment=dict(device=str(device), threads=torch.get_num_threads(),
                         torch=torch.__version__, python=platform.python_version()),
    )
    if out is not None:
        save_checkpoint(model.cpu(), out, metrics)
        model.to(device)
    return model, metrics


def _command() -> str:
    if sys.argv and sys.argv[0].endswith(os.path.join("camlib", "train.py")):
        return " ".join(["python -m camlib.train", *sys.argv[1:]])
    return "camlib.train.train(...)"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m camlib.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pool", choices=["avg", "max"], default="avg")
    parser.add_argument("--map-stride", type=int, choices=[4, 8], default=4)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--train-size", type=int, default=16000)
    parser.add_argument("--test-size", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads (default: one per available core)")
    parser.add_argument("--name", default=None,
                        help="checkpoint name in the data folder (default: gap, gmp or gap8)")
    parser.add_argument("--out-dir", default=str(paths.DATA_DIR))
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    set_threads(args.threads)
    name = args.name or ("gmp" if args.pool == "max" else "gap") + (
        "8" if args.map_stride == 8 else "")
    out = Path(args.out_dir) / f"{name}.pt"
    _, metrics = train(pool=args.pool, map_stride=args.map_stride, epochs=args.epochs,
                       train_size=args.train_size, test_size=args.test_size,
                       batch_size=args.batch_size, lr=args.lr, seed=args.seed, out=out,
                       progress=not args.no_progress, verbose=True)
    summary = {k: metrics[k] for k in ("test_accuracy", "top1_loc", "gt_known_loc",
                                       "seconds", "peak_rss_mb")}
    print(f"wrote {out} and {out.with_suffix('.json')}")
    print(json.dumps(summary))
    return metrics


if __name__ == "__main__":
    main()
