"""The recipe: every ``"auto"`` parameter of MultiTaskRecommender resolved from the training data, in one place.

:func:`resolve_recipe` reads the validated parameters and the statistics of the training set
(:class:`DataStats`) and returns a frozen :class:`Recipe`: the settings the model is built and
trained with, and for each one what decided it. The estimator keeps it as ``recipe_``; the
model builder and the trainer read nothing else of the ``"auto"`` parameters. A warm start
passes the fitted recipe, which is kept whole: every ``"auto"`` keeps its fitted value (so a
warm fit never mixes the two recipes), an explicit parameter replaces its value.

The rules and their constants are explained on the documentation's "The recipe" page; how
each constant was chosen, on "How the defaults were chosen". The module also holds
:data:`SEED_PARAMS`, the parameters of the Keras-RS example skrec started from.
"""

import dataclasses
import math

__all__ = ["SEED_PARAMS", "DataStats", "Recipe", "resolve_recipe", "recipe_of_model"]

#: The parameters of the Keras-RS example "Multi-task recommenders: retrieval + ranking".
#:
#: ``MultiTaskRecommender(**SEED_PARAMS)`` is that example's model (loss weights 1 and 1).
SEED_PARAMS = {
    "embedding_dim": 32,
    "layer_sizes": (256, 128),
    "rating_head": "mlp",
    "implicit_feedback": False,
    "item_implicit_feedback": False,
    "retrieval_negatives": "in_batch",
    "retrieval_weight": 1.0,
    "ranking_weight": 1.0,
    "l2": 0.0,
    "l2_form": "per_interaction",
    "rating_blend": 0.0,
    "item_item": None,
    "optimizer": "adagrad",
    "learning_rate": 0.1,
    "lr_schedule": "constant",
    "batch_size": 1000,
    "epochs": 5,
    "early_stopping": False,
    "swa_fraction": 0.0,
}

#: Training rows that must hold a rating for the rating recipe (else the retrieval recipe).
RATING_RECIPE_SHARE = 0.5
#: The rating recipe's training: per-id penalty, batches of 2,048, cosine rate from 0.0085, no weight averaging.
RATING_RECIPE = {"l2_form": "per_id", "lr_schedule": "cosine", "batch_size": 2048, "learning_rate": 0.0085, "swa_fraction": 0.0}
#: The retrieval recipe's: per-interaction penalty, batches of 1,024, constant 0.003, the last half of the epochs averaged.
RETRIEVAL_RECIPE = {"l2_form": "per_interaction", "lr_schedule": "constant", "batch_size": 1024, "learning_rate": 0.003, "swa_fraction": 0.5}
#: Each recipe's rate is for its own batch size; ``learning_rate="auto"`` with another
#: ``batch_size`` scales it by ``sqrt(batch_size / the recipe's)`` (the square-root rule for Adam).
#: ``batch_size="auto"`` halves the recipe's batch, down to ``SMALL_SET_BATCH_SIZE``, until an epoch has this many steps.
MIN_STEPS_PER_EPOCH = 32
SMALL_SET_BATCH_SIZE = 1024
_FORMER_BATCH_SIZE = 1024  # of models fitted before recipes were kept
_FORMER_RATES = {"cosine": 0.006, "constant": 0.003}
#: ``l2="auto"`` per form: ``base * max(1, reference / n)`` for ``n`` (rated, under per_id) rows per id.
L2_RULES = {"per_interaction": (0.025, 64.0), "per_id": (0.05, 32.0)}
#: ``rater_penalty``: ``base * max(1, reference / n)`` for ``n`` rated rows per item, at most 1.
RATER_PENALTY_RULE = (0.1, 40.0)
#: ``rater_scale``: ``n / RATER_SCALE_REFERENCE`` for ``n`` rated rows per user, at most 1.
RATER_SCALE_REFERENCE = 32.0
#: ``item_item="auto"`` adds the EASE term to catalogues of at most this many items.
ITEM_ITEM_MAX_ITEMS = 4096
#: ``item_item_weight="auto"`` is ``weight * reference / item_item_l2``: the term's weight grows as the validated penalty falls.
ITEM_ITEM_WEIGHT_RULE = (4.0, 500.0)
_FORMER_ITEM_ITEM = {"item_item_l2": 500.0, "item_item_weight": 4.0}  # of recipes kept before they held these
_FORMER_RATER_SCALE = {"rater_scale": 1.0}  # of recipes kept before they held it
#: ``retrieval_negatives="auto"`` scores the whole catalogue up to this many times ``n_negatives`` items.
CATALOGUE_NEGATIVES_FACTOR = 4


