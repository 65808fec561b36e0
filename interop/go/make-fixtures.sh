#!/usr/bin/env bash
# npm run fixtures:go: writes test/fixtures/go/<name>/ with the real Go stores, deterministically
# from seeds: changesets.jsonl (goref workload), application.db (goref apply), expected.json
# (what Go reads back) and a README naming the modules and this command.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/test/fixtures/go"
goref="$here/goref"
"$goref" build

# name | era | workload flags | apply flags
fixtures=(
  "v045|v045|--seed 45|"
  "v045-pruned|v045|--seed 451|--keep-recent 5 --keep-every 10 --interval 10"
  "v047|v047|--seed 47|"
  "v050|v050|--seed 50|"
  "v050-pruned|v050|--seed 501|--keep-recent 5 --interval 10"
  "upgraded|upgraded|--seed 60 --stores acc,bank,crisis,distr,distribution,feegrant,staking --stores-until crisis:30,distr:30 --stores-from distribution:31,feegrant:31|--switch-height 31 --upgrade-height 31 --added feegrant --deleted crisis --renamed distr:distribution"
)

for row in "${fixtures[@]}"; do
  IFS='|' read -r name era wl ap <<<"$row"
  dir="$out/$name"
  rm -rf "$dir"
  mkdir -p "$dir"
  # shellcheck disable=SC2086
  "$goref" workload --era v050 $wl --versions 50 --changes 40 --out "$dir/changesets.jsonl"
  # shellcheck disable=SC2086
  "$goref" apply --era "$era" --db "$dir/application.db" --changesets "$dir/changesets.jsonl" $ap
  rm -f "$dir/application.db/LOCK"
  # The upgraded fixture was written by two binaries: name the v0.47 one's modules too.
  legacy='{}'
  [ "$era" = upgraded ] && legacy="$("$goref" modules --era v047)"
  node -e '
    const [dir, name, era, wl, ap, legacy] = process.argv.slice(1);
    const e = JSON.parse(require("fs").readFileSync(dir + "/expected.json", "utf8"));
    const line = ([m, v]) => `- \`${m}\` ${v}`;
    let mods = Object.entries(e.modules).map(line).join("\n");
    const before = Object.entries(JSON.parse(legacy));
    if (before.length > 0) {
      mods = `heights below the switch, cosmos-sdk v0.47:\n${before.map(line).join("\n")}\n\nfrom the switch on, store v1.1:\n${mods}`;
    }
    const heights = e.heights.length, q = e.queryable.length;
    require("fs").writeFileSync(dir + "/README.md", `# ${name}

Written by the real Go store of era \`${era}\` (\`interop/go/\`), with:
${mods}

- workload: \`goref workload ${wl} --versions 50 --changes 40\` (changesets.jsonl)
- apply: \`goref apply --era ${era} ${ap}\`
- ${heights} heights with CommitInfo, ${q} of them with every tree (queryable)

Regenerate every Go fixture with \`npm run fixtures:go\` (deterministic from the seeds; the
LevelDB files differ byte for byte between runs, their content does not).
`);
  ' "$dir" "$name" "$era" "$wl" "$ap" "$legacy"
  echo "fixture $name: $(du -sh "$dir" | cut -f1)"
done
