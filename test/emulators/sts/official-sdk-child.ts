// Runs in a child process (NODE_EXTRA_CA_CERTS must be set before Node starts): asks the official
// @alicloud/credentials ram_role_arn provider for credentials from the local STS over HTTPS and prints
// the outcome as one JSON line. Input via env: STS_HOST (host:port), AK_ID, AK_SECRET, ROLE_ARN.
import Credential, { Config } from '@alicloud/credentials';

async function main(): Promise<void> {
  const cred = new Credential(
    new Config({
      type: 'ram_role_arn',
      accessKeyId: process.env.AK_ID,
      accessKeySecret: process.env.AK_SECRET,
      roleArn: process.env.ROLE_ARN,
      roleSessionName: 'official-sdk',
      roleSessionExpiration: 900,
      stsEndpoint: process.env.STS_HOST,
    }),
  );
  try {
    const c = await cred.getCredential();
    console.log(JSON.stringify({ ok: true, accessKeyId: c.accessKeyId, hasSecret: Boolean(c.accessKeySecret), hasToken: Boolean(c.securityToken), type: c.type }));
  } catch (e) {
    console.log(JSON.stringify({ ok: false, message: (e as Error).message }));
  }
}
void main();
