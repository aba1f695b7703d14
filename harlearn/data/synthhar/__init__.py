"""SynthHAR: a procedural still-image action dataset, written in the real datasets' layouts.

No dataset can be downloaded where this course is built, and a CPU cannot learn Stanford40
in minutes anyway. SynthHAR is the stand-in every chapter trains on: a numpy + Pillow
generator, deterministic by seed, that draws articulated people doing 16 of the Stanford40
actions and writes them *in the on-disk layouts of Stanford40 and PASCAL VOC 2012 Action*,
so the same loaders (:class:`~harlearn.data.stanford40.Stanford40`,
:class:`~harlearn.data.voc_action.VOCAction`) read it and the real data.

It is built to make the phenomena of the course visible on a CPU:

- **intra-class variance**: every person has their own proportions, skin, clothes, scale,
  position and view angle (front, profile, three-quarter, back), and every pose is jittered;
- **inter-class similarity**: five confusable pairs share their objects and differ only in
  the pose or the person-object relation (riding vs fixing a bike, riding vs feeding a horse,
  reading vs writing on a book, applauding vs waving, phoning vs texting);
- **misleading context**: bystanders in idle poses, objects of other classes in the scene,
  clutter and occluders; and a ``context_bias`` knob that puts a designated object of another
  class next to the actor in the *training* split only, so a model that learns the shortcut
  is caught by the unbiased test split.

How it departs from real data: the people are flat cartoon figures (a 17-keypoint COCO
skeleton with thick limbs), the scenes are drawn from a small grammar of shapes, every label
is exact and every class is balanced. It also records what real data lacks: keypoints,
person masks and object boxes, in sidecar files (``Extras/<id>.json`` and ``<id>_mask.png``)
that the loaders expose when present. Numbers on SynthHAR are about SynthHAR; the ``full``
profile is for claims about Stanford40 and VOC.

The package, one concept a module:

- :mod:`.build`: :func:`~.build.make_synthhar`, one dataset into one folder (work list, workers,
  atomic install, ``synthhar.json``);
- :mod:`.layouts`: the Stanford40 and VOC annotation and index files;
- :mod:`.corpus`: the pretraining corpus of the course checkpoints (:func:`~.corpus.make_corpus`,
  :func:`~.corpus.corpus_root`): posed people and objects with their own labels, seeds disjoint
  from every course image;
- :mod:`.clips`: SynthHAR clips (:func:`~.clips.make_clips`, :func:`~.clips.clips_root`): short
  videos of one animated person in UCF101's layout, with classes only motion separates
  (time-reversal and rhythm pairs), seeds disjoint from every still image;
- :mod:`.cache`: :func:`~.cache.synthhar_root`, where a profile's dataset lives, and ``--prepare``;
- :mod:`.captions`: captions derived from each image's sidecar annotation (verb x object x
  context, several templates) and the held-out verb-object combinations, for CLIP
  (:class:`harlearn.data.captions.CaptionDataset` reads them);
- :mod:`.render`: drawing one scene (canvas, figure, objects, actions, scene; formerly
  ``harlearn.data.synth``, which still re-exports it);
- ``__main__``: the command line.

Every public name of the former single module ``harlearn/data/synthhar.py`` (and ``main``)
still imports from here.

Usage::

    from harlearn.data.synthhar import make_synthhar, synthhar_root
    root = make_synthhar("/tmp/synthhar", images_per_class=20, image_size=96)
    root = synthhar_root()                      # the cached dataset of the current profile
    root = synthhar_root(context_bias=0.9)      # the biased variant (Loss-Guided Activation)

From a shell::

    python -m harlearn.data.synthhar --prepare          # what the current profile's chapters need
    python -m harlearn.data.synthhar --root DIR --images-per-class 50 --image-size 128
"""

from __future__ import annotations

from typing import Any

from .build import GENERATOR_VERSION, JPEG_QUALITY, LAYOUTS, make_synthhar
from .build import _stanford40_tasks, _voc_tasks  # noqa: F401  the work lists, for benchmarks/
from .corpus import CORPUS_LABELS, corpus_root, make_corpus
from .clips import CLIP_CLASSES, clips_root, make_clips
from .cache import PREPARE_BIASES, data_home, synthhar_key, synthhar_root
from .captions import HELD_OUT_COMBINATIONS, VERB_OBJECT, held_out_classes, write_captions
from .render.actions import (
    CLASS_OBJECTS, CLASSES, CONFUSABLE_PAIRS, DESIGNATED_DISTRACTOR, DISTRACTOR_OBJECTS, VOC_ACTIONS, VOC_MAPPING,
)
from .render.figure import KEYPOINTS, SKELETON
from .render.scene import DEFAULT_DIFFICULTY, Difficulty, render_scene

__all__ = [
    "make_synthhar", "synthhar_root", "synthhar_key", "GENERATOR_VERSION", "LAYOUTS", "CLASSES",
    "CONFUSABLE_PAIRS", "VOC_ACTIONS", "VOC_MAPPING", "DESIGNATED_DISTRACTOR", "Difficulty",
    "PREPARE_BIASES", "make_corpus", "corpus_root", "CORPUS_LABELS", "make_clips", "clips_root", "CLIP_CLASSES",
    "VERB_OBJECT", "HELD_OUT_COMBINATIONS", "held_out_classes", "write_captions",
]


def __getattr__(name: str) -> Any:
    # ``main`` lives in __main__.py, imported on first use (PEP 562): importing it here would make
    # ``python -m harlearn.data.synthhar`` find the module it is about to run already imported.
    if name == "main":
        from .__main__ import main

        return main
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
