// Scale-out proof (issue 11): three real `node-red` processes in one consumer group of the local AMQP stand-in, each
// running "IoT server subscription → MNS topic out". Device messages go in over MQTT; the split between the
// processes is checked (±20 %), then one process is killed with -9 mid-stream and started again: every message must
// reach the MNS queue at least once. Duplicates (expected: what the killed process had published but not yet
// acknowledged) are counted and printed. AMQP_SCALE_TOTAL sets the number of messages (default 30 000).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { MqttClient } from 'mqtt';
import { start, DEMO_ACCESS_KEY, DEMO_DEVICES, type LocalCloud } from '../../emulators';
import { signDevice } from '../../lib/iot/signing';
import { startNodeRed, type FlowNode, type RedProcess } from '../support/red-process';
import { connectClient, endAll } from '../emulators/iot/helpers';
import { waitUntil } from './support';

const TOTAL = Number(process.env.AMQP_SCALE_TOTAL ?? 30_000);
const GROUP = 'scale-group';
const TOPIC = 'scale-topic';
const QUEUE = 'scale-queue';

function flowFor(cloud: LocalCloud, i: number): { flows: FlowNode[]; credentials: Record<string, Record<string, string>> } {
  const flows: FlowNode[] = [
    { id: 'tab1', type: 'tab', label: `scale ${i}` },
    { id: 'creds', type: 'aliyun-credentials', name: 'local', mode: 'accessKey', region: 'cn-shanghai' },
    {
      id: 'amqpin', type: 'aliyun-iot-amqp-in', z: 'tab1', mode: 'alibaba', aliyunCredentials: 'creds', endpointType: 'custom', endpoint: cloud.iot!.amqp!.url,
      consumerGroupId: GROUP, clientId: `scale-p${i}`, connections: 1, signMethod: 'hmacsha1', idleTimeout: 60, ackTimeout: 60, prefetch: 200, format: 'auto',
      wires: [['out']],
    },
    {
      id: 'out', type: 'aliyun-mns-topic-out', z: 'tab1', aliyunCredentials: 'creds', endpointType: 'custom', endpoint: cloud.mns!.url, accountId: cloud.mns!.accountId,
      region: cloud.mns!.region, topic: TOPIC, bodyEncoding: 'json', retries: '3', retryDelays: '1, 3, 10', concurrency: '32', queueLimit: '10000', timeout: '10',
      wires: [[], []],
    },
  ];
  return { flows, credentials: { creds: { accessKeyId: DEMO_ACCESS_KEY.accessKeyId, accessKeySecret: DEMO_ACCESS_KEY.accessKeySecret } } };
}

/** The pid listening on a TCP port (the Node-RED process itself, not its process group). */
function pidOnPort(port: number): number {
  const out = execFileSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8' });
  const m = /pid=(\d+)/.exec(out);
  if (!m) throw new Error(`no process listens on ${port}: ${out}`);
  return Number(m[1]);
}

