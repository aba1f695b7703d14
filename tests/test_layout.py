"""The library layout: every old public name still imports from its old path; no import cycle;
models never import the training loop.

``OLD_NAMES`` is the public surface before the layout change of issue 12 (every module's
``__all__`` and top-level public names, plus the private helpers that tests and chapters
import), frozen here so that a later move cannot silently break an import path.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "harlearn"

OLD_NAMES = {
    'harlearn': [
        'metrics', 'profiles', 'rerank', 'viz',
    ],
    'harlearn.data': [
        'Stanford40', 'VOCAction', 'VOC_ACTIONS', '_download', 'collate', 'course_datasets',
        'course_root', 'data_home', 'make_synthhar', 'synthhar', 'synthhar_root', 'transforms',
    ],
    'harlearn.data._common': [
        'BOX_SLACK', 'REDOWNLOAD_HINT', 'STACKED_KEYS', 'SYNTHHAR_HINT', 'apply_transform',
        'check_box', 'check_split', 'collate', 'data_home', 'parse_xml', 'read_image', 'read_lines',
        'read_xml_box', 'require', 'to_boxes',
    ],
    'harlearn.data._download': [
        'Archive', 'DownloadError', 'STANFORD40_ARCHIVES', 'UnsafeArchiveError', 'VOC2012_ARCHIVES',
        'download_missing', 'fetch', 'safe_extract',
    ],
    'harlearn.data._extras': [
        'NUM_KEYPOINTS', 'Sidecar', 'read_sidecar',
    ],
    'harlearn.data.course': [
        'course_datasets', 'course_root',
    ],
    'harlearn.data.stanford40': [
        'Stanford40', 'read_actions',
    ],
    'harlearn.data.synth': [
        'actions', 'canvas', 'figure', 'objects', 'scene',
    ],
    'harlearn.data.synth.actions': [
        'BUILDERS', 'CLASSES', 'CLASS_OBJECTS', 'CONFUSABLE_PAIRS', 'DESIGNATED_DISTRACTOR',
        'DISTRACTOR_OBJECTS', 'VOC_ACTIONS', 'VOC_MAPPING', 'add_person', 'add_sprite',
        'applauding', 'build_actor', 'build_bystander', 'feeding_a_horse', 'fixing_a_bike',
        'jumping', 'phoning', 'playing_guitar', 'reading', 'riding_a_bike', 'riding_a_horse',
        'running', 'shadow', 'taking_photos', 'texting_message', 'using_a_computer',
        'walking_the_dog', 'waving_hands', 'writing_on_a_book',
    ],
    'harlearn.data.synth.canvas': [
        'Color', 'Group', 'Part', 'Prim', 'ellipse_pts', 'extents', 'mix', 'rasterize', 'rot',
        'shade',
    ],
    'harlearn.data.synth.figure': [
        'ANKLE_H', 'Body', 'Figure', 'HAIR', 'KEYPOINTS', 'LEFT', 'OUTLINE', 'RIGHT', 'SKIN',
        'random_body', 'two_bone',
    ],
    'harlearn.data.synth.objects': [
        'Sprite', 'WOOD', 'bike', 'book', 'camera', 'chair', 'colour_variant', 'dog', 'guitar',
        'horse', 'laptop', 'linear', 'pen', 'phone', 'table', 'tripod',
    ],
    'harlearn.data.synth.scene': [
        'DEFAULT_DIFFICULTY', 'Difficulty', 'Rendered', 'distractor_group', 'render_scene',
    ],
    'harlearn.data.synthhar': [
        'CLASSES', 'CONFUSABLE_PAIRS', 'DESIGNATED_DISTRACTOR', 'Difficulty', 'GENERATOR_VERSION',
        'JPEG_QUALITY', 'LAYOUTS', 'PREPARE_BIASES', 'SKELETON', 'VOC_ACTIONS', 'VOC_MAPPING',
        'data_home', 'main', 'make_synthhar', 'synthhar_key', 'synthhar_root',
    ],
    'harlearn.data.transforms': [
        'BatchMixUp', 'COCO_FLIP_PERMUTATION', 'IMAGENET_MEAN', 'IMAGENET_STD',
        'PhotometricRandAugment', 'RandomCropKeepBox', 'RandomHorizontalFlipPose', 'boxes_to_mask',
        'eval_transform', 'kept_fraction', 'mixup', 'train_transform',
    ],
    'harlearn.data.voc_action': [
        'VOCAction', 'VOC_ACTIONS', 'read_persons',
    ],
    'harlearn.layers': [
        'AttentionBottleneck', 'CBAM', 'ChannelGate', 'MultiHeadSelfAttention', 'NonLocalBlock',
        'SpatialGate', 'SqueezeExcite', 'add_attention', 'attention_reference',
        'sinusoidal_embedding_1d', 'sinusoidal_embedding_2d',
    ],
    'harlearn.layers.attention': [
        'MultiHeadSelfAttention', 'NonLocalBlock', 'attention_reference',
    ],
    'harlearn.layers.bottleneck': [
        'AttentionBottleneck', 'add_attention',
    ],
    'harlearn.layers.cbam': [
        'CBAM', 'ChannelGate', 'SpatialGate',
    ],
    'harlearn.layers.posembed': [
        'sinusoidal_embedding_1d', 'sinusoidal_embedding_2d',
    ],
    'harlearn.layers.se': [
        'SqueezeExcite',
    ],
    'harlearn.metrics': [
        'accuracy', 'average_precision', 'confusion_matrix', 'mean_average_precision',
        'per_class_average_precision', 'precision_recall_f1', 'retrieval_metrics',
        'self_retrieval_metrics', 'summary',
    ],
    'harlearn.models': [
        'BNNeckNet', 'ConViT', 'ConViTWithPersonBranch', 'DenseNet', 'FusionTransformer', 'GeM',
        'GlobalPoolRetrieval', 'GoogLeNet', 'HumanBranch', 'LossGuidedActivationNet',
        'RegionAwareActionNet', 'ResNet', 'VGG', 'ViTConvLayer', 'anchor_boxes_from_batch',
        'backbone_parameters', 'batch_embedding', 'batch_forward', 'batch_hard_triplet_loss',
        'box_from_keypoints', 'build_backbone', 'context_boxes_from_batch', 'densenet121',
        'detect_persons', 'detection_images', 'detection_targets', 'fasterrcnn', 'finetune_model',
        'fit_fusion_weights', 'fuse_probabilities', 'googlenet', 'head_parameters',
        'human_mask_loss', 'lga_loss_fn', 'mask_from_keypoints', 'person_boxes',
        'person_branch_forward', 'person_branch_loss', 'person_masks', 'predict_branches',
        'predicting_activation_map', 'rank_context_proposals', 'reid_loss_fn', 'resnet50',
        'retrieval_loss_fn', 'sum_of_activation_maps', 'train_detector', 'vgg16',
    ],
    'harlearn.models.cnn': [
        'DenseNet', 'GoogLeNet', 'ModelT', 'ResNet', 'VGG', 'backbone_parameters',
        'build_pretrained', 'densenet121', 'finetune_model', 'googlenet', 'head_parameters',
        'pretrained_weights_path', 'resnet50', 'vgg16',
    ],
    'harlearn.models.convit': [
        'ConViT', 'ConViTWithPersonBranch', 'HumanBranch', 'ViTConvLayer', 'feature_map_size',
        'fit_fusion_weights', 'fuse_probabilities', 'person_boxes', 'person_branch_forward',
        'person_branch_loss', 'predict_branches',
    ],
    'harlearn.models.densenet': [
        'DenseBlock', 'DenseLayer', 'DenseNet', 'Transition', 'densenet121',
    ],
    'harlearn.models.detection': [
        'COCO_PERSON', 'SmallBackbone', 'detect_persons', 'detection_images', 'detection_targets',
        'fasterrcnn', 'train_detector',
    ],
    'harlearn.models.googlenet': [
        'BasicConv2d', 'GoogLeNet', 'INCEPTION_TABLE', 'ImageNetToUnitRange', 'Inception',
        'googlenet',
    ],
    'harlearn.models.lga': [
        'LossGuidedActivationNet', 'box_from_keypoints', 'human_mask_loss', 'lga_loss_fn',
        'mask_from_keypoints', 'person_masks', 'predicting_activation_map',
        'sum_of_activation_maps',
    ],
    'harlearn.models.resnet': [
        'Bottleneck', 'ResNet', 'resnet50',
    ],
    'harlearn.models.retrieval': [
        'FusionTransformer', 'RegionAwareActionNet', 'TOKEN_CONTEXT', 'TOKEN_GLOBAL',
        'TOKEN_PERSON', 'anchor_boxes_from_batch', 'batch_embedding', 'batch_forward',
        'build_backbone', 'context_boxes_from_batch', 'masked_block_forward',
        'rank_context_proposals', 'retrieval_loss_fn',
    ],
    'harlearn.models.retrieval_baselines': [
        'BNNeckNet', 'GeM', 'GlobalPoolRetrieval', 'batch_hard_triplet_loss', 'gem', 'reid_loss_fn',
    ],
    'harlearn.models.vgg': [
        'VGG', 'VGG16_BLOCKS', 'vgg16', 'vgg_block',
    ],
    'harlearn.profiles': [
        'DEFAULT', 'ENV_VAR', 'PROFILES', 'Profile', 'current', 'device', 'get',
    ],
    'harlearn.rerank': [
        'k_reciprocal_rerank',
    ],
    'harlearn.train': [
        'CHECKPOINT_FORMAT', 'History', 'TrainConfig', 'default_loss', 'evaluate', 'fit',
        'load_checkpoint', 'logits_of', 'lr_factor', 'predict', 'save_checkpoint',
        'seed_everything',
    ],
    'harlearn.transformers': [
        'DropPath', 'MaskedAutoencoder', 'Mlp', 'PatchEmbed', 'PatchMerging', 'SwinBlock',
        'SwinTransformer', 'TransformerBlock', 'VisionTransformer', 'WindowAttention',
        'attention_rollout', 'encoder_to_classifier', 'load_timm_pretrained', 'patchify',
        'random_masking', 'shifted_window_mask', 'unpatchify', 'vit', 'vit_base_patch16_224',
        'vit_small_patch16_224', 'vit_tiny_patch16_224', 'window_partition', 'window_reverse',
    ],
    'harlearn.transformers.mae': [
        'MaskedAutoencoder', 'encoder_to_classifier', 'patchify', 'random_masking', 'unpatchify',
    ],
    'harlearn.transformers.swin': [
        'PatchMerging', 'SwinBlock', 'SwinHead', 'SwinStage', 'SwinTransformer', 'WindowAttention',
        'relative_position_index', 'shifted_window_mask', 'window_partition', 'window_reverse',
    ],
    'harlearn.transformers.vit': [
        'DropPath', 'Mlp', 'PatchEmbed', 'TransformerBlock', 'VisionTransformer',
        'attention_rollout', 'load_timm_pretrained', 'vit_base_patch16_224',
        'vit_small_patch16_224', 'vit_tiny_patch16_224',
    ],
    'harlearn.viz': [
        'COCO_KEYPOINTS', 'COCO_SKELETON', 'draw_item', 'grad_cam', 'overlay_heatmap',
        'plot_confusion_matrix', 'plot_history', 'show_images', 'to_image_array',
    ],
    'harlearn.widgets': [
        'PredictionExplorer',
    ],
}


@pytest.mark.parametrize("module", sorted(OLD_NAMES))
def test_every_old_name_imports_from_its_old_path(module):
    mod = importlib.import_module(module)

    def importable(name: str) -> bool:  # what `from module import name` accepts: an attribute or a submodule
        if hasattr(mod, name):
            return True
        try:
            importlib.import_module(f"{module}.{name}")
        except ImportError:
            return False
        return True

    missing = [name for name in OLD_NAMES[module] if not importable(name)]
    assert not missing, f"{module} lost {missing}"


def test_a_factory_named_like_its_module_still_builds_after_the_module_is_imported():
    import harlearn.models.googlenet  # noqa: F401 - sets the package attribute to the module
    from harlearn.models import GoogLeNet, googlenet

    assert isinstance(googlenet(7, base_width=4), GoogLeNet)


def test_moved_names_are_the_same_objects():
    from harlearn import explain, inference, train, viz
    from harlearn.layers import transformer, vit_conv
    from harlearn.models import backbones, cnn, convit, detection, retrieval, retrieval_baselines, transfer
    from harlearn.transformers import vit

    assert viz.grad_cam is explain.grad_cam and vit.attention_rollout is explain.attention_rollout
    assert vit.TransformerBlock is transformer.TransformerBlock and vit.PatchEmbed is transformer.PatchEmbed
    assert convit.ViTConvLayer is vit_conv.ViTConvLayer
    assert cnn.resnet50 is backbones.resnet50 and cnn.finetune_model is transfer.finetune_model
    assert retrieval_baselines.GeM is retrieval.GeM
    assert train.predict is inference.predict and train.evaluate is inference.evaluate
    assert detection.train_detector is train.train_detector

    from harlearn.data import synth, synthhar
    from harlearn.data.synthhar import build, cache, render

    assert synthhar.make_synthhar is build.make_synthhar and synthhar.synthhar_root is cache.synthhar_root
    for name in ("actions", "canvas", "figure", "objects", "scene"):
        old, new = getattr(synth, name), getattr(render, name)
        assert old.__all__ == new.__all__ and all(getattr(old, n) is getattr(new, n) for n in new.__all__), name


# --------------------------------------------------------------------------------------------
# The import graph
# --------------------------------------------------------------------------------------------


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path, modules: dict[str, Path], *, lazy: bool) -> set[str]:
    """The harlearn modules that ``name`` imports: at import time, or also inside functions (``lazy``).

    The bodies of module-level ``__getattr__`` functions (PEP 562 aliases for names that moved
    up the import graph, e.g. ``harlearn.models.train_detector``) are not counted: they run only
    when the old name is used, long after every module has been imported.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    edges: set[str] = set()

    def resolve(node: ast.ImportFrom) -> list[str]:
        base = node.module or ""
        if node.level:  # relative import
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
        return [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]

    def visit(statements: list[ast.stmt], top: bool) -> None:
        for node in statements:
            if isinstance(node, ast.Import):
                edges.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                edges.update(resolve(node))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if isinstance(node, ast.ClassDef) or (lazy and not (top and node.name == "__getattr__")):
                    visit(node.body, top=False)
            else:  # if / try / with / for ...: their bodies run when the enclosing code runs
                for field in ("body", "orelse", "finalbody"):
                    visit(getattr(node, field, []) or [], top)
                for handler in getattr(node, "handlers", []):
                    visit(handler.body, top)

    visit(ast.parse(path.read_text()).body, top=True)
    return {e for e in edges if e in modules and e != name}


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := dfs(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for name in sorted(graph):
        if name not in state and (cycle := dfs(name)):
            return cycle
    return None


@pytest.mark.parametrize("lazy", [False, True], ids=["import-time", "with-lazy-imports"])
def test_the_import_graph_has_no_cycle(lazy):
    modules = _modules()
    graph = {name: _imports(name, path, modules, lazy=lazy) for name, path in modules.items()}
    cycle = _find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_models_layers_and_transformers_never_import_the_training_loop():
    modules = _modules()
    low = ("harlearn.models", "harlearn.layers", "harlearn.transformers", "harlearn.inference",
           "harlearn.history", "harlearn.explain", "harlearn.losses", "harlearn.clip")
    for name, path in modules.items():
        if name.startswith(low):
            assert "harlearn.train" not in _imports(name, path, modules, lazy=True), name


# Entry points that used to sit in an import circle (or a model -> train edge), each imported
# first in a fresh interpreter: an import-order problem shows up only there.
FRESH = [
    "harlearn.data.synth.actions",
    "harlearn.data.synthhar",
    "harlearn.models.backbones.vgg",
    "harlearn.models.cnn",
    "harlearn.models.retrieval.baselines",
    "harlearn.viz",
]


def test_fresh_imports_work_and_do_not_load_the_training_loop():
    code = "import sys, {m}; assert 'harlearn.train' not in sys.modules, 'harlearn.train was imported'"
    procs = {m: subprocess.Popen([sys.executable, "-c", code.format(m=m)], cwd=PACKAGE.parent,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for m in FRESH}
    failures = {}
    for m, proc in procs.items():
        out, _ = proc.communicate(timeout=300)
        if proc.returncode:
            failures[m] = out[-2000:]
    assert not failures, failures
