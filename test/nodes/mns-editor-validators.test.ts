// The MNS nodes' editor validators must agree with the runtime: a field the editor marks valid must not make the
// deployed node refuse to start (and the reverse), or the user only learns at deploy time what the editor let through.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { normaliseQueueIn } from '../../nodes/aliyun-mns-queue-in/queue-in-io';
import { normaliseTopicOut } from '../../nodes/aliyun-mns-topic-out/topic-out-io';

type Validator = (this: Record<string, unknown>, v: unknown) => unknown;
type Defaults = Record<string, { value: unknown; validate?: Validator }>;

/** Runs the editor's registerType script with a stand-in RED and returns the definition's defaults. */
function editorDefaults(type: string): Defaults {
  const html = fs.readFileSync(path.resolve(__dirname, '../../nodes', type, `${type}.html`), 'utf8');
  const js = /<script type="text\/javascript">([\s\S]*?)<\/script>/.exec(html)?.[1];
  assert.ok(js, 'registerType script');
  let defaults: Defaults | undefined;
  const RED = { nodes: { registerType: (_t: string, def: { defaults: Defaults }) => (defaults = def.defaults) } };
  vm.runInNewContext(js, { RED });
  assert.ok(defaults, 'defaults');
  return defaults;
}

function agree(type: string, normalise: (c: Record<string, unknown>) => unknown, field: string, values: unknown[], extra: Record<string, unknown> = {}): void {
  const defaults = editorDefaults(type);
  const base: Record<string, unknown> = Object.fromEntries(Object.entries(defaults).map(([k, d]) => [k, d.value]));
  base.accountId = '1234567890123456';
  base.queue = 'device-messages';
  Object.assign(base, extra);
  const validate = defaults[field]?.validate;
  assert.ok(validate, `${field} has a validator`);
  for (const value of values) {
    const cfg = { ...base, [field]: value };
    // Node-RED takes only `true` as valid: false, or a string (the reason, Node-RED 3+), marks the field.
    const editorOk: boolean = validate.call(cfg, value) === true;
    let runtimeOk = true;
    try {
      normalise(cfg);
    } catch {
      runtimeOk = false;
    }
    assert.equal(editorOk, runtimeOk, `${type} ${field}=${JSON.stringify(value)}: editor says ${editorOk ? 'valid' : 'invalid'}, runtime ${runtimeOk ? 'starts' : 'refuses'}`);
  }
}

describe('MNS editor validators agree with the runtime', function () {
  const queueIn = (c: Record<string, unknown>) => normaliseQueueIn(c);
  const topicOut = (c: Record<string, unknown>) => normaliseTopicOut(c);

  it('queue in: processing timeout', function () {
    agree('aliyun-mns-queue-in', queueIn, 'ackTimeout', ['1', '60', '43200', '43201', '100000', '0']);
  });
  it('queue in: wait seconds, batch size, concurrency', function () {
    agree('aliyun-mns-queue-in', queueIn, 'waitSeconds', ['0', '30', '31']);
    agree('aliyun-mns-queue-in', queueIn, 'batchSize', ['1', '16', '17', '0']);
    agree('aliyun-mns-queue-in', queueIn, 'concurrency', ['1', '1000', '1001', '0']);
  });
  it('topic out: retry count', function () {
    agree('aliyun-mns-topic-out', topicOut, 'retries', ['', '0', '3', '100', '101', '999']);
  });
  it('topic out: retry pauses', function () {
    agree('aliyun-mns-topic-out', topicOut, 'retryDelays', ['', '1, 3, 10', '0.5', '3600', '3601', '5000, 1']);
  });
  it('both: a custom endpoint with user:password@ is marked invalid, as the runtime refuses it', function () {
    const endpoints = ['http://127.0.0.1:40123', 'https://1234567890123456.mns.cn-hangzhou.aliyuncs.com/', 'https://user:pass@mns.example.com', 'http://user:pa/ss@mns.example.com', 'http://user:p%40ss@h.example.com', 'http://@h.example.com'];
    agree('aliyun-mns-queue-in', queueIn, 'endpoint', endpoints, { endpointType: 'custom' });
    agree('aliyun-mns-topic-out', topicOut, 'endpoint', endpoints, { endpointType: 'custom' });
  });
  it('topic out: queue limit, concurrency, timeout', function () {
    agree('aliyun-mns-topic-out', topicOut, 'queueLimit', ['1', '1000000', '1000001', '0']);
    agree('aliyun-mns-topic-out', topicOut, 'concurrency', ['1', '256', '257']);
    agree('aliyun-mns-topic-out', topicOut, 'timeout', ['', '1', '120', '121']);
  });
});
