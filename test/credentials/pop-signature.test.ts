import assert from 'node:assert/strict';
import { percentEncode, stringToSign, signRpc, canonicalQueryString } from '../../lib/pop/signature';
import { buildSignedParams } from '../../lib/pop/rpc';

// Vectors S1–S3 of ../shared/spec/mns-sts.md §9.4.
const NONCE = '3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf';
const S1 = {
  AccessKeyId: 'testid',
  Action: 'DescribeRegions',
  Format: 'XML',
  SignatureMethod: 'HMAC-SHA1',
  SignatureNonce: NONCE,
  SignatureVersion: '1.0',
  Timestamp: '2016-02-23T12:46:24Z',
  Version: '2014-05-26',
};
const S3 = {
  AccessKeyId: 'testid',
  Action: 'AssumeRole',
  DurationSeconds: '3600',
  Format: 'JSON',
  RoleArn: 'acs:ram::1234567890123456:role/mns-writer',
  RoleSessionName: 'node-red',
  SignatureMethod: 'HMAC-SHA1',
  SignatureNonce: NONCE,
  SignatureVersion: '1.0',
  Timestamp: '2016-02-23T12:46:24Z',
  Version: '2015-04-01',
};

describe('lib/pop RPC V1 signature', () => {
  it('S1: GET DescribeRegions matches the documented string to sign and signature', () => {
    assert.equal(
      stringToSign('GET', S1),
      'GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26',
    );
    assert.equal(signRpc('GET', S1, 'testsecret'), 'OLeaidS1JvxuMvnyHOwuJ+uX5qY=');
  });

  it('S2: the same parameters with POST', () => {
    assert.ok(stringToSign('POST', S1).startsWith('POST&%2F&AccessKeyId%3Dtestid'));
    assert.equal(signRpc('POST', S1, 'testsecret'), 'MxbnVAM4w6sft9xjVpe/GCKueuk=');
  });

  it('S3: AssumeRole as @alicloud/credentials signs it (values encoded twice)', () => {
    assert.equal(
      stringToSign('POST', S3),
      'POST&%2F&AccessKeyId%3Dtestid%26Action%3DAssumeRole%26DurationSeconds%3D3600%26Format%3DJSON%26RoleArn%3Dacs%253Aram%253A%253A1234567890123456%253Arole%252Fmns-writer%26RoleSessionName%3Dnode-red%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2015-04-01',
    );
    assert.equal(signRpc('POST', S3, 'testsecret'), 'F2UBQtXUZwRl30u2hlweLDvjRWI=');
  });

  it('S3 again through the request builder with a fixed clock and nonce', () => {
    const p = buildSignedParams({
      endpoint: 'http://127.0.0.1:1',
      action: 'AssumeRole',
      version: '2015-04-01',
      params: { RoleArn: S3.RoleArn, RoleSessionName: 'node-red', DurationSeconds: 3600, Policy: undefined },
      credentials: { accessKeyId: 'testid', accessKeySecret: 'testsecret' },
      now: () => new Date('2016-02-23T12:46:24.000Z'),
      nonce: () => NONCE,
    });
    assert.equal(p.Signature, 'F2UBQtXUZwRl30u2hlweLDvjRWI=');
    assert.equal('Policy' in p, false, 'undefined parameters are left out, not sent as "undefined"');
  });

  it('adds SecurityToken to the signed parameters when the caller uses STS credentials', () => {
    const p = buildSignedParams({
      endpoint: 'http://127.0.0.1:1', action: 'GetCallerIdentity', version: '2015-04-01',
      credentials: { accessKeyId: 'STS.x', accessKeySecret: 's', securityToken: 'tok' },
    });
    assert.equal(p.SecurityToken, 'tok');
    assert.match(canonicalQueryString(p), /SecurityToken=tok/);
  });

  it('percent-encodes per RFC 3986: space %20, * %2A, ~ kept, UTF-8 bytes uppercase', () => {
    assert.equal(percentEncode("a b*c~d!'()"), 'a%20b%2Ac~d%21%27%28%29');
    assert.equal(percentEncode('中'), '%E4%B8%AD');
    assert.equal(percentEncode('+/='), '%2B%2F%3D');
  });

  it('sorts by encoded key in byte order (uppercase before lowercase)', () => {
    assert.equal(canonicalQueryString({ b: '1', B: '2', a: '3', Signature: 'x' }), 'B=2&a=3&b=1');
  });
});
