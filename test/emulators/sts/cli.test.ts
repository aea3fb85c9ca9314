// The aliyun-local CLI: starts the local cloud, prints URLs and the demo AccessKey, stops cleanly on a signal.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { parseArgs } from '../../../emulators/cli';
import { AssumeRoleProvider, StaticAccessKeyProvider } from '../../../lib/credentials';

const CLI = path.join(__dirname, '../../../emulators/cli.ts');

function runCli(args: string[]): { child: ChildProcess; ready: Promise<string>; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('Ctrl-C to stop.')) resolve(out);
    });
    child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
    child.once('exit', (code) => reject(new Error(`CLI exited early (${code}): ${out}`)));
  });
  return { child, ready, output: () => out };
}

describe('aliyun-local CLI', () => {
  it('parses options: fixed default ports, overrides, config file', () => {
    assert.deepEqual(parseArgs([]).sts, { port: 17100, httpsPort: 17101 });
    assert.deepEqual(parseArgs(['--sts-port', '0', '--sts-https-port', 'off', '--sts-lifetime', '5']).sts, { port: 0, httpsPort: null, lifetimeSeconds: 5 });
    assert.deepEqual(parseArgs(['--config', 'x.json']), { configFile: 'x.json', sts: {} });
    assert.throws(() => parseArgs(['--sts-port', 'abc']), /not a port number/);
    assert.throws(() => parseArgs(['--bogus']), /unknown option --bogus/);
  });

  it('starts from a config file, prints URLs and the key, serves AssumeRole, and stops on SIGTERM', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aliyun-local-'));
    const file = path.join(dir, 'cloud.json');
    const config = {
      sts: { port: 0, httpsPort: null },
      accounts: [{ accountId: '5555666677778888', accessKeys: [{ accessKeyId: 'LTAI5tConfigUser', accessKeySecret: 'config-file-secret', userName: 'cfg' }] }],
      roles: [{ arn: 'acs:ram::5555666677778888:role/from-file', maxSessionDuration: 7200 }],
    };
    fs.writeFileSync(file, JSON.stringify(config));
    const { child, ready } = runCli(['--config', file]);
    try {
      const out = await ready;
      const url = /sts\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
      assert.ok(url, out);
      assert.match(out, /AccessKey ID LTAI5tConfigUser/);
      assert.match(out, /role ARN {5}acs:ram::5555666677778888:role\/from-file/);
      const p = new AssumeRoleProvider(new StaticAccessKeyProvider('LTAI5tConfigUser', 'config-file-secret'), {
        roleArn: 'acs:ram::5555666677778888:role/from-file', roleSessionName: 'cli-test', durationSeconds: 7200, stsEndpoint: url,
      });
      assert.match((await p.getCredentials()).accessKeyId, /^STS\./);
    } finally {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = await exited;
      assert.equal(code, 0);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops on SIGINT with exit code 0', async () => {
    const { child, ready, output } = runCli(['--sts-port', '0', '--sts-https-port', '0']);
    await ready;
    assert.match(output(), /sts-https\s+https:\/\/127\.0\.0\.1:\d+/);
    const exited = once(child, 'exit');
    child.kill('SIGINT');
    const [code] = await exited;
    assert.equal(code, 0);
    assert.match(output(), /aliyun-local: stopped/);
  });
});
