"""Write-it-yourself by absence: the camlib a learner's process imports for one exercise.

While exercise N.M is graded, the learner's process imports copies of camlib and
camcourse generated for N.M (``_remote.learner_files``, then :func:`library_without`): each
function or class that ``catalogue.WRITE_IT_YOURSELF[N.M]`` names is removed from its
module's source (found with :mod:`ast`, decorators included) and a stub of the same name
takes its place, so that camlib's own callers, the course's functions built on them
(camcourse imports the generated camlib beside it), and the learner, get a clear error
instead of the answer::

    RuntimeError: Exercise 4.1 asks you to write camlib.reference.class_activation_maps;
    it is not in camlib while this exercise is graded

The code is not in that process at all: ``importlib.reload``, ``gc``, code objects,
a second import and ``marshal`` find nothing. What this cannot stop: a learner who pastes
camlib's source into a cell (docs/grading.md lists it among the grader's limits).
"""

from __future__ import annotations

import ast
import hashlib
import re

STUB_FUNCTION = '''def {name}(*args, **kwargs):
    """Absent while exercise {exercise} is graded."""
    raise RuntimeError({message!r})
'''
STUB_CLASS = '''class {name}:
    """Absent while exercise {exercise} is graded."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError({message!r})
'''


def absence_message(exercise: str, target: str) -> str:
    """The error a learner's process gets from a removed function.

    >>> absence_message("4.1", "camlib.reference.class_activation_maps")[:48]
    'Exercise 4.1 asks you to write camlib.reference.'
    """
    package = target.partition(".")[0]
    return (f"Exercise {exercise} asks you to write {target}; it is not in {package} while "
            f"this exercise is graded")


def module_path(target: str) -> tuple[str, str]:
    """``"camlib.reference.iou"`` -> (``"camlib/reference.py"``, ``"iou"``).

    >>> module_path("camlib.reference.iou")
    ('camlib/reference.py', 'iou')
    """
    module, _, name = target.rpartition(".")
    return module.replace(".", "/") + ".py", name


def top_level_definition(text: str, name: str) -> ast.FunctionDef | ast.ClassDef | None:
    """The top-level ``def`` or ``class`` called ``name`` in module source ``text``, if any."""
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    found = None
    for node in ast.parse(text).body:
        if isinstance(node, kinds) and node.name == name:
            found = node  # the last one is what the module binds
    return found


def remove_definition(text: str, name: str, message: str, exercise: str) -> str:
    """``text`` with the definition of ``name`` replaced by a stub raising ``message``.

    >>> src = "import math\\n\\n@staticmethod\\ndef f(x):\\n    return x\\n\\ny = 1\\n"
    >>> out = remove_definition(src, "f", "absent", "9.9")
    >>> "return x" in out, "raise RuntimeError('absent')" in out, out.endswith("y = 1\\n")
    (False, True, True)
    """
    node = top_level_definition(text, name)
    if node is None:
        raise LookupError(f"no top-level def or class {name!r}")
    lines = text.splitlines(keepends=True)
    first = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
    template = STUB_CLASS if isinstance(node, ast.ClassDef) else STUB_FUNCTION
    stub = template.format(name=name, exercise=exercise, message=message)
    return "".join(lines[:first]) + stub + "".join(lines[node.end_lineno:])


CHECK_LESSON = re.compile(r"^camcourse/checks/lesson\d\d\.py$")
HELPER_MESSAGE = ("the checks' helper {name} is not in the learner's process (it computes "
                  "answers); write your own")
PUBLIC_CHECK = re.compile(r"^exercise_\d+_\d+$")
STUB_CHECK = '''def {name}(*args, **kwargs):
    """The grader runs this check itself, on its own inputs; here it does nothing."""
    return None
'''
REGISTER_STUB = '''

{name}.exercise = {exercise!r}
__import__("camcourse.checks._registry", fromlist=["CHECKS"]).CHECKS.setdefault(
    {exercise!r}, {name})
'''
"""Registers a public check's stub under its exercise number, so that ``get_check("3.2")``
and ``CHECKS["3.2"]`` in a graded cell find it, as ``exercise_3_2`` is found."""
_STRIPPED: dict[str, dict[str, bytes]] = {}


