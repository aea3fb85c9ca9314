// Child process of the journal crash test: appends records in a loop, many at once, and reports each record that
// the journal says is durable ("ok <n>") on stdout; acknowledges (removes) every third one once durable. The parent
// kills it with SIGKILL at random moments.
import { Journal } from '../../lib/outbox';

const [dir, startArg] = process.argv.slice(2);
const start = Number(startArg);

/** The body of record n: its number and a filler whose length and content follow from n (checked by the parent). */
export function bodyOf(n: number): string {
  return `${n}:${String.fromCharCode(97 + (n % 26)).repeat(n % 997)}`;
}

async function main(): Promise<void> {
  const j = new Journal({ dir, segmentBytes: 256 * 1024 });
  await j.open();
  process.stdout.write('ready\n');
  let n = start;
  const inFlight = new Set<Promise<void>>();
  for (;;) {
    while (inFlight.size < 64) {
      const k = n++;
      const p: Promise<void> = j.append(Buffer.from(bodyOf(k))).then((seq) => {
        process.stdout.write(`ok ${k}\n`);
        if (k % 3 === 0) j.ack(seq);
        inFlight.delete(p);
      });
      inFlight.add(p);
    }
    await Promise.race(inFlight);
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  });
}
