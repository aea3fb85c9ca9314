import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { callRpc, PopError } from '../../lib/pop';
import { start, DEMO_ACCESS_KEY, DEMO_ROLE_ARN, type LocalCloud } from '../../emulators';

const caller = { accessKeyId: DEMO_ACCESS_KEY.accessKeyId, accessKeySecret: DEMO_ACCESS_KEY.accessKeySecret };

/** A raw server for answers no real service should give. */
async function oddServer(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

describe('lib/pop RPC caller', () => {
  let cloud: LocalCloud;
  before(async () => {
    cloud = await start({ sts: { httpsPort: null } });
  });
  after(async () => {
    await cloud.stop();
  });

  it('calls with form POST (default) and with GET; both are accepted by the local STS', async () => {
    for (const method of ['POST', 'GET'] as const) {
      const r = await callRpc<{ Credentials: { AccessKeyId: string } }>({
        endpoint: cloud.sts.url, action: 'AssumeRole', version: '2015-04-01', method, credentials: caller,
        params: { RoleArn: DEMO_ROLE_ARN, RoleSessionName: `via-${method}`, Policy: '{"Version":"1","Statement":[{"Effect":"Allow","Action":"mns:*","Resource":"*"}]}' },
      });
      assert.equal(r.status, 200);
      assert.match(r.body.Credentials.AccessKeyId, /^STS\./);
      assert.equal(cloud.sts.log.at(-1)?.method, method);
    }
  });

  it('refuses endpoints that are not http(s) URLs before sending anything', async () => {
    await assert.rejects(callRpc({ endpoint: 'sts.aliyuncs.com', action: 'X', version: '1', credentials: caller }), (e: unknown) => e instanceof PopError && e.code === 'InvalidEndpoint');
    await assert.rejects(callRpc({ endpoint: 'ftp://127.0.0.1', action: 'X', version: '1', credentials: caller }), (e: unknown) => e instanceof PopError && e.code === 'InvalidEndpoint');
  });

  it('turns a 200 that is not JSON, an oversized answer and a cut connection into typed errors', async () => {
    const srv = await oddServer((req, res) => {
      if (req.url?.startsWith('/html')) {
        res.writeHead(200, { 'Content-Type': 'text/html' });
        res.end('<html>captive portal</html>');
      } else if (req.url?.startsWith('/big')) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('"' + 'x'.repeat(1024 * 1024 + 10) + '"');
      } else {
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': '1000' });
        res.write('{"partial":');
        setImmediate(() => res.destroy());
      }
    });
    try {
      const call = (path: string) => callRpc({ endpoint: srv.url + path, action: 'X', version: '1', credentials: caller });
      await assert.rejects(call('/html'), (e: unknown) => e instanceof PopError && e.code === 'InvalidResponse' && e.status === 200 && !e.retryable);
      await assert.rejects(call('/big'), (e: unknown) => e instanceof PopError && e.code === 'InvalidResponse' && /larger than/.test(e.message));
      await assert.rejects(call('/cut'), (e: unknown) => e instanceof PopError && e.code === 'NetworkError' && e.retryable);
    } finally {
      await srv.close();
    }
  });

  it('keeps the security token out of the start of a non-JSON answer it quotes, even when the quote cuts the token', async () => {
    const token = 'CAIS+a/b=' + 'T'.repeat(200);
    const srv = await oddServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const encoded = body.split('&').find((kv) => kv.startsWith('SecurityToken='))?.slice('SecurityToken='.length) ?? '';
        res.writeHead(400, { 'Content-Type': 'text/plain' });
        // A gateway page echoing what it got: the token starts inside the quoted 80 characters and runs past them.
        res.end(req.url?.startsWith('/encoded') ? `Bad request from proxy, token=${encoded}` : `Bad request from proxy, token ${token}`);
      });
    });
    try {
      for (const path of ['/raw', '/encoded']) {
        await assert.rejects(
          callRpc({ endpoint: srv.url + path, action: 'X', version: '1', credentials: { ...caller, securityToken: token } }),
          (e: unknown) => {
            assert.ok(e instanceof PopError && e.code === 'InvalidResponse', String(e));
            assert.match(e.message, /Bad request from proxy/);
            assert.ok(!e.message.includes('TTTTTTTTTT') && !e.message.includes('CAIS'), `token leaked via ${path}: ${e.message}`);
            return true;
          },
        );
      }
    } finally {
      await srv.close();
    }
  });

  it("keeps a product's own error text: a failure answered as HTTP 200 with Code and ErrorMessage (IoT Pub)", async () => {
    const srv = await oddServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ RequestId: 'R-1', Success: false, Code: 'iot.messagebroker.InvalidFormattedTopicName', ErrorMessage: 'The topic name is invalid.' }));
    });
    try {
      await assert.rejects(
        callRpc({ endpoint: srv.url, action: 'Pub', version: '2018-01-20', credentials: caller }),
        (e: unknown) =>
          e instanceof PopError && e.code === 'iot.messagebroker.InvalidFormattedTopicName' && e.message === 'The topic name is invalid.' && e.requestId === 'R-1',
      );
    } finally {
      await srv.close();
    }
  });
});
