#!/usr/bin/env python3
"""Writes the GGUF fuzz seeds into tests/fuzz/corpus/gguf/.

Each malformed seed breaks exactly one thing in an otherwise well-formed file,
so the reader must refuse it with one specific error; tests/format/
gguf_reader_test.cpp asserts which (ErrorKind and field path). The valid seeds
use every value type and a few tensor types, and are laid out exactly as the
slim writer (and gguf-py, llama.cpp) lay files out, so writing back what was
read must reproduce them byte for byte.

Standard library only, deterministic: re-running it rewrites identical files.

    tools/fuzz/make_gguf_seeds.py [OUT_DIR]
"""

import os
import struct
import sys

# GGUF value types.
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
SCALAR_FMT = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f",
              BOOL: "<B", U64: "<Q", I64: "<q", F64: "<d"}

# ggml tensor types used here: id -> (block size, bytes per block).
F32_T, F16_T, Q4_0_T, Q8_0_T = 0, 1, 2, 8
GGML = {F32_T: (1, 4), F16_T: (1, 2), Q4_0_T: (32, 18), Q8_0_T: (32, 34)}


def u32(v):
    return struct.pack("<I", v)


def u64(v):
    return struct.pack("<Q", v)


def gstr(s):
    b = s.encode() if isinstance(s, str) else s
    return u64(len(b)) + b


def header(n_tensors, n_kv, version=3, magic=b"GGUF"):
    return magic + u32(version) + u64(n_tensors) + u64(n_kv)


def value(vtype, v):
    """Encodes a value; arrays are (elem_type, [items])."""
    if vtype == STRING:
        return gstr(v)
    if vtype == ARRAY:
        elem_type, items = v
        out = u32(elem_type) + u64(len(items))
        return out + b"".join(value(elem_type, item) for item in items)
    return struct.pack(SCALAR_FMT[vtype], v)


def kv(key, vtype, v):
    return gstr(key) + u32(vtype) + value(vtype, v)


def tensor_info(name, ne, ttype, offset):
    return gstr(name) + u32(len(ne)) + b"".join(struct.pack("<q", d) for d in ne) + u32(ttype) + \
        u64(offset)


def n_bytes(ne, ttype):
    block, size = GGML[ttype]
    n = 1
    for d in ne:
        n *= d
    return n // block * size


def pad(n, alignment):
    return b"\0" * ((alignment - n % alignment) % alignment)


def gguf_file(kvs, tensors, version=3, alignment=32):
    """A well-formed file: kvs is a list of (key, type, value); tensors a list of
    (name, ne, type, data). Data is laid out in order, each padded to the alignment."""
    out = header(len(tensors), len(kvs), version)
    out += b"".join(kv(*x) for x in kvs)
    offset = 0
    for name, ne, ttype, data in tensors:
        assert len(data) == n_bytes(ne, ttype), name
        out += tensor_info(name, ne, ttype, offset)
        offset += len(data) + len(pad(len(data), alignment))
    if tensors:
        out += pad(len(out), alignment)
        for _, _, _, data in tensors:
            out += data + pad(len(data), alignment)
    return out


def pattern(n, seed):
    """Deterministic, recognisable bytes: byte i is (seed + 7 * i) mod 256."""
    return bytes((seed + 7 * i) % 256 for i in range(n))


def f32s(values):
    return b"".join(struct.pack("<f", v) for v in values)


def q_blocks(n_blocks, ttype, seed):
    """Blocks whose f16 scale is 1.0 (0x3c00) followed by pattern bytes."""
    _, size = GGML[ttype]
    return b"".join(struct.pack("<H", 0x3C00) + pattern(size - 2, seed + b)
                    for b in range(n_blocks))


# --- valid seeds -----------------------------------------------------------

