#!/bin/sh
# Fetch a Bun binary for the `uring bench` Bun peer, without running any install
# script: `npm pack` the platform package from the npm registry and untar it into
# .cache/bun (the bench looks for .cache/bun/package/bin/bun).
# Usage: sh bench/get-bun.sh [version]      (default: latest)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
dest="$here/.cache/bun"
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64)  pkg=@oven/bun-linux-x64 ;;
  Linux-aarch64) pkg=@oven/bun-linux-aarch64 ;;
  Darwin-x86_64) pkg=@oven/bun-darwin-x64 ;;
  Darwin-arm64)  pkg=@oven/bun-darwin-aarch64 ;;
  *) echo "get-bun: no Bun package for $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac
spec="$pkg${1:+@$1}"
mkdir -p "$dest"
# keep the ~100 MB binary out of git whatever the repo's .gitignore says
printf '*\n' > "$here/.cache/.gitignore"
cd "$dest"
rm -rf package ./*.tgz
echo "get-bun: npm pack $spec" >&2
tgz=$(npm pack --silent "$spec" | tail -n 1)
tar -xzf "$tgz"
rm -f "$tgz"
chmod +x package/bin/bun
echo "get-bun: $("$dest/package/bin/bun" --version) at $dest/package/bin/bun" >&2
