"""Launch options of a training run (hardware, processes; never part of a recipe), checked before
any work, and the Lightning start-up noise our users need not read."""

from __future__ import annotations

import logging
import re
import warnings
from dataclasses import dataclass, field

import lightning as L

from glossfree.errors import ConfigError

__all__ = ["ACCELERATORS", "LaunchConfig", "check_launch", "quiet_lightning_noise"]


@dataclass
class LaunchConfig:
    """Hardware and launch options (never part of a recipe)."""

    accelerator: str = "auto"
    devices: int | str = 1
    num_nodes: int = 1
    strategy: str = "auto"
    progress: bool = True
    num_sanity_val_steps: int = 0
    extra_callbacks: list[L.Callback] = field(default_factory=list)


ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")
_DEVICE_LIST = re.compile(r"^\d+(,\d+)*,?$")  # GPU indices: "0,1" (Lightning's own syntax)


def check_launch(launch: LaunchConfig) -> None:
    """Check the launch options before any work; raise :class:`ConfigError` naming the flag.

    Names are checked against Lightning's registries, then Lightning builds its accelerator and
    strategy from them once (no process group, no logger), which also catches what this machine
    lacks (``--accelerator gpu`` without a GPU).
    """
    from lightning.pytorch.strategies import StrategyRegistry

    if launch.accelerator not in ACCELERATORS:
        raise ConfigError(
            f"--accelerator {launch.accelerator}: unknown accelerator; choose one of {', '.join(ACCELERATORS)}"
        )
    devices = launch.devices
    valid = (isinstance(devices, int) and (devices >= 1 or devices == -1)) or (
        isinstance(devices, str) and (devices in ("auto", "-1") or bool(_DEVICE_LIST.match(devices)))
    )
    if not valid:
        raise ConfigError(
            f"--devices {devices}: expected a number of devices per node (1, 2, ...), 'auto', -1 "
            "(all of them) or a comma list of GPU indices such as 0,1"
        )
    if launch.strategy.lower().startswith("fsdp"):  # no CPU test exists for it yet (issue 15)
        raise ConfigError(f"--strategy {launch.strategy}: use ddp; FSDP is not supported yet")
    strategies = ["auto", *(s for s in StrategyRegistry.available_strategies() if not s.startswith("fsdp"))]
    if launch.strategy not in strategies:
        raise ConfigError(
            f"--strategy {launch.strategy}: unknown strategy; common ones are auto, ddp and "
            f"deepspeed (all: {', '.join(strategies)})"
        )
    if launch.num_nodes < 1:
        raise ConfigError(f"--num-nodes {launch.num_nodes}: must be at least 1")
    quiet = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # no "GPU available" banner for this trial
    try:
        L.Trainer(
            accelerator=launch.accelerator,
            devices=launch.devices,
            num_nodes=launch.num_nodes,
            strategy=launch.strategy,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
    except Exception as error:  # Lightning raises MisconfigurationException, ValueError, TypeError
        raise ConfigError(
            f"launch options --accelerator {launch.accelerator} --devices {launch.devices} "
            f"--strategy {launch.strategy} --num-nodes {launch.num_nodes}: {error}"
        ) from None
    finally:
        quiet.setLevel(level)


class _DropLightningTips(logging.Filter):
    """Lightning logs an advertisement ("💡 Tip: ... litlogger") on every Trainer: not for our users."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("💡 Tip")


def quiet_lightning_noise() -> None:
    """Drop the litlogger tip and the ``LeafSpec`` deprecation warning Lightning's own code causes."""
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropLightningTips) for f in logger.filters):
            logger.addFilter(_DropLightningTips())
    warnings.filterwarnings("ignore", message=r".*treespec.*LeafSpec.*")
    # Frozen parts are put in eval mode on purpose (StageFreezing): not worth a warning each stage.
    warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode at the start of training")
