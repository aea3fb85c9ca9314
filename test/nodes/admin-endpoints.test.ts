// Every admin endpoint our nodes add (the editor's Test buttons) takes JSON only, so that a web page on another site
// cannot make the user's browser post to it (a browser sends a form or text/plain cross-site without asking, but not
// application/json). The routes are found in the admin app after loading every node of the package, so a route
// added later is covered without touching this test. Then the same against a real `node-red` with adminAuth on:
// no token and a read-only user are refused, a user with write permission gets through.
import assert from 'node:assert/strict';
import helper from 'node-red-node-test-helper';
import type { NodeAPI } from 'node-red';
import type { Express } from 'express';
import credentialsNode from '../../nodes/aliyun-credentials/aliyun-credentials';
import sqlRuleNode from '../../nodes/aliyun-iot-sql-rule/aliyun-iot-sql-rule';
import brokerNode from '../../nodes/aliyun-iot-broker/aliyun-iot-broker';
import deviceInNode from '../../nodes/aliyun-iot-device-in/aliyun-iot-device-in';
import deviceOutNode from '../../nodes/aliyun-iot-device-out/aliyun-iot-device-out';
import queueInNode from '../../nodes/aliyun-mns-queue-in/aliyun-mns-queue-in';
import topicOutNode from '../../nodes/aliyun-mns-topic-out/aliyun-mns-topic-out';
import { isJsonContentType } from '../../lib/admin-request';
import { startNodeRed, type RedProcess } from '../support/red-process';

helper.init(require.resolve('node-red'));

/** A valid request for each endpoint (JSON). */
const bodies: Record<string, object> = {
  'aliyun-iot-sql-rule/test': { sql: 'SELECT a FROM "/a/b/c"', topic: '/a/b/c', payload: '{"a":1}' },
  'aliyun-credentials/test': { mode: 'accessKey', accessKeyId: 'LTAI5tAbcdefgh', accessKeySecret: 'x-secret-1234' },
};

const ALL_NODES: Array<(RED: NodeAPI) => void> = [credentialsNode, sqlRuleNode, brokerNode, deviceInNode, deviceOutNode, queueInNode, topicOutNode];

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
}

/** Our routes in the helper's admin app: every non-GET route whose path starts with one of our node types. */
function ourRoutes(): Array<{ method: string; path: string }> {
  const app = (helper as unknown as { _httpAdmin: Express & { _router: { stack: Layer[] } } })._httpAdmin;
  const out: Array<{ method: string; path: string }> = [];
  for (const layer of app._router.stack) {
    if (!layer.route || !/^\/aliyun-/.test(layer.route.path)) continue;
    for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== 'get' && method !== '_all') out.push({ method, path: layer.route.path });
  }
  return out;
}

/** Bodies a cross-site page (or a careless client) can send, none of them JSON. */
const NOT_JSON: Array<{ name: string; type?: string; body: string }> = [
  { name: 'a form (application/x-www-form-urlencoded)', type: 'application/x-www-form-urlencoded', body: 'sql=SELECT%20*%20FROM%20%22%2Fa%2Fb%2Fc%22&topic=%2Fa%2Fb%2Fc&mode=ramRole' },
  { name: 'text/plain holding JSON', type: 'text/plain', body: '{"sql":"SELECT * FROM \\"/a/b/c\\"","topic":"/a/b/c","mode":"accessKey"}' },
  { name: 'text/plain with a charset', type: 'text/plain; charset=utf-8', body: '{"mode":"accessKey"}' },
  { name: 'multipart/form-data', type: 'multipart/form-data; boundary=XyZ', body: '--XyZ\r\nContent-Disposition: form-data; name="mode"\r\n\r\naccessKey\r\n--XyZ--\r\n' },
  { name: 'no Content-Type at all', body: '{"mode":"accessKey"}' },
  { name: 'a look-alike media type', type: 'application/jsonx', body: '{"mode":"accessKey"}' },
];

