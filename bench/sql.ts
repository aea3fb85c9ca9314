// Rule SQL evaluation: our compiled rules against alasql running the equivalent query, same messages, same run.
import alasql from 'alasql';
import { compileRule } from '../lib/sql';
import { compare, report, type Verdict } from './measure';

interface Case {
  label: string;
  /** Topic of message i, as `prefix + device name + suffix`; the device name is `dev` + (i mod DEVICES). */
  topic: [prefix: string, suffix: string];
  ours: string;
  alasql: string;
  /** How many `?` topic parameters the alasql query takes before its rows (a user passes msg.topic to each). */
  alasqlTopic?: number;
  make(i: number): Record<string, unknown>;
}

const PK = 'a1B2c3D4e5F';
/** Device names the topics cycle through: far more than any cache would keep, as on a real broker. */
const DEVICES = 100_000;

/**
 * Builds message i's topic as a new flat string, the way mqtt.js hands it over (decoded from the packet's bytes):
 * every message brings a string the engine has never seen, so nothing about it (hash, flattening) is cached.
 */
export function topicMaker([prefix, suffix]: [string, string]): (i: number) => string {
  // One buffer per digit count, holding the prefix, `dev`, room for the digits and the suffix: a message costs
  // writing its digits and one decode, as in mqtt.js.
  const at = prefix.length + 3;
  const bufs = [1, 2, 3, 4, 5, 6].map((d) => Buffer.from(`${prefix}dev${'0'.repeat(d)}${suffix}`, 'latin1'));
  return (i) => {
    let n = i % DEVICES;
    const len = n < 10 ? 1 : n < 100 ? 2 : n < 1000 ? 3 : n < 10000 ? 4 : n < 100000 ? 5 : 6;
    const buf = bufs[len - 1];
    for (let k = at + len - 1; k >= at; k--) { buf[k] = 48 + (n % 10); n = (n / 10) | 0; }
    return buf.toString('utf8');
  };
}

// alasql's stand-in for topic(n): what a user of alasql would register.
(alasql as unknown as { fn: Record<string, unknown> }).fn.level = (t: string, n: number) => t.split('/')[n];

export const cases: Case[] = [
  {
    label: 'filter + projection',
    topic: [`/${PK}/`, '/user/update'],
    ours: `SELECT temperature AS t, humidity AS h, deviceId FROM "/${PK}/+/user/update" WHERE temperature > 30`,
    alasql: 'SELECT temperature AS t, humidity AS h, deviceId FROM ? WHERE temperature > 30',
    make: (i) => ({ deviceId: `dev${i % 50}`, temperature: 20 + (i % 20), humidity: 40 + (i % 30), firmware: '1.2.3' }),
  },
  {
    label: 'nested TSL items path',
    topic: [`/sys/${PK}/`, '/thing/event/property/post'],
    ours:
      `SELECT items.Temperature.value AS t, items.Humidity.value AS h, deviceName FROM "/sys/${PK}/+/thing/event/property/post" ` +
      'WHERE items.Temperature.value > 30',
    alasql: 'SELECT items->Temperature->[value] AS t, items->Humidity->[value] AS h, deviceName FROM ? WHERE items->Temperature->[value] > 30',
    make: (i) => ({
      iotId: `iot${i}`,
      productKey: PK,
      deviceName: `dev${i % 50}`,
      gmtCreate: 1700000000000 + i,
      items: {
        Temperature: { value: 20 + (i % 20), time: 1700000000000 + i },
        Humidity: { value: 40 + (i % 30), time: 1700000000000 + i },
      },
    }),
  },
  {
    label: 'five functions',
    topic: [`/${PK}/`, '/user/update'],
    ours:
      `SELECT upper(name) AS n, abs(delta) AS d, concat(name, '-x') AS c, floor(temperature) AS f, power(temperature, 2) AS p ` +
      `FROM "/${PK}/+/user/update" WHERE temperature > 30`,
    alasql:
      "SELECT UPPER(name) AS n, ABS(delta) AS d, CONCAT(name, '-x') AS c, FLOOR(temperature) AS f, POWER(temperature, 2) AS p " +
      'FROM ? WHERE temperature > 30',
    make: (i) => ({ name: `dev${i % 50}`, delta: (i % 7) - 3, temperature: 20.5 + (i % 20) }),
  },
  {
    label: 'LIKE / IN / CASE',
    topic: [`/${PK}/`, '/user/update'],
    ours:
      "SELECT CASE status WHEN 1 THEN 'on' WHEN 2 THEN 'standby' ELSE 'off' END AS s, name " +
      `FROM "/${PK}/+/user/update" WHERE name LIKE 'dev%' AND region IN ('cn-shanghai', 'cn-beijing')`,
    alasql:
      "SELECT CASE status WHEN 1 THEN 'on' WHEN 2 THEN 'standby' ELSE 'off' END AS s, name " +
      "FROM ? WHERE name LIKE 'dev%' AND region IN ('cn-shanghai', 'cn-beijing')",
    make: (i) => ({ name: i % 3 ? `dev${i}` : `gw${i}`, status: i % 3, region: i % 2 ? 'cn-shanghai' : 'cn-hangzhou' }),
  },
  {
    label: 'deviceName() / topic(n) in SELECT',
    topic: [`/${PK}/`, '/user/update'],
    ours: `SELECT deviceName() AS dn, topic(1) AS pk, temperature AS t FROM "/${PK}/+/user/update" WHERE temperature > 30`,
    alasql: 'SELECT level(?, 2) AS dn, level(?, 1) AS pk, temperature AS t FROM ? WHERE temperature > 30',
    alasqlTopic: 2,
    make: (i) => ({ temperature: 20 + (i % 20), humidity: 40 + (i % 30) }),
  },
  {
    label: 'TSL items on /sys property post',
    topic: [`/sys/${PK}/`, '/thing/event/property/post'],
    ours:
      `SELECT deviceName() AS dn, items.Temperature.value AS t, items.Temperature.time AS at FROM "/sys/${PK}/+/thing/event/property/post" ` +
      'WHERE items.Temperature.value > 30 AND items.Humidity.value < 60',
    alasql:
      'SELECT level(?, 3) AS dn, items->Temperature->[value] AS t, items->Temperature->[time] AS at FROM ? ' +
      'WHERE items->Temperature->[value] > 30 AND items->Humidity->[value] < 60',
    alasqlTopic: 1,
    make: (i) => ({
      productKey: PK,
      deviceName: `dev${i % 50}`,
      gmtCreate: 1700000000000 + i,
      items: {
        Temperature: { value: 20 + (i % 20), time: 1700000000000 + i },
        Humidity: { value: 40 + (i % 30), time: 1700000000000 + i },
      },
    }),
  },
];