ALL_TYPES_KVS = [
    ("general.architecture", STRING, "llama"),
    ("general.name", STRING, "slim seed \u00e9\u4e2d"),
    ("t.u8", U8, 200),
    ("t.i8", I8, -100),
    ("t.u16", U16, 60000),
    ("t.i16", I16, -30000),
    ("t.u32", U32, 4000000000),
    ("t.i32", I32, -2000000000),
    ("t.f32", F32, 1.5),
    ("t.bool_true", BOOL, 1),
    ("t.bool_false", BOOL, 0),
    ("t.string_empty", STRING, ""),
    ("t.u64", U64, 18000000000000000000),
    ("t.i64", I64, -9000000000000000000),
    ("t.f64", F64, -2.25),
    ("t.arr_u8", ARRAY, (U8, [1, 2, 255])),
    ("t.arr_i16", ARRAY, (I16, [-1, 2, -3])),
    ("t.arr_f32", ARRAY, (F32, [0.5, -1.0])),
    ("t.arr_bool", ARRAY, (BOOL, [1, 0, 1])),
    ("t.arr_u64", ARRAY, (U64, [1, 2 ** 64 - 1])),
    ("t.arr_f64", ARRAY, (F64, [3.0])),
    ("t.arr_empty", ARRAY, (I32, [])),
    ("t.arr_str", ARRAY, (STRING, ["a", "", "\u00fcber"])),
    ("t.arr_nested", ARRAY, (ARRAY, [(I32, [1, 2]), (I32, []), (I32, [-3])])),
    ("t.arr_nested_str", ARRAY, (ARRAY, [(STRING, ["x", "yz"]), (STRING, [])])),
    ("t.arr_nested3", ARRAY, (ARRAY, [(ARRAY, [(U8, [7])])])),
    ("tokenizer.ggml.tokens", ARRAY, (STRING, ["<s>", "</s>", "a", "b"])),
    ("tokenizer.ggml.scores", ARRAY, (F32, [0.0, 0.0, -1.0, -2.0])),
    ("tokenizer.ggml.token_type", ARRAY, (I32, [3, 3, 1, 1])),
]


def valid_seeds():
    seeds = {}
    seeds["valid_kv_all_types.gguf"] = gguf_file(ALL_TYPES_KVS, [])

    tensors = [
        ("tok_embd.weight", [4, 3], F32_T, f32s([i * 0.25 - 1 for i in range(12)])),
        ("blk.0.attn_q.weight", [64, 2], Q4_0_T, q_blocks(4, Q4_0_T, 1)),
        ("blk.0.ffn_up.weight", [32, 3], Q8_0_T, q_blocks(3, Q8_0_T, 5)),
    ]
    kvs = [
        ("general.architecture", STRING, "llama"),
        ("general.alignment", U32, 64),
        ("llama.block_count", U32, 1),
        ("general.file_type", U32, 2),
    ]
    seeds["valid_tensors.gguf"] = gguf_file(kvs, tensors, alignment=64)

    # GGUF v2 (same layout as v3), default alignment, an F16 vector.
    kvs = [("general.architecture", STRING, "gpt2")]
    tensors = [
        ("output_norm.weight", [5], F16_T, pattern(10, 3)),
        ("output.weight", [2, 2], F32_T, f32s([1, 2, 3, 4])),
    ]
    seeds["valid_v2.gguf"] = gguf_file(kvs, tensors, version=2)
    return seeds


# --- malformed seeds -------------------------------------------------------
# Each is named for what it breaks. The comment after each names the error the
# reader must raise (ErrorKind, field path).


def one_tensor(info, data):
    """A header for one tensor, its info, padding to 32 and `data`."""
    out = header(1, 0) + info
    return out + pad(len(out), 32) + data


