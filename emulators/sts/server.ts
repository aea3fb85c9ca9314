// The local STS: AssumeRole and GetCallerIdentity over RPC (POP) signature V1 (spec §9.3) and V3
// (ACS3-HMAC-SHA256, §15.4, what @alicloud/sts20150401 sends by default), as the spec describes the real service. Verifies signatures with its own code, validates parameters, checks a role registry, issues
// STS-shaped credentials into the AccountBook and answers errors the way STS does. Independent of lib/.
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { AccountBook, AccessKeyRecord, ResolvedCredential } from '../accounts';
import { serverStringToSign, expectedSignature, signaturesEqual } from './signature';
import { checkV3, isV3Request, PopV3Error, type V3Checked } from '../pop-v3';

export interface StsRole {
  /** acs:ram::<accountId>:role/<name> */
  arn: string;
  /** Longest session this role allows, seconds (3600–43200). Default 3600. */
  maxSessionDuration?: number;
  /** AccessKey IDs allowed to assume the role. Default: any RAM user (not the root key) of the role's account. */
  trustedAccessKeyIds?: string[];
  /** When set, callers must pass this ExternalId. */
  externalId?: string;
}

export interface StsFaults {
  /** Delay every answer by this many ms. */
  latencyMs?: number;
  /** Answer the next `count` requests (default: all) with this 5xx. `html: true` sends an HTML body instead of JSON. */
  fail?: { status?: 500 | 502 | 503; code?: string; count?: number; html?: boolean };
  /** Answer the next `count` requests (default: all) with Throttling.User. */
  throttle?: { count?: number };
  /** AssumeRole of these role ARNs answers NoPermission. */
  refuseRoles?: string[];
}

export interface StsOptions {
  accounts: AccountBook;
  roles?: StsRole[];
  host?: string;
  /** Plain HTTP port; 0 (default) picks a free one. */
  port?: number;
  /** Also serve HTTPS (test CA in ./certs) on this port (0 = free port). Omit for HTTP only. */
  httpsPort?: number;
  /** Issued credentials really expire after this many seconds, whatever DurationSeconds said (tests). */
  lifetimeSeconds?: number;
  /** Accepted clock skew of Timestamp, ms. Default 15 min. */
  timestampSkewMs?: number;
}

export interface StsLogEntry {
  at: Date;
  protocol: 'http' | 'https';
  method: string;
  action?: string;
  accessKeyId?: string;
  roleArn?: string;
  roleSessionName?: string;
  status: number;
  code?: string;
}

export const CERTS_DIR = path.join(__dirname, 'certs');
export const TEST_CA_FILE = path.join(CERTS_DIR, 'ca.pem');

const ROLE_ARN = /^acs:ram::(\d+):role\/(.+)$/;
const SESSION_NAME = /^[A-Za-z0-9.@_-]{2,64}$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;
const VERSION = '2015-04-01';
const ADMIN_PREFIX = '/__admin/';

class StsFault extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function randomText(n: number, alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'): string {
  const bytes = randomBytes(n);
  let s = '';
  for (const b of bytes) s += alphabet[b % alphabet.length];
  return s;
}

