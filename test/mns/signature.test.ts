// The own PublishMessage call (lib/mns/publish.ts): its V2 signer against the spec's vectors M1–M8 (§4.2), and
// the strict reader of MNS answers.
import assert from 'node:assert/strict';
import { authorizationV2, canonicalizedMnsHeaders, contentMd5, signV2, stringToSign } from '../../lib/mns/signature';
import { parseFlatXml, publishStringToSign, publishXml, readPublishAnswer } from '../../lib/mns/publish';
import { MnsError } from '../../lib/mns';

const DATE_2015 = 'Thu, 09 Jul 2015 03:01:34 GMT';
const DATE_2025 = 'Tue, 03 Jun 2025 11:23:48 GMT';

describe('lib/mns signature V2 (spec §4.2 vectors)', function () {
  const vectors: Array<{ id: string; secret: string; parts: Parameters<typeof stringToSign>[0]; expected: string }> = [
    { id: 'M1', secret: 'TestAccessSecret', parts: { verb: 'GET', date: DATE_2015, headers: { 'x-mns-version': '2015-06-06' }, resource: '/MyQueue' }, expected: 'uwx3yeWoILzgmvesW0BQSgfM7b8=' },
    {
      id: 'M2',
      secret: 'accessKeySecret111',
      parts: { verb: 'PUT', contentType: 'text/xml;charset=UTF-8', date: DATE_2025, headers: { 'x-mns-version': '2015-06-06' }, resource: '/queues/TestQueue' },
      expected: 'HCSlBi5KuXGNf06tZKFiQlNDt4c=',
    },
    {
      id: 'M3',
      secret: 'skkkkkkk1111111111',
      parts: { verb: 'PUT', contentType: 'text/xml;charset=UTF-8', date: DATE_2025, headers: { 'x-mns-version': '2015-06-06' }, resource: '/queues/TestQueue' },
      expected: 'KvUgeFIzq+V37Fw7Nb8BKQEncZU=',
    },
    {
      id: 'M4',
      secret: 'sk1',
      parts: { verb: 'POST', date: DATE_2025, headers: { 'x-mns-abcDEF': 'abcDEF', 'content-language': 'en' }, resource: '/queues/TestQueue' },
      expected: 'cAThPWnbphg3hDe3ZHDADTgkgyE=',
    },
    { id: 'M5', secret: 'sk-kkkkkk1111111111', parts: { verb: 'GET', date: 'Wed, 03 Dec 2025 11:23:48 GMT', headers: { 'X-MNS-abcDEF': 'KKKkkk' }, resource: '/queues/TestQueue123456' }, expected: 'lPxnfNA+Qo/aj18MYJUnRMqa84I=' },
    { id: 'M6', secret: 'testSk', parts: { verb: 'GET', date: DATE_2025, headers: { host: 'x' }, resource: '/queues/TestQueue' }, expected: 'uDJQXbk2xOhH95MDXmgbAGdtyE4=' },
    {
      id: 'M7',
      secret: 'TestAccessSecret',
      parts: {
        verb: 'POST',
        contentMd5: 'N2M0OTVhZjk1NzM4NzNmNDRhMTIzN2U2NzA0MDFlYjQ=',
        contentType: 'text/xml',
        date: DATE_2015,
        // security-token is sent but not signed.
        headers: { 'x-mns-version': '2015-06-06', 'x-mns-date': DATE_2015, 'security-token': 'CAIS-demo-token' },
        resource: '/topics/iot-telemetry/messages',
      },
      expected: 'sBuksy9Fi/+EMoUSvH85fm1LLwI=',
    },
    { id: 'M8', secret: 'TestAccessSecret', parts: { verb: 'GET', date: DATE_2015, headers: { 'x-mns-version': '2015-06-06' }, resource: '/queues/q1/messages?waitseconds=10' }, expected: '8bEjWiZC3zrNuZhr06x9kU7089Q=' },
  ];
  for (const v of vectors) {
    it(`${v.id}: ${v.expected}`, function () {
      assert.equal(signV2(v.secret, stringToSign(v.parts)), v.expected);
    });
  }

  it('M4: the Authorization header, with the non-mns header left out and the name lower-cased', function () {
    const headers = { 'x-mns-abcDEF': 'abcDEF', 'Content-Language': 'en' };
    assert.equal(canonicalizedMnsHeaders(headers), 'x-mns-abcdef:abcDEF\n');
    assert.equal(authorizationV2('ak1', signV2('sk1', stringToSign({ verb: 'POST', date: DATE_2025, headers, resource: '/queues/TestQueue' }))), 'MNS ak1:cAThPWnbphg3hDe3ZHDADTgkgyE=');
  });

  it('sorts x-mns headers by name and trims values', function () {
    assert.equal(canonicalizedMnsHeaders({ 'x-mns-version': ' 2015-06-06 ', 'X-Mns-Date': 'd', 'x-mns-a': '1' }), 'x-mns-a:1\nx-mns-date:d\nx-mns-version:2015-06-06\n');
  });

  it('M7: the PublishMessage body and its Content-MD5 (base64 of the hex MD5) match what @alicloud/mns sends', function () {
    const xml = publishXml('eyJ0ZW1wIjoyMS41fQ==', 'telemetry');
    assert.equal(xml, '<?xml version="1.0" encoding="UTF-8"?><Message xmlns="http://mns.aliyuncs.com/doc/v1/"><MessageBody>eyJ0ZW1wIjoyMS41fQ==</MessageBody><MessageTag>telemetry</MessageTag></Message>');
    assert.equal(Buffer.byteLength(xml), 178);
    const md5 = contentMd5(Buffer.from(xml, 'utf8'));
    assert.equal(md5, 'N2M0OTVhZjk1NzM4NzNmNDRhMTIzN2U2NzA0MDFlYjQ=');
    const signed = publishStringToSign(md5, DATE_2015, '/topics/iot-telemetry/messages');
    assert.equal(signed, stringToSign(vectors[6].parts));
    assert.equal(signV2('TestAccessSecret', signed), 'sBuksy9Fi/+EMoUSvH85fm1LLwI=');
  });
});