def malformed_seeds(valid):
    s = {}
    tensors_file = valid["valid_tensors.gguf"]

    s["bad_magic.gguf"] = header(0, 0, magic=b"GGML")  # bad_magic, header.magic
    s["version_1.gguf"] = header(0, 0, version=1)  # unsupported, header.version
    s["version_4.gguf"] = header(0, 0, version=4)  # unsupported, header.version
    # The file ends half-way through n_kv.
    s["truncated_header.gguf"] = header(0, 0)[:20]  # truncated, header.n_kv
    # kv[1]'s key length is cut after 4 of its 8 bytes. kv[0] is long enough
    # that two key/values could still fit, so the count check passes.
    s["truncated_kv_key.gguf"] = (header(0, 2) + kv("general.name", STRING, "0123456789") +
                                  u64(8)[:4])  # truncated, kv[1].key.length
    s["truncated_kv_value.gguf"] = (header(0, 1) + gstr("some.key") + u32(U64) +
                                    u64(7)[:4])  # truncated, kv[0] 'some.key'.value
    # The tensor info ends half-way through ne[1].
    s["truncated_tensor_info.gguf"] = (header(1, 0) + gstr("w") + u32(2) + u64(32) +
                                       u64(4)[:4])  # truncated, tensor[0] 'w'.ne[1]
    # Cut inside the padding between the tensor infos and the data section, so
    # the section cannot start.
    end, start = infos_end(tensors_file)[0], data_offset(tensors_file)
    assert start - end > 1
    s["truncated_before_data.gguf"] = tensors_file[:end + 1]  # truncated, data
    # Cut in the middle of the last tensor's bytes: the reader cannot tell a
    # short file from a bad offset, and names the tensor that does not fit.
    s["truncated_in_data.gguf"] = tensors_file[:-100]  # out_of_range, tensor[2] 'blk.0.ffn_up.weight'.offset

    s["huge_n_tensors.gguf"] = header(2 ** 63, 0)  # too_large, header.n_tensors
    s["huge_n_kv.gguf"] = header(0, 2 ** 64 - 1)  # too_large, header.n_kv
    # A string value claims 1000 bytes; 10 follow.
    s["string_past_eof.gguf"] = (header(0, 1) + gstr("general.name") + u32(STRING) + u64(1000) +
                                 b"0123456789")  # too_large, kv[0] 'general.name'.value.length
    # 2^61 + 1 elements of 8 bytes: count * 8 wraps to 8 in 64 bits.
    s["array_count_overflow.gguf"] = (header(0, 1) + gstr("a") + u32(ARRAY) + u32(U64) +
                                      u64(2 ** 61 + 1) + u64(1))  # too_large, kv[0] 'a'.value.count
    s["n_dims_5.gguf"] = one_tensor(tensor_info("w", [1, 1, 1, 1, 1], F32_T, 0),
                                    b"\0" * 32)  # bad_value, tensor[0] 'w'.n_dims
    s["zero_dim.gguf"] = one_tensor(tensor_info("w", [4, 0], F32_T, 0),
                                    b"\0" * 32)  # bad_value, tensor[0] 'w'.ne[1]
    s["negative_dim.gguf"] = one_tensor(tensor_info("w", [-4], F32_T, 0),
                                        b"\0" * 32)  # bad_value, tensor[0] 'w'.ne[0]
    s["dims_product_overflow.gguf"] = one_tensor(
        tensor_info("w", [2 ** 32, 2 ** 32], F32_T, 0), b"\0" * 32)  # too_large, tensor[0] 'w'.ne[1]
    # 2^62 F32 elements: the count fits, its byte size (2^64) does not.
    s["bytes_overflow.gguf"] = one_tensor(tensor_info("w", [2 ** 62], F32_T, 0),
                                          b"\0" * 32)  # too_large, tensor[0] 'w'
    s["unknown_type_4.gguf"] = one_tensor(tensor_info("w", [32], 4, 0),
                                          b"\0" * 32)  # unsupported, tensor[0] 'w'.type
    s["unknown_type_1000.gguf"] = one_tensor(tensor_info("w", [32], 1000, 0),
                                             b"\0" * 32)  # unsupported, tensor[0] 'w'.type
    s["ne0_not_block_multiple.gguf"] = one_tensor(tensor_info("w", [33, 2], Q4_0_T, 0),
                                                  b"\0" * 64)  # bad_value, tensor[0] 'w'.ne[0]
    s["empty_tensor_name.gguf"] = one_tensor(tensor_info("", [4], F32_T, 0),
                                             b"\0" * 32)  # bad_value, tensor[0].name

    def two_tensors(off_a, off_b, name_b="b"):
        infos = tensor_info("a", [16], F32_T, off_a) + tensor_info(name_b, [8], F32_T, off_b)
        out = header(2, 0) + infos
        return out + pad(len(out), 32) + b"\x11" * 128

    s["misaligned_offset.gguf"] = two_tensors(0, 80)  # misaligned, tensor[1] 'b'.offset
    s["offset_past_eof.gguf"] = two_tensors(0, 1 << 40)  # out_of_range, tensor[1] 'b'.offset
    # a covers [0, 64), b starts at 32.
    s["overlapping_tensors.gguf"] = two_tensors(0, 32)  # overlap, tensor[1] 'b'.offset
    s["duplicate_tensor_name.gguf"] = two_tensors(0, 64, "a")  # duplicate, tensor[1] 'a'.name

    s["duplicate_key.gguf"] = (header(0, 2) + kv("k", U32, 1) +
                               kv("k", U32, 2))  # duplicate, kv[1] 'k'.key
    s["alignment_not_pow2.gguf"] = (header(0, 1) + kv("general.alignment", U32,
                                                      48))  # bad_value, kv[0] 'general.alignment'
    s["alignment_zero.gguf"] = (header(0, 1) + kv("general.alignment", U32,
                                                  0))  # bad_value, kv[0] 'general.alignment'
    s["alignment_u64.gguf"] = (header(0, 2) + kv("general.name", STRING, "x") +
                               kv("general.alignment", U64,
                                  32))  # bad_type, kv[1] 'general.alignment'
    s["tokens_i32.gguf"] = (header(0, 1) + kv("tokenizer.ggml.tokens", ARRAY,
                                              (I32, [1, 2, 3])))  # bad_type, kv[0] 'tokenizer.ggml.tokens'
    s["unknown_value_type.gguf"] = (header(0, 1) + gstr("k") + u32(13) +
                                    u64(0))  # bad_value, kv[0] 'k'.type
    s["unknown_array_elem_type.gguf"] = (header(0, 1) + gstr("k") + u32(ARRAY) + u32(99) +
                                         u64(0))  # bad_value, kv[0] 'k'.value.type
    s["bool_2.gguf"] = header(0, 1) + gstr("k") + u32(BOOL) + b"\x02"  # bad_value, kv[0] 'k'.value
    s["bool_array_2.gguf"] = (header(0, 1) + kv("k", ARRAY,
                                                (BOOL, [1, 0, 2])))  # bad_value, kv[0] 'k'.value[2]
    # 17 nested array headers (the limit is 16), each holding one element.
    nested = b"".join(u32(ARRAY) + u64(1) for _ in range(17)) + u32(U8) + u64(1) + b"\x01"
    s["nested_too_deep.gguf"] = (header(0, 1) + gstr("k") + u32(ARRAY) +
                                 nested)  # too_large, kv[0] 'k'.value[0]...[0] (16 times)
    s["empty_key.gguf"] = header(0, 1) + kv("", U32, 1)  # bad_value, kv[0].key
    return s