@dataclasses.dataclass(frozen=True)
class DataStats:
    """The statistics of a training set that the ``"auto"`` rules read.

    Attributes
    ----------
    n_rows : int
        Training rows (held-out early-stopping rows excluded).
    n_items : int
        Items of the catalogue, cold-start items of an ``items`` frame included.
    rated_share : float
        Share of the training rows that hold a rating, in ``[0, 1]``.
    interactions_per_id : float
        Training rows per user or per item, whichever is more.
    ratings_per_item : float
        Rated training rows per item with a training row.
    has_ratings : bool
        Whether any fit of the model had a rating (the rating head is trained).
    ratings_per_user : float
        Rated training rows per user with a training row (0 in statistics written before it).
    """

    n_rows: int
    n_items: int
    rated_share: float
    interactions_per_id: float
    ratings_per_item: float
    has_ratings: bool
    ratings_per_user: float = 0.0

    def summary(self):
        """One line: the statistics as the recipe's table heads them."""
        return (
            f"fitted on {self.n_rows:,} training rows, {self.rated_share:.0%} rated, {self.interactions_per_id:.1f} "
            f"per user or item, {self.n_items:,} items"
        )

    @classmethod
    def of(cls, data):
        """The statistics of a :class:`skrec._interactions.TrainingSet`."""
        return cls(
            n_rows=len(data.train),
            n_items=int(data.n_items),
            rated_share=float(data.rated_share()),
            interactions_per_id=float(data.interactions_per_id()),
            ratings_per_item=float(data.ratings_per_item()),
            has_ratings=bool(data.interactions.has_ratings),
            ratings_per_user=float(data.ratings_per_user()),
        )


