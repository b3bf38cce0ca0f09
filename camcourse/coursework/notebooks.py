"""Reading the course's exercise format out of a notebook's JSON.

The format (docs/teaching.md, COURSE.md): a markdown cell with a heading
``### Exercise N.M: title``, then a code cell tagged ``exercise`` whose solution sits
between nbgrader's markers ``### BEGIN SOLUTION`` and ``### END SOLUTION``, then a code
cell tagged ``check`` that calls ``camcourse.checks.exercise_N_M(function)``.
Notebooks are handled as plain JSON (nbformat 4), so nothing here needs Jupyter.
"""

from __future__ import annotations

import ast
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXERCISE_TAG = "exercise"
CHECK_TAG = "check"
RAISES_TAG = "raises-exception"
BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"

# Numbers of at most 4 digits: int() of a 5,000-digit one raises (Python's limit).
HEADING = re.compile(r"^#{1,6}[ \t]*Exercise[ \t]+(\d{1,4})\.(\d{1,4})[ \t]*[:.—–-]?"
                     r"[ \t]*(.*?)[ \t]*$", re.MULTILINE)
CHECK_CALL = re.compile(r"exercise_(\d{1,4})_(\d{1,4})\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)")
LESSON_FILE = re.compile(r"^(\d{2})_[A-Za-z0-9_\-]+\.ipynb$")
MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024  # far above any lesson (< 1 MB without outputs)
MAX_CELLS = 250_000
"""Cells a notebook may have (a lesson has under 200). 50 MB of two million empty cells
took 1.75 GB of the grader's memory to parse and minutes to read; a file with more than
this many ``"cell_type"`` keys is refused before it is parsed."""
MAX_PARSED_CELL = 512 * 1024
"""Characters of one cell the grader reads as Python (a lesson's longest cell has under
5,000). The parser needs about 600 times a source's size in memory and the grader is not
confined: a longer cell is read as text only (:func:`defined_names` and
:func:`free_names` fall back to a line scan, :func:`definitions` finds nothing)."""
MAX_PARSED_NOTEBOOK = 4 * 1024 * 1024
"""Characters of other cells :func:`needed_definitions` reads as Python, in all; the cells
after the first ones that fill it add no definition."""
CELL_PARSE_COST = 256
"""Characters of :data:`MAX_PARSED_NOTEBOOK` that a non-empty cell costs at least: reading a
cell as Python (IPython's transformer, the parser) takes some 100 µs whatever its length,
so two million one-character cells would take minutes; this reads at most some 16,000."""
MAX_MAGIC_COST = 50_000
"""What :func:`without_magics` lets IPython's transformer do for one cell, as magic lines
× lines (:func:`magic_cost`): the transformer reads the whole cell again after each magic
it turns into a call, so 2,000 ``%time x = 1`` lines take 17 s, and a cell of 512 KB of
them minutes. A lesson's cell costs a few hundred; a costlier one has its magic and
shell lines commented out instead. :func:`needed_definitions` allows ten times this for
all the other cells together."""


@dataclass(frozen=True)
class Exercise:
    """One exercise of a notebook.

    Attributes
    ----------
    number : str
        ``"N.M"`` from the heading (``None`` when the exercise cell has no heading).
    title : str
        The heading's text after the number.
    cell : int
        Index of the ``exercise`` code cell in ``notebook["cells"]``.
    check_cell : int or None
        Index of the ``check`` cell that follows it, if any.
    points : float
        Cell metadata ``points`` (or nbgrader's ``nbgrader.points``); default 1.
    function : str or None
        The learner's function: the one the check cell passes, else the cell's only
        public top-level ``def``/``class``.
    """

    number: str | None
    title: str
    cell: int
    check_cell: int | None
    points: float
    function: str | None


