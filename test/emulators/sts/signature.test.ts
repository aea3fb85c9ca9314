import assert from 'node:assert/strict';
import { rfc3986, serverStringToSign, expectedSignature } from '../../../emulators/sts/signature';

// The local STS's own verifier against vectors S1–S3 (spec §9.4), independent of lib/pop.
const base: [string, string][] = [
  ['AccessKeyId', 'testid'],
  ['SignatureMethod', 'HMAC-SHA1'],
  ['SignatureNonce', '3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf'],
  ['SignatureVersion', '1.0'],
  ['Timestamp', '2016-02-23T12:46:24Z'],
];

describe('local STS signature verifier', () => {
  it('S1 and S2 (DescribeRegions GET/POST)', () => {
    const p = new Map<string, string>([...base, ['Action', 'DescribeRegions'], ['Format', 'XML'], ['Version', '2014-05-26'], ['Signature', 'ignored']]);
    assert.equal(expectedSignature(serverStringToSign('GET', p), 'testsecret'), 'OLeaidS1JvxuMvnyHOwuJ+uX5qY=');
    assert.equal(expectedSignature(serverStringToSign('POST', p), 'testsecret'), 'MxbnVAM4w6sft9xjVpe/GCKueuk=');
  });

  it('S3 (AssumeRole POST)', () => {
    const p = new Map<string, string>([
      ...base,
      ['Action', 'AssumeRole'],
      ['Format', 'JSON'],
      ['Version', '2015-04-01'],
      ['RoleArn', 'acs:ram::1234567890123456:role/mns-writer'],
      ['RoleSessionName', 'node-red'],
      ['DurationSeconds', '3600'],
    ]);
    assert.equal(expectedSignature(serverStringToSign('POST', p), 'testsecret'), 'F2UBQtXUZwRl30u2hlweLDvjRWI=');
  });

  it('encodes space as %20, * as %2A and multibyte text as uppercase UTF-8 bytes', () => {
    assert.equal(rfc3986('a b*~'), 'a%20b%2A~');
    assert.equal(rfc3986('é'), '%C3%A9');
  });
});
