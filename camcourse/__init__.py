"""camcourse: the course around camlib, the lessons' machinery.

camlib is the small library a learner imports and could use outside the course (the
NumPy reference, the PyTorch implementation, the extractors, localization and its
sweep). camcourse is everything the course needs on top of it:

- `camcourse.data`, `camcourse.variants`, `camcourse.tasks`: the lessons' data sets
  (cluttered digits, their spurious-cue and framed variants);
- `camcourse.models`, `camcourse.train`: the lessons' networks, their checkpoints and
  their training;
- `camcourse.viz`: the lessons' figures and widgets;
- `camcourse.checks`: the check after each exercise;
- `camcourse.coursework`: the grader, the student copies and the Colab set-up cells;
- `camcourse.benchmarks`, `camcourse.stats`: the measurements of docs/benchmarks.md and
  docs/results.md;
- `camcourse.course`, `camcourse.paths`, `camcourse.execute`, ``course.json``: the
  course's commands, folders and repository setting.

camcourse depends on camlib, never the reverse: camlib imports nothing from here
(tests/test_project.py proves it), so it can be read, documented and vendored alone.
"""
