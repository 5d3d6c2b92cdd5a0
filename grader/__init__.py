"""The grader: integrity checks, sandboxed re-execution and scoring of student notebooks."""
