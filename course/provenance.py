"""What produced a run record: the code that ran, where, and a digest that pins the record's contents.

A student's full-profile run happens on their own GPU (Kaggle, Colab); the grader sees only the
executed notebook and its `runs/` folder. So `final_evaluation` records the sha256 of every code cell
the kernel executed, in execution order (IPython's history; a script's source outside a kernel), and
the grader checks them against the submitted notebook's cells. The digest covers the whole record
(and so its scores file, whose sha256 the record holds): an edit after the run no longer matches.
A determined forger can recompute a public digest; that is why the grader also recomputes every
metric from the predictions, checks the cells and re-runs the code (DESIGN.md "Grading").
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path


def cell_digest(source: str) -> str:
    """sha256 of a code cell's source, blind to line endings and surrounding blank space.

    >>> cell_digest("x = 1\\n") == cell_digest("x = 1") == cell_digest("\\r\\nx = 1\\r\\n")
    True
    """
    text = source.replace("\r\n", "\n").strip()
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _ipython():
    shell = sys.modules.get("IPython")
    get = getattr(shell, "get_ipython", None)
    return get() if get else None


def executed_code() -> dict:
    """The executed cells' digests in order (a kernel), or the script's (a plain process)."""
    shell = _ipython()
    if shell is not None and getattr(shell, "history_manager", None) is not None:
        sources = [s for s in shell.history_manager.input_hist_raw[1:] if s.strip()]
        name = os.environ.get("JPY_SESSION_NAME") or shell.user_ns.get("__session__") or ""
        return {"kind": "notebook", "notebook": Path(str(name)).name, "cells": [cell_digest(s) for s in sources]}
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    if main and Path(main).is_file():
        return {
            "kind": "script",
            "notebook": Path(main).name,
            "cells": [cell_digest(Path(main).read_text(encoding="utf-8", errors="replace"))],
        }
    return {"kind": "interactive", "notebook": "", "cells": []}


def device_name() -> str:
    """The accelerator the run could use: the GPU's name, or 'cpu'."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return "cpu"


def record_digest(record: dict) -> str:
    """sha256 over the record's canonical JSON, its own digest left out (so it can be stored inside)."""
    body = {**record, "provenance": {k: v for k, v in record.get("provenance", {}).items() if k != "digest"}}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
