#!/usr/bin/env python3
"""Token ids from llama.cpp's own tokenizer, for slim's tokenizer tests.

For every vocabulary in ../shared/testdata/vocab (all 19, with or without
test vectors) and every text in a fixed set -- slices of the WikiText-2 test
text plus strings chosen to break tokenizers (invalid UTF-8, 100 KB of one
character, emoji ZWJ sequences, mixed scripts, combining marks, control
characters, text that spells special tokens) -- this records what llama.cpp
gives for

  plain:   llama_tokenize(add_special=false, parse_special=false)
  special: llama_tokenize(add_special=true,  parse_special=true)

and what llama_detokenize gives back for each id list (plain ids with
remove_special=false, unparse_special=false; special ids with both true).

Every pre-tokenizer name slim knows is covered as well: the gpt-2 vocabulary
with tokenizer.ggml.pre overridden, on the short texts (plain mode only).

Output, in tests/reference/tokenizer/:
  texts.json     the texts: literal UTF-8, hex bytes, a repeated character,
                 or a byte range of a file under the shared testdata folder
  <vocab>.json   per text: ids (in full when short, else count + FNV-1a 64
                 of the int32 little-endian ids), and the detokenized text
                 as length + FNV-1a 64 (in full when short)
  pre-tokenizers.json  per pre-tokenizer name, per short text: "count:fnv64" of the ids
Needs llama-cpp-python 0.3.36, built with
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
    -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON -DGGML_AVX_VNNI=ON" \
    pip install --no-deps llama-cpp-python==0.3.36
Usage: python tools/reference/make_tokenizer_refs.py [--testdata DIR] [--out DIR]
"""

import argparse
import ctypes
import json
import os
import resource
import struct
import sys

import llama_cpp

VOCABS = [
    "aquila", "baichuan", "bert-bge", "command-r", "deepseek-coder", "deepseek-llm",
    "falcon", "gemma-4", "gpt-2", "gpt-neox", "llama-bpe", "llama-spm", "mpt",
    "nomic-bert-moe", "phi-3", "qwen2", "qwen35", "refact", "starcoder",
]

# tokenizer.ggml.pre names of byte-level BPE (SentencePiece-style ones, gemma4
# and kin, do not fit a byte-level vocabulary and are covered by gemma-4).
PRE_NAMES = [
    "default", "minicpm5", "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral",
    "midm-2.0", "lfm2", "jina-v5-nano", "deepseek-llm", "deepseek-coder", "deepseek-v3",
    "spark2_5", "falcon", "mpt", "starcoder", "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat",
    "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum", "modern-bert", "jais-2", "jina-v1-en",
    "jina-v2-code", "roberta-bpe", "refact", "command-r", "qwen2", "deepseek-r1-qwen", "kormo",
    "f2llmv2", "qwen35", "stablelm2", "olmo", "dbrx", "smaug-bpe", "poro-chat", "chatglm-bpe",
    "glm4", "glm5", "viking", "jais", "tekken", "smollm", "codeshell", "bloom", "gpt3-finnish",
    "exaone", "exaone4", "exaone-moe", "chameleon", "minerva-7b", "megrez", "gpt-4o", "llama4",
    "kanana2", "talkie", "granite-embed-multi-97m", "superbpe", "trillion", "granite-docling",
    "bailingmoe", "bailingmoe2", "llada-moe", "seed-coder", "hunyuan", "hunyuan-dense", "hy_v4",
    "joyai-llm", "ufakzeka", "grok-2", "laguna", "minimax-m2", "solar-open", "mellum2",
]

WIKI_LF = "eval/wikitext-2-raw/wiki.test.nonblank-lf.raw"
WIKI_CRLF = "eval/wikitext-2-raw/wiki.test.raw.tyloquant-crlf"

# Short id lists and texts are stored in full, longer ones as a hash.
FULL_IDS_MAX = 48
FULL_TEXT_MAX = 160