export async function benchSql(): Promise<Verdict[]> {
  console.log('\nRule SQL evaluation — ours ÷ alasql.compile (same messages, same process, a new topic string per message ' +
    `over ${DEVICES.toLocaleString('en')} devices; target ≥ 3×)`);
  const verdicts: Verdict[] = [];
  for (const c of cases) {
    const topicOf = topicMaker(c.topic);
    const messages = Array.from({ length: 1000 }, (_, i) => c.make(i));
    const rule = compileRule(c.ours);
    // alasql.compile exists at run time but is missing from its type declarations.
    const query = (alasql as unknown as { compile(sql: string): (params: unknown[]) => unknown[] }).compile(c.alasql);
    // Sanity: both sides must agree on what passes, or the comparison is meaningless.
    const params = (t: string, m: unknown): unknown[] => {
      const p: unknown[] = [];
      for (let k = 0; k < (c.alasqlTopic ?? 0); k++) p.push(t);
      p.push([m]);
      return p;
    };
    const run = (i: number) => query(params(topicOf(i), messages[i]));
    const oursOut = messages.map((m, i) => rule.evaluate({ topic: topicOf(i), payload: m }));
    const baseOut = messages.map((_, i) => run(i));
    const oursPass = oursOut.filter((r) => r.outcome === 'output').length;
    const basePass = baseOut.filter((rows) => rows.length > 0).length;
    const differs = oursOut.findIndex((r, i) => r.outcome === 'output' && JSON.stringify(r.output) !== JSON.stringify(baseOut[i][0]));
    if (oursPass !== basePass) throw new Error(`${c.label}: ours passes ${oursPass}, alasql ${basePass} — queries are not equivalent`);
    if (differs >= 0) throw new Error(`${c.label}: message ${differs} gives different rows — queries are not equivalent`);
    const oursSide = {
      name: 'ours',
      run(n: number) {
        let k = 0;
        for (let i = 0; i < n; i++) {
          const r = rule.evaluate({ topic: topicOf(i), payload: messages[i % messages.length] });
          if (r.outcome === 'output') k++;
        }
        return k;
      },
    };
    const baseSide = {
      name: 'alasql',
      run(n: number) {
        let k = 0;
        if (c.alasqlTopic === 2) {
          // One topic string per message, handed to both level() calls, as a user would pass msg.topic.
          for (let i = 0; i < n; i++) { const t = topicOf(i); k += query([t, t, [messages[i % messages.length]]]).length; }
        } else if (c.alasqlTopic === 1) {
          for (let i = 0; i < n; i++) k += query([topicOf(i), [messages[i % messages.length]]]).length;
        } else {
          // The topic is built here too (alasql does not read it): the broker hands both sides a new string.
          for (let i = 0; i < n; i++) { k += topicOf(i).length & 0; k += query([[messages[i % messages.length]]]).length; }
        }
        return k;
      },
    };
    verdicts.push(report(await compare(c.label, oursSide, baseSide, 20_000, 31), 3, 'ours', 'alasql'));
  }
  return verdicts;
}
