// A long poll on an empty queue must end in an empty answer when MNS says so, however long it waits — not in a
// "ConnectTimeout". (The SDK's HTTP layer puts its connect timeout on the socket's idle timer, which a long poll
// outlasts by design.)
import assert from 'node:assert/strict';
import { MnsClient } from '../../lib/mns';
import { ACCOUNT_ID, AK, startLocalMns, type LocalMns } from './support';

describe('lib/mns long polling', () => {
  let local: LocalMns;
  before(async () => {
    local = await startLocalMns();
  });
  after(async () => {
    await local.mns.stop();
  });

  it('waits out a long poll longer than the connect timeout on an idle socket and returns no messages', async () => {
    const client = new MnsClient({ endpoint: local.mns.url, accountId: ACCOUNT_ID, credentials: { getCredentials: async () => ({ ...AK }) }, connectTimeoutMs: 300 });
    try {
      const started = Date.now();
      const got = await client.receiveMessages('work', 1, 16);
      assert.deepEqual(got, []);
      assert.ok(Date.now() - started >= 900, 'the poll was answered before its wait time, so it did not test an idle socket');
    } finally {
      client.close();
    }
  });

  it('a message sent during the long poll is received by it', async () => {
    const client = new MnsClient({ endpoint: local.mns.url, accountId: ACCOUNT_ID, credentials: { getCredentials: async () => ({ ...AK }) }, connectTimeoutMs: 300 });
    try {
      const parked = new Promise<void>((resolve) => local.mns.events.once('long-poll', () => resolve()));
      const poll = client.receiveMessages('work', 2, 1);
      await parked;
      local.mns.send('work', 'wake up');
      const got = await poll;
      assert.equal(got.length, 1);
      assert.equal(got[0].body, 'wake up');
    } finally {
      client.close();
    }
  });
});
