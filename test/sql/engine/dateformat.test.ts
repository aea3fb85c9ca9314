import assert from 'node:assert/strict';
import { compileDatePattern } from '../../../lib/sql';
import { DatePatternError } from '../../../lib/sql/dateformat';

const fmt = (pattern: string, ms: number, tz: string) => compileDatePattern(pattern).format(ms, tz);

describe('sql engine: SimpleDateFormat formatter', () => {
  const T = 1540483200000; // 2018-10-25T16:00:00Z, a Thursday

  it('formats a known instant in several zones', () => {
    assert.equal(fmt('yyyy-MM-dd HH:mm:ss.SSS', T, 'Asia/Shanghai'), '2018-10-26 00:00:00.000');
    assert.equal(fmt('yyyy-MM-dd HH:mm:ss.SSS', T, 'UTC'), '2018-10-25 16:00:00.000');
    assert.equal(fmt('yyyy-MM-dd HH:mm', T, 'America/New_York'), '2018-10-25 12:00'); // EDT, -4
    assert.equal(fmt('yyyy-MM-dd HH:mm', T, 'Asia/Kolkata'), '2018-10-25 21:30');
    assert.equal(fmt('yyyy-MM-dd HH:mm', T, 'Asia/Kathmandu'), '2018-10-25 21:45');
  });

  it('follows daylight saving changes', () => {
    const winter = Date.UTC(2018, 0, 15, 12);
    const summer = Date.UTC(2018, 6, 15, 12);
    assert.equal(fmt('HH Z', winter, 'Europe/Berlin'), '13 +0100');
    assert.equal(fmt('HH Z', summer, 'Europe/Berlin'), '14 +0200');
  });

  it('month and day names, am/pm and the hour fields', () => {
    const t = Date.UTC(2018, 0, 7, 0, 5, 9, 7); // Sunday 2018-01-07 00:05:09.007 UTC
    assert.equal(fmt('MMM MMMM M MM', t, 'UTC'), 'Jan January 1 01');
    assert.equal(fmt('E EEE EEEE u', t, 'UTC'), 'Sun Sun Sunday 7');
    assert.equal(fmt('H k K h a', t, 'UTC'), '0 24 0 12 AM');
    const pm = Date.UTC(2018, 0, 7, 13, 0, 0);
    assert.equal(fmt('H k K h a', pm, 'UTC'), '13 13 1 1 PM');
    assert.equal(fmt('S SS SSS SSSS', t, 'UTC'), '7 07 007 0007');
    assert.equal(fmt('m mm s ss', t, 'UTC'), '5 05 9 09');
  });

  it('years, day of year, week of year, era', () => {
    assert.equal(fmt('yy yyyy y G', T, 'UTC'), '18 2018 2018 AD');
    assert.equal(fmt('D DDD', Date.UTC(2018, 1, 1), 'UTC'), '32 032');
    assert.equal(fmt('w', Date.UTC(2018, 0, 1), 'UTC'), '1'); // Monday, week holding 1 Jan
    assert.equal(fmt('w', Date.UTC(2018, 0, 7), 'UTC'), '2'); // the next Sunday starts week 2
    assert.equal(fmt('w YYYY', Date.UTC(2018, 11, 31), 'UTC'), '1 2019'); // week holding 1 Jan 2019
    assert.equal(fmt('d dd F W', Date.UTC(2018, 9, 25), 'UTC'), '25 25 4 4');
  });

  it('time zone fields: Z, X, XX, XXX, z', () => {
    assert.equal(fmt('Z X XX XXX', T, 'Asia/Shanghai'), '+0800 +08 +0800 +08:00');
    assert.equal(fmt('Z X XX XXX', T, 'UTC'), '+0000 Z Z Z');
    assert.equal(fmt('XXX', T, 'America/New_York'), '-04:00');
    assert.equal(fmt('XXX', T, 'Asia/Kolkata'), '+05:30');
    assert.equal(fmt('z', T, 'UTC'), 'UTC');
    assert.equal(fmt('z', T, 'Etc/GMT-8'), 'GMT+08:00');
  });

  it("quoted literal text and '' for a quote", () => {
    assert.equal(fmt("yyyy-MM-dd'T'HH:mm:ss'Z'", T, 'UTC'), '2018-10-25T16:00:00Z');
    assert.equal(fmt("hh 'o''clock' a", T, 'UTC'), "04 o'clock PM");
    assert.equal(fmt("''", T, 'UTC'), "'");
    assert.equal(fmt('yyyy/MM/dd, HH:mm', T, 'UTC'), '2018/10/25, 16:00');
  });

  it('refuses what Java refuses', () => {
    assert.throws(() => compileDatePattern('yyyy-qq'), (e: unknown) => e instanceof DatePatternError && e.index === 5);
    assert.throws(() => compileDatePattern("'open"), /Unterminated quote/);
    assert.throws(() => compileDatePattern('XXXX'), /Invalid ISO 8601/);
  });
});
