"""Instructor and maintainer tools; never imported by a lesson.

run_course (``make course``), student (``make student``), grade (``make grade``), site (``make site``),
save_cells (``make saved``: regenerate ``course_utils``' saved copies of notebook cells).
"""
