"""Task taxonomies: domain → category → subcategory, each with a description.

Records are tagged (category, subcategory). The defaults (math: the 7 MATH subjects and GSM8K-style word
problems; code: HumanEval/MBPP kinds of problems; general reasoning) ship as JSON beside this module; a user
file (YAML or JSON, `MEMCOLLAB_TAXONOMY`) is merged over them. Tags are free strings: the taxonomy guides
clients and the classifier, and nothing ever rejects a tag it does not list.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

DEFAULT_DOMAINS = ("math", "code", "reasoning")


class Subcategory(BaseModel):
    name: str
    description: str = ""


class Category(BaseModel):
    name: str
    description: str = ""
    subcategories: list[Subcategory] = []


class Domain(BaseModel):
    domain: str
    description: str = ""
    categories: list[Category]


class Taxonomy(BaseModel):
    domains: list[Domain]

    def entries(self) -> list[tuple[str, str, str]]:
        """(category, subcategory, text) for every subcategory; the text is what the classifier embeds."""
        return [(c.name, s.name, f"{c.name}: {s.name} — {s.description or c.description}")
                for d in self.domains for c in d.categories for s in c.subcategories]

    def categories(self) -> list[str]:
        return [c.name for d in self.domains for c in d.categories]

    def find(self, category: str, subcategory: str | None = None) -> tuple[str, str | None] | None:
        """The canonical spelling of a tag, matched case-insensitively; None when the taxonomy lacks it."""
        for d in self.domains:
            for c in d.categories:
                if c.name.casefold() != category.strip().casefold():
                    continue
                if subcategory is None:
                    return c.name, None
                for s in c.subcategories:
                    if s.name.casefold() == subcategory.strip().casefold():
                        return c.name, s.name
        return None

    def as_text(self) -> str:
        """A compact listing for prompts: one line per category."""
        return "\n".join(f"{d.domain} / {c.name}: {'; '.join(s.name for s in c.subcategories)}"
                         for d in self.domains for c in d.categories)

    def as_json(self) -> dict[str, Any]:
        return self.model_dump()


@cache
def default_taxonomy() -> Taxonomy:
    folder = resources.files("memcollab.store") / "taxonomies"
    return Taxonomy(domains=[Domain(**json.loads((folder / f"{name}.json").read_text("utf-8")))
                             for name in DEFAULT_DOMAINS])


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """The default taxonomy, with the domains of a user file (YAML or JSON) replacing or extending it."""
    base = default_taxonomy()
    if path is None:
        return base
    path = Path(path).expanduser()
    try:
        text = path.read_text("utf-8")
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("expected a mapping with 'domain' or 'domains'")
        user = [Domain(**d) for d in data["domains"]] if "domains" in data else [Domain(**data)]
    except (OSError, ValueError, TypeError, KeyError, ValidationError, ImportError) as err:
        raise ValueError(f"taxonomy file {path}: {str(err).splitlines()[0]}") from None
    except Exception as err:  # yaml.YAMLError and friends
        raise ValueError(f"taxonomy file {path}: {type(err).__name__}: {str(err).splitlines()[0]}") from None
    names = {d.domain for d in user}
    return Taxonomy(domains=[d for d in base.domains if d.domain not in names] + user)