def fnv1a64(data: bytes) -> str:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def nasty_texts():
    """(name, bytes) pairs. Nothing here decodes past U+10FFFF: llama.cpp
    throws a C++ exception on such code points, which would abort Python."""
    t = []

    def add(name, s):
        t.append((name, s if isinstance(s, bytes) else s.encode("utf-8")))

    # Invalid UTF-8.
    add("invalid-ff-fe", b"\xff\xfe abc \xfe\xff")
    add("invalid-lone-continuation", b"abc\x80def \xbf\xbf x")
    add("invalid-truncated-2", b"caf\xc3")
    add("invalid-truncated-3", b"\xe4\xb8 mid \xe4\xb8")
    add("invalid-truncated-4", b"smile \xf0\x9f\x98 end")
    add("invalid-overlong", b"\xc0\xaf \xe0\x80\xaf \xc1\xbf")
    add("invalid-surrogate", b"x \xed\xa0\x80 \xed\xbf\xbf y")
    add("invalid-mixed", b"Hello \xe6\x88\x91\xe6 world \xc3\xa9\xc3 ok\xf8\x88\x80\x80\x80")
    add("invalid-only", bytes(range(0x80, 0xC0)))
    # One character, over and over.
    add("repeat-short-a", "a" * 1000)
    add("repeat-short-space", " " * 1000)
    add("repeat-short-newline", "\n" * 1000)
    add("repeat-short-e-acute", "é" * 1000)
    add("repeat-short-digit", "7" * 1000)
    add("repeat-short-bang", "!" * 1000)
    # Emoji, with joiners, modifiers, flags and keycaps.
    add("emoji-family", "👨‍👩‍👧‍👦 family")
    add("emoji-rainbow-flag", "🏳️‍🌈 and 🏴‍☠️")
    add("emoji-skin-tones", "👍🏽👋🏿🤝🏻")
    add("emoji-flags", "🇺🇸🇬🇧🇯🇵🇩🇪")
    add("emoji-keycaps", "1️⃣ #️⃣ *️⃣")
    add("emoji-dense", "😀😃😄😁😆😅😂🤣🥲☺️😊😇🙂🙃😉😌😍🥰😘")
    # Mixed scripts.
    add("scripts-mixed", "Hello мир 世界 مرحبا שלום नमस्ते γειά σου 🌍")
    add("scripts-cjk", "日本語のテキスト、漢字とかなカナ。한국어 텍스트입니다. 中文文本，标点符号！")
    add("scripts-thai-lao-khmer", "ภาษาไทยง่ายนิดเดียว ພາສາລາວ ភាសាខ្មែរ")
    add("scripts-rtl", "العربية: مرحبا بالعالم! עברית: שלום עולם. فارسی: سلام")
    add("scripts-indic", "हिन्दी বাংলা தமிழ் తెలుగు ಕನ್ನಡ മലയാളം ગુજરાતી ਪੰਜਾਬੀ")
    add("scripts-fullwidth", "ＡＢＣ１２３！？　ｈｅｌｌｏ")
    # Combining marks and normalisation forms.
    add("combining-nfc-nfd", "café cafe\u0301 naïve nai\u0308ve Å A\u030a")
    add("combining-zalgo", "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇")
    add("combining-stacked", "ệ ễ ậ ở Ẩ a\u0323\u0302\u0301 e\u0300\u0300\u0300\u0300")
    add("combining-ligatures", "ﬁne ﬂow Æsir œuvre ß ẞ ǅ ǈ ﬀ")
    add("combining-hangul-jamo", "가각 \u1100\u1161\u11a8 한\u1100")
    # Control and invisible characters, unusual spaces.
    add("control-c0", "a\x00b\x01c\x02d\x1b[31mred\x1b[0m\x7f end")
    add("control-whitespace", "\t\v\f\r\n \t x \r\n\r\n y\u0085z")
    add("control-invisible", "zero\u200bwidth\u200cnon\u200djoiner\ufeffbom\u2060wj\u00adshy")
    add("control-unicode-spaces", "a\u00a0b\u2000c\u2003d\u2009e\u202ff\u205fg\u3000h\u1680i")
    add("control-line-separators", "one\u2028two\u2029three\u0085four")
    add("control-private-use", "\ue000\uf8ff \U000f0000 \U0010fffd")
    add("control-noncharacters", "\ufffe\uffff \ufffd \U0001fffe")
    # Text that spells special tokens.
    add("special-llama", "<s>Hello</s> <unk> [INST] hi [/INST] </s><s>")
    add("special-chatml", "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>")
    add("special-gpt", "<|endoftext|>text<|endoftext|> <|padding|> <|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>")
    add("special-llama3", "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>")
    add("special-bert", "[CLS] hello [SEP] [MASK] [PAD] [UNK] world [SEP]")
    add("special-gemma", "<bos><start_of_turn>user\nhi<end_of_turn>\n<|turn>model<turn|><pad><mask>")
    add("special-t5", "<s> <pad> </s> <unk> <mask> hello<mask>world")
    add("special-partial", "<|im_sta <|im_end <|endoftext <s </s <|eot_id|")
    add("special-adjacent", "<|im_start|><|im_start|><s><s></s>\n<|im_end|><|endoftext|>")
    add("special-spaced", "  <s>  x  </s>  <|end|>  y  <|user|>  z  ")
    add("special-command-r", "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>hi<|END_OF_TURN_TOKEN|>")
    # Other edge cases.
    add("empty", "")
    add("one-space", " ")
    add("numbers", "1234567890 3.14159 1,000,000 -42 1e10 0x1F 2024-01-01 12:30")
    add("contractions", "I'm you're he'll she'd we've IT'S They'RE can't won't ' s 'll")
    add("code", "def f(x):\n    return x**2  # square\n\nif __name__ == '__main__':\n\tprint(f(3))\n")
    add("url-email", "https://example.com/path?q=1&r=two#frag mail@example.org")
    add("whitespace-runs", "a    \n\n\n   b\t\t\tc \n \n d       ")
    add("punctuation-runs", "!!!?!?... ,,,;;; --- ___ *** ((())) [[]] {{}} <<>> ''' \"\"\"")
    add("html", "<div class=\"x\"><p>Hello &amp; <b>world</b></p></div>")
    add("markdown", "# Title\n\n* item **bold** _it_ `code`\n\n```python\nx = 1\n```\n")
    return t


