// A heatmap of values in 0..1 over a grid of labelled rows and columns, drawn
// with PLplot (Debian libplplot-dev): PNG through its cairo driver
// (plplot-driver-cairo) and SVG through its own svg driver, which writes the
// labels as <text> elements. Used by `slim niah`.
#pragma once

#include <string>
#include <vector>

namespace slim {

struct Heatmap {
    std::string title;
    std::string subtitle;                       // a smaller second line (may be empty)
    std::string x_title, y_title, value_title;  // axes and the colour bar
    std::vector<std::string> x_labels;          // one per column, left to right
    std::vector<std::string> y_labels;          // one per row, top to bottom
    std::vector<double> values;                 // row-major: values[row * columns + column]
    int width = 1000, height = 640;             // pixels (PNG) or points (SVG)
};

enum class HeatmapFormat { png, svg };

// Writes the heatmap to `path` (through a temporary file renamed when
// complete). Each cell is coloured from red (0) through yellow to green (1)
// and shows its value. Error(invalid_argument) for a grid whose values do not
// match its labels, or a value outside 0..1; Error(io) when the file cannot be
// written; Error(unsupported) when PLplot lacks the device (pngcairo: install
// plplot-driver-cairo).
void write_heatmap(const Heatmap& map, const std::string& path, HeatmapFormat format);

}  // namespace slim