@dataclasses.dataclass(frozen=True)
class Recipe:
    """The settings a model is built and trained with, and what decided each.

    Printing it shows one line per setting: its value and, for an ``"auto"`` parameter or a
    setting derived from the data, the statistic that decided it.

    Attributes
    ----------
    l2_form : {"per_interaction", "per_id"}
    l2 : float
    lr_schedule : {"constant", "cosine"}
    batch_size : int
    learning_rate : float
    swa_fraction : float
    retrieval_negatives : {"catalogue", "sampled", "in_batch"}
    item_item : "ease" or None
    item_item_l2 : float
        EASE's penalty, in interactions.
    item_item_weight : float
        The item-item term's weight in the ranking score (0 when ``item_item`` is None).
    item_implicit_feedback : bool
    rater_penalty : float
        The rater terms' weight in the L2 penalty relative to the vectors', in ``(0, 1]``.
    rater_scale : float
        How much slower the rater table learns than the other tables, in ``(0, 1]``.
    rating_bias_scale : float
        How much slower the rating biases learn than the rest, in ``(0, 1]``.
    reasons : tuple of (str, str)
        ``(setting, why)`` for each setting, in the order above.
    stats : DataStats or None
        The statistics of the fit that resolved it (None for a file written before recipes).
    """

    l2_form: str
    l2: float
    lr_schedule: str
    batch_size: int
    learning_rate: float
    swa_fraction: float
    retrieval_negatives: str
    item_item: str | None
    item_item_l2: float
    item_item_weight: float
    item_implicit_feedback: bool
    rater_penalty: float
    rater_scale: float
    rating_bias_scale: float
    reasons: tuple = dataclasses.field(default=(), compare=False, repr=False)
    stats: DataStats | None = dataclasses.field(default=None, compare=False, repr=False)

    def settings(self):
        """The settings as a dict, ``{name: value}`` (without the reasons and statistics)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("reasons", "stats")}

    def __str__(self):
        why = dict(self.reasons)
        lines = [f"{name:<23} {_shown(value):<16} {why.get(name, '')}".rstrip() for name, value in self.settings().items()]
        head = [] if self.stats is None else [self.stats.summary()]
        return "\n".join([*head, f"{'setting':<23} {'value':<16} decided by", *lines])

    def to_json(self):
        """The recipe as plain JSON values (for a model file)."""
        stats = None if self.stats is None else dataclasses.asdict(self.stats)
        return {**self.settings(), "reasons": [list(pair) for pair in self.reasons], "stats": stats}

    def __setstate__(self, state):
        # A recipe pickled before it held the batch size or the item-item settings: the defaults then.
        self.__dict__.update({"batch_size": _FORMER_BATCH_SIZE, **_FORMER_ITEM_ITEM, **_FORMER_RATER_SCALE, **state})

    @classmethod
    def from_json(cls, data):
        """The recipe written by :meth:`to_json`."""
        stats = None if data.get("stats") is None else DataStats(**data["stats"])
        fields = {key: value for key, value in data.items() if key not in ("reasons", "stats")}
        fields = {"batch_size": _FORMER_BATCH_SIZE, **_FORMER_ITEM_ITEM, **_FORMER_RATER_SCALE, **fields}  # a file written before the recipe held them
        return cls(**fields, reasons=tuple(tuple(pair) for pair in data.get("reasons", ())), stats=stats)


#: The parameters whose ``"auto"`` a rule of :func:`resolve_recipe` resolves to one value.
AUTO_PARAMS = ("l2_form", "l2", "lr_schedule", "batch_size", "learning_rate", "swa_fraction", "retrieval_negatives", "item_item_l2", "item_item_weight")


def _is_auto(value):
    return isinstance(value, str) and value == "auto"


def _shown(value):
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def resolve_recipe(params, stats, fitted=None, validate_item_item_l2=None):
    """The recipe of one fit: ``params`` with every ``"auto"`` resolved from ``stats``.

    Parameters
    ----------
    params : dict
        The estimator's validated parameters (``get_params()``).
    stats : DataStats
        The statistics of the training set.
    fitted : Recipe or None, default=None
        The fitted model's recipe, for a warm start: every ``"auto"`` keeps its value there.
    validate_item_item_l2 : callable or None, default=None
        ``() -> (l2, why)``: EASE's penalty chosen on the training data
        (:func:`skrec._item_item.validated_l2`), called only when the item-item term is on and
        ``item_item_l2="auto"``; None resolves that ``"auto"`` to the rule's reference penalty.

    Returns
    -------
    Recipe
    """
    if fitted is not None:
        return _kept(params, fitted)
    rating = stats.rated_share >= RATING_RECIPE_SHARE
    recipe_name = "the rating recipe" if rating else "the retrieval recipe"
    basis = f"{recipe_name}: {stats.rated_share:.0%} of the rows rated ({'>=' if rating else '<'} {RATING_RECIPE_SHARE:.0%})"
    training = RATING_RECIPE if rating else RETRIEVAL_RECIPE
    values, reasons = {}, {}

    def take(name, auto_value, why):
        auto = _is_auto(params[name])
        values[name] = auto_value if auto else params[name]
        reasons[name] = f"auto: {why}" if auto else "given"

    take("l2_form", training["l2_form"], basis)
    take("lr_schedule", training["lr_schedule"], basis)
    cosine = values["lr_schedule"] == "cosine"
    schedule_rule = RATING_RECIPE if cosine else RETRIEVAL_RECIPE
    take("batch_size", *_auto_batch_size(schedule_rule["batch_size"], values["lr_schedule"], stats.n_rows))
    take("learning_rate", *_auto_learning_rate(schedule_rule, values["lr_schedule"], values["batch_size"]))
    take("swa_fraction", schedule_rule["swa_fraction"], f"a {values['lr_schedule']} schedule")
    take("l2", *_auto_l2(values["l2_form"], stats))
    take("retrieval_negatives", *_auto_negatives(params["n_negatives"], stats.n_items))
    values["item_item"], reasons["item_item"] = _item_item(params, stats.n_items)
    take("item_item_l2", *_auto_item_item_l2(values["item_item"], validate_item_item_l2))
    take("item_item_weight", *_auto_item_item_weight(values["item_item_l2"]))
    _item_item_off(values, reasons)
    values["item_implicit_feedback"], reasons["item_implicit_feedback"] = _item_implicit(params, stats)
    values["rater_penalty"], reasons["rater_penalty"] = _rater_penalty(values["item_implicit_feedback"], stats)
    values["rater_scale"], reasons["rater_scale"] = _rater_scale(values["item_implicit_feedback"], stats)
    values["rating_bias_scale"], reasons["rating_bias_scale"] = _rating_bias_scale(stats)
    return _recipe(values, reasons, stats)


def _recipe(values, reasons, stats):
    values = {**values, "l2": float(values["l2"]), "item_item_l2": float(values["item_item_l2"]), "item_item_weight": float(values["item_item_weight"]), "batch_size": int(values["batch_size"]), "learning_rate": float(values["learning_rate"]), "swa_fraction": float(values["swa_fraction"])}
    order = [f.name for f in dataclasses.fields(Recipe) if f.name in values]
    return Recipe(**values, reasons=tuple((name, reasons[name]) for name in order), stats=stats)


def _auto_l2(form, stats):
    """``(l2, why)``: the base penalty down to the reference count per id, raised in inverse proportion below."""
    base, reference = L2_RULES[form]
    n = max(stats.interactions_per_id, 1.0)
    what = "rows"
    if form == "per_id":
        n, what = max(n * (stats.rated_share or 1.0), 1.0), ("rated rows" if stats.rated_share else "rows")
    relation = f">= {reference:g}" if n >= reference else f"< {reference:g}: {base:g} * {reference:g} / n"
    return base * max(1.0, reference / n), f"n = {n:.1f} {what} per user or item {relation}"


def _auto_batch_size(batch_size, schedule, n_rows):
    """``(batch size, why)``: the schedule's, halved down to ``SMALL_SET_BATCH_SIZE`` while an epoch would have fewer than ``MIN_STEPS_PER_EPOCH`` steps."""
    size, why = batch_size, f"a {schedule} schedule"
    while size > SMALL_SET_BATCH_SIZE and n_rows < MIN_STEPS_PER_EPOCH * size:
        size //= 2
    return size, why if size == batch_size else f"{why}, {n_rows:,} rows < {MIN_STEPS_PER_EPOCH} steps of {batch_size:,}"


