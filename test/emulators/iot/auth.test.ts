import assert from 'node:assert/strict';
import { expectedPassword, parseMqttClientId, readDeviceClaim, samePassword, signedContent } from '../../../emulators/iot/auth';
import { popEncode, rpcSignature, rpcStringToSign } from '../../../emulators/iot/rpc';

describe('local IoT platform: its own device-login check against the spec vectors (iot-device §4.2)', () => {
  it('vector 1: parses the documented clientId and accepts the documented password in every sign method', () => {
    const parsed = parseMqttClientId('12345|securemode=3,signmethod=hmacsha1,timestamp=789|');
    assert.equal(parsed?.clientId, '12345');
    assert.deepEqual(Object.fromEntries(parsed?.params ?? []), { securemode: '3', signmethod: 'hmacsha1', timestamp: '789' });
    assert.equal(
      signedContent({ timestamp: '789', productKey: 'pk', clientId: '12345', deviceName: 'device' }),
      'clientId12345deviceNamedeviceproductKeypktimestamp789',
    );
    assert.equal(expectedPassword('hmacsha1', 'secret', '12345', 'pk', 'device', '789'), 'fafd82a3d602b37fb0fa8b7892f24a477f851a14');
    assert.equal(
      expectedPassword('hmacsha256', 'secret', '12345', 'pk', 'device', '789'),
      '6074a46a91b1ebb2cc4ea42790ad0e80202c9843859fc292e57c4eb19fad9e57',
    );
    assert.equal(expectedPassword('hmacmd5', 'secret', '12345', 'pk', 'device', '789'), '14b198324fe55e1d3c88f2e705e201ee');
    // The doc prints the digest in upper case; both cases are accepted.
    assert.ok(samePassword('fafd82a3d602b37fb0fa8b7892f24a477f851a14', Buffer.from('FAFD82A3D602B37FB0FA8B7892F24A477F851A14')));
    assert.ok(!samePassword('fafd82a3d602b37fb0fa8b7892f24a477f851a14', Buffer.from('FAFD82A3D602B37FB0FA8B7892F24A477F851A15')));
  });

  it('vector 2: the console-style login', () => {
    const claim = readDeviceClaim(
      'a1B2c3D4e5F.sensor01|securemode=2,signmethod=hmacsha256,timestamp=1700000000000|',
      'sensor01&a1B2c3D4e5F',
      Buffer.from('x'),
    );
    assert.ok(claim.ok);
    assert.deepEqual(claim.claim, {
      clientId: 'a1B2c3D4e5F.sensor01',
      productKey: 'a1B2c3D4e5F',
      deviceName: 'sensor01',
      secureMode: '2',
      signMethod: 'hmacsha256',
      timestamp: '1700000000000',
    });
    assert.equal(
      expectedPassword('hmacsha256', '0123456789abcdef0123456789abcdef', 'a1B2c3D4e5F.sensor01', 'a1B2c3D4e5F', 'sensor01', '1700000000000'),
      'e1753e07b15c2a94f83cd7cbb16b1bcf656d8a7a314e97e5991a24641afd23ca',
    );
  });

  it('refuses malformed logins with return code 4 and unsupported modes with 5', () => {
    const pw = Buffer.from('x');
    const cases: Array<[string, string | undefined, Buffer | undefined, number, RegExp]> = [
      ['plainClientId', 'd&pk', pw, 4, /clientId is not of the form/],
      ['id|securemode=2,signmethod=hmacsha256|', 'no-ampersand', pw, 4, /username/],
      ['id|securemode=2,signmethod=hmacsha512|', 'd&pk', pw, 4, /signmethod/],
      ['id|securemode=9,signmethod=hmacsha256|', 'd&pk', pw, 4, /securemode/],
      ['id|securemode=2,signmethod=hmacsha256,timestamp=soon|', 'd&pk', pw, 4, /timestamp/],
      ['id|securemode=2,signmethod=hmacsha256|', 'd&pk', undefined, 4, /password is missing/],
      ['id|securemode=-2,authType=connwl|', 'd&pk', pw, 5, /dynamic registration/],
    ];
    for (const [clientId, username, password, code, reason] of cases) {
      const result = readDeviceClaim(clientId, username, password);
      assert.equal(result.ok, false, clientId);
      if (!result.ok) {
        assert.equal(result.returnCode, code, clientId);
        assert.match(result.reason, reason);
      }
    }
  });
});

describe('local IoT platform: its own RPC V1 signature against the spec vectors (mns-sts §9.4)', () => {
  const s1 = {
    AccessKeyId: 'testid',
    Action: 'DescribeRegions',
    Format: 'XML',
    SignatureMethod: 'HMAC-SHA1',
    SignatureNonce: '3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf',
    SignatureVersion: '1.0',
    Timestamp: '2016-02-23T12:46:24Z',
    Version: '2014-05-26',
  };

  it('S1 (GET) and S2 (POST)', () => {
    const sts = rpcStringToSign('GET', s1);
    assert.equal(
      sts,
      'GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26',
    );
    assert.equal(rpcSignature('testsecret', sts), 'OLeaidS1JvxuMvnyHOwuJ+uX5qY=');
    assert.equal(rpcSignature('testsecret', rpcStringToSign('POST', s1)), 'MxbnVAM4w6sft9xjVpe/GCKueuk=');
  });

  it('S3 (AssumeRole, POST), ignoring a Signature parameter', () => {
    const params = {
      ...s1,
      Action: 'AssumeRole',
      Format: 'JSON',
      Version: '2015-04-01',
      DurationSeconds: '3600',
      RoleArn: 'acs:ram::1234567890123456:role/mns-writer',
      RoleSessionName: 'node-red',
      Signature: 'ignored',
    };
    assert.equal(rpcSignature('testsecret', rpcStringToSign('POST', params)), 'F2UBQtXUZwRl30u2hlweLDvjRWI=');
  });

  it('encodes per RFC 3986 (space %20, * %2A, ~ kept)', () => {
    assert.equal(popEncode("a b*c~d!'()"), 'a%20b%2Ac~d%21%27%28%29');
  });
});
