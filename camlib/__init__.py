"""camlib: Class Activation Mapping (Zhou et al., CVPR 2016), derived step by step.

- `camlib.reference`: every equation in plain NumPy, the course's ground truth.
- `camlib.torch`: the same functions on batched tensors, on any device.
- `camlib.extract`: CAM and Grad-CAM from a real model through hooks.
- `camlib.localize`, `camlib.sweep`: maps to boxes, and the localization metrics of the
  CAM paper and of Choe et al. (CVPR 2020), with their threshold sweep.
- `camlib.validation`: the argument checks they share.

Besides itself, camlib imports only the standard library, NumPy, SciPy, Numba and
PyTorch. The course built on it (its data, networks, figures, checks and grader) is the
sibling package ``camcourse``, which imports camlib, never the reverse.
"""

__version__ = "0.1.0"
