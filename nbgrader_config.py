"""nbgrader for minigpt-course: instructor notebooks live in solutions/, student ones in exercises/.

Only instructors need this file (and `pip install "minigpt[grading]"`). `minigpt grade` reads
it when it grades a class; `make exercises` when it regenerates exercises/ from solutions/.
"""

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "minigpt-course"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"

# Files a notebook run leaves beside a notebook (the capstone's card of the model it trained) are
# never released to students nor copied over a student's files while grading.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "*.pyc",
    "__pycache__",
    "feedback",
    "my-gpt-card.*",
]

# What students see in place of a solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Grading: a notebook's heavy cells shrink under NBGRADER_EXECUTION, so no cell should need
# anything near this; a student's infinite loop is interrupted after it.
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True
