"""``python -m camcourse.coursework {release,grade,nbgrader,docs,publish}``: see the package."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from camcourse.paths import NOTEBOOKS_DIR, REPO_ROOT
from camlib.validation import existing_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m camcourse.coursework",
                                     description="Student copies of the lessons, and grading.")
    commands = parser.add_subparsers(dest="command", required=True)

    rel = commands.add_parser("release", help="write the student copies of the lessons")
    rel.add_argument("--source", type=Path, default=NOTEBOOKS_DIR,
                     help="folder of the lessons NN_*.ipynb (default: %(default)s)")
    rel.add_argument("--dest", type=Path, default=None,
                     help="folder of the student copies (default: SOURCE/student)")
    rel.add_argument("--check", action="store_true",
                     help="write nothing; exit 1 if a student copy is missing or stale")

    grd = commands.add_parser("grade", help="grade submitted notebooks with the course's checks")
    grd.add_argument("submissions", nargs="+", type=existing_path,
                     help="submitted .ipynb files, or folders holding them")
    grd.add_argument("--out", type=Path, default=None, help="CSV file to write")
    grd.add_argument("--lessons", type=Path, default=NOTEBOOKS_DIR,
                     help="folder of the lessons that define exercises and points "
                          "(default: %(default)s)")
    grd.add_argument("--totals", type=Path, default=None,
                     help="CSV of one total per submission (default: OUT with -totals)")
    grd.add_argument("--lesson", type=int, default=None, metavar="NN",
                     help="the lesson of every submission (for files named freely)")
    seeds = grd.add_mutually_exclusive_group()
    seeds.add_argument("--seed-file", type=existing_path, default=None,
                       help="regrade with the secret seed a run wrote to OUT-seed.txt "
                            "(default: a fresh random seed)")
    seeds.add_argument("--seed", type=int, default=None,
                       help="the secret seed itself (visible to other users in the process "
                            "list: prefer --seed-file)")
    grd.add_argument("--timeout", type=float, default=10.0,
                     help="CPU seconds allowed to run each exercise cell (default: %(default)s)")
    grd.add_argument("--check-time-limit", type=float, default=10.0,
                     help="CPU seconds of learner code per check (default: %(default)s)")
    grd.add_argument("--import-timeout", type=float, default=300.0,
                     help="seconds to start the learner's process and run the notebook's "
                          "imports (default: %(default)s)")
    grd.add_argument("--memory", type=int, default=4096, metavar="MB",
                     help="address-space limit of the learner's process (default: %(default)s)")
    grd.add_argument("--jobs", type=int, default=None,
                     help="submissions graded at once, one process each (default: the usable "
                          "cores)")
    isolation = grd.add_mutually_exclusive_group()
    isolation.add_argument("--require-sandbox", action="store_true",
                           help="refuse to grade without bubblewrap")
    isolation.add_argument("--no-sandbox", action="store_true",
                           help="process isolation only, even where bubblewrap works")
    grd.add_argument("--checks", action="append", default=[], metavar="MODULE",
                     help="extra module or .py file defining checks (repeatable)")

    nbg = commands.add_parser("nbgrader", help="write the lessons as nbgrader source notebooks")
    nbg.add_argument("dest", type=Path, help="nbgrader's source/ folder")
    nbg.add_argument("--source", type=Path, default=NOTEBOOKS_DIR,
                     help="folder of the lessons NN_*.ipynb (default: %(default)s)")

    doc = commands.add_parser("docs", help="regenerate the tables of docs/teaching.md")
    doc.add_argument("--check", action="store_true", help="exit 1 if the tables are stale")
    doc.add_argument("--doc", type=Path, default=REPO_ROOT / "docs" / "teaching.md")
    doc.add_argument("--source", type=Path, default=NOTEBOOKS_DIR)

    pub = commands.add_parser(
        "publish", help="point the course at its repository: badges, set-up cells, student "
                        "copies and docs")
    pub.add_argument("repo_url", nargs="?", default=None,
                     help="https://github.com/OWNER/NAME (default: the current setting, "
                          "which only brings everything in step)")
    pub.add_argument("--branch", default=None, help="branch (default: the current setting)")
    pub.add_argument("--check", action="store_true",
                     help="write nothing; exit 1 if anything is out of step")

    args = parser.parse_args(argv)
    # A folder without lessons (a wrong --lessons, or the default of a course installed with
    # `pip install /path/to/repo`, whose notebooks stay in the clone) graded every
    # submission 0/0 as "the course has no lesson NN".
    option, folder = {"grade": ("--lessons", getattr(args, "lessons", None)),
                      "nbgrader": ("--source", getattr(args, "source", None)),
                      "release": ("--source", getattr(args, "source", None))}.get(
                          args.command, (None, None))
    if folder is not None and not any(Path(folder).glob("[0-9][0-9]_*.ipynb")):
        parser.error(f"{option}: {folder} holds no lessons (NN_name.ipynb): run this in a "
                     f"clone of the course, or name the folder of the lessons with {option}")
    if args.command == "publish":
        from camcourse.coursework import colab

        try:
            report = colab.publish(args.repo_url, args.branch, repo_root=REPO_ROOT,
                                   check=args.check)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        for line in report:
            print(line)
        if args.check and report:
            print("out of step with the Colab setting: run `python -m camcourse.coursework "
                  "publish`", file=sys.stderr)
            return 1
        setting = colab.load_setting()
        print(f"the course points at {setting.repo_url} (branch {setting.branch})"
              + ("" if report else "; everything already in step"))
        return 0
    if args.command == "nbgrader":
        from camcourse.coursework.nbgrader import export

        for path in export(args.source, args.dest):
            print(f"wrote {path}")
        return 0
    if args.command == "docs":
        from camcourse.coursework.catalogue import update_docs

        changed = update_docs(args.doc, args.source, check=args.check)
        if args.check and changed:
            print(f"{args.doc} is out of step with the lessons: run `python -m "
                  f"camcourse.coursework docs`", file=sys.stderr)
            return 1
        print(f"{args.doc}: {'updated' if changed else 'up to date'}")
        return 0
    if args.command == "release":
        from camcourse.coursework.release import release

        dest = args.dest if args.dest is not None else args.source / "student"
        try:
            report = release(args.source, dest, check=args.check, repo_root=REPO_ROOT)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        for line in report:
            print(line)
        if args.check:
            if report:
                print("student copies are out of step: run `python -m camcourse.coursework "
                      "release`", file=sys.stderr)
                return 1
            print("student copies are in step with the lessons")
        elif not report:
            print("student copies already up to date")
        return 0

    from camcourse.coursework.grade import grade, read_seed

    seed = read_seed(args.seed_file) if args.seed_file is not None else args.seed
    try:
        rows = grade(args.submissions, out=args.out, totals_out=args.totals,
                     lessons_dir=args.lessons, cell_timeout=args.timeout,
                     check_time_limit=args.check_time_limit, check_modules=args.checks,
                     jobs=args.jobs, seed=seed, lesson=args.lesson,
                     import_timeout=args.import_timeout, memory_mb=args.memory,
                     sandbox=False if args.no_sandbox else None,
                     require_sandbox=args.require_sandbox)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0 if all(r.graded for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
