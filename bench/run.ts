// `npm run bench`: every performance claim of the package, as ratios against a baseline measured in the same run.
import { benchSql } from './sql';
import { benchFlow } from './flow';
import { benchAck, benchIngest } from './ingest';
import { benchMns } from './mns';
import { benchRules } from './rules';
import { benchSoak } from './soak';
import { benchPath } from './path';
import { benchAmqp } from './amqp';
import type { Verdict } from './measure';

async function main() {
  const only = process.argv.slice(2);
  // The soak runs for ten minutes: only when named (`npm run bench -- soak`).
  const optional = new Set(['soak']);
  const sections: Array<[string, () => Promise<Verdict[]>]> = [
    ['sql', benchSql],
    ['flow', benchFlow],
    ['ingest', benchIngest],
    ['ack', benchAck],
    ['rules', benchRules],
    ['soak', benchSoak],
    ['mns', benchMns],
    ['path', benchPath],
    ['amqp', benchAmqp],
  ];
  console.log(`node ${process.version} · ${process.platform}/${process.arch}`);
  const verdicts: Verdict[] = [];
  for (const [name, fn] of sections) {
    if (only.length ? !only.includes(name) : optional.has(name)) continue;
    verdicts.push(...(await fn()));
  }
  const below = verdicts.filter((v) => !v.ok);
  console.log(`\n${verdicts.length - below.length} of ${verdicts.length} ratios meet their targets`);
  if (below.length) {
    for (const v of below) console.log(`  below target: ${v.label} ${v.ratio.toFixed(2)}× < ${v.target}×`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
