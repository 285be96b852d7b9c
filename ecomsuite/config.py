"""One config layer for ``ecomsuite sft``, ``merge`` and ``baseline`` (and the runs a study plans).

A command's options are one dataclass; every field carries its help text in ``metadata`` (the way
transformers' ``HfArgumentParser`` and TRL's ``TrlParser`` read dataclass fields). A command line is

    [RECIPE.yaml | packaged recipe name] [key=value ...] [--flags]

later sources win: recipe < ``key=value`` < ``--flag``. Values of ``key=value`` and of flags are YAML
(``1e-5`` is a number, ``[a, b]`` a list, ``null`` None); ``a.b=v`` sets one key of a mapping. Every problem
(an unknown key, a value of the wrong kind, and whatever the command's own validator finds) is collected
with where it came from and reported at once in one ``EcomError``.

    parser = ConfigParser(MyConfig, "ecomsuite thing", "What it does.", recipes=RECIPES_DIR, prefix="thing_")
    cfg = parser.parse(argv, validate=my_checks)     # my_checks(cfg) -> ["key: what is wrong", ...]
"""
from __future__ import annotations

import argparse
import dataclasses
import difflib
import math
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from ecomsuite import EcomError, read_yaml_mapping

_EXP_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+")
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def option(default: Any = dataclasses.MISSING, help: str = "", *, aliases: Sequence[str] = (),
           default_factory: Any = dataclasses.MISSING, metavar: str | None = None):
    """A config field with its ``--help`` sentence; ``aliases``: other accepted key names (``lr``)."""
    meta = {"help": help, "aliases": tuple(aliases), "metavar": metavar}
    if default_factory is not dataclasses.MISSING:
        return field(default_factory=default_factory, metadata=meta)
    return field(default=default, metadata=meta)


def yaml_value(text: str):
    """A ``key=value`` value or a flag's value as YAML; ``1e-5`` is a number too (PyYAML wants ``1.0e-5``)."""
    import yaml

    if isinstance(text, str) and _EXP_NUMBER.fullmatch(text.strip()):
        return float(text)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def find_recipe(name: str, folder: Path | None, prefix: str = "") -> Path | None:
    """A recipe file, or a packaged one by name (``folder/name[.yaml]``); None when ``name`` is neither and
    does not look like a YAML file name (then it is something else, e.g. a task name)."""
    p = Path(name).expanduser()
    if p.is_file():
        return p
    for cand in (() if folder is None else (folder / name, folder / f"{name}.yaml")):
        if cand.is_file():
            return cand
    if name.endswith((".yaml", ".yml")):
        raise EcomError(f"{name}: recipe not found (give a YAML file"
                        + (f", or a packaged recipe: {', '.join(packaged_recipes(folder, prefix))})" if folder else ")"))
    return None


def packaged_recipes(folder: Path, prefix: str) -> list[str]:
    return sorted(q.stem for q in folder.glob(f"{prefix}*.yaml"))


def _kind(hint) -> tuple[str, bool, type | None]:
    """(bool | int | float | str | list | dict | any, None allowed, list element type) of a field's type."""
    args = typing.get_args(hint)
    optional = type(None) in args
    if args and typing.get_origin(hint) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        rest = [a for a in args if a is not type(None)]
        hint = rest[0] if len(rest) == 1 else Any
    origin = typing.get_origin(hint) or hint
    if origin is list:
        elem = (typing.get_args(hint) or (None,))[0]
        return "list", optional, elem if elem in (str, int, float) else None
    names = {bool: "bool", int: "int", float: "float", str: "str", dict: "dict"}
    return names.get(origin, "any"), optional, None


def _number(value, integer: bool):
    what = "must be an integer" if integer else "must be a finite number"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(what)
    try:
        f = float(value)
    except ValueError:
        raise ValueError(what) from None
    if not math.isfinite(f) or (integer and f != int(f)):
        raise ValueError(what)
    return int(f) if integer else f


