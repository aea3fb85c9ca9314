// A durable journal of records not yet safe at their destination (pure JavaScript, no native addon).
//
// Records are appended to segment files in one directory; `append` resolves once the record is on disk (written and
// fdatasync'ed). Appends that arrive while a write is in progress are written together with one fsync (group
// commit). `ack(seq)` marks a record done; acknowledgements are appended to the same log (not synced on their own:
// an acknowledgement lost in a crash only means the record is delivered once more, at least once). `open` reads the
// directory back and returns the records not acknowledged, in append order.
//
// Record layout (little endian): magic 0xA7 · type (1 = data, 2 = ack) · length u32 · seq u64 (as hi/lo u32) ·
// crc32 u32 over type, length, seq and body · body. A record whose CRC does not match, or that ends early (a write
// cut by a crash), ends the reading of its segment: nothing after it in that segment is trusted, nothing half-written
// is returned. Each open starts a new segment, so nothing is ever appended after a torn record.
//
// Segments: a new one when the current one passes `segmentBytes`. The oldest segment is deleted once none of its
// records is pending; when it holds only a few pending records (less than half its records), they are copied forward
// into the current segment (synced first), so one stuck record does not keep a whole segment. Segments are deleted
// oldest first only, so an acknowledgement is never deleted while the record it acknowledges is still on disk.
import fs from 'node:fs';
import path from 'node:path';

const MAGIC = 0xa7;
const TYPE_DATA = 1;
const TYPE_ACK = 2;
const HEADER = 1 + 1 + 4 + 8 + 4;
/** Refuse absurd lengths while reading (a corrupt header must not make us allocate gigabytes). */
const MAX_RECORD = 64 * 1024 * 1024;

export interface JournalOptions {
  /** The directory of this journal (created if missing). */
  dir: string;
  /** Pending records at most (default 100 000). */
  maxCount?: number;
  /** Pending body bytes at most (default 256 MiB). */
  maxBytes?: number;
  /** Start a new segment after this many bytes (default 8 MiB). */
  segmentBytes?: number;
  /** For tests: false skips fdatasync (default true). */
  sync?: boolean;
}

export interface JournalRecord {
  seq: number;
  data: Buffer;
}

export interface JournalStats {
  pending: number;
  pendingBytes: number;
  segments: number;
  /** fsyncs done for appends. */
  syncs: number;
  /** Records made durable by those fsyncs. */
  synced: number;
  /** The most records one fsync made durable. */
  maxBatch: number;
  /** Records skipped at open because they were torn or corrupt. */
  torn: number;
  /** The last write error, while the journal cannot be written. */
  writeError?: string;
}

/** The journal holds as many records or bytes as it may: the caller should refuse the record. */
export class OutboxFullError extends Error {
  readonly code = 'OutboxFull';
  constructor(message: string) {
    super(message);
    this.name = 'OutboxFullError';
  }
}

/** The journal could not be written (disk full, permissions, I/O error): the record is not durable. */
export class JournalWriteError extends Error {
  readonly code = 'JournalWriteError';
  constructor(message: string) {
    super(message);
    this.name = 'JournalWriteError';
  }
}

// ---- CRC-32 (IEEE 802.3), table driven --------------------------------------------------------------------------

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

export function crc32(buf: Uint8Array, start = 0, end = buf.length, seed = 0): number {
  let c = ~seed;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

function encode(type: number, seq: number, body: Buffer): Buffer {
  const b = Buffer.allocUnsafe(HEADER + body.length);
  b[0] = MAGIC;
  b[1] = type;
  b.writeUInt32LE(body.length, 2);
  b.writeUInt32LE(Math.floor(seq / 0x1_0000_0000), 6);
  b.writeUInt32LE(seq >>> 0, 10);
  body.copy(b, HEADER);
  const crc = crc32(b, HEADER, b.length, crc32(b, 1, 14));
  b.writeUInt32LE(crc, 14);
  return b;
}

interface Decoded {
  type: number;
  seq: number;
  body: Buffer;
}

/** Reads the valid records of one segment; stops at the first torn or corrupt one (counted in `torn`). */
function decodeSegment(buf: Buffer): { records: Decoded[]; torn: boolean } {
  const records: Decoded[] = [];
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < HEADER || buf[off] !== MAGIC) return { records, torn: true };
    const type = buf[off + 1];
    const len = buf.readUInt32LE(off + 2);
    if (len > MAX_RECORD || off + HEADER + len > buf.length) return { records, torn: true };
    const crc = crc32(buf, off + HEADER, off + HEADER + len, crc32(buf, off + 1, off + 14));
    if (crc !== buf.readUInt32LE(off + 14) || (type !== TYPE_DATA && type !== TYPE_ACK)) return { records, torn: true };
    const seq = buf.readUInt32LE(off + 6) * 0x1_0000_0000 + buf.readUInt32LE(off + 10);
    records.push({ type, seq, body: Buffer.from(buf.subarray(off + HEADER, off + HEADER + len)) });
    off += HEADER + len;
  }
  return { records, torn: false };
}