describe('admin endpoints take JSON only', function () {
  afterEach(async function () {
    await helper.unload();
  });

  it('the media type check: application/json with an optional charset, nothing else', function () {
    for (const ok of ['application/json', 'Application/JSON', 'application/json; charset=utf-8', 'application/json;charset="UTF-8"', 'application/json ;']) {
      assert.equal(isJsonContentType(ok), true, ok);
    }
    for (const bad of [undefined, '', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json-patch+json', 'text/json', 'application/json; boundary=x', 'application/json, text/plain', ['application/json']]) {
      assert.equal(isJsonContentType(bad), false, String(bad));
    }
  });

  it('every POST route of every node refuses non-JSON bodies with 415 and a JSON answer naming what to send', async function () {
    await helper.load(ALL_NODES, []);
    const routes = ourRoutes();
    assert.deepEqual(routes.map((r) => `${r.method} ${r.path}`).sort(), ['post /aliyun-credentials/test', 'post /aliyun-iot-sql-rule/test']);
    for (const { path } of routes) {
      for (const c of NOT_JSON) {
        const req = helper.request().post(path);
        if (c.type) req.set('Content-Type', c.type);
        const res = await req.send(c.body);
        assert.equal(res.status, 415, `${path} with ${c.name}: ${res.text}`);
        assert.match(String(res.headers['content-type']), /^application\/json/);
        assert.equal(res.body.ok, false);
        assert.match(res.body.message, /Content-Type: application\/json/);
        assert.equal(res.body.error.message, res.body.message, 'the SQL editor reads error.message');
      }
      // The same request as JSON is taken (whatever it then answers, it is not refused for its type).
      const json = await helper.request().post(path).set('Content-Type', 'application/json; charset=utf-8').send('{"mode":"accessKey","accessKeyId":"LTAI5tAbcdefgh","accessKeySecret":"x-secret-1234","sql":"SELECT a FROM \\"/a/b/c\\"","topic":"/a/b/c","payload":"{}"}');
      assert.notEqual(json.status, 415, `${path}: ${json.text}`);
      assert.equal(json.body.ok, true, `${path}: ${json.text}`);
    }
  });

  it('a form POST never runs the SQL engine or the credentials test', async function () {
    // A rule that would not compile: if the form reached the engine, the answer would be its SQL error, not 415.
    await helper.load(ALL_NODES, []);
    const sql = await helper.request().post('/aliyun-iot-sql-rule/test').type('form').send({ sql: 'SELECT FROM', topic: '/a/b/c' });
    assert.equal(sql.status, 415);
    assert.equal(sql.body.error.line, undefined);
    const creds = await helper.request().post('/aliyun-credentials/test').type('form').send({ mode: 'accessKey', accessKeyId: 'bad id', accessKeySecret: 'x' });
    assert.equal(creds.status, 415);
    assert.equal(creds.body.field, undefined, 'the request was not validated, so not run');
  });
});

describe('admin endpoints in a real node-red with adminAuth', function () {
  this.timeout(120_000);
  let red: RedProcess | undefined;
  before(async function () {
    // bcryptjs comes with node-red; adminAuth wants bcrypt hashes.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const bcrypt = require('bcryptjs') as { hashSync(s: string, rounds: number): string };
    red = await startNodeRed({
      install: 'link',
      settings: {
        adminAuth: {
          type: 'credentials',
          users: [
            { username: 'admin', password: bcrypt.hashSync('admin-pass-1', 8), permissions: '*' },
            { username: 'viewer', password: bcrypt.hashSync('viewer-pass-1', 8), permissions: 'read' },
          ],
        },
      },
    });
  });
  after(async function () {
    await red?.stop();
  });

  async function token(username: string, password: string, scope: string): Promise<string> {
    const res = await red!.request<{ access_token?: string }>('POST', 'auth/token', { client_id: 'node-red-admin', grant_type: 'password', scope, username, password });
    assert.equal(res.status, 200, res.text);
    assert.ok(res.body.access_token);
    return res.body.access_token;
  }

  it('no token and a read-only user are refused; a writer gets through, and only with JSON', async function () {
    const admin = await token('admin', 'admin-pass-1', '*');
    const viewer = await token('viewer', 'viewer-pass-1', 'read');
    for (const [path, body] of Object.entries(bodies)) {
      const none = await red!.request('POST', path, body);
      assert.equal(none.status, 401, `${path} without a token: ${none.text}`);
      const readOnly = await red!.request('POST', path, body, { authorization: `Bearer ${viewer}` });
      assert.ok(readOnly.status === 401 || readOnly.status === 403, `${path} as a read-only user: ${readOnly.status} ${readOnly.text}`);
      const ok = await red!.request<{ ok: boolean }>('POST', path, body, { authorization: `Bearer ${admin}` });
      assert.equal(ok.status, 200, `${path} as admin: ${ok.text}`);
      assert.equal(ok.body.ok, true, ok.text);
      const form = await red!.request('POST', path, body, { authorization: `Bearer ${admin}`, 'content-type': 'application/x-www-form-urlencoded' });
      assert.equal(form.status, 415, `${path} as admin, sent as a form: ${form.text}`);
    }
  });
});

describe('admin endpoints in a real node-red without adminAuth (the default)', function () {
  this.timeout(120_000);
  let red: RedProcess | undefined;
  before(async function () {
    red = await startNodeRed({ install: 'link' });
  });
  after(async function () {
    await red?.stop();
  });

  /** A POST as a cross-site HTML form or a `fetch` with mode no-cors would send it: no JSON type, no preflight. */
  function crossSite(path: string, type: string, body: string): Promise<{ status: number; text: string }> {
    return fetch(new URL(path, red!.url), { method: 'POST', headers: { 'content-type': type, origin: 'https://evil.example' }, body }).then(async (r) => ({ status: r.status, text: await r.text() }));
  }

  it('a cross-site form or text/plain POST is refused with 415 (Node-RED parses forms, we refuse them)', async function () {
    for (const path of Object.keys(bodies)) {
      for (const [type, body] of [
        ['application/x-www-form-urlencoded', 'sql=SELECT+a+FROM+%22%2Fa%2Fb%2Fc%22&topic=%2Fa%2Fb%2Fc&mode=accessKey'],
        ['text/plain', JSON.stringify(bodies[path])],
      ] as const) {
        const res = await crossSite(path, type, body);
        assert.equal(res.status, 415, `${path} ${type}: ${res.text}`);
        assert.match(res.text, /Content-Type: application\/json/);
      }
      const same = await red!.request<{ ok: boolean }>('POST', path, bodies[path]);
      assert.equal(same.status, 200, same.text);
    }
  });
});
