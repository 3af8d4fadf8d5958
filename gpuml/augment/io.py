"""Host interop: numpy arrays and PIL Images in and out, uint8 handling, contact sheets.

Kernels work on float32 (N, C, H, W) batches with values in [0, 1] (the pipeline's ``value_range``). uint8
input (numpy arrays, L/RGB/RGBA PIL images) is uploaded packed into uint32 words (:class:`U8Batch`: one word per
pixel holding its 2-4 channels, or 4 pixels per word for one channel; a third of the float32 upload for RGB, a
quarter for L and RGBA, and a 256 x 3 x 224 x 224 batch fits one 128 MiB binding), read by the resampling kernel
as byte / 255; the float32 result is converted back (round half to even, clip to 0..255), so an augmented uint8
batch comes back as uint8. Inside Pyodide without numpy only gpuml Tensors are accepted.

Image files (:func:`read_image`, what ``gpuml augment`` reads) become 8-bit grayscale ("L") or RGB by one rule:
L and RGB stay; 1-bit becomes L; 16-bit grayscale (PIL modes I;16*, and I) is scaled to [0, 1] by 65535 and then to
8 bits (not clipped at 255); float images (F) are clipped to [0, 1]; an alpha channel (RGBA, LA, palette images with
transparency) is composited on black, the fill colour of the geometric transforms, so transparent pixels become
black rather than keeping whatever colour they hide; other modes (CMYK, YCbCr, palette) are converted to RGB.
"""

from __future__ import annotations

from ..tensor import Tensor

try:
    import numpy as np
except ImportError:  # pragma: no cover - Pyodide core
    np = None


def _is_pil(x) -> bool:
    return type(x).__module__.startswith("PIL.") and hasattr(x, "getbands")


