"""SynthHAR captions: what each scene really holds, in words, for CLIP (issue 16).

Captions are **derived** from the sidecar annotation that every SynthHAR image already has
(``Extras/<id>.json``: its persons, each an ``actor`` with an ``action`` or a ``bystander``, and
its objects, each a ``prop`` of an actor or a ``distractor``), so no dataset is regenerated
and the generator is unchanged. They are deterministic (the same record gives the same
captions) and compositional by construction:

- **verb x object**: every action is a verb phrase with its object, :data:`VERB_OBJECT`
  (``riding_a_horse`` = ("riding", "horse"), ``texting_message`` = ("typing on", "phone"),
  ``using_a_computer`` = ("typing on", "laptop"), ``running`` = ("running", None), ...);
- **how many**: one or two actors ("a person riding a bike", "two people riding bikes"),
  different actions joined ("a person reading a book and a person running", VOC layout), and
  the total number of people (actors + annotated bystanders: "three people in the picture");
- **context**: the distractor objects ("with a dog and a laptop nearby"), the bystanders
  ("and one other person in the background") and the furniture props ("at a table" when the
  actor's props include a table, else "sitting on a chair" with a chair).

:data:`TEMPLATES` gives :data:`NUM_TEMPLATES` wordings of one scene, from the bare action to
everything; :func:`captions` returns all of them, :func:`caption` one. In the Stanford40 layout
(one or two actors) every caption is at most 32 tokens long, start and end included.

What the annotations do not hold, and the captions therefore never say: indoor or outdoor,
the clothes, the view angle, left or right, whether a bystander is a child. Objects are named
once each (a stack of three distractor books is "a book"): a distractor's records cannot tell
one stack from several books. A distractor is listed even when an actor hides most of it.

**Held-out verb-object combinations** (:data:`HELD_OUT_COMBINATIONS`): ("riding", "horse") and
("typing on", "phone"), i.e. the classes ``riding_a_horse`` and ``texting_message``
(:func:`held_out_classes`). They are the two combinations whose verb *and* object both occur in
other classes: "riding" in ``riding_a_bike`` and "horse" in ``feeding_a_horse``; "typing on" in
``using_a_computer`` and "phone" in ``phoning`` (and every object also occurs as a distractor in
other classes' captions). No other class qualifies: every other verb takes one object only.
A CLIP trained without these two classes' images can then be asked, zero-shot, to recognise
"riding a horse" and "typing on a phone" from words it learned in other pairings: transfer to
*unseen combinations* (:class:`harlearn.data.captions.CaptionDataset` with ``hold_out=True``).

Why "typing on a phone" and not "texting": texting is typing on a phone; naming it so is what
makes the combination composable, and the Stanford40 name ("texting message") stays available
(:func:`class_text` with ``style="name"``) for the prompt-wording experiment.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .render.actions import CLASSES

__all__ = [
    "VERB_OBJECT", "HELD_OUT_COMBINATIONS", "held_out_classes", "seen_classes", "SceneFacts",
    "scene_facts", "read_scene_facts", "action_phrase", "class_text", "TEMPLATES", "NUM_TEMPLATES",
    "captions", "caption", "PROMPT_TEMPLATES", "write_captions", "CAPTIONS_FILE",
]

#: Each class as (verb, object or None): the compositional name its captions use.
VERB_OBJECT: dict[str, tuple[str, str | None]] = {
    "applauding": ("applauding", None),
    "feeding_a_horse": ("feeding", "horse"),
    "fixing_a_bike": ("fixing", "bike"),
    "jumping": ("jumping", None),
    "phoning": ("talking on", "phone"),
    "playing_guitar": ("playing", "guitar"),
    "reading": ("reading", "book"),
    "riding_a_bike": ("riding", "bike"),
    "riding_a_horse": ("riding", "horse"),
    "running": ("running", None),
    "taking_photos": ("taking photos with", "camera"),
    "texting_message": ("typing on", "phone"),
    "using_a_computer": ("typing on", "laptop"),
    "walking_the_dog": ("walking", "dog"),
    "waving_hands": ("waving", None),
    "writing_on_a_book": ("writing in", "book"),
}
#: Verb-object pairs whose images CLIP does not train on (see the module docstring).
HELD_OUT_COMBINATIONS: tuple[tuple[str, str], ...] = (("riding", "horse"), ("typing on", "phone"))
#: The name of every object the annotations hold that captions mention.
_OBJECT_WORDS = {"bike": "bike", "book": "book", "camera": "camera", "dog": "dog", "guitar": "guitar",
                 "horse": "horse", "laptop": "laptop", "phone": "phone"}
_NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
#: The file :func:`write_captions` writes into a dataset root.
CAPTIONS_FILE = "captions.jsonl"


def held_out_classes() -> tuple[str, ...]:
    """The classes whose (verb, object) is in :data:`HELD_OUT_COMBINATIONS`, in class order."""
    return tuple(c for c in CLASSES if VERB_OBJECT[c] in HELD_OUT_COMBINATIONS)


def seen_classes() -> tuple[str, ...]:
    """The classes CLIP trains on when the held-out combinations are left out."""
    held = set(held_out_classes())
    return tuple(c for c in CLASSES if c not in held)


# ---- the facts of one scene ---------------------------------------------------------------------
@dataclass(frozen=True)
class SceneFacts:
    """What a SynthHAR image holds, as its annotation records it."""

    actions: tuple[str, ...]  # one action per actor, in annotation order
    bystanders: int = 0  # annotated bystanders (doing none of the actions; hidden ones are not annotated)
    distractors: tuple[str, ...] = ()  # the distinct names of the distractor objects, in annotation order
    props: tuple[str, ...] = ()  # the distinct names of the actors' props (their objects; chair, table, pen, leash)

    @property
    def num_people(self) -> int:
        """Actors plus bystanders: every annotated person."""
        return len(self.actions) + self.bystanders

    @property
    def combinations(self) -> tuple[tuple[str, str | None], ...]:
        """The (verb, object) of every actor."""
        return tuple(VERB_OBJECT[a] for a in self.actions)


def _distinct(names: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


def scene_facts(record: dict[str, Any]) -> SceneFacts:
    """The facts of one sidecar record (``{"persons": [...], "objects": [...]}``).

    Raises:
        ValueError: the record has no actor, or an actor's action is not a SynthHAR class.
    """
    persons = record.get("persons", [])
    actions = tuple(p["action"] for p in persons if p.get("role") == "actor")
    if not actions:
        raise ValueError("The annotation lists no actor: captions describe an actor's action.")
    unknown = [a for a in actions if a not in VERB_OBJECT]
    if unknown:
        raise ValueError(f"Unknown actions {unknown} in the annotation: not SynthHAR classes.")
    objects = record.get("objects", [])
    return SceneFacts(
        actions=actions,
        bystanders=sum(1 for p in persons if p.get("role") == "bystander"),
        distractors=_distinct([o["name"] for o in objects if o.get("role") == "distractor" and o["name"] in _OBJECT_WORDS]),
        props=_distinct([o["name"] for o in objects if o.get("role") == "prop"]),
    )


def read_scene_facts(root: str | os.PathLike, image_id: str, extras: str = "Extras") -> SceneFacts:
    """The facts of image ``image_id`` from ``root/Extras/<image_id>.json``.

    Args:
        root: a SynthHAR dataset root in the Stanford40 layout (or ``VOCdevkit/VOC2012``).
        image_id: the image's file stem.
        extras: the sidecar folder's name.

    Raises:
        FileNotFoundError: no sidecar (real Stanford40 / VOC have none: captions exist for SynthHAR only).
        ValueError: the sidecar cannot be read.
    """
    path = Path(root) / extras / f"{image_id}.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"No annotation sidecar {path}: captions are derived from SynthHAR's sidecars, which real "
            "Stanford40 and VOC do not have. Use SynthHAR (the ci / book profiles) for image-caption "
            "pairs; with real data, zero-shot classification needs only the class prompts."
        )
    try:
        return scene_facts(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"Cannot derive captions from {path} ({err}): regenerate the dataset with make_synthhar.") from None


# ---- words --------------------------------------------------------------------------------------
def _number(n: int) -> str:
    return _NUMBERS[n] if 0 <= n < len(_NUMBERS) else str(n)


def _people(n: int) -> str:
    """``one person``, ``two people``, ..."""
    return f"{_number(n)} {'person' if n == 1 else 'people'}"


def _a(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def _list(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def action_phrase(action: str, plural: bool = False) -> str:
    """The verb phrase of a class: ``riding a horse`` (``riding horses`` for several actors)."""
    verb, obj = VERB_OBJECT[action]
    if obj is None:
        return verb
    word = _OBJECT_WORDS[obj]
    return f"{verb} {word}s" if plural else f"{verb} {_a(word)}"


def class_text(action: str, style: str = "phrase") -> str:
    """A class as text for a prompt.

    Args:
        action: a SynthHAR class.
        style: ``"phrase"``, the captions' verb phrase (``texting_message`` -> ``typing on a
            phone``), or ``"name"``, the Stanford40 name with spaces (``texting message``).
    """
    if style == "phrase":
        return action_phrase(action)
    if style == "name":
        return action.replace("_", " ")
    raise ValueError(f"style must be 'phrase' or 'name', got {style!r}.")


def _actors(f: SceneFacts) -> str:
    """``a person riding a bike``, ``two people riding bikes``, ``a person reading a book and a person running``."""
    groups: dict[str, int] = {}
    for a in f.actions:
        groups[a] = groups.get(a, 0) + 1
    parts = [f"{'a person' if k == 1 else _people(k)} {action_phrase(a, plural=k > 1)}" for a, k in groups.items()]
    return _list(parts)


def _setting(f: SceneFacts) -> str:
    """`` at a table`` / `` sitting on a chair`` (one kind of action only), else empty."""
    if len(set(f.actions)) > 1:
        return ""
    if "table" in f.props:
        return " at a table"
    if "chair" in f.props:
        return " sitting on a chair"
    return ""


def _objects(f: SceneFacts) -> str:
    return _list([_a(_OBJECT_WORDS[o]) for o in f.distractors])


def _others(f: SceneFacts) -> str:
    """``one other person`` / ``two other people``."""
    n = f.bystanders
    return f"{_number(n)} other {'person' if n == 1 else 'people'}"


def _t_photo(f: SceneFacts) -> str:  # the action only, CLIP's prompt style
    return f"a photo of {_actors(f)}{_setting(f)}."


def _t_full(f: SceneFacts) -> str:  # the action, the objects around, the bystanders
    s = f"{_actors(f)}{_setting(f)}"
    if f.distractors:
        s += f", with {_objects(f)} nearby"
    if f.bystanders:
        s += f", {'and' if f.distractors else 'with'} {_others(f)} in the background"
    return s + "."


def _t_count(f: SceneFacts) -> str:  # how many people, then who does what
    s = f"{_people(f.num_people)} in the picture: {_actors(f)}{_setting(f)}"
    if f.bystanders:
        s += f" while {_others(f)} {'stands' if f.bystanders == 1 else 'stand'} by"
    return s + "."


def _t_objects_first(f: SceneFacts) -> str:  # the context first
    s = f"next to {_objects(f)}, " if f.distractors else ""
    s += f"{_actors(f)}{_setting(f)}"
    if f.bystanders:
        s += f"; {_people(f.num_people)} in all"
    return s + "."


def _t_bare(f: SceneFacts) -> str:  # the shortest
    return f"{_actors(f)}."


#: The caption wordings, from :func:`captions`'s first to last.
TEMPLATES: tuple[Callable[[SceneFacts], str], ...] = (_t_photo, _t_full, _t_count, _t_objects_first, _t_bare)
NUM_TEMPLATES = len(TEMPLATES)

#: Zero-shot prompt templates for a class phrase (``{}`` = :func:`class_text`): the caption
#: styles above and wordings the captions never use, for the prompt-sensitivity experiment.
PROMPT_TEMPLATES: tuple[str, ...] = (
    "a photo of a person {}.",
    "a person {}.",
    "one person in the picture: a person {}.",
    "someone {}.",
    "a picture of somebody {}.",
    "an image showing a human {}.",
    "{}",
)


def captions(facts: SceneFacts) -> tuple[str, ...]:
    """Every caption of a scene, one per template (deterministic)."""
    return tuple(t(facts) for t in TEMPLATES)


def caption(facts: SceneFacts, template: int = 0) -> str:
    """One caption of a scene: template number ``template`` (0 to ``NUM_TEMPLATES - 1``)."""
    if not 0 <= template < NUM_TEMPLATES:
        raise ValueError(f"template must be in 0..{NUM_TEMPLATES - 1}, got {template}.")
    return TEMPLATES[template](facts)


# ---- captions beside the images -----------------------------------------------------------------
def write_captions(root: str | os.PathLike, splits: Sequence[str] = ("train", "test")) -> Path:
    """Write every image's captions to ``root/captions.jsonl`` (Stanford40 layout), atomically.

    One JSON line per image, in split-file order: ``{"image_id", "split", "action",
    "held_out", "num_people", "captions": [...]}``. The file is derived from the sidecars (the
    same captions :func:`captions` gives); it is for reading and grepping, nothing reads it back.

    Returns:
        The file's path.
    """
    root = Path(root)
    lines = []
    for split in splits:
        split_file = root / "ImageSplits" / f"{split}.txt"
        if not split_file.is_file():
            raise FileNotFoundError(f"No split file {split_file}: is {root} a SynthHAR dataset in the Stanford40 layout?")
        held = set(held_out_classes())
        for name in split_file.read_text(encoding="utf-8").split():
            image_id = Path(name).stem
            f = read_scene_facts(root, image_id)
            lines.append(json.dumps({
                "image_id": image_id, "split": split, "action": f.actions[0],
                "held_out": any(a in held for a in f.actions),
                "num_people": f.num_people, "captions": list(captions(f)),
            }))
    out = root / CAPTIONS_FILE
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, out)
    return out
