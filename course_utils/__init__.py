"""Helpers for the distributed deep learning notebook course.

Modules (import what you need, e.g. ``from course_utils.data import load_mnist``):

- ``data``     IDX reader/writer and ``load_mnist`` (notebook 04)
- ``devices``  device inventory, ``pick_torch_device``, TF logical CPUs, seeding (notebook 00)
- ``bench``    timing with warm-up and repeats (notebook 11)
- ``checks``   exercise checks for students (every notebook)
"""

__version__ = "0.1.0"