describe(`AMQP scale-out: 3 Node-RED processes in one consumer group, ${TOTAL} device messages`, function () {
  this.timeout(Math.max(600_000, TOTAL * 40));
  let cloud: LocalCloud;
  const reds: Array<RedProcess | undefined> = [];
  const devices: MqttClient[] = [];

  after(async function () {
    this.timeout(120_000);
    await endAll(devices);
    await Promise.all(reds.map((r) => r?.stop()));
    await cloud?.stop();
  });

  it('splits within ±20 %, and loses nothing when one process is killed with -9 and restarted', async function () {
    cloud = await start({ sts: { httpsPort: null }, iot: { amqp: { port: 0, tlsPort: false, groups: [{ id: GROUP }] } } });
    cloud.mns!.createTopic(TOPIC);
    cloud.mns!.createQueue(QUEUE);
    cloud.mns!.subscribe(TOPIC, `${QUEUE}-sub`, { queue: QUEUE, notifyContentFormat: 'SIMPLIFIED' });
    const arrived = new Map<number, number>();
    cloud.mns!.events.on('enqueued', (e: { queue: string; message: { body: string } }) => {
      if (e.queue !== QUEUE) return;
      const seq = (JSON.parse(e.message.body) as { seq?: number }).seq;
      if (typeof seq === 'number') arrived.set(seq, (arrived.get(seq) ?? 0) + 1);
    });
    const acceptedBy = new Map<string, number>();
    cloud.iot!.amqp!.events.on('accepted', (e: { clientId: string }) => acceptedBy.set(e.clientId, (acceptedBy.get(e.clientId) ?? 0) + 1));

    for (let i = 1; i <= 3; i++) {
      const { flows, credentials } = flowFor(cloud, i);
      reds[i - 1] = await startNodeRed({ install: 'link', flows, credentials, timeoutMs: 90_000 });
    }
    await waitUntil('three clients in the group', () => cloud.iot!.amqp!.clientsOf(GROUP).length === 3, 60_000);
    for (const d of DEMO_DEVICES) devices.push(await connectClient(cloud.iot!.mqttUrl, signDevice({ ...d, secureMode: 3 })));

    let next = 0;
    const publish = async (upTo: number): Promise<void> => {
      while (next < upTo) {
        const batch: Array<Promise<unknown>> = [];
        for (let k = 0; k < 300 && next < upTo; k++, next++) {
          const d = DEMO_DEVICES[next % DEMO_DEVICES.length];
          batch.push(devices[next % devices.length].publishAsync(`/${d.productKey}/${d.deviceName}/user/data`, JSON.stringify({ seq: next }), { qos: 1 }));
        }
        await Promise.all(batch);
      }
    };
    const allUpTo = (n: number) => (): boolean => {
      if (arrived.size < n) return false;
      for (let s = 0; s < n; s++) if (!arrived.has(s)) return false;
      return true;
    };

    // Phase 1: a third of the messages with all three processes up — the split.
    const phase1 = Math.floor(TOTAL / 3);
    const t0 = Date.now();
    await publish(phase1);
    await waitUntil('phase 1 in the queue', allUpTo(phase1), TOTAL * 30);
    const shares = [1, 2, 3].map((i) => acceptedBy.get(`scale-p${i}`) ?? 0);
    const mean = shares.reduce((a, b) => a + b, 0) / 3;
    console.log(`      split of the first ${phase1} (accepted per process): ${shares.join(' / ')} in ${Date.now() - t0} ms`);
    for (const s of shares) assert.ok(Math.abs(s - mean) <= 0.2 * mean, `share ${s} is more than 20 % off the mean ${mean.toFixed(0)} (${shares.join(' / ')})`);

    // Phase 2: the rest; process 2 is killed with -9 once a sixth of it has arrived, then started again.
    const killAt = phase1 + Math.floor((TOTAL - phase1) / 6);
    const publishing = publish(TOTAL);
    await waitUntil('mid-stream', () => arrived.size >= killAt, TOTAL * 30);
    const victim = reds[1]!;
    process.kill(pidOnPort(victim.port), 'SIGKILL');
    await victim.stop();
    await waitUntil('the killed client left the group', () => !cloud.iot!.amqp!.clientsOf(GROUP).some((c) => c.clientId === 'scale-p2'), 30_000);
    const { flows, credentials } = flowFor(cloud, 2);
    reds[1] = await startNodeRed({ install: 'link', flows, credentials, timeoutMs: 90_000 });
    await publishing;
    await waitUntil('every message in the queue', allUpTo(TOTAL), TOTAL * 30);
    await waitUntil('nothing left unacknowledged', () => {
      const s = cloud.iot!.amqp!.stats(GROUP);
      return s.backlog === 0 && s.inflight === 0;
    }, 120_000);

    const duplicates = [...arrived.values()].reduce((a, n) => a + (n - 1), 0);
    const missing = TOTAL - [...arrived.keys()].filter((s) => s < TOTAL).length;
    console.log(`      ${TOTAL} messages: ${missing} missing, ${duplicates} duplicates in the MNS queue; accepted per client: ${[...acceptedBy].map(([k, v]) => `${k}=${v}`).join(', ')}; ${Date.now() - t0} ms`);
    assert.equal(missing, 0);
  });
});
