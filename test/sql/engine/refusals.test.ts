import assert from 'node:assert/strict';
import { compileRule } from '../../../lib/sql';
import { refused } from './helpers';

const F = '"/pk/+/user/a"';

describe('sql engine: refusals at compile time', () => {
  it('refuses sub-queries', () => {
    refused(`SELECT a FROM ${F} WHERE a IN (SELECT b FROM ${F})`, /Sub-queries are not supported/, 1, 42);
    refused(`SELECT (SELECT b FROM ${F}) AS x FROM ${F}`, /Sub-queries are not supported/, 1, 9);
    refused('SELECT a FROM (SELECT b FROM x)', /Sub-queries are not supported/, 1, 15);
  });

  it('refuses GROUP BY, ORDER BY, LIMIT, HAVING, JOIN, UNION', () => {
    refused(`SELECT a FROM ${F} GROUP BY a`, /GROUP BY is not supported/, 1, 30);
    refused(`SELECT a FROM ${F} WHERE a > 1 ORDER BY a`, /ORDER BY is not supported/, 1, 42);
    refused(`SELECT a FROM ${F} LIMIT 1`, /LIMIT is not supported/);
    refused(`SELECT a FROM ${F} HAVING a > 1`, /HAVING is not supported/);
    refused(`SELECT a FROM ${F} JOIN b`, /JOIN is not supported/);
    refused(`SELECT a FROM ${F} LEFT JOIN b`, /JOIN is not supported/);
    refused(`SELECT a FROM ${F} UNION SELECT b FROM ${F}`, /UNION is not supported/);
  });

  it('refuses more than one FROM topic', () => {
    refused(`SELECT a FROM ${F}, "/pk/+/user/b"`, /Only one topic is allowed in FROM/, 1, 29);
    refused('SELECT a FROM /pk/+/user/a,/pk/+/user/b', /Only one topic is allowed in FROM/, 1, 27);
  });

  it('allows 50 SELECT items and refuses the 51st at its position', () => {
    const items = Array.from({ length: 50 }, (_, i) => `f${i}`);
    assert.doesNotThrow(() => compileRule(`SELECT ${items.join(', ')} FROM ${F}`));
    const sql = `SELECT ${items.join(', ')}, f50 FROM ${F}`;
    refused(sql, /Too many SELECT items: at most 50/, 1, sql.indexOf('f50') + 1);
  });

  it('refuses unknown functions with a "did you mean" hint for a wrong case or a near name', () => {
    const e = refused(`SELECT devicename() FROM ${F}`, /^Unknown function 'devicename' at 1:8 — did you mean deviceName\(\)\?$/, 1, 8);
    assert.equal(e.problem, "Unknown function 'devicename'");
    assert.equal(e.hint, 'did you mean deviceName()?');
    refused(`SELECT timestmp() AS t FROM ${F}`, /did you mean timestamp\(\)\?/);
    refused(`SELECT TO_BASE64(*) AS t FROM ${F}`, /did you mean to_base64\(\)\?/);
    refused(`SELECT a FROM ${F} WHERE productKey() = 'x'`, /Unknown function 'productKey'.*topic\(2\)/);
    const far = refused(`SELECT frobnicate(a) AS t FROM ${F}`, /^Unknown function 'frobnicate' at 1:8$/);
    assert.equal(far.hint, undefined);
  });

  it('refuses # that is not the last level or is on a /sys topic', () => {
    refused('SELECT a FROM "/pk/#/user"', /'#' is only allowed as the last topic level/, 1, 20);
    refused('SELECT a FROM "/sys/pk/+/thing/#"', /only allowed on custom topics/, 1, 32);
    refused('SELECT a FROM /pk/+/us#er', /'#' must fill a whole topic level/, 1, 23);
    refused('SELECT a FROM "/pk/a+/user"', /'\+' must fill a whole topic level/, 1, 21);
    assert.doesNotThrow(() => compileRule('SELECT a FROM "/pk/dev/user/#"'));
  });

  it('refuses * combined with other items in a BINARY rule, and payload fields in BINARY rules', () => {
    const bin = { dataType: 'BINARY' as const };
    refused(`SELECT *, deviceName() AS d FROM ${F}`, /In a BINARY rule '\*' must be the only SELECT item/, 1, 11, bin);
    refused(`SELECT to_hex(*) AS h, * FROM ${F}`, /'\*' must be the only SELECT item/, 1, 24, bin);
    refused(`SELECT temperature FROM ${F}`, /BINARY rules cannot read payload fields/, 1, 8, bin);
    refused(`SELECT to_hex(*) AS h FROM ${F} WHERE t > 1`, /BINARY rules cannot read payload fields/, 1, 49, bin);
    assert.doesNotThrow(() => compileRule(`SELECT to_base64(*) AS b, deviceName() AS d FROM ${F} WHERE deviceName() = 'x'`, bin));
  });

  it('refuses BINARY rules on /sys topics', () => {
    refused('SELECT * FROM "/sys/pk/+/thing/event/property/post"', /BINARY rules cannot take \/sys topics/, 1, 15,
      { dataType: 'BINARY' });
  });

  it('refuses literal argument type errors', () => {
    refused(`SELECT substring(true, 1.2) AS s FROM ${F}`, /substring\(\) argument 1 must be a string or an integer, got boolean true/, 1, 18);
    refused(`SELECT substring(1.5, 1) AS s FROM ${F}`, /argument 1 must be a string or an integer/);
    refused(`SELECT substring('abc', 'x') AS s FROM ${F}`, /argument 2 must be a number, got string 'x'/);
    refused(`SELECT abs('abc') AS s FROM ${F}`, /abs\(\) argument 1 must be a number/);
    refused(`SELECT upper(true) AS s FROM ${F}`, /upper\(\) argument 1 must be a string/);
    refused(`SELECT topic(0) AS s FROM ${F}`, /topic\(\) argument 1 must be a whole number from 1/);
    refused(`SELECT timestamp('yyyy-qq') AS s FROM ${F}`, /Illegal date pattern character 'q'/, 1, 18);
  });

  it('refuses a wildcard at the product key level of FROM (a rule belongs to one product)', () => {
    refused('SELECT a FROM "/+/dev01/user/update"', /product key level .* wildcard '\+'/, 1, 17);
    refused('SELECT a FROM "/sys/+/dev01/thing/event/property/post"', /product key level/, 1, 21);
    refused('SELECT a FROM "/#"', /product key level .* wildcard '#'/, 1, 17);
    refused('SELECT a FROM /as/mqtt/status/+/dev', /product key level/, 1, 31);
    assert.doesNotThrow(() => compileRule('SELECT a FROM "/as/mqtt/status/pk/+"'));
  });

  it('refuses constant non-numbers in arithmetic', () => {
    refused(`SELECT 'abc' * 2 AS v FROM ${F}`, /Arithmetic '\*' needs numbers, got string 'abc'/, 1, 8);
    refused(`SELECT 'a' + 'b' AS v FROM ${F}`, /needs numbers.*use concat\(\)/, 1, 8);
    refused(`SELECT t - true AS v FROM ${F}`, /needs numbers, got boolean true/, 1, 12);
    refused(`SELECT -'x' AS v FROM ${F}`, /Unary '-' needs a number/, 1, 9);
    assert.doesNotThrow(() => compileRule(`SELECT '2' * 2 AS v FROM ${F}`));
  });

  it('refuses absurdly deep expressions with a position instead of overflowing the stack', () => {
    const deep = /Expression nested too deeply: more than 256 levels/;
    const parens = (n: number) => `SELECT ${'('.repeat(n)}a${')'.repeat(n)} AS x FROM ${F}`;
    assert.doesNotThrow(() => compileRule(parens(200)));
    refused(parens(20000), deep, 1, 8 + 256);
    refused(`SELECT ${'-'.repeat(20000)}1 AS x FROM ${F}`, deep);
    refused(`SELECT a FROM ${F} WHERE ${'NOT '.repeat(10000)}a = 1`, deep);
    // Operator chains are parsed in loops; their height is checked too (the compiler would recurse over it).
    const chain = (n: number, op: string) => Array.from({ length: n }, (_, i) => `a = ${i}`).join(` ${op} `);
    const ok = compileRule(`SELECT a FROM ${F} WHERE ${chain(200, 'OR')}`);
    assert.equal(ok.evaluate({ topic: '/pk/d/user/a', payload: { a: 199 } }).outcome, 'output');
    const e = refused(`SELECT a FROM ${F} WHERE ${chain(3000, 'AND')}`, deep, 1);
    assert.ok(e.column > 30, 'the position points into the chain');
    refused(`SELECT ${Array(5000).fill('a').join(' + ')} AS x FROM ${F}`, deep);
  });

  it('refuses nested CASE', () => {
    refused(`SELECT CASE a WHEN 1 THEN CASE b WHEN 2 THEN 3 END END AS x FROM ${F}`, /Nested CASE is not supported/, 1, 27);
    refused(`SELECT CASE a WHEN 1 THEN 2 ELSE (CASE b WHEN 1 THEN 0 END) END AS x FROM ${F}`, /Nested CASE/);
  });

  it('refuses a wrong number of arguments', () => {
    refused(`SELECT abs(1, 2) AS x FROM ${F}`, /abs\(\) takes 1 argument, got 2/, 1, 8);
    refused(`SELECT deviceName(1) AS x FROM ${F}`, /deviceName\(\) takes no arguments, got 1/);
    refused(`SELECT substring('a') AS x FROM ${F}`, /substring\(\) takes 2 to 3 arguments, got 1/);
    refused(`SELECT concat('a') AS x FROM ${F}`, /concat\(\) takes at least 2 arguments, got 1/);
    refused(`SELECT replace('a', 'b') AS x FROM ${F}`, /replace\(\) takes 3 arguments, got 2/);
  });

  it('refuses an unknown literal charset for payload() and an unknown crypto algorithm', () => {
    refused(`SELECT payload('klingon-8') AS p FROM ${F}`, /Unknown charset 'klingon-8' for payload\(\)/, 1, 16);
    refused(`SELECT crypto(a, 'SHA-999') AS h FROM ${F}`, /Unknown crypto algorithm 'SHA-999'/, 1, 18);
    assert.doesNotThrow(() => compileRule(`SELECT payload('gbk') AS p, crypto(a, 'sha-256') AS h FROM ${F}`));
  });

  it('refuses * outside SELECT items and to_base64/to_hex, and to_hex without *', () => {
    refused(`SELECT abs(*) AS x FROM ${F}`, /'\*' is only allowed/);
    refused(`SELECT to_hex(a) AS x FROM ${F}`, /to_hex\(\) takes \* \(the raw payload\)/);
  });

  it('refuses thingPropertyFlatMap anywhere but as a SELECT item, and with non-literal names', () => {
    refused(`SELECT a FROM ${F} WHERE thingPropertyFlatMap() = 1`, /can only be used as a SELECT item/);
    refused(`SELECT thingPropertyFlatMap(a) FROM ${F}`, /takes property names as 'quoted' strings/);
  });

  it('refuses NOT IN, BETWEEN and a bare NULL (not part of the dialect)', () => {
    refused(`SELECT a FROM ${F} WHERE a NOT IN (1)`, /NOT IN is not supported/);
    refused(`SELECT a FROM ${F} WHERE a BETWEEN 1 AND 2`, /BETWEEN is not supported/);
    refused(`SELECT a FROM ${F} WHERE a = NULL`, /NULL is not a value.*IS NULL/);
  });

  describe('strict mode refuses every extension', () => {
    const strict = { strict: true };
    it('NOT', () => refused(`SELECT a FROM ${F} WHERE NOT a = 1`, /Standalone NOT is an extension that strict mode refuses/, 1, 36, strict));
    it('!=', () => refused(`SELECT a FROM ${F} WHERE a != 1`, /'!=' is an extension/, 1, 38, strict));
    it('searched CASE', () => refused(`SELECT CASE WHEN a > 1 THEN 1 END AS x FROM ${F}`, /Searched CASE/, 1, 8, strict));
    it('boolean literals', () => refused(`SELECT a FROM ${F} WHERE a = true`, /A boolean literal is an extension/, 1, 40, strict));
    it('IS NULL / IS NOT NULL', () => {
      refused(`SELECT a FROM ${F} WHERE a IS NULL`, /IS NULL is an extension/, 1, 38, strict);
      refused(`SELECT a FROM ${F} WHERE a IS NOT NULL`, /IS NOT NULL is an extension/, 1, 38, strict);
    });
    it('single-quoted FROM topic', () => refused("SELECT a FROM '/pk/+/user/a'", /single-quoted/, 1, 15, strict));
    it('accepts the documented dialect', () => {
      assert.doesNotThrow(() => compileRule(
        `SELECT a, abs(b) tmr, CASE c WHEN 1 THEN 'x' ELSE 'y' END AS k FROM ${F} WHERE a <> 1 AND (b LIKE '%x' OR c IN (1, 2)) AND d NOT LIKE 'y%'`,
        strict,
      ));
    });
  });

  it('refuses bad options with a clear error', () => {
    assert.throws(() => compileRule(`SELECT a FROM ${F}`, { timezone: 'Mars/Olympus' }), /Unknown timezone 'Mars\/Olympus'/);
    assert.throws(() => compileRule(`SELECT a FROM ${F}`, { dataType: 'XML' as never }), /Unknown rule data type 'XML'/);
  });
});
