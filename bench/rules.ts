// Many rules at the cost of one: 500 IoT device in → SQL rule pairs on one broker connection, each with its own
// filter, against a single pair, in the same Node-RED runtime and run. Every message matches exactly one rule of
// the 500; the connection's topic index (lib/iot/topic-index.ts) must keep the other 499 from costing anything.
import { helper, loadUninstrumented } from './runtime';
import brokerModule from '../nodes/aliyun-iot-broker/aliyun-iot-broker';
import deviceInModule from '../nodes/aliyun-iot-device-in/aliyun-iot-device-in';
import sqlRuleModule from '../nodes/aliyun-iot-sql-rule/aliyun-iot-sql-rule';
import type { MqttClient } from 'mqtt';
import { client, side, startBroker } from './ingest';
import { compare, report, type Verdict } from './measure';

const PK = 'a1B2c3D4e5F';
export const MANY = 500;

/** One device in (its own filter) wired to one SQL rule (the same filter in FROM), wired to `out`. */
function pair(id: string, broker: string, suffix: string, out: string): Array<{ id: string } & Record<string, unknown>> {
  const filter = `/${PK}/+/user/${suffix}`;
  return [
    { id: `in-${id}`, type: 'aliyun-iot-device-in', broker, topic: filter, qos: 0, format: 'auto', wires: [[`rule-${id}`]] },
    {
      id: `rule-${id}`, type: 'aliyun-iot-sql-rule', name: '', dataType: 'JSON', timezone: 'Asia/Shanghai', tags: [], nonMatching: 'drop', outputs: 1,
      sql: `SELECT params.temperature.value AS t, deviceName() AS dn FROM "${filter}" WHERE params.temperature.value > 20`,
      wires: [[out]],
    },
  ];
}

export async function benchRules(): Promise<Verdict[]> {
  const broker = await startBroker();
  console.log(`\nMany rules — ${MANY} device in + SQL rule pairs on one connection ÷ 1 pair, broker: ${broker.name} (target ≥ 0.5×)`);
  const clients: MqttClient[] = [];
  try {
    const conn = (id: string) => ({ id, type: 'aliyun-iot-broker', mode: 'mqtt', url: broker.url, username: broker.username ?? '', keepalive: 60, cleanSession: true, protocolVersion: '4' });
    const flow: Array<{ id: string } & Record<string, unknown>> = [conn('b1'), conn('bn'), { id: 'out1', type: 'helper' }, { id: 'outn', type: 'helper' }];
    flow.push(...pair('one', 'b1', 'one', 'out1'));
    for (let k = 0; k < MANY; k++) flow.push(...pair(`m${k}`, 'bn', `many${k}`, 'outn'));
    await loadUninstrumented([brokerModule, deviceInModule, sqlRuleModule], flow, { b1: broker.credentials, bn: broker.credentials });

    const publisher = await client(broker.url, broker.login);
    clients.push(publisher);
    const counters = { one: { count: 0, waiter: undefined as undefined | (() => void) }, many: { count: 0, waiter: undefined as undefined | (() => void) } };
    for (const [out, c] of [['out1', counters.one], ['outn', counters.many]] as const) {
      (helper.getNode(out) as unknown as { on(ev: string, fn: () => void): void }).on('input', () => {
        c.count++;
        c.waiter?.();
      });
    }
    // The rule the messages meet in the 500 is the middle one: neither the first nor the last subscribed.
    const topicOne = `/${PK}/dev01/user/one`;
    const topicMany = `/${PK}/dev01/user/many${MANY >> 1}`;
    for (const [topic, c] of [[topicOne, counters.one], [topicMany, counters.many]] as const) {
      await new Promise<void>((resolve, reject) => {
        const timer = setInterval(() => publisher.publish(topic, PAYLOAD_RULE, { qos: 0 }), 100);
        const give = setTimeout(() => { clearInterval(timer); reject(new Error(`nothing came through ${topic} within 60 s`)); }, 60_000);
        c.waiter = () => { clearInterval(timer); clearTimeout(give); c.waiter = undefined; resolve(); };
      });
    }
    await publisher.publishAsync(`/${PK}/dev01/user/none`, PAYLOAD_RULE, { qos: 1 }); // let warm-up stragglers land
    const cmp = await compare(`${MANY} rules vs 1 rule`, side(`${MANY} rules`, publisher, topicMany, counters.many, 0, PAYLOAD_RULE),
      side('1 rule', publisher, topicOne, counters.one, 0, PAYLOAD_RULE), 5_000, 7);
    return [report(cmp, 0.5, `${MANY} rules`, '1 rule')];
  } finally {
    await helper.unload();
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await broker.stop();
  }
}

const PAYLOAD_RULE = Buffer.from(JSON.stringify({ id: '1', version: '1.0', method: 'thing.event.property.post', params: { temperature: { value: 23.5, time: 1700000000000 } } }));
