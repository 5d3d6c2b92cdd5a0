"""The grading layers, one job each, in the order `grader.pipeline.LAYERS` runs them.

- `submission`: parse every notebook; static analysis of its code cells.
- `execution`: the sandboxed re-run on replaced test texts; nbgrader autograde on permuted labels.
- `records`: per graded run, the fixed split, the access log, invariance, statistics, consistency.
- `scoring`: the week's checks and points.
"""