def read_file_bytes(path: str | Path, *, limit: int = MAX_NOTEBOOK_BYTES,
                    follow_symlinks: bool = True) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes, read with a bounded read.

    Raises ``ValueError`` naming the file for anything else: a FIFO, a device (``/dev/zero``),
    a directory, a file over the limit, and with ``follow_symlinks=False`` a symbolic link.
    The file is opened without blocking (a FIFO with no writer cannot hang the reader).

    >>> read_file_bytes("/dev/zero")
    Traceback (most recent call last):
    ...
    ValueError: /dev/zero: not a regular file (a character device)
    """
    path = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    if not follow_symlinks:
        if stat.S_ISLNK(os.lstat(path).st_mode):
            raise ValueError(f"{path}: a symbolic link, not a file (refused: a submission is "
                             f"graded only from a regular file)")
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if not follow_symlinks and os.path.islink(path):
            raise ValueError(f"{path}: a symbolic link, not a file (refused)") from None
        raise ValueError(f"{path}: cannot be opened ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{path}: not a regular file ({_file_kind(info.st_mode)})")
        if info.st_size > limit:
            raise ValueError(f"{path}: {info.st_size:,} bytes, over the limit of {limit:,}")
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise ValueError(f"{path}: more than {limit:,} bytes, over the limit")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _file_kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a directory"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a plain file"


def read_notebook(path: str | Path, *, follow_symlinks: bool = True) -> dict[str, Any]:
    """Load a notebook's JSON; raises ``ValueError`` naming the file if it is not a notebook.

    Only a regular file of at most ``MAX_NOTEBOOK_BYTES`` is read (see
    :func:`read_file_bytes`); ``follow_symlinks=False`` refuses a symbolic link too.
    """
    path = Path(path)
    data = read_file_bytes(path, follow_symlinks=follow_symlinks)
    cells = data.count(b'"cell_type"')
    if cells > MAX_CELLS:  # counted before parsing: the parse is what takes the memory
        raise ValueError(f"{path}: {cells:,} cells, over the limit of {MAX_CELLS:,}")
    try:
        # "utf-8-sig": a byte-order mark (an editor on Windows) is not part of the JSON
        notebook = json.loads(data.decode("utf-8-sig"))
    except RecursionError:
        raise ValueError(f"{path}: JSON nested too deeply to read") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, "
                         f"column {exc.colno})") from None
    if isinstance(notebook, dict) and "cells" not in notebook:
        notebook = _from_version_3(notebook)
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise ValueError(f"{path}: valid JSON but not a notebook (no list of cells)")
    for i, cell in enumerate(notebook["cells"]):
        if not isinstance(cell, dict) or "cell_type" not in cell:
            raise ValueError(f"{path}: cell {i} is not a notebook cell")
    return notebook


def _from_version_3(notebook: dict[str, Any]) -> dict[str, Any]:
    """A notebook of format 3 (IPython 1–3 saved ``worksheets``, code in ``input``, headings
    in ``heading`` cells) as format 4's cells; any other dict unchanged.

    >>> old = {"nbformat": 3, "worksheets": [{"cells": [
    ...     {"cell_type": "heading", "level": 3, "source": "Exercise 3.2"},
    ...     {"cell_type": "code", "input": ["x = 1"], "outputs": []}]}]}
    >>> [(c["cell_type"], source(c)) for c in _from_version_3(old)["cells"]]
    [('markdown', '### Exercise 3.2'), ('code', 'x = 1')]
    """
    sheets = notebook.get("worksheets")
    if notebook.get("nbformat") != 3 or not isinstance(sheets, list):
        return notebook
    cells = []
    for sheet in sheets:
        for cell in sheet.get("cells", []) if isinstance(sheet, dict) else []:
            if not isinstance(cell, dict):
                cells.append(cell)
            elif cell.get("cell_type") == "code":
                cells.append({**cell, "source": cell.get("input", ""),
                              "execution_count": cell.get("prompt_number")})
            elif cell.get("cell_type") == "heading":
                level = cell.get("level") if isinstance(cell.get("level"), int) else 1
                cells.append({**cell, "cell_type": "markdown",
                              "source": "#" * min(max(level, 1), 6) + " " + source(cell)})
            else:
                cells.append(cell)
    return {**notebook, "cells": cells, "nbformat": 4, "nbformat_minor": 0}


def write_notebook(notebook: dict[str, Any], path: str | Path) -> None:
    """Write a notebook as the course keeps them: JSON indented by 1, UTF-8, a final newline."""
    text = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
    Path(path).write_text(text, encoding="utf-8")


def source(cell: dict[str, Any]) -> str:
    """A cell's source as one string (nbformat stores a string or a list of lines)."""
    text = cell.get("source", "")
    if isinstance(text, list):
        return "".join(t if isinstance(t, str) else "" for t in text)
    return text if isinstance(text, str) else ""


def set_source(cell: dict[str, Any], text: str) -> None:
    """Set a cell's source, keeping the list-of-lines form if the cell used it."""
    cell["source"] = text.splitlines(keepends=True) if isinstance(cell.get("source"), list) \
        else text


def tags(cell: dict[str, Any]) -> list[str]:
    """The cell's tags (metadata.tags), or an empty list."""
    metadata = cell.get("metadata")
    found = metadata.get("tags", []) if isinstance(metadata, dict) else []
    return [t for t in found if isinstance(t, str)] if isinstance(found, list) else []


PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun"})
"""Cell magics whose body is Python that runs in the notebook's namespace."""


def _not_python(code: str) -> bool:
    """Whether a cell magic makes the cell's body something other than Python
    (``%%writefile``, ``%%bash``): such a cell defines nothing, as in Jupyter."""
    first = code.lstrip().split("\n", 1)[0]
    return first.startswith("%%") and (first[2:].split(" ", 1)[0].strip()
                                       not in PYTHON_CELL_MAGICS)


