"""The CAM paper's Table 2 in miniature: ``python -m camcourse.benchmarks.localization``.

Evaluates the shipped checkpoints (data/gap.pt, data/gmp.pt, and data/gap8.pt when
present) on the cluttered digits and compares CAM with the baselines the paper uses:
gradient saliency ("backprop", Simonyan et al. 2014) on the same GAP network, a centred box
of the mean training-box size, and the whole image. Two tables:

1. the paper's protocol on the checkpoints' own 1000 test images: accuracy, Top-1 Loc and
   GT-known Loc at the paper's 20% of the max, and MaxBoxAcc(V2) as Choe et al. define it
   (the best threshold on these very images, min-max normalized maps), MaxBoxAcc both with
   the course's conventions ("camlib") and with those of Choe et al.'s released code
   ("choe2020", `camlib.sweep`);
2. Choe et al.'s protocol: the threshold τ is chosen on a validation split with boxes
   (``split="val"``) and the held-out test images (no handwritten digit shared with the
   validation or training images) are scored at it, beside the oracle (the best τ on the
   test images themselves); for min-max normalized maps and for maps with a ReLU first
   (Grad-CAM's convention), at IoU ≥ 0.5 and 0.7, with 95% bootstrap intervals that
   resample handwritten source digits, not images (images of one digit are not
   independent).

Prints both Markdown tables and writes them, with the command and timings, to
docs/results.md; also draws docs/samples.png (test images with ground-truth and CAM boxes).
"""

from __future__ import annotations

import argparse
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from camcourse import paths
from camcourse.data import (
    ClutteredDigits,
    batches,
    make_cluttered_digits,
    source_digits,
    without_validation_digits,
)
from camcourse.models import checkpoint_metrics, load_checkpoint
from camcourse.stats import (
    interval,
    paired_difference,
    source_bootstrap,
)
from camcourse.train import set_threads
from camlib import torch as ct
from camlib.localize import (
    LocalizationResult,
    box_maps,
    boxes_from_maps,
    cam_maps,
    centred_box,
    evaluate_localization,
    full_image_box,
    max_box_acc,
    mean_box_size,
    saliency_maps,
)
from camlib.validation import argument, fraction, non_negative_int, positive_int

COLUMNS = ("accuracy", "top1_loc", "gt_known_loc", "max_box_acc", "max_box_acc_v2")
HEADER = ("| method | accuracy | Top-1 Loc @20% | GT-known Loc @20% | "
          "MaxBoxAcc, \"camlib\" (τ*) | MaxBoxAcc, \"choe2020\" (τ*) | MaxBoxAccV2 |\n"
          "|---|---:|---:|---:|---:|---:|---:|")
NORMALIZATIONS = ("minmax", "relu")


def run(test_size: int = 1000, seed: int = 0, step: float = 0.02
        ) -> dict[str, LocalizationResult]:
    """Table 1: every row on ``test_size`` test images; MaxBoxAcc searches τ = step,
    2·step, ... < 1 on the same images (Choe et al.'s MaxBoxAcc, an oracle reading)."""
    test = make_cluttered_digits(test_size, "test", seed=seed)
    train_box = mean_box_size(make_cluttered_digits(2000, "train", seed=seed))
    taus = thresholds_of(step)
    gap = load_checkpoint("gap")
    rows = {
        "GAP-CAM": evaluate_localization(gap, test, "cam", thresholds=taus),
        "GMP-CAM": evaluate_localization(load_checkpoint("gmp"), test, "cam", thresholds=taus),
    }
    if (paths.DATA_DIR / "gap8.pt").exists():
        rows["GAP-CAM, 8×8 map"] = evaluate_localization(load_checkpoint("gap8"), test, "cam",
                                                         thresholds=taus)
    rows["backprop on GAP"] = evaluate_localization(gap, test, "saliency", thresholds=taus)
    rows["centred box"] = evaluate_localization(gap, test, "centred", box_size=train_box)
    rows["full image"] = evaluate_localization(gap, test, "full")
    return rows


def map_methods() -> dict[str, tuple[torch.nn.Module, str]]:
    """The rows with a map: {row: (the shipped network, "cam" or "saliency")}."""
    gap = load_checkpoint("gap")
    methods = {"GAP-CAM": (gap, "cam"), "GMP-CAM": (load_checkpoint("gmp"), "cam")}
    if (paths.DATA_DIR / "gap8.pt").exists():
        methods["GAP-CAM, 8×8 map"] = (load_checkpoint("gap8"), "cam")
    methods["backprop on GAP"] = (gap, "saliency")
    return methods


