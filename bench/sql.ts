// Rule SQL evaluation: our compiled rules against alasql running the equivalent query, same messages, same run.
import alasql from 'alasql';
import { compileRule } from '../lib/sql';
import { compare, report, type Verdict } from './measure';

interface Case {
  label: string;
  topic: string;
  ours: string;
  alasql: string;
  make(i: number): Record<string, unknown>;
}

const PK = 'a1B2c3D4e5F';

const cases: Case[] = [
  {
    label: 'filter + projection',
    topic: `/${PK}/dev01/user/update`,
    ours: `SELECT temperature AS t, humidity AS h, deviceId FROM "/${PK}/+/user/update" WHERE temperature > 30`,
    alasql: 'SELECT temperature AS t, humidity AS h, deviceId FROM ? WHERE temperature > 30',
    make: (i) => ({ deviceId: `dev${i % 50}`, temperature: 20 + (i % 20), humidity: 40 + (i % 30), firmware: '1.2.3' }),
  },
  {
    label: 'nested TSL items path',
    topic: `/sys/${PK}/dev01/thing/event/property/post`,
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
    topic: `/${PK}/dev01/user/update`,
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
    topic: `/${PK}/dev01/user/update`,
    ours:
      "SELECT CASE status WHEN 1 THEN 'on' WHEN 2 THEN 'standby' ELSE 'off' END AS s, name " +
      `FROM "/${PK}/+/user/update" WHERE name LIKE 'dev%' AND region IN ('cn-shanghai', 'cn-beijing')`,
    alasql:
      "SELECT CASE status WHEN 1 THEN 'on' WHEN 2 THEN 'standby' ELSE 'off' END AS s, name " +
      "FROM ? WHERE name LIKE 'dev%' AND region IN ('cn-shanghai', 'cn-beijing')",
    make: (i) => ({ name: i % 3 ? `dev${i}` : `gw${i}`, status: i % 3, region: i % 2 ? 'cn-shanghai' : 'cn-hangzhou' }),
  },
];

export async function benchSql(): Promise<Verdict[]> {
  console.log('\nRule SQL evaluation — ours ÷ alasql.compile (same messages, same process; target ≥ 3×)');
  const verdicts: Verdict[] = [];
  for (const c of cases) {
    const messages = Array.from({ length: 1000 }, (_, i) => c.make(i));
    const rule = compileRule(c.ours);
    // alasql.compile exists at run time but is missing from its type declarations.
    const query = (alasql as unknown as { compile(sql: string): (params: unknown[]) => unknown[] }).compile(c.alasql);
    // Sanity: both sides must agree on what passes, or the comparison is meaningless.
    const oursPass = messages.filter((m) => rule.evaluate({ topic: c.topic, payload: m }).outcome === 'output').length;
    const basePass = messages.filter((m) => query([[m]]).length > 0).length;
    if (oursPass !== basePass) throw new Error(`${c.label}: ours passes ${oursPass}, alasql ${basePass} — queries are not equivalent`);
    const oursSide = {
      name: 'ours',
      run(n: number) {
        let k = 0;
        for (let i = 0; i < n; i++) {
          const r = rule.evaluate({ topic: c.topic, payload: messages[i % messages.length] });
          if (r.outcome === 'output') k++;
        }
        return k;
      },
    };
    const baseSide = {
      name: 'alasql',
      run(n: number) {
        let k = 0;
        for (let i = 0; i < n; i++) k += query([[messages[i % messages.length]]]).length;
        return k;
      },
    };
    verdicts.push(report(await compare(c.label, oursSide, baseSide, 100_000), 3, 'ours', 'alasql'));
  }
  return verdicts;
}
