// AMQP ingest: messages per second delivered by the IoT server subscription node (a real Node-RED runtime, every
// message accepted only after the next node has finished with it) against a bare rhea receiver (autoaccept,
// JSON.parse of the body) on the same local AMQP stand-in, each in its own consumer group, in the same run.
import { create_container, type Connection, type EventContext } from 'rhea';
import { helper, loadUninstrumented } from './runtime';
import credentialsModule from '../nodes/aliyun-credentials/aliyun-credentials';
import amqpInModule from '../nodes/aliyun-iot-amqp-in/aliyun-iot-amqp-in';
import { AccountBook } from '../emulators/accounts';
import { LocalAmqpServer } from '../emulators/iot/amqp';
import { signAmqp } from '../lib/iot/amqp-sign';
import { compare, report, type Side, type Verdict } from './measure';

const AK = { accessKeyId: 'LTAI5tBenchAmqp01', accessKeySecret: 'bench-amqp-secret', accountId: '1234567890123456' };
const TOPIC = '/sys/a1B2c3D4e5F/dev01/thing/event/property/post';
const BODY = Buffer.from(JSON.stringify({ deviceType: 'CustomCategory', iotId: 'x', requestId: '1', checkFailedData: {}, productKey: 'a1B2c3D4e5F', gmtCreate: 1700000000000, deviceName: 'dev01', items: { temperature: { value: 23.5, time: 1700000000000 } } }));
const PREFETCH = 200;
const ROUND_TIMEOUT_MS = 60_000;

interface Arrivals {
  count: number;
  waiter?: () => void;
}

function side(name: string, server: LocalAmqpServer, group: string, arrivals: Arrivals): Side {
  return {
    name,
    run(n: number): Promise<number> {
      return new Promise((resolve, reject) => {
        const target = arrivals.count + n;
        const timer = setTimeout(() => reject(new Error(`${name}: ${target - arrivals.count} of ${n} messages did not arrive within ${ROUND_TIMEOUT_MS} ms`)), ROUND_TIMEOUT_MS);
        arrivals.waiter = () => {
          if (arrivals.count >= target) {
            clearTimeout(timer);
            arrivals.waiter = undefined;
            resolve(n);
          }
        };
        for (let i = 0; i < n; i++) server.publishTo(group, server.messageFor(TOPIC, BODY));
      });
    },
  };
}

export async function benchAmqp(): Promise<Verdict[]> {
  const accounts = new AccountBook();
  accounts.addAccessKey(AK);
  const server = new LocalAmqpServer({ accounts, tlsPort: false, groups: [{ id: 'ours' }, { id: 'base' }] });
  await server.start();
  console.log(`\nAMQP ingest — IoT server subscription node ÷ bare rhea receiver (JSON.parse), same local stand-in (target ≥ 0.8×)`);
  let conn: Connection | undefined;
  try {
    await loadUninstrumented(
      [credentialsModule, amqpInModule],
      [
        { id: 'creds', type: 'aliyun-credentials', mode: 'accessKey' },
        {
          id: 'in', type: 'aliyun-iot-amqp-in', mode: 'alibaba', aliyunCredentials: 'creds', endpointType: 'custom', endpoint: server.url,
          consumerGroupId: 'ours', clientId: 'bench-ours', connections: 1, idleTimeout: 60, ackTimeout: 60, prefetch: PREFETCH, format: 'auto', wires: [['out']],
        },
        { id: 'out', type: 'helper' },
      ],
      { creds: { accessKeyId: AK.accessKeyId, accessKeySecret: AK.accessKeySecret } },
    );
    const ours: Arrivals = { count: 0 };
    (helper.getNode('out') as unknown as { on(ev: string, fn: () => void): void }).on('input', () => {
      ours.count++;
      ours.waiter?.();
    });
    const base: Arrivals = { count: 0 };
    const url = new URL(server.url);
    const login = signAmqp({ clientId: 'bench-base', consumerGroupId: 'base', accessKeyId: AK.accessKeyId, accessKeySecret: AK.accessKeySecret });
    conn = create_container().connect({ host: url.hostname, port: Number(url.port), username: login.username, password: login.password, idle_time_out: 60_000, reconnect: false });
    let sink = 0;
    const receiver = conn.open_receiver({ source: { address: '' }, credit_window: PREFETCH });
    receiver.on('message', (ctx: EventContext) => {
      const body = ctx.message?.body as { content?: Buffer };
      sink += (JSON.parse((body.content ?? Buffer.alloc(0)).toString('utf8')) as { requestId: string }).requestId.length;
      base.count++;
      base.waiter?.();
    });
    const deadline = Date.now() + 20_000;
    while (server.clientsOf('ours').length < 1 || server.clientsOf('base').length < 1) {
      if (Date.now() > deadline) throw new Error('the AMQP clients did not connect within 20 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 200)); // the receivers' credit
    const c = await compare('AMQP in vs bare rhea receiver', side('amqp-in', server, 'ours', ours), side('rhea', server, 'base', base), 10_000, 7);
    if (Number.isNaN(sink)) console.log('(checksum NaN)');
    return [report(c, 0.8, 'amqp-in', 'rhea')];
  } finally {
    await helper.unload();
    conn?.close();
    await server.stop();
  }
}