def choe2020_column(test_size: int = 1000, seed: int = 0, step: float = 0.02
                    ) -> dict[str, tuple[float, float]]:
    """MaxBoxAcc with the conventions of Choe et al.'s released code (protocol
    "choe2020") for every row of `run`, on the same images and maps (the true class's):
    {row: (value, τ*)}, τ* NaN for a fixed box (every τ gives the box back)."""
    test = make_cluttered_digits(test_size, "test", seed=seed)
    gt, size = torch.from_numpy(test.boxes), test.images.shape[-1]
    taus = thresholds_of(step)
    column = {name: max_box_acc(_maps(model, test, method, "known")[0], gt, taus,
                                protocol="choe2020")
              for name, (model, method) in map_methods().items()}
    train_box = mean_box_size(make_cluttered_digits(2000, "train", seed=seed))
    for name, boxes in (("centred box", centred_box(len(test), size, train_box)),
                        ("full image", full_image_box(len(test), size))):
        value, _ = max_box_acc(box_maps(boxes, size), gt, taus, protocol="choe2020")
        column[name] = (value, float("nan"))
    return column


def choe2020_shift(rows: dict[str, LocalizationResult],
                   choe: dict[str, tuple[float, float]]) -> tuple[float, float]:
    """The least and the most "choe2020" reads above "camlib" in Table 1 (points, as the
    table rounds them), over the rows whose maps give a box: all but the full image."""
    shifts = [round(100 * choe[name][0], 1) - round(100 * r.max_box_acc, 1)
              for name, r in rows.items() if name != "full image"]
    return min(shifts), max(shifts)


def thresholds_of(step: float) -> list[float]:
    """τ = step, 2·step, ... < 1 (rounded to 4 decimals)."""
    if not 0 < step < 1:
        raise ValueError(f"step must lie in (0, 1), got {step}")
    return [round(t, 4) for t in np.arange(step, 1 - 1e-9, step).tolist()]


# --- Choe et al.'s protocol: τ from a validation split, intervals ------------------------


def prepare(maps: torch.Tensor, normalization: str) -> torch.Tensor:
    """Min-max normalize maps (N, H, W), with a ReLU first for ``normalization="relu"``.

    For a CAM with a negative minimum, min-max after a ReLU is M / max M on the positive
    part: τ is then the paper's "fraction of the max", and min-max without the ReLU
    thresholds (M - min M) / (max M - min M), a different, larger region at the same τ.
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(f'normalization must be "minmax" or "relu", got {normalization!r}')
    return ct.normalize(torch.relu(maps) if normalization == "relu" else maps, "minmax")


def iou_matrix(maps: torch.Tensor, gt_boxes: torch.Tensor, thresholds) -> torch.Tensor:
    """IoU (T, N) of each image's largest-component box at each τ with its ground truth.

    ``maps`` must already be normalized (see `prepare`): the box keeps {M̄ ≥ τ}.
    """
    return torch.stack([ct.iou(boxes_from_maps(maps, float(tau)), gt_boxes)
                        for tau in thresholds]).float()


@dataclass
class ProtocolResult:
    """One method under Choe et al.'s protocol, per normalization (fractions in [0, 1])."""

    val_tau: dict[str, float]          # τ chosen on the validation split (IoU ≥ 0.5)
    at_val_tau: dict[str, float]       # test BoxAcc at that τ, IoU ≥ 0.5
    at_val_tau_ci: dict[str, tuple[float, float]]
    oracle: dict[str, float]           # MaxBoxAcc on the test images themselves
    oracle_tau: dict[str, float]
    oracle_ci: dict[str, tuple[float, float]]
    strict: dict[str, float]           # test BoxAcc at IoU ≥ 0.7, τ chosen on val for 0.7
    strict_tau: dict[str, float]
    strict_ci: dict[str, tuple[float, float]]
    top1_at_val_tau: float             # Top-1 Loc at the ReLU-first validation τ
    hits: dict[str, np.ndarray]        # (T, N) test hits at IoU ≥ 0.5, per normalization
    hits_val_tau: dict[str, np.ndarray]  # (N,) test hits at the validation τ
    hits_strict: dict[str, np.ndarray]   # (N,) test hits at IoU ≥ 0.7 at its validation τ


