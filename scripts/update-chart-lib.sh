#!/usr/bin/env bash
# Re-fetches the vendored chart library from the npm registry and checks it against the pinned
# integrity hashes (the `dist.integrity` npm publishes: sha512 of the package tarball).
#
#   scripts/update-chart-lib.sh            fetch the pinned versions, check, copy (idempotent)
#   scripts/update-chart-lib.sh --check    fetch, check, and fail if the copies in the repo differ
#
# To move to a new version: change VERSION and INTEGRITY below (`npm view NAME@V dist.integrity`),
# run this script, look at the diff, run the report golden and dashboard browser tests.
# The files land in crates/sipscope/assets/charts/ and are embedded in the binary
# (include_bytes!): nothing is fetched at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=crates/sipscope/assets/charts
check=0
[[ "${1:-}" == "--check" ]] && check=1

# name version integrity file-in-package license-file-in-package
packages=(
  "chart.js 4.6.2 sha512-xachB+pPHjp0syJi7llUBA1w3kMYl6NF3o7eVrvjnWCT+IB2zMaF2pX5UYDiwbbfsioFEIRnAjreNOMsGj5TIA== dist/chart.umd.min.js LICENSE.md"
  "chartjs-plugin-zoom 2.2.0 sha512-in6kcdiTlP6npIVLMd4zXZ08PDUXC52gZ4FAy5oyjk1zX3gKarXMAof7B9eFiisf9WOC3bh2saHg+J5WtLXZeA== dist/chartjs-plugin-zoom.min.js LICENSE.md"
  "chartjs-chart-matrix 3.1.0 sha512-pdo8DnhFXOisjbLDgfkzZH1w0xmjGqiaAMgkQSHCEMzxQENsXTgkXImIyweDiO7SqlE5PuzjhklyBCiorQhRmw== dist/chartjs-chart-matrix.min.js LICENSE"
)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
versions="# The vendored chart library: name version npm-integrity (written by scripts/update-chart-lib.sh)"$'\n'
status=0
for p in "${packages[@]}"; do
  read -r name version integrity file license <<<"$p"
  (cd "$work" && npm pack --silent "$name@$version" >/dev/null)
  tgz="$work/${name}-${version}.tgz"
  got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
  if [[ "$got" != "$integrity" ]]; then
    echo "$name@$version: integrity $got, expected $integrity" >&2
    exit 1
  fi
  mkdir -p "$work/$name"
  tar xzf "$tgz" -C "$work/$name"
  base=$(basename "$file")
  # The source map is not shipped: drop its comment so browsers do not ask for it.
  sed '/^\/\/# sourceMappingURL=/d' "$work/$name/package/$file" >"$work/$base"
  cp "$work/$name/package/$license" "$work/LICENSE-$name"
  for f in "$base" "LICENSE-$name"; do
    if ((check)); then
      cmp -s "$work/$f" "$dest/$f" || { echo "$dest/$f differs from $name@$version" >&2; status=1; }
    else
      cp "$work/$f" "$dest/$f"
    fi
  done
  versions+="$name $version $integrity"$'\n'
done
# The licences in one file, served by the dashboard as /assets/chart-licenses.txt.
licenses=$(for p in "${packages[@]}"; do
  read -r name version _ <<<"$p"
  printf '== %s %s ==\n%s\n\n' "$name" "$version" "$(cat "$work/LICENSE-$name")"
done)
if ((check)); then
  [[ "$(cat "$dest/LICENSES.txt")" == "$licenses" ]] || { echo "$dest/LICENSES.txt is stale" >&2; status=1; }
  [[ "$(cat "$dest/VERSIONS")"$'\n' == "$versions" ]] || { echo "$dest/VERSIONS is stale" >&2; status=1; }
  exit $status
fi
printf '%s' "$versions" >"$dest/VERSIONS"
printf '%s\n' "$licenses" >"$dest/LICENSES.txt"
echo "vendored into $dest:" && ls -l "$dest"
