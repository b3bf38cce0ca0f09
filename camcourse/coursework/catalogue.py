"""The generated tables of docs/teaching.md: the lessons and their exercises.

``python -m camcourse.coursework docs`` rewrites the blocks between
``<!-- BEGIN GENERATED: name -->`` and ``<!-- END GENERATED: name -->`` from the lessons
themselves; ``--check`` reports a stale block, so the guide never lists an exercise the
course does not have.

A lesson's time for a learner is an estimate, stated with its formula: reading the
markdown at 120 words a minute (mathematical text), half a minute per code cell to run
and look at, and 10 minutes per exercise; rounded up to 5 minutes.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from camcourse.course import Setting, colab_url, load_setting
from camcourse.coursework.notebooks import find_exercises, read_notebook, source
from camcourse.coursework.release import lessons

WORDS_PER_MINUTE = 120
MINUTES_PER_CODE_CELL = 0.5
MINUTES_PER_EXERCISE = 10
BLOCK = re.compile(r"(<!-- BEGIN GENERATED: (\w+) -->\n)(.*?)(<!-- END GENERATED: \2 -->)",
                   re.DOTALL)


def _title(notebook: dict) -> str:
    for cell in notebook["cells"]:
        if cell.get("cell_type") == "markdown":
            match = re.search(r"^#\s+(.+)$", source(cell), re.MULTILINE)
            if match:
                return match.group(1).strip()
    return ""


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def estimated_minutes(notebook: dict) -> int:
    """The learner-time estimate of the module docstring, in minutes."""
    words = sum(len(source(c).split()) for c in notebook["cells"] if c["cell_type"] == "markdown")
    code = sum(1 for c in notebook["cells"] if c["cell_type"] == "code")
    minutes = (words / WORDS_PER_MINUTE + code * MINUTES_PER_CODE_CELL
               + len(find_exercises(notebook)) * MINUTES_PER_EXERCISE)
    return 5 * max(1, math.ceil(minutes / 5))


def lessons_table(lessons_dir: str | Path, setting: Setting | None = None) -> str:
    """Markdown table: lesson, student copy on Colab, exercises, points, estimated time.

    The Colab links come from ``setting`` (default: ``camcourse.course.load_setting()``).
    """
    setting = load_setting() if setting is None else setting
    rows = ["| Lesson | Student copy | Exercises | Points | Learner time (est.) |",
            "|---|---|---|---|---|"]
    for path in lessons(lessons_dir):
        notebook = read_notebook(path)
        exercises = [e for e in find_exercises(notebook) if e.number]
        points = sum(e.points for e in exercises)
        student = colab_url(f"notebooks/student/{path.name}", setting)
        rows.append(f"| {_cell(_title(notebook) or path.stem)} | [Colab]({student}) | "
                    f"{', '.join(e.number for e in exercises) or '—'} | {points:g} | "
                    f"~{estimated_minutes(notebook)} min |")
    return "\n".join(rows)


def exercises_table(lessons_dir: str | Path) -> str:
    """Markdown table: each exercise, the function a learner writes, what its check tests."""
    from camcourse.checks import get_check

    rows = ["| Exercise | Title | The learner writes | The check | Points |",
            "|---|---|---|---|---|"]
    for path in lessons(lessons_dir):
        for e in find_exercises(read_notebook(path)):
            if not e.number:
                continue
            try:
                doc = (get_check(e.number).__doc__ or "").strip().splitlines()
                tested = doc[0].replace("``", "`") if doc else ""
            except KeyError:
                tested = "**no check yet**"
            rows.append(f"| {e.number} | {_cell(e.title)} | `{e.function}` | {_cell(tested)} | "
                        f"{e.points:g} |")
    return "\n".join(rows)


def update_docs(doc_path: str | Path, lessons_dir: str | Path, *, check: bool = False,
                setting: Setting | None = None) -> bool:
    """Rewrite (or with ``check`` only compare) the generated blocks; True if they changed."""
    doc_path = Path(doc_path)
    text = doc_path.read_text(encoding="utf-8")
    makers = {"lessons": lambda folder: lessons_table(folder, setting),
              "exercises": exercises_table}

    def fill(match: re.Match) -> str:
        name = match.group(2)
        if name not in makers:
            return match.group(0)
        return f"{match.group(1)}{makers[name](lessons_dir)}\n{match.group(4)}"

    new = BLOCK.sub(fill, text)
    if new != text and not check:
        doc_path.write_text(new, encoding="utf-8")
    return new != text


WRITE_IT_YOURSELF: dict[str, tuple[str, ...]] = {
    "0.1": ("camcourse.data.to_float", "camlib.localize._batches",
            "camcourse.viz._common.display_image"),
    "1.1": ("camlib.extract.CAMExtractor", "camlib.extract.GradCAMExtractor",
            "camlib.extract._Hooked"),
    "2.1": ("camlib.reference.global_average_pool", "camlib.torch.global_average_pool"),
    "2.3": ("camlib.reference.global_max_pool", "camlib.torch.global_max_pool"),
    "3.1": ("camlib.reference.class_scores", "camlib.torch.class_scores"),
    "3.2": ("camlib.reference.softmax", "camlib.torch.softmax"),
    "4.1": ("camlib.reference.class_activation_maps", "camlib.torch.class_activation_maps",
            "camcourse.viz.stepper.derivation", "camcourse.viz.stepper.Derivation",
            "camcourse.viz.maps.plot_worked_example"),
    "4.2": ("camlib.reference.global_average_pool", "camlib.torch.global_average_pool",
            "camlib.reference.class_scores", "camlib.torch.class_scores"),
    "4.3": ("camlib.extract.CAMExtractor", "camlib.localize.cam_maps"),
    "5.1": ("camlib.reference.upsample", "camlib.torch.upsample",
            "camlib.reference._interpolation_taps"),
    "5.2": ("camlib.reference.normalize", "camlib.torch.normalize",
            "camcourse.benchmarks.wsol.normalize"),
    "5.3": ("camcourse.viz.maps.heat_mask_box", "camcourse.viz.localization.plot_box_from_cam"),
    "5.4": ("camcourse.viz.maps.heat_mask_box",),
    "6.2": ("camcourse.train.training_step",),
    "7.1": ("camlib.reference.iou", "camlib.torch.iou", "camlib.localize._ious",
            "camcourse.benchmarks.wsol.inclusive_iou", "camlib.sweep._overlap"),
    "7.2": ("camlib.reference.bounding_box", "camlib.torch.bounding_box",
            "camlib.reference.component_boxes", "camlib.torch.component_boxes",
            "camlib.localize.boxes_from_maps", "camlib.torch._largest_box",
            "camlib.sweep.threshold_boxes", "camlib.sweep._sweep_maps",
            "camlib.sweep._sweep_parallel", "camlib.sweep._sweep_map", "camlib.sweep.map_boxes",
            "camcourse.benchmarks.wsol.boxes_at_thresholds", "camcourse.data._boxes_from_masks"),
    "7.3": ("camlib.localize.max_box_acc", "camlib.localize.box_accuracy_curve",
            "camlib.localize.max_box_acc_v2", "camlib.localize._curves",
            "camlib.localize._max_box_acc_of", "camlib.localize.evaluate_localization",
            "camlib.sweep.threshold_boxes", "camlib.sweep._sweep_maps",
            "camlib.sweep._sweep_parallel", "camlib.sweep._sweep_map", "camlib.sweep.map_boxes",
            "camcourse.benchmarks.wsol.correct_counts"),
    "8.1": ("camlib.extract.GradCAMExtractor", "camlib.reference.global_average_pool",
            "camlib.torch.global_average_pool"),
    "8.2": ("camlib.extract.GradCAMExtractor",),
    "8.3": ("camlib.extract.GradCAMExtractor",),
    "10.1": ("camlib.reference.class_activation_maps", "camlib.torch.class_activation_maps",
             "camcourse.viz.stepper.derivation", "camcourse.viz.stepper.Derivation",
             "camcourse.viz.maps.plot_worked_example"),
    "10.2": ("camlib.localize.localization_accuracy",),
}
"""Write-it-yourself: exercise -> the camlib functions (or classes) that do its job.

