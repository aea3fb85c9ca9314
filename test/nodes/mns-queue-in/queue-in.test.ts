// The aliyun-mns-queue-in node in a real Node-RED runtime against the local MNS: delete only after the flow
// completed the message, redelivery after a failure, decoding, and a prompt stop.
import assert from 'node:assert/strict';
import http from 'node:http';
import helper from 'node-red-node-test-helper';
import { bodyMd5 } from '../../../lib/mns';
import { signedHeaders } from '../../../lib/mns/request';
import { ACCOUNT_ID, AK, startLocalMns, type LocalMns } from '../../mns/support';
import { Collector, credentialsConfig, credentialsSecrets, mnsNodes } from '../mns-topic-out/support';

helper.init(require.resolve('node-red'));

interface InProps {
  queue?: string;
  ackMode?: string;
  payloadFormat?: string;
  waitSeconds?: string;
  ackTimeout?: string;
  concurrency?: string;
  /** Function node body between the queue in node and the helper. */
  func?: string;
  maxDeliveries?: string;
  poisonAction?: string;
}

function flow(local: LocalMns, p: InProps = {}): helper.TestFlows {
  const nodes: Array<Record<string, unknown>> = [
    { id: 'tab', type: 'tab', label: 'test' },
    credentialsConfig(),
    {
      id: 'in',
      type: 'aliyun-mns-queue-in',
      z: 'tab',
      aliyunCredentials: 'creds',
      endpointType: 'custom',
      endpoint: local.mns.url,
      queue: p.queue ?? 'work',
      waitSeconds: p.waitSeconds ?? '1',
      batchSize: '16',
      concurrency: p.concurrency ?? '16',
      payloadFormat: p.payloadFormat ?? 'auto',
      ackMode: p.ackMode ?? 'complete',
      ackTimeout: p.ackTimeout ?? '20',
      ...(p.maxDeliveries !== undefined ? { maxDeliveries: p.maxDeliveries } : {}),
      ...(p.poisonAction !== undefined ? { poisonAction: p.poisonAction } : {}),
      wires: [['fn'], ['poison']],
    },
    { id: 'fn', type: 'function', z: 'tab', func: p.func ?? 'return msg;', outputs: 1, wires: [['out']] },
    { id: 'out', type: 'helper', z: 'tab' },
    { id: 'poison', type: 'helper', z: 'tab' },
  ];
  return nodes as unknown as helper.TestFlows;
}

interface InMsg {
  payload: unknown;
  topic: string;
  mns: { messageId: string; receiptHandle: string; dequeueCount: number; enqueueTime: number };
  iot?: { productKey?: string; deviceName?: string; topic?: string; messageType: string; raw: Buffer };
}