def _maps(model, data: ClutteredDigits, method: str, classes: str, batch_size: int = 250
          ) -> tuple[torch.Tensor, torch.Tensor]:
    """(maps (N, S, S) of the true ("known") or predicted class, predictions (N,))."""
    function = cam_maps if method == "cam" else saliency_maps
    maps, predictions = [], []
    for images, labels, _ in batches(data, batch_size):
        m, logits = function(model, images, labels if classes == "known" else None)
        maps.append(m.detach())
        predictions.append(logits.argmax(1))
    return torch.cat(maps), torch.cat(predictions)


def protocol(model, method: str, val: ClutteredDigits, test: ClutteredDigits,
             thresholds, repeats: int = 1000, seed: int = 0) -> ProtocolResult:
    """Choose τ on ``val``, score ``test`` at it and at its own best τ (the oracle)."""
    taus = np.asarray(thresholds)
    val_gt, test_gt = torch.from_numpy(val.boxes), torch.from_numpy(test.boxes)
    val_maps, _ = _maps(model, val, method, "known")
    test_maps, _ = _maps(model, test, method, "known")
    fields: dict[str, dict] = {k: {} for k in (
        "val_tau", "at_val_tau", "at_val_tau_ci", "oracle", "oracle_tau", "oracle_ci",
        "strict", "strict_tau", "strict_ci", "hits", "hits_val_tau", "hits_strict")}
    for norm in NORMALIZATIONS:
        val_iou = iou_matrix(prepare(val_maps, norm), val_gt, taus).numpy()
        test_iou = iou_matrix(prepare(test_maps, norm), test_gt, taus).numpy()
        for delta, key in ((0.5, "at_val_tau"), (0.7, "strict")):
            chosen = int(np.argmax((val_iou >= delta).mean(1)))
            hits = (test_iou[chosen] >= delta).astype(float)
            fields[key][norm] = float(hits.mean())
            fields[key + "_ci"][norm] = interval(source_bootstrap(hits, test.sources, repeats,
                                                                  seed))
            if delta == 0.5:
                fields["val_tau"][norm] = float(taus[chosen])
                fields["hits_val_tau"][norm] = hits
            else:
                fields["strict_tau"][norm] = float(taus[chosen])
                fields["hits_strict"][norm] = hits
        all_hits = (test_iou >= 0.5).astype(float)
        curve = all_hits.mean(1)
        fields["oracle"][norm] = float(curve.max())
        fields["oracle_tau"][norm] = float(taus[int(np.argmax(curve))])
        fields["oracle_ci"][norm] = interval(
            source_bootstrap(all_hits, test.sources, repeats, seed).max(axis=1))
        fields["hits"][norm] = all_hits
    predicted_maps, predicted = _maps(model, test, method, "predicted")
    boxes = boxes_from_maps(prepare(predicted_maps, "relu"), fields["val_tau"]["relu"])
    correct = predicted.cpu() == torch.from_numpy(test.labels)
    top1 = float(((ct.iou(boxes, test_gt) >= 0.5) & correct).float().mean())
    return ProtocolResult(top1_at_val_tau=top1, **fields)


def run_protocol(val_size: int = 500, test_size: int = 1500, seed: int = 0,
                 step: float = 0.01, repeats: int = 1000
                 ) -> tuple[dict[str, ProtocolResult], ClutteredDigits, ClutteredDigits]:
    """Table 2: every method with a map under Choe et al.'s protocol.

    ``test_size`` test images are drawn and those sharing a source digit with the
    validation split are dropped (about a third), so the held-out set is smaller.
    """
    val = make_cluttered_digits(val_size, "val", seed=seed)
    test = without_validation_digits(make_cluttered_digits(test_size, "test", seed=seed))
    taus = thresholds_of(step)
    results = {name: protocol(model, method, val, test, taus, repeats, seed)
               for name, (model, method) in map_methods().items()}
    return results, val, test


PROTOCOL_HEADER = (
    "| method | min–max: BoxAcc at val τ | min–max: oracle MaxBoxAcc | ReLU first: BoxAcc at "
    "val τ | ReLU first: oracle MaxBoxAcc | ReLU first, IoU ≥ 0.7: at val τ | "
    "Top-1 Loc at ReLU-first val τ |\n|---|---:|---:|---:|---:|---:|---:|")


