"""Write-it-yourself by absence: the camlib a learner's process imports for one exercise.

While exercise N.M is graded, the learner's process imports a copy of camlib generated
for N.M: each function or class that ``catalogue.WRITE_IT_YOURSELF[N.M]`` names is
removed from its module's source (found with :mod:`ast`, decorators included) and a stub
of the same name takes its place, so that camlib's own callers, and the learner, get a
clear error instead of the answer::

    RuntimeError: Exercise 4.1 asks you to write camlib.reference.class_activation_maps;
    it is not in camlib while this exercise is graded

The code is not in that process at all: ``importlib.reload``, ``gc``, code objects,
a second import and ``marshal`` find nothing. What this cannot stop: a learner who pastes
camlib's source into a cell (docs/grading.md lists it among the grader's limits).
"""

from __future__ import annotations

import ast

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
    return (f"Exercise {exercise} asks you to write {target}; it is not in camlib while this "
            f"exercise is graded")


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


def library_without(files: dict[str, bytes], targets: tuple[str, ...] | list[str],
                    exercise: str) -> dict[str, bytes]:
    """camlib's files (:func:`~camlib.coursework._remote.package_files`) minus ``targets``.

    Raises ``LookupError`` when a target is not a top-level definition of its module, so
    that a renamed function cannot stay available by mistake.
    """
    out = dict(files)
    for target in targets:
        path, name = module_path(target)
        if path not in out:
            raise LookupError(f"{target}: camlib has no module {path}")
        text = out[path].decode("utf-8")
        try:
            text = remove_definition(text, name, absence_message(exercise, target), exercise)
        except LookupError:
            raise LookupError(f"{target}: {path} has no top-level def or class {name!r}") \
                from None
        out[path] = text.encode("utf-8")
    return out
