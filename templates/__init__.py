"""The Jinja2 templates of every page and report (package data, read with `course.resources.data_path`)."""