describe('aliyun-mns-queue-in node', function () {
  let local: LocalMns;
  beforeEach(async function () {
    local = await startLocalMns();
  });
  afterEach(async function () {
    await helper.unload();
    await local.mns.stop();
  });

  function deletions(n: number): Promise<string[]> {
    const ids: string[] = [];
    return new Promise((resolve) => {
      const on = (ev: { queue: string; message: { messageId: string } }): void => {
        ids.push(ev.message.messageId);
        if (ids.length === n) {
          local.mns.events.off('deleted', on);
          resolve(ids);
        }
      };
      local.mns.events.on('deleted', on);
    });
  }

  it('emits each message with msg.mns and deletes it once the flow completed it', async function () {
    for (const body of ['{"temp":21}', 'plain text', '[1,2]']) local.mns.publish('telemetry', body);
    const deleted = deletions(3);
    await helper.load(mnsNodes, flow(local, { queue: 'app' }), credentialsSecrets);
    const out = new Collector<InMsg>(helper.getNode('out'));
    const got = await out.until(3);
    const payloads = got.map((m) => m.payload);
    assert.deepEqual(payloads.find((p) => typeof p === 'object' && !Array.isArray(p)), { temp: 21 });
    assert.ok(payloads.includes('plain text'));
    assert.ok(payloads.some((p) => Array.isArray(p)));
    for (const m of got) {
      assert.equal(m.topic, 'app');
      assert.match(m.mns.messageId, /^[0-9A-F]{32}$/);
      assert.ok(m.mns.receiptHandle);
      assert.equal(m.mns.dequeueCount, 1);
      assert.ok(m.mns.enqueueTime > 0);
    }
    assert.deepEqual((await deleted).sort(), got.map((m) => m.mns.messageId).sort());
    assert.equal(local.mns.messages('app').length, 0);
  });

  it('does not delete a message whose handling failed; MNS delivers it again, and then it is deleted', async function () {
    local.mns.createQueue('retry', { VisibilityTimeout: 1 });
    local.mns.subscribe('telemetry', 'to-retry', { queue: 'retry', notifyContentFormat: 'SIMPLIFIED' });
    local.mns.publish('telemetry', 'fragile');
    const deleted = deletions(1);
    await helper.load(
      mnsNodes,
      flow(local, { queue: 'retry', func: 'if (msg.mns.dequeueCount === 1) { throw new Error("first try fails"); } return msg;' }),
      credentialsSecrets,
    );
    const out = new Collector<InMsg>(helper.getNode('out'));
    const [m] = await out.until(1);
    assert.equal(m.payload, 'fragile');
    assert.equal(m.mns.dequeueCount, 2, 'delivered again after the failure');
    await deleted;
    assert.equal(local.mns.messages('retry').length, 0);
  });

  it('leaves a message that is never completed for redelivery after the processing timeout', async function () {
    local.mns.publish('telemetry', 'slow');
    await helper.load(
      mnsNodes,
      // Referencing node.done turns off the function node's automatic done(): this flow never completes the message.
      flow(local, { queue: 'app', ackTimeout: '1', func: 'if (msg.mns.dequeueCount > 1) { node.done(); return msg; } node.send(msg); return null;' }),
      credentialsSecrets,
    );
    const warned = new Promise<void>((resolve) => {
      const n = helper.getNode('in') as unknown as NodeJS.EventEmitter;
      n.on('call:warn', (call: { args: unknown[] }) => {
        if (/not completed within 1 s/.test(String(call.args[0]))) resolve();
      });
    });
    const out = new Collector<InMsg>(helper.getNode('out'));
    await out.until(1);
    await warned;
    assert.equal(local.mns.messages('app').length, 1, 'still in the queue');
  });

  it('a message that always fails leaves on output 2 after the maximum deliveries, with the reason, and is deleted', async function () {
    local.mns.send('work', 'always fails');
    const deleted = deletions(1);
    await helper.load(mnsNodes, flow(local, { maxDeliveries: '2', func: 'throw new Error("cannot handle it");' }), credentialsSecrets);
    const poison = new Collector<InMsg & { mns: { poison: { reason: string; deliveries: number; action: string } }; error: { message: string } }>(helper.getNode('poison'));
    const [p] = await poison.until(1);
    assert.equal(p.payload, 'always fails');
    assert.equal(p.mns.dequeueCount, 3);
    assert.deepEqual({ ...p.mns.poison, reason: undefined }, { reason: undefined, deliveries: 3, maxDeliveries: 2, action: 'delete' });
    assert.equal(p.mns.poison.reason, 'delivered 3 times, more than the maximum of 2; last failure: a node in the flow ended it with an error');
    assert.equal(p.error.message, p.mns.poison.reason);
    await deleted;
    assert.equal(local.mns.messages('work').length, 0);
  });

  it('a body that cannot be decoded is reported each time and, past the maximum, leaves on output 2 (kept hidden if asked)', async function () {
    local.mns.send('work', 'not json');
    await helper.load(mnsNodes, flow(local, { maxDeliveries: '1', payloadFormat: 'json', poisonAction: 'keep' }), credentialsSecrets);
    const poison = new Collector<InMsg & { mns: { poison: { reason: string; action: string } } }>(helper.getNode('poison'));
    const [p] = await poison.until(1);
    assert.match(p.mns.poison.reason, /^delivered 2 times, more than the maximum of 1; last failure: cannot decode: the message body is not JSON/);
    assert.equal(p.mns.poison.action, 'keep');
    assert.equal(p.payload, 'not json', 'the body as received');
    // Kept: still in the queue, hidden for 12 h.
    await new Promise<void>((resolve) => {
      const check = (): void => {
        const [m] = local.mns.messages('work');
        if (m && m.nextVisibleTime - Date.now() > 3600_000) resolve();
        else setTimeout(check, 20);
      };
      check();
    });
    assert.equal(new Collector(helper.getNode('out')).got.length, 0);
  });

  it('ack mode "right after sending" deletes at once', async function () {
    local.mns.publish('telemetry', 'fire and forget');
    const deleted = deletions(1);
    await helper.load(mnsNodes, flow(local, { queue: 'app', ackMode: 'send' }), credentialsSecrets);
    const out = new Collector<InMsg>(helper.getNode('out'));
    await out.until(1);
    await deleted;
  });

  it('decodes the IoT legacy queue format to the device payload with msg.iot', async function () {
    const device = JSON.stringify({ temperature: 30 });
    local.mns.publish('telemetry', JSON.stringify({
      messageid: '12345', messagetype: 'upload', topic: '/a1B2c3D4e5F/dev01/user/update',
      payload: Buffer.from(device).toString('base64'), timestamp: 1526450324,
    }));
    await helper.load(mnsNodes, flow(local, { queue: 'app' }), credentialsSecrets);
    const out = new Collector<InMsg>(helper.getNode('out'));
    const [m] = await out.until(1);
    assert.deepEqual(m.payload, { temperature: 30 });
    assert.equal(m.iot?.productKey, 'a1B2c3D4e5F');
    assert.equal(m.iot?.deviceName, 'dev01');
    assert.equal(m.iot?.messageType, 'upload');
    assert.equal(Buffer.from(m.iot!.raw).toString(), device);
  });

  it('Base64 payload format gives a Buffer', async function () {
    local.mns.publish('telemetry', Buffer.from([1, 2, 3]).toString('base64'));
    await helper.load(mnsNodes, flow(local, { queue: 'app', payloadFormat: 'base64' }), credentialsSecrets);
    const out = new Collector<InMsg>(helper.getNode('out'));
    const [m] = await out.until(1);
    assert.deepEqual([...(m.payload as Buffer)], [1, 2, 3]);
  });

  it('keeps polling with backoff on errors and shows the MNS code in the status', async function () {
    await helper.load(mnsNodes, flow(local, { queue: 'later' }), credentialsSecrets);
    const inNode = helper.getNode('in');
    await new Promise<void>((resolve) => {
      (inNode as unknown as NodeJS.EventEmitter).on('call:status', (call: { args: Array<{ text?: string }> }) => {
        if (/QueueNotExist/.test(call.args[0]?.text ?? '')) resolve();
      });
    });
  });

  it('stops at once on close, even in the middle of a 30 s long poll', async function () {
    await helper.load(mnsNodes, flow(local, { queue: 'app', waitSeconds: '30' }), credentialsSecrets);
    // The poll is under way once the local MNS holds a waiting receive; the emulator counts requests only when
    // they end, so check the node is polling by its status instead.
    assert.match(String((helper.getNode('in').status as unknown as { args: Array<[{ text?: string }]> }).args.at(-1)?.[0]?.text), /received 0/);
    const t0 = Date.now();
    await helper.unload();
    assert.ok(Date.now() - t0 < 2000, `close took ${Date.now() - t0} ms`);
  });
});