def _convert(kind: str, elem, value):
    """``value`` as ``kind``; raises ValueError with what was expected."""
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError("must be true or false")
    if kind in ("int", "float"):
        return _number(value, kind == "int")
    if kind == "str":
        if isinstance(value, (dict, list)):
            raise ValueError("must be a single value")
        return str(value)
    if kind == "list":
        if isinstance(value, str):
            value = [v for v in re.split(r"[,\s]+", value.strip()) if v]
        if not isinstance(value, list):
            value = [value]
        return [_convert({str: "str", int: "int", float: "float"}[elem], None, v) for v in value] if elem else value
    if kind == "dict" and not isinstance(value, dict):
        raise ValueError("must be a mapping, e.g. {a: 1, b: 2}")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line through the CLI's EcomError path, not argparse's usage dump
        raise EcomError(f"{self.prog}: {message} (see {self.prog} --help)")


@dataclass
class Source:
    """Where a key's value came from: a recipe file, a ``key=value`` item or a flag."""
    text: str

    def __str__(self) -> str:
        return self.text


class ConfigParser:
    """Recipe + ``key=value`` + flags -> one dataclass, with help text for every key (see module docstring).

    ``positional``: what a bare word that is not a recipe means (e.g. ``"task"`` for a baseline's task name);
    None: a bare word must be a recipe."""

    def __init__(self, cls, prog: str, description: str, *, recipes: Path | None = None, prefix: str = "",
                 examples: Sequence[str] = (), notes: str = "", positional: str | None = None,
                 positional_help: str = ""):
        self.cls, self.prog, self.description = cls, prog, description
        self.recipes, self.prefix, self.examples, self.notes = recipes, prefix, list(examples), notes
        self.positional, self.positional_help = positional, positional_help
        self.fields = {f.name: f for f in dataclasses.fields(cls)}
        hints = typing.get_type_hints(cls)
        self.kinds = {n: _kind(hints[n]) for n in self.fields}
        self.aliases = {a: n for n, f in self.fields.items() for a in f.metadata.get("aliases", ())}

    # --------------------------------------------------------------------------------------- help
    def help_text(self, name: str) -> str:
        f = self.fields[name]
        text = f.metadata.get("help", "")
        if f.default is not dataclasses.MISSING and f.default not in (None, "", False) and "default" not in text:
            text += f" (default {f.default})"
        return text.replace("%", "%%")

    def missing_help(self) -> list[str]:
        return [n for n, f in self.fields.items() if not f.metadata.get("help")]

    def build(self) -> argparse.ArgumentParser:
        epilog = ""
        if self.examples:
            epilog += "examples:\n" + "".join(f"  {e}\n" for e in self.examples)
        if self.notes:
            epilog += self.notes + "\n"
        epilog += ("recipe keys are the flags' names with '_' (train_size: 1000); later sources win: "
                   "recipe < key=value < --flag")
        if self.recipes is not None:
            epilog += "\nrecipes: " + ", ".join(packaged_recipes(self.recipes, self.prefix))
        p = _Parser(prog=self.prog, description=self.description, epilog=epilog,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("items", nargs="*", metavar=("TASK|" if self.positional else "") + "RECIPE|key=value",
                       help=self.positional_help or "a recipe (file or packaged name) and key=value overrides "
                                                    "(YAML values)")
        for name, f in self.fields.items():
            kind, _, _ = self.kinds[name]
            flags = ["--" + n.replace("_", "-") for n in (name, *f.metadata.get("aliases", ()))]
            if kind == "bool":
                p.add_argument(*flags, dest=name, action="store_const", const=True, default=None,
                               help=self.help_text(name))
                if f.default is True:
                    p.add_argument("--no-" + name.replace("_", "-"), dest=name, action="store_const", const=False,
                                   help=f"turn {flags[0]} off")
            elif kind == "list":
                p.add_argument(*flags, dest=name, nargs="+", default=None, metavar=f.metadata.get("metavar") or "V",
                               help=self.help_text(name))
            else:
                p.add_argument(*flags, dest=name, default=None, metavar=f.metadata.get("metavar") or "V",
                               help=self.help_text(name))
        return p

    # ------------------------------------------------------------------------------------ parsing
    def key(self, text: str) -> str:
        k = str(text).strip().replace("-", "_")
        return self.aliases.get(k, k)

    def unknown(self, key: str, where: str) -> str:
        near = difflib.get_close_matches(key, [*self.fields, *self.aliases], n=1)
        return (f"unknown key {key!r} in {where}" + (f" (did you mean {near[0]!r}?)" if near else "")
                + f"; see {self.prog} --help")

    def gather(self, argv: Sequence[str]) -> tuple[dict, dict, str, list[str]]:
        """(raw values, key -> Source, the overall source name, problems): nothing converted yet."""
        ns = self.build().parse_intermixed_args(list(argv))
        items = list(ns.items)
        for name in self.fields:  # `--tasks a b key=value`: argparse gives key=value to the list flag
            v = getattr(ns, name)
            if self.kinds[name][0] == "list" and v:
                items += [x for x in v if "=" in x]
                setattr(ns, name, [x for x in v if "=" not in x] or None)
        raw: dict = {}
        where: dict = {}
        problems: list[str] = []
        source = self.prog
        for item in (i for i in items if "=" not in i):
            recipe = find_recipe(item, self.recipes, self.prefix)
            if recipe is not None:
                if source != self.prog:
                    raise EcomError(f"give one recipe, got {source} and {recipe} (overrides are key=value)")
                source = str(recipe)
                for k, v in read_yaml_mapping(recipe, "a recipe", f"{self.prog} --help").items():
                    k2 = self.key(k)
                    if k2 not in self.fields:
                        problems.append(self.unknown(str(k), str(recipe)))
                    else:
                        raw[k2], where[k2] = v, Source(str(recipe))
            elif self.positional and self.positional not in where:
                raw[self.positional], where[self.positional] = item, Source(f"argument {item!r}")
            elif self.positional:
                problems.append(f"{item!r}: a second {self.positional} (one per run; overrides are key=value)")
            else:
                known = f" ({', '.join(packaged_recipes(self.recipes, self.prefix))})" if self.recipes else ""
                problems.append(f"{item!r}: not a recipe file or packaged recipe{known}; overrides are key=value")
        for item in (i for i in items if "=" in i):
            k, _, text = item.partition("=")
            top, dot, sub = self.key(k).partition(".")
            top = self.key(top)
            if top not in self.fields:
                problems.append(self.unknown(k.strip(), item))
                continue
            val = yaml_value(text)
            if dot:  # train_size.ecom_esci=500
                cur = raw.get(top)
                val = {**(cur if isinstance(cur, dict) else {}), sub: val}
            raw[top], where[top] = val, Source(item)
        for name in self.fields:
            v = getattr(ns, name)
            if v is None:
                continue
            kind = self.kinds[name][0]
            flag = "--" + name.replace("_", "-")
            raw[name] = v if kind in ("bool", "str") else [yaml_value(x) for x in v] if kind == "list" \
                else yaml_value(v)
            where[name] = Source(flag)
        return raw, where, source, problems

    def convert(self, raw: dict, where: dict, problems: list[str]) -> dict:
        values = {}
        for k, v in raw.items():
            kind, optional, elem = self.kinds[k]
            if v is None or (isinstance(v, str) and v.strip().lower() in ("null", "none") and kind != "str"):
                if optional or self.fields[k].default is None:
                    values[k] = None
                else:
                    problems.append(f"{k}: needs a value [{where.get(k, 'config')}]")
                continue
            try:
                values[k] = _convert(kind, elem, v)
            except ValueError as e:
                problems.append(f"{k}: {e} (got {v!r}) [{where.get(k, 'config')}]")
        return values

    def parse(self, argv: Sequence[str], validate: Callable[[Any], list[str]] | None = None,
              prepare: Callable[[dict], None] | None = None):
        """argv -> the config; every problem of the recipe, the overrides, the flags and ``validate`` at once.
        ``prepare(raw)`` may normalise raw values first (e.g. ``all`` -> None)."""
        raw, where, source, problems = self.gather(argv)
        if prepare:
            prepare(raw)
        values = self.convert(raw, where, problems)
        cfg = self.cls(**values)
        if validate is not None:
            problems += [self.locate(p, where) for p in validate(cfg) if p not in problems]
        if problems:
            raise EcomError(f"{source}: {len(problems)} problem(s): " + "; ".join(problems))
        return cfg

    def locate(self, problem: str, where: dict) -> str:
        """``key: msg`` -> ``key: msg [--flag]`` when the key was set by a flag or a key=value item."""
        key = re.split(r"[:.\s]", problem, maxsplit=1)[0]
        src = where.get(key)
        return f"{problem} [{src}]" if src is not None and "[" not in problem else problem