interface Segment {
  name: string;
  /** Data records whose live copy is in this segment and not yet acknowledged. */
  live: number;
  /** Data records written to it (copies included). */
  total: number;
  size: number;
}

interface Pending {
  data: Buffer;
  seg: Segment;
}

interface Waiter {
  seq: number;
  frame: Buffer;
  resolve: (seq: number) => void;
  reject: (err: Error) => void;
}

function errText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e?.code ? `${e.code}: ${e.message}` : String((e as Error)?.message ?? err);
}

export class Journal {
  private readonly dir: string;
  private readonly maxCount: number;
  private readonly maxBytes: number;
  private readonly segmentBytes: number;
  private readonly sync: boolean;
  private readonly pending = new Map<number, Pending>();
  private pendingBytes = 0;
  /** Appended but not yet written: counted against the limits too. */
  private queued: Waiter[] = [];
  private queuedBytes = 0;
  private acks: number[] = [];
  /** The batch being written now (counted against the limits). */
  private inWrite = { count: 0, bytes: 0 };
  private segments: Segment[] = [];
  private fd: number | undefined;
  private nextSeq = 1;
  /** Number of the next segment file (names sort in creation order). */
  private nextSegment = 1;
  private writing = false;
  private closed = false;
  private opened = false;
  private writeError: string | undefined;
  private idle: Array<() => void> = [];
  private stats_ = { syncs: 0, synced: 0, maxBatch: 0, torn: 0 };

  constructor(options: JournalOptions) {
    this.dir = options.dir;
    this.maxCount = options.maxCount ?? 100_000;
    this.maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
    this.segmentBytes = options.segmentBytes ?? 8 * 1024 * 1024;
    this.sync = options.sync ?? true;
  }

  /** Reads the directory; returns the records not acknowledged, oldest first. Call once, before append. */
  async open(): Promise<JournalRecord[]> {
    if (this.opened) throw new Error('journal is open already');
    this.opened = true;
    await fs.promises.mkdir(this.dir, { recursive: true });
    const names = (await fs.promises.readdir(this.dir)).filter((n) => /^\d{16}\.seg$/.test(n)).sort();
    const acked = new Set<number>();
    const data = new Map<number, { body: Buffer; seg: Segment }>();
    let maxSeq = 0;
    for (const name of names) {
      const buf = await fs.promises.readFile(path.join(this.dir, name));
      const { records, torn } = decodeSegment(buf);
      if (torn) this.stats_.torn++;
      const seg: Segment = { name, live: 0, total: 0, size: buf.length };
      this.segments.push(seg);
      for (const r of records) {
        if (r.seq > maxSeq) maxSeq = r.seq;
        if (r.type === TYPE_ACK) {
          for (let i = 0; i + 8 <= r.body.length; i += 8) acked.add(r.body.readUInt32LE(i) * 0x1_0000_0000 + r.body.readUInt32LE(i + 4));
        } else {
          seg.total++;
          data.set(r.seq, { body: r.body, seg }); // a later copy (compaction) replaces an earlier one
        }
      }
    }
    const out: JournalRecord[] = [];
    for (const [seq, d] of [...data.entries()].sort((a, b) => a[0] - b[0])) {
      if (acked.has(seq)) continue;
      d.seg.live++;
      this.pending.set(seq, { data: d.body, seg: d.seg });
      this.pendingBytes += d.body.length;
      out.push({ seq, data: d.body });
    }
    this.nextSeq = maxSeq + 1;
    if (names.length > 0) this.nextSegment = Number(names[names.length - 1].slice(0, 16)) + 1;
    return out;
  }