describe('aliyun-mns-queue-in with topic subscriptions in every format (topic out → MNS topic → queues)', function () {
  let local: LocalMns;
  beforeEach(async function () {
    local = await startLocalMns();
    local.mns.createTopic('fanout');
    for (const [queue, format] of [['qx', 'XML'], ['qj', 'JSON'], ['qs', 'SIMPLIFIED']] as const) {
      local.mns.createQueue(queue);
      local.mns.subscribe('fanout', `to-${queue}`, { queue, notifyContentFormat: format });
    }
    // The way the console (and every SDK's default) creates one: a signed Subscribe naming no NotifyContentFormat.
    local.mns.createQueue('qc');
    const body = `<?xml version="1.0" encoding="UTF-8"?><Subscription xmlns="http://mns.aliyuncs.com/doc/v1/"><Endpoint>acs:mns:cn-hangzhou:${ACCOUNT_ID}:queues/qc</Endpoint></Subscription>`;
    const resource = '/topics/fanout/subscriptions/console-default';
    const headers = signedHeaders(AK, 'PUT', resource, Buffer.from(body), new Date().toUTCString());
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${local.mns.url}${resource}`, { method: 'PUT', headers }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(status, 201);
  });
  afterEach(async function () {
    await helper.unload();
    await local.mns.stop();
  });

  it('every queue gets each published message once, unwrapped, with its notification metadata', async function () {
    const queues = ['qx', 'qj', 'qs', 'qc'];
    const nodes: Array<Record<string, unknown>> = [
      { id: 'tab', type: 'tab', label: 'test' },
      credentialsConfig(),
      { id: 'inject', type: 'helper', z: 'tab', wires: [['pub']] },
      {
        id: 'pub', type: 'aliyun-mns-topic-out', z: 'tab', aliyunCredentials: 'creds', endpointType: 'custom', endpoint: local.mns.url,
        topic: 'fanout', bodyEncoding: 'json', tag: 'telemetry', retries: '0', concurrency: '4', queueLimit: '100', timeout: '5', wires: [[], []],
      },
      ...queues.flatMap((q) => [
        {
          id: `in-${q}`, type: 'aliyun-mns-queue-in', z: 'tab', aliyunCredentials: 'creds', endpointType: 'custom', endpoint: local.mns.url,
          queue: q, waitSeconds: '1', batchSize: '16', concurrency: '16', payloadFormat: 'auto', ackMode: 'complete', ackTimeout: '20', wires: [[`out-${q}`]],
        },
        { id: `out-${q}`, type: 'helper', z: 'tab' },
      ]),
    ];
    await helper.load(mnsNodes, nodes as unknown as helper.TestFlows, credentialsSecrets);
    const collectors = Object.fromEntries(queues.map((q) => [q, new Collector<InMsg & { mns: { envelope: string; notification?: Record<string, unknown> } }>(helper.getNode(`out-${q}`))]));
    const sent = [{ temp: 21.5, note: 'a<b & "c"' }, { temp: 22, city: '杭州' }];
    for (const payload of sent) helper.getNode('inject').send({ payload });
    for (const q of queues) {
      const got = await collectors[q].until(2);
      assert.deepEqual(got.map((m) => m.payload).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))), [...sent].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))), q);
      for (const m of got) {
        if (q === 'qs') {
          assert.equal(m.mns.envelope, 'plain');
          assert.equal(m.mns.notification, undefined);
          continue;
        }
        assert.equal(m.mns.envelope, q === 'qj' ? 'json-notification' : 'xml-notification', q);
        const n = m.mns.notification!;
        assert.equal(n.topicName, 'fanout');
        assert.equal(n.topicOwner, ACCOUNT_ID);
        assert.equal(n.subscriber, ACCOUNT_ID);
        assert.equal(n.subscriptionName, q === 'qc' ? 'console-default' : `to-${q}`);
        assert.equal(n.messageTag, 'telemetry');
        assert.equal(n.messageMD5, bodyMd5(JSON.stringify(m.payload)));
        assert.ok(typeof n.publishTime === 'number' && n.publishTime > 0);
        assert.ok(typeof n.messageId === 'string' && n.messageId !== '');
      }
    }
    // Each arrived once: nothing more comes, and every queue is empty once the deletes went out.
    await Promise.all(queues.map((q) => new Promise<void>((resolve) => {
      const check = (): void => (local.mns.messages(q).length === 0 ? resolve() : void setTimeout(check, 20));
      check();
    })));
    for (const q of queues) assert.equal(collectors[q].got.length, 2, q);
  });
});
