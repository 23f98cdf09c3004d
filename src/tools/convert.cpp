#include "tools/convert.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>

#include "format/error.h"
#include "tensor/fp16.h"
#include "tensor/tensor_type.h"
#include "tools/convert_internal.h"

namespace slim {

namespace convert_detail {

namespace {

std::string json_type(const nlohmann::json& v) {
    return v.is_null() ? "nothing" : std::string(v.type_name());
}

std::string shape_text(const std::vector<int64_t>& shape) {
    return fmt::format("[{}]", fmt::join(shape, ", "));
}

}  // namespace

nlohmann::json read_json_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw Error(ErrorKind::io, path.string(), "(file)", {}, "a readable JSON file",
                    std::filesystem::exists(path) ? "an unreadable file" : "no such file");
    }
    std::stringstream ss;
    ss << in.rdbuf();
    try {
        return nlohmann::json::parse(ss.str());
    } catch (const nlohmann::json::parse_error& e) {
        throw Error(ErrorKind::bad_value, path.string(), "(JSON)", e.byte, "valid JSON", e.what());
    }
}

uint32_t JsonFields::positive_u32(std::string_view key, std::optional<uint32_t> fallback) const {
    if (!has(key)) {
        if (fallback) return *fallback;
        throw Error(ErrorKind::bad_value, file_, std::string(key), {}, "a positive integer",
                    "nothing");
    }
    const nlohmann::json& v = j_.at(key);
    if (!v.is_number_integer()) {
        throw Error(ErrorKind::bad_type, file_, std::string(key), {}, "a positive integer",
                    json_type(v));
    }
    const int64_t i = v.get<int64_t>();
    if (i <= 0 || i > int64_t(UINT32_MAX)) {
        throw Error(ErrorKind::bad_value, file_, std::string(key), {}, "a positive integer",
                    std::to_string(i));
    }
    return uint32_t(i);
}

double JsonFields::positive_number(std::string_view key, std::optional<double> fallback) const {
    if (!has(key)) {
        if (fallback) return *fallback;
        throw Error(ErrorKind::bad_value, file_, std::string(key), {}, "a positive number",
                    "nothing");
    }
    const nlohmann::json& v = j_.at(key);
    if (!v.is_number()) {
        throw Error(ErrorKind::bad_type, file_, std::string(key), {}, "a positive number",
                    json_type(v));
    }
    const double d = v.get<double>();
    if (!(d > 0)) {
        throw Error(ErrorKind::bad_value, file_, std::string(key), {}, "a positive number",
                    v.dump());
    }
    return d;
}

std::string JsonFields::string(std::string_view key, std::optional<std::string> fallback) const {
    if (!has(key)) {
        if (fallback) return *fallback;
        throw Error(ErrorKind::bad_value, file_, std::string(key), {}, "a string", "nothing");
    }
    const nlohmann::json& v = j_.at(key);
    if (!v.is_string()) {
        throw Error(ErrorKind::bad_type, file_, std::string(key), {}, "a string", json_type(v));
    }
    return v.get<std::string>();
}

bool JsonFields::boolean(std::string_view key, std::optional<bool> fallback) const {
    if (!has(key)) {
        if (fallback) return *fallback;
        throw Error(ErrorKind::bad_value, file_, std::string(key), {}, "true or false", "nothing");
    }
    const nlohmann::json& v = j_.at(key);
    if (!v.is_boolean()) {
        throw Error(ErrorKind::bad_type, file_, std::string(key), {}, "true or false",
                    json_type(v));
    }
    return v.get<bool>();
}

void GgufBuilder::add_strings(std::string key, const std::vector<std::string>& v) {
    GgufArray a;
    a.elem_type = GgufType::string;
    a.count = v.size();
    a.strings.reserve(v.size());
    for (const std::string& s : v) a.strings.push_back(keep(s));
    add(std::move(key), GgufValue::make_array(std::move(a)));
}

void GgufBuilder::add_i32s(std::string key, const std::vector<int32_t>& v) {
    std::vector<uint8_t>& blob = blobs_.emplace_back(v.size() * sizeof(int32_t));
    if (!v.empty()) std::memcpy(blob.data(), v.data(), blob.size());
    GgufArray a;
    a.elem_type = GgufType::i32;
    a.count = v.size();
    a.scalars = blob.data();
    add(std::move(key), GgufValue::make_array(std::move(a)));
}

