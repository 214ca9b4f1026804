import json
from contextlib import contextmanager
from pathlib import Path

import pytest

from artifact_host import ArtifactError

REPO = Path(__file__).resolve().parents[3]


def load(rel):
    return json.loads((REPO / rel).read_text(encoding="utf-8"))


def pattern(n):
    """Byte i is i % 251 (the vectors' range body)."""
    return bytes(i % 251 for i in range(n))


@contextmanager
def raises_tag(tag, what=""):
    with pytest.raises(ArtifactError) as ei:
        yield ei
    assert ei.value.tag == tag, f"{what}: {ei.value}"
