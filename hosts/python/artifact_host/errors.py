"""The errors every path of the package raises (the wasmtime-py host and the native extension)."""


class ArtifactError(Exception):
    """A typed error of the store: `kind` (also `tag`) is the WIT case, e.g. `not-found`;
    `val` its payload (a message; `too-large` from the wasmtime-py host carries
    `{limit, needed}`). The native extension adds host kinds (`trap`, `deadline`, `io`, …)."""

    def __init__(self, tag: str, val):
        super().__init__(f"{tag}: {val}")
        self.tag = tag
        self.val = val

    @property
    def kind(self) -> str:
        return self.tag


class ArtifactTrap(Exception):
    """The instance trapped (a bug or a broken limit); the Store re-instantiates on next use."""
