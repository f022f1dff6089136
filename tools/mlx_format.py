"""MLX checkpoint primitives shared by the Python tools (tools/ -> checkpoints on disk).

What is in here (spec: shared/reference/lfm2-format.md):

* float conversions: float32 <-> bfloat16 (round-to-nearest-even, like MLX's
  bfloat16_t), float16 (IEEE, numpy), and the raw storage form of each dtype;
* MLX affine quantization (section 4.3), bit-identical to ``mlx.core.quantize``
  on CPU: all arithmetic in float32, round-half-to-even, scales/biases cast to
  the weight's dtype at the end;
* bit packing / unpacking (section 4.4): a packed row is one little-endian bit
  stream, element k at stream bits [k*bits, (k+1)*bits);
* affine dequantization (section 4.2);
* an MLX-style safetensors writer (section 5): compact JSON header with sorted
  keys, ``__metadata__ = {"format": "mlx"}``, no header padding, tensor data in
  any order, written incrementally so huge files never sit in RAM;
* a small safetensors reader used by the tools' self-tests.

Only numpy is used. Everything works on little-endian hosts and always writes
little-endian data.
"""

import json
import os
import struct

import numpy as np

# ---------------------------------------------------------------------------
# dtypes

# config/CLI dtype name -> safetensors dtype tag.
FLOAT_DTYPE_TAGS = {"float32": "F32", "bfloat16": "BF16", "float16": "F16"}

# safetensors dtype tag -> (numpy storage dtype, bytes per element). BF16 is
# stored as its raw 16-bit pattern (numpy has no bfloat16).
STORAGE_DTYPES = {
    "F64": (np.dtype("<f8"), 8),
    "F32": (np.dtype("<f4"), 4),
    "F16": (np.dtype("<f2"), 2),
    "BF16": (np.dtype("<u2"), 2),
    "U32": (np.dtype("<u4"), 4),
    "I32": (np.dtype("<i4"), 4),
    "U8": (np.dtype("u1"), 1),
    "I8": (np.dtype("i1"), 1),
    "U16": (np.dtype("<u2"), 2),
    "I16": (np.dtype("<i2"), 2),
    "I64": (np.dtype("<i8"), 8),
    "U64": (np.dtype("<u8"), 8),
    "BOOL": (np.dtype("u1"), 1),
}


def dtype_tag(name):
    """'bfloat16' -> 'BF16' (also accepts a tag and returns it unchanged)."""
    if name in STORAGE_DTYPES:
        return name
    if name not in FLOAT_DTYPE_TAGS:
        raise ValueError(f"unknown float dtype {name!r}; expected one of {sorted(FLOAT_DTYPE_TAGS)}")
    return FLOAT_DTYPE_TAGS[name]


def f32_to_bf16_bits(x):
    """float32 array -> uint16 bfloat16 bit patterns, round to nearest even.

    Same rule as MLX's bfloat16_t constructor: add 0x7FFF plus the lowest kept
    bit, then drop the low 16 bits; every NaN becomes the quiet NaN 0x7FC0.
    Overflowing finite values round to +-inf as IEEE rounding does.
    """
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    out = rounded.astype(np.uint16)
    is_nan = (bits & 0x7FFFFFFF) > 0x7F800000
    if np.any(is_nan):
        out[is_nan] = 0x7FC0
    return out