/** `YYYY-MM-DDThh:mm:ssZ`, second precision, the way STS writes Expiration. */
function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export class LocalSts {
  readonly log: StsLogEntry[] = [];
  private roles = new Map<string, StsRole>();
  private faults: StsFaults = {};
  private nonces = new Map<string, number>();
  private httpServer?: http.Server;
  private httpsServer?: https.Server;
  private lifetimeSeconds?: number;
  url = '';
  httpsUrl?: string;

  constructor(private readonly options: StsOptions) {
    for (const r of options.roles ?? []) this.addRole(r);
    this.lifetimeSeconds = options.lifetimeSeconds;
  }

  get accounts(): AccountBook {
    return this.options.accounts;
  }

  addRole(role: StsRole): void {
    if (!ROLE_ARN.test(role.arn)) throw new Error(`local STS: role ARN "${role.arn}" is not acs:ram::<uid>:role/<name>`);
    this.roles.set(role.arn.toLowerCase(), { ...role });
  }

  removeRole(arn: string): void {
    this.roles.delete(arn.toLowerCase());
  }

  /** Replaces the active faults (merge with `{...sts.currentFaults, ...}` to add one). */
  setFaults(faults: StsFaults): void {
    this.faults = { ...faults, fail: faults.fail && { ...faults.fail }, throttle: faults.throttle && { ...faults.throttle } };
  }

  get currentFaults(): StsFaults {
    return { ...this.faults };
  }

  clearFaults(): void {
    this.faults = {};
  }

  /** Real lifetime of credentials issued from now on (undefined = DurationSeconds). */
  setLifetime(seconds: number | undefined): void {
    this.lifetimeSeconds = seconds;
  }

  /** Log entries of one action (e.g. count AssumeRole requests). */
  requests(action?: string): StsLogEntry[] {
    return action ? this.log.filter((e) => e.action === action) : [...this.log];
  }

  async start(): Promise<this> {
    const host = this.options.host ?? '127.0.0.1';
    const urlHost = host.includes(':') ? `[${host}]` : host;
    this.httpServer = http.createServer((req, res) => this.handle(req, res, 'http'));
    this.httpServer.keepAliveTimeout = 5000;
    await listen(this.httpServer, this.options.port ?? 0, host);
    this.url = `http://${urlHost}:${(this.httpServer.address() as AddressInfo).port}`;
    if (this.options.httpsPort !== undefined) {
      this.httpsServer = https.createServer(
        { cert: fs.readFileSync(path.join(CERTS_DIR, 'server.pem')), key: fs.readFileSync(path.join(CERTS_DIR, 'server-key.pem')) },
        (req, res) => this.handle(req, res, 'https'),
      );
      await listen(this.httpsServer, this.options.httpsPort, host);
      this.httpsUrl = `https://${urlHost}:${(this.httpsServer.address() as AddressInfo).port}`;
    }
    return this;
  }

  async stop(): Promise<void> {
    await Promise.all([this.httpServer, this.httpsServer].filter((s): s is http.Server => Boolean(s)).map(close));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse, protocol: 'http' | 'https'): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if ((req.url ?? '').startsWith(ADMIN_PREFIX)) return this.admin(req, Buffer.concat(chunks), res);
      const entry: StsLogEntry = { at: new Date(), protocol, method: req.method ?? '', status: 0 };
      const requestId = randomUUID().toUpperCase();
      let status = 200;
      let body: string;
      let contentType = 'application/json;charset=utf-8';
      try {
        const { params, v3 } = this.parse(req, Buffer.concat(chunks));
        entry.action = v3 ? v3.action : params.get('Action');
        entry.accessKeyId = v3 ? v3.accessKeyId : params.get('AccessKeyId');
        entry.roleArn = params.get('RoleArn');
        entry.roleSessionName = params.get('RoleSessionName');
        body = JSON.stringify({ RequestId: requestId, ...this.dispatch(req.method ?? 'GET', params, v3) });
      } catch (e) {
        const f = e instanceof StsFault ? e : new StsFault(500, 'InternalError', 'The request processing has failed due to some unknown error.');
        status = f.status;
        entry.code = f.code;
        if (this.faults.fail?.html && f.code === 'ServiceUnavailable') {
          contentType = 'text/html';
          body = '<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>';
        } else {
          body = JSON.stringify({ RequestId: requestId, HostId: req.headers.host ?? 'sts.aliyuncs.com', Code: f.code, Message: f.message, Recommend: `https://api.aliyun.com/troubleshoot?q=${f.code}` });
        }
      }
      entry.status = status;
      this.log.push(entry);
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), 'x-acs-request-id': requestId });
        res.end(body);
      };
      const delay = this.faults.latencyMs ?? 0;
      if (delay > 0) setTimeout(send, delay);
      else send();
    });
  }

  /**
   * Test-only control outside the signed API (for the CLI, where there is no programmatic handle):
   * GET /__admin/requests · PUT /__admin/faults (StsFaults JSON) · DELETE /__admin/faults · PUT /__admin/lifetime {"seconds":N|null}
   */
  private admin(req: http.IncomingMessage, raw: Buffer, res: http.ServerResponse): void {
    const reply = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'Content-Type': 'application/json;charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    };
    const route = `${req.method} ${new URL(req.url ?? '/', 'http://local').pathname.slice(ADMIN_PREFIX.length)}`;
    let body: Record<string, unknown> = {};
    if (raw.length) {
      try {
        body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
      } catch {
        return reply(400, { error: 'body must be JSON' });
      }
    }
    switch (route) {
      case 'GET requests':
        return reply(200, this.log);
      case 'PUT faults':
        this.setFaults(body as StsFaults);
        return reply(200, this.currentFaults);
      case 'DELETE faults':
        this.clearFaults();
        return reply(200, {});
      case 'PUT lifetime': {
        const seconds = body.seconds;
        if (seconds !== null && !(typeof seconds === 'number' && Number.isInteger(seconds) && seconds > 0)) return reply(400, { error: 'seconds must be a positive whole number or null' });
        this.setLifetime(seconds ?? undefined);
        return reply(200, { seconds });
      }
      default:
        return reply(404, { error: `no admin route ${route}; use GET requests, PUT/DELETE faults, PUT lifetime` });
    }
  }

  private parse(req: http.IncomingMessage, raw: Buffer): { params: Map<string, string>; v3?: V3Checked } {
    if (req.method !== 'GET' && req.method !== 'POST') throw new StsFault(405, 'UnsupportedHTTPMethod', `HTTP method ${req.method} is not supported; use GET or POST.`);
    if (isV3Request(req.headers)) {
      try {
        const v3 = checkV3({ method: req.method, url: req.url ?? '/', headers: req.headers, body: raw }, this.options.timestampSkewMs ?? 15 * 60_000);
        return { params: v3.params, v3 };
      } catch (e) {
        if (e instanceof PopV3Error) throw new StsFault(e.status, e.code, e.message);
        throw e;
      }
    }
    const params = new Map<string, string>();
    const q = new URL(req.url ?? '/', 'http://local').searchParams;
    for (const [k, v] of q) params.set(k, v);
    if (raw.length > 0) {
      const ct = String(req.headers['content-type'] ?? '');
      if (!ct.startsWith('application/x-www-form-urlencoded')) throw new StsFault(400, 'InvalidParameter', `Content-Type "${ct}" is not supported; send application/x-www-form-urlencoded.`);
      for (const [k, v] of new URLSearchParams(raw.toString('utf8'))) params.set(k, v);
    }
    return { params };
  }

  private consume(kind: 'fail' | 'throttle'): boolean {
    const f = this.faults[kind];
    if (!f) return false;
    if (f.count === undefined) return true;
    if (f.count <= 0) return false;
    f.count -= 1;
    return true;
  }

  private dispatch(method: string, params: Map<string, string>, v3?: V3Checked): Record<string, unknown> {
    if (this.consume('fail')) {
      const status = this.faults.fail?.status ?? 503;
      const code = this.faults.fail?.code ?? (status === 503 ? 'ServiceUnavailable' : 'InternalError');
      throw new StsFault(status, code, status === 503 ? 'The request has failed due to a temporary failure of the server.' : 'The request processing has failed due to some unknown error.');
    }
    const caller = v3 ? this.authenticateV3(v3) : this.authenticate(method, params);
    if (this.consume('throttle')) throw new StsFault(400, 'Throttling.User', 'Request was denied due to user flow control.');
    const version = v3 ? v3.version : params.get('Version');
    if (version !== VERSION) throw new StsFault(400, 'InvalidVersion', `Specified parameter Version is not valid: ${version}`);
    const action = v3 ? v3.action : params.get('Action');
    switch (action) {
      case 'AssumeRole':
        return this.assumeRole(caller, params);
      case 'GetCallerIdentity':
        return this.callerIdentity(caller);
      default:
        throw new StsFault(404, 'InvalidAction.NotFound', `Specified api is not found, please check your url and method. Action: ${action}`);
    }
  }

  private authenticate(method: string, params: Map<string, string>): { key: AccessKeyRecord; sts?: { roleArn: string; roleSessionName: string } } {
    for (const name of ['AccessKeyId', 'SignatureMethod', 'SignatureVersion', 'SignatureNonce', 'Timestamp', 'Action', 'Version']) {
      if (!params.get(name)) throw new StsFault(400, 'MissingParameter', `The input parameter "${name}" that is mandatory for processing this request is not supplied.`);
    }
    const signature = params.get('Signature');
    if (!signature) throw new StsFault(400, 'IncompleteSignature', 'The request signature does not conform to Aliyun standards.');
    if (params.get('SignatureMethod') !== 'HMAC-SHA1') throw new StsFault(400, 'InvalidParameter', `Specified signature method is not supported: ${params.get('SignatureMethod')}`);
    if (params.get('SignatureVersion') !== '1.0') throw new StsFault(400, 'InvalidParameter', `Specified signature version is not supported: ${params.get('SignatureVersion')}`);
    const ts = params.get('Timestamp') as string;
    if (!TIMESTAMP.test(ts) || Number.isNaN(Date.parse(ts))) throw new StsFault(400, 'InvalidTimeStamp.Format', 'Specified time stamp or date value is not well formatted.');
    if (Math.abs(Date.now() - Date.parse(ts)) > (this.options.timestampSkewMs ?? 15 * 60_000)) {
      throw new StsFault(400, 'InvalidTimeStamp.Expired', 'Specified time stamp or date value is expired.');
    }
    const { found, sts } = this.caller(params.get('AccessKeyId') as string, params.get('SecurityToken'));
    const sts2sign = serverStringToSign(method, params);
    if (!signaturesEqual(signature, expectedSignature(sts2sign, found.record.accessKeySecret))) {
      throw new StsFault(400, 'SignatureDoesNotMatch', `Specified signature is not matched with our calculation. server string to sign is:${sts2sign}`);
    }
    this.useNonce(params.get('SignatureNonce') as string);
    return { key: found.record, sts };
  }

  /** V3: the header checks ran in parse(); here the caller, its token, the signature and the nonce. */
  private authenticateV3(v3: V3Checked): { key: AccessKeyRecord; sts?: { roleArn: string; roleSessionName: string } } {
    const { found, sts } = this.caller(v3.accessKeyId, v3.securityToken);
    try {
      v3.verify(found.record.accessKeySecret);
    } catch (e) {
      if (e instanceof PopV3Error) throw new StsFault(e.status, e.code, e.message);
      throw e;
    }
    this.useNonce(v3.nonce);
    return { key: found.record, sts };
  }

  private caller(accessKeyId: string, token: string | undefined): { found: ResolvedCredential; sts?: { roleArn: string; roleSessionName: string } } {
    const found = this.accounts.resolve(accessKeyId);
    if (!found) throw new StsFault(404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.');
    let sts: { roleArn: string; roleSessionName: string } | undefined;
    if (found.kind === 'sts') {
      if (!token) throw new StsFault(400, 'MissingSecurityToken', 'The input parameter "SecurityToken" that is mandatory for processing this request is not supplied.');
      if (token !== found.record.securityToken) throw new StsFault(403, 'InvalidSecurityToken.Mismatch', 'Specified SecurityToken is not matched with the AccessKeyId.');
      if (Date.now() >= found.record.expiresAt) throw new StsFault(403, 'InvalidSecurityToken.Expired', 'Specified SecurityToken is expired.');
      sts = { roleArn: found.record.roleArn, roleSessionName: found.record.roleSessionName };
    }
    return { found, sts };
  }

  private useNonce(nonce: string): void {
    const now = Date.now();
    for (const [n, at] of this.nonces) if (now - at > 30 * 60_000) this.nonces.delete(n);
    if (this.nonces.has(nonce)) throw new StsFault(400, 'SignatureNonceUsed', 'Specified signature nonce was used already.');
    this.nonces.set(nonce, now);
  }

  private assumeRole(caller: { key: AccessKeyRecord; sts?: { roleArn: string } }, params: Map<string, string>): Record<string, unknown> {
    const roleArn = params.get('RoleArn');
    const sessionName = params.get('RoleSessionName');
    if (!roleArn) throw new StsFault(400, 'MissingParameter', 'The input parameter "RoleArn" that is mandatory for processing this request is not supplied.');
    if (!sessionName) throw new StsFault(400, 'MissingParameter', 'The input parameter "RoleSessionName" that is mandatory for processing this request is not supplied.');
    const arn = ROLE_ARN.exec(roleArn);
    if (!arn) throw new StsFault(400, 'InvalidParameter.RoleArn', 'The parameter RoleArn is wrongly formed.');
    if (!SESSION_NAME.test(sessionName)) throw new StsFault(400, 'InvalidParameter.RoleSessionName', 'The parameter RoleSessionName is wrongly formed.');
    const role = this.roles.get(roleArn.toLowerCase());
    if (!role) throw new StsFault(404, 'EntityNotExist.Role', 'The specified Role not exists .');
    const max = role.maxSessionDuration ?? 3600;
    const durationText = params.get('DurationSeconds') ?? '3600';
    const duration = /^\d+$/.test(durationText) ? Number(durationText) : NaN;
    if (!(duration >= 900 && duration <= max)) {
      throw new StsFault(400, 'InvalidParameter.DurationSeconds', `The Min/Max value of DurationSeconds is 15min/${max / 3600}hr.`);
    }
    const policy = params.get('Policy');
    if (policy !== undefined) {
      let ok = policy.length >= 1 && policy.length <= 2048;
      if (ok) {
        try {
          const p: unknown = JSON.parse(policy);
          ok = Boolean(p) && typeof p === 'object' && !Array.isArray(p);
        } catch {
          ok = false;
        }
      }
      if (!ok) throw new StsFault(400, 'InvalidParameter.PolicyGrammar', 'The parameter Policy has not passed grammar check.');
    }
    const externalId = params.get('ExternalId');
    if (externalId !== undefined && !/^[\w+=,.@:/-]{2,1224}$/.test(externalId)) throw new StsFault(400, 'InvalidParameter.ExternalId', 'The parameter ExternalId is wrongly formed.');
    // Who may assume it.
    const roleAccount = arn[1];
    if (!caller.sts && !caller.key.userName) throw new StsFault(403, 'NoPermission', 'Roles may not be assumed by root accounts.');
    const trusted = role.trustedAccessKeyIds ? role.trustedAccessKeyIds.includes(caller.key.accessKeyId) : caller.key.accountId === roleAccount;
    const refused = (this.faults.refuseRoles ?? []).some((r) => r.toLowerCase() === roleArn.toLowerCase());
    if (!trusted || refused) throw new StsFault(403, 'NoPermission', 'You are not authorized to do this action. You should be authorized by RAM.');
    if (role.externalId !== undefined && role.externalId !== externalId) throw new StsFault(403, 'NoPermission', 'You are not authorized to do this action. You should be authorized by RAM.');

    const roleName = arn[2];
    const lifetime = this.lifetimeSeconds ?? duration;
    const expiresAt = Math.floor((Date.now() + lifetime * 1000) / 1000) * 1000;
    const accessKeyId = 'STS.' + randomText(25);
    const accessKeySecret = randomText(44);
    const securityToken = 'CAIS' + randomBytes(180).toString('base64');
    this.accounts.recordSts({ accessKeyId, accessKeySecret, securityToken, expiresAt, accountId: roleAccount, roleArn: role.arn, roleSessionName: sessionName });
    const roleId = '3' + String(BigInt('0x' + createHash('sha1').update(role.arn).digest('hex').slice(0, 15))).padStart(18, '0').slice(0, 18);
    return {
      AssumedRoleUser: { Arn: `acs:ram::${roleAccount}:role/${roleName.toLowerCase()}/${sessionName}`, AssumedRoleId: `${roleId}:${sessionName}` },
      Credentials: { AccessKeyId: accessKeyId, AccessKeySecret: accessKeySecret, SecurityToken: securityToken, Expiration: isoSeconds(expiresAt) },
    };
  }

  private callerIdentity(caller: { key: AccessKeyRecord; sts?: { roleArn: string; roleSessionName: string } }): Record<string, unknown> {
    const { key, sts } = caller;
    if (sts) {
      const roleName = sts.roleArn.split('/').pop();
      return { IdentityType: 'AssumedRoleUser', AccountId: key.accountId, Arn: `acs:ram::${key.accountId}:assumed-role/${roleName}/${sts.roleSessionName}`, PrincipalId: `${roleName}:${sts.roleSessionName}`, UserId: sts.roleSessionName };
    }
    if (key.userName) return { IdentityType: 'RAMUser', AccountId: key.accountId, Arn: `acs:ram::${key.accountId}:user/${key.userName}`, PrincipalId: key.userName, UserId: key.userName };
    return { IdentityType: 'Account', AccountId: key.accountId, Arn: `acs:ram::${key.accountId}:root`, PrincipalId: key.accountId, UserId: key.accountId };
  }
}

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function close(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export async function startSts(options: StsOptions): Promise<LocalSts> {
  return new LocalSts(options).start();
}
