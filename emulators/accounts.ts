// The local cloud's account book: which AccessKeys exist and which STS credentials the local STS has issued.
// The local STS issues into it; the local MNS and the local IoT OpenAPI look callers up in it to verify
// signatures and security tokens. Independent of lib/ by design.

export interface AccessKeyRecord {
  accessKeyId: string;
  accessKeySecret: string;
  /** Account (UID) that owns the key, e.g. "1234567890123456". */
  accountId: string;
  /** RAM user name, or undefined for the account's own key. */
  userName?: string;
}

export interface StsRecord extends AccessKeyRecord {
  securityToken: string;
  /** Expiry as ms since epoch. */
  expiresAt: number;
  /** ARN of the role that was assumed, e.g. acs:ram::1234567890123456:role/mns-writer. */
  roleArn: string;
  roleSessionName: string;
}

export type ResolvedCredential =
  | { kind: 'access-key'; record: AccessKeyRecord }
  | { kind: 'sts'; record: StsRecord };

export class AccountBook {
  private readonly keys = new Map<string, AccessKeyRecord>();
  private readonly sts = new Map<string, StsRecord>();

  addAccessKey(record: AccessKeyRecord): void {
    this.keys.set(record.accessKeyId, { ...record });
  }

  removeAccessKey(accessKeyId: string): void {
    this.keys.delete(accessKeyId);
  }

  /** Called by the local STS for every credential it issues. */
  recordSts(record: StsRecord): void {
    this.sts.set(record.accessKeyId, { ...record });
  }

  /** Finds the key by ID; STS keys (prefix "STS.") are found only while their record exists (expired ones too: callers check expiry). */
  resolve(accessKeyId: string): ResolvedCredential | undefined {
    const sts = this.sts.get(accessKeyId);
    if (sts) return { kind: 'sts', record: sts };
    const key = this.keys.get(accessKeyId);
    if (key) return { kind: 'access-key', record: key };
    return undefined;
  }

  /** All STS credentials issued so far (for inspection in tests). */
  issuedSts(): StsRecord[] {
    return [...this.sts.values()].map((r) => ({ ...r }));
  }
}
