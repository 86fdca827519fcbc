"""Seed 000's classical pipeline: StandardScaler -> PCA -> KNN / Random Forest / RBF-SVM / one-hidden-layer FFNN,
with a grid search under stratified K-fold cross-validation of the training split only.

The validation and test splits never enter ``fit``: the folds are cut from the training features, so
the chosen hyperparameters carry no information from the held-out speakers (seed 000 §5.1 did the same
with 5 folds). Models are saved with skops (``skops.io``), whose loader rebuilds only an allow-list of
scikit-learn / numpy types and runs no pickled code, so a model file from elsewhere cannot execute code.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

ESTIMATORS = {
    "knn": lambda seed: KNeighborsClassifier(),
    "random_forest": lambda seed: RandomForestClassifier(random_state=seed),
    "svm": lambda seed: SVC(kernel="rbf", probability=True, random_state=seed),
    "ffnn": lambda seed: MLPClassifier(hidden_layer_sizes=(512,), early_stopping=True, max_iter=300, random_state=seed),
}


@dataclass
class SearchSpec:
    """The ``model:`` section of a classical config.

    ``estimator``: knn, random_forest, svm or ffnn. ``pca_components``: an int, a variance share in
    (0, 1), or None for no PCA (seed 000: 129 components for KNN/RF/SVM). ``grid``: estimator
    parameters to search, e.g. ``{C: [0.1, 1, 10], gamma: [scale, auto]}`` (names without the
    ``classifier__`` prefix; ``pca__n_components`` may be searched as ``pca_components``).
    """

    estimator: str = "svm"
    pca_components: int | float | None = None  # int first: jsonargparse would read 129 as 129.0, which PCA refuses
    grid: dict[str, list[Any]] = field(default_factory=dict)
    folds: int = 5
    scoring: str = "f1_weighted"
    seed: int = 0
    jobs: int = -1


def build_pipeline(spec: SearchSpec) -> Pipeline:
    """StandardScaler -> (PCA) -> the estimator called ``spec.estimator``."""
    if spec.estimator not in ESTIMATORS:
        raise ValueError(f"model.estimator={spec.estimator!r}: expected one of {sorted(ESTIMATORS)}")
    steps: list[tuple[str, Any]] = [("scale", StandardScaler())]
    if spec.pca_components is not None:
        steps.append(("pca", PCA(n_components=spec.pca_components, random_state=spec.seed)))
    steps.append(("classifier", ESTIMATORS[spec.estimator](spec.seed)))
    return Pipeline(steps)


def param_grid(spec: SearchSpec) -> dict[str, list[Any]]:
    """The grid in Pipeline parameter names (``classifier__C``; ``pca_components`` -> ``pca__n_components``)."""
    grid = {}
    for name, values in spec.grid.items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"model.grid.{name}: a non-empty list of values to try, got {values!r}")
        if name == "pca_components":
            if spec.pca_components is None:
                raise ValueError("model.grid.pca_components needs model.pca_components set (PCA is off)")
            grid["pca__n_components"] = values
        else:
            grid[f"classifier__{name}"] = values
    return grid


def grid_search(spec: SearchSpec, features: np.ndarray, labels: np.ndarray) -> GridSearchCV:
    """Fit the grid search on the training features only (stratified, shuffled K folds); refit on all of them."""
    folds = StratifiedKFold(n_splits=spec.folds, shuffle=True, random_state=spec.seed)
    search = GridSearchCV(build_pipeline(spec), param_grid(spec), scoring=spec.scoring, cv=folds,
                          n_jobs=spec.jobs, refit=True)
    return search.fit(features, labels)


def log_probabilities(model: Any, features: np.ndarray, num_classes: int) -> np.ndarray:
    """[N, num_classes] log-probabilities (the report's "logits"); classes absent from training get -inf."""
    probs = np.zeros((features.shape[0], num_classes))
    probs[:, np.asarray(model.classes_, dtype=int)] = model.predict_proba(features)
    with np.errstate(divide="ignore"):
        return np.log(probs)


def save_model(model: Any, path: Path) -> Path:
    """Write the fitted pipeline as a skops file (no pickle)."""
    import skops.io as sio

    path.parent.mkdir(parents=True, exist_ok=True)
    sio.dump(model, path)
    return path


def _is_library_class(name: str) -> bool:
    """True for a class (not a function) of scikit-learn, numpy or scipy: what fitted pipelines hold.

    Functions are refused: a FunctionTransformer holding one is how a crafted file would run code.
    """
    import importlib

    module, _, attribute = name.rpartition(".")
    if module.split(".")[0] not in ("sklearn", "numpy", "scipy"):
        return False
    try:
        return isinstance(getattr(importlib.import_module(module), attribute), type)
    except (ImportError, AttributeError):
        return False


def load_model(path: Path) -> Any:
    """Load a skops model, trusting only the types this module's pipelines are made of.

    Anything else in the file (a function, a class of another package) is refused before loading,
    naming what was found.
    """
    import skops.io as sio

    untrusted = sio.get_untrusted_types(file=path)
    refused = sorted(name for name in untrusted if not _is_library_class(name))
    if refused:
        raise ValueError(f"{path}: refusing to load types this toolkit does not write: {refused}")
    allowed = list(untrusted)
    return sio.load(path, trusted=allowed)
