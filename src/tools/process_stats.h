// What this process holds in memory, for the statistics verbs print.
#pragma once

#include <cstddef>

namespace slim {

// Resident set size now (file-backed pages such as mapped weights included)
// and its peak so far, in bytes.
size_t current_rss_bytes();
size_t peak_rss_bytes();

}  // namespace slim
