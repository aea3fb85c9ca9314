// Verifying MNS HTTP pushes (spec §3.4, §15.2) with the pushes the local MNS really sends (it signs with its own
// certificate, trusted here as the operator would in settings.js), and forged variants of them.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PushVerifier, type PushRequest } from '../../lib/mns';
import { startLocalMns, type LocalMns } from './support';

describe('lib/mns PushVerifier', function () {
  let local: LocalMns;
  let server: http.Server;
  let pushes: PushRequest[];
  let waiters: Array<() => void>;
  let mnsHost: string;

  beforeEach(async function () {
    local = await startLocalMns();
    mnsHost = new URL(local.mns.url).host;
    pushes = [];
    waiters = [];
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        pushes.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(204).end();
        for (const w of waiters.splice(0)) w();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    for (const format of ['XML', 'JSON', 'SIMPLIFIED'] as const) {
      local.mns.subscribe('telemetry', `to-http-${format.toLowerCase()}`, { endpoint: `http://127.0.0.1:${port}/push/${format.toLowerCase()}`, notifyContentFormat: format });
    }
  });
  afterEach(async function () {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await local.mns.stop();
  });

  async function threePushes(body: string, tag?: string): Promise<Record<string, PushRequest>> {
    local.mns.publish('telemetry', body, tag);
    while (pushes.length < 3) await new Promise<void>((resolve) => waiters.push(resolve));
    return Object.fromEntries(pushes.map((p) => [p.url.split('/').pop() as string, p]));
  }

  it('accepts the real pushes in XML, JSON and SIMPLIFIED and unwraps each to the published message', async function () {
    const body = '{"temp":21.5,"note":"a<b & c"}';
    const got = await threePushes(body, 'hot');
    let fetched = 0;
    const verifier = new PushVerifier({ trustedCertHosts: [mnsHost], fetchCert: async (url) => {
      fetched++;
      return new Promise((resolve, reject) => http.get(url, (res) => {
        let t = '';
        res.on('data', (c: Buffer) => (t += c.toString()));
        res.on('end', () => resolve(t));
      }).on('error', reject));
    } });
    for (const [format, envelope] of [['xml', 'xml-notification'], ['json', 'json-notification'], ['simplified', 'plain']] as const) {
      const v = await verifier.verify(got[format]);
      assert.ok(v.ok, `${format}: ${v.ok ? '' : v.reason}`);
      assert.equal(v.unwrapped.envelope, envelope);
      assert.equal(v.unwrapped.message, body);
      if (format !== 'simplified') assert.equal(v.unwrapped.notification?.messageTag, 'hot');
    }
    assert.equal(fetched, 1, 'the certificate is fetched once and cached');
  });

  it('refuses forged, unsigned, late and untrusted-certificate requests with 403, and bad bodies with 400', async function () {
    const got = await threePushes('{"t":1}');
    const xml = got.xml;
    let fetched = 0;
    const verifier = new PushVerifier({ trustedCertHosts: [mnsHost], fetchCert: async (url) => {
      fetched++;
      return new Promise((resolve, reject) => http.get(url, (res) => {
        let t = '';
        res.on('data', (c: Buffer) => (t += c.toString()));
        res.on('end', () => resolve(t));
      }).on('error', reject));
    } });
    const refused = async (r: PushRequest, status: number, reason: RegExp, v = verifier): Promise<void> => {
      const verdict = await v.verify(r);
      assert.ok(!verdict.ok, `must be refused: ${reason}`);
      assert.equal(verdict.status, status);
      assert.match(verdict.reason, reason);
    };
    const b64 = (s: string): string => Buffer.from(s).toString('base64');
    await refused({ ...xml, headers: { ...xml.headers, 'x-mns-request-id': 'FORGED' } }, 403, /signature does not match/);
    await refused({ ...xml, headers: { ...xml.headers, date: new Date(Date.parse(String(xml.headers.date)) - 60_000).toUTCString() } }, 403, /signature does not match/);
    await refused({ ...xml, url: '/push/other' }, 403, /signature does not match/);
    await refused({ ...xml, headers: { ...xml.headers, authorization: undefined } }, 403, /unsigned/);
    await refused({ ...xml, headers: { ...xml.headers, 'x-mns-signing-cert-url': b64('https://evil.example.com/x509_public_certificate.pem') } }, 403, /not an Alibaba Cloud MNS certificate host/);
    await refused({ ...xml, headers: { ...xml.headers, 'x-mns-signing-cert-url': b64('http://mnstest.oss-cn-hangzhou.aliyuncs.com/x509_public_certificate.pem') } }, 403, /over HTTPS/);
    await refused({ ...xml, headers: { ...xml.headers, 'x-mns-signing-cert-url': b64('https://mnstest.oss-cn-hangzhou.aliyuncs.com.evil.com/c.pem') } }, 403, /not an Alibaba/);
    const late = new PushVerifier({ trustedCertHosts: [mnsHost], now: () => Date.now() + 16 * 60_000 });
    await refused(xml, 403, /more than 15 minutes/, late);
    // Without the local MNS in the trusted hosts (the default), its certificate is refused.
    await refused(xml, 403, /over HTTPS/, new PushVerifier());
    assert.equal(fetched, 1, 'no certificate fetched for refused hosts');
    // A push whose signature holds but whose body is no notification, or too large: 400. (Without a Content-MD5,
    // which the local MNS does not send, MNS's push signature does not cover the body.)
    await refused({ ...xml, body: Buffer.from('garbage') }, 400, /not an MNS notification/);
    await refused({ ...xml, body: Buffer.alloc(7 * 64 * 1024, 0x61) }, 400, /over the MNS limit/);
    await refused({ ...got.simplified, headers: { ...got.simplified.headers, 'x-mns-message-id': undefined } }, 403, /signature does not match/);
    assert.ok(new PushVerifier().certUrlProblem('https://mns-cert.oss-cn-shanghai.aliyuncs.com/x509_public_certificate.pem') === undefined);
  });
});