def check_helpers_removed(text: str) -> str:
    """A check module's source keeping only what importing it and unpickling needs.

    Kept: imports, classes (the checks' test networks), module-level statements, and
    every function those use, directly or through each other. Every other top-level
    function (the checks themselves, their private helpers that compute answers) becomes
    a stub raising ``RuntimeError``, in one pass; a public check (``exercise_3_2``) becomes
    one that returns None, so that a check call left in an exercise cell (the function
    written in the check's cell) is no error in the learner's row: the grader runs it.

    >>> src = "def _answer(x):\\n    return x\\n\\ndef _size():\\n    return 3\\n"
    >>> src += "class Net:\\n    def f(self):\\n        return _size()\\n"
    >>> out = check_helpers_removed(src)
    >>> "return x" in out, "return 3" in out
    (False, True)
    """
    from camcourse.coursework.notebooks import _free_in

    tree = ast.parse(text)
    functions = {n.name: n for n in tree.body
                 if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    needed: set[str] = set()
    for node in tree.body:
        if node.__class__ in (ast.FunctionDef, ast.AsyncFunctionDef):
            for part in [*node.decorator_list, *node.args.defaults,
                         *[d for d in node.args.kw_defaults if d]]:
                needed |= _free_in(part)
        else:
            needed |= _free_in(node)
    todo = [n for n in needed if n in functions]
    keep: set[str] = set()
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep.add(name)
        todo += [n for n in _free_in(functions[name]) if n in functions and n not in keep]
    lines = text.splitlines(keepends=True)
    strip = sorted((n for name, n in functions.items() if name not in keep),
                   key=lambda n: n.lineno, reverse=True)
    for node in strip:
        first = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
        stub = STUB_CHECK.format(name=node.name) if PUBLIC_CHECK.match(node.name) else \
            STUB_FUNCTION.format(name=node.name, exercise="(any)",
                                 message=HELPER_MESSAGE.format(name=node.name))
        number = _check_number(node) if PUBLIC_CHECK.match(node.name) else None
        if number is not None:
            stub += REGISTER_STUB.format(name=node.name, exercise=number)
        lines[first:node.end_lineno] = [stub]
    return "".join(lines)


def _check_number(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """The exercise number of ``@exercise_check("3.2", ...)`` above a check, if any."""
    for decorator in node.decorator_list:
        if not isinstance(decorator, ast.Call) or not decorator.args \
                or getattr(decorator.func, "id", None) != "exercise_check":
            continue
        first = decorator.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str) \
                and re.fullmatch(r"\d+\.\d+", first.value):
            return first.value
    return None


def without_check_helpers(files: dict[str, bytes]) -> dict[str, bytes]:
    """``files`` with :func:`check_helpers_removed` applied to each ``checks/lessonNN.py``.

    Computed once per distinct set of check files (every exercise of a run shares it).
    """
    names = sorted(p for p in files if CHECK_LESSON.match(p))
    key = hashlib.sha256(b"".join(p.encode() + b"\0" + files[p] for p in names)).hexdigest()
    if key not in _STRIPPED:
        _STRIPPED[key] = {p: check_helpers_removed(files[p].decode("utf-8")).encode("utf-8")
                          for p in names}
    return {**files, **_STRIPPED[key]}


def library_without(files: dict[str, bytes], targets: tuple[str, ...] | list[str],
                    exercise: str) -> dict[str, bytes]:
    """The learner's packages (``_remote.learner_files``) minus ``targets``.

    Raises ``LookupError`` when a target is not a top-level definition of its module, so
    that a renamed function cannot stay available by mistake. The check modules keep only
    what unpickling the checks' inputs needs (:func:`without_check_helpers`).
    """
    out = without_check_helpers(files)
    for target in targets:
        path, name = module_path(target)
        if path not in out:
            raise LookupError(f"{target}: the learner's packages have no module {path}")
        text = out[path].decode("utf-8")
        try:
            text = remove_definition(text, name, absence_message(exercise, target), exercise)
        except LookupError:
            raise LookupError(f"{target}: {path} has no top-level def or class {name!r}") \
                from None
        out[path] = text.encode("utf-8")
    return out