def _auto_learning_rate(rule, schedule, batch_size):
    """``(learning rate, why)``: the schedule's rate, scaled by the square root of ``batch_size`` over the recipe's."""
    rate, reference, why = rule["learning_rate"], rule["batch_size"], f"a {schedule} schedule"
    if int(batch_size) == reference:
        return rate, why
    return rate * math.sqrt(int(batch_size) / reference), f"{why}: {rate:g} * sqrt(batch_size {int(batch_size):,} / {reference:,})"


def _auto_negatives(n_negatives, n_items):
    limit = CATALOGUE_NEGATIVES_FACTOR * int(n_negatives)
    if n_items <= limit:
        return "catalogue", f"{n_items:,} items <= {CATALOGUE_NEGATIVES_FACTOR} * n_negatives = {limit:,}"
    return "sampled", f"{n_items:,} items > {CATALOGUE_NEGATIVES_FACTOR} * n_negatives = {limit:,}"


def _auto_item_item_l2(item_item, validate):
    """``(l2, why)``: validated on the training data when the term is on and a validation is given."""
    if item_item is None:
        return ITEM_ITEM_WEIGHT_RULE[1], "unused without the item-item term"
    if validate is None:
        return ITEM_ITEM_WEIGHT_RULE[1], "not validated"
    return validate()


def _auto_item_item_weight(item_item_l2):
    weight, reference = ITEM_ITEM_WEIGHT_RULE
    return weight * reference / float(item_item_l2), f"{weight:g} * {reference:g} / item_item_l2"


def _item_item_off(values, reasons):
    if values["item_item"] is None:
        values["item_item_weight"], reasons["item_item_weight"] = 0.0, "the item-item term is off"


def _item_item(params, n_items):
    if not _is_auto(params["item_item_weight"]) and not params["item_item_weight"] > 0:
        return None, "item_item_weight is 0"
    if params["item_item"] != "auto":
        return params["item_item"], "given"
    small = n_items <= ITEM_ITEM_MAX_ITEMS
    return ("ease" if small else None), f"auto: {n_items:,} items {'<=' if small else '>'} {ITEM_ITEM_MAX_ITEMS:,}"


