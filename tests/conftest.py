"""Test environment: offline, one thread, headless plots, and a private cache per session.

These variables are set before anything imports `course.api`, whose settings are read at import.
"""

import os
import tempfile
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MPLBACKEND"] = "Agg"
os.environ.setdefault("COURSE_CACHE", tempfile.mkdtemp(prefix="course-test-cache-"))
for name in [k for k in os.environ if k.startswith("COURSE_") and k != "COURSE_CACHE"]:
    del os.environ[name]

import pytest  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
CONTRACT_DIR = SHARED / "course_contract"
REAL_SAMPLE = SHARED / "data" / "cfpb_real_sample.csv"

needs_contract = pytest.mark.skipif(not CONTRACT_DIR.is_dir(), reason=f"{CONTRACT_DIR} absent")
needs_sample = pytest.mark.skipif(not REAL_SAMPLE.is_file(), reason=f"{REAL_SAMPLE} absent")


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    torch.set_num_threads(1)
    yield
