// A password pasted into an endpoint URL: every endpoint field refuses it with a message that says what to fix, and
// no message ever quotes it — whatever the password holds (`/`, `@`, `:`, `%40`, `?`, `#`), where URL parsers give up
// or file the password under the path or the query.
import assert from 'node:assert/strict';
import { redactUrl, hasUserInfo } from '../../lib/url-safety';
import { mnsEndpoint } from '../../lib/mns';
import { resolveStsEndpoint, CredentialsConfigError } from '../../lib/credentials';
import { iotEndpoint, IotApiError } from '../../lib/iot/openapi';
import { resolveConnection, ConnectionConfigError } from '../../lib/iot/connection';
import { callRpc, PopError } from '../../lib/pop';

/** Passwords that defeat a naive `//[^/]*@` mask or a URL parser. Each holds the marker, which must never show. */
const MARK = 'Pw9zQ';
const PASSWORDS = [`${MARK}/slash`, `${MARK}@at`, `${MARK}:colon`, `${MARK}%40enc`, `a/${MARK}@b:c`, `${MARK}?q`, `${MARK}#h`, `${MARK}\\back`];

/** `scheme://user:password@host…` in the forms people paste. */
function pasted(scheme: string, host: string, password: string): string[] {
  return [`${scheme}://user:${password}@${host}`, `${scheme}://user:${password}@${host}/`, `${scheme}://${password}@${host}`, ` ${scheme}://user:${password}@${host}:1234/path `];
}

function refuses(fn: () => unknown, type: new (...a: never[]) => Error, fix: RegExp, label: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof type, `${label}: ${String(e)}`);
    assert.ok(!e.message.includes(MARK), `${label}: the message quotes the password: ${e.message}`);
    assert.match(e.message, /must not contain a user name or password/, label);
    assert.match(e.message, fix, label);
    return true;
  });
}

describe('passwords typed into endpoint URLs', function () {
  it('redactUrl removes everything up to the last @, whatever the password holds', function () {
    for (const p of PASSWORDS) {
      for (const text of [...pasted('https', 'sts.example.com', p), `user:${p}@host`, `http:\\\\u:${p}@h`]) {
        const shown = redactUrl(text);
        assert.ok(!shown.includes(MARK), `${text} → ${shown}`);
        assert.ok(hasUserInfo(text));
      }
    }
    assert.equal(redactUrl('https://u:p/x@host.example.com:9/a'), 'https://***@host.example.com:9/a');
    assert.equal(redactUrl('https://sts.cn-shanghai.aliyuncs.com'), 'https://sts.cn-shanghai.aliyuncs.com', 'nothing to hide: unchanged');
    assert.equal(redactUrl(`https://h/\u0000\n${'x'.repeat(500)}`).length, 201, 'control characters removed, long text cut');
  });

  it('MNS, STS, IoT OpenAPI, broker URL and instance endpoint refuse user:password@ and say what to do instead', function () {
    for (const p of PASSWORDS) {
      for (const e of pasted('https', '1234567890123456.mns.cn-hangzhou.aliyuncs.com', p)) refuses(() => mnsEndpoint({ endpoint: e }), Error, /credentials node/, `MNS ${e}`);
      for (const e of pasted('https', 'sts.cn-shanghai.aliyuncs.com', p)) refuses(() => resolveStsEndpoint(e, 'cn-shanghai'), CredentialsConfigError, /AccessKey/, `STS ${e}`);
      for (const e of pasted('https', 'iot.cn-shanghai.aliyuncs.com', p)) refuses(() => iotEndpoint(e), IotApiError, /credentials node/, `OpenAPI ${e}`);
      for (const e of [...pasted('mqtt', 'broker.example.com', p), ...pasted('wss', 'broker.example.com', p)]) {
        refuses(() => resolveConnection({ mode: 'mqtt', url: e }), ConnectionConfigError, /username and password in their own fields/, `broker ${e}`);
      }
      for (const e of pasted('mqtts', 'iot-06z00abc.mqtt.iothub.aliyuncs.com', p)) {
        refuses(
          () => resolveConnection({ mode: 'device', instanceEndpoint: e, productKey: 'a1B2c3D4e5F', deviceName: 'dev01', deviceSecret: 'device-secret-0001' }),
          ConnectionConfigError,
          /deviceSecret/,
          `instance ${e}`,
        );
      }
    }
  });

  it('an RPC call to a URL with user-info is refused before anything is sent', async function () {
    for (const p of PASSWORDS) {
      await assert.rejects(
        callRpc({ endpoint: `http://user:${p}@127.0.0.1:9`, action: 'GetCallerIdentity', version: '2015-04-01', credentials: { accessKeyId: 'LTAI5tAbcdefgh', accessKeySecret: 'secret-xyz-1234' } }),
        (e: unknown) => e instanceof PopError && e.code === 'InvalidEndpoint' && !e.message.includes(MARK),
      );
    }
  });

  it('errors about an endpoint that is not a URL quote it without the user-info part', function () {
    // No "@": nothing to refuse, but the "not a URL" messages still go through the redaction.
    assert.throws(() => mnsEndpoint({ endpoint: 'http://host:port-x' }), /"http:\/\/host:port-x" is not a URL/);
    assert.throws(() => resolveStsEndpoint('http://host:port-x', ''), /"http:\/\/host:port-x" is not a URL/);
    assert.throws(() => resolveConnection({ mode: 'mqtt', url: 'not a url' }), /"not a url" is not a URL/);
    // The endpoints users do write are still accepted.
    assert.equal(mnsEndpoint({ endpoint: 'http://127.0.0.1:40123/' }), 'http://127.0.0.1:40123');
    assert.equal(resolveStsEndpoint('https://sts.cn-shanghai.aliyuncs.com/', ''), 'https://sts.cn-shanghai.aliyuncs.com');
    assert.equal(iotEndpoint('https://iot.cn-shanghai.aliyuncs.com'), 'https://iot.cn-shanghai.aliyuncs.com/');
    assert.equal(resolveConnection({ mode: 'mqtt', url: 'mqtt://broker.example.com:1883', username: 'u', password: `p@ss${MARK}` }).clientOptions.username, 'u');
  });
});
