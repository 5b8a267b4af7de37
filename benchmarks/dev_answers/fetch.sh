#!/usr/bin/env bash
# Rebuild benchmarks/dev_answers/docs/ from pinned Debian 12 (bookworm) packages.
#
# Idempotent: files already present with the expected SHA-256 are left alone;
# anything missing or different is (re)extracted.  Nothing is installed: each
# package is fetched with `apt-get download` and unpacked with `dpkg-deb -x`
# into a temporary directory.  Needs the bookworm "main" apt sources and a
# current index (run `apt-get update` first if `apt-get download` fails).
#
# Usage: benchmarks/dev_answers/fetch.sh [--force]
#   --force   re-extract every document even if its checksum already matches
# Environment:
#   ALLOW_OTHER_VERSION=1  if a pinned version has left the archive (security
#                          updates replace e.g. postgresql-doc-15), download the
#                          current candidate instead and only warn on checksum
#                          mismatch.  Gold pages must then be re-checked with
#                          check.py.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
docs="$here/docs"
sums="$here/SHA256SUMS"
force=0
[[ "${1:-}" == "--force" ]] && force=1

# package  version  path-inside-package  name-under-docs/  (".gz" path => gunzip)
manifest=(
  "gnuplot-doc            5.4.4+dfsg1-2        usr/share/doc/gnuplot/gnuplot.pdf                                   gnuplot.pdf"
  "python-reportlab-doc   3.6.12-1+deb12u1     usr/share/doc/python-reportlab-doc/reportlab-userguide.pdf          reportlab-userguide.pdf"
  "gnu-standards          2022.03.23-0.1       usr/share/doc/gnu-standards/standards.pdf.gz                        gnu-coding-standards.pdf"
  "sqlite3-doc            3.40.1-2+deb12u2     usr/share/doc/sqlite3/limits.html                                   sqlite/limits.html"
  "sqlite3-doc            3.40.1-2+deb12u2     usr/share/doc/sqlite3/datatype3.html                                sqlite/datatype3.html"
  "sqlite3-doc            3.40.1-2+deb12u2     usr/share/doc/sqlite3/lang_datefunc.html                            sqlite/lang_datefunc.html"
  "postgresql-doc-15      15.20-0+deb12u1      usr/share/doc/postgresql-doc-15/html/datatype-numeric.html          postgresql/datatype-numeric.html"
  "postgresql-doc-15      15.20-0+deb12u1      usr/share/doc/postgresql-doc-15/html/datatype-datetime.html         postgresql/datatype-datetime.html"
)

expected_sum() {  # name -> sha256 from SHA256SUMS ("" if unknown)
  [[ -f "$sums" ]] || { echo ""; return; }
  awk -v n="$1" '$2 == n { print $1 }' "$sums"
}

up_to_date() {  # name -> 0 if docs/name exists with the expected checksum
  local want; want="$(expected_sum "$1")"
  [[ -n "$want" && -f "$docs/$1" ]] || return 1
  [[ "$(sha256sum "$docs/$1" | cut -d' ' -f1)" == "$want" ]]
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

declare -A unpacked=()
unpack() {  # pkg version -> prints the directory the package is unpacked in
  local pkg="$1" ver="$2" key="$1=$2"
  if [[ -z "${unpacked[$key]:-}" ]]; then
    local dir="$work/$pkg"
    mkdir -p "$dir"
    if ! (cd "$work" && apt-get download -q "$pkg=$ver" >&2); then
      if [[ "${ALLOW_OTHER_VERSION:-0}" == 1 ]]; then
        echo "warning: $pkg=$ver not downloadable; using the current candidate" >&2
        (cd "$work" && apt-get download -q "$pkg" >&2)
      else
        echo "error: cannot download $pkg=$ver (try 'apt-get update', or ALLOW_OTHER_VERSION=1)" >&2
        exit 1
      fi
    fi
    dpkg-deb -x "$(ls "$work/${pkg}"_*.deb | head -n1)" "$dir"
    unpacked[$key]="$dir"
  fi
  echo "${unpacked[$key]}"
}

mkdir -p "$docs"
status=0
for line in "${manifest[@]}"; do
  read -r pkg ver inner name <<<"$line"
  if [[ $force == 0 ]] && up_to_date "$name"; then
    echo "ok        $name"
    continue
  fi
  dir="$(unpack "$pkg" "$ver")"
  mkdir -p "$(dirname "$docs/$name")"
  if [[ "$inner" == *.gz ]]; then
    gunzip -c "$dir/$inner" > "$docs/$name.tmp"
  else
    cp "$dir/$inner" "$docs/$name.tmp"
  fi
  mv "$docs/$name.tmp" "$docs/$name"
  want="$(expected_sum "$name")"
  got="$(sha256sum "$docs/$name" | cut -d' ' -f1)"
  if [[ -n "$want" && "$got" != "$want" ]]; then
    echo "MISMATCH  $name (expected $want, got $got)" >&2
    [[ "${ALLOW_OTHER_VERSION:-0}" == 1 ]] || status=1
  else
    echo "fetched   $name"
  fi
done
exit $status
