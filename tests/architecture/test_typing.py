"""mypy passes on the project.

``pyproject.toml`` declares mypy (with the django-stubs plugin) as the project's type checker;
running it here keeps it enforced by the suite CI runs, so type errors cannot pile up unseen.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_mypy_reports_no_errors():
    # As a developer runs it: ``mypy`` from the project root, reading ``[tool.mypy]``.
    result = subprocess.run(
        [sys.executable, "-m", "mypy"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"mypy failed:\n{result.stdout}{result.stderr}"
