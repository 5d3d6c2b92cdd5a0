"""Files the project ships beside its code (templates, assignments, rubrics, bands), found the same way
from a checkout and from an installed wheel.

`importlib.resources` resolves a package's folder wherever pip put it; a path computed from
`__file__` of another package would break as soon as the project is installed rather than checked out.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def data_path(package: str, *parts: str) -> Path:
    """The filesystem path of `parts` inside `package` (pip unpacks wheels, so this is a real path).

    >>> data_path("course", "course.toml").name
    'course.toml'
    """
    return Path(str(files(package).joinpath(*parts)))