def defined_names(code: str) -> list[str]:
    """Names of the top-level functions and classes that ``code`` defines, in order.

    Falls back to a line scan when the code does not parse (a learner's syntax error, or
    a ``%%time`` cell). A cell whose body is not Python (``%%writefile``, ``%%bash``)
    defines nothing, as in Jupyter.
    """
    if _not_python(code):
        return []
    try:
        tree = _parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return re.findall(r"^(?:async\s+)?(?:def|class)\s+([A-Za-z_]\w*)", code, re.MULTILINE)
    return _defined_in(tree)


_BLOCKS = (ast.If, ast.Try, ast.With, ast.AsyncWith) + (
    (ast.TryStar,) if hasattr(ast, "TryStar") else ())


def _top_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """The statements a cell runs at its top level, in order: ``body``, and inside its
    ``if``/``else``, ``try``/``except``/``else``/``finally`` and ``with`` blocks (a
    ``try: from scipy.special import softmax`` / ``except ImportError: def softmax(...)``
    defines the function as surely as a bare ``def``), never inside a function or class."""
    found, stack = [], list(reversed(body))
    while stack:  # iterative: a cell of deeply nested blocks cannot exhaust the recursion
        node = stack.pop()
        found.append(node)
        if isinstance(node, _BLOCKS):
            inner = [*getattr(node, "body", []),
                     *[s for h in getattr(node, "handlers", []) for s in h.body],
                     *getattr(node, "orelse", []), *getattr(node, "finalbody", [])]
            stack.extend(reversed(inner))
    return found


def _defined_in(tree: ast.Module) -> list[str]:
    """The names of a parsed cell's top-level functions and classes, in order (those in
    its top-level ``if``, ``try`` and ``with`` blocks too: :func:`_top_level`)."""
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return [node.name for node in _top_level(tree.body) if isinstance(node, kinds)]


def bound_names(code: str) -> list[str]:
    """:func:`defined_names`, then the names that top-level assignments bind, in order.

    ``softmax = lambda s: ...`` or ``global_max_pool = functools.partial(np.amax, axis=(2, 3))``
    defines the exercise's function as surely as a ``def`` does: Jupyter's check passes it,
    and the grader must find that cell even where the notebook's tags were lost.

    >>> bound_names("import numpy as np\\nf = lambda x: x\\ng: int = 2\\ndef h():\\n    pass\\n")
    ['h', 'f', 'g']
    >>> bound_names("try:\\n    from scipy.special import softmax\\nexcept ImportError:\\n"
    ...             "    def softmax(s):\\n        pass\\nif True:\\n    f = len\\n")
    ['softmax', 'f']
    """
    if _not_python(code):
        return []
    try:
        tree = _parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return defined_names(code) + re.findall(r"^([A-Za-z_]\w*)[ \t]*(?::[^=\n]*)?=(?!=)",
                                                code, re.MULTILINE)
    assigned = []
    for node in _top_level(tree.body):
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AnnAssign) and node.value is not None else []
        assigned += [t.id for t in targets if isinstance(t, ast.Name)]
    return _defined_in(tree) + assigned  # the tree parsed once, not again by defined_names


def _parse(code: str) -> ast.Module:
    """``ast.parse(code)``; ``ValueError`` for a cell over :data:`MAX_PARSED_CELL`."""
    if len(code) > MAX_PARSED_CELL:
        raise ValueError(f"a cell of {len(code):,} characters (more than {MAX_PARSED_CELL:,})")
    return ast.parse(code)


def _as_python(code: str) -> str:
    """The cell as the parser reads it: magics made calls (:func:`without_magics`), except
    in a cell over :data:`MAX_PARSED_CELL`, which :func:`_parse` refuses anyway."""
    return without_magics(code) if len(code) <= MAX_PARSED_CELL else code


def _segments(code: str):
    """``ast.get_source_segment`` for many top-level nodes of ``code``, in linear time.

    The standard function splits the whole source at every call: a cell of 20,000
    one-line statements would take minutes. The lines are split once here, as
    :mod:`ast` splits them (``\\r\\n``, ``\\r``, ``\\n``), and columns count UTF-8 bytes.

    >>> tree = ast.parse("a = 1\\nb = 'é' + 'x'\\n")
    >>> segment = _segments("a = 1\\nb = 'é' + 'x'\\n")
    >>> [segment(node) for node in tree.body]
    ['a = 1', "b = 'é' + 'x'"]
    """
    lines = re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$", code)

    def segment(node: ast.AST) -> str | None:
        first, last = getattr(node, "lineno", None), getattr(node, "end_lineno", None)
        start, end = getattr(node, "col_offset", None), getattr(node, "end_col_offset", None)
        if None in (first, last, start, end) or not 1 <= first <= last <= len(lines):
            return None
        first, last = first - 1, last - 1
        if first == last:
            return lines[first].encode()[start:end].decode()
        return "".join([lines[first].encode()[start:].decode(), *lines[first + 1:last],
                        lines[last].encode()[:end].decode()])

    return segment


