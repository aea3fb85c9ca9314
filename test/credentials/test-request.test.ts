// The rules of the Test credentials request on their own: which secret, which endpoint, and what a foreign endpoint's
// answer may show.
import assert from 'node:assert/strict';
import { planCredentialTest, reduceForeignResult, describeForeignError, type StoredNode } from '../../lib/credentials/test-request';
import { StsError, CredentialsConfigError } from '../../lib/credentials';
import { PopError } from '../../lib/pop';

const STORED: StoredNode = {
  config: { mode: 'ramRole', region: 'cn-shanghai', stsEndpoint: 'http://127.0.0.1:9000' },
  secrets: { accessKeyId: 'LTAI5tStoredKey01', accessKeySecret: 'stored-secret-Zz9' },
};
const ROLE = 'acs:ram::1234567890123456:role/r';

describe('Test credentials request rules (lib/credentials/test-request)', function () {
  it('a stored secret goes with the stored endpoint only; role options may change', function () {
    const plan = planCredentialTest({ mode: 'ramRole', accessKeySecret: '__PWRD__', roleArn: `${ROLE}2`, policy: '{}', stsEndpoint: 'http://127.0.0.1:9000/', region: 'cn-shanghai' }, STORED);
    assert.ok(!plan.refused);
    assert.deepEqual(plan.secrets, STORED.secrets);
    assert.equal(plan.fields.stsEndpoint, STORED.config.stsEndpoint);
    assert.equal(plan.fields.roleArn, `${ROLE}2`);
    assert.equal(plan.foreign, false);
    for (const other of [{ stsEndpoint: 'http://127.0.0.1:9001' }, { stsEndpoint: '', region: 'cn-beijing' }, { stsEndpoint: 'not a url' }]) {
      const refused = planCredentialTest({ mode: 'ramRole', accessKeySecret: '', roleArn: ROLE, region: 'cn-shanghai', ...other }, STORED);
      assert.equal(refused.refused?.status, 400, JSON.stringify(other));
      assert.equal(refused.refused?.field, 'stsEndpoint');
    }
  });

  it('without a call to STS (AccessKey mode, no endpoint) nothing is pinned or refused', function () {
    const plan = planCredentialTest({ mode: 'accessKey', accessKeySecret: '__PWRD__', region: 'us-west-1' }, STORED);
    assert.ok(!plan.refused);
    assert.equal(plan.secrets.accessKeySecret, STORED.secrets.accessKeySecret);
  });

  it('${VAR} and the default chain are server-held: only the deployed or the regional Alibaba endpoint', function () {
    assert.ok(planCredentialTest({ mode: 'ramRole', accessKeyId: 'LTAI5tOwn', accessKeySecret: '${S}', roleArn: ROLE, region: 'cn-hangzhou' }, undefined).refused === undefined);
    assert.equal(planCredentialTest({ mode: 'ramRole', accessKeyId: 'LTAI5tOwn', accessKeySecret: '${S}', roleArn: ROLE, stsEndpoint: 'http://x' }, undefined).refused?.status, 400);
    assert.equal(planCredentialTest({ mode: 'ramRole', accessKeyId: '${ID}', accessKeySecret: 'own-secret', roleArn: ROLE, stsEndpoint: 'http://x' }, undefined).refused?.status, 400);
    assert.equal(planCredentialTest({ mode: 'defaultChain', chainRole: true, roleArn: ROLE, stsEndpoint: 'http://x' }, undefined).refused?.status, 400);
    assert.equal(planCredentialTest({ mode: 'defaultChain', chainRole: true, roleArn: ROLE, stsEndpoint: 'http://x' }, STORED).refused?.status, 400);
  });

  it('a request with its own key goes where it says, marked foreign, with nothing stored added', function () {
    const plan = planCredentialTest({ mode: 'ramRole', accessKeySecret: 'own-secret', roleArn: ROLE, stsEndpoint: 'http://elsewhere:1' }, STORED);
    assert.ok(!plan.refused);
    assert.deepEqual(plan.secrets, { accessKeyId: undefined, accessKeySecret: 'own-secret' });
    assert.equal(plan.foreign, true);
    const same = planCredentialTest({ mode: 'ramRole', accessKeyId: 'LTAI5tOwn', accessKeySecret: 'own-secret', roleArn: ROLE, stsEndpoint: 'http://127.0.0.1:9000' }, STORED);
    assert.equal(!same.refused && same.foreign, false, 'the deployed endpoint is not foreign');
  });

  it('a foreign answer keeps only what has STS shape', function () {
    assert.deepEqual(
      reduceForeignResult({ ok: true, assumedRoleArn: 'acs:ram::1:assumed-role/r/s', requestId: 'ABCDEF12-3456', accountId: '<b>', identityArn: 'hello world', endpoint: 'http://u:p@h' }),
      { ok: true, assumedRoleArn: 'acs:ram::1:assumed-role/r/s', requestId: 'ABCDEF12-3456', endpoint: 'http://***@h' },
    );
    const page = new StsError('AssumeRole', new PopError({ code: 'InvalidResponse', message: 'HTTP 200 from x without a JSON body (starts: <html>secret page)', status: 200, retryable: false }));
    const e1 = describeForeignError(page, 'http://10.0.0.1:8080/x');
    assert.equal(e1.code, 'InvalidResponse');
    assert.ok(!e1.message.includes('secret page'), e1.message);
    assert.match(e1.message, /HTTP 200 from http:\/\/10\.0\.0\.1:8080/);
    const sts = new StsError('AssumeRole', new PopError({ code: 'NoPermission', message: 'You are not authorized', requestId: 'AAAAAAAA-BBBB', status: 403, retryable: false }));
    assert.deepEqual([describeForeignError(sts, 'http://h').code, describeForeignError(sts, 'http://h').requestId], ['NoPermission', 'AAAAAAAA-BBBB']);
    const cfg = new CredentialsConfigError('roleArn', 'role ARN is required');
    assert.deepEqual(describeForeignError(cfg, 'http://h'), { code: 'InvalidConfig', message: 'role ARN is required', field: 'roleArn' });
  });
});
