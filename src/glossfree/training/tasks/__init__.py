"""The kinds of training the engine runs, each one module (:mod:`~glossfree.training.tasks.base`
says what a task tells the engine):

- ``translation`` (:mod:`~glossfree.training.tasks.translation`): sign input -> sentence;
- ``multitask`` (:mod:`~glossfree.training.tasks.multitask`): translation and sign-subtitle
  alignment on long streams (a translation recipe with ``data.ssa``);
- ``islr`` (:mod:`~glossfree.training.tasks.islr`): isolated sign recognition pre-training of
  the pose (and lip) backbone (``recipe: islr``).

A recipe file's schema follows from its ``recipe`` key (:func:`load_recipe`), and a validated
recipe's task from its schema (:func:`task_for`): both through the explicit tables below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from glossfree.config import load_config, read_yaml
from glossfree.training.recipe import RecipeConfig, resolve_recipe_path
from glossfree.training.tasks.base import Task, TaskData
from glossfree.training.tasks.islr import ISLRRecipeConfig, ISLRTask
from glossfree.training.tasks.multitask import MultitaskTask
from glossfree.training.tasks.translation import TranslationTask

# A recipe file's ``recipe`` key -> its schema; any other value (a method's name, e.g.
# ``pose_perceiver``) is a translation recipe.
RECIPE_SCHEMAS: dict[str, type] = {"islr": ISLRRecipeConfig}

TASKS: dict[str, Task] = {task.name: task for task in (TranslationTask(), MultitaskTask(), ISLRTask())}


def task_for(recipe: Any) -> Task:
    """The task that trains ``recipe``: ISLR for an ISLR recipe, multitask for a translation recipe
    with ``data.ssa``, translation otherwise."""
    if isinstance(recipe, ISLRRecipeConfig):
        return TASKS["islr"]
    return TASKS["multitask" if recipe.data.ssa is not None else "translation"]


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Any:
    """Load a recipe YAML file (a path, or a built-in name such as ``pose_perceiver/tiny``).

    A file with ``recipe: islr`` is an isolated sign pre-training recipe (:class:`ISLRRecipeConfig`);
    every other one a translation recipe (:class:`~glossfree.training.recipe.RecipeConfig`).
    """
    resolved = resolve_recipe_path(path)
    schema = RECIPE_SCHEMAS.get(read_yaml(resolved).get("recipe"), RecipeConfig)
    return load_config(schema, resolved, overrides)


__all__ = ["RECIPE_SCHEMAS", "TASKS", "Task", "TaskData", "load_recipe", "task_for"]