def _ci(value: float, bounds: tuple[float, float], tau: float | None = None) -> str:
    text = f"{100 * value:.1f} [{100 * bounds[0]:.1f}, {100 * bounds[1]:.1f}]"
    return text + (f" (τ {tau:.2f})" if tau is not None else "")


def protocol_table(results: dict[str, ProtocolResult]) -> str:
    """Table 2 as Markdown, in percent with 95% intervals and the τ of each number."""
    lines = [PROTOCOL_HEADER]
    for name, r in results.items():
        cells = [
            _ci(r.at_val_tau["minmax"], r.at_val_tau_ci["minmax"], r.val_tau["minmax"]),
            _ci(r.oracle["minmax"], r.oracle_ci["minmax"], r.oracle_tau["minmax"]),
            _ci(r.at_val_tau["relu"], r.at_val_tau_ci["relu"], r.val_tau["relu"]),
            _ci(r.oracle["relu"], r.oracle_ci["relu"], r.oracle_tau["relu"]),
            _ci(r.strict["relu"], r.strict_ci["relu"], r.strict_tau["relu"]),
            f"{100 * r.top1_at_val_tau:.1f}",
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def difference(a: ProtocolResult, b: ProtocolResult, sources: np.ndarray, norm: str,
               repeats: int = 1000, seed: int = 0) -> dict[str, tuple[float, float, float]]:
    """Paired differences a − b on the same test images, with 95% source-bootstrap
    intervals: {"at_val_tau", "strict", "oracle"} -> (value, low, high)."""
    out = {key: paired_difference(getattr(a, hits)[norm], getattr(b, hits)[norm], sources,
                                  repeats, seed)
           for key, hits in (("at_val_tau", "hits_val_tau"), ("strict", "hits_strict"))}
    out["oracle"] = paired_difference(a.hits[norm], b.hits[norm], sources, repeats, seed)
    return out


def table(rows: dict[str, LocalizationResult], choe: dict[str, tuple[float, float]]) -> str:
    """Table 1 in Markdown, in percent: `run`'s rows with `choe2020_column` beside them."""
    lines = [HEADER]
    for name, r in rows.items():
        value, tau = choe[name]
        lines.append(
            f"| {name} | {100 * r.accuracy:.1f} | {100 * r.top1_loc:.1f} | "
            f"{100 * r.gt_known_loc:.1f} | {100 * r.max_box_acc:.1f} "
            f"({_tau(r.max_box_acc_threshold)}) | {100 * value:.1f} ({_tau(tau)}) | "
            f"{100 * r.max_box_acc_v2:.1f} |"
        )
    return "\n".join(lines)


def _tau(value: float) -> str:
    return "any" if value != value else f"{value:.2f}"  # NaN: a fixed box, every τ alike


def _megabytes(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} MB"  # None: not measured (Windows)


def samples_figure(path: Path, count: int = 16, seed: int = 0) -> None:
    """docs/samples.png: test images, ground truth (solid) and the GAP-CAM box (dashed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from camcourse.viz import show_samples

    test = make_cluttered_digits(count, "test", seed=seed + 1)
    model = load_checkpoint("gap")
    maps, _ = cam_maps(model, torch.from_numpy(test.images).float() / 255)
    fig = show_samples(test, count=count, boxes=boxes_from_maps(maps, 0.2), columns=8,
                       title="Cluttered digits (test split): ground truth (solid green), "
                             "GAP-CAM box at 20% (dashed red)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _pct(value: float) -> str:
    return f"{100 * value:.1f}"


def _signed(d: tuple[float, float, float]) -> str:
    value, low, high = d
    return f"{100 * value:+.1f} points [95%: {100 * low:+.1f}, {100 * high:+.1f}]"


def _verdict(d: tuple[float, float, float]) -> str:
    _, low, high = d
    if low > 0:
        return "a real difference (the interval excludes 0)"
    if high < 0:
        return "a real difference the other way (the interval excludes 0)"
    return "inside the noise (the interval contains 0)"


def _normalization_paragraph(results: dict[str, ProtocolResult],
                             gap: LocalizationResult) -> str:
    """How much a ReLU before min–max normalization moves each method's oracle MaxBoxAcc
    (Table 2), the differences taken between the numbers as the table rounds them."""
    oracle = {name: (round(100 * r.oracle["minmax"], 1), round(100 * r.oracle["relu"], 1))
              for name, r in results.items()}
    g, m = oracle["GAP-CAM"], oracle["GMP-CAM"]
    text = (f"**The normalization decides MaxBoxAcc, for signed maps.** On the same GAP-CAM "
            f"maps of the held-out test images, the oracle MaxBoxAcc is {g[0]:.1f} with "
            f"min–max normalization of the signed map and {g[1]:.1f} with a ReLU first, "
            f"{g[1] - g[0]:.1f} points apart (Table 1, on the checkpoints' own test images: "
            f"{_pct(gap.max_box_acc)}); for GMP-CAM {m[0]:.1f} against {m[1]:.1f}.")
    effects = []
    if "GAP-CAM, 8×8 map" in oracle:
        c = oracle["GAP-CAM, 8×8 map"]
        effects.append(f"{c[1] - c[0]:.1f} points for the 8×8 map ({c[0]:.1f} against "
                       f"{c[1]:.1f})")
    b = oracle["backprop on GAP"]
    if b[0] == b[1]:
        effects.append(f"none for backprop saliency, whose map is non-negative, so a ReLU "
                       f"changes nothing ({b[0]:.1f} both)")
    if effects:
        text += " The size of the effect depends on the maps: " + ", and ".join(effects) + "."
    return text + (" A min–max level τ keeps pixels down to min M + τ (max M − min M); with "
                   "a negative minimum that varies from image to image, no single τ suits "
                   "every image. With a ReLU first, τ is the paper's fraction of the max.")


def findings(rows: dict[str, LocalizationResult], results: dict[str, ProtocolResult],
             test: ClutteredDigits, repeats: int, seed: int) -> str:
    """The paragraphs under the tables, each sentence computed from the numbers."""
    gap, gmp = rows["GAP-CAM"], rows["GMP-CAM"]
    g = results["GAP-CAM"]
    lines = []
    if gap.top1_loc > gmp.top1_loc and abs(gap.accuracy - gmp.accuracy) < 0.05:
        lines.append(
            f"As in the paper, global average pooling localizes far better than global max "
            f"pooling at about the same accuracy (Top-1 Loc {_pct(gap.top1_loc)} against "
            f"{_pct(gmp.top1_loc)}; accuracy {_pct(gap.accuracy)} against "
            f"{_pct(gmp.accuracy)}): max pooling rewards only the single strongest location "
            f"of each map, so the CAM of a GMP net covers a fragment of the digit rather than "
            f"its extent.")
    baselines = [name for name in ("backprop on GAP", "centred box", "full image") if name in rows]
    if baselines and all(gap.top1_loc > rows[name].top1_loc for name in baselines):
        lines[-1:] = [(lines[-1] + " " if lines else "") + "CAM also beats gradient saliency "
                      "and both box baselines (Top-1 Loc, Table 1)."]
    lines.append(_normalization_paragraph(results, gap))
    if "GAP-CAM, 8×8 map" in results:
        coarse_row, c = rows["GAP-CAM, 8×8 map"], results["GAP-CAM, 8×8 map"]
        d_min = difference(g, c, test.sources, "minmax", repeats, seed)
        d_relu = difference(g, c, test.sources, "relu", repeats, seed)
        drop = gap.top1_loc - coarse_row.top1_loc
        worse = "much worse" if drop > 0.1 else "worse" if drop > 0 else "no worse"
        masks = ""
        if d_min["oracle"][1] < 0 < d_min["oracle"][2] and d_relu["at_val_tau"][1] > 0:
            masks = (": the min–max normalization of the signed maps hides a difference "
                     "that the same maps show with a ReLU first")
        lines.append(
            f"**16×16 against 8×8 last map.** At the paper's 20% the coarse map localizes "
            f"{worse} (Top-1 Loc {_pct(gap.top1_loc)} against {_pct(coarse_row.top1_loc)}). "
            f"Under min–max normalization their oracle MaxBoxAcc are "
            f"{_pct(g.oracle['minmax'])} and {_pct(c.oracle['minmax'])} (16×16 − 8×8 = "
            f"{_signed(d_min['oracle'])}, {_verdict(d_min['oracle'])}){masks}. "
            f"With a ReLU first, each net at the threshold its validation images choose: "
            f"{_pct(g.at_val_tau['relu'])} against {_pct(c.at_val_tau['relu'])}, a difference "
            f"of {_signed(d_relu['at_val_tau'])}, {_verdict(d_relu['at_val_tau'])}; oracle "
            f"{_pct(g.oracle['relu'])} against {_pct(c.oracle['relu'])} "
            f"({_signed(d_relu['oracle'])}). At IoU ≥ 0.7, where a box must fit tightly: "
            f"{_pct(g.strict['relu'])} against {_pct(c.strict['relu'])} "
            f"({_signed(d_relu['strict'])}, {_verdict(d_relu['strict'])}). Compare methods "
            f"under the same normalization, at a threshold chosen on held-out data.")
    gaps = [results[name].oracle[n] - results[name].at_val_tau[n]
            for name in results for n in NORMALIZATIONS]
    lines.append(
        f"**Validation τ against the oracle.** The threshold chosen on the validation images "
        f"scores between {_pct(min(gaps))} and {_pct(max(gaps))} points below the oracle on "
        f"the test images, across methods and normalizations: the oracle MaxBoxAcc is an "
        f"upper reading, and the honest number is the one at the validation τ.")
    distinct = len(np.unique(test.sources))
    lines.append(
        f"**Few independent digits.** The {len(test)} held-out test images are drawn from "
        f"only {distinct} distinct handwritten digits (and the {rows['_n']} images of "
        f"Table 1 from {rows['_distinct']}), written by the same 13 writers as the training "
        f"digits. The intervals resample digits, not images; differences of a point or two "
        f"between methods are noise.")
    return "\n\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m camcourse.benchmarks.localization",
                                     description=__doc__)
    parser.add_argument("--test-size", type=argument(positive_int, int), default=1000,
                        help="test images of Table 1 (the checkpoints' own test set)")
    parser.add_argument("--val-size", type=argument(positive_int, int), default=500,
                        help="validation images that choose τ in Table 2")
    parser.add_argument("--heldout-size", type=argument(positive_int, int), default=1500,
                        help="test images drawn for Table 2, before those sharing a digit "
                             "with the validation split are dropped (about a third)")
    parser.add_argument("--seed", type=argument(non_negative_int, int), default=0)
    parser.add_argument("--step", type=argument(fraction, interval="(0, 1)"), default=0.01,
                        help="spacing of the thresholds searched, in (0, 1) (Choe et al.: 0.01)")
    parser.add_argument("--repeats", type=argument(positive_int, int), default=1000,
                        help="bootstrap replicates")
    parser.add_argument("--out", default=str(paths.REPO_ROOT / "docs" / "results.md"))
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    threads = set_threads()
    start, cpu = time.perf_counter(), time.process_time()
    rows = run(args.test_size, args.seed, args.step)
    choe = choe2020_column(args.test_size, args.seed, args.step)
    results, val, test = run_protocol(args.val_size, args.heldout_size, args.seed, args.step,
                                      args.repeats)
    table1 = make_cluttered_digits(args.test_size, "test", seed=args.seed)
    text = table(rows, choe) + "\n\n" + protocol_table(results)
    rows_info = dict(rows, _n=len(table1), _distinct=len(np.unique(table1.sources)))
    notes = findings(rows_info, results, test, args.repeats, args.seed)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(text)
    print("\n" + notes)
    print(f"\n{seconds:.1f} s ({cpu:.0f} s of CPU) on {threads} CPU thread(s)")
    if args.no_write:
        return text
    trained = []
    for name in ("gap", "gmp", "gap8"):
        if (paths.DATA_DIR / f"{name}.pt").exists():
            m = checkpoint_metrics(name)
            trained.append(
                f"| {name} | `{m['command']}` | {m['parameters']:,} | "
                f"{m['seconds']['total']:.0f} s | {m['seconds']['data']:.0f} s | "
                f"{_megabytes(m['peak_rss_mb'])} | {m['environment']['threads']} | "
                f"{m['environment'].get('precision', 'float32')} |"
            )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    low, high = choe2020_shift(rows, choe)
    out.write_text(RESULTS.format(
        table=table(rows, choe), protocol=protocol_table(results), findings=notes,
        shift_low=low, shift_high=high,
        test_size=args.test_size, distinct=rows_info["_distinct"], val_size=len(val),
        val_digits=len(np.unique(val.sources)), val_pool=len(source_digits("val")[2]),
        heldout=len(test),
        heldout_digits=len(np.unique(test.sources)), repeats=args.repeats,
        cpu=cpu, threads=threads, step=args.step,
        torch=torch.__version__, python=platform.python_version(),
        trained="\n".join(trained),
    ))
    samples_figure(out.parent / "samples.png", seed=args.seed)
    print(f"wrote {out} and {out.parent / 'samples.png'}")
    return text


RESULTS = """# Localization on cluttered digits: the paper's Table 2 in miniature

Made by `python -m camcourse.benchmarks.localization` from the checkpoints shipped in `data/`,
in {cpu:.0f} s of CPU time on {threads} CPU thread(s) (torch {torch}, Python {python}).
All numbers are percentages of the images; τ runs over {step}, 2·{step}, ... < 1.

## 1. The paper's protocol

The checkpoints' own test set: on {test_size} images of the test split ({distinct} distinct
handwritten digits the networks never saw).