While the autograder grades an exercise, the learner's process imports a camlib generated
without these (``_library.library_without``: each definition removed from the source, a
stub in its place raising ``RuntimeError("Exercise 4.1 asks you to write
camlib.reference.class_activation_maps; it is not in camlib while this exercise is
graded")``); every other camlib function stays available as a helper (7.2 may use
``camlib.reference.connected_components``, 10.2 ``bounding_box`` and ``iou``, 11.3
``connected_components`` and ``component_boxes``). The list holds every camlib path to
an exercise's answer, not only the obvious one: the threshold sweep's engine
(``camlib.sweep``) for 7.2 and 7.3, the derivation stepper's ``.cam`` and the worked
example's figure (``plot_worked_example`` draws one image's M_c as an image) for 4.1 and 10.1,
the extractors' base class (``camlib.extract._Hooked``, a hook removed when its ``with``
block ends) for 1.1,
the private helpers that compute an IoU, an upsampling or a curve, and camcourse's own
copies of a step (``camcourse.benchmarks.wsol``, the port of Choe et al.'s evaluation,
normalizes a map, computes an IoU and boxes a map; ``camlib.sweep.map_boxes`` boxes a map at
any threshold, ``camlib.sweep._overlap`` gives an intersection and a union, the data generator's
``camcourse.data._boxes_from_masks`` the tight box of a mask (7.2's last step); lesson 05's
``heat_mask_box`` and ``plot_box_from_cam`` compute 5.3's mask, the second one only to draw
it, from which it can be read back; global average pooling is 8.1's Grad-CAM weights,
the spatial mean of the gradients; camlib's evaluation batches and the figures' image
helper ``display_image`` divide uint8 images by 255, 0.1's answer). The checks' own
private helpers are out of the learner's camlib for every exercise
(``_library.without_check_helpers``). Each name must be a top-level
definition of its module (tests/test_grading.py resolves them all); grading every
lesson's solution to full marks checks that no helper a solution uses is on the list.
"""
