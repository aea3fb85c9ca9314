// The official @alicloud/mns client against the local MNS: publish → subscribed queue → receive → delete, queue
// message states (visibility timeout, receipt handles, delay, long polling), batch and size limits, STS tokens.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { AccountBook } from '../../../emulators/accounts';
import { startMns } from '../../../emulators/mns';
import type { MnsEmulator } from '../../../emulators/mns';
import { ACCOUNT_ID, AK, SK, escapeXml, sdkError, waitForEvent, xmlField } from './helpers';

interface SdkResponse<B> { code: number; headers: Record<string, string>; body: B }
interface ReceivedMessage {
  MessageId: string; ReceiptHandle: string; MessageBody: string; MessageBodyMD5: string;
  EnqueueTime: string; NextVisibleTime: string; FirstDequeueTime: string; DequeueCount: string; Priority: string;
}
interface SdkClient {
  createQueue(name: string, params?: Record<string, unknown>): Promise<SdkResponse<unknown>>;
  createTopic(name: string, params?: Record<string, unknown>): Promise<SdkResponse<unknown>>;
  getQueueAttributes(name: string): Promise<SdkResponse<Record<string, string>>>;
  publishMessage(topic: string, params: Record<string, unknown>): Promise<SdkResponse<{ MessageId: string; MessageBodyMD5: string }>>;
  sendMessage(queue: string, params: Record<string, unknown>): Promise<SdkResponse<{ MessageId: string; MessageBodyMD5: string }>>;
  batchSendMessage(queue: string, params: Array<Record<string, unknown>>): Promise<SdkResponse<Array<{ MessageId: string }>>>;
  receiveMessage(queue: string, waitSeconds?: number): Promise<SdkResponse<ReceivedMessage>>;
  batchReceiveMessage(queue: string, n: number, waitSeconds?: number): Promise<SdkResponse<ReceivedMessage[] | ReceivedMessage>>;
  peekMessage(queue: string): Promise<SdkResponse<ReceivedMessage>>;
  deleteMessage(queue: string, handle: string): Promise<SdkResponse<unknown>>;
  batchDeleteMessage(queue: string, handles: string[]): Promise<SdkResponse<unknown>>;
  changeMessageVisibility(queue: string, handle: string, seconds: number): Promise<SdkResponse<{ ReceiptHandle: string; NextVisibleTime: string }>>;
}
// The SDK ships no types; this is the part of its surface the tests use.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const MNSClient = require('@alicloud/mns') as new (accountId: string, opts: Record<string, unknown>) => SdkClient;

const TRICKY = `{"note":"a<b & \\"c\\" > 'd'","city":"杭州","emoji":"🚀🌡️","amp":"&amp; stays literal"}`;

