"""Reading and writing video files with PyAV (FFmpeg's libraries, bundled in its wheels).

Two functions, so that nothing else in harlearn touches a codec: :func:`write_video` (frames ->
an MPEG-4 Part 2 ``.avi``, the codec family of UCF101's XviD files) and :func:`read_video`
(any container FFmpeg reads -> ``uint8 [T, H, W, 3]`` RGB). torchvision's own video IO is
deprecated (torchvision 0.22+ points to TorchCodec); PyAV is maintained, installs from a wheel
on every platform without a system FFmpeg, and works offline.

The encoder runs single-threaded at a fixed quantiser (``-q:v 2``, the usual "high quality"
XviD setting), so the same frames give the same bytes. MPEG-4 stores colour at half resolution
(4:2:0), as every consumer video does: decoded frames differ from the rendered ones by a few
grey levels (about 30 dB PSNR on SynthHAR's flat cartoon colours).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["write_video", "read_video", "video_frame_count"]

_QP2LAMBDA = 118  # FFmpeg's FF_QP2LAMBDA: global_quality = q * 118 is "-q:v q"


def _av():
    try:
        import av
    except ImportError as err:  # pragma: no cover - av is a dependency of harlearn
        raise ImportError("Reading and writing videos needs PyAV: pip install av") from err
    return av


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: int = 8, quality: int = 2) -> Path:
    """Encode RGB frames as an MPEG-4 ``.avi``.

    Args:
        path: Target file (its folder must exist).
        frames: ``uint8 [T, H, W, 3]``, ``H`` and ``W`` even.
        fps: Frame rate stored in the file.
        quality: MPEG-4 quantiser, 1 (best) to 31.

    Returns:
        ``path`` as a ``Path``.
    """
    av = _av()
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 [T, H, W, 3], got {frames.dtype} {frames.shape}.")
    T, H, W, _ = frames.shape
    if H % 2 or W % 2:
        raise ValueError(f"MPEG-4 needs even frame sizes, got {W} x {H}.")
    path = Path(path)
    with av.open(str(path), "w", format="avi") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.thread_count = 1  # deterministic bytes
        stream.codec_context.qscale = True
        stream.codec_context.global_quality = int(quality) * _QP2LAMBDA
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():  # flush
            container.mux(packet)
    return path


def read_video(path: str | os.PathLike, indices: list[int] | None = None) -> np.ndarray:
    """Decode a video's frames as RGB.

    Args:
        path: A video file FFmpeg can read (``.avi``, ``.mp4``, ...).
        indices: Frame numbers to keep (0-based, any order, repeats allowed); default all.
            Decoding stops after the last one needed.

    Returns:
        ``uint8 [T, H, W, 3]``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file cannot be decoded, or an index is past its last frame.
    """
    av = _av()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No video at {path}.")
    want = None if indices is None else sorted(set(int(i) for i in indices))
    frames: dict[int, np.ndarray] = {}
    try:
        with av.open(str(path)) as container:
            for k, frame in enumerate(container.decode(video=0)):
                if want is None or k in want:
                    frames[k] = frame.to_ndarray(format="rgb24")
                if want is not None and k >= want[-1]:
                    break
    except av.error.FFmpegError as err:
        raise ValueError(f"Cannot decode {path} ({err}): the file is corrupt or truncated; re-download or regenerate it.") from None
    if not frames:
        raise ValueError(f"{path} holds no video frames: re-download or regenerate it.")
    if want is None:
        return np.stack([frames[k] for k in sorted(frames)])
    missing = [i for i in want if i not in frames]
    if missing:
        raise ValueError(f"{path} has {max(frames) + 1} frames; frame {missing[0]} was asked for.")
    return np.stack([frames[int(i)] for i in indices])


def video_frame_count(path: str | os.PathLike) -> int:
    """The number of frames of a video, by decoding it (container metadata is often wrong)."""
    av = _av()
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))
