"""WGSL loading: files from the ``gpuml.shaders`` package, ``#include``, strict templating, reflection.

A shader is composed in three steps, each failing loudly:

1. ``#include "common/index.wgsl"`` lines are replaced by that file (once per shader; cycles are an error).
2. ``{{NAME}}`` placeholders are replaced by the variant's values. A placeholder without a value, or a value
   without a placeholder, raises :class:`ShaderTemplateError` instead of producing broken WGSL. Only the names in
   ``DEFAULTS`` (``T``, a kernel's storage scalar type, default ``f32``) may be left out. A composed shader that
   uses ``f16`` gets ``enable f16;`` as its first line.
3. The result is reflected: ``@group(0) @binding(i) var<...> name: type;`` declarations and the fields of the
   uniform ``struct`` give the binding table and the uniform packing used by :class:`gpuml.backends.gpu.Kernel`.

Every composed line remembers the file and line it came from, so a compiler error can name them.
This module needs neither numpy nor wgpu: it runs unchanged inside Pyodide.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = [
    "Binding",
    "ComposedShader",
    "ShaderCompileError",
    "ShaderTemplateError",
    "UniformLayout",
    "compose",
    "expand_includes",
    "read_shader",
]


class ShaderTemplateError(ValueError):
    """A shader could not be composed (unknown placeholder, unused variable, missing include)."""


class ShaderCompileError(RuntimeError):
    """The WGSL compiler rejected a shader; ``file`` and ``line`` point into ``shaders/``."""

    def __init__(self, file: str, line: int | None, message: str, variant: dict | None = None):
        self.file, self.line, self.message, self.variant = file, line, message, variant or {}
        where = f"{file}:{line}" if line else file
        extra = f" (variant {self.variant})" if self.variant else ""
        super().__init__(f"WGSL compile error in shaders/{where}{extra}: {message}")


def shader_root():
    from importlib import resources  # here, not at import: it brings tempfile, shutil, lzma and bz2

    try:
        return resources.files("gpuml.shaders")
    except ModuleNotFoundError:  # running from a source checkout that was never installed
        return Path(__file__).resolve().parent.parent / "shaders"


@cache
def read_shader(path: str) -> str:
    """Text of ``shaders/<path>`` (works from a wheel, an editable install and inside Pyodide)."""
    node = shader_root().joinpath(*path.split("/"))
    if not node.is_file():
        raise ShaderTemplateError(f"no shader file shaders/{path}")
    return node.read_text(encoding="utf-8")


_INCLUDE = re.compile(r'^\s*#include\s+"([^"]+)"\s*$')
# Template names with a default: a kernel templated on its storage scalar type writes ``{{T}}`` and runs in f32
# unless the op passes T="f16" (half-precision inference, gpuml.nn.sequential.Sequential.half).
DEFAULTS = {"T": "f32"}
_F16 = re.compile(r"\bf16\b")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@dataclass(frozen=True)
class Binding:
    index: int
    name: str
    kind: str  # "uniform" | "read" | "read_write"
    type: str


@dataclass(frozen=True)
class UniformLayout:
    """Byte layout of the uniform struct; packs Python values without numpy."""

    struct_name: str
    fields: tuple[tuple[str, str, int, int], ...]  # (name, scalar kind "u32|i32|f32", offset, count)
    size: int

    def pack(self, values: dict) -> bytes:
        fast = self._scalar_struct()
        if fast is not None and len(values) == len(fast[1]):
            try:  # one precompiled struct for the all-scalar layouts (most kernels): ~3x faster per dispatch
                return fast[0].pack(*[values[name] for name in fast[1]])
            except (KeyError, struct.error):
                pass  # the general path below names the problem
        return self._pack_checked(values)

    def _scalar_struct(self) -> tuple[struct.Struct, tuple[str, ...]] | None:
        """(struct, field names) packing every non-padding field when all are scalars, else None; cached."""
        cached = self.__dict__.get("_fast", False)
        if cached is not False:
            return cached
        fast = None
        if all(count == 1 for _, _, _, count in self.fields):
            fmt, names, at = "<", [], 0
            for name, kind, offset, _ in sorted(self.fields, key=lambda f: f[2]):
                fmt += "x" * (offset - at)
                if name.startswith("_"):
                    fmt += "4x"
                else:
                    fmt += {"u32": "I", "i32": "i", "f32": "f"}[kind]
                    names.append(name)
                at = offset + 4
            fast = (struct.Struct(fmt + "x" * (self.size - at)), tuple(names))
        object.__setattr__(self, "_fast", fast)  # frozen dataclass: a private cache
        return fast

    def _pack_checked(self, values: dict) -> bytes:
        buf = bytearray(self.size)
        given = set(values)
        for name, kind, offset, count in self.fields:
            if name not in values:
                if name.startswith("_"):  # padding fields
                    continue
                raise TypeError(f"uniform {self.struct_name} needs field '{name}' (given: {sorted(given)})")
            value = values[name]
            items = list(value) if count > 1 else [value]
            if len(items) > count:
                raise ValueError(f"uniform field '{name}' takes at most {count} values, got {len(items)}")
            fmt = {"u32": "I", "i32": "i", "f32": "f"}[kind]
            try:
                struct.pack_into(f"<{len(items)}{fmt}", buf, offset, *items)
            except struct.error as exc:
                raise ValueError(f"uniform field '{name}' ({kind}) cannot hold {value!r}: {exc}") from None
            given.discard(name)
        if given:
            raise TypeError(f"uniform {self.struct_name} has no field(s) {sorted(given)}")
        return bytes(buf)


_SCALARS = {"u32": ("u32", 4), "i32": ("i32", 4), "f32": ("f32", 4)}
_VEC4 = re.compile(r"^vec4(?:<(u32|i32|f32)>|([uif]))$")
_ARRAY = re.compile(r"^array<\s*(vec4(?:<(?:u32|i32|f32)>|[uif]))\s*,\s*(\d+)u?\s*>$")


def _field_type(t: str) -> tuple[str, int, int]:
    """(scalar kind, element count, alignment) of a uniform field type."""
    t = t.strip()
    if t in _SCALARS:
        return t, 1, 4
    m = _VEC4.match(t)
    if m:
        kind = m.group(1) or {"u": "u32", "i": "i32", "f": "f32"}[m.group(2)]
        return kind, 4, 16
    m = _ARRAY.match(t)
    if m:
        kind, _, _ = _field_type(m.group(1))
        return kind, 4 * int(m.group(2)), 16
    raise ShaderTemplateError(f"uniform field type '{t}' is not supported (use u32/i32/f32, vec4, array<vec4,N>)")


def _split_fields(body: str) -> list[tuple[str, str]]:
    fields, depth, current = [], 0, ""
    for ch in body + ",":
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        if ch == "," and depth == 0:
            if current.strip():
                name, _, typ = current.partition(":")
                fields.append((name.strip(), typ.strip()))
            current = ""
        else:
            current += ch
    return fields


def _uniform_layout(source: str, struct_name: str) -> UniformLayout:
    m = re.search(r"struct\s+" + re.escape(struct_name) + r"\s*\{([^}]*)\}", source)
    if not m:
        raise ShaderTemplateError(f"uniform struct {struct_name} not found")
    body = re.sub(r"//[^\n]*", "", m.group(1))
    offset, fields = 0, []
    for name, typ in _split_fields(body):
        kind, count, align = _field_type(typ)
        offset = (offset + align - 1) // align * align
        fields.append((name, kind, offset, count))
        offset += 4 * count
    return UniformLayout(struct_name, tuple(fields), max(16, (offset + 15) // 16 * 16))


_BINDING = re.compile(
    r"@group\(\s*0\s*\)\s*@binding\(\s*(\d+)\s*\)\s*var(?:<\s*([a-z_]+)\s*(?:,\s*([a-z_]+)\s*)?>)?\s+(\w+)\s*:\s*([^;]+);"
)


@dataclass(frozen=True)
class ComposedShader:
    """A shader ready to compile: its WGSL, where each line came from, and its reflected interface."""

    path: str
    variant: tuple[tuple[str, str], ...]
    source: str
    line_map: tuple[tuple[str, int], ...]
    bindings: tuple[Binding, ...]
    uniform: UniformLayout | None

    def origin(self, line: int) -> tuple[str, int]:
        """(file, line) of line ``line`` (1-based) of the composed source."""
        if 1 <= line <= len(self.line_map):
            return self.line_map[line - 1]
        return self.path, line

    def binding(self, name: str) -> Binding:
        for b in self.bindings:
            if b.name == name:
                return b
        raise KeyError(name)


def _expand(path: str, seen: set[str], stack: tuple[str, ...]) -> list[tuple[str, str, int]]:
    if path in stack:
        raise ShaderTemplateError(f"#include cycle: {' -> '.join((*stack, path))}")
    if path in seen:
        return []
    seen.add(path)
    out = []
    for number, line in enumerate(read_shader(path).splitlines(), start=1):
        m = _INCLUDE.match(line)
        if m:
            try:
                out.extend(_expand(m.group(1), seen, (*stack, path)))
            except ShaderTemplateError as exc:
                raise ShaderTemplateError(f"shaders/{path}:{number}: {exc}") from None
        else:
            out.append((line, path, number))
    return out


def expand_includes(path: str) -> str:
    """``shaders/<path>`` with its ``#include`` lines expanded and nothing else (no templating, no reflection):
    the source of a render pipeline (gpuml.demos.render), whose bindings include textures and samplers."""
    return "\n".join(line for line, _, _ in _expand(path, set(), ())) + "\n"


def _render_value(name: str, value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise ShaderTemplateError(f"template value {name}={value!r} must be str, int, float or bool")


@cache
def _compose_cached(path: str, variant: tuple[tuple[str, str], ...]) -> ComposedShader:
    values = dict(variant)
    used: set[str] = set()
    lines, line_map = [], []
    for text, file, number in _expand(path, set(), ()):

        def substitute(m, file=file, number=number):
            name = m.group(1)
            if name not in values and name in DEFAULTS:
                return DEFAULTS[name]
            if name not in values:
                raise ShaderTemplateError(
                    f"Cannot compose shader shaders/{path}: unknown template name '{name}' at "
                    f"shaders/{file}:{number} (given: {sorted(values) or 'none'})"
                )
            used.add(name)
            return values[name]

        lines.append(_PLACEHOLDER.sub(substitute, text))
        line_map.append((file, number))
    unused = set(values) - used
    if unused:
        raise ShaderTemplateError(f"Cannot compose shader shaders/{path}: unused template names {sorted(unused)}")
    if _F16.search(re.sub(r"//[^\n]*", "", "\n".join(lines))):
        # f16 types need the extension (the device must have the shader-f16 feature; naga and Tint both take it)
        lines.insert(0, "enable f16;")
        line_map.insert(0, (path, 0))
    source = "\n".join(lines) + "\n"
    code = re.sub(r"//[^\n]*", "", source)
    bindings, uniform = [], None
    for m in _BINDING.finditer(code):
        index, space, access, name, typ = (
            int(m.group(1)),
            m.group(2),
            m.group(3),
            m.group(4),
            m.group(5).strip(),
        )
        if space == "uniform":
            kind = "uniform"
            if uniform is not None:
                raise ShaderTemplateError(f"shaders/{path}: at most one uniform binding is supported")
            uniform = _uniform_layout(code, typ)
        elif space == "storage":
            kind = "read_write" if access == "read_write" else "read"
        else:
            raise ShaderTemplateError(f"shaders/{path}: binding '{name}' has unsupported address space {space}")
        bindings.append(Binding(index, name, kind, typ))
    bindings.sort(key=lambda b: b.index)
    return ComposedShader(path, variant, source, tuple(line_map), tuple(bindings), uniform)


def compose(path: str, **variant) -> ComposedShader:
    """Compose ``shaders/<path>`` with template values ``variant`` (cached per path + variant)."""
    key = tuple(sorted((k, _render_value(k, v)) for k, v in variant.items()))
    return _compose_cached(path, key)


_LOCATION = re.compile(r"(?:wgsl|<[^>]*>|\w+\.wgsl)?:(\d+):(\d+)")


def compile_error(shader: ComposedShader, message: str, line: int | None = None) -> ShaderCompileError:
    """Turn a compiler message about the composed source into an error naming the original file and line."""
    if line is None:
        m = _LOCATION.search(message)
        line = int(m.group(1)) if m else None
    if line is None:
        return ShaderCompileError(shader.path, None, message.strip(), dict(shader.variant))
    file, original = shader.origin(line)
    return ShaderCompileError(file, original, message.strip(), dict(shader.variant))