  get stats(): JournalStats {
    const s: JournalStats = {
      pending: this.pending.size + this.queued.length + this.inWrite.count,
      pendingBytes: this.pendingBytes + this.queuedBytes + this.inWrite.bytes, segments: this.segments.length, ...this.stats_ };
    if (this.writeError) s.writeError = this.writeError;
    return s;
  }

  /** Appends one record; resolves with its seq once it is durable. Rejects with OutboxFullError or JournalWriteError. */
  append(data: Buffer): Promise<number> {
    if (!this.opened) return Promise.reject(new Error('journal not open: call open() first'));
    if (this.closed) return Promise.reject(new JournalWriteError('the outbox journal is closed'));
    const count = this.pending.size + this.queued.length + this.inWrite.count;
    if (count >= this.maxCount) return Promise.reject(new OutboxFullError(`outbox full: ${count} messages waiting (limit ${this.maxCount})`));
    const bytes = this.pendingBytes + this.queuedBytes + this.inWrite.bytes;
    if (bytes + data.length > this.maxBytes) {
      return Promise.reject(new OutboxFullError(`outbox full: ${bytes} bytes waiting (limit ${this.maxBytes})`));
    }
    const seq = this.nextSeq++;
    return new Promise<number>((resolve, reject) => {
      this.queued.push({ seq, frame: encode(TYPE_DATA, seq, data), resolve, reject });
      this.queuedBytes += data.length;
      this.kick();
    });
  }

  /** The record is safe at its destination: forget it (written with the next batch). Unknown seqs are ignored. */
  ack(seq: number): void {
    const p = this.pending.get(seq);
    if (!p || this.closed) return; // closed: it stays on disk and comes again at the next open (at least once)
    this.pending.delete(seq);
    this.pendingBytes -= p.data.length;
    p.seg.live--;
    this.acks.push(seq);
    this.kick();
  }

  /** The body of a pending record (undefined once acknowledged). */
  get(seq: number): Buffer | undefined {
    return this.pending.get(seq)?.data;
  }