def _item_implicit(params, stats):
    """The item-side term only enters the rating head, which data without ratings does not train."""
    if not params["item_implicit_feedback"]:
        return False, "the parameter is False"
    return stats.has_ratings, "the parameter, and the data has ratings" if stats.has_ratings else "the parameter, but no row has a rating"


def _rater_penalty(item_implicit, stats):
    if not item_implicit:
        return 1.0, "unused without the item-side term"
    base, reference = RATER_PENALTY_RULE
    n = stats.ratings_per_item
    if n <= 0:
        return 1.0, "data: no rated row"
    return min(1.0, base * max(1.0, reference / n)), f"data: {n:.1f} rated rows per item ({base:g} * max(1, {reference:g} / n), at most 1)"


def _rater_scale(item_implicit, stats):
    """The rater table's rate factor, ``n / RATER_SCALE_REFERENCE`` for ``n`` rated rows per user, at most 1.

    Adam moves a row by about the learning rate whatever its evidence: the rows of users with
    few ratings each would move the rater terms of their items as fast as the items' vectors.
    """
    if not item_implicit:
        return 1.0, "unused without the item-side term"
    n = stats.ratings_per_user
    if n <= 0:
        return 1.0, "data: no rated row"
    return min(1.0, n / RATER_SCALE_REFERENCE), f"data: {n:.1f} rated rows per user (n / {RATER_SCALE_REFERENCE:g}, at most 1)"


def _rating_bias_scale(stats):
    """The square root of the rated share: a batch's rating gradient is that much noisier (1 without ratings)."""
    share = stats.rated_share
    return (math.sqrt(share) if share > 0 else 1.0), f"data: sqrt of the rated share {share:.2f}" if share > 0 else "data: no rated row"


def _kept(params, fitted):
    """A warm start's recipe: the fitted one, with the explicit parameters' values in place of theirs."""
    values = fitted.settings()
    reasons = {name: why if why.startswith("kept: ") else f"kept: {why}" for name, why in fitted.reasons}
    for name in AUTO_PARAMS:
        if not _is_auto(params[name]):
            values[name], reasons[name] = params[name], "given"
    if params["item_item"] != "auto" or (not _is_auto(params["item_item_weight"]) and not params["item_item_weight"] > 0):
        values["item_item"], reasons["item_item"] = _item_item(params, n_items=None)  # no size rule applies here
    if values["item_item"] is not None and not values["item_item_weight"]:  # turned on (the build refuses it)
        weight, why = _auto_item_item_weight(values["item_item_l2"])
        values["item_item_weight"], reasons["item_item_weight"] = weight, f"auto: {why}"
    _item_item_off(values, reasons)
    if not params["item_implicit_feedback"]:
        values["item_implicit_feedback"], reasons["item_implicit_feedback"] = False, "the parameter is False"
    return _recipe(values, reasons, fitted.stats)


def recipe_of_model(params, model):
    """The recipe of a model fitted before recipes were kept (an old file or pickle).

    The model holds every setting it was built with; the training settings are those of the
    recipe its ``l2_form`` belongs to, as ``"auto"`` chose both together.
    """
    training = RATING_RECIPE if model.l2_form == "per_id" else RETRIEVAL_RECIPE
    training = {**training, "learning_rate": _FORMER_RATES[training["lr_schedule"]], "batch_size": _FORMER_BATCH_SIZE}
    values = {name: training[name] if _is_auto(params[name]) else params[name] for name in ("lr_schedule", "batch_size", "learning_rate", "swa_fraction")}
    values.update(
        l2_form=model.l2_form,
        l2=model.l2,
        retrieval_negatives=model.retrieval_negatives,
        item_item="ease" if model.item_item_weight else None,
        item_item_l2=model.item_item_l2,
        item_item_weight=model.item_item_weight,
        item_implicit_feedback=model.item_implicit_feedback,
        rater_penalty=model.rater_penalty,
        rater_scale=getattr(model, "rater_scale", 1.0),
        rating_bias_scale=model.rating_bias_scale,
    )
    return _recipe(values, {name: "read from the model (fitted before recipes were kept)" for name in values}, None)