def bf16_bits_to_f32(bits):
    """uint16 bfloat16 bit patterns -> float32 (exact)."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def encode_float(x, tag):
    """float32 values -> the numpy array whose bytes are stored for dtype `tag`.

    Rounds to the target precision (RNE for BF16 and F16).
    """
    tag = dtype_tag(tag)
    x = np.asarray(x, dtype=np.float32)
    if tag == "F32":
        return x.astype("<f4")
    if tag == "F16":
        return x.astype("<f2")
    if tag == "BF16":
        return f32_to_bf16_bits(x).astype("<u2")
    raise ValueError(f"not a float dtype: {tag}")


def decode_float(stored, tag):
    """Stored array of dtype `tag` (F32/F16/BF16) -> float32 values."""
    tag = dtype_tag(tag)
    if tag == "F32":
        return np.asarray(stored, dtype=np.float32)
    if tag == "F16":
        return np.asarray(stored, dtype=np.float16).astype(np.float32)
    if tag == "BF16":
        return bf16_bits_to_f32(stored)
    raise ValueError(f"not a float dtype: {tag}")


def round_to_dtype(x, tag):
    """float32 values rounded to the precision of `tag`, returned as float32."""
    return decode_float(encode_float(x, tag), tag)


# ---------------------------------------------------------------------------
# MLX affine quantization (spec 4.1 - 4.3)

SUPPORTED_BITS = (2, 3, 4, 5, 6, 8)
SUPPORTED_GROUP_SIZES = (32, 64, 128)


def check_quant_params(bits, group_size):
    if bits not in SUPPORTED_BITS:
        raise ValueError(f"bits={bits} unsupported; MLX affine supports {SUPPORTED_BITS}")
    if group_size not in SUPPORTED_GROUP_SIZES:
        raise ValueError(f"group_size={group_size} unsupported; MLX supports {SUPPORTED_GROUP_SIZES}")


def affine_quantize_values(w, group_size, bits):
    """Per-group scale/bias choice and integer codes, exactly as MLX's CPU kernel.

    w: float array [..., K] (K divisible by group_size); it is converted to
    float32 first (for bf16/f16 weights that conversion is exact).
    Returns (q uint8 [..., K], scales float32 [..., K/gs], biases float32 [..., K/gs]).

    Per group, in float32 (spec 4.3):
      s = max((wmax - wmin) / n, 1e-7), n = 2^bits - 1
      edge = wmin if |wmin| > |wmax| else wmax; s is negated when edge = wmax
      q0 = rint(edge / s); if q0 != 0: s = edge / q0, bias = edge; else bias = 0
      q = clamp(rint((w - bias) / s), 0, n)
    """
    check_quant_params(bits, group_size)
    w = np.asarray(w, dtype=np.float32)
    K = w.shape[-1]
    if K % group_size:
        raise ValueError(f"last dim {K} not divisible by group_size {group_size}")
    lead = w.shape[:-1]
    g = w.reshape(-1, K // group_size, group_size)

    n_bins = np.float32((1 << bits) - 1)
    eps = np.float32(1e-7)
    w_max = g.max(axis=-1)
    w_min = g.min(axis=-1)
    edge_is_min = np.abs(w_min) > np.abs(w_max)
    scale = np.maximum((w_max - w_min) / n_bins, eps)
    scale = np.where(edge_is_min, scale, -scale)
    edge = np.where(edge_is_min, w_min, w_max)
    q0 = np.rint(edge / scale)
    has_q0 = q0 != 0
    # Only divide where q0 != 0 (elsewhere the value is discarded anyway).
    safe_q0 = np.where(has_q0, q0, np.float32(1))
    scale = np.where(has_q0, edge / safe_q0, scale).astype(np.float32)
    bias = np.where(has_q0, edge, np.float32(0)).astype(np.float32)

    q = np.rint((g - bias[..., None]) / scale[..., None])
    q = np.clip(q, np.float32(0), n_bins).astype(np.uint8)
    return (q.reshape(*lead, K),
            scale.reshape(*lead, K // group_size),
            bias.reshape(*lead, K // group_size))


def mlx_quantize(w, group_size, bits, tag):
    """Equivalent of ``mx.quantize(w.astype(tag), group_size, bits)``.

    w: float values (they are first rounded to dtype `tag`, as the weight
    would be stored before quantization). Returns the three arrays as stored
    in an MLX checkpoint: (packed uint32 [..., K*bits/32], scales, biases),
    scales/biases in the storage form of `tag` (see encode_float).
    """
    w = round_to_dtype(w, tag)
    q, scales, biases = affine_quantize_values(w, group_size, bits)
    return pack_bits(q, bits), encode_float(scales, tag), encode_float(biases, tag)


def pack_bits(q, bits):
    """Integer codes [..., K] -> uint32 words [..., K*bits/32] (spec 4.4).

    The packed row is a little-endian bit stream: element k occupies stream
    bits [k*bits, (k+1)*bits), least significant bit first; stream bit n is
    bit n%32 of word n//32. Eight consecutive elements fill exactly `bits`
    bytes, so we build one 8*bits-bit integer per 8 elements and keep its
    `bits` low bytes.
    """
    q = np.asarray(q)
    K = q.shape[-1]
    if K % 32:
        raise ValueError(f"row length {K} must be a multiple of 32")
    if q.size and int(q.max()) >= (1 << bits):
        raise ValueError(f"code {int(q.max())} does not fit in {bits} bits")
    lead = q.shape[:-1]
    eights = q.reshape(-1, K // 8, 8).astype(np.uint64)
    shifts = np.arange(8, dtype=np.uint64) * np.uint64(bits)
    packs = np.bitwise_or.reduce(eights << shifts, axis=-1)          # [R, K/8]
    pack_bytes = packs.astype("<u8").view(np.uint8).reshape(-1, K // 8, 8)[:, :, :bits]
    words = np.ascontiguousarray(pack_bytes).reshape(-1).view("<u4")
    return words.reshape(*lead, K * bits // 32).astype(np.uint32)


def unpack_bits(packed, bits):
    """uint32 words [..., W] -> integer codes uint8 [..., W*32/bits] (inverse of pack_bits)."""
    words = np.ascontiguousarray(packed, dtype="<u4")
    lead = words.shape[:-1]
    K = words.shape[-1] * 32 // bits
    pack_bytes = words.view(np.uint8).reshape(-1, K // 8, bits)
    padded = np.zeros((pack_bytes.shape[0], K // 8, 8), dtype=np.uint8)
    padded[:, :, :bits] = pack_bytes
    packs = padded.view("<u8")                                       # [R, K/8, 1]
    shifts = np.arange(8, dtype=np.uint64) * np.uint64(bits)
    codes = (packs >> shifts) & np.uint64((1 << bits) - 1)           # [R, K/8, 8]
    return codes.astype(np.uint8).reshape(*lead, K)


def dequantize(packed, scales, biases, group_size, bits, out_dtype=np.float32):
    """w[..., k] = scales[..., k//gs] * q[..., k] + biases[..., k//gs] (spec 4.2).

    scales/biases: float values (already decoded from their storage dtype).
    """
    q = unpack_bits(packed, bits)
    K = q.shape[-1]
    s = np.asarray(scales, dtype=out_dtype)
    b = np.asarray(biases, dtype=out_dtype)
    if s.shape[-1] * group_size != K:
        raise ValueError(f"scales cover {s.shape[-1] * group_size} columns, packed data has {K}")
    grouped = q.reshape(*q.shape[:-1], K // group_size, group_size).astype(out_dtype)
    return (grouped * s[..., None] + b[..., None]).reshape(q.shape)


def quantized_shapes(shape, group_size, bits):
    """Float weight shape [..., K] -> (packed shape, scales/biases shape)."""
    *lead, K = shape
    if K % group_size:
        raise ValueError(f"last dim {K} not divisible by group_size {group_size}")
    return tuple(lead) + (K * bits // 32,), tuple(lead) + (K // group_size,)


# ---------------------------------------------------------------------------
# safetensors (spec 5)

class SafetensorsWriter:
    """Writes one safetensors file the way MLX does, incrementally.

    All tensor names, dtypes and shapes are declared up front (they determine
    the header), then the data of each tensor is written with write(), whole
    or in byte ranges, in any order. The header is the compact JSON with
    sorted keys and ``__metadata__``, without padding; the data area holds the
    tensors in `order` (a list of names; default: the declaration order), with
    no gaps. close() checks that every byte was written exactly once.
    """

    def __init__(self, path, tensors, metadata=None, order=None):
        """tensors: {name: (dtype_tag, shape)}; metadata: {str: str}."""
        self.path = path
        self.specs = {}
        order = list(tensors) if order is None else list(order)
        if sorted(order) != sorted(tensors):
            raise ValueError("order must list every tensor exactly once")
        header = {}
        offset = 0
        for name in order:
            tag, shape = tensors[name]
            shape = [int(d) for d in shape]
            nbytes = int(np.prod(shape, dtype=np.int64)) * STORAGE_DTYPES[tag][1]
            header[name] = {"dtype": tag, "shape": shape, "data_offsets": [offset, offset + nbytes]}
            self.specs[name] = (tag, tuple(shape), offset, nbytes)
            offset += nbytes
        header["__metadata__"] = dict({"format": "mlx"} if metadata is None else metadata)
        header_bytes = json.dumps(header, separators=(",", ":"), sort_keys=True).encode("utf-8")
        self.data_start = 8 + len(header_bytes)
        self.data_size = offset
        self.written = {name: 0 for name in self.specs}
        self.file = open(path, "wb")
        self.file.write(struct.pack("<Q", len(header_bytes)))
        self.file.write(header_bytes)
        self.file.truncate(self.data_start + self.data_size)

    def write(self, name, array, byte_offset=0):
        """Write `array` (or a contiguous part of the tensor, starting at byte_offset)."""
        tag, shape, start, nbytes = self.specs[name]
        want = STORAGE_DTYPES[tag][0]
        arr = np.asarray(array)
        if arr.dtype.kind != want.kind or arr.dtype.itemsize != want.itemsize:
            raise TypeError(f"{name}: {tag} data must be numpy {want}, got {arr.dtype}")
        data = np.ascontiguousarray(arr, dtype=want).tobytes()
        if byte_offset < 0 or byte_offset + len(data) > nbytes:
            raise ValueError(f"{name}: write of {len(data)} bytes at {byte_offset} exceeds {nbytes}")
        if arr.ndim > 1 and len(data) == nbytes and tuple(arr.shape) != shape:
            raise ValueError(f"{name}: shape {arr.shape} != declared {shape}")
        self.file.seek(self.data_start + start + byte_offset)
        self.file.write(data)
        self.written[name] += len(data)

    def close(self):
        if self.file is None:
            return
        # On disk before we return: a checkpoint whose pages are still dirty cannot be re-read
        # into 2 MiB page-cache folios by the engine's loader (io/mapped_file.h PreferHugePages).
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        self.file = None
        bad = [n for n, w in self.written.items() if w != self.specs[n][3]]
        if bad:
            raise RuntimeError(f"{self.path}: tensors not written exactly once: {bad[:5]}")

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        elif self.file is not None:
            self.file.close()
            self.file = None


class SafetensorsReader:
    """Minimal safetensors reader (header parsing, validation, tensor reads)."""

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            if n > 100_000_000:
                raise ValueError(f"{path}: header length {n} too large")
            self.header_bytes = f.read(n)
        self.header = json.loads(self.header_bytes)
        self.metadata = self.header.pop("__metadata__", None)
        self.data_start = 8 + n
        self.file_size = os.path.getsize(path)

    def names(self):
        return list(self.header)

    def info(self, name):
        e = self.header[name]
        return e["dtype"], tuple(e["shape"]), tuple(e["data_offsets"])

    def validate(self):
        """Tensors must tile the data area exactly and sizes must match shapes."""
        spans = []
        for name, e in self.header.items():
            begin, end = e["data_offsets"]
            size = int(np.prod(e["shape"], dtype=np.int64)) * STORAGE_DTYPES[e["dtype"]][1]
            if end - begin != size:
                raise ValueError(f"{name}: {end - begin} bytes for shape {e['shape']} {e['dtype']}")
            spans.append((begin, end, name))
        spans.sort()
        pos = 0
        for begin, end, name in spans:
            if begin != pos:
                raise ValueError(f"{name}: starts at {begin}, expected {pos} (hole or overlap)")
            pos = end
        if self.data_start + pos != self.file_size:
            raise ValueError(f"data area ends at {self.data_start + pos}, file has {self.file_size} bytes")

    def read(self, name):
        """Raw tensor as numpy (BF16 as uint16 bit patterns)."""
        tag, shape, (begin, end) = self.info(name)
        with open(self.path, "rb") as f:
            f.seek(self.data_start + begin)
            data = f.read(end - begin)
        return np.frombuffer(data, dtype=STORAGE_DTYPES[tag][0]).reshape(shape)

    def read_float(self, name):
        tag = self.info(name)[0]
        return decode_float(self.read(name), tag)