  /** Writes what is queued, then closes the file. Pending records stay on disk for the next open. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.drained();
    if (this.fd !== undefined) {
      const fd = this.fd;
      this.fd = undefined;
      await new Promise<void>((resolve) => fs.close(fd, () => resolve()));
    }
  }

  /** Resolves when nothing is queued or being written. */
  drained(): Promise<void> {
    if (!this.writing && this.queued.length === 0 && this.acks.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private kick(): void {
    if (this.writing) return;
    this.writing = true;
    void this.loop();
  }

  private async loop(): Promise<void> {
    try {
      while (this.queued.length > 0 || this.acks.length > 0) {
        const batch = this.queued;
        this.queued = [];
        this.inWrite = { count: batch.length, bytes: this.queuedBytes };
        this.queuedBytes = 0;
        const acks = this.acks;
        this.acks = [];
        const frames: Buffer[] = [];
        if (acks.length > 0) {
          const body = Buffer.allocUnsafe(acks.length * 8);
          acks.forEach((s, i) => {
            body.writeUInt32LE(Math.floor(s / 0x1_0000_0000), i * 8);
            body.writeUInt32LE(s >>> 0, i * 8 + 4);
          });
          frames.push(encode(TYPE_ACK, acks[acks.length - 1], body));
        }
        for (const w of batch) frames.push(w.frame);
        let before: { seg: Segment; size: number } | undefined;
        try {
          const seg = await this.current();
          before = { seg, size: seg.size };
          await this.write(seg, Buffer.concat(frames), batch.length > 0);
          this.writeError = undefined;
          for (const w of batch) {
            const body = w.frame.subarray(HEADER);
            this.pending.set(w.seq, { data: body, seg });
            this.pendingBytes += body.length;
            seg.live++;
            seg.total++;
          }
          if (batch.length > 0) {
            this.stats_.syncs++;
            this.stats_.synced += batch.length;
            if (batch.length > this.stats_.maxBatch) this.stats_.maxBatch = batch.length;
          }
          for (const w of batch) w.resolve(w.seq);
        } catch (err) {
          // Not durable. What was journalled before stays: the next write goes to a new segment, after any
          // partial bytes of this one (which reading skips as torn).
          this.writeError = errText(err);
          await this.abandonSegment(before?.size);
          const e = new JournalWriteError(`the outbox journal in ${this.dir} cannot be written (${this.writeError}): message not stored`);
          for (const w of batch) w.reject(e);
          // Acknowledgements that could not be written: the records come again after a restart (at least once).
        }
        this.inWrite = { count: 0, bytes: 0 };
        await this.compact().catch((err: unknown) => {
          this.writeError = errText(err);
        });
      }
    } finally {
      this.writing = false;
      const idle = this.idle;
      this.idle = [];
      for (const f of idle) f();
    }
  }

  private async current(): Promise<Segment> {
    const last = this.segments[this.segments.length - 1];
    if (this.fd !== undefined && last && last.size < this.segmentBytes) return last;
    if (this.fd !== undefined) {
      const fd = this.fd;
      this.fd = undefined;
      await new Promise<void>((resolve) => fs.close(fd, () => resolve()));
    }
    // Always a new file: never append after what an earlier run (or a failed write) left at the end of a segment.
    const name = `${String(this.nextSegment++).padStart(16, '0')}.seg`;
    const seg: Segment = { name, live: 0, total: 0, size: 0 };
    this.fd = await new Promise<number>((resolve, reject) => fs.open(path.join(this.dir, name), 'wx', (err, fd) => (err ? reject(err) : resolve(fd))));
    this.segments.push(seg);
    await this.syncDir();
    return seg;
  }

  private async write(seg: Segment, buf: Buffer, durable: boolean): Promise<void> {
    const fd = this.fd as number;
    let off = 0;
    while (off < buf.length) {
      const n = await new Promise<number>((resolve, reject) => fs.write(fd, buf, off, buf.length - off, null, (err, written) => (err ? reject(err) : resolve(written))));
      off += n;
      seg.size += n;
    }
    if (durable && this.sync) await new Promise<void>((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
  }

  private async abandonSegment(goodSize: number | undefined): Promise<void> {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    // Cut off the part of the failed batch that reached the file, so that none of its records (which the callers
    // were told are not stored) comes back at the next open. If even that fails, reading stops at the torn end.
    if (goodSize !== undefined) await new Promise<void>((resolve) => fs.ftruncate(fd, goodSize, () => resolve()));
    await new Promise<void>((resolve) => fs.close(fd, () => resolve()));
    // Make the next write start a new segment: mark this one as full.
    const last = this.segments[this.segments.length - 1];
    if (last) last.size = Math.max(last.size, this.segmentBytes);
  }

  private async syncDir(): Promise<void> {
    if (!this.sync) return;
    try {
      const fd = await fs.promises.open(this.dir, 'r');
      try {
        await fd.sync();
      } finally {
        await fd.close();
      }
    } catch {
      // Some file systems cannot sync a directory; the file's own fsync still covers its data.
    }
  }

  /** Deletes the oldest segments that hold nothing pending; copies a few stuck records out of the oldest one. */
  private async compact(): Promise<void> {
    while (this.segments.length > 1) {
      const oldest = this.segments[0];
      if (oldest.live > 0) {
        if (oldest.live * 2 >= oldest.total || this.closed) return;
        // Copy its pending records forward (same seq), durably, before the segment goes.
        const moving = [...this.pending.entries()].filter(([, p]) => p.seg === oldest).sort((a, b) => a[0] - b[0]);
        const seg = await this.current();
        if (seg === oldest) return;
        await this.write(seg, Buffer.concat(moving.map(([s, p]) => encode(TYPE_DATA, s, p.data))), true);
        for (const [, p] of moving) {
          p.seg = seg;
          seg.live++;
          seg.total++;
        }
        oldest.live = 0;
      }
      if (this.segments[this.segments.length - 1] === oldest) return;
      await fs.promises.unlink(path.join(this.dir, oldest.name));
      this.segments.shift();
    }
  }
}
