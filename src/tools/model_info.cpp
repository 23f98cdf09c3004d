#include "tools/model_info.h"

#include <fmt/format.h>

#include <map>

namespace slim {

namespace {

using json = nlohmann::ordered_json;

std::string abbreviate(std::string_view s, size_t max_bytes) {
    if (s.size() <= max_bytes) return std::string(s);
    // Cut at a UTF-8 boundary so the JSON stays valid.
    size_t cut = max_bytes;
    while (cut > 0 && (uint8_t(s[cut]) & 0xC0) == 0x80) --cut;
    return fmt::format("{}... ({} bytes)", s.substr(0, cut), s.size());
}

// JSON strings must be valid UTF-8; metadata strings are not guaranteed to be.
std::string valid_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
        uint8_t c = uint8_t(s[i]);
        size_t len = c < 0x80           ? 1
                     : (c >> 5) == 0x6  ? 2
                     : (c >> 4) == 0xE  ? 3
                     : (c >> 3) == 0x1E ? 4
                                        : 0;
        bool ok = len > 0 && i + len <= s.size();
        for (size_t k = 1; ok && k < len; ++k) ok = (uint8_t(s[i + k]) & 0xC0) == 0x80;
        if (ok) {
            out.append(s.substr(i, len));
            i += len;
        } else {
            out += "\xEF\xBF\xBD";  // U+FFFD
            ++i;
        }
    }
    return out;
}

json scalar_json(GgufType type, const uint8_t* raw) {
    GgufValue v = GgufValue::from_raw(type, raw);
    switch (type) {
        case GgufType::boolean:
            return *v.as_bool();
        // An f32 printed through double shows noise digits (1e-6 as
        // 9.99999997e-07); go through float's shortest round-trip text.
        case GgufType::f32:
            return std::stod(fmt::format("{}", float(*v.as_f64())));
        case GgufType::f64:
            return *v.as_f64();
        case GgufType::u64:
            return *v.as_u64();
        default:
            return *v.as_i64();
    }
}

json array_json(const GgufArray& a, const ModelInfoOptions& options) {
    size_t n = std::min<uint64_t>(a.count, options.max_array_items);
    json items = json::array();
    for (size_t i = 0; i < n; ++i) {
        if (a.elem_type == GgufType::string) {
            items.push_back(valid_utf8(abbreviate(a.strings[i], options.max_string_bytes)));
        } else if (a.elem_type == GgufType::array) {
            items.push_back(array_json(a.arrays[i], options));
        } else {
            items.push_back(
                scalar_json(a.elem_type, a.scalars + i * gguf_scalar_size(a.elem_type)));
        }
    }
    if (n == a.count) return items;
    return json{{"type", "array"},
                {"elem_type", gguf_type_name(a.elem_type)},
                {"count", a.count},
                {"head", items}};
}

}  // namespace

json gguf_value_json(const GgufValue& value, const ModelInfoOptions& options) {
    if (auto s = value.as_string()) return valid_utf8(abbreviate(*s, options.max_string_bytes));
    if (const GgufArray* a = value.as_array()) return array_json(*a, options);
    return scalar_json(value.type(), value.raw());
}

json model_info(const GgufFile& file, const ModelInfoOptions& options) {
    json info;
    info["file"] = file.path();
    info["file_size"] = file.file_size();
    info["version"] = file.version();
    info["alignment"] = file.alignment();
    std::string arch(file.get_string("general.architecture").value_or(""));
    info["architecture"] = valid_utf8(arch);
    info["name"] = valid_utf8(file.get_string("general.name").value_or(""));

    uint64_t n_params = 0, n_bytes = 0;
    std::map<uint32_t, json> types;
    json tensors = json::array();
    for (const GgufTensorInfo& t : file.tensors()) {
        n_params += t.n_elements();
        n_bytes += t.n_bytes;
        json shape = json::array();
        for (uint32_t d = 0; d < t.n_dims; ++d) shape.push_back(t.ne[d]);
        tensors.push_back(json{{"name", valid_utf8(t.name)},
                               {"type", ggml_type_name(t.type)},
                               {"shape", shape},
                               {"bytes", t.n_bytes},
                               {"offset", t.offset}});
        json& per_type = types[uint32_t(t.type)];
        if (per_type.is_null()) per_type = json{{"tensors", 0}, {"parameters", 0}, {"bytes", 0}};
        per_type["tensors"] = per_type["tensors"].get<uint64_t>() + 1;
        per_type["parameters"] = per_type["parameters"].get<uint64_t>() + t.n_elements();
        per_type["bytes"] = per_type["bytes"].get<uint64_t>() + t.n_bytes;
    }
    info["n_parameters"] = n_params;
    info["n_tensor_bytes"] = n_bytes;
    info["bits_per_weight"] = n_params ? 8.0 * double(n_bytes) / double(n_params) : 0.0;

    json hparams = json::object();
    json metadata = json::object();
    std::string prefix = arch + ".";
    for (const GgufKv& kv : file.kvs()) {
        json v = gguf_value_json(kv.value, options);
        std::string key = valid_utf8(kv.key);
        if (!arch.empty() && kv.key.starts_with(prefix)) hparams[key.substr(prefix.size())] = v;
        metadata[key] = std::move(v);
    }
    info["hyperparameters"] = std::move(hparams);
    info["metadata"] = std::move(metadata);
    info["tensors"] = std::move(tensors);
    json per_type = json::object();
    for (auto& [id, t] : types) per_type[std::string(ggml_type_name(GgmlType(id)))] = std::move(t);
    info["types"] = std::move(per_type);
    return info;
}

}  // namespace slim