def _points(cell: dict[str, Any]) -> float:
    metadata = cell.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    nbgrader = metadata.get("nbgrader")
    nbgrader = nbgrader if isinstance(nbgrader, dict) else {}
    value = metadata.get("points", nbgrader.get("points", 1))
    try:
        points = float(value)
    except (TypeError, ValueError):
        return 1.0
    return points if points >= 0 else 1.0


def find_exercises(notebook: dict[str, Any]) -> list[Exercise]:
    """Every ``exercise`` cell of a notebook with its number, check cell, points, function.

    The number comes from the last ``Exercise N.M`` heading in the nearest markdown
    cell above the exercise cell (and below the previous exercise cell).
    """
    cells = notebook["cells"]
    found = []
    previous = -1
    for i, cell in enumerate(cells):
        if cell.get("cell_type") != "code" or EXERCISE_TAG not in tags(cell):
            continue
        number, title = None, ""
        for j in range(i - 1, previous, -1):
            if cells[j].get("cell_type") == "markdown":
                matches = list(HEADING.finditer(source(cells[j])))
                if matches:
                    last = matches[-1]
                    number, title = f"{int(last.group(1))}.{int(last.group(2))}", last.group(3)
                    break
        check_cell = None
        for j in range(i + 1, len(cells)):
            if EXERCISE_TAG in tags(cells[j]):
                break
            if cells[j].get("cell_type") == "code" and CHECK_TAG in tags(cells[j]):
                check_cell = j
                break
        found.append(Exercise(number, title, i, check_cell, _points(cell),
                              _function(source(cell), cells, check_cell)))
        previous = i
    return found


def _function(code: str, cells: list[dict[str, Any]], check_cell: int | None) -> str | None:
    names = defined_names(code)
    if check_cell is not None:
        call = CHECK_CALL.search(source(cells[check_cell]))
        if call and call.group(3) in names:
            return call.group(3)
    public = [n for n in names if not n.startswith("_")]
    if len(public) == 1:
        return public[0]
    return public[-1] if public else None


def solution_regions(code: str) -> list[tuple[int, int, str]]:
    """(begin line, end line, indentation) of each solution region; lines are 0-based.

    Raises ``ValueError`` on a marker without its partner or nested markers.
    """
    regions = []
    begin = None
    indent = ""
    for n, line in enumerate(code.splitlines()):
        stripped = line.strip()
        if stripped == BEGIN:
            if begin is not None:
                raise ValueError(f"line {n + 1}: {BEGIN} inside another solution region")
            begin, indent = n, line[: len(line) - len(line.lstrip())]
        elif stripped == END:
            if begin is None:
                raise ValueError(f"line {n + 1}: {END} without {BEGIN}")
            regions.append((begin, n, indent))
            begin = None
    if begin is not None:
        raise ValueError(f"line {begin + 1}: {BEGIN} without {END}")
    return regions


def solution_lines(code: str) -> list[str]:
    """The lines strictly between the markers (what a student copy must not contain)."""
    lines = code.splitlines()
    return [line for b, e, _ in solution_regions(code) for line in lines[b + 1 : e]]


def strip_solutions(code: str, number: str) -> str:
    """Replace each solution region, markers included, by the student placeholder.

    >>> strip_solutions("def f(x):\\n    ### BEGIN SOLUTION\\n    return x\\n"
    ...                 "    ### END SOLUTION\\n", "4.1")
    'def f(x):\\n    # YOUR CODE HERE\\n    raise NotImplementedError("Exercise 4.1")\\n'
    """
    lines = code.splitlines()
    out: list[str] = []
    start = 0
    for begin, end, indent in solution_regions(code):
        out += lines[start:begin]
        out += [f"{indent}# YOUR CODE HERE",
                f'{indent}raise NotImplementedError("Exercise {number}")']
        start = end + 1
    out += lines[start:]
    text = "\n".join(out)
    return text + "\n" if code.endswith("\n") else text


def lesson_number(path: str | Path, notebook: dict[str, Any] | None = None) -> int | None:
    """The lesson a notebook belongs to: its exercises' N, else a ``NN_`` file-name prefix."""
    if notebook is not None:
        numbers = [int(e.number.split(".")[0]) for e in find_exercises(notebook) if e.number]
        if not numbers:  # tags lost (some editors drop them): the headings still say
            numbers = [int(m.group(1)) for c in notebook["cells"]
                       if c.get("cell_type") == "markdown" for m in HEADING.finditer(source(c))]
        if numbers:
            return max(set(numbers), key=numbers.count)
    match = re.search(r"(?:^|\D)(\d{2})_", Path(path).name)  # also "Copy of 04_name.ipynb"
    return int(match.group(1)) if match else None


