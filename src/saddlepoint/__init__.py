"""saddlepoint: adversarial generative models as the saddle-point games they are."""

from .config import ConfigError, TrainConfig, list_recipes, resolve_config
from .divergences import DIVERGENCES, FDivergence, get_divergence, mmd2, wasserstein1_1d
from .games import GAMES, get_game, register_game
from .runs import RunError
from .schedule import GDA, Contest, gda_step
from .train import Experiment, RunResult, TrainingDiverged, evaluate, resume, train
from .trainer import TrainingInterrupted

__version__ = "0.1.0"

__all__ = [
    "ConfigError", "TrainConfig", "list_recipes", "resolve_config",
    "DIVERGENCES", "FDivergence", "get_divergence", "mmd2", "wasserstein1_1d",
    "GAMES", "get_game", "register_game",
    "RunError", "GDA", "Contest", "gda_step",
    "Experiment", "RunResult", "TrainingDiverged", "TrainingInterrupted", "evaluate", "resume", "train",
]
