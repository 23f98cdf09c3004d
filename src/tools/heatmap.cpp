#include "tools/heatmap.h"

#include <plplot.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <vector>

#include "format/error.h"

namespace slim {

namespace {

// PLplot reads '#' as the start of an escape sequence.
std::string plain(const std::string& text) {
    std::string out;
    for (char c : text) {
        out += c;
        if (c == '#') out += '#';
    }
    return out;
}

bool has_device(const char* name) {
    // plgDevs fills caller-owned arrays; PLplot has a few dozen devices at most.
    constexpr int kMax = 128;
    std::vector<PLCHAR_VECTOR> menus(kMax), names(kMax);
    PLCHAR_VECTOR* menu_ptr = menus.data();
    PLCHAR_VECTOR* name_ptr = names.data();
    int n = kMax;
    plgDevs(&menu_ptr, &name_ptr, &n);
    for (int i = 0; i < n && i < kMax; ++i) {
        if (name_ptr[i] && std::strcmp(name_ptr[i], name) == 0) return true;
    }
    return false;
}

std::string value_text(double v) {
    if (v == 0 || v == 1) return fmt::format("{:.0f}", v);
    return fmt::format("{:.2f}", v);
}

void draw(const Heatmap& m) {
    const int nx = int(m.x_labels.size()), ny = int(m.y_labels.size());
    // Red - yellow - green, ColorBrewer's RdYlGn ends and middle.
    PLFLT pos[3] = {0, 0.5, 1};
    PLFLT r[3] = {0xd7 / 255.0, 0xfe / 255.0, 0x1a / 255.0};
    PLFLT g[3] = {0x30 / 255.0, 0xe0 / 255.0, 0x98 / 255.0};
    PLFLT b[3] = {0x27 / 255.0, 0x8b / 255.0, 0x50 / 255.0};
    plscmap1l(1, 3, pos, r, g, b, nullptr);
    plscol0(1, 0, 0, 0);  // colour 1: black, for frame and text

    pladv(0);
    plvpor(0.12, 0.80, 0.12, 0.86);
    plwind(0, nx, ny, 0);  // row 0 at the top
    for (int y = 0; y < ny; ++y) {
        for (int x = 0; x < nx; ++x) {
            const double v = m.values[size_t(y) * size_t(nx) + size_t(x)];
            PLFLT xs[4] = {PLFLT(x), PLFLT(x + 1), PLFLT(x + 1), PLFLT(x)};
            PLFLT ys[4] = {PLFLT(y), PLFLT(y), PLFLT(y + 1), PLFLT(y + 1)};
            if (std::isnan(v)) continue;
            plcol1(v);
            plfill(4, xs, ys);
        }
    }
    // White lines between the cells, so equal neighbours still read as cells.
    plscol0(2, 255, 255, 255);
    plcol0(2);
    plwidth(2);
    for (int x = 1; x < nx; ++x) pljoin(x, 0, x, ny);
    for (int y = 1; y < ny; ++y) pljoin(0, y, nx, y);
    plwidth(1);
    plcol0(1);
    plbox("bc", 0, 0, "bc", 0, 0);
    for (int y = 0; y < ny; ++y) {
        for (int x = 0; x < nx; ++x) {
            const double v = m.values[size_t(y) * size_t(nx) + size_t(x)];
            plptex(x + 0.5, y + 0.5, 1, 0, 0.5, std::isnan(v) ? "-" : value_text(v).c_str());
        }
    }
    for (int x = 0; x < nx; ++x)
        plmtex("b", 1.5, (x + 0.5) / nx, 0.5, plain(m.x_labels[size_t(x)]).c_str());
    for (int y = 0; y < ny; ++y)
        plmtex("lv", 1.0, 1.0 - (y + 0.5) / ny, 1.0, plain(m.y_labels[size_t(y)]).c_str());
    plmtex("b", 3.2, 0.5, 0.5, plain(m.x_title).c_str());
    plmtex("l", 5.0, 0.5, 0.5, plain(m.y_title).c_str());
    plschr(0, 1.15);
    plmtex("t", m.subtitle.empty() ? 1.5 : 2.6, 0.5, 0.5, plain(m.title).c_str());
    plschr(0, 0.85);
    if (!m.subtitle.empty()) plmtex("t", 1.2, 0.5, 0.5, plain(m.subtitle).c_str());
    plschr(0, 1.0);

    PLFLT bar_w, bar_h;
    PLINT label_opts[1] = {PL_COLORBAR_LABEL_RIGHT};
    const char* labels[1] = {nullptr};
    const std::string value_title = plain(m.value_title);
    labels[0] = value_title.c_str();
    const char* axis_opts[1] = {"bcvtm"};
    PLFLT ticks[1] = {0.2};
    PLINT sub_ticks[1] = {0};
    PLINT n_values[1] = {2};
    PLFLT range[2] = {0, 1};
    const PLFLT* values[1] = {range};
    plcolorbar(&bar_w, &bar_h, PL_COLORBAR_GRADIENT, PL_POSITION_RIGHT | PL_POSITION_VIEWPORT, 0.04,
               0, 0.04, 0.76, 0, 1, 1, 0, 0, 0, 0.0, 1, label_opts, labels, 1, axis_opts, ticks,
               sub_ticks, n_values, values);
}

}  // namespace

void write_heatmap(const Heatmap& m, const std::string& path, HeatmapFormat format) {
    const size_t cells = m.x_labels.size() * m.y_labels.size();
    if (cells == 0 || m.values.size() != cells) {
        throw Error(ErrorKind::invalid_argument, path, "heatmap", std::nullopt,
                    fmt::format("{} x {} values", m.y_labels.size(), m.x_labels.size()),
                    std::to_string(m.values.size()));
    }
    for (double v : m.values) {
        if (!std::isnan(v) && !(v >= 0 && v <= 1)) {
            throw Error(ErrorKind::invalid_argument, path, "heatmap value", std::nullopt,
                        "0 to 1 (or NaN for an empty cell)", fmt::format("{}", v));
        }
    }
    const char* device = format == HeatmapFormat::png ? "pngcairo" : "svg";
    if (!has_device(device)) {
        throw Error(
            ErrorKind::unsupported, path, "plot device", std::nullopt,
            fmt::format(
                "PLplot's {} device{}", device,
                format == HeatmapFormat::png ? " (Debian package plplot-driver-cairo)" : ""),
            "a PLplot without it");
    }
    // PLplot ends the process when it cannot open its output file, so the
    // temporary file is created (and so checked) here first.
    const std::string tmp = fmt::format("{}.tmp-{}", path, ::getpid());
    if (!std::ofstream(tmp, std::ios::binary | std::ios::trunc)) {
        throw Error(ErrorKind::io, path, "", std::nullopt, "a file that can be written",
                    std::error_code(errno, std::generic_category()).message());
    }
    PLINT stream = 0;
    plmkstrm(&stream);
    plsdev(device);
    plsfnam(tmp.c_str());
    plspage(0, 0, m.width, m.height, 0, 0);
    plscolbg(255, 255, 255);
    plinit();
    draw(m);
    plend1();

    std::error_code ec;
    if (std::filesystem::file_size(tmp, ec) == 0 || ec) {
        std::filesystem::remove(tmp, ec);
        throw Error(ErrorKind::io, path, "", std::nullopt, "a plot written by PLplot",
                    "an empty file");
    }
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        std::filesystem::remove(tmp);
        throw Error(ErrorKind::io, path, "", std::nullopt, "the plot renamed into place",
                    ec.message());
    }
}

}  // namespace slim