def file_lessons(path: str | Path) -> list[int]:
    """Every ``NN_`` of a file name, in order: the lesson numbers it may name.

    A learner's or a learning platform's file name may hold other numbers before the
    lesson's (``ann_12_02_pooling.ipynb``, a student number 12); the grader takes the
    first that is a lesson of the course (:func:`grade.read_submission`).

    >>> file_lessons("ann_12_02_pooling.ipynb"), file_lessons("Copy of 04_x (2).ipynb")
    ([12, 2], [4])
    """
    return [int(m) for m in re.findall(r"(?:^|(?<=\D))(\d{2})_", Path(path).name)]


def names_used(code: str) -> set[str]:
    """Every identifier ``code`` mentions (a superset of the free names it needs).

    The body of a cell magic (``%%time``) counts: it is code that runs.
    """
    try:
        tree = _parse(_as_python(code))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set(re.findall(r"[A-Za-z_]\w*", code))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "run_cell_magic" and len(node.args) == 3 \
                and isinstance(node.args[2], ast.Constant) and isinstance(node.args[2].value, str):
            names |= names_used(node.args[2].value)
    return names


def _bound_names(node: ast.Import | ast.ImportFrom) -> set[str]:
    if isinstance(node, ast.Import):
        return {a.asname or a.name.split(".")[0] for a in node.names}
    return {a.asname or a.name for a in node.names}


def import_statements(notebook: dict[str, Any], used: set[str] | None = None) -> list[str]:
    """Top-level ``import`` / ``from ... import`` statements of the non-exercise code cells.

    These are what an exercise function may rely on (``np``, ``torch``, ``F``...). With
    ``used``, only statements binding one of those names (or ``*``) are kept, so grading
    does not import what the exercises never touch. Magics and shell lines are ignored;
    cells that do not parse are skipped.
    """
    statements: list[str] = []
    for cell in notebook["cells"]:
        if cell.get("cell_type") != "code" or EXERCISE_TAG in tags(cell):
            continue
        code = source(cell)
        try:
            code = _as_python(code)
            tree = _parse(code)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        segment = _segments(code)
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                bound = _bound_names(node)
                if used is not None and "*" not in bound and not bound & used:
                    continue
                statement = segment(node)
                if statement and statement not in statements:
                    statements.append(statement)
    return statements


def _free_in(tree: ast.AST) -> set[str]:
    """Names ``tree`` reads that its functions and comprehensions do not bind themselves."""
    free: set[str] = set()

    def stores(nodes: list[ast.AST]) -> set[str]:
        names = set()
        for top in nodes:
            for n in ast.walk(top):
                if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load):
                    names.add(n.id)
                elif isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    names.add(n.name)
                elif isinstance(n, ast.arg):
                    names.add(n.arg)
                elif isinstance(n, ast.Import | ast.ImportFrom):
                    names |= _bound_names(n)
        return names

    def visit(node: ast.AST, local: frozenset[str]) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            outer = [*node.args.defaults, *[d for d in node.args.kw_defaults if d]]
            if not isinstance(node, ast.Lambda):
                # decorators and annotations are evaluated where the function is defined
                # (``def f(x: np.ndarray) -> np.ndarray`` needs ``np`` at its ``def``)
                outer += node.decorator_list
                arguments = (*node.args.posonlyargs, *node.args.args, node.args.vararg,
                             *node.args.kwonlyargs, node.args.kwarg)
                outer += [a.annotation for a in arguments if a and a.annotation]
                outer += [node.returns] if node.returns else []
            for child in outer:
                visit(child, local)
            body = node.body if isinstance(node.body, list) else [node.body]
            # ``global counter`` makes ``counter`` the module's, also where it is assigned
            shared = {name for top in body for n in ast.walk(top)
                      if isinstance(n, ast.Global) for name in n.names}
            free.update(shared)
            inner = (local | stores([node.args, *body])) - shared
            for child in body:
                visit(child, inner)
            return
        if isinstance(node, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
            local = local | stores([g.target for g in node.generators])
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) \
                and node.id not in local:
            free.add(node.id)
        for child in ast.iter_child_nodes(node):
            visit(child, local)

    visit(tree, frozenset())
    return free


def free_names(code: str) -> set[str]:
    """The names ``code`` reads from outside (a function's parameters and locals left out).

    Falls back to :func:`names_used` (every identifier) when the cell does not parse.

    >>> sorted(free_names("def f(model):\\n    return model(x) + np.pi"))
    ['np', 'x']
    """
    try:
        tree = _parse(_as_python(code))
        names = _free_in(tree)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return names_used(code)
    for node in ast.walk(tree):  # the body of a cell magic (``%%time``) is code that runs
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "run_cell_magic" and len(node.args) == 3 \
                and isinstance(node.args[2], ast.Constant) and isinstance(node.args[2].value, str):
            names |= free_names(node.args[2].value)
    return names


_DEFINING = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
             ast.Assign, ast.AnnAssign, ast.AugAssign)


