#!/usr/bin/env bash
# Builds and starts the LibTorch twin (a benchmark reference, never part of the engine):
#   scripts/libtorch-twin/run.sh train --config model.json --data-dir mnist [options]
# TorchSharp 0.107's native library needs a newer libstdc++ (GLIBCXX_3.4.32) than Debian 12
# ships. The first run therefore fetches Debian 13's libc6, libstdc++6 and libgcc-s1 (and
# Debian 12's patchelf) with apt-get download into a private folder, using the mirror this
# machine's apt sources already name, and starts the twin through a copy of its .NET app host
# whose ELF interpreter is that folder's loader. Nothing is installed system-wide.
# Progress goes to stderr; stdout carries only the twin's JSON lines.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${LIBTORCH_TWIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mnist-experiments/libtorch-twin}"
out="$here/bin/Release/net10.0"
root="$cache/runtime"
lib="$root/usr/lib/x86_64-linux-gnu"
say() { echo "libtorch twin: $*" >&2; }

# 1. The twin itself (TorchSharp and LibTorch come from the NuGet feed at the first build).
if [ ! -f "$out/LibTorchTwin.dll" ] || [ -n "$(find "$here" -maxdepth 1 \( -name '*.cs' -o -name '*.csproj' \) -newer "$out/LibTorchTwin.dll")" ]; then
  say "building (the first build downloads TorchSharp and LibTorch, about 600 MB) ..."
  dotnet build "$here/LibTorchTwin.csproj" -c Release --nologo -v quiet -clp:NoSummary >&2
fi

# The Debian archive this machine's apt uses: the first URI listed for its own release.
debian_mirror() {
  local codename
  codename="$(. /etc/os-release && echo "$VERSION_CODENAME")"
  { [ -f /etc/apt/sources.list ] && awk -v c="$codename" '$1 == "deb" && $0 ~ " " c " " { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] && awk -v c="$codename" 'BEGIN { RS = ""; FS = "\n" }
        { uri = ""; suite = 0
          for (i = 1; i <= NF; i++) {
            if ($i ~ /^URIs:/) { split($i, u, " "); uri = u[2] }
            if ($i ~ /^Suites:/ && $i ~ (" " c "( |$)")) suite = 1 }
          if (uri != "" && suite) { print uri; exit } }' "$f"
    done; } | head -n 1
}

# 2. Debian 13's C and C++ runtime in a private folder.
if [ ! -e "$lib/libstdc++.so.6" ]; then
  mirror="$(debian_mirror)"
  [ -n "$mirror" ] || { echo "error: no Debian mirror found in /etc/apt to fetch Debian 13's libstdc++ from" >&2; exit 1; }
  say "fetching Debian 13's libc6, libstdc++6, libgcc-s1 into $root ..."
  mkdir -p "$cache"
  work="$(mktemp -d "$cache/fetch.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/lists/partial" "$work/archives/partial" "$work/debs" "$work/root"
  keys=/usr/share/keyrings/debian-archive-keyring.gpg
  printf 'deb [signed-by=%s] %s trixie main\ndeb [signed-by=%s] %s bookworm main\n' "$keys" "$mirror" "$keys" "$mirror" > "$work/sources.list"
  : > "$work/status"
  apt=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/nonexistent
       -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work" -o "Dir::Cache::Archives=$work/archives"
       -o "Dir::State::status=$work/status" -o APT::Sandbox::User=root -o Acquire::Languages=none -qq)
  apt-get "${apt[@]}" update >&2
  (cd "$work/debs" && apt-get "${apt[@]}" download libc6/trixie libstdc++6/trixie libgcc-s1/trixie patchelf/bookworm >&2)
  for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
  rm -rf "$root"
  mv "$work/root" "$root"
  rm -rf "$work"
  trap - EXIT
fi

# 3. A copy of the app host (beside the twin's dll, which it finds by its own folder) that loads
#    through the private loader.
host="$out/LibTorchTwin.trixie"
loader="$lib/ld-linux-x86-64.so.2"
if [ ! -x "$host" ] || [ "$out/LibTorchTwin" -nt "$host" ] || [ "$("$root/usr/bin/patchelf" --print-interpreter "$host")" != "$loader" ]; then
  cp "$out/LibTorchTwin" "$host.tmp"
  "$root/usr/bin/patchelf" --set-interpreter "$loader" "$host.tmp"
  mv "$host.tmp" "$host"
fi

dotnet_root="$(dirname "$(readlink -f "$(command -v dotnet)")")"
exec env DOTNET_ROOT="$dotnet_root" LD_LIBRARY_PATH="$lib" "$host" "$@"
