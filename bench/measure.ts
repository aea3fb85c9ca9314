// Side-by-side measurement helpers: ours and the baseline run interleaved in the same process, and only
// ratios (plus the rates they come from) are reported, never bare times asserted anywhere.

export interface Side {
  name: string;
  /** Runs `n` operations; returns a checksum so the work cannot be optimised away. */
  run(n: number): number | Promise<number>;
}

export interface Comparison {
  label: string;
  oursPerSec: number;
  basePerSec: number;
  ratio: number;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Interleaves ours and the baseline `rounds` times (after a warm-up); returns median rates and the median ratio. */
export async function compare(label: string, ours: Side, base: Side, opsPerRound: number, rounds = 7): Promise<Comparison> {
  let sink = 0;
  // Warm-up: let both sides reach optimised code before measuring.
  sink += await ours.run(opsPerRound);
  sink += await base.run(opsPerRound);
  const oursRates: number[] = [];
  const baseRates: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // Alternate which side goes first so drift on a shared machine hits both alike.
    const order: Array<[Side, number[]]> = r % 2 ? [[base, baseRates], [ours, oursRates]] : [[ours, oursRates], [base, baseRates]];
    for (const [side, rates] of order) {
      const t0 = process.hrtime.bigint();
      sink += await side.run(opsPerRound);
      const dt = Number(process.hrtime.bigint() - t0) / 1e9;
      rates.push(opsPerRound / dt);
    }
    // The two halves of a round ran back to back: their ratio saw the same machine load.
    ratios.push(oursRates[r] / baseRates[r]);
  }
  if (Number.isNaN(sink)) console.log('(checksum NaN)');
  const oursPerSec = median(oursRates);
  const basePerSec = median(baseRates);
  // The median of the per-round ratios: on a shared machine the load changes between rounds, and a ratio of two
  // medians taken from different rounds would mix loads.
  return { label, oursPerSec, basePerSec, ratio: median(ratios) };
}

export function fmtRate(perSec: number): string {
  if (perSec >= 1e6) return `${(perSec / 1e6).toFixed(2)} M/s`;
  if (perSec >= 1e3) return `${(perSec / 1e3).toFixed(1)} k/s`;
  return `${perSec.toFixed(0)} /s`;
}

export interface Verdict {
  label: string;
  ratio: number;
  target: number;
  ok: boolean;
}

export function report(c: Comparison, target: number, oursName: string, baseName: string): Verdict {
  const ok = c.ratio >= target;
  console.log(
    `  ${c.label.padEnd(34)} ${oursName} ${fmtRate(c.oursPerSec).padStart(11)}  ${baseName} ${fmtRate(c.basePerSec).padStart(11)}  ` +
      `ratio ${c.ratio.toFixed(2)}× (target ≥ ${target}×) ${ok ? 'ok' : 'BELOW TARGET'}`,
  );
  return { label: c.label, ratio: c.ratio, target, ok };
}
