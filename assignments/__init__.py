"""The course's nbgrader source notebooks, memo rubrics and grading specs (package data, read with
`course.resources.data_path`)."""