def _target_names(target: ast.expr) -> set[str] | None:
    """Names a plain assignment target binds; None for ``x.attr = …`` / ``x[i] = …``."""
    if isinstance(target, ast.Name):
        return {target.id}
    if isinstance(target, (ast.Tuple, ast.List)):
        names: set[str] = set()
        for element in target.elts:
            inner = _target_names(element.value if isinstance(element, ast.Starred)
                                  else element)
            if inner is None:
                return None
            names |= inner
        return names
    return None


def statement_binds(node: ast.stmt) -> set[str] | None:
    """The names a top-level statement defines, or None if it is not a definition.

    Definitions: imports, ``def``, ``class``, assignments to names, and ``try`` / ``if`` /
    ``with`` blocks that define one of those (``try: import scipy`` ``except ImportError:
    print("no scipy"); scipy = None``; ``with warnings.catch_warnings(): import sklearn``):
    such a block runs whole, as Run All runs it, when a name it binds is needed.
    Expression statements, loops, blocks that bind nothing and attribute or item
    assignments are not.

    >>> statement_binds(ast.parse("device = 'cpu'").body[0])
    {'device'}
    >>> statement_binds(ast.parse("model.fit(x)").body[0]) is None
    True
    >>> sorted(statement_binds(ast.parse("if True:\\n    print(1)\\n    def f(): pass").body[0]))
    ['f']
    """
    if isinstance(node, ast.Import | ast.ImportFrom):
        return _bound_names(node)
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Assign):
        names: set[str] = set()
        for target in node.targets:
            inner = _target_names(target)
            if inner is None:
                return None
            names |= inner
        return names
    if isinstance(node, ast.AnnAssign | ast.AugAssign):
        return _target_names(node.target) if (
            not isinstance(node, ast.AnnAssign) or node.value is not None) else None
    if isinstance(node, ast.Try | ast.If | ast.With | ast.AsyncWith):
        names = set()
        if isinstance(node, ast.With | ast.AsyncWith):
            blocks = [node.body]
            for item in node.items:
                names |= (_target_names(item.optional_vars) or set()) \
                    if item.optional_vars is not None else set()
        else:
            blocks = [node.body, node.orelse]
        if isinstance(node, ast.Try):
            blocks += [h.body for h in node.handlers] + [node.finalbody]
        found = False  # the block defines something (``with open(f) as h: pass`` does not)
        for block in blocks:
            for inner in block:
                bound = statement_binds(inner)
                if bound:
                    names |= bound
                    found = True
        return names if found else None
    return None


def _root(node: ast.expr) -> str | None:
    """The name an attribute or item chain starts from (``cfg`` of ``cfg.opts["k"]``)."""
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _changed_by(target: ast.expr) -> set[str] | None:
    """Names an assignment target binds or changes in place (``TABLE[i] = …`` changes
    ``TABLE``); None when it reaches no name (``f().x = 1``)."""
    if isinstance(target, ast.Starred):
        target = target.value
    if isinstance(target, ast.Tuple | ast.List):
        names: set[str] = set()
        for element in target.elts:
            inner = _changed_by(element)
            if inner is None:
                return None
            names |= inner
        return names
    root = _root(target)
    return None if root is None else {root}


_CHANGES_ITS_ARGUMENT = frozenset({
    "setattr", "delattr", "copyto", "shuffle", "fill_diagonal", "put", "place", "putmask",
    "heappush", "heapify", "insort"})
"""Calls that change their first argument in place (``setattr(ops, "k", v)``,
``np.copyto(table, x)``, ``random.shuffle(order)``); so does a call whose name ends in
``_`` (Torch's in-place convention: ``nn.init.zeros_(w)``)."""


