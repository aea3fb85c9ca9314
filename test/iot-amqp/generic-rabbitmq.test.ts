// The node's generic AMQP 1.0 mode against a real broker (RabbitMQ's AMQP 1.0 plugin; see ./rabbitmq.ts for why
// not ActiveMQ): SASL PLAIN, a queue address, release on failure (the broker delivers again), and its own reconnect
// with the receiver re-opened after the broker was killed with -9 and started again.
import assert from 'node:assert/strict';
import helper from 'node-red-node-test-helper';
import type { Node, NodeAPI } from 'node-red';
import { create_container, type Connection } from 'rhea';
import amqpInNode from '../../nodes/aliyun-iot-amqp-in/aliyun-iot-amqp-in';
import amqpInEn from '../../nodes/aliyun-iot-amqp-in/locales/en-US/aliyun-iot-amqp-in.json';
import { waitForStatus } from '../support/status';
import { rabbitMq, requireRabbitMq, type RabbitMq } from './rabbitmq';
import { waitUntil } from './support';

helper.init(require.resolve('node-red'));

function translate(key: string, subs?: Record<string, unknown>): string {
  let v: unknown = amqpInEn;
  for (const part of key.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  if (typeof v !== 'string') return key;
  return v.replace(/__(\w+)__/g, (_m, name: string) => (subs && name in subs ? String(subs[name]) : `__${name}__`));
}

/* eslint-disable @typescript-eslint/no-require-imports */
const nodes = [
  (RED: NodeAPI) => {
    (RED as unknown as { _: typeof translate })._ = translate;
    const api = RED as unknown as { hooks?: unknown };
    if (!api.hooks) api.hooks = (require('@node-red/util') as { hooks: unknown }).hooks;
    amqpInNode(RED);
  },
  require('@node-red/nodes/core/function/10-function.js'),
] as Array<(RED: NodeAPI) => void>;
/* eslint-enable @typescript-eslint/no-require-imports */

/** Sends bodies to a queue with a bare rhea sender; resolves when the broker accepted them all. */
function sendAll(port: number, address: string, bodies: string[], props: (i: number) => Record<string, unknown> = () => ({})): Promise<void> {
  return new Promise((resolve, reject) => {
    const conn: Connection = create_container().connect({ host: '127.0.0.1', port, username: 'guest', password: 'guest', reconnect: false });
    let sent = 0;
    let accepted = 0;
    const sender = conn.open_sender(address);
    sender.on('sendable', () => {
      while (sender.sendable() && sent < bodies.length) {
        sender.send({ body: bodies[sent], application_properties: props(sent) });
        sent++;
      }
    });
    sender.on('accepted', () => {
      if (++accepted === bodies.length) {
        conn.close();
        resolve();
      }
    });
    conn.on('connection_error', (ctx) => reject(ctx.connection.error as Error));
    conn.on('disconnected', (ctx) => {
      if (accepted < bodies.length) reject(ctx.error ?? new Error('disconnected'));
    });
  });
}

describe('aliyun-iot-amqp-in generic mode against RabbitMQ (AMQP 1.0)', function () {
  this.timeout(240_000);
  let broker: RabbitMq | undefined;

  before(async function () {
    requireRabbitMq(this);
    broker = await rabbitMq();
    await broker.start();
  });
  after(async () => {
    await helper.unload();
    await broker?.stop();
  });

  const ADDRESS = '/queue/nr-generic';
  const flow = (fn: string): helper.TestFlows =>
    [
      { id: 'tab', type: 'tab', label: 'generic' },
      {
        id: 'in', type: 'aliyun-iot-amqp-in', z: 'tab', mode: 'generic', url: `amqp://127.0.0.1:${broker!.port}`, address: ADDRESS,
        idleTimeout: 30, ackTimeout: 30, prefetch: 10, format: 'auto', wires: [['fn']],
      },
      { id: 'fn', type: 'function', z: 'tab', func: fn, outputs: 1, wires: [['out']] },
      { id: 'out', type: 'helper', z: 'tab' },
    ] as unknown as helper.TestFlows;

  it('receives with SASL PLAIN, releases what the flow failed on, and reconnects after kill -9 of the broker', async () => {
    // Fails the first time it sees an even n.
    const fn = `const seen = context.get('seen') || {};
      if (msg.payload.n % 2 === 0 && !seen[msg.payload.n]) { seen[msg.payload.n] = true; context.set('seen', seen); throw new Error('first attempt fails'); }
      return msg;`;
    await helper.load(nodes, flow(fn), { in: { user: 'guest', password: 'guest' } });
    const node: Node = helper.getNode('in');
    await waitForStatus(node, (s) => s.fill === 'green', 60_000);
    const got: Array<{ payload: { n: number }; topic?: string; iot: Record<string, unknown> }> = [];
    helper.getNode('out').on('input', (m: unknown) => got.push(m as (typeof got)[number]));

    await sendAll(broker!.port, ADDRESS, Array.from({ length: 20 }, (_, n) => JSON.stringify({ n })), (n) => (n === 0 ? { topic: '/pk1/dev1/user/data' } : {}));
    await waitUntil('all 20 once through the flow', () => new Set(got.map((m) => m.payload.n)).size === 20, 60_000);
    const first = got.find((m) => m.payload.n === 0)!;
    assert.equal(first.topic, '/pk1/dev1/user/data');
    assert.equal(first.iot.productKey, 'pk1');

    await broker!.kill();
    await waitForStatus(node, (s) => /network/.test(s.text ?? '') && s.fill === 'red', 60_000);
    await broker!.start();
    await waitForStatus(node, (s) => s.fill === 'green' && statusAfterKill(node), 90_000);
    await sendAll(broker!.port, ADDRESS, Array.from({ length: 5 }, (_, i) => JSON.stringify({ n: 101 + i * 2 })));
    await waitUntil('the messages sent after the restart', () => [101, 103, 105, 107, 109].every((n) => got.some((m) => m.payload.n === n)), 60_000);
  });
});

/** True once a green status follows a red one (the reconnect, not the first connect). */
function statusAfterKill(node: Node): boolean {
  const spy = node.status as unknown as { getCalls(): Array<{ args: Array<{ fill?: string }>; thisValue: unknown }> };
  const calls = spy.getCalls().filter((c) => c.thisValue === node).map((c) => c.args[0]?.fill);
  const lastRed = calls.lastIndexOf('red');
  return lastRed >= 0 && calls.lastIndexOf('green') > lastRed;
}