{table}

- **accuracy**: top-1 classification accuracy. The baselines' rows use the GAP net's
  predictions, so their Top-1 Loc is comparable with GAP-CAM's.
- **Top-1 Loc**: the class is right *and* the box from the predicted class's map has
  IoU ≥ 0.5 with the ground truth. **GT-known Loc**: the box from the true class's map
  has IoU ≥ 0.5. Both use the paper's box: the largest 8-connected component of the
  pixels ≥ 20% of the map's max, on the map upsampled to the image size.
- **MaxBoxAcc** (defined by Choe et al., CVPR 2020): maps min–max normalized, one threshold
  τ for the whole set, the best one *on these very images* (τ* in brackets), largest
  component, IoU ≥ 0.5: an oracle reading (section 2 chooses τ on other images).
  **"camlib"** is the course's implementation (`camlib.localize`, the protocol used in every
  lesson and in section 2): masks {{M̄ ≥ τ · max M̄}}, the component with most pixels,
  half-open boxes. **"choe2020"** is the same definition with the conventions of Choe et
  al.'s released code (clovaai/wsolevaluation): the map quantized to uint8 levels and kept
  where q > ⌊τ · max q⌋, the OpenCV contour of largest area, inclusive boxes
  (x1 = x + w clipped to W − 1) and an IoU that counts pixels inclusively (+1). Their
  pipeline also upsamples the maps bicubically where the course's is bilinear; both columns
  use the same bilinear maps, and the fixed boxes enter "choe2020" as indicator maps.
  "choe2020" reads {shift_low:.1f} to {shift_high:.1f} points higher on every row but the
  full image (computed with `localize.max_box_acc(..., protocol=...)`, τ grid {step}).
  **MaxBoxAccV2**: every component counts (the best box of each image), and the accuracy
  is averaged over IoU ≥ 0.3, 0.5 and 0.7, each with its own best τ.
