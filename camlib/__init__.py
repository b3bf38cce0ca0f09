"""camlib: Class Activation Mapping (Zhou et al., CVPR 2016), derived step by step.

- `camlib.reference`: every equation in plain NumPy, the course's ground truth.
- `camlib.torch`: the same functions on batched tensors, on any device.
- `camlib.extract`: CAM and Grad-CAM from a real model through hooks.
"""

__version__ = "0.1.0"