class U8Batch:
    """uint8 images (N, C, H, W) on the device, packed into uint32 words (``words``) as ``layout`` says
    (SOURCES in gpuml/impl/webgpu/augment.py): "u8px", one word per pixel with channel c in byte c (the default for 2-4
    channels: one load gives a pixel's colour), or "u8", the flat (N, C, H, W) bytes 4 per word, little-endian
    (the default for one channel)."""

    def __init__(self, words: Tensor, shape: tuple[int, int, int, int], layout: str = "u8"):
        self.words, self.shape, self.layout = words, tuple(shape), layout
        self.ndim = 4

    @property
    def device(self):
        return self.words.device

    @classmethod
    def from_numpy(cls, arr, device=None, layout: str | None = None) -> U8Batch:
        """Pack a (N, C, H, W) uint8 array (see the class docstring for ``layout``; None: by channel count)."""
        from ..tensor import tensor

        arr = np.asarray(arr, np.uint8)
        n, c, h, w = arr.shape
        layout = layout or ("u8px" if 2 <= c <= 4 else "u8")
        if layout == "u8px":
            if c > 4:
                raise ValueError(f"layout 'u8px' holds at most 4 channels, got {c}")
            px = np.zeros((max(1, n * h * w), 4), np.uint8)
            px[: n * h * w, :c] = arr.transpose(0, 2, 3, 1).reshape(-1, c)
            return cls(tensor(px.view("<u4").reshape(-1), device=device), arr.shape, layout)
        if layout != "u8":
            raise ValueError(f"unknown uint8 layout {layout!r} (use 'u8' or 'u8px')")
        flat = np.ascontiguousarray(arr).reshape(-1)
        padded = np.zeros(max(4, -(-flat.size // 4) * 4), np.uint8)
        padded[: flat.size] = flat
        return cls(tensor(padded.view("<u4"), device=device), arr.shape, layout)


def _pil_to_array(img):
    """PIL image -> ((C, H, W) uint8, or float32 for mode F; mode)."""
    mode = img.mode
    if mode not in ("L", "RGB", "RGBA", "F"):
        img, mode = img.convert("RGB"), "RGB"
    arr = np.asarray(img)
    return (arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)), mode


def host_batch(x):
    """(batch, meta): a Tensor as it is, or a host image (numpy (H, W), (N, H, W) or (N, C, H, W), PIL image or
    list of PIL images) as a (N, C, H, W) uint8 or float numpy array; ``meta`` tells :func:`finish` how to give
    the result back in the same form."""
    if isinstance(x, Tensor):
        return x, {"kind": "tensor"}
    if np is None:
        raise TypeError("without numpy, gpuml.augment takes gpuml Tensors")
    if _is_pil(x) or (isinstance(x, list | tuple) and x and all(_is_pil(i) for i in x)):
        imgs = [x] if _is_pil(x) else list(x)
        arrays, modes = zip(*(_pil_to_array(i) for i in imgs), strict=True)
        if len({a.shape for a in arrays}) != 1:
            raise ValueError(f"PIL images of one batch must have the same size and bands: {[a.shape for a in arrays]}")
        return np.stack(arrays), {"kind": "pil", "mode": modes[0], "single": _is_pil(x)}
    arr = np.asarray(x)
    if arr.ndim not in (2, 3, 4):
        raise ValueError(f"images must be (H, W), (N, H, W) or (N, C, H, W), got shape {arr.shape}")
    meta = {"kind": "numpy", "dtype": arr.dtype, "ndim": arr.ndim}
    if arr.dtype != np.uint8 and arr.dtype.kind != "f":
        raise TypeError(f"images must be uint8 or float, got {arr.dtype}")
    if arr.ndim == 2:
        arr = arr[None, None]
    elif arr.ndim == 3:
        arr = arr[:, None]
    return arr, meta


def upload(arr, device=None):
    """A (N, C, H, W) host batch on the device: uint8 packed (:class:`U8Batch`), floats as float32."""
    from ..tensor import tensor

    if arr.dtype == np.uint8:
        return U8Batch.from_numpy(arr, device)
    return tensor(np.ascontiguousarray(arr, np.float32), device=device)


def from_host(x, device=None):
    """(batch on the device, meta) for what :func:`host_batch` takes; :func:`to_host` gives results back."""
    batch, meta = host_batch(x)
    return (batch if meta["kind"] == "tensor" else upload(batch, device)), meta


def wants_uint8(meta: dict, channels: int) -> bool:
    """Whether :func:`finish` gives uint8 back for ``meta`` and the kernels can write it (at most 4 channels)."""
    uint8 = (meta["kind"] == "numpy" and meta["dtype"] == np.uint8) or (meta["kind"] == "pil" and meta["mode"] != "F")
    return uint8 and channels <= 4


def to_uint8(a):
    return np.clip(np.rint(np.asarray(a, np.float32) * np.float32(255.0)), 0, 255).astype(np.uint8)


def _u8_pixels(out: U8Batch):
    """(N, Ho, Wo, C) uint8 view of a "u8px" batch (the kernels' uint8 output)."""
    n, c, h, w = out.shape
    return out.words.numpy().reshape(-1)[: n * h * w].view(np.uint8).reshape(n, h, w, 4)[..., :c]


def to_numpy(out):
    """A result on the device as a (N, C, Ho, Wo) numpy array: uint8 (from a U8Batch) or float32."""
    if isinstance(out, U8Batch):  # uint8 straight from the kernels: no float32 download, no rounding on the host
        return np.ascontiguousarray(_u8_pixels(out).transpose(0, 3, 1, 2))
    arr = out.numpy()
    return arr[:, None] if arr.ndim == 3 else arr


def finish(parts, meta: dict):
    """The (N, C, Ho, Wo) results (a list of chunks, concatenated) in the form ``meta`` describes: PIL image(s) of
    the input's mode, or a numpy array of its dtype and dimensions; float32 numpy when the result is float32 but
    ``meta["float_out"]`` (after Normalize: values no uint8 or PIL image holds) gives float32 numpy instead."""
    arr = parts[0] if len(parts) == 1 else np.concatenate(parts)
    normalized = meta.get("float_out", False)  # Normalize ran: keep float32
    if meta["kind"] == "pil" and not normalized:
        from PIL import Image

        imgs = []
        for a in arr:
            if meta["mode"] == "F":
                imgs.append(Image.fromarray(a[0].astype(np.float32), "F"))
            else:
                u = a if a.dtype == np.uint8 else to_uint8(a)
                imgs.append(Image.fromarray(u[0] if u.shape[0] == 1 else u.transpose(1, 2, 0), meta["mode"]))
        return imgs[0] if meta["single"] else imgs
    if meta["kind"] == "pil":
        return arr[0] if meta["single"] else arr
    if not normalized and meta["dtype"] == np.uint8 and arr.dtype != np.uint8:
        arr = to_uint8(arr)
    elif meta["dtype"].kind == "f":
        arr = arr.astype(meta["dtype"], copy=False)
    if meta["ndim"] == 2:
        return arr[0, 0]
    if meta["ndim"] == 3:
        return arr[:, 0]
    return arr


def to_host(out, meta: dict):
    """A result on the device back in the form ``meta`` describes (see :func:`finish`)."""
    if meta["kind"] == "tensor":
        return out
    return finish([to_numpy(out)], meta)


def read_image(path):
    """An image file as an 8-bit L or RGB PIL image by the rule in the module docstring (alpha composited on black,
    16-bit scaled by 65535). Errors (missing, unreadable or corrupt files) name the file."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()  # decode now: a truncated file fails here, naming the file, not later in a kernel
            return normalize_mode(img)
    except UnidentifiedImageError:
        raise ValueError(f"{path}: not an image file PIL can read (corrupt, or not PNG/JPEG/...)") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        if isinstance(exc, OSError) and exc.filename is not None:
            raise
        raise ValueError(f"{path}: damaged or unreadable image ({str(exc).strip() or type(exc).__name__})") from None


def normalize_mode(img):
    """A PIL image of any mode as 8-bit L or RGB (the rule in the module docstring)."""
    from PIL import Image

    mode = img.mode
    if mode in ("L", "RGB"):
        return img.copy()
    if mode == "1":
        return img.convert("L")
    if mode == "I" or mode.startswith("I;16"):  # 16-bit PNGs: 0..65535 is 0..1
        a = np.asarray(img, np.float64) / 65535.0
        return Image.fromarray(to_uint8(np.clip(a, 0.0, 1.0)), "L")
    if mode == "F":
        return Image.fromarray(to_uint8(np.clip(np.nan_to_num(np.asarray(img, np.float32)), 0.0, 1.0)), "L")
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        mode = img.mode
        if mode == "RGB":
            return img
    if mode in ("LA", "La", "PA", "RGBA", "RGBa"):  # composite on black: colour x alpha
        gray = mode in ("LA", "La")
        a = np.asarray(img.convert("LA" if gray else "RGBA"), np.float32)
        if mode in ("La", "RGBa"):  # already premultiplied
            colour = a[..., :-1]
        else:
            colour = a[..., :-1] * (a[..., -1:] / 255.0)
        out = np.clip(np.rint(colour), 0, 255).astype(np.uint8)
        return Image.fromarray(out[..., 0] if gray else out, "L" if gray else "RGB")
    return img.convert("RGB")


def contact_sheet(rows, pad: int = 2, min_cell: int = 64, background=(255, 255, 255)):
    """One PNG-ready PIL image: each row a list of PIL images (e.g. original + variants), cells upscaled
    (nearest) to at least ``min_cell`` px so 28x28 digits stay visible."""
    from PIL import Image

    cell_w = max(i.width for r in rows for i in r)
    cell_h = max(i.height for r in rows for i in r)
    zoom = max(1, -(-min_cell // max(1, min(cell_w, cell_h))))
    cw, ch = cell_w * zoom, cell_h * zoom
    ncols = max(len(r) for r in rows)
    sheet = Image.new("RGB", (ncols * (cw + pad) + pad, len(rows) * (ch + pad) + pad), background)
    for y, row in enumerate(rows):
        for x, img in enumerate(row):
            cell = img.convert("RGB").resize((img.width * zoom, img.height * zoom), Image.Resampling.NEAREST)
            sheet.paste(cell, (pad + x * (cw + pad), pad + y * (ch + pad)))
    return sheet