- **backprop**: gradient saliency max_colour |∂S_c/∂I| (Simonyan et al., 2014) of the GAP
  net. **centred box**: the mean training-box size, centred. **full image**: the whole
  image as the box.

## 2. Thresholds chosen on a validation split, with intervals

Choe et al.'s procedure for choosing τ (with the course's "camlib" implementation): τ is
chosen on {val_size} validation images (`split="val"`:
{val_digits} distinct handwritten digits, from the {val_pool} set aside from the test
digits) and the test images are scored at that τ: {heldout} held-out test images
({heldout_digits} distinct handwritten digits, none shared with the validation or training
images). Beside each, the oracle: the best τ on the test images themselves. "min–max"
normalizes the signed map; "ReLU first" sets its negative part to 0 first (Grad-CAM's
convention; τ is then the paper's fraction of the max). GT-known maps (the true class),
largest component. Brackets: 95% intervals from {repeats} bootstrap replicates that resample
handwritten digits, not images (images of one digit are not independent). The last column is
Top-1 Loc (the predicted class's map) at the ReLU-first validation τ.

{protocol}

## What the numbers say

{findings}

## How the checkpoints were trained

| name | command | parameters | time (wall) | of which data | peak RSS | threads | precision |
|---|---|---:|---:|---:|---:|---:|---|
{trained}

The time is the whole command: generating the images (about 10 s with an empty cache, under
1 s from the cache), training, and the final evaluation. `--precision auto` trains in
bfloat16 on a CPU that has it in hardware (AVX512-BF16 or AMX), as the machine that trained
these checkpoints did (the precision column); `python -m camcourse.benchmarks.training`
times the two precisions' training steps side by side on any machine. The numbers in the
table come from each checkpoint's JSON file in `data/`, which also records the torch
version and the device. The test split's handwritten digits are not
among the training digits, but both come from the same 13 writers (scikit-learn's digits):
the accuracy measures new digits by familiar hands, not unseen writers.
"""


if __name__ == "__main__":
    main()
