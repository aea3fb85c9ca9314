// Runtime behaviour of the aliyun-iot-sql-rule node in a real Node-RED runtime (node-red-node-test-helper).
import assert from 'node:assert/strict';
import helper from 'node-red-node-test-helper';
import type { Node } from 'node-red';
import {
  PK,
  PROPERTY_TOPIC,
  alinkPost,
  collect,
  sqlRuleNode,
  sqlRuleWithCatalog,
  statusCalls,
  useManualStatusClock,
  waitForStatus,
  type StatusArg,
} from './support';

helper.init(require.resolve('node-red'));

const HOT_SQL = `SELECT deviceName() AS deviceName, items.temperature.value AS temperature, messageId() AS mid
FROM "/sys/${PK}/+/thing/event/property/post"
WHERE items.temperature.value > 35`;

interface RuleProps {
  sql: string;
  name?: string;
  dataType?: string;
  timezone?: string;
  tags?: Array<{ key: string; value: string }>;
  nonMatching?: 'drop' | 'output';
}

/** A tab with the rule, helper nodes on its outputs, and a Catch node feeding a third helper. */
function flow(props: RuleProps): helper.TestFlows {
  const two = props.nonMatching === 'output';
  const nodes: Record<string, unknown>[] = [
    { id: 'tab', type: 'tab', label: 'test' },
    {
      id: 'rule',
      type: 'aliyun-iot-sql-rule',
      z: 'tab',
      name: props.name ?? 'hot',
      sql: props.sql,
      dataType: props.dataType ?? 'JSON',
      timezone: props.timezone ?? 'Asia/Shanghai',
      strict: false,
      tags: props.tags ?? [],
      nonMatching: props.nonMatching ?? 'drop',
      outputs: two ? 2 : 1,
      wires: two ? [['out1'], ['out2']] : [['out1']],
    },
    { id: 'out1', type: 'helper', z: 'tab' },
    { id: 'out2', type: 'helper', z: 'tab' },
    { id: 'catcher', type: 'catch', z: 'tab', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper', z: 'tab' },
  ];
  // Nodes without x/y would be taken for config nodes by the runtime.
  return nodes.map((n, i) => (n.type === 'tab' ? n : { x: 100, y: 40 * i, ...n })) as helper.TestFlows;
}

interface OutMsg {
  payload: unknown;
  topic?: string;
  rule?: { name: string; outcome: string; reason?: string };
  iot?: unknown;
  error?: { message: string; source: { id: string } };
  _msgid: string;
}

const hotPost = (t: number): Record<string, unknown> => alinkPost({ temperature: { value: t, time: 1700000000000 } });

describe('aliyun-iot-sql-rule node', function () {
  afterEach(async function () {
    await helper.unload();
  });

  it('sends the rule output with msg.rule, keeping msg.iot and msg.topic', async function () {
    await helper.load(sqlRuleWithCatalog, flow({ sql: HOT_SQL }));
    const rule = helper.getNode('rule');
    const out = collect<OutMsg>(helper.getNode('out1'), 1);
    const iot = {
      productKey: PK,
      deviceName: 'dev01',
      topic: PROPERTY_TOPIC,
      messageId: '1723456789012345678',
      raw: Buffer.from(JSON.stringify(hotPost(38.5))),
    };
    rule.receive({ topic: PROPERTY_TOPIC, payload: hotPost(38.5), iot } as never);
    const [msg] = await out;
    assert.deepEqual(msg.payload, { deviceName: 'dev01', temperature: 38.5, mid: '1723456789012345678' });
    assert.deepEqual(msg.rule, { name: 'hot', outcome: 'output' });
    assert.equal(msg.topic, PROPERTY_TOPIC);
    assert.deepEqual(msg.iot, iot);
  });

  it('derives deviceName from the topic and uses msg._msgid as messageId() without msg.iot', async function () {
    await helper.load(sqlRuleWithCatalog, flow({ sql: HOT_SQL, name: '' }));
    const out = collect<OutMsg>(helper.getNode('out1'), 1);
    helper.getNode('rule').receive({ topic: `/sys/${PK}/oven7/thing/event/property/post`, payload: JSON.stringify(hotPost(99)) } as never);
    const [msg] = await out;
    assert.equal((msg.payload as Record<string, unknown>).deviceName, 'oven7');
    assert.equal((msg.payload as Record<string, unknown>).mid, msg._msgid);
    assert.equal(msg.rule?.name, 'rule', 'an unnamed rule is named by its node id');
  });

  it('drops filtered messages when there is one output, and counts them', async function () {
    await helper.load(sqlRuleWithCatalog, flow({ sql: HOT_SQL }));
    const rule = helper.getNode('rule');
    const out = collect<OutMsg>(helper.getNode('out1'), 1);
    rule.receive({ topic: PROPERTY_TOPIC, payload: hotPost(20) } as never);
    rule.receive({ topic: PROPERTY_TOPIC, payload: hotPost(40) } as never);
    const [msg] = await out;
    assert.equal((msg.payload as Record<string, unknown>).temperature, 40, 'the cool message must not come out');
    await waitForStatus(rule, (s) => s.text === '1 matched · 1 filtered · 0 dropped');
  });

  it('sends filtered and no-match messages on the second output when configured', async function () {
    await helper.load(sqlRuleWithCatalog, flow({ sql: HOT_SQL, nonMatching: 'output' }));
    const rule = helper.getNode('rule');
    const other = collect<OutMsg>(helper.getNode('out2'), 2);
    const cool = hotPost(20);
    rule.receive({ topic: PROPERTY_TOPIC, payload: cool } as never);
    rule.receive({ topic: `/${PK}/dev01/user/update`, payload: { temperature: 50 } } as never);
    const [filtered, noMatch] = await other;
    assert.equal(filtered.rule?.outcome, 'filtered');
    assert.deepEqual(filtered.payload, cool, 'the original payload travels on output 2');
    assert.equal(noMatch.rule?.outcome, 'no-match');
    assert.equal(noMatch.topic, `/${PK}/dev01/user/update`);
    await waitForStatus(rule, (s) => s.text === '0 matched · 1 filtered · 1 other topic · 0 dropped');
  });

  it('counts messages of other topics when dropping them', async function () {
    await helper.load(sqlRuleWithCatalog, flow({ sql: HOT_SQL }));
    const rule = helper.getNode('rule');
    rule.receive({ topic: `/${PK}/dev01/user/update`, payload: { temperature: 50 } } as never);
    await waitForStatus(rule, (s) => s.text === '0 matched · 0 filtered · 1 other topic · 0 dropped');
  });

  it('reports a payload the rule cannot read to Catch nodes and counts it as dropped', async function () {
    await helper.load(sqlRuleWithCatalog, flow({ sql: `SELECT temperature FROM "/${PK}/+/user/update"` }));
    const rule = helper.getNode('rule');
    const caught = collect<OutMsg>(helper.getNode('caught'), 1);
    rule.receive({ topic: `/${PK}/dev01/user/update`, payload: Buffer.from('temperature=38') } as never);
    const [msg] = await caught;
    assert.match(msg.error?.message ?? '', /Message dropped by the SQL rule: \S/);
    assert.equal(msg.error?.source.id, 'rule');
    assert.equal(msg.rule?.outcome, 'dropped');
    assert.ok(msg.rule?.reason, 'the reason is given to the user');
    const s = await waitForStatus(rule, (st) => st.text === '0 matched · 0 filtered · 1 dropped');
    assert.equal(s.fill, 'yellow');
  });

  it('drops a message whose replace() would pass the bound like any other drop, and keeps working (issue 9)', async function () {
    await helper.load(sqlRuleWithCatalog, flow({ sql: `SELECT replace(s, 'a', 'aaaaa') AS x FROM "/${PK}/+/user/update"` }));
    const rule = helper.getNode('rule');
    const caught = collect<OutMsg>(helper.getNode('caught'), 1);
    rule.receive({ topic: `/${PK}/dev01/user/update`, payload: { s: 'a'.repeat(1_000_000) } } as never);
    const [msg] = await caught;
    assert.match(msg.error?.message ?? '', /Message dropped by the SQL rule: replace\(\) result would be 5,000,000 characters, more than the 4,194,304 allowed/);
    assert.equal(msg.rule?.outcome, 'dropped');
    const out = collect<OutMsg>(helper.getNode('out1'), 1);
    rule.receive({ topic: `/${PK}/dev01/user/update`, payload: { s: 'bab' } } as never);
    assert.deepEqual({ ...(await out)[0].payload as object }, { x: 'baaaaab' });
    await waitForStatus(rule, (st) => st.text === '1 matched · 0 filtered · 1 dropped');
  });

  it("refuses to start on the issue's nested replace() instead of stopping Node-RED", async function () {
    let e = "'aaaaaaaaaaaaaaaa'";
    for (let i = 0; i < 8; i++) e = `replace(${e},'a','aaaaaaaaaaaaaaaa')`;
    await helper.load(sqlRuleWithCatalog, flow({ sql: `SELECT ${e} AS x FROM "/a/b/c"` }));
    const rule = helper.getNode('rule');
    assert.deepEqual(statusCalls(rule)[0], { fill: 'red', shape: 'ring', text: 'SQL error at 1:32' });
  });

  it('refuses to start on invalid SQL: red status with the position, logged error, inputs end in error', async function () {
    await helper.load(sqlRuleWithCatalog, flow({ sql: `SELECT devicename() FROM "/${PK}/+/user/update"` }));
    const rule = helper.getNode('rule');
    const first = statusCalls(rule)[0];
    assert.deepEqual(first, { fill: 'red', shape: 'ring', text: 'SQL error at 1:8' });
    const errorSpy = rule.error as unknown as { args: unknown[][] };
    assert.equal(errorSpy.args.length, 1);
    assert.equal(String(errorSpy.args[0][0]),
      "SQL rule not started, invalid SQL: Unknown function 'devicename' at 1:8 — did you mean deviceName()?");
    const caught = collect<OutMsg>(helper.getNode('caught'), 1);
    rule.receive({ topic: `/${PK}/dev01/user/update`, payload: { a: 1 } } as never);
    const [msg] = await caught;
    assert.match(msg.error?.message ?? '', /invalid SQL: .*devicename/);
  });

  it('refuses to start with an unknown timezone', async function () {
    await helper.load(sqlRuleWithCatalog, flow({ sql: HOT_SQL, timezone: 'Mars/Olympus' }));
    const rule = helper.getNode('rule');
    assert.deepEqual(statusCalls(rule)[0], { fill: 'red', shape: 'ring', text: 'invalid configuration' });
    const caught = collect<OutMsg>(helper.getNode('caught'), 1);
    rule.receive({ topic: PROPERTY_TOPIC, payload: hotPost(40) } as never);
    assert.match((await caught)[0].error?.message ?? '', /Mars\/Olympus/);
  });

  it('ends a message without a topic in an error that says what is missing', async function () {
    await helper.load(sqlRuleWithCatalog, flow({ sql: HOT_SQL }));
    const caught = collect<OutMsg>(helper.getNode('caught'), 1);
    helper.getNode('rule').receive({ payload: hotPost(40) } as never);
    assert.match((await caught)[0].error?.message ?? '', /msg\.topic is missing/);
  });

  it('answers attribute() from the node tags, then msg.iot.tags', async function () {
    const sql = `SELECT attribute('location') AS location, attribute('floor') AS floor FROM "/${PK}/+/user/update"`;
    await helper.load(sqlRuleWithCatalog, flow({ sql, tags: [{ key: 'location', value: 'Xixi' }] }));
    const out = collect<OutMsg>(helper.getNode('out1'), 1);
    helper.getNode('rule').receive({
      topic: `/${PK}/dev01/user/update`,
      payload: { a: 1 },
      iot: { tags: { location: 'ignored', floor: '3' } },
    } as never);
    assert.deepEqual((await out)[0].payload, { location: 'Xixi', floor: '3' });
  });

  it('runs BINARY rules on bytes: SELECT * passes them, to_hex(*) reads msg.iot.raw for a parsed payload', async function () {
    await helper.load(sqlRuleWithCatalog, flow({ sql: `SELECT * FROM "/${PK}/+/user/raw"`, dataType: 'BINARY' }));
    const out = collect<OutMsg>(helper.getNode('out1'), 1);
    const bytes = Buffer.from([0x01, 0x00, 0xff, 0x2a]);
    helper.getNode('rule').receive({ topic: `/${PK}/dev01/user/raw`, payload: bytes } as never);
    const [msg] = await out;
    assert.ok(Buffer.isBuffer(msg.payload));
    assert.deepEqual(msg.payload, bytes);
    await helper.unload();

    await helper.load(sqlRuleWithCatalog, flow({ sql: `SELECT to_hex(*) AS hex FROM "/${PK}/+/user/raw"`, dataType: 'BINARY' }));
    const out2 = collect<OutMsg>(helper.getNode('out1'), 1);
    helper.getNode('rule').receive({
      topic: `/${PK}/dev01/user/raw`,
      payload: { parsed: true },
      iot: { raw: Buffer.from('{"parsed":true}') },
    } as never);
    assert.deepEqual((await out2)[0].payload, { hex: Buffer.from('{"parsed":true}').toString('hex') });
  });

  describe('status throttle (driven by a manual clock, no real waiting)', function () {
    let manual: ReturnType<typeof useManualStatusClock>;
    beforeEach(function () {
      manual = useManualStatusClock();
    });
    afterEach(function () {
      manual.restore();
    });
    const countTexts = (rule: Node): string[] => statusCalls(rule).map((s) => s.text ?? '').filter((x) => /matched/.test(x));

    it('draws the first count at once, coalesces the next ones for 250 ms, then shows the final counts', async function () {
      const { clock } = manual;
      await helper.load(sqlRuleWithCatalog, flow({ sql: HOT_SQL }));
      const rule = helper.getNode('rule');
      const out = collect<OutMsg>(helper.getNode('out1'), 5);
      rule.receive({ topic: PROPERTY_TOPIC, payload: hotPost(20) } as never);
      for (let i = 0; i < 5; i++) rule.receive({ topic: PROPERTY_TOPIC, payload: hotPost(40 + i) } as never);
      await out;
      assert.deepEqual(countTexts(rule), ['0 matched · 1 filtered · 0 dropped'], 'only the first change is drawn at once');
      assert.equal(clock.pending, 1, 'one redraw is waiting, not one per message');
      clock.advance(249);
      assert.equal(countTexts(rule).length, 1, 'nothing is drawn before 250 ms have passed');
      clock.advance(1);
      assert.deepEqual(countTexts(rule), ['0 matched · 1 filtered · 0 dropped', '5 matched · 1 filtered · 0 dropped']);
      assert.equal(statusCalls(rule).at(-1)?.fill, 'green');
      assert.equal(clock.pending, 0);
      // Long after the last drawing, a change is drawn at once again.
      clock.advance(10_000);
      const caught = collect<OutMsg>(helper.getNode('caught'), 1);
      rule.receive({ topic: PROPERTY_TOPIC, payload: 'not json' } as never);
      await caught;
      assert.deepEqual(countTexts(rule).at(-1), '5 matched · 1 filtered · 1 dropped');
      assert.equal(statusCalls(rule).at(-1)?.fill, 'yellow');
    });

    it('cancels a pending redraw on close: no status after unload', async function () {
      const { clock } = manual;
      await helper.load(sqlRuleWithCatalog, flow({ sql: HOT_SQL }));
      const rule = helper.getNode('rule');
      const out = collect<OutMsg>(helper.getNode('out1'), 3);
      for (let i = 0; i < 3; i++) rule.receive({ topic: PROPERTY_TOPIC, payload: hotPost(40 + i) } as never);
      await out;
      assert.deepEqual(countTexts(rule), ['1 matched · 0 filtered · 0 dropped']);
      assert.equal(clock.pending, 1, 'the last count is waiting for its redraw');
      // unload() restores the helper's spies first, so record later status calls on the instance itself.
      const late: StatusArg[] = [];
      (rule as unknown as { status: (s: StatusArg) => void }).status = (s: StatusArg) => {
        late.push(s);
      };
      await helper.unload();
      assert.equal(clock.pending, 0, 'close cancelled the pending redraw');
      clock.advance(1000);
      assert.deepEqual(late, [], 'a status was drawn after close');
    });
  });

  it('formats timestamp() in GMT+8 by default and in the configured timezone, at the time the message arrived', async function () {
    const sql = `SELECT timestamp('yyyy-MM-dd HH:mm') AS local, timestamp_utc('HH:mm') AS utc, timestamp() AS ms, gmtCreate,
      items.temperature.time AS t FROM "/sys/${PK}/+/thing/event/property/post"`;
    const receivedAt = Date.UTC(2018, 9, 25, 16, 0); // 2018-10-26 00:00 in Shanghai, 18:00 the day before in Berlin
    const send = async (timezone: string): Promise<Record<string, unknown>> => {
      await helper.load(sqlRuleWithCatalog, flow({ sql, timezone }));
      const out = collect<OutMsg>(helper.getNode('out1'), 1);
      helper.getNode('rule').receive({
        topic: PROPERTY_TOPIC, payload: alinkPost({ temperature: 21 }), iot: { receivedAt, topic: PROPERTY_TOPIC },
      } as never);
      const [msg] = await out;
      await helper.unload();
      return msg.payload as Record<string, unknown>;
    };
    const expected = { utc: '16:00', ms: receivedAt, gmtCreate: receivedAt, t: receivedAt };
    assert.deepEqual(await send(''), { local: '2018-10-26 00:00', ...expected }, 'an empty timezone means Asia/Shanghai');
    assert.deepEqual(await send('Asia/Shanghai'), { local: '2018-10-26 00:00', ...expected });
    assert.deepEqual(await send('Europe/Berlin'), { local: '2018-10-25 18:00', ...expected });
  });

  it('passes msg.iot.tsl to TSL parsing: event name and type, iotId', async function () {
    const sql = `SELECT identifier, name, type, iotId, value.level AS level FROM "/sys/${PK}/+/thing/event/+/post" WHERE type = 'alert'`;
    await helper.load(sqlRuleWithCatalog, flow({ sql, nonMatching: 'output' }));
    const rule = helper.getNode('rule');
    const out = collect<OutMsg>(helper.getNode('out1'), 1);
    const other = collect<OutMsg>(helper.getNode('out2'), 1);
    const topic = `/sys/${PK}/dev01/thing/event/overheat/post`;
    const payload = { id: '3', version: '1.0', method: 'thing.event.overheat.post', params: { value: { level: 3 }, time: 5 } };
    rule.receive({ topic, payload, iot: { tsl: { eventName: 'Overheat', eventType: 'alert', iotId: 'iot-7' } } } as never);
    rule.receive({ topic, payload } as never);
    assert.deepEqual((await out)[0].payload, { identifier: 'overheat', name: 'Overheat', type: 'alert', iotId: 'iot-7', level: 3 });
    assert.equal((await other)[0].rule?.outcome, 'filtered', 'without msg.iot.tsl the event type is unknown');
  });

  it('is registered by the default export alone (no catalog wrapper)', async function () {
    await helper.load(sqlRuleNode, flow({ sql: HOT_SQL }));
    const rule: Node = helper.getNode('rule');
    assert.equal(rule.type, 'aliyun-iot-sql-rule');
    assert.deepEqual(statusCalls(rule)[0], { fill: 'green', shape: 'ring', text: 'aliyun-iot-sql-rule.status.ready' });
  });
});
