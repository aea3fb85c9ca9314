// The outbox journal on a real file system: replay order, acknowledgement, group commit, limits, torn and corrupt
// records, compaction, and a journal that cannot be written.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Journal, JournalWriteError, OutboxFullError } from '../../lib/outbox';

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'outbox-journal-'));
}

const text = (records: Array<{ data: Buffer }>): string[] => records.map((r) => r.data.toString());

async function reopen(dir: string, opts: Partial<ConstructorParameters<typeof Journal>[0]> = {}): Promise<{ j: Journal; records: string[] }> {
  const j = new Journal({ dir, ...opts });
  const records = text(await j.open());
  return { j, records };
}

describe('outbox journal', function () {
  this.timeout(20_000);
  const dirs: string[] = [];
  const dir = (): string => {
    const d = tmpDir();
    dirs.push(d);
    return d;
  };
  after(function () {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('replays what was not acknowledged, in append order, after a reopen', async function () {
    const d = dir();
    const { j, records } = await reopen(d);
    assert.deepEqual(records, []);
    const seqs = await Promise.all(['a', 'b', 'c', 'd'].map((s) => j.append(Buffer.from(s))));
    assert.deepEqual(seqs, [1, 2, 3, 4]);
    j.ack(seqs[0]);
    j.ack(seqs[2]);
    await j.close();
    const again = await reopen(d);
    assert.deepEqual(again.records, ['b', 'd']);
    // Sequence numbers keep growing across runs; new records come after the replayed ones.
    const e = await again.j.append(Buffer.from('e'));
    assert.ok(e > 4);
    await again.j.close();
    assert.deepEqual((await reopen(d)).records, ['b', 'd', 'e']);
  });

  it('group commit: many appends at once share fsyncs', async function () {
    const { j } = await reopen(dir());
    await Promise.all(Array.from({ length: 500 }, (_, i) => j.append(Buffer.from(`m${i}`))));
    const s = j.stats;
    assert.equal(s.synced, 500);
    assert.ok(s.syncs < 500, `one fsync per record (${s.syncs})`);
    assert.ok(s.maxBatch > 1);
    await j.close();
  });

  it('bounded by count and by bytes: a record over the limit is refused with "outbox full", nothing else changes', async function () {
    const d = dir();
    const { j } = await reopen(d, { maxCount: 3, maxBytes: 1000 });
    await Promise.all([1, 2, 3].map((i) => j.append(Buffer.from(`r${i}`))));
    await assert.rejects(j.append(Buffer.from('r4')), (e: Error) => e instanceof OutboxFullError && /outbox full/.test(e.message) && /limit 3/.test(e.message));
    j.ack(1);
    await j.append(Buffer.from('r5'));
    await j.close();
    const b = await reopen(dir(), { maxBytes: 10 });
    await b.j.append(Buffer.alloc(6));
    await assert.rejects(b.j.append(Buffer.alloc(6)), OutboxFullError);
    await b.j.close();
    assert.deepEqual((await reopen(d)).records, ['r2', 'r3', 'r5']);
  });

  it('a torn last record (a write cut by a crash) is skipped, never returned half', async function () {
    const d = dir();
    const { j } = await reopen(d);
    for (const s of ['one', 'two', 'three-is-long']) await j.append(Buffer.from(s));
    await j.close();
    const [seg] = fs.readdirSync(d);
    const file = path.join(d, seg);
    fs.truncateSync(file, fs.statSync(file).size - 3);
    const r = await reopen(d);
    assert.deepEqual(r.records, ['one', 'two']);
    assert.equal(r.j.stats.torn, 1);
    // Appending goes on in a new segment, never after the torn bytes.
    await r.j.append(Buffer.from('four'));
    await r.j.close();
    assert.deepEqual((await reopen(d)).records, ['one', 'two', 'four']);
  });

  it('a corrupted byte is caught by the CRC: nothing from that point of the segment is returned', async function () {
    const d = dir();
    const { j } = await reopen(d);
    for (const s of ['aaaa', 'bbbb', 'cccc']) await j.append(Buffer.from(s));
    await j.close();
    const [seg] = fs.readdirSync(d);
    const file = path.join(d, seg);
    const buf = fs.readFileSync(file);
    const at = buf.indexOf('bbbb');
    buf[at + 1] = 'x'.charCodeAt(0);
    fs.writeFileSync(file, buf);
    assert.deepEqual((await reopen(d)).records, ['aaaa']);
  });

  it('compaction: segments of acknowledged records are deleted; a stuck record is copied forward and survives', async function () {
    const d = dir();
    const { j } = await reopen(d, { segmentBytes: 2000 });
    const seqs: number[] = [];
    for (let round = 0; round < 20; round++) {
      seqs.push(...(await Promise.all(Array.from({ length: 10 }, (_, i) => j.append(Buffer.from(`r${round}-${i}-${'x'.repeat(50)}`))))));
    }
    const stuck = seqs[3];
    for (const s of seqs) if (s !== stuck) j.ack(s);
    // More traffic lets the journal roll and compact.
    for (let i = 0; i < 60; i++) j.ack(await j.append(Buffer.from(`later-${i}-${'y'.repeat(50)}`)));
    await j.drained();
    const files = fs.readdirSync(d).length;
    assert.ok(files <= 3, `old segments deleted (${files} left)`);
    await j.close();
    const r = await reopen(d, { segmentBytes: 2000 });
    assert.deepEqual(r.records, [`r0-3-${'x'.repeat(50)}`]);
    await r.j.close();
  });

  it('a journal that cannot be written rejects appends with the reason and keeps what it already held', async function () {
    const d = dir();
    let cleanup: () => void;
    if (process.getuid?.() === 0) {
      // Root ignores file permissions: a real full disk instead, a tiny tmpfs.
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', d], { stdio: 'pipe' });
      } catch {
        if (process.env.CI === 'true') throw new Error('cannot mount a tmpfs to fill as root');
        console.warn('    !!! SKIPPED: cannot mount a small tmpfs to simulate a full disk');
        this.skip();
      }
      cleanup = () => execFileSync('umount', [d]);
    } else {
      cleanup = () => fs.chmodSync(d, 0o755);
    }
    try {
      const { j } = await reopen(d, { segmentBytes: 1_000_000 });
      const kept = await j.append(Buffer.from('kept'));
      let failure: Error | undefined;
      if (process.getuid?.() === 0) {
        // Fill the disk.
        for (let i = 0; i < 200 && !failure; i++) await j.append(Buffer.alloc(4096, 1)).catch((e: Error) => (failure = e));
      } else {
        fs.chmodSync(d, 0o555);
        await j.close(); // the next run cannot create a segment
        const k = new Journal({ dir: d });
        assert.deepEqual(text(await k.open()), ['kept']);
        await k.append(Buffer.from('x')).catch((e: Error) => (failure = e));
        await k.close();
      }
      assert.ok(failure instanceof JournalWriteError, `a JournalWriteError, got ${String(failure)}`);
      assert.match(failure.message, /cannot be written \((ENOSPC|EACCES)/);
      assert.match(failure.message, /message not stored/);
      if (process.getuid?.() === 0) {
        assert.ok(j.stats.writeError);
        await j.close();
      }
      const r = await reopen(d);
      assert.equal(r.records[0], 'kept', 'what was journalled before is still there');
      assert.ok(r.records.slice(1).every((x) => x.length === 4096), 'no half record');
      assert.ok(kept === 1);
      await r.j.close();
    } finally {
      cleanup();
    }
  });
});