def wiki_cases(testdata):
    """Consecutive ~2 KB slices (at line ends) of the WikiText-2 test text,
    64 KB in all, plus one slice of the CRLF copy."""
    cases = []
    path = os.path.join(testdata, WIKI_LF)
    data = open(path, "rb").read()
    pos = 0
    for i in range(32):
        end = data.find(b"\n", pos + 2048)
        end = len(data) if end < 0 else end + 1
        cases.append((f"wiki-{i:02d}", {"file": WIKI_LF, "offset": pos, "length": end - pos},
                      data[pos:end]))
        pos = end
    crlf = open(os.path.join(testdata, WIKI_CRLF), "rb").read()
    end = crlf.find(b"\r\n", 4096) + 2
    cases.append(("wiki-crlf", {"file": WIKI_CRLF, "offset": 0, "length": end}, crlf[:end]))
    return cases


class LlamaVocab:
    def __init__(self, path, pre=None):
        overrides = {"tokenizer.ggml.pre": pre} if pre else None
        self.llama = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False,
                                     kv_overrides=overrides)
        self.vocab = self.llama._model.vocab

    def tokenize(self, text: bytes, add_special: bool, parse_special: bool):
        n = llama_cpp.llama_tokenize(self.vocab, text, len(text), None, 0, add_special,
                                     parse_special)
        if n >= 0:
            return []
        arr = (llama_cpp.llama_token * -n)()
        m = llama_cpp.llama_tokenize(self.vocab, text, len(text), arr, -n, add_special,
                                     parse_special)
        assert m == -n, (m, n)
        return list(arr[:m])

    def detokenize(self, ids, remove_special: bool, unparse_special: bool) -> bytes:
        arr = (llama_cpp.llama_token * max(1, len(ids)))(*ids)
        size = 4 * 1024 * 1024
        buf = ctypes.create_string_buffer(size)
        n = llama_cpp.llama_detokenize(self.vocab, arr, len(ids), buf, size, remove_special,
                                       unparse_special)
        assert n >= 0, n
        return buf.raw[:n]


def ids_entry(ids):
    if len(ids) <= FULL_IDS_MAX:
        return ids
    return {"n": len(ids), "fnv64": fnv1a64(b"".join(struct.pack("<i", i) for i in ids))}


def text_entry(text: bytes):
    entry = {"n": len(text), "fnv64": fnv1a64(text)}
    if len(text) <= FULL_TEXT_MAX:
        try:
            entry["text"] = text.decode("utf-8")
        except UnicodeDecodeError:
            entry["hex"] = text.hex()
    return entry


