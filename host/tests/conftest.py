import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _logs_in_tmp(tmp_path_factory, monkeypatch):
    """Commands the tests run log to a temporary directory, not build/logs."""
    from migbp import util
    monkeypatch.setattr(util, "LOGS", str(tmp_path_factory.mktemp("logs")))
