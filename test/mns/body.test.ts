// bodyProblem's fast paths (no byte count for short texts, no close look without controls or surrogates) must
// refuse exactly what the full checks refuse.
import assert from 'node:assert/strict';
import { bodyProblem, escapeXml } from '../../lib/mns';

describe('lib/mns bodyProblem and escapeXml', function () {
  it('counts UTF-8 bytes, not characters, against the 64 KB limit', function () {
    assert.equal(bodyProblem('中'.repeat(21845)), undefined, '65535 bytes');
    assert.match(bodyProblem('中'.repeat(21846)) ?? '', /65538 bytes/);
    assert.match(bodyProblem('😀'.repeat(16385)) ?? '', /65540 bytes/);
  });

  it('accepts paired surrogates and refuses lone ones and controls, with their position', function () {
    assert.equal(bodyProblem('emoji 😀 𝄞'), undefined);
    assert.match(bodyProblem('a\uD83Db') ?? '', /U\+D83D at index 1/);
    assert.match(bodyProblem('ab\uDE00') ?? '', /U\+DE00 at index 2/);
    assert.match(bodyProblem('x\u001Fy') ?? '', /U\+001F/);
    assert.match(bodyProblem('\uFFFF') ?? '', /U\+FFFF/);
    assert.equal(bodyProblem('tab\tLF\nCR\r'), undefined);
  });

  it('escapes only when needed, and returns other text unchanged', function () {
    assert.equal(escapeXml('plain {"a":1}'), 'plain {"a":1}'.replace(/"/g, '&quot;'));
    assert.equal(escapeXml('eyJ0ZW1wIjoyMS41fQ=='), 'eyJ0ZW1wIjoyMS41fQ==');
    assert.equal(escapeXml(`<a & 'b'>\r\n`), '&lt;a &amp; &apos;b&apos;&gt;&#13;\n');
  });
});