def ensure_big_stack():
    """llama.cpp runs some pre-tokenizer regexes with std::regex, which
    recurses once per character matched: 100 KB of one letter overflows the
    default 8 MiB stack. Re-run with an unlimited one (the main thread's
    stack is sized at exec)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
    if soft != resource.RLIM_INFINITY and os.environ.get("SLIM_REFS_STACK") != "1":
        resource.setrlimit(resource.RLIMIT_STACK, (hard, hard))
        os.environ["SLIM_REFS_STACK"] = "1"
        os.execv(sys.executable, [sys.executable] + sys.argv)


def main():
    ensure_big_stack()
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--testdata", default=os.path.join(root, "..", "shared", "testdata"))
    ap.add_argument("--out", default=os.path.join(root, "tests", "reference", "tokenizer"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    texts = []  # (name, description for texts.json, bytes)
    for name, spec, data in wiki_cases(args.testdata):
        texts.append((name, spec, data))
    for name, data in nasty_texts():
        try:
            spec = {"text": data.decode("utf-8")}
        except UnicodeDecodeError:
            spec = {"hex": data.hex()}
        texts.append((name, spec, data))
    for name, ch in [("repeat-100k-a", "a"), ("repeat-100k-space", " "),
                     ("repeat-100k-cjk", "字")]:
        count = 100 * 1024 // len(ch.encode())
        texts.append((name, {"repeat": ch, "count": count}, ch.encode() * count))

    with open(os.path.join(args.out, "texts.json"), "w", encoding="utf-8") as f:
        json.dump({"generator": "tools/reference/make_tokenizer_refs.py",
                   "texts": [dict(name=n, **s) for n, s, _ in texts]},
                  f, ensure_ascii=False, indent=1)
        f.write("\n")

    for vocab in VOCABS:
        path = os.path.join(args.testdata, "vocab", f"ggml-vocab-{vocab}.gguf")
        lv = LlamaVocab(path)
        cases = {}
        for name, _, data in texts:
            plain = lv.tokenize(data, False, False)
            special = lv.tokenize(data, True, True)
            cases[name] = {
                "plain": ids_entry(plain),
                "special": ids_entry(special),
                "detok_plain": text_entry(lv.detokenize(plain, False, False)),
                "detok_special": text_entry(lv.detokenize(special, True, True)),
            }
        # One line per text keeps diffs readable.
        lines = [f"{json.dumps(n, ensure_ascii=False)}: "
                 f"{json.dumps(c, ensure_ascii=False, separators=(',', ':'))}"
                 for n, c in cases.items()]
        with open(os.path.join(args.out, f"{vocab}.json"), "w", encoding="utf-8") as f:
            f.write(f'{{"vocab": "ggml-vocab-{vocab}.gguf",\n'
                    f' "llama_cpp_python": "{llama_cpp.__version__}",\n'
                    ' "cases": {\n' + ",\n".join(lines) + "\n}}\n")
        print(f"{vocab}: {len(cases)} texts", file=sys.stderr)

    short = [(n, d) for n, _, d in texts if n in ("wiki-00", "wiki-crlf")]
    short += [(n, d) for n, _, d in texts if not n.startswith(("wiki-", "repeat-100k"))]
    gpt2 = os.path.join(args.testdata, "vocab", "ggml-vocab-gpt-2.gguf")
    lines = []
    for pre in PRE_NAMES:
        lv = LlamaVocab(gpt2, pre)
        ids = {}
        for n, d in short:  # "count:fnv64", to keep 82 x 62 lists small
            got = lv.tokenize(d, False, False)
            ids[n] = f"{len(got)}:{fnv1a64(b''.join(struct.pack('<i', i) for i in got))}"
        lines.append(f"{json.dumps(pre)}: {json.dumps(ids, separators=(',', ':'))}")
    with open(os.path.join(args.out, "pre-tokenizers.json"), "w", encoding="utf-8") as f:
        f.write('{"vocab": "ggml-vocab-gpt-2.gguf",\n "pre": {\n' + ",\n".join(lines) + "\n}}\n")
    print(f"pre-tokenizers: {len(PRE_NAMES)} names, {len(short)} texts", file=sys.stderr)


if __name__ == "__main__":
    main()
