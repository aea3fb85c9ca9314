// An endpoint pasted with credentials in it never has them quoted back in an error, whichever check refuses it.
import assert from 'node:assert/strict';
import { mnsEndpoint } from '../../lib/mns';

describe('lib/mns endpoint errors keep credentials out', function () {
  for (const endpoint of ['ftp://admin:hunter2-secret@mns.example.com', 'https://admin:hunter2-secret@mns.example.com:99999', 'http://admin:hunter2-secret@127.0.0.1:1/path']) {
    it(`refuses ${endpoint.replace('hunter2-secret', '…')} without quoting the password`, function () {
      assert.throws(
        () => mnsEndpoint({ endpoint }),
        (e: unknown) => e instanceof Error && !e.message.includes('hunter2-secret') && /MNS endpoint/.test(e.message),
      );
    });
  }
});
