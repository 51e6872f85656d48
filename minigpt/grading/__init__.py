"""The instructor's side: grade a class of submitted notebooks with nbgrader.

Needs the `grading` extra (`pip install "minigpt[grading]"`) and a copy of the course
repository, whose solutions/ hold the graded notebooks. Start with `minigpt grade --help`.
"""