describe('lib/mns strict reader of PublishMessage answers', function () {
  const OP = 'publish to topic t';
  const xmlHeaders = { 'content-type': 'text/xml;charset=utf-8', 'x-mns-request-id': 'REQ1' };

  it('reads flat XML with a declaration, namespace, whitespace and entities', function () {
    const r = parseFlatXml('<?xml version="1.0" encoding="UTF-8"?>\n<Error xmlns="http://mns.aliyuncs.com/doc/v1/">\n  <Code>AccessDenied</Code>\n  <Message>a &lt;b&gt; &amp; &quot;c&quot; &#233;&#x4E2D;</Message><HostId/>\n</Error>\n');
    assert.ok(r);
    assert.equal(r.root, 'Error');
    assert.equal(r.fields.get('Code'), 'AccessDenied');
    assert.equal(r.fields.get('Message'), 'a <b> & "c" é中');
    assert.equal(r.fields.get('HostId'), '');
  });

  it('refuses nesting, CDATA, comments, stray text, repeated or unclosed elements, bad entities and trailing content', function () {
    for (const bad of [
      '<Message><MessageId><x>1</x></MessageId></Message>',
      '<Message><MessageId><![CDATA[1]]></MessageId></Message>',
      '<Message><!-- c --><MessageId>1</MessageId></Message>',
      '<Message>text<MessageId>1</MessageId></Message>',
      '<Message><MessageId>1</MessageId><MessageId>2</MessageId></Message>',
      '<Message><MessageId>1</MessageBodyMD5></Message>',
      '<Message><MessageId>1</MessageId>',
      '<Message><MessageId>a &nbsp; b</MessageId></Message>',
      '<Message><MessageId a="1">1</MessageId></Message>',
      '<Message><MessageId>1</MessageId></Message><Message/>',
      '<html><body>503</body></html>x',
      '',
    ]) {
      assert.equal(parseFlatXml(bad), undefined, bad);
    }
  });

  it('a 201 answer gives MessageId, MessageBodyMD5 and the request ID', function () {
    const a = readPublishAnswer(OP, 201, xmlHeaders, '<?xml version="1.0"?><Message xmlns="http://mns.aliyuncs.com/doc/v1/"><MessageId>ID-1</MessageId><MessageBodyMD5>ABC</MessageBodyMD5></Message>');
    assert.deepEqual(a, { status: 201, requestId: 'REQ1', messageId: 'ID-1', bodyMD5: 'ABC' });
  });

  it('an <Error> answer is typed by its Code, with status and request ID; an expired token is SecurityTokenExpired', function () {
    assert.throws(
      () => readPublishAnswer(OP, 404, xmlHeaders, '<Error><Code>TopicNotExist</Code><Message>The topic you provided does not exist.</Message><RequestId>R2</RequestId><HostId>h</HostId></Error>'),
      (e: MnsError) => e instanceof MnsError && e.code === 'TopicNotExist' && e.status === 404 && e.requestId === 'R2' && !e.retryable && e.source === 'mns',
    );
    assert.throws(
      () => readPublishAnswer(OP, 403, xmlHeaders, '<Error><Code>AccessDenied</Code><Message>The security token you provided has expired.</Message><RequestId>R3</RequestId></Error>'),
      (e: MnsError) => e.code === 'SecurityTokenExpired' && e.credentialsSuspect && e.retryable,
    );
    assert.throws(
      () => readPublishAnswer(OP, 403, xmlHeaders, '<Error><Code>SignatureDoesNotMatch</Code><Message>no</Message></Error>'),
      (e: MnsError) => e.code === 'SignatureDoesNotMatch' && e.credentialsSuspect && e.requestId === 'REQ1',
    );
  });

  it('non-2xx without an MNS error body, unreadable XML, a wrong root and a 201 without MessageId all throw', function () {
    assert.throws(() => readPublishAnswer(OP, 503, { 'content-type': 'text/html' }, '<html>busy</html>'), (e: MnsError) => e.code === 'ServiceUnavailable' && e.status === 503 && e.retryable);
    assert.throws(() => readPublishAnswer(OP, 502, {}, ''), (e: MnsError) => e.code === 'BadGateway' && e.retryable);
    assert.throws(() => readPublishAnswer(OP, 500, xmlHeaders, '<Message><MessageId>x</MessageId></Message>'), (e: MnsError) => e.code === 'InternalError');
    assert.throws(() => readPublishAnswer(OP, 201, xmlHeaders, '<Message><MessageId>1<x/></MessageId></Message>'), (e: MnsError) => e.code === 'InvalidResponse' && e.retryable);
    assert.throws(() => readPublishAnswer(OP, 201, xmlHeaders, '<Other><MessageId>1</MessageId></Other>'), (e: MnsError) => e.code === 'InvalidResponse');
    assert.throws(() => readPublishAnswer(OP, 201, xmlHeaders, '<Message><MessageBodyMD5>A</MessageBodyMD5></Message>'), (e: MnsError) => e.code === 'InvalidResponse' && /no MessageId/.test(e.message));
    assert.throws(() => readPublishAnswer(OP, 201, { 'content-type': 'text/plain' }, 'ok'), (e: MnsError) => e.code === 'InvalidResponse');
    assert.throws(() => readPublishAnswer(OP, 403, xmlHeaders, '<Error><Message>no code</Message></Error>'), (e: MnsError) => e.code === 'InvalidResponse');
  });
});
