// In-flow cost: the SQL rule node against a function node doing the same filter and projection in JavaScript,
// both inside the same real Node-RED runtime (node-red-node-test-helper), same messages, same run.
import { helper, loadUninstrumented } from './runtime';
import sqlRuleNode from '../nodes/aliyun-iot-sql-rule/aliyun-iot-sql-rule';
import { compare, report, type Verdict } from './measure';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const functionNode = require('@node-red/nodes/core/function/10-function.js');

const PK = 'a1B2c3D4e5F';
const TOPIC = `/sys/${PK}/dev01/thing/event/property/post`;

function makeMsg(i: number) {
  return {
    topic: TOPIC,
    payload: {
      deviceName: `dev${i % 50}`,
      productKey: PK,
      gmtCreate: 1700000000000 + i,
      items: { Temperature: { value: 31 + (i % 20), time: 1700000000000 + i }, Humidity: { value: 40 + (i % 30), time: 1700000000000 + i } },
    },
  };
}

const flow = [
  {
    id: 'sql',
    type: 'aliyun-iot-sql-rule',
    name: 'hot',
    sql: `SELECT items.Temperature.value AS t, items.Humidity.value AS h, deviceName FROM "/sys/${PK}/+/thing/event/property/post" WHERE items.Temperature.value > 30`,
    dataType: 'JSON',
    timezone: 'Asia/Shanghai',
    tags: [],
    nonMatching: 'drop',
    outputs: 1,
    wires: [['outSql']],
  },
  { id: 'outSql', type: 'helper' },
  {
    id: 'fn',
    type: 'function',
    name: 'hot (JS)',
    func:
      'const p = msg.payload; const t = p.items && p.items.Temperature && p.items.Temperature.value;\n' +
      'if (!(t > 30)) return null;\n' +
      'msg.payload = { t, h: p.items.Humidity && p.items.Humidity.value, deviceName: p.deviceName };\nreturn msg;',
    outputs: 1,
    noerr: 0,
    wires: [['outFn']],
  },
  { id: 'outFn', type: 'helper' },
];

type AnyNode = { receive(msg: unknown): void; on(ev: string, fn: (m: unknown) => void): void; removeAllListeners(ev: string): void };

function pump(inId: string, outId: string) {
  const input = helper.getNode(inId) as unknown as AnyNode;
  const output = helper.getNode(outId) as unknown as AnyNode;
  return {
    name: inId,
    run(n: number): Promise<number> {
      return new Promise((resolve) => {
        let got = 0;
        output.removeAllListeners('input');
        output.on('input', () => {
          if (++got === n) resolve(got);
        });
        for (let i = 0; i < n; i++) input.receive(makeMsg(i));
      });
    },
  };
}

export async function benchFlow(): Promise<Verdict[]> {
  console.log('\nIn a Node-RED flow — SQL rule node ÷ function node doing the same filter + projection (target ≥ 1.0×)');
  await loadUninstrumented([sqlRuleNode, functionNode], flow);
  try {
    return [report(await compare('SQL rule node vs function node', pump('sql', 'outSql'), pump('fn', 'outFn'), 20_000, 5), 1, 'sql-rule', 'function')];
  } finally {
    await helper.unload();
  }
}