def statement_changes(node: ast.stmt) -> set[str] | None:
    """The names a top-level statement that :func:`statement_binds` does not count changes
    in place, or None: an item or attribute assignment (``TABLE[i] = v``, ``cfg.axis =
    1``), a method call on a name (``SCALE.append(255)``, ``cache.update(d)``), a call
    that changes its first argument (``setattr(ops, "k", v)``, ``nn.init.zeros_(w)``:
    :data:`_CHANGES_ITS_ARGUMENT`), and a loop
    or block of those (``for i in range(256): TABLE[i] = i / 255``: also the names it
    binds, the loop's variable aside). Run All runs them before a later cell's function
    reads the object, so :func:`needed_definitions` keeps them after its definition.

    >>> statement_changes(ast.parse("for i in range(3):\\n    T[i] = i").body[0])
    {'T'}
    >>> statement_changes(ast.parse("print(T)").body[0]) is None
    True
    """
    if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
        if isinstance(node, ast.AnnAssign) and node.value is None:
            return None
        targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
        names: set[str] = set()
        for target in targets:
            inner = _changed_by(target)
            if inner is None:
                return None
            names |= inner
        return names or None
    if isinstance(node, ast.Expr):
        call = node.value
        if isinstance(call, ast.Await):
            call = call.value
        if not isinstance(call, ast.Call):
            return None
        names = set()
        if isinstance(call.func, ast.Attribute):
            names.add(_root(call.func.value))
        called = call.func.attr if isinstance(call.func, ast.Attribute) else \
            call.func.id if isinstance(call.func, ast.Name) else ""
        if call.args and (called in _CHANGES_ITS_ARGUMENT
                          or called.endswith("_") and not called.startswith("_")):
            names.add(_root(call.args[0]))  # ``setattr(ops, "k", v)``, ``init.zeros_(w)``
        names.discard(None)
        return names or None
    blocks: list[list[ast.stmt]] = []
    names = set()
    if isinstance(node, ast.For | ast.AsyncFor):  # the loop's own variable is no object
        blocks = [node.body, node.orelse]        # that a later cell's function reads
    elif isinstance(node, ast.While | ast.If):
        blocks = [node.body, node.orelse]
    elif isinstance(node, ast.With | ast.AsyncWith):
        blocks = [node.body]
        for item in node.items:
            if item.optional_vars is not None:
                names |= _changed_by(item.optional_vars) or set()
    elif isinstance(node, ast.Try | getattr(ast, "TryStar", ast.Try)):
        blocks = [node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)]
    found = False
    for block in blocks:
        for inner in block:
            changed = statement_binds(inner) or statement_changes(inner)
            if changed:
                names |= changed
                found = True
    return names if found else None


def imports_only(code: str) -> bool:
    """True when ``code`` only imports: import statements, also in ``try`` / ``if`` blocks
    whose other statements bind a name to a constant or another name (``scipy = None``).

    Such a statement may take long (Torch on a loaded machine) and gets the import time
    budget; anything else that computes gets the small budget of a definition.

    >>> imports_only("try:\\n    import scipy\\nexcept ImportError:\\n    scipy = None")
    True
    >>> imports_only("try:\\n    import math\\n    N = sum(range(10**12))\\n"
    ...              "except ImportError:\\n    pass")
    False
    """
    try:
        tree = _parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False

    def plain(node: ast.stmt) -> bool:
        if isinstance(node, ast.Import | ast.ImportFrom | ast.Pass):
            return True
        if isinstance(node, ast.Assign):
            return isinstance(node.value, ast.Constant | ast.Name) and all(
                isinstance(t, ast.Name) for t in node.targets)
        if isinstance(node, ast.Try):
            return all(plain(n) for block in (node.body, node.orelse, node.finalbody,
                                              *(h.body for h in node.handlers)) for n in block)
        if isinstance(node, ast.If):
            return isinstance(node.test, ast.Constant | ast.Name | ast.Attribute) and all(
                plain(n) for n in (*node.body, *node.orelse))
        return False

    imports = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    return bool(imports) and all(plain(n) for n in tree.body)


WRITES_FILE = "%%writefile"
"""What :func:`definitions` says a ``%%writefile`` cell binds: a file a later cell may
import (``%%writefile helpers.py`` then ``from helpers import f``); always kept."""


def _writes_file(node: ast.stmt) -> bool:
    """Whether ``node`` is IPython's ``get_ipython().run_cell_magic('writefile', ...)``."""
    call = node.value if isinstance(node, ast.Expr) else None
    return (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and call.func.attr == "run_cell_magic" and bool(call.args)
            and isinstance(call.args[0], ast.Constant)
            and call.args[0].value in ("writefile", "file"))


def _timed_body(node: ast.stmt) -> str | None:
    """The code of ``get_ipython().run_cell_magic('time', '', code)`` (``%%time``,
    ``%%timeit``, ``%%capture``, ``%%prun``: magics that run their cell's Python)."""
    call = node.value if isinstance(node, ast.Expr) else None
    if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and call.func.attr == "run_cell_magic" and len(call.args) == 3
            and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in call.args)
            and call.args[0].value in ("time", "timeit", "capture", "prun")):
        return call.args[2].value
    return None


def definitions(code: str, *, ipython: bool = True,
                depth: int = 0) -> list[tuple[str, set[str], set[str], set[str]]]:
    """A cell's top-level definitions: (source, names bound, names used, names changed in
    place), in order; a definition changes none, a change (:func:`statement_changes`)
    binds none.

    Magics and shell lines are dropped, except ``%%writefile`` (the file it writes is
    what a later ``import`` reads); a cell that does not parse gives nothing.
    ``ipython``: see :func:`without_magics`.
    """
    if len(code) > MAX_PARSED_CELL:
        return []
    code = without_magics(code, ipython=ipython)
    try:
        tree = _parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    segment = _segments(code)
    found = []
    for node in tree.body:
        body = _timed_body(node)
        if body is not None and depth < 2:  # ``%%time`` above a helper: its code runs once
            found += definitions(body, ipython=ipython, depth=depth + 1)
            continue
        bound = {WRITES_FILE} if _writes_file(node) else statement_binds(node)
        changed = statement_changes(node) if bound is None else set()
        if bound is None and isinstance(node, ast.Expr):  # ``print(k := 3)`` binds ``k``
            bound = {n.target.id for n in ast.walk(node)
                     if isinstance(n, ast.NamedExpr) and isinstance(n.target, ast.Name)} or None
        text = segment(node) if bound is not None or changed else None
        if text:
            try:
                used = _free_in(node)
            except RecursionError:
                used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            if changed:  # a loop's variable is its own (``for i in …: T[i] = i``)
                used -= {n.id for n in ast.walk(node) if isinstance(n, ast.For | ast.AsyncFor)
                         for n in ast.walk(n.target) if isinstance(n, ast.Name)}
            found.append((text, bound or set(), used, changed or set()))
    return found


