// The editor's Test button: POST aliyun-iot-sql-rule/test on the admin app, with the runtime's engine.
import assert from 'node:assert/strict';
import helper from 'node-red-node-test-helper';
import type { NodeAPI } from 'node-red';
import type { NextFunction, Request, Response } from 'express';
import { PK, PROPERTY_TOPIC, alinkPost, sqlRuleNode } from './support';

helper.init(require.resolve('node-red'));

const URL = '/aliyun-iot-sql-rule/test';
const SQL = `SELECT deviceName() AS deviceName, items.temperature.value AS temperature, attribute('site') AS site
FROM "/sys/${PK}/+/thing/event/property/post" WHERE items.temperature.value > 35`;

describe('aliyun-iot-sql-rule test endpoint', function () {
  beforeEach(async function () {
    // Loading the module registers the admin route; an empty flow is enough.
    await helper.load(sqlRuleNode, []);
  });
  afterEach(async function () {
    await helper.unload();
  });

  it('is guarded by RED.auth.needsPermission(aliyun-iot-sql-rule.write)', async function () {
    await helper.unload();
    // A runtime whose permission check admits only requests carrying a token, as Node-RED's does with adminAuth.
    const asked: string[] = [];
    const guarded = (RED: NodeAPI): void => {
      const red = Object.create(RED) as NodeAPI;
      Object.defineProperty(red, 'auth', {
        value: {
          needsPermission: (permission: string) => {
            asked.push(permission);
            return (req: Request, res: Response, next: NextFunction) => {
              if (req.get('authorization') === 'Bearer good') next();
              else res.status(401).json({ error: 'unauthorized' });
            };
          },
        },
      });
      sqlRuleNode(red);
    };
    await helper.load(guarded, []);
    assert.deepEqual(asked, ['aliyun-iot-sql-rule.write']);
    const body = { sql: SQL, topic: PROPERTY_TOPIC, payload: JSON.stringify(alinkPost({ temperature: 40 })) };
    await helper.request().post(URL).send(body).expect(401);
    const ok = await helper.request().post(URL).set('Authorization', 'Bearer good').send(body).expect(200);
    assert.equal(ok.body.outcome, 'output');
  });

  it('evaluates a good rule on a raw Alink post, with the dialog tags', async function () {
    const res = await helper.request().post(URL).send({
      sql: SQL,
      topic: PROPERTY_TOPIC,
      payload: JSON.stringify(alinkPost({ temperature: { value: 38.5, time: 1700000000000 } })),
      tags: { site: 'Hangzhou' },
    }).expect(200);
    assert.deepEqual(res.body, { ok: true, outcome: 'output', output: { deviceName: 'dev01', temperature: 38.5, site: 'Hangzhou' } });
  });

  it('reports filtered, no-match and dropped outcomes with the reason', async function () {
    const filtered = await helper.request().post(URL)
      .send({ sql: SQL, topic: PROPERTY_TOPIC, payload: JSON.stringify(alinkPost({ temperature: 20 })) }).expect(200);
    assert.equal(filtered.body.ok, true);
    assert.equal(filtered.body.outcome, 'filtered');
    assert.equal(filtered.body.output, undefined);

    const other = await helper.request().post(URL).send({ sql: SQL, topic: `/${PK}/dev01/user/x`, payload: '{}' }).expect(200);
    assert.equal(other.body.outcome, 'no-match');

    const dropped = await helper.request().post(URL)
      .send({ sql: `SELECT a FROM "/${PK}/+/user/x"`, topic: `/${PK}/dev01/user/x`, payload: 'a=1' }).expect(200);
    assert.equal(dropped.body.outcome, 'dropped');
    assert.equal(typeof dropped.body.reason, 'string');
    assert.ok(dropped.body.reason.length > 0);
  });

  it('returns binary output as base64 and hex (payload given as hex)', async function () {
    const res = await helper.request().post(URL).send({
      sql: `SELECT * FROM "/${PK}/+/user/raw"`,
      dataType: 'BINARY',
      topic: `/${PK}/dev01/user/raw`,
      payload: '01 00 ff 2a',
      payloadEncoding: 'hex',
    }).expect(200);
    assert.deepEqual(res.body, {
      ok: true,
      outcome: 'output',
      output: { type: 'binary', length: 4, base64: Buffer.from([1, 0, 255, 42]).toString('base64'), hex: '0100ff2a' },
    });
  });

  it('gives the line and column of an SQL error', async function () {
    const res = await helper.request().post(URL)
      .send({ sql: `SELECT a\nFROM "/${PK}/+/user/x"\nWHERE devicename() = 'x'`, topic: `/${PK}/dev01/user/x`, payload: '{}' })
      .expect(200);
    assert.equal(res.body.ok, false);
    assert.equal(res.body.error.line, 3);
    assert.equal(res.body.error.column, 7);
    assert.match(res.body.error.message, /devicename/);
  });

  it('applies the dialog strict option', async function () {
    const body = { sql: `SELECT a FROM "/${PK}/+/user/x" WHERE a != 1`, topic: `/${PK}/dev01/user/x`, payload: '{"a":2}' };
    const loose = await helper.request().post(URL).send(body).expect(200);
    assert.deepEqual(loose.body, { ok: true, outcome: 'output', output: { a: 2 } });
    const strict = await helper.request().post(URL).send({ ...body, strict: true }).expect(200);
    assert.equal(strict.body.ok, false);
    assert.equal(strict.body.error.column, body.sql.indexOf('!=') + 1);
  });

  it('answers 400 with a clear message for a bad request', async function () {
    const cases: Array<[unknown, RegExp]> = [
      [{ topic: PROPERTY_TOPIC, payload: '{}' }, /'sql' is required/],
      [{ sql: SQL, payload: '{}' }, /'topic' is required/],
      [{ sql: SQL, topic: PROPERTY_TOPIC, dataType: 'XML' }, /'dataType' must be JSON or BINARY/],
      [{ sql: SQL, topic: PROPERTY_TOPIC, timezone: 'Nowhere/Land' }, /Nowhere\/Land/],
      [{ sql: SQL, topic: PROPERTY_TOPIC, payload: 'zz', payloadEncoding: 'hex' }, /not hex/],
      [{ sql: SQL, topic: PROPERTY_TOPIC, payload: { a: 1 } }, /'payload' must be text/],
      [{ sql: SQL, topic: PROPERTY_TOPIC, tags: 'site=1' }, /'tags'/],
      [[1, 2], /JSON object/],
    ];
    for (const [body, re] of cases) {
      const res = await helper.request().post(URL).send(body as object).expect(400);
      assert.equal(res.body.ok, false);
      assert.match(res.body.error.message, re, JSON.stringify(body));
    }
  });

  it('refuses oversized SQL and payloads with 413', async function () {
    const big = await helper.request().post(URL)
      .send({ sql: SQL, topic: PROPERTY_TOPIC, payload: 'x'.repeat(300 * 1024) }).expect(413);
    assert.match(big.body.error.message, /'payload' is longer than/);
    const longSql = await helper.request().post(URL)
      .send({ sql: `SELECT a FROM "/x/+/user/y" WHERE a = '${'y'.repeat(70 * 1024)}'`, topic: '/x/d/user/y' }).expect(413);
    assert.match(longSql.body.error.message, /'sql' is longer than/);
  });
});