describe('local MNS with the official @alicloud/mns client', () => {
  let mns: MnsEmulator;
  let accounts: AccountBook;
  let client: SdkClient;

  beforeEach(async () => {
    accounts = new AccountBook();
    accounts.addAccessKey({ accessKeyId: AK, accessKeySecret: SK, accountId: ACCOUNT_ID });
    mns = await startMns({ accounts, accountId: ACCOUNT_ID, region: 'cn-shanghai' });
    client = new MNSClient(ACCOUNT_ID, { endpoint: mns.url, accessKeyId: AK, accessKeySecret: SK, readTimeout: 10_000 });
  });
  afterEach(async () => {
    await mns.stop();
  });

  it('publishes to a topic, fans out to the subscribed queue as an XML notification, receives and deletes it', async () => {
    await client.createTopic('iot-telemetry');
    await client.createQueue('app');
    mns.subscribe('iot-telemetry', 'to-app', { endpoint: `acs:mns:cn-shanghai:${ACCOUNT_ID}:queues/app` });

    const published = await client.publishMessage('iot-telemetry', { MessageBody: escapeXml(TRICKY), MessageTag: 'telemetry' });
    assert.equal(published.code, 201);
    assert.equal(published.body.MessageBodyMD5, createHash('md5').update(TRICKY, 'utf8').digest('hex').toUpperCase());
    assert.equal(mns.published('iot-telemetry')[0].body, TRICKY);

    const received = await client.receiveMessage('app', 2);
    assert.equal(received.code, 200);
    const notification = received.body.MessageBody;
    assert.equal(xmlField(notification, 'Message'), TRICKY);
    assert.equal(xmlField(notification, 'MessageId'), published.body.MessageId);
    assert.equal(xmlField(notification, 'MessageMD5'), published.body.MessageBodyMD5);
    assert.equal(xmlField(notification, 'MessageTag'), 'telemetry');
    assert.equal(xmlField(notification, 'TopicOwner'), ACCOUNT_ID);
    assert.equal(xmlField(notification, 'SubscriptionName'), 'to-app');
    assert.match(received.body.MessageId, /^[0-9A-F]{32}$/);
    assert.match(received.body.ReceiptHandle, /^[A-Za-z0-9-]+$/);
    assert.equal(received.body.DequeueCount, '1');
    assert.equal(received.body.MessageBodyMD5, createHash('md5').update(notification, 'utf8').digest('hex').toUpperCase());

    const deleted = await client.deleteMessage('app', received.body.ReceiptHandle);
    assert.equal(deleted.code, 204);
    assert.deepEqual(mns.messages('app'), []);
    const again = await sdkError(client.deleteMessage('app', received.body.ReceiptHandle));
    assert.equal(again.name, 'MNSMessageNotExistError');
  });

  it('delivers JSON and SIMPLIFIED notifications and honours FilterTag', async () => {
    mns.createTopic('events');
    for (const q of ['json', 'plain', 'alarms']) mns.createQueue(q);
    mns.subscribe('events', 'as-json', { queue: 'json', notifyContentFormat: 'JSON' });
    mns.subscribe('events', 'as-plain', { queue: 'plain', notifyContentFormat: 'SIMPLIFIED' });
    mns.subscribe('events', 'alarms-only', { queue: 'alarms', filterTag: 'alarm', notifyContentFormat: 'SIMPLIFIED' });

    await client.publishMessage('events', { MessageBody: escapeXml(TRICKY) });
    await client.publishMessage('events', { MessageBody: 'fire', MessageTag: 'alarm' });

    const json = mns.messages('json').map((m) => JSON.parse(m.body) as Record<string, unknown>);
    assert.equal(json.length, 2);
    assert.equal(json[0].Message, TRICKY);
    assert.equal(json[0].MessageTag, undefined);
    assert.equal(typeof json[0].PublishTime, 'string');
    assert.equal(json[1].MessageTag, 'alarm');
    assert.deepEqual(mns.messages('plain').map((m) => m.body), [TRICKY, 'fire']);
    assert.deepEqual(mns.messages('alarms').map((m) => m.body), ['fire']);

    const viaSdk = await client.receiveMessage('plain');
    assert.equal(viaSdk.body.MessageBody, TRICKY);
  });

  it('sends, peeks, receives, changes visibility and refuses stale receipt handles', async () => {
    await client.createQueue('work', { VisibilityTimeout: 60 });
    const sent = await client.sendMessage('work', { MessageBody: escapeXml(TRICKY), Priority: 3 });
    assert.equal(sent.code, 201);
    const peeked = await client.peekMessage('work');
    assert.equal(peeked.body.MessageBody, TRICKY);
    assert.equal(peeked.body.ReceiptHandle, undefined);
    assert.equal(peeked.body.DequeueCount, '0');

    const first = await client.receiveMessage('work');
    assert.equal(first.body.MessageBody, TRICKY);
    assert.equal(first.body.Priority, '3');
    const changed = await client.changeMessageVisibility('work', first.body.ReceiptHandle, 120);
    assert.notEqual(changed.body.ReceiptHandle, first.body.ReceiptHandle);
    assert.ok(Number(changed.body.NextVisibleTime) > Number(first.body.NextVisibleTime));

    const stale = await sdkError(client.deleteMessage('work', first.body.ReceiptHandle));
    assert.equal(stale.name, 'MNSReceiptHandleErrorError');
    const unknown = await sdkError(client.deleteMessage('work', '1-NotAHandleWeEverIssued'));
    assert.equal(unknown.name, 'MNSReceiptHandleErrorError');
    assert.equal(mns.messages('work')[0].state, 'inactive');
    await client.deleteMessage('work', changed.body.ReceiptHandle);
    assert.equal(mns.messages('work').length, 0);

    const attrs = await client.getQueueAttributes('work');
    assert.equal(attrs.body.VisibilityTimeout, '60');
    assert.equal(attrs.body.ActiveMessages, '0');
  });

  it('redelivers a message not deleted within the visibility timeout with DequeueCount + 1 and a new handle', async () => {
    mns.createQueue('short', { VisibilityTimeout: 1 });
    mns.send('short', 'retry me');
    const first = await client.receiveMessage('short');
    assert.equal(first.body.DequeueCount, '1');
    assert.equal(mns.messages('short')[0].state, 'inactive');
    // The long poll parks and is woken by the visibility timer when the message becomes active again.
    const second = await client.receiveMessage('short', 5);
    assert.equal(second.body.MessageId, first.body.MessageId);
    assert.equal(second.body.DequeueCount, '2');
    assert.equal(second.body.FirstDequeueTime, first.body.FirstDequeueTime);
    assert.notEqual(second.body.ReceiptHandle, first.body.ReceiptHandle);
    assert.ok(Number(second.body.EnqueueTime) <= Number(first.body.FirstDequeueTime));
    const stale = await sdkError(client.deleteMessage('short', first.body.ReceiptHandle));
    assert.equal(stale.name, 'MNSReceiptHandleErrorError');
    await client.deleteMessage('short', second.body.ReceiptHandle);
  });

  it('wakes a parked long poll as soon as a message is sent, and answers MessageNotExist when the wait runs out', async () => {
    mns.createQueue('inbox');
    const parked = waitForEvent(mns.events, 'long-poll', (e: { queue: string }) => e.queue === 'inbox');
    const started = Date.now();
    const receiving = client.receiveMessage('inbox', 20);
    await parked;
    await client.sendMessage('inbox', { MessageBody: 'wake up' });
    const got = await receiving;
    assert.equal(got.body.MessageBody, 'wake up');
    assert.ok(Date.now() - started < 10_000, 'the receive returned on the send, not at the end of its 20 s wait');

    const empty = await sdkError(client.receiveMessage('inbox', 1));
    assert.equal(empty.name, 'MNSMessageNotExistError');
  });

  it('keeps delayed messages invisible until their delay passes', async () => {
    mns.createQueue('later');
    await client.sendMessage('later', { MessageBody: 'soon', DelaySeconds: 1 });
    assert.equal(mns.messages('later')[0].state, 'delayed');
    const none = await sdkError(client.receiveMessage('later'));
    assert.equal(none.name, 'MNSMessageNotExistError');
    const got = await client.receiveMessage('later', 5);
    assert.equal(got.body.MessageBody, 'soon');
    assert.ok(Number(got.body.FirstDequeueTime) - Number(got.body.EnqueueTime) >= 1000);
  });

  it('limits batches to 16 messages and receives / deletes in batches', async () => {
    mns.createQueue('bulk');
    const sixteen = Array.from({ length: 16 }, (_, i) => ({ MessageBody: `m${i}` }));
    const sent = await client.batchSendMessage('bulk', sixteen);
    assert.equal(sent.code, 201);
    assert.equal(sent.body.length, 16);
    const tooMany = await sdkError(client.batchSendMessage('bulk', [...sixteen, { MessageBody: 'm16' }]));
    assert.equal(tooMany.name, 'MNSInvalidArgumentError');
    const tooManyReceive = await sdkError(client.batchReceiveMessage('bulk', 17));
    assert.equal(tooManyReceive.name, 'MNSInvalidArgumentError');
    const tooLong = await sdkError(client.receiveMessage('bulk', 31));
    assert.equal(tooLong.name, 'MNSInvalidArgumentError');
    assert.match(tooLong.message, /waitseconds should between 0 and 30/);

    const received = await client.batchReceiveMessage('bulk', 16);
    const list = received.body as ReceivedMessage[];
    assert.equal(list.length, 16);
    assert.deepEqual(list.map((m) => m.MessageBody).sort(), sixteen.map((m) => m.MessageBody).sort());
    const tooManyDelete = await sdkError(client.batchDeleteMessage('bulk', [...list.map((m) => m.ReceiptHandle), '1-extra']));
    assert.equal(tooManyDelete.name, 'MNSInvalidArgumentError');
    const deleted = await client.batchDeleteMessage('bulk', list.map((m) => m.ReceiptHandle));
    assert.equal(deleted.code, 204);
    assert.equal(mns.messages('bulk').length, 0);

    mns.send('bulk', 'left');
    const one = await client.batchReceiveMessage('bulk', 2);
    const handle = (one.body as ReceivedMessage[] | ReceivedMessage);
    const h = Array.isArray(handle) ? handle[0].ReceiptHandle : handle.ReceiptHandle;
    const partial = await client.batchDeleteMessage('bulk', [h, '1-NeverIssued']);
    assert.equal(partial.code, 404);
    assert.equal(mns.messages('bulk').length, 0);
  });

  it('accepts a 64 KB body and refuses one byte more, counting UTF-8 bytes', async () => {
    mns.createQueue('big');
    mns.createTopic('big-topic');
    const max = 'x'.repeat(65536);
    assert.equal((await client.sendMessage('big', { MessageBody: max })).code, 201);
    assert.equal((await client.publishMessage('big-topic', { MessageBody: max })).code, 201);
    const over = await sdkError(client.sendMessage('big', { MessageBody: `${max}y` }));
    assert.equal(over.name, 'MNSInvalidArgumentError');
    assert.match(over.message, /65536/);
    const overTopic = await sdkError(client.publishMessage('big-topic', { MessageBody: `${max}y` }));
    assert.equal(overTopic.name, 'MNSInvalidArgumentError');
    // 21846 CJK characters are 65538 UTF-8 bytes.
    const cjk = await sdkError(client.sendMessage('big', { MessageBody: '杭'.repeat(21846) }));
    assert.equal(cjk.name, 'MNSInvalidArgumentError');
    const batchOver = await sdkError(client.batchSendMessage('big', [{ MessageBody: max }, { MessageBody: 'y' }]));
    assert.equal(batchOver.name, 'MNSInvalidArgumentError');
    assert.equal(mns.messages('big').length, 1);
  });

  it('hands out higher priority (1) before the default (8), FIFO within a priority; refuses tags over 16 characters', async () => {
    mns.createQueue('prio');
    mns.createTopic('tagged');
    await client.sendMessage('prio', { MessageBody: 'normal-1' });
    await client.sendMessage('prio', { MessageBody: 'normal-2' });
    await client.sendMessage('prio', { MessageBody: 'urgent', Priority: 1 });
    const order: string[] = [];
    for (let i = 0; i < 3; i++) order.push((await client.receiveMessage('prio')).body.MessageBody);
    assert.deepEqual(order, ['urgent', 'normal-1', 'normal-2']);
    const longTag = await sdkError(client.publishMessage('tagged', { MessageBody: 'x', MessageTag: 'a'.repeat(17) }));
    assert.equal(longTag.name, 'MNSInvalidArgumentError');
    assert.equal((await client.publishMessage('tagged', { MessageBody: 'x', MessageTag: 'a'.repeat(16) })).code, 201);
    assert.throws(() => mns.subscribe('tagged', 's', { queue: 'prio', filterTag: 'b'.repeat(17) }), /FilterTag/);
  });

  it('answers missing resources and conflicting creates with the spec codes', async () => {
    assert.equal((await sdkError(client.sendMessage('nope', { MessageBody: 'x' }))).name, 'MNSQueueNotExistError');
    assert.equal((await sdkError(client.publishMessage('nope', { MessageBody: 'x' }))).name, 'MNSTopicNotExistError');
    assert.equal((await client.createQueue('q', { VisibilityTimeout: 30 })).code, 201);
    assert.equal((await client.createQueue('q', { VisibilityTimeout: 30 })).code, 204);
    assert.equal((await sdkError(client.createQueue('q', { VisibilityTimeout: 31 }))).name, 'MNSQueueAlreadyExistError');
    assert.equal((await sdkError(client.createQueue('-bad'))).name, 'MNSInvalidQueueNameError');
    assert.equal((await sdkError(client.createQueue('q2', { DelaySeconds: 604801 }))).name, 'MNSInvalidArgumentError');
  });

  describe('STS credentials issued by the local STS', () => {
    const sts = {
      accessKeyId: 'STS.NTest1234567890', accessKeySecret: 'sts-secret', accountId: ACCOUNT_ID, securityToken: 'CAIS-token-1',
      roleArn: `acs:ram::${ACCOUNT_ID}:role/mns-writer`, roleSessionName: 'node-red',
    };
    const stsClient = (token?: string): SdkClient => new MNSClient(ACCOUNT_ID, {
      endpoint: mns.url, accessKeyId: sts.accessKeyId, accessKeySecret: sts.accessKeySecret, securityToken: token,
    });
    beforeEach(() => {
      mns.createTopic('t');
    });

    it('accepts the temporary key with its security-token', async () => {
      accounts.recordSts({ ...sts, expiresAt: Date.now() + 3600_000 });
      assert.equal((await stsClient('CAIS-token-1').publishMessage('t', { MessageBody: 'ok' })).code, 201);
    });

    it('refuses a missing or wrong token, and an expired one, with AccessDenied', async () => {
      accounts.recordSts({ ...sts, expiresAt: Date.now() + 3600_000 });
      const missing = await sdkError(stsClient().publishMessage('t', { MessageBody: 'x' }));
      assert.equal(missing.name, 'MNSAccessDeniedError');
      const wrong = await sdkError(stsClient('CAIS-other').publishMessage('t', { MessageBody: 'x' }));
      assert.equal(wrong.name, 'MNSAccessDeniedError');
      assert.doesNotMatch(wrong.message, /CAIS/, 'the token never appears in the error');

      accounts.recordSts({ ...sts, expiresAt: Date.now() - 1000 });
      const expired = await sdkError(stsClient('CAIS-token-1').publishMessage('t', { MessageBody: 'x' }));
      assert.equal(expired.name, 'MNSAccessDeniedError');
      assert.match(expired.message, /security token you provided has expired/);

      accounts.recordSts({ ...sts, expiresAt: Date.now() + 3600_000 });
      mns.faults.expireSecurityTokens = true;
      const forced = await sdkError(stsClient('CAIS-token-1').publishMessage('t', { MessageBody: 'x' }));
      assert.match(forced.message, /has expired/);
      assert.equal(mns.published('t').length, 0);
    });
  });
});
