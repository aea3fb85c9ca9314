// The one interface every consumer of Alibaba Cloud credentials uses.

export interface Credentials {
  accessKeyId: string;
  accessKeySecret: string;
  /** Present for STS credentials; send it with every call (MNS `security-token` header, RPC `SecurityToken`). */
  securityToken?: string;
  /** When STS credentials stop working; absent for long-lived AccessKeys. */
  expiration?: Date;
}

export interface CredentialProvider {
  /** Valid credentials, refreshed as needed. Rejects with a typed error, never returns expired credentials. */
  getCredentials(): Promise<Credentials>;
}

/** Never log a Credentials object; log this instead. */
export function describeCredentials(c: Credentials): { accessKeyId: string; sts: boolean; expiration?: string } {
  return { accessKeyId: c.accessKeyId, sts: Boolean(c.securityToken), expiration: c.expiration?.toISOString() };
}