GgmlType convert_tensor_type(const std::string& gguf_name, size_t n_dims, int64_t row_length,
                             GgmlType requested) {
    // convert_hf_to_gguf.py (ModelBase.prepare_tensors): 1-D tensors and
    // norms are F32 because most of llama.cpp handles only F32 there; so are
    // position and token-type embeddings and anything not named .weight.
    auto ends_with = [&](std::string_view s) {
        return gguf_name.size() >= s.size() &&
               gguf_name.compare(gguf_name.size() - s.size(), s.size(), s) == 0;
    };
    if (n_dims <= 1 || ends_with("_norm.weight") || !ends_with(".weight") ||
        gguf_name == "position_embd.weight" || gguf_name == "token_types.weight") {
        return GgmlType::f32;
    }
    // gguf-py raises QuantError for a row that is not whole blocks, and the
    // converter then falls back to F16.
    if (requested == GgmlType::q8_0 && row_length % 32 != 0) return GgmlType::f16;
    return requested;
}

void check_tensor(const SafetensorsTensor& t, const std::vector<int64_t>& shape) {
    if (!t.is_convertible()) {
        throw Error(ErrorKind::unsupported, t.file(), t.name + ".dtype", t.header_offset,
                    "F32, F16 or BF16", std::string(safetensors_dtype_name(t.dtype)));
    }
    if (t.shape != shape) {
        throw Error(ErrorKind::bad_value, t.file(), t.name + ".shape", t.header_offset,
                    shape_text(shape), shape_text(t.shape));
    }
}

namespace {

// One row of the source as floats (exact: F16 and BF16 widen without loss).
void read_row(const SafetensorsTensor& t, const uint8_t* src, float* dst, int64_t n) {
    switch (t.dtype) {
        case SafetensorsDtype::f32:
            std::memcpy(dst, src, size_t(n) * 4);
            break;
        case SafetensorsDtype::f16:
        case SafetensorsDtype::bf16:
            for (int64_t i = 0; i < n; ++i) {
                uint16_t h;
                std::memcpy(&h, src + 2 * i, 2);
                dst[i] = t.dtype == SafetensorsDtype::f16 ? fp16_to_fp32(h) : bf16_to_fp32(h);
            }
            break;
        default:
            break;  // check_tensor let only the three through
    }
}

bool same_encoding(SafetensorsDtype src, GgmlType dst) {
    return (src == SafetensorsDtype::f32 && dst == GgmlType::f32) ||
           (src == SafetensorsDtype::f16 && dst == GgmlType::f16) ||
           (src == SafetensorsDtype::bf16 && dst == GgmlType::bf16);
}

// The bytes of `p` in its GGUF type: in place in the mapping when the
// encodings agree, else converted row by row into a new buffer kept in `out`.
std::span<const uint8_t> tensor_bytes(const PlannedTensor& p, std::vector<uint8_t>& out) {
    const SafetensorsTensor& t = *p.source;
    std::span<const uint8_t> src = t.data();
    if (same_encoding(t.dtype, p.type)) return src;
    const int64_t row = t.shape.empty() ? 1 : t.shape.back();
    const uint64_t n_rows = row == 0 ? 0 : t.n_elements / uint64_t(row);
    const size_t src_row_bytes = size_t(row) * safetensors_dtype_bits(t.dtype) / 8;
    const size_t dst_row_bytes = tensor_row_bytes(p.type, row);
    out.resize(n_rows * dst_row_bytes);
    std::vector<float> buf(static_cast<size_t>(row));
    for (uint64_t r = 0; r < n_rows; ++r) {
        read_row(t, src.data() + r * src_row_bytes, buf.data(), row);
        quantize_row_ref(p.type, buf.data(), out.data() + r * dst_row_bytes, row);
    }
    return out;
}

uint32_t file_type_id(GgmlType type) {
    // llama_ftype: ALL_F32 0, MOSTLY_F16 1, MOSTLY_Q8_0 7.
    switch (type) {
        case GgmlType::f32:
            return 0;
        case GgmlType::q8_0:
            return 7;
        default:
            return 1;
    }
}

}  // namespace

}  // namespace convert_detail