def infos_end(f):
    """Where the tensor infos of a well-formed seed end, and its alignment."""
    n_tensors, n_kv = struct.unpack_from("<QQ", f, 8)
    pos = 24
    alignment = 32

    def skip_value(vtype, pos):
        if vtype == STRING:
            (n,) = struct.unpack_from("<Q", f, pos)
            return pos + 8 + n
        if vtype == ARRAY:
            elem, count = struct.unpack_from("<IQ", f, pos)
            pos += 12
            for _ in range(count):
                pos = skip_value(elem, pos)
            return pos
        return pos + struct.calcsize(SCALAR_FMT[vtype])

    for _ in range(n_kv):
        (n,) = struct.unpack_from("<Q", f, pos)
        key = f[pos + 8:pos + 8 + n]
        pos += 8 + n
        (vtype,) = struct.unpack_from("<I", f, pos)
        if key == b"general.alignment":
            (alignment,) = struct.unpack_from("<I", f, pos + 4)
        pos = skip_value(vtype, pos + 4)
    for _ in range(n_tensors):
        (n,) = struct.unpack_from("<Q", f, pos)
        pos += 8 + n
        (n_dims,) = struct.unpack_from("<I", f, pos)
        pos += 4 + 8 * n_dims + 4 + 8
    return pos, alignment


def data_offset(f):
    """Where the data section of a well-formed seed starts."""
    end, alignment = infos_end(f)
    return end + len(pad(end, alignment))


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "tests/fuzz/corpus/gguf")
    os.makedirs(out_dir, exist_ok=True)
    valid = valid_seeds()
    seeds = dict(valid)
    seeds.update(malformed_seeds(valid))
    for name, data in sorted(seeds.items()):
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(data)
    print(f"wrote {len(seeds)} seeds ({len(valid)} valid) to {out_dir}")


if __name__ == "__main__":
    main()
