"""Packaging that pyproject.toml cannot state: the four top-level folders form one import namespace
(``ecomsuite``, ``ecomsuite.trainers`` <- trainers/, ``ecomsuite.leaderboard`` <- leaderboard/,
``ecomsuite.tasks`` <- tasks/), and every folder under them is a package, so a new task family, template
folder or sample-data folder ships without editing this file (setuptools warns about data folders left out
of ``packages``). Everything else is in pyproject.toml."""
from setuptools import find_namespace_packages, setup

ROOTS = {"ecomsuite": "ecomsuite", "ecomsuite.trainers": "trainers", "ecomsuite.leaderboard": "leaderboard",
         "ecomsuite.tasks": "tasks"}


def packages() -> list[str]:
    found = []
    for name, folder in ROOTS.items():
        found += [name] + [f"{name}.{p}" for p in find_namespace_packages(folder, exclude=["*__pycache__*"])
                           if not (name == "ecomsuite" and p.split(".")[0] in ("trainers", "leaderboard", "tasks"))]
    return found


setup(package_dir=ROOTS, packages=packages())
