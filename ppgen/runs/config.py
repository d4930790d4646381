"""``RunConfig``: what a run folder's ``config.json`` records, as one typed object.

How to rebuild the run's model and data (a registered model name or ``path.py:Class``, its
options, the data set's name, options, preprocessing and seed), and the training settings the
command line set, which are fields of :class:`~ppgen.training.settings.FitSettings` under the same
names (``FIT_FIELDS``). The command line writes ``config.json`` from it, calls ``fit`` with
:meth:`RunConfig.fit_options`, and a resumed run must match every field marked ``resume``
(:func:`ppgen.runs.folder.open_run_dir`): one list of fields, used three ways.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

#: The :class:`~ppgen.training.settings.FitSettings` fields the command line sets and records.
FIT_FIELDS = ("seed", "estimator", "loss", "num_particles", "lr", "steps", "epochs", "batch_size")


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """A run folder's ``config.json`` (module docstring). ``batch_size=0`` means all rows."""

    model: str
    #: The preset name the command used (``gmmn``), if any; not compared on resume.
    preset: str | None = field(default=None, metadata={"resume": False})
    model_options: dict = field(default_factory=dict)
    data: str
    data_options: dict = field(default_factory=dict)
    binarize: str | None = None
    dequantize: bool = False
    drop_constant: bool = False
    seed: int = 0
    data_seed: int = 0
    estimator: str | None = "trace"
    loss: str | None = None
    num_particles: int | None = None
    lr: float | None = None
    steps: int | None = None
    epochs: int | None = None
    batch_size: int | None = 128

    @classmethod
    def resume_keys(cls) -> tuple[str, ...]:
        """The fields a resumed run must share with the folder's run."""
        return tuple(f.name for f in fields(cls) if f.metadata.get("resume", True))

    def to_json(self) -> dict:
        return asdict(self)

    def fit_options(self) -> dict:
        """``fit``'s keyword arguments for the recorded settings (``FIT_FIELDS``)."""
        options = {name: getattr(self, name) for name in FIT_FIELDS}
        options["estimator"] = options["estimator"] or "trace"  # a loss run records None
        options["batch_size"] = None if self.batch_size == 0 else self.batch_size
        return options