GgmlType convert_type_from_name(const std::string& name) {
    if (name == "f32") return GgmlType::f32;
    if (name == "f16") return GgmlType::f16;
    if (name == "q8_0") return GgmlType::q8_0;
    throw Error(ErrorKind::invalid_argument, "", "--type", {}, "f32, f16 or q8_0", name);
}

ConvertReport convert_hf(const ConvertOptions& options) {
    using namespace convert_detail;
    if (options.type != GgmlType::f32 && options.type != GgmlType::f16 &&
        options.type != GgmlType::q8_0) {
        throw Error(ErrorKind::invalid_argument, "", "--type", {}, "f32, f16 or q8_0",
                    std::string(ggml_type_name(options.type)));
    }
    const std::filesystem::path& dir = options.hf_dir;
    if (!std::filesystem::is_directory(dir)) {
        throw Error(ErrorKind::io, dir.string(), "(folder)", {}, "a Hugging Face model folder",
                    "no such folder");
    }
    const std::filesystem::path config_path = dir / "config.json";
    const nlohmann::json config_json = read_json_file(config_path);
    if (!config_json.is_object()) {
        throw Error(ErrorKind::bad_type, config_path.string(), "(root)", {}, "a JSON object",
                    config_json.type_name());
    }
    const JsonFields config(config_json, config_path.string());

    // Which family: the first of config.architectures a converter knows.
    if (!config.has("architectures") || !config_json.at("architectures").is_array() ||
        config_json.at("architectures").empty()) {
        throw Error(ErrorKind::bad_value, config.file(), "architectures", {},
                    "a list of model class names",
                    config_json.value("architectures", nlohmann::json()).dump());
    }
    std::string arch;
    for (const nlohmann::json& a : config_json.at("architectures")) {
        if (!a.is_string()) {
            throw Error(ErrorKind::bad_type, config.file(), "architectures", {}, "strings",
                        a.type_name());
        }
        const std::string s = a.get<std::string>();
        if (s == "BertModel" || s == "BertForMaskedLM") {
            arch = s;
            break;
        }
    }
    if (arch.empty()) {
        throw Error(ErrorKind::unsupported, config.file(), "architectures", {},
                    "BertModel or BertForMaskedLM", config_json.at("architectures").dump());
    }

    SafetensorsSet weights = SafetensorsSet::open(dir);

    GgufBuilder gguf;
    // general.* first, as gguf-py writes them; the name is the folder's (or
    // its parent's when the folder is a generic "model").
    std::string name = std::filesystem::absolute(dir).lexically_normal().filename().string();
    if (name.empty() || name == "model") {
        name = std::filesystem::absolute(dir).lexically_normal().parent_path().filename().string();
    }
    gguf.add_string("general.architecture", "bert");
    gguf.add_string("general.type", "model");
    gguf.add_string("general.name", name);
    FamilyResult family = convert_bert(dir, config, weights, options.type, gguf);
    gguf.add_u32("general.quantization_version", 2);

    // Each tensor's general.file_type slot was filled by the family; the
    // converted data is held until the file is written.
    GgufContents contents;
    contents.kvs = std::move(gguf.kvs());
    for (auto& [key, value] : contents.kvs) {
        if (key == "general.file_type") value = GgufValue::make_u32(file_type_id(options.type));
    }
    std::deque<std::vector<uint8_t>> buffers;
    ConvertReport report;
    report.architecture = family.architecture;
    const size_t n = family.tensors.size();
    for (size_t i = 0; i < n; ++i) {
        const PlannedTensor& p = family.tensors[i];
        const SafetensorsTensor& t = *p.source;
        GgufTensorToWrite w;
        w.name = p.name;
        w.type = p.type;
        w.n_dims = uint32_t(std::max<size_t>(t.shape.size(), 1));
        for (size_t d = 0; d < t.shape.size(); ++d) w.ne[d] = t.shape[t.shape.size() - 1 - d];
        w.data = tensor_bytes(p, buffers.emplace_back());
        contents.tensors.push_back(w);
        report.n_parameters += t.n_elements;
        report.n_bytes += w.data.size();
        if (options.progress) options.progress(i, n, p.name, p.type);
    }
    report.n_tensors = n;
    gguf_write(options.out, contents);
    return report;
}

}  // namespace slim