def needed_definitions(cells: list[str], used: set[str]) -> list[list[str]]:
    """Per cell, the definitions that the names ``used`` need, directly or through others.

    A star import and a ``%%writefile`` are always kept. A statement that changes a
    needed name in place (``TABLE[i] = v`` in a loop, ``SCALE.append(255)``) is kept with
    the name's definitions when one of those is not an import: ``np.random.seed(0)`` is
    not (lesson code that the exercises do not need). One pass over a work list of
    needed names, each looked up once among the definitions binding it: linear, whatever
    order the definitions come in (``x0 = x1`` above ``x1 = x2``…). Cells are read as
    Python up to :data:`MAX_PARSED_NOTEBOOK` characters in all, each non-empty cell
    counted as at least :data:`CELL_PARSE_COST`; empty cells cost nothing.

    >>> needed_definitions(["b = c\\nc = 1\\nz = 2", "a = b"], {"a"})
    [['b = c', 'c = 1'], ['a = b']]
    """
    found, budget, magic = [], MAX_PARSED_NOTEBOOK, 10 * MAX_MAGIC_COST
    for code in cells:
        if not code.strip():  # two million empty cells are read in a second, not minutes
            found.append([])
            continue
        budget -= max(len(code), CELL_PARSE_COST)
        cost = magic_cost(code)
        magic -= cost if cost <= MAX_MAGIC_COST else 0
        found.append(definitions(code, ipython=magic >= 0) if budget >= 0 else [])
    keep = [[False] * len(d) for d in found]
    binders: dict[str, list[tuple[int, int]]] = {}
    changers: dict[str, list[tuple[int, int]]] = {}
    defined: set[str] = set()  # names bound by something other than an import
    todo: list[tuple[int, int]] = []
    for i, cell in enumerate(found):
        for j, (text, bound, _, changed) in enumerate(cell):
            if "*" in bound or WRITES_FILE in bound:
                todo.append((i, j))
            for name in bound:
                binders.setdefault(name, []).append((i, j))
            if bound and not text.startswith(("import ", "from ")):
                defined |= bound
            for name in changed:
                changers.setdefault(name, []).append((i, j))
    names, seen = list(used), set(used)
    while todo or names:
        if not todo:
            name = names.pop()
            todo = binders.pop(name, []) + (changers.pop(name, []) if name in defined else [])
            continue
        i, j = todo.pop()
        if keep[i][j]:
            continue
        keep[i][j] = True
        for name in found[i][j][2] - seen:
            seen.add(name)
            names.append(name)
    return [[text for j, (text, *_) in enumerate(cell) if keep[i][j]]
            for i, cell in enumerate(found)]


def magic_cost(code: str) -> int:
    """A bound on IPython's work turning ``code``'s magics into calls: lines that may hold
    a magic, a shell line or a help request (``%``, ``!``, a final ``?``) × lines; a cell
    magic (``%%time``) is one.

    >>> magic_cost("x = 1\\n%time f(x)\\n!ls\\n"), magic_cost("%%time\\nx = 1\\n")
    (6, 2)
    """
    lines = code.splitlines()
    if code.lstrip().startswith("%%"):
        return len(lines)
    return len(lines) * sum(1 for line in lines if "%" in line or "!" in line
                            or line.rstrip().endswith("?"))


def without_magics(code: str, *, ipython: bool = True) -> str:
    """``code`` as plain Python: magics and shell lines made calls by IPython's transformer.

    ``%matplotlib inline`` becomes ``get_ipython().run_line_magic(...)``; without IPython,
    with ``ipython=False``, or for a cell over :data:`MAX_MAGIC_COST`, such lines are
    commented out instead.
    """
    if not ipython or magic_cost(code) > MAX_MAGIC_COST:
        return _commented_magics(code)
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(code)
    except ImportError:
        return _commented_magics(code)
    except Exception:  # noqa: BLE001 - what IPython cannot read, the parser will refuse
        return code


def _commented_magics(code: str) -> str:
    return "\n".join("# " + line if line.lstrip().startswith(("%", "!")) else line
                     for line in code.splitlines())
