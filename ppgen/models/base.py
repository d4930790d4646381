"""``GenerativeModel``: the base class of every ppgen model/guide pair.

A ppgen model is a :class:`pyro.nn.PyroModule` that owns its parameters and offers two Pyro
programs, ``model(x)`` and ``guide(x)``, over a batch ``x`` of shape ``(batch, data_dim)``. Anything
that takes a Pyro model/guide pair (``pyro.infer.SVI``, every ELBO, ``ppgen.fit``) takes
``(m.model, m.guide)``; the trainer knows nothing model-specific.
"""

from __future__ import annotations

import functools
import inspect
import itertools
from copy import deepcopy

import pyro.poutine as poutine
import torch
from pyro.nn import PyroModule

from ..caller_warnings import warn
from ..data import Dataset
from ..validation import (
    check_data,
    check_not_tracking_gradients,
    check_positive_int,
    constant_columns,
)

# Each instance gets a unique Pyro name: PyroModule parameters are mirrored in Pyro's global
# parameter store under their full names, so two models sharing a name would silently share (and
# overwrite) each other's parameters there.
_instance_counter = itertools.count()


def _plain(value):
    """A constructor option as a plain value for checkpoints and messages: numbers, strings and
    containers of them as they are; anything else (a network, a flow object) by its class name."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return f"<{type(value).__qualname__}>"


def _recording_options(init):
    """Wrap a subclass's ``__init__`` so that the outermost call records its arguments (without
    ``self`` and ``name``) as ``constructor_options``: a checkpoint names them when a resume
    meets another architecture (:mod:`ppgen.training.architecture`)."""
    signature = inspect.signature(init)

    @functools.wraps(init)
    def recorded(self, *args, **kwargs):
        outermost = "constructor_options" not in self.__dict__
        if outermost:
            self.__dict__["constructor_options"] = {}
        init(self, *args, **kwargs)
        if outermost:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            options = {}
            for key, value in list(bound.arguments.items())[1:]:
                kind = signature.parameters[key].kind
                if kind is inspect.Parameter.VAR_KEYWORD:
                    options.update({k: _plain(v) for k, v in value.items()})
                elif key != "name":
                    options[key] = _plain(value)
            self.__dict__["constructor_options"] = options

    return recorded


#: The observation models a ``GenerativeModel`` can declare (see ``likelihood``).
LIKELIHOODS = ("gaussian", "bernoulli", "continuous_bernoulli", "density", "implicit")


class GenerativeModel(PyroModule):
    """Base class of ppgen's model/guide pairs.

    Recipe for a new model
    ----------------------
    1. Subclass and call ``super().__init__(data_dim)`` first; then create parameters as
       ``torch.nn.Parameter`` / :class:`pyro.nn.PyroParam` attributes and networks as ordinary
       ``torch.nn`` modules (their parameters are found through ``self.parameters()``).
    2. Write ``model(x)``: sample latents and observe ``x`` at the site named ``observed_site``
       (``"x"``), inside ``with pyro.plate(self.data_plate, x.shape[0], dim=-1):``. Give every
       plate an explicit ``dim`` and set the class attribute ``max_plate_nesting`` to the number of
       plates, so that Pyro never guesses and particles can be vectorized to its left.
    3. Write ``guide(x)`` with the same latent sample sites and plates. Return nothing.
    4. Set ``likelihood`` (one of ``LIKELIHOODS``; a class attribute, or an instance attribute
       when a constructor option chooses it): it decides which data checks run (binary data for
       ``"bernoulli"``, values in [0, 1] for ``"continuous_bernoulli"``, zero-variance columns
       for the densities on R^D, ``"gaussian"`` and ``"density"``).
    5. Where the marginal is tractable, override ``log_prob(x)`` with the exact per-datapoint
       ``log p(x)``; tests compare estimators against it.
       Where the local latents integrate out exactly (but global ones may remain), define
       ``marginal_model(x)``: the same program with the local latents marginalised, observing
       ``x`` at the same site; ``ppgen.analysis`` stores its pointwise log-likelihood for LOO.
    6. Optionally override ``init_from_data(x)`` with a data-dependent initialisation (e.g. an
       output bias at the data mean); the CLI and the demo call it before training, ``fit`` never
       does (it does not touch parameters behind the user's back). Constructor options that the
       data set fixes (an image shape) come from the classmethod ``options_from_data(data)``.
    7. A class-conditional model sets ``num_classes`` and takes the labels as a keyword,
       ``model(x, y)`` and ``guide(x, y)``; ``fit`` passes each batch's labels from the Dataset.
    8. Declare what else it offers: ``autoencodes`` (``encode``/``decode``/``reconstruct``: the
       run's figures then show reconstructions and latent maps), and how it is tested and
       measured: ``example_options`` (a small instance, which the compiled-path test trains) and
       ``reference_setup`` (the bundled data, options and objective that ``default_lr`` and
       ``default_steps`` were measured with, read by ``benchmarks/fit_defaults.py``).
    9. If no Python ``if``/loop in ``model`` or ``guide`` depends on tensor values (only on
       shapes and constructor options), set ``traceable = True``: ``fit`` then runs the training
       step from a checked TorchScript trace (``fit(compile="auto")``), which removes Pyro's
       per-step Python overhead; the compiled-path test covers every traceable registered model.
    10. Register the class with ``@MODELS.register("name")`` (``ppgen.registry``) in its own
        file in ``ppgen/models/``, which the package imports: the CLI, the registry-driven
        contract tests and ``ppgen list`` know it (after ``python -m ppgen.catalogue``).
        Constructor arguments other than ``data_dim`` need defaults.

    The files an addition touches and the checks to run are in ``CONTRIBUTING.md``. Do not write
    training code here: ``ppgen.fit`` trains any model/guide pair.
    """

    #: Name of the sample site that holds the observations.
    observed_site = "x"
    #: Name of the plate over data points; evaluation code reads per-datapoint terms off it.
    data_plate = "data"
    #: Number of nested plates in model and guide (the data plate counts).
    max_plate_nesting = 1
    #: One of ``LIKELIHOODS``; selects the data checks in :meth:`check_data`.
    likelihood = "gaussian"
    #: Whether a zero-variance data column makes the likelihood unbounded (per-dimension noise).
    constant_columns_unbounded = False
    #: Whether the data must lie in [0, 1] whatever the likelihood (a flow's logit pre-transform).
    needs_unit_interval = False
    #: ``marginal_model(x)``: the model with its local latents integrated out (see the recipe);
    #: ``None`` where they do not integrate out in closed form.
    marginal_model = None
    #: Number of classes of a class-conditional model (``model(x, y=labels)``), else ``None``.
    num_classes: int | None = None
    #: Whether ``model``/``guide`` have no data-dependent Python control flow, so that ``fit``
    #: may replay them from a TorchScript trace (recipe step 9).
    traceable = False
    #: Whether the model offers ``encode(x)``, ``decode(z)`` and ``reconstruct(x)`` over a real
    #: code of ``latent_dim`` units (a VAE): a run's figures then show reconstructions,
    #: interpolations and latent maps (:mod:`ppgen.runs.figures`).
    autoencodes = False
    #: ``fit``'s learning rate and budget unless given: ones with which the model converges on
    #: its bundled data sets (measured in ``benchmarks/fit_defaults.py``).
    default_lr = 1e-3
    default_steps = 1000
    #: How those defaults were measured (``benchmarks/fit_defaults.py`` reads it): the bundled
    #: data set with its load options, constructor options, and the fit options the model trains
    #: by (a loss for a model without a likelihood, a model-specific estimator).
    reference_setup: dict = {"data": ("linear_gaussian", {}), "model": {}, "fit": {}}
    #: Constructor options (besides ``data_dim``) of a small instance, for the registry-driven
    #: tests (the compiled-path test trains it a few steps; :meth:`example`).
    example_options: dict = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _recording_options(cls.__dict__["__init__"])

    def __init__(self, data_dim: int, *, name: str | None = None):
        check_positive_int(data_dim, "data_dim", allow_none=False)
        if name is None:
            name = f"{type(self).__name__.lower()}_{next(_instance_counter)}"
        super().__init__(name)
        self.data_dim = data_dim

    # ----- the Pyro programs ------------------------------------------------------------------
    def model(self, x: torch.Tensor) -> None:
        """The generative program p(x, z): samples latents, observes ``x`` at ``observed_site``."""
        raise NotImplementedError

    def guide(self, x: torch.Tensor) -> None:
        """The variational program q(z | x) over the same latent sites."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> None:
        return self.model(x)

    # ----- derived quantities -----------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(itertools.chain(self.parameters(), self.buffers())).device

    @property
    def dtype(self) -> torch.dtype:
        return next(itertools.chain(self.parameters(), self.buffers())).dtype

    @property
    def has_exact_log_prob(self) -> bool:
        """Whether :meth:`log_prob` gives the exact marginal likelihood for this instance
        (models whose exactness depends on their size, like enumeration, override this)."""
        return type(self).log_prob is not GenerativeModel.log_prob

    @property
    def conditional(self) -> bool:
        """Whether the programs take class labels, ``model(x, y)`` and ``guide(x, y)``."""
        return self.num_classes is not None

    @torch.no_grad()
    def sample(self, num_samples: int, **kwargs) -> torch.Tensor:
        """Draw ``num_samples`` points from the model, shape ``(num_samples, data_dim)``.

        Runs ``model`` with its observation site unconditioned, so any model that follows the
        recipe gets sampling for free. ``kwargs`` go to the model (a class-conditional model needs
        ``y=``, one label per sample).
        """
        check_positive_int(num_samples, "num_samples", allow_none=False)
        if self.conditional:
            kwargs["y"] = self.check_labels(kwargs.get("y"), num_samples, "y")
        placeholder = torch.zeros(num_samples, self.data_dim, device=self.device, dtype=self.dtype)
        trace = poutine.trace(poutine.uncondition(self.model)).get_trace(placeholder, **kwargs)
        return trace.nodes[self.observed_site]["value"]

    def clone(self) -> GenerativeModel:
        """A deep copy with the same parameter values and a fresh unique Pyro name."""
        copy = deepcopy(self)
        copy._pyro_name = f"{type(self).__name__.lower()}_{next(_instance_counter)}"
        return copy

    @classmethod
    def options_from_data(cls, data) -> dict:
        """Constructor options that a :class:`~ppgen.data.Dataset` determines (e.g. an image
        shape); the CLI passes them unless the user set them. The base class needs none."""
        return {}

    @classmethod
    def example(cls, x: torch.Tensor) -> GenerativeModel:
        """A small instance for data ``x`` (``example_options``), for tests: a model whose start
        depends on the data overrides this to initialise from it."""
        return cls(x.shape[-1], **cls.example_options)

    def init_from_data(self, x: torch.Tensor) -> GenerativeModel:
        """Data-dependent initialisation before training; the base class keeps its random start."""
        self.check_data(x, "x")
        return self

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact ``log p(x)`` per data point, shape ``(batch,)``, where the marginal is exact."""
        raise NotImplementedError(
            f"{type(self).__name__} has no tractable marginal likelihood; estimate it with "
            "ppgen.evaluation.log_likelihood(model, x)"
        )

    # ----- data checks ------------------------------------------------------------------------
    def check_data(self, x, name: str = "data") -> torch.Tensor:
        """Raise a clear error unless ``x`` suits the model (shape, dtype, device, values)."""
        return check_data(
            x,
            name=name,
            event_dim=self.data_dim,
            dtype=self.dtype,
            device=self.device,
            binary=self.likelihood == "bernoulli",
            unit_interval=self.likelihood == "continuous_bernoulli" or self.needs_unit_interval,
        )

    def check_labels(self, y, num_points: int, name: str = "y") -> torch.Tensor:
        """Raise a clear error unless ``y`` holds ``num_points`` class labels in
        ``[0, num_classes)`` (an integer tensor on the model's device)."""
        if not self.conditional:
            raise ValueError(f"{type(self).__name__} is not class-conditional; it takes no labels")
        if y is None:
            raise ValueError(
                f"{type(self).__name__} is class-conditional (num_classes={self.num_classes}): "
                f"pass {name}=, one integer label per data point"
            )
        if not isinstance(y, torch.Tensor) or y.dtype not in (torch.int32, torch.int64):
            raise TypeError(f"{name} must be an integer torch.Tensor of class labels, got {y!r}")
        if y.shape != (num_points,):
            raise ValueError(
                f"{name} must have shape ({num_points},), one label per data point, "
                f"got {tuple(y.shape)}"
            )
        if y.device != self.device:
            raise ValueError(f"{name} is on {y.device} but the model is on {self.device}")
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
            raise ValueError(
                f"{name} has labels outside [0, {self.num_classes}): min {int(y.min())}, "
                f"max {int(y.max())}"
            )
        return y.long()

    def check_training_data(self, x, name: str = "training data") -> torch.Tensor:
        """:meth:`check_data`, plus the checks that need the whole training set at once.

        A Gaussian likelihood with per-dimension noise has no maximum on a zero-variance column (the
        noise variance shrinks to 0 and the likelihood grows without bound), so such columns are
        refused; with shared noise they are only wasteful and get a warning
        (:meth:`check_constant_columns`).
        """
        self.check_data(x, name)
        check_not_tracking_gradients(x, name)
        if len(x) > 1:
            self.check_constant_columns(constant_columns(x), name)
        return x

    def check_streamed_training_data(self, chunks, name: str = "training data") -> None:
        """The checks of :meth:`check_training_data` in one pass over ``chunks`` of the rows
        (streamed data, refused before training rather than at the batch that holds a bad
        value): each chunk's values, and the zero-variance columns over all of them."""
        low = high = None
        rows = 0
        for chunk in chunks:  # named by its rows: the check reports indices within the chunk
            self.check_data(chunk.to(self.device), f"{name} (rows {rows}..{rows + len(chunk) - 1})")
            low = chunk.amin(0) if low is None else torch.minimum(low, chunk.amin(0))
            high = chunk.amax(0) if high is None else torch.maximum(high, chunk.amax(0))
            rows += len(chunk)
        if rows > 1:
            self.check_constant_columns((low == high).nonzero().flatten().tolist(), name)

    def check_constant_columns(self, constant: list[int], name: str) -> None:
        """A Gaussian likelihood with per-dimension noise has no maximum on a zero-variance
        column: refused; with shared noise such columns are only wasteful: a warning."""
        if self.likelihood not in ("gaussian", "density") or not constant:
            return
        message = (
            f"{name} has {len(constant)} zero-variance column(s) {constant[:10]}"
            f"{'...' if len(constant) > 10 else ''}"
        )
        advice = "drop them first, e.g. load_dataset(..., drop_constant=True)"
        if self.constant_columns_unbounded:
            raise ValueError(
                f"{message}: the likelihood of {type(self).__name__} is unbounded "
                f"there (its density can concentrate on the constant value); {advice}"
            )
        warn(f"{message}; they carry no information, {advice}")

    def fit_data(self, data, val_data=None) -> dict:
        """The checked tensors ``fit`` trains and validates on (the trainer's one model hook).

        ``data`` is a ppgen :class:`~ppgen.data.Dataset` (its ``train`` split; its ``val`` split
        validates unless ``val_data`` is given) or a ``(num_points, data_dim)`` tensor. Returns
        ``{"train", "train_kwargs", "val", "val_kwargs", "dataset"}``: the rows, the keyword
        tensors batched with them (``y`` labels of a class-conditional model), and the Dataset
        whose per-batch preprocessing is redrawn (or ``None``).
        """

        if isinstance(data, Dataset):
            dataset, train = data, data.train
            if val_data is None:
                val_data = data.val
        elif isinstance(data, torch.Tensor):
            dataset, train = None, data
        else:
            raise TypeError(
                f"data for {type(self).__name__} must be a ppgen Dataset or a tensor, "
                f"got {type(data).__name__}"
            )
        self.check_training_data(train)
        if val_data is not None:
            val_data = self.check_data(val_data, "validation data")
            check_not_tracking_gradients(val_data, "validation data")
        train_kwargs, val_kwargs = {}, {}
        if self.conditional:
            if dataset is None or dataset.train_labels is None:
                raise ValueError(
                    f"{type(self).__name__} is class-conditional (num_classes="
                    f"{self.num_classes}) and needs labels: pass a Dataset with train_labels"
                )
            if val_data is not dataset.val:
                raise ValueError("a class-conditional model validates on its Dataset's val split")
            train_kwargs = {
                "y": self.check_labels(dataset.train_labels, len(train), "train_labels")
            }
            val_kwargs = {"y": self.check_labels(dataset.val_labels, len(val_data), "val_labels")}
        return {
            "train": train,
            "train_kwargs": train_kwargs,
            "val": val_data,
            "val_kwargs": val_kwargs,
            "dataset": dataset,
        }

    def extra_repr(self) -> str:
        return f"data_dim={self.data_dim}"
